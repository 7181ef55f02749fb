//! Crash safety (issue 10): `kill -9` at random moments during bursts of CLI writes through the
//! running server, during an HTTP upload and during an ingest; and a disk that fills up while an
//! upload is saved and while an ingest publishes. Whatever was acknowledged survives the crash,
//! nothing partial is published or left behind, and the database opens again.
//!
//! The random moments come from a seeded PRNG whose seed is printed (`SEED ...`); set
//! `STREAMD_TEST_SEED` to replay a run.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{
    Client, DEFAULT_PRESET, Server, Work, add_user, cli, cli_env, cli_ok, ffmpeg_processes,
    make_source, multipart, read_response, stderr, stdout, wait_for, when,
};
use streamd::store::{Movie, MovieId, MovieStatus, Store, Tier, Timestamp};

const PW: &str = "correct horse battery";

/// xorshift64*: small, deterministic, replayable from its seed.
struct Rng(u64);

impl Rng {
    fn seeded(what: &str) -> Rng {
        let seed = std::env::var("STREAMD_TEST_SEED")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        println!("SEED {what}: {seed} (replay with STREAMD_TEST_SEED={seed})");
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

fn users_json(dir: &Path) -> Vec<serde_json::Value> {
    let out = cli_ok(dir, &["user", "list", "--json"]);
    serde_json::from_str::<serde_json::Value>(&stdout(&out))
        .expect("user list --json")
        .as_array()
        .expect("array")
        .clone()
}

fn movies_json(dir: &Path) -> Vec<serde_json::Value> {
    let out = cli_ok(dir, &["movies", "--json"]);
    serde_json::from_str::<serde_json::Value>(&stdout(&out))
        .expect("movies --json")
        .as_array()
        .expect("array")
        .clone()
}

/// Names of the entries of `dir` (none when it does not exist).
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every file under `dir`, recursively, as paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(
                    p.strip_prefix(dir)
                        .unwrap_or(&p)
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

fn secs(t: &str) -> i64 {
    Timestamp::parse_rfc3339(t)
        .unwrap_or_else(|e| panic!("{t}: {e}"))
        .0
}

// ---------------------------------------------------------------------------------------------
// kill -9 during bursts of CLI writes
// ---------------------------------------------------------------------------------------------

const ROUNDS: usize = 20;
const BASE_USERS: [&str; 3] = ["base0", "base1", "base2"];
const GRANT_MOVIES: [&str; 2] = ["grantmovie01", "grantmovie02"];
/// Written by the checks between rounds, never by the writers.
const PROBE_USER: &str = "probe";

/// An `--until` that grows with every write (`seq` seconds after 2900-01-01), so the state
/// after a crash can be compared with the last write acknowledged: it must be that one or a
/// later one (the write in flight at the kill may or may not have committed).
fn until(seq: u64) -> String {
    format!(
        "2900-01-{:02}T{:02}:{:02}:{:02}Z",
        1 + seq / 86_400,
        seq / 3600 % 24,
        seq / 60 % 60,
        seq % 60
    )
}

/// Writes the CLI acknowledged (exit 0), over every round so far.
#[derive(Default)]
struct Acked {
    users: Vec<String>,
    /// user -> the latest `--until` of an acknowledged `user plan`.
    plans: BTreeMap<String, i64>,
    /// (user, movie) -> the latest `--until` of an acknowledged `grant`.
    grants: BTreeMap<(String, String), i64>,
}

#[derive(Default)]
struct Burst {
    users: Vec<String>,
    plans: Vec<(String, i64)>,
    grants: Vec<(String, String, i64)>,
    /// What the first refused command of each writer said (after the kill, as expected).
    refusals: Vec<String>,
}

/// One writer: runs `step` until told to stop or a command fails (the server is gone).
fn writer(stop: &AtomicBool, mut step: impl FnMut(u64) -> Result<(), String>) -> Option<String> {
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        if let Err(e) = step(n) {
            return Some(e);
        }
    }
    None
}

fn run_cli(dir: &Path, args: &[&str], stdin: Option<&str>) -> Result<(), String> {
    let out = cli(dir, args, stdin);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{args:?}: {}", stderr(&out).trim()))
    }
}

/// Three writers at once through the running server (user add, user plan, grant), killed with
/// SIGKILL a random 50-400 ms after the first `user add` of the round was acknowledged (a
/// `user add` hashes a password: ~0.4 s in a debug build, so counting from the round's start
/// would kill before any was acknowledged).
fn burst(server: &mut Server, round: usize, seq: &AtomicU64, rng: &mut Rng) -> Burst {
    let dir = server.dir.clone();
    let stop = AtomicBool::new(false);
    let first_user = AtomicBool::new(false);
    let delay = Duration::from_millis(rng.range(50, 400));
    let mut result = Burst::default();
    std::thread::scope(|scope| {
        let adds = scope.spawn(|| {
            let mut acked = Vec::new();
            let refused = writer(&stop, |n| {
                let name = format!("r{round}u{n}");
                run_cli(
                    &dir,
                    &["user", "add", &name, "--password-stdin"],
                    Some(&format!("{PW} {name}\n")),
                )?;
                acked.push(name);
                first_user.store(true, Ordering::SeqCst);
                Ok(())
            });
            (acked, refused)
        });
        let plans = scope.spawn(|| {
            let mut acked = Vec::new();
            let refused = writer(&stop, |n| {
                let user = BASE_USERS[n as usize % BASE_USERS.len()];
                let when = until(seq.fetch_add(1, Ordering::SeqCst));
                run_cli(
                    &dir,
                    &["user", "plan", user, "premium", "--until", &when],
                    None,
                )?;
                acked.push((user.to_string(), secs(&when)));
                Ok(())
            });
            (acked, refused)
        });
        let grants = scope.spawn(|| {
            let mut acked = Vec::new();
            let refused = writer(&stop, |n| {
                let user = BASE_USERS[n as usize % BASE_USERS.len()];
                let movie = GRANT_MOVIES[(n as usize / BASE_USERS.len()) % GRANT_MOVIES.len()];
                let when = until(seq.fetch_add(1, Ordering::SeqCst));
                run_cli(&dir, &["grant", user, movie, "--until", &when], None)?;
                acked.push((user.to_string(), movie.to_string(), secs(&when)));
                Ok(())
            });
            (acked, refused)
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        while !first_user.load(Ordering::SeqCst) {
            if adds.is_finished() || Instant::now() > deadline {
                stop.store(true, Ordering::SeqCst);
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(delay);
        // Writers start no new command from here; the ones in flight meet a dead server.
        stop.store(true, Ordering::SeqCst);
        server.kill_hard();
        let (users, r1) = adds.join().expect("user add writer");
        let (plans, r2) = plans.join().expect("plan writer");
        let (grants, r3) = grants.join().expect("grant writer");
        result = Burst {
            users,
            plans,
            grants,
            refusals: [r1, r2, r3].into_iter().flatten().collect(),
        };
    });
    result
}

/// Restarts on the crashed data dir and checks every acknowledged write: users and plans
/// through the restarted server's CLI, then (stopped) grants in the database opened directly.
fn verify(dir: &Path, acked: &Acked) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut server = Server::start_in(dir, &[]);
    let users = users_json(dir);
    let by_name: BTreeMap<&str, &serde_json::Value> = users
        .iter()
        .map(|u| (u["name"].as_str().unwrap_or(""), u))
        .collect();
    for name in &acked.users {
        if !by_name.contains_key(name.as_str()) {
            problems.push(format!("acknowledged `user add {name}` is missing"));
        }
    }
    for (name, want) in &acked.plans {
        let Some(u) = by_name.get(name.as_str()) else {
            problems.push(format!("user {name} is missing"));
            continue;
        };
        let got = u["plan_until"].as_str().map(secs);
        if u["plan"] != "premium" || got.is_none_or(|g| g < *want) {
            problems.push(format!(
                "{name}: plan {} until {:?}, but `user plan ... --until {}` was acknowledged",
                u["plan"],
                u["plan_until"],
                Timestamp(*want)
            ));
        }
    }
    // The restarted server still takes writes (on a user no writer touches).
    if let Err(e) = run_cli(dir, &["user", "plan", PROBE_USER, "premium"], None) {
        problems.push(format!("the restarted server refuses writes: {e}"));
    }
    let status = server.stop();
    if !status.success() {
        problems.push(format!(
            "the restarted server did not stop cleanly: {status}"
        ));
    }
    match Store::open(dir) {
        Err(e) => problems.push(format!("the database does not open: {e}")),
        Ok(store) => {
            let grants: BTreeMap<(String, String), Option<i64>> = store
                .all_grants()
                .map_err(|e| format!("reading grants: {e}"))?
                .into_iter()
                .map(|(u, m, g)| ((u, m), g.until.map(|t| t.0)))
                .collect();
            for ((user, movie), want) in &acked.grants {
                match grants.get(&(user.clone(), movie.clone())) {
                    Some(Some(got)) if got >= want => {}
                    other => problems.push(format!(
                        "grant {user} {movie}: stored {other:?}, acknowledged until {}",
                        Timestamp(*want)
                    )),
                }
            }
            let listed = store
                .list_users()
                .map_err(|e| format!("listing users: {e}"))?
                .len();
            if listed != users.len() {
                problems.push(format!(
                    "{listed} users in the database, {} through the server",
                    users.len()
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn acknowledged_cli_writes_survive_kill_9_at_random_moments() {
    let started = Instant::now();
    let mut rng = Rng::seeded("cli writes");
    let tmp = Server::temp_dir();
    let dir = tmp.path();
    for name in BASE_USERS.into_iter().chain([PROBE_USER]) {
        add_user(dir, name, PW, &[]);
    }
    {
        let store = Store::open(dir).expect("store");
        for id in GRANT_MOVIES {
            store
                .put_movie(&Movie {
                    status: MovieStatus::Ready,
                    duration_s: Some(60.0),
                    ..Movie::new(
                        MovieId::parse(id).expect("id"),
                        id.into(),
                        Tier::Premium,
                        Timestamp::now(),
                    )
                })
                .expect("movie");
        }
    }
    let seq = AtomicU64::new(0);
    let mut acked = Acked::default();
    let mut survived = 0;
    let mut failures = Vec::new();
    let (mut n_users, mut n_plans, mut n_grants) = (0, 0, 0);
    for round in 0..ROUNDS {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut server = Server::start_in(dir, &[]);
            let b = burst(&mut server, round, &seq, &mut rng);
            println!(
                "round {round}: acknowledged {} user add, {} plan, {} grant; {} in flight at the kill refused",
                b.users.len(),
                b.plans.len(),
                b.grants.len(),
                b.refusals.len()
            );
            (n_users, n_plans, n_grants) = (
                n_users + b.users.len(),
                n_plans + b.plans.len(),
                n_grants + b.grants.len(),
            );
            acked.users.extend(b.users);
            for (u, t) in b.plans {
                let e = acked.plans.entry(u).or_default();
                *e = (*e).max(t);
            }
            for (u, m, t) in b.grants {
                let e = acked.grants.entry((u, m)).or_default();
                *e = (*e).max(t);
            }
            verify(dir, &acked)
        }));
        match outcome {
            Ok(Ok(())) => survived += 1,
            Ok(Err(e)) => failures.push(format!("round {round}: {e}")),
            Err(_) => failures.push(format!("round {round}: panicked (see above)")),
        }
    }
    println!(
        "FIGURE kill -9 rounds survived: {survived} of {ROUNDS} ({n_users} user add, {n_plans} plan, \
         {n_grants} grant acknowledged before the kills) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(survived, ROUNDS, "{}", failures.join("\n"));
    // Not vacuous: the kills landed among acknowledged writes of every kind.
    assert!(
        n_users >= ROUNDS && n_plans >= ROUNDS && n_grants >= ROUNDS,
        "too few writes acknowledged to prove anything: {n_users} {n_plans} {n_grants}"
    );
}

// ---------------------------------------------------------------------------------------------
// kill -9 during an HTTP upload
// ---------------------------------------------------------------------------------------------

const BOUNDARY: &str = "streamdcrashboundary41c7";

fn login(server: &Server, user: &str) -> Client {
    let mut c = server.client();
    let r = c.login(user, PW);
    assert_eq!(r.status, 200, "{}", r.body);
    c
}

fn cookie_of(c: &Client) -> String {
    c.cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The request head and the multipart body up to the start of the file's bytes, for a body
/// whose file part is announced as `file_len` bytes long.
fn upload_prefix(addr: SocketAddr, cookie: &str, title: &str, file_len: u64) -> Vec<u8> {
    let prefix = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n{title}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"tier\"\r\n\r\nfree\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.mp4\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let suffix_len = format!("\r\n--{BOUNDARY}--\r\n").len() as u64;
    let total = prefix.len() as u64 + file_len + suffix_len;
    let mut req = format!(
        "POST /api/v1/movies HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {total}\r\n\r\n"
    )
    .into_bytes();
    req.extend_from_slice(prefix.as_bytes());
    req
}

fn upload_suffix() -> Vec<u8> {
    format!("\r\n--{BOUNDARY}--\r\n").into_bytes()
}

/// The partial uploads in `uploads/` with their sizes.
fn upload_files(data: &Path) -> Vec<(String, u64)> {
    entries(&data.join("uploads"))
        .into_iter()
        .map(|n| {
            let len = std::fs::metadata(data.join("uploads").join(&n))
                .map(|m| m.len())
                .unwrap_or(0);
            (n, len)
        })
        .collect()
}

fn published(data: &Path) -> Vec<String> {
    entries(&data.join("objects/media/movies"))
}

#[test]
fn an_upload_cut_by_kill_9_is_removed_at_restart_and_publishes_nothing() {
    let started = Instant::now();
    let mut rng = Rng::seeded("upload kill");
    let tmp = Server::temp_dir();
    let data = tmp.path().join("data");
    add_user(&data, "root", PW, &["--admin"]);
    let chunk = rng.bytes(256 * 1024);
    for round in 0..3 {
        let mut server = Server::start_in(&data, &[]);
        let admin = login(&server, "root");
        // A 512 MiB file announced; 2-8 MiB of it sent before the kill.
        let send = rng.range(2, 8) * 1024 * 1024;
        let mut s = TcpStream::connect(server.addr).expect("connect");
        s.write_all(&upload_prefix(
            server.addr,
            &cookie_of(&admin),
            "Partial",
            512 * 1024 * 1024,
        ))
        .expect("head");
        let mut sent = 0u64;
        while sent < send {
            s.write_all(&chunk).expect("body");
            sent += chunk.len() as u64;
        }
        // The bytes are in the socket already: a bound for a hang.
        let partial = wait_for(60, "the partial upload on disk", || {
            let files = upload_files(&data);
            files
                .iter()
                .find(|(n, len)| n.ends_with(".upload") && *len >= 1024 * 1024)
                .cloned()
                .ok_or_else(|| format!("uploads/: {files:?}"))
        });
        // The connection stays open: the server dies with the upload in its hands.
        server.kill_hard();
        drop(s);
        let left = data.join("uploads").join(&partial.0);
        assert!(
            left.exists(),
            "round {round}: SIGKILL leaves the partial upload ({} of {sent} bytes sent)",
            partial.1
        );
        println!(
            "round {round}: killed with {} bytes of a {sent}-byte partial upload on disk",
            partial.1
        );

        let server = Server::start_in(&data, &[]);
        assert_eq!(
            upload_files(&data),
            Vec::<(String, u64)>::new(),
            "round {round}: the partial upload is removed at start-up"
        );
        assert_eq!(movies_json(&data), Vec::<serde_json::Value>::new());
        assert_eq!(published(&data), Vec::<String>::new());
        let mut c = login(&server, "root");
        assert_eq!(c.get("/api/v1/movies").json(), serde_json::json!([]));
    }

    // A finished upload is the job's: a crash right after its 202 must not lose it.
    let src = make_source(
        tmp.path(),
        "small.mp4",
        "testsrc2=size=320x240:rate=25",
        3,
        true,
        &[],
    );
    let mut server = Server::start_in(&data, &[]);
    let mut admin = login(&server, "root");
    let bytes = std::fs::read(&src).expect("source");
    let (ct, body) = multipart(&[
        ("title", None, b"Whole"),
        ("tier", None, b"free"),
        ("file", Some("small.mp4"), &bytes),
    ]);
    let r = admin.post_raw("/api/v1/movies", &ct, &body);
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["id"].as_str().expect("id").to_string();
    server.kill_hard();
    let server = Server::start_in(&data, &[]);
    let listed = movies_json(&data);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], id.as_str());
    let mut c = login(&server, "root");
    let budget = Work::of(&src).whole(DEFAULT_PRESET);
    let m = wait_for(budget, "the acknowledged upload to be ingested", || {
        let m = c.get(&format!("/api/v1/movies/{id}")).json();
        let done = m["status"] == "ready" || m["status"] == "failed";
        when(done, m.clone(), m)
    });
    assert_eq!(m["status"], "ready", "the upload survived the crash: {m}");
    // The job records "ready" first and removes its source after (a crash between the two
    // leaves an upload no job owns, which the next start removes): wait for the removal.
    // The bound is for a hang: one unlink.
    wait_for(30, "its source to be removed once ingested", || {
        let left = upload_files(&data);
        when(left.is_empty(), (), format!("uploads/: {left:?}"))
    });
    println!(
        "FIGURE kill -9 mid-upload: 3 of 3 partial uploads removed at restart, nothing published ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// kill -9 during an ingest
// ---------------------------------------------------------------------------------------------

fn movie(c: &mut Client, id: &str) -> serde_json::Value {
    c.get(&format!("/api/v1/movies/{id}")).json()
}

/// Segments listed by each video rung's published playlist of movie `id` (rungs are named by
/// their height: `480p`).
fn published_segments(data: &Path, id: &str) -> Vec<(String, usize)> {
    let movie = data.join("objects/media/movies").join(id);
    entries(&movie)
        .into_iter()
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        .map(|r| {
            let text =
                std::fs::read_to_string(movie.join(&r).join("index.m3u8")).unwrap_or_default();
            let n = text.matches("#EXTINF").count();
            (r, n)
        })
        .collect()
}

/// Whether a process still runs (a zombie waiting for a reaper does not).
fn alive(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

#[test]
fn kill_9_mid_ingest_leaves_no_orphan_ffmpeg_and_no_stray_staging() {
    let started = Instant::now();
    let mut rng = Rng::seeded("ingest kill");
    let tmp = Server::temp_dir();
    let data = tmp.path().join("data");
    add_user(&data, "root", PW, &["--admin"]);
    let src = make_source(
        tmp.path(),
        "film.mp4",
        "testsrc2=size=854x480:rate=25",
        30,
        true,
        &[],
    );
    // The slow preset stretches a 30 s 480p encode to several seconds on 2 cores: room to
    // kill it in the middle.
    let env = [("STREAMD_TRANSCODE_PRESET", "slow")];
    let mut server = Server::start_in(&data, &env);
    let out = cli_env(
        &data,
        &[
            "ingest",
            src.to_str().expect("utf8"),
            "--title",
            "Killed",
            "--no-wait",
            "--json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id = serde_json::from_str::<serde_json::Value>(stdout(&out).trim()).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut c = login(&server, "root");
    // Killed at a random point of the encode: once a random number of segments (the first,
    // which makes it playable, and up to three more of its eight) is published in every rung,
    // the encoder still at work. A point in the encode, not in time: a slow machine moves it
    // later, never past the end.
    let work = Work::of(&src);
    let segments = rng.range(1, 4) as usize;
    wait_for(
        work.encode_secs((segments + 1) as f64 * 4.0, "slow"),
        &format!("{segments} segments of every rung to be published"),
        || {
            let m = movie(&mut c, &id);
            assert!(
                m["status"] == "queued" || m["status"] == "running",
                "the encode ended before the kill: {m}"
            );
            let counts = published_segments(&data, &id);
            let reached = m["playable"] == true
                && !counts.is_empty()
                && counts.iter().all(|(_, n)| *n >= segments);
            when(reached, (), format!("published {counts:?}; the movie: {m}"))
        },
    );
    let ffmpegs = ffmpeg_processes(&data);
    let staged = files_under(&data.join("staging"));
    server.kill_hard();
    assert!(
        !ffmpegs.is_empty(),
        "ffmpeg was running at the kill (else the encode had ended: nothing proven)"
    );
    assert!(
        staged.iter().any(|f| f.starts_with(&format!("{id}/"))),
        "the job had staged files at the kill: {staged:?}"
    );
    println!(
        "killed with {} ffmpeg running and {} staged files",
        ffmpegs.len(),
        staged.len()
    );
    // A job that no longer exists left staging behind too (an older crash).
    let stray = data.join("staging/strayjob0001/video/480p");
    std::fs::create_dir_all(&stray).expect("mkdir");
    std::fs::write(stray.join("seg_00001.m4s"), b"half a segment").expect("write");

    wait_for(30, "the killed server's ffmpeg to die with it", || {
        let left: Vec<&u32> = ffmpegs.iter().filter(|p| alive(**p)).collect();
        when(left.is_empty(), (), format!("still alive: {left:?}"))
    });
    let server = Server::start_in(&data, &env);
    let survivors: Vec<u32> = ffmpeg_processes(&data)
        .into_iter()
        .filter(|p| ffmpegs.contains(p))
        .collect();
    assert_eq!(
        survivors,
        Vec::<u32>::new(),
        "no ffmpeg of the killed server survives"
    );
    let staging = entries(&data.join("staging"));
    assert!(
        staging.iter().all(|e| *e == id),
        "only the resumed job's staging after the restart: {staging:?}"
    );
    let mut c = login(&server, "root");
    let m = wait_for(work.whole("slow"), "the resumed job to end", || {
        let m = movie(&mut c, &id);
        let done = m["status"] == "ready" || m["status"] == "failed";
        when(done, m.clone(), m)
    });
    assert_eq!(m["status"], "ready", "{m}");
    assert_eq!(m["playable"], true);
    assert_eq!(c.get(&format!("/stream/{id}")).status, 200);
    assert_eq!(
        entries(&data.join("staging")),
        Vec::<String>::new(),
        "staging is empty once the job is done"
    );
    assert_eq!(ffmpeg_processes(&data), Vec::<u32>::new(), "no ffmpeg left");
    println!(
        "FIGURE kill -9 mid-ingest: {} ffmpeg killed with the server, 0 survived, job resumed to ready ({:.1} s)",
        ffmpegs.len(),
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------------------
// a full disk
// ---------------------------------------------------------------------------------------------

/// Unmounts the small filesystem when the test ends, however it ends.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A data dir on a tmpfs of `size` (e.g. "16m"), which only root can mount; `None` (and the
/// test is skipped, as tests/ingest.rs does) where that is not possible.
fn small_disk(parent: &Path, size: &str) -> Option<(PathBuf, Unmount)> {
    let data = parent.join("small");
    std::fs::create_dir_all(&data).expect("mkdir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(&data)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return None;
    }
    Some((data.clone(), Unmount(data)))
}

#[test]
fn an_upload_larger_than_the_free_space_is_refused_clearly_and_leaves_nothing() {
    let tmp = Server::temp_dir();
    let Some((data, _unmount)) = small_disk(tmp.path(), "16m") else {
        return;
    };
    add_user(&data, "root", PW, &["--admin"]);
    let mut server = Server::start_in(&data, &[]);
    let admin = login(&server, "root");
    let mut rng = Rng::seeded("disk full upload");
    let chunk = rng.bytes(256 * 1024);
    // 24 MiB onto a 16 MiB disk, sent by one thread while this one waits for the answer.
    let file_len = 24 * 1024 * 1024u64;
    let mut s = TcpStream::connect(server.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut w = s.try_clone().expect("clone");
    let head = upload_prefix(server.addr, &cookie_of(&admin), "Too big", file_len);
    let sender = std::thread::spawn(move || -> u64 {
        if w.write_all(&head).is_err() {
            return 0;
        }
        let mut sent = 0u64;
        while sent < file_len {
            if w.write_all(&chunk).is_err() {
                return sent;
            }
            sent += chunk.len() as u64;
        }
        let _ = w.write_all(&upload_suffix());
        sent
    });
    let answer = read_response(&mut s).map(|r| (r.status, r.text()));
    drop(s);
    let sent = sender.join().expect("sender");
    println!("disk full upload: {answer:?} after {sent} bytes of the file were sent");
    let (status, body) = answer.expect("an answer, not a hang or a reset");
    assert!((400..600).contains(&status), "{status} {body}");
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    let message = v["error"]["message"].as_str().unwrap_or("").to_lowercase();
    assert_eq!(
        upload_files(&data),
        Vec::<(String, u64)>::new(),
        "no partial upload left"
    );
    assert_eq!(published(&data), Vec::<String>::new());

    // Still serving, and still writing to its database.
    let mut c = server.client();
    assert_eq!(c.get("/healthz").status, 200);
    assert_eq!(c.login("root", PW).status, 200);
    assert_eq!(c.get("/api/v1/movies").json(), serde_json::json!([]));
    server.kill_hard();
    let server = Server::start_in(&data, &[]);
    assert_eq!(movies_json(&data), Vec::<serde_json::Value>::new());
    assert_eq!(server.client().login("root", PW).status, 200);

    // Checked last, so that the checks above run even where this one fails: the admin is told
    // why (a bare "internal error" sends them to the server's log to find out).
    assert!(
        message.contains("space") || message.contains("disk") || message.contains("storage"),
        "the answer says the disk is full: {status} {body}"
    );
}

#[test]
fn an_ingest_whose_output_does_not_fit_fails_clearly_and_publishes_nothing() {
    let tmp = Server::temp_dir();
    // ~11 MB of ladder (480p + 720p for 20 s) onto a 6 MiB disk: the first segments fit (the
    // movie becomes playable), the rest does not.
    let Some((data, _unmount)) = small_disk(tmp.path(), "6m") else {
        return;
    };
    add_user(&data, "root", PW, &["--admin"]);
    let src = make_source(
        tmp.path(),
        "film.mp4",
        "testsrc2=size=1280x720:rate=25",
        20,
        true,
        &[],
    );
    let mut server = Server::start_in(&data, &[]);
    let out = cli_env(
        &data,
        &[
            "ingest",
            src.to_str().expect("utf8"),
            "--title",
            "Too big",
            "--no-wait",
            "--json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id = serde_json::from_str::<serde_json::Value>(stdout(&out).trim()).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let mut was_playable = false;
    // A job still running long after its whole encode would take will never end.
    let budget = Work::of(&src).whole(DEFAULT_PRESET);
    let deadline = Instant::now() + Duration::from_secs(budget);
    let mut m = serde_json::Value::Null;
    let m = loop {
        // Only answers count: a request may fail while the disk is full.
        let out = cli(&data, &["movies", "--json"], None);
        if out.status.success() {
            let list: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
            if let Some(found) = list
                .as_array()
                .and_then(|l| l.iter().find(|m| m["id"] == id.as_str()))
            {
                m = found.clone();
            }
        }
        was_playable |= m["playable"] == true;
        if m["status"] == "ready" || m["status"] == "failed" {
            break m;
        }
        if Instant::now() > deadline {
            let (_, log) = server.stop_with_stderr();
            panic!(
                "the job never ended (an ingest takes seconds): {m}\nffmpeg running: {:?}\n\
                 files: {:?}\nserver log:\n{log}",
                ffmpeg_processes(&data),
                files_under(&data)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    println!("disk full ingest: {m} (seen playable while it ran: {was_playable})");
    assert_eq!(m["status"], "failed", "{m}");
    let error = m["error"].as_str().unwrap_or("");
    assert!(
        error.contains("No space left on device"),
        "the reason says the disk is full: {m}"
    );
    assert!(
        !error.contains("No streams found"),
        "only ffmpeg's own words, not ffmpeg-sidecar's note that nothing goes to stdout: {m}"
    );
    assert_eq!(m["playable"], false, "{m}");
    assert_eq!(
        files_under(&data.join("objects")),
        Vec::<String>::new(),
        "nothing of the failed movie stays published"
    );
    assert_eq!(entries(&data.join("staging")), Vec::<String>::new());
    let mut c = login(&server, "root");
    assert_ne!(c.get(&format!("/stream/{id}")).status, 200);
    assert_eq!(c.get("/healthz").status, 200);

    // After a restart the database opens, the failure is kept (not retried into the same full
    // disk), and the server takes writes.
    assert!(server.stop().success());
    let server = Server::start_in(&data, &[]);
    let listed = movies_json(&data);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "failed", "{listed:?}");
    assert_eq!(server.client().login("root", PW).status, 200);
}

/// Fills the filesystem holding `path` with a file there, until a write fails.
fn fill(path: &Path) -> u64 {
    let mut f = std::fs::File::create(path).expect("filler");
    let block = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&block) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    let _ = f.sync_all();
    written
}

#[test]
fn a_write_refused_by_a_full_disk_does_not_break_the_database_once_there_is_room() {
    // Whatever fills the disk (an upload, an ingest, another program), a database write that
    // meets it must fail alone: once there is room again, the server writes again.
    let tmp = Server::temp_dir();
    let Some((data, _unmount)) = small_disk(tmp.path(), "8m") else {
        return;
    };
    add_user(&data, "root", PW, &["--admin"]);
    let filler = data.join("filler");

    // With no server, a command that would open the database says what is wrong.
    fill(&filler);
    let out = cli(&data, &["user", "list", "--json"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the disk holding it is full"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(&filler).expect("free the disk");

    let env = [("STREAMD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE", "100")];
    let mut server = Server::start_in(&data, &env);
    let mut c = server.client();
    assert_eq!(c.login("root", PW).status, 200);

    let filled = fill(&filler);
    // Through the running server, which needs nothing written in the data dir, the CLI works.
    let out = cli(&data, &["user", "list", "--json"], None);
    assert!(
        out.status.success(),
        "the CLI answers while the disk is full: {}",
        stderr(&out)
    );
    let mut while_full = Vec::new();
    for _ in 0..3 {
        // Each login writes a session: refused (or not) while the disk is full.
        let r = server.client().login("root", PW);
        while_full.push(r.status);
        assert!(
            r.status == 200 || r.status >= 500,
            "{} {}",
            r.status,
            r.body
        );
    }
    std::fs::remove_file(&filler).expect("free the disk");
    println!("logins with the disk full ({filled} bytes of filler): {while_full:?}");

    let after = server.client().login("root", PW);
    let out = cli(
        &data,
        &["user", "add", "second", "--password-stdin"],
        Some("second password\n"),
    );
    let (_, log) = server.stop_with_stderr();
    assert_eq!(
        after.status, 200,
        "a login once the disk has room again: {}\nserver log:\n{log}",
        after.body
    );
    assert!(
        out.status.success(),
        "a CLI write once the disk has room again: {}",
        stderr(&out)
    );

    // And the database opens after a restart, with what was written.
    let server = Server::start_in(&data, &env);
    let names: Vec<String> = users_json(&data)
        .iter()
        .map(|u| u["name"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(names, ["root", "second"]);
    assert_eq!(
        server.client().login("second", "second password").status,
        200
    );
}

/// Resume positions commit without fsync (`Store::set_position`) and are made durable every
/// 5 s: a position saved more than that before a `kill -9` is there after the restart, and the
/// database opens. (Killed right after the save, the position is lost: this fails without the
/// periodic persist.)
#[test]
fn resume_positions_saved_without_fsync_survive_kill_9_once_persisted() {
    let tmp = Server::temp_dir();
    let dir = tmp.path();
    add_user(dir, "ann", PW, &["--plan", "premium"]);
    {
        let store = Store::open(dir).expect("store");
        store
            .put_movie(&Movie {
                status: MovieStatus::Ready,
                duration_s: Some(600.0),
                ..Movie::new(
                    MovieId::parse("resumemovie1").expect("id"),
                    "Resume".into(),
                    Tier::Premium,
                    Timestamp::now(),
                )
            })
            .expect("movie");
    }
    let mut server = Server::start_in(dir, &[]);
    let mut c = login(&server, "ann");
    for seconds in [30.0, 61.5] {
        let r = c.post_json(
            "/api/v1/movies/resumemovie1/position",
            &serde_json::json!({ "seconds": seconds }),
        );
        assert_eq!(r.status, 204, "{}", r.body);
    }
    // The clock this test is about: positions become durable at the server's next persist
    // tick (every PERSIST_EVERY, src/server.rs), and nothing shows from outside that it ran.
    // Waited past two ticks, so that one a busy machine delays still falls inside; then
    // killed without warning.
    const PERSIST_EVERY: Duration = Duration::from_secs(5);
    std::thread::sleep(2 * PERSIST_EVERY + Duration::from_secs(1));
    server.kill_hard();
    let server = Server::start_in(dir, &[]);
    let mut c = login(&server, "ann");
    let page = c.get("/watch/resumemovie1");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("data-resume=\"61.5\""),
        "the watch page resumes where the viewer was: {}",
        page.body
    );
}
