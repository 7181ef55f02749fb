//! Hot paths of every request: session lookup + entitlement check (each manifest request pays
//! it), and the argon2 verify cost of a login. Criterion measures each; the summary at the end
//! reports ratios against a peer timed in the same interleaved loop, since this machine is
//! shared and noisy:
//!   - session lookup + entitlement  vs  one bare redb point read (the floor of any lookup);
//!   - login of an unknown user      vs  login with a wrong password (must be ~1.0: same time);
//!   - a resume-position save        vs  one durable (fsynced) redb insert, what a save cost
//!     before positions were committed without fsync.
//!
//! Run: cargo bench --bench hot_paths

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use redb::{ReadableDatabase, TableDefinition};
use streamd::auth::{check_entitlement, password, session};
use streamd::store::{
    Grant, Movie, MovieId, MovieStatus, Plan, Session, Store, Tier, Timestamp, User, Username,
};

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    token_hash: String,
    movie: Movie,
    raw: redb::Database,
    _raw_dir: tempfile::TempDir,
}

const RAW: TableDefinition<&str, &[u8]> = TableDefinition::new("raw");

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let name = Username::parse("viewer").expect("name");
    // 1,000 users and sessions, so lookups walk a realistic B-tree.
    for i in 0..1000 {
        let n = Username::parse(&format!("user{i}")).expect("name");
        let user = User {
            name: n.clone(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$xxxxxxxxxxxxxxxxxxxxxx$yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy".into(),
            admin: false,
            created_at: Timestamp(0),
disabled: false,
        };
        store.create_user(&user, &Plan::default()).expect("user");
        let (_, hash) = session::new_token();
        store
            .insert_session(&hash, &Session::new(n, Timestamp(0), Timestamp(i64::MAX)))
            .expect("session");
    }
    let user = User {
        name: name.clone(),
        password_hash: password::hash("correct horse").expect("hash"),
        admin: false,
        created_at: Timestamp(0),
        disabled: false,
    };
    store.create_user(&user, &Plan::default()).expect("user");
    let (_, token_hash) = session::new_token();
    store
        .insert_session(
            &token_hash,
            &Session::new(name.clone(), Timestamp(0), Timestamp(i64::MAX)),
        )
        .expect("session");
    let movie = Movie {
        status: MovieStatus::Ready,
        duration_s: Some(7200.0),
        ..Movie::new(
            MovieId::parse("benchmovie").expect("id"),
            "Bench".into(),
            Tier::Premium,
            Timestamp(0),
        )
    };
    store.put_movie(&movie).expect("movie");
    store
        .put_grant(
            &name,
            &movie.id,
            &Grant {
                granted_at: Timestamp(0),
                until: None,
            },
        )
        .expect("grant");

    let raw_dir = tempfile::tempdir().expect("tempdir");
    let raw = redb::Database::create(raw_dir.path().join("raw.redb")).expect("raw db");
    let txn = raw.begin_write().expect("txn");
    {
        let mut t = txn.open_table(RAW).expect("table");
        t.insert(token_hash.as_str(), &[0u8; 120][..])
            .expect("insert");
    }
    txn.commit().expect("commit");
    Fixture {
        _dir: dir,
        store,
        token_hash,
        movie,
        raw,
        _raw_dir: raw_dir,
    }
}

/// What a manifest request does before it can answer: session -> user + plan -> grant -> rule.
fn authorise(f: &Fixture) -> bool {
    let now = Timestamp::now();
    let Ok(Some((_, user, plan))) = f.store.session_user(&f.token_hash, now) else {
        return false;
    };
    let grant = f.store.grant(&user.name, &f.movie.id).ok().flatten();
    check_entitlement(&user, &plan, f.movie.tier, grant.as_ref(), now).is_ok()
}

/// One durable insert of a key in a bare redb: commit with fsync.
fn raw_durable_write(f: &Fixture, value: &[u8]) {
    let txn = f.raw.begin_write().expect("write");
    txn.open_table(RAW)
        .expect("table")
        .insert("position", value)
        .expect("insert");
    txn.commit().expect("commit");
}

fn raw_read(f: &Fixture) -> usize {
    let txn = f.raw.begin_read().expect("read");
    let t = txn.open_table(RAW).expect("table");
    t.get(f.token_hash.as_str())
        .expect("get")
        .map(|v| v.value().len())
        .unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    assert!(authorise(&f), "fixture user is entitled via the grant");
    c.bench_function("session_lookup_and_entitlement", |b| {
        b.iter(|| black_box(authorise(&f)))
    });
    c.bench_function("peer_bare_redb_point_read", |b| {
        b.iter(|| black_box(raw_read(&f)))
    });
    let stored = password::hash("correct horse").expect("hash");
    let mut g = c.benchmark_group("argon2");
    g.sample_size(20);
    g.bench_function("verify_wrong_password", |b| {
        b.iter(|| black_box(password::verify("wrong horse", Some(&stored))))
    });
    g.bench_function("verify_unknown_user", |b| {
        b.iter(|| black_box(password::verify("wrong horse", None)))
    });
    g.finish();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Interleaves subject and peer so both see the same machine load; prints subject/peer.
fn ratio(
    label: &str,
    rounds: usize,
    batch: usize,
    mut subject: impl FnMut(),
    mut peer: impl FnMut(),
) {
    let (mut s, mut p) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..batch {
            subject();
        }
        s.push(t.elapsed() / batch as u32);
        let t = Instant::now();
        for _ in 0..batch {
            peer();
        }
        p.push(t.elapsed() / batch as u32);
    }
    let (ms, mp) = (median(s), median(p));
    println!(
        "RATIO {label}: {:.2} (subject {:?}, peer {:?} per call, median of {rounds} interleaved rounds)",
        ms.as_secs_f64() / mp.as_secs_f64(),
        ms,
        mp
    );
}

fn ratios() {
    let f = fixture();
    ratio(
        "session_lookup_and_entitlement / bare_redb_read",
        50,
        2000,
        || {
            black_box(authorise(&f));
        },
        || {
            black_box(raw_read(&f));
        },
    );
    let (viewer, movie) = (Username::parse("viewer").expect("name"), f.movie.id.clone());
    let mut at = 0.0;
    ratio(
        "position_save / durable_redb_insert",
        20,
        50,
        || {
            at += 1.0;
            f.store.set_position(&viewer, &movie, at).expect("save");
        },
        || raw_durable_write(&f, b"12.5"),
    );
    let stored = password::hash("correct horse").expect("hash");
    ratio(
        "login_unknown_user / login_wrong_password",
        15,
        4,
        || {
            black_box(password::verify("wrong horse", None));
        },
        || {
            black_box(password::verify("wrong horse", Some(&stored)));
        },
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
