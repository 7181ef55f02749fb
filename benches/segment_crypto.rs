//! Encrypting segments at publish (contract section 10): AES-128-CBC over a whole segment,
//! what every encrypted segment costs once, at publish, never per viewer. Criterion measures a
//! 2 MiB segment (a 4-second 1080p segment at ~4 Mb/s); the summary reports MB/s per core and
//! the ratio against copying the same bytes (the floor of touching them at all), timed in the
//! same interleaved loop since this machine is shared and noisy.
//!
//! Run: cargo bench --bench segment_crypto

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use streamd::store::MovieKeys;

const SEGMENT: usize = 2 * 1024 * 1024;

fn segment() -> Vec<u8> {
    (0..SEGMENT).map(|i| (i * 7 % 251) as u8).collect()
}

fn bench(c: &mut Criterion) {
    let keys = MovieKeys::generate(600.0, 4, 600);
    let plain = segment();
    c.bench_function("encrypt a 2 MiB segment", |b| {
        b.iter(|| black_box(keys.encrypt(0, black_box(&plain))))
    });
    c.bench_function("copy a 2 MiB segment", |b| {
        b.iter(|| black_box(black_box(&plain).to_vec()))
    });
}

/// Encrypt and copy timed alternately, so both see the same machine.
fn summary() {
    let keys = MovieKeys::generate(600.0, 4, 600);
    let plain = segment();
    let (mut encrypt, mut copy) = (Duration::ZERO, Duration::ZERO);
    let rounds = 200;
    for _ in 0..rounds {
        let t = Instant::now();
        black_box(keys.encrypt(0, black_box(&plain)));
        encrypt += t.elapsed();
        let t = Instant::now();
        black_box(black_box(&plain).to_vec());
        copy += t.elapsed();
    }
    let mb = (SEGMENT * rounds) as f64 / 1e6;
    println!(
        "SUMMARY encrypt {:.0} MB/s per core, copy {:.0} MB/s; RATIO encrypt/copy time {:.1}",
        mb / encrypt.as_secs_f64(),
        mb / copy.as_secs_f64(),
        encrypt.as_secs_f64() / copy.as_secs_f64()
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
