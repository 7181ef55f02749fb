//! Presigning and verifying: the per-request cost of every variant playlist (1,800 presigned
//! URLs for a two-hour movie) and of every segment the built-in store serves. Ratios against
//! rusty-s3, a general-purpose presigner, timed in the same interleaved loop.
//!
//! Run: cargo bench --bench signing

use std::hint::black_box;
use std::time::{Duration, Instant, UNIX_EPOCH};

use criterion::{Criterion, criterion_group};
use streamd::media::sigv4::Signer;
use streamd::playlist::Variant;

const SEGMENTS: usize = 1800;

fn two_hour_variant() -> Variant {
    let mut text = String::from(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n",
    );
    for i in 1..=SEGMENTS {
        text.push_str(&format!("#EXTINF:4.000000,\nseg_{i:05}.m4s\n"));
    }
    text.push_str("#EXT-X-ENDLIST\n");
    Variant::parse(text.as_bytes()).expect("variant")
}

struct Peer {
    bucket: rusty_s3::Bucket,
    creds: rusty_s3::Credentials,
}

fn peer() -> Peer {
    Peer {
        bucket: rusty_s3::Bucket::new(
            "http://127.0.0.1:8080/s3".parse().expect("url"),
            rusty_s3::UrlStyle::Path,
            "media",
            "us-east-1",
        )
        .expect("bucket"),
        creds: rusty_s3::Credentials::new("AKIDEXAMPLE", "SECRETEXAMPLE"),
    }
}

fn peer_sign(p: &Peer, key: &str) -> String {
    use rusty_s3::S3Action;
    rusty_s3::actions::GetObject::new(&p.bucket, Some(&p.creds), key)
        .sign(Duration::from_secs(9000))
        .to_string()
}

fn bench(c: &mut Criterion) {
    let signer = Signer::new("AKIDEXAMPLE", "SECRETEXAMPLE", "us-east-1");
    let variant = two_hour_variant();
    let p = peer();
    c.bench_function("variant_rewrite_1800_segments", |b| {
        b.iter(|| {
            let batch = signer.batch(
                "GET",
                "127.0.0.1:8080",
                std::time::SystemTime::now(),
                Duration::from_secs(9000),
            );
            black_box(variant.render_signed(
                "http://127.0.0.1:8080",
                "/s3/media/movies/m1/1080p",
                &batch,
                None,
            ))
        })
    });
    c.bench_function("peer_rusty_s3_1800_presigns", |b| {
        b.iter(|| {
            for i in 1..=SEGMENTS {
                black_box(peer_sign(&p, &format!("movies/m1/1080p/seg_{i:05}.ts")));
            }
        })
    });
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let url = signer
        .batch("GET", "127.0.0.1:8080", now, Duration::from_secs(9000))
        .signed("/s3/media/movies/m1/1080p/seg_00001.ts");
    let (path, query) = url.split_once('?').expect("query");
    c.bench_function("verify_presigned_get", |b| {
        b.iter(|| black_box(signer.verify("GET", path, query, "127.0.0.1:8080", now)))
    });
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ratios() {
    let signer = Signer::new("AKIDEXAMPLE", "SECRETEXAMPLE", "us-east-1");
    let variant = two_hour_variant();
    let p = peer();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        let t = Instant::now();
        let batch = signer.batch(
            "GET",
            "127.0.0.1:8080",
            std::time::SystemTime::now(),
            Duration::from_secs(9000),
        );
        black_box(variant.render_signed(
            "http://127.0.0.1:8080",
            "/s3/media/movies/m1/1080p",
            &batch,
            None,
        ));
        ours.push(t.elapsed());
        let t = Instant::now();
        for i in 1..=SEGMENTS {
            black_box(peer_sign(&p, &format!("movies/m1/1080p/seg_{i:05}.ts")));
        }
        theirs.push(t.elapsed());
    }
    let (o, t) = (median(ours), median(theirs));
    println!(
        "RATIO variant_rewrite_1800 / rusty_s3_1800_presigns: {:.3} (ours {:?}, peer {:?}; goal: ours well under 5 ms)",
        o.as_secs_f64() / t.as_secs_f64(),
        o,
        t
    );
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let url = signer
        .batch("GET", "127.0.0.1:8080", now, Duration::from_secs(9000))
        .signed("/s3/media/movies/m1/1080p/seg_00001.ts");
    let (path, query) = url.split_once('?').expect("query");
    let (mut v, mut s) = (Vec::new(), Vec::new());
    for _ in 0..30 {
        let t = Instant::now();
        for _ in 0..1000 {
            let _ = black_box(signer.verify("GET", path, query, "127.0.0.1:8080", now));
        }
        v.push(t.elapsed() / 1000);
        let t = Instant::now();
        for _ in 0..1000 {
            black_box(peer_sign(&p, "movies/m1/1080p/seg_00001.ts"));
        }
        s.push(t.elapsed() / 1000);
    }
    let (v, s) = (median(v), median(s));
    println!(
        "RATIO verify_one / rusty_s3_presign_one: {:.3} (verify {:?}, peer presign {:?})",
        v.as_secs_f64() / s.as_secs_f64(),
        v,
        s
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
