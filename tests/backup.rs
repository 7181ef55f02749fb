//! `streamd backup` and `streamd restore`: a backup taken while `serve` runs and writes holds
//! every write acknowledged before it; restored into an empty data dir (with the objects
//! folder copied beside it), every user signs in with the same password and finds the same
//! plan, grants, positions and preferences, and the movie plays. Bad files change nothing.
//! Scheduled backups go into the object store encrypted and are pruned; `restore latest`
//! brings the service back from the store alone (local and S3); `check` names what the store
//! lost; a server killed during a backup leaves no partial file under the backup's name.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{
    BIN, Server, add_user, cli, cli_env, make_source, peer, start_s3s, stderr, stdout, wait_for,
    when,
};

const PW: &str = "correct horse battery";

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let target = to.join(entry.path().strip_prefix(from).expect("inside"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn backup_json(dir: &Path, file: &Path) -> serde_json::Value {
    let out = cli(
        dir,
        &["backup", file.to_str().expect("utf8"), "--json"],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(stdout(&out).trim()).expect("one JSON value on stdout")
}

#[test]
fn a_backup_taken_while_serving_restores_every_acknowledged_write_and_the_movie_plays() {
    let tmp = Server::temp_dir();
    let old = tmp.path().join("old");
    std::fs::create_dir_all(&old).expect("old");
    add_user(&old, "root", PW, &["--admin"]);
    add_user(&old, "ann", PW, &[]);
    let out = cli(
        &old,
        &[
            "user",
            "plan",
            "ann",
            "premium",
            "--until",
            "2999-01-01T00:00:00Z",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let src = make_source(
        tmp.path(),
        "film.mp4",
        "testsrc=size=320x240:rate=25",
        2,
        true,
        &[],
    );
    let out = cli_env(
        &old,
        &[
            "ingest",
            src.to_str().expect("utf8"),
            "--title",
            "Film",
            "--tier",
            "premium",
            "--json",
        ],
        &[("STREAMD_TRANSCODE_PRESET", "ultrafast")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id = serde_json::from_str::<serde_json::Value>(stdout(&out).trim()).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    add_user(&old, "bob", PW, &[]);
    let out = cli(&old, &["grant", "bob", &id], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let srt = tmp.path().join("film.fr.srt");
    std::fs::write(&srt, "1\n00:00:00,200 --> 00:00:01,500\nBonjour\n").expect("srt");
    let srt = srt.to_str().expect("utf8");
    let out = cli(&old, &["subtitle", "add", &id, srt, "--lang", "fr"], None);
    assert!(out.status.success(), "{}", stderr(&out));

    let s = Server::start_in(&old, &[("STREAMD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE", "1000")]);
    let mut ann = s.client();
    assert_eq!(ann.login("ann", PW).status, 200);
    let r = ann.post_json(
        &format!("/api/v1/movies/{id}/position"),
        &serde_json::json!({"seconds": 1.5}),
    );
    assert!(r.status < 300, "{}", r.body);
    let prefs = serde_json::json!({"audio_lang": "fr", "subtitle_lang": "off"});
    assert_eq!(ann.put_json("/api/v1/preferences", &prefs).status, 204);

    // Users created one after another by a writer while the backup is taken: every one whose
    // creation was acknowledged before the backup began must be in it.
    let stop = AtomicBool::new(false);
    let acknowledged = AtomicUsize::new(0);
    let file = tmp.path().join("streamd.backup");
    let (before, summary) = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let out = cli(
                    &old,
                    &["user", "add", &format!("w{n}"), "--password-stdin"],
                    Some("writer password\n"),
                );
                assert!(out.status.success(), "{}", stderr(&out));
                n += 1;
                acknowledged.store(n, Ordering::SeqCst);
            }
        });
        // Wait for the writer to be under way (a state, not a time).
        while acknowledged.load(Ordering::SeqCst) < 2 {
            // A poll interval: the loop checks real state.
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let before = acknowledged.load(Ordering::SeqCst);
        let summary = backup_json(&old, &file);
        stop.store(true, Ordering::SeqCst);
        (before, summary)
    });
    assert_eq!(summary["movies"], 1, "{summary}");
    assert!(
        summary["users"].as_u64().expect("users") >= 3 + before as u64,
        "{summary}"
    );
    assert!(summary["taken_at"].is_string() && summary["bytes"].as_u64() > Some(0));
    let mode = std::fs::metadata(&file).expect("file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a backup holds password hashes and keys");
    assert!(!tmp.path().join("streamd.backup.tmp").exists());

    // While the server runs, restore refuses and says why.
    let out = cli(
        &old,
        &["restore", file.to_str().expect("utf8"), "--force"],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("stop it"), "{}", stderr(&out));
    drop(s);

    // A new machine: the backup and a copy of the objects folder.
    let new = tmp.path().join("new");
    copy_tree(&old.join("objects"), &new.join("objects"));
    let out = cli(
        &new,
        &["restore", file.to_str().expect("utf8"), "--json"],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let users = cli(&new, &["user", "list", "--json"], None);
    let users: Vec<serde_json::Value> = serde_json::from_str(stdout(&users).trim()).expect("users");
    for n in 0..before {
        assert!(
            users.iter().any(|u| u["name"] == format!("w{n}")),
            "w{n}, acknowledged before the backup, is in it"
        );
    }
    let movies = stdout(&cli(&new, &["movies", "--json"], None));
    let movies: Vec<serde_json::Value> = serde_json::from_str(movies.trim()).expect("movies");
    assert_eq!(
        movies[0]["subtitles"][0]["lang"], "fr",
        "the subtitle came along"
    );
    let ann_row = users.iter().find(|u| u["name"] == "ann").expect("ann");
    assert_eq!(ann_row["plan"], "premium");
    assert_eq!(ann_row["plan_until"], "2999-01-01T00:00:00Z");

    let s = Server::start_in(&new, &[]);
    let mut ann = s.client();
    assert_eq!(ann.login("ann", PW).status, 200, "the same password");
    let movie = ann.get(&format!("/api/v1/movies/{id}")).json();
    assert_eq!(movie["position_s"], 1.5, "{movie}");
    let page = ann.get(&format!("/watch/{id}"));
    assert!(
        page.body.contains("data-audio-lang=\"fr\""),
        "the preferences came along"
    );
    let mut bob = s.client();
    assert_eq!(bob.login("bob", PW).status, 200);
    let master = bob.get(&format!("/stream/{id}"));
    assert_eq!(
        master.status, 200,
        "bob's grant came along: {}",
        master.body
    );
    let variant = master
        .body
        .lines()
        .find(|l| l.starts_with("/stream/") && l.contains(".m3u8"))
        .expect("a variant")
        .to_string();
    let playlist = bob.get(&variant);
    assert_eq!(playlist.status, 200, "{}", playlist.body);
    let segment = playlist
        .body
        .lines()
        .find(|l| l.starts_with("http") && l.contains(".m4s"))
        .expect("a segment URL");
    let got = ureq::get(segment)
        .call()
        .expect("the segment, signed with the restored keys");
    assert_eq!(got.status(), 200);
}

#[test]
fn bad_backups_and_occupied_data_dirs_are_refused_and_change_nothing() {
    let tmp = Server::temp_dir();
    let old = tmp.path().join("old");
    add_user(&old, "root", PW, &["--admin"]);
    let file = tmp.path().join("good.backup");
    backup_json(&old, &file);
    let good = std::fs::read(&file).expect("backup");

    let new = tmp.path().join("new");
    let restore = |path: &Path, extra: &[&str]| {
        let mut args = vec!["restore", path.to_str().expect("utf8")];
        args.extend_from_slice(extra);
        cli(&new, &args, None)
    };
    let garbage = tmp.path().join("garbage.backup");
    std::fs::write(&garbage, b"\x00\x01 this is not a backup").expect("garbage");
    let truncated = tmp.path().join("truncated.backup");
    std::fs::write(&truncated, &good[..good.len() / 2]).expect("truncated");
    let future = tmp.path().join("future.backup");
    let text = String::from_utf8(good.clone()).expect("json");
    std::fs::write(&future, text.replacen("\"version\":1", "\"version\":99", 1)).expect("future");
    for (path, says) in [
        (&garbage, "is not a streamd backup"),
        (&truncated, "is not a streamd backup"),
        (&future, "newer than this streamd"),
    ] {
        let out = restore(path, &[]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert!(!new.join("streamd.redb").exists(), "nothing was written");
    }

    let out = restore(&file, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    add_user(&new, "later", PW, &[]);
    let out = restore(&file, &[]);
    assert!(
        !out.status.success(),
        "a data dir in use is not overwritten"
    );
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    let out = restore(&file, &["--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let kept: Vec<String> = std::fs::read_dir(&new)
        .expect("new")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("before-restore"))
        .collect();
    assert_eq!(
        kept.len(),
        2,
        "the old database and secrets are kept aside: {kept:?}"
    );
    let users = stdout(&cli(&new, &["user", "list", "--json"], None));
    assert!(!users.contains("later"), "{users}");
}

/// A backup key file outside the data dir, as `openssl rand -hex 32` would write it.
fn key_file(dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let secret: String = (0..32).map(|_| format!("{:02x}", rand_byte())).collect();
    std::fs::write(&path, format!("{secret}\n")).expect("key file");
    path
}

fn rand_byte() -> u8 {
    let mut b = [0u8; 1];
    let f = std::fs::File::open("/dev/urandom").expect("urandom");
    std::io::Read::read_exact(&mut &f, &mut b).expect("random");
    b[0]
}

/// `backup --list --json`: the keys of the backups in the store, oldest first.
fn stored_backups(dir: &Path, env: &[(&str, &str)]) -> Vec<String> {
    let out = cli_env(dir, &["backup", "--list", "--json"], env);
    assert!(out.status.success(), "{}", stderr(&out));
    let all: Vec<serde_json::Value> = serde_json::from_str(stdout(&out).trim()).expect("json");
    all.iter()
        .map(|b| b["key"].as_str().expect("key").to_string())
        .collect()
}

/// Waits for a scheduled backup not among `seen`, and answers the store's list then.
fn next_backup(dir: &Path, env: &[(&str, &str)], seen: &[String]) -> Vec<String> {
    wait_for(120, "a new scheduled backup in the store", || {
        let now = stored_backups(dir, env);
        let new = now.iter().any(|k| !seen.contains(k));
        when(new, now.clone(), format!("{now:?}"))
    })
}

#[test]
fn scheduled_backups_are_encrypted_pruned_and_restore_latest_needs_the_right_key() {
    let tmp = Server::temp_dir();
    let old = tmp.path().join("old");
    add_user(&old, "root", PW, &["--admin"]);
    add_user(&old, "ann", PW, &["--plan", "premium"]);
    let key = key_file(tmp.path(), "backup.key");
    let secret = std::fs::read_to_string(&key).expect("key");
    let secret = secret.trim();

    // Asked for without a key, scheduled backups stop the server at start, saying why.
    let out = std::process::Command::new(BIN)
        .arg("--data-dir")
        .arg(&old)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("STREAMD_CONFIG")
        .env_remove("STREAMD_BACKUP_KEY")
        .env("STREAMD_BACKUP_EVERY", "1s")
        .output()
        .expect("serve");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("backup.key") && stderr(&out).contains("STREAMD_BACKUP_KEY"),
        "{}",
        stderr(&out)
    );

    let env = [
        ("STREAMD_BACKUP_EVERY", "1s"),
        ("STREAMD_BACKUP_KEEP", "2"),
        ("STREAMD_BACKUP_KEY", secret),
    ];
    let s = Server::start_in(&old, &env);
    let first = next_backup(&old, &[], &[]);
    // Three backups later, the first is gone and two are kept.
    let mut seen = first.clone();
    for _ in 0..3 {
        let now = next_backup(&old, &[], &seen);
        seen.extend(now);
        seen.sort();
        seen.dedup();
    }
    let kept = wait_for(60, "pruning down to keep = 2", || {
        let now = stored_backups(&old, &[]);
        when(
            now.len() <= 2 && !now.contains(&first[0]),
            now.clone(),
            format!("{now:?}"),
        )
    });
    assert!(!kept.is_empty());
    for key in &kept {
        let path = old.join("objects/media").join(key);
        let bytes = std::fs::read(&path).expect("backup object");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{key}");
        assert!(
            bytes.starts_with(b"streamd-backup-sealed-v1\n"),
            "{key} is sealed"
        );
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("argon2") && !text.contains("\"users\""),
            "no password hash or table in clear in {key}"
        );
    }
    // A user added now is in the next backup, which `restore latest` then picks.
    add_user(&old, "late", PW, &[]);
    let listed = stored_backups(&old, &[]);
    next_backup(&old, &[], &listed);
    drop(s);

    // A new machine: the objects folder (rsync) and the key, nothing else.
    let new = tmp.path().join("new");
    copy_tree(&old.join("objects"), &new.join("objects"));
    let out = cli(&new, &["restore", "latest"], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("encrypted"), "{}", stderr(&out));
    let wrong = key_file(tmp.path(), "wrong.key");
    let out = cli(
        &new,
        &["restore", "latest", "--key", wrong.to_str().expect("utf8")],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("wrong key"), "{}", stderr(&out));
    assert!(!new.join("streamd.redb").exists(), "nothing was written");
    let out = cli(
        &new,
        &[
            "restore",
            "latest",
            "--key",
            key.to_str().expect("utf8"),
            "--json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let users = stdout(&cli(&new, &["user", "list", "--json"], None));
    assert!(
        users.contains("\"late\"") && users.contains("\"ann\""),
        "{users}"
    );
    let s = Server::start_in(&new, &[]);
    assert_eq!(s.client().login("ann", PW).status, 200);

    // A file backup with --key is sealed the same way and opens with STREAMD_BACKUP_KEY.
    let file = tmp.path().join("sealed.backup");
    let out = cli(
        &new,
        &[
            "backup",
            file.to_str().expect("utf8"),
            "--key",
            key.to_str().expect("utf8"),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    drop(s);
    assert!(
        std::fs::read(&file)
            .expect("file")
            .starts_with(b"streamd-backup-sealed")
    );
    let third = tmp.path().join("third");
    let out = cli_env(
        &third,
        &["restore", file.to_str().expect("utf8")],
        &[("STREAMD_BACKUP_KEY", secret)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

fn ingest_small(dir: &Path, env: &[(&str, &str)], title: &str) -> String {
    let src = make_source(
        dir.parent().expect("parent"),
        &format!("{title}.mp4"),
        "testsrc=size=320x240:rate=25",
        3,
        true,
        &[],
    );
    let mut env = env.to_vec();
    env.push(("STREAMD_TRANSCODE_RENDITIONS", "[\"480p\"]"));
    env.push(("STREAMD_TRANSCODE_SEGMENT_SECONDS", "1"));
    common::ingest_cli(dir, &src, title, "premium", &env)
}

/// Every object under a folder with its size, to show that `check` changed nothing.
fn tree(dir: &Path) -> Vec<(String, u64)> {
    let mut out: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let len = e.metadata().expect("meta").len();
            (e.path().display().to_string(), len)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn check_names_a_deleted_and_a_truncated_object_and_changes_nothing() {
    let tmp = Server::temp_dir();
    let dir = tmp.path().join("data");
    add_user(&dir, "root", PW, &["--admin"]);
    let id = ingest_small(&dir, &[], "Checked");
    let subtitle = tmp.path().join("fr.srt");
    std::fs::write(&subtitle, "1\n00:00:00,500 --> 00:00:02,000\nBonjour\n").expect("srt");
    let out = cli(
        &dir,
        &[
            "subtitle",
            "add",
            &id,
            subtitle.to_str().expect("utf8"),
            "--lang",
            "fr",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let out = cli(&dir, &["check", "--json"], None);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    assert_eq!(report["movies"], 1, "{report}");
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    let movie_dir = dir.join("objects/media/movies").join(&id);

    // A movie published before streamd recorded objects: check says so and passes; the next
    // `serve` records it.
    {
        let store = streamd::store::Store::open(&dir).expect("store");
        let movie_id = streamd::store::MovieId::parse(&id).expect("id");
        let mut movie = store.movie(&movie_id).expect("read").expect("movie");
        movie.inventory = None;
        store.put_movie(&movie).expect("write");
    }
    let out = cli(&dir, &["check", "--json"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    assert_eq!(report["unrecorded"], serde_json::json!([id]), "{report}");
    let mut s = Server::start_in(&dir, &[]);
    wait_for(60, "serve to record the movie's objects", || {
        let out = cli(&dir, &["check", "--json"], None);
        let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
        when(report["movies"] == 1, (), report)
    });
    s.stop();

    let vtt_recorded = std::fs::read_to_string(movie_dir.join("inventory.json"))
        .expect("inventory")
        .contains(".vtt");
    assert!(vtt_recorded, "the subtitle added later is in the inventory");

    let segments: Vec<_> = tree(&movie_dir)
        .into_iter()
        .filter(|(p, _)| p.ends_with(".m4s"))
        .collect();
    assert!(segments.len() >= 2, "{segments:?}");
    let (deleted, truncated) = (&segments[0].0, &segments[1].0);
    std::fs::remove_file(deleted).expect("delete");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(truncated)
        .expect("open");
    f.set_len(segments[1].1 / 2).expect("truncate");
    drop(f);
    let name = |p: &str| {
        p.strip_prefix(&format!("{}/", movie_dir.display()))
            .expect("inside")
            .to_string()
    };
    let before = tree(&dir.join("objects"));
    let movies_before = stdout(&cli(&dir, &["movies", "--json"], None));

    let names_both = |through: &str| {
        let out = cli(&dir, &["check"], None);
        assert!(!out.status.success(), "{through}: damage found");
        let text = stdout(&out);
        assert!(
            text.contains(&format!("{} missing", name(deleted))),
            "{through}: {text}"
        );
        assert!(
            text.contains(&format!("{} truncated", name(truncated))),
            "{through}: {text}"
        );
        assert!(stderr(&out).contains("2 problem(s)"), "{}", stderr(&out));
    };
    let mut s = Server::start_in(&dir, &[]);
    names_both("through the server");
    s.stop();
    names_both("on the data dir");
    let out = cli(&dir, &["check", "--json"], None);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    let problems: Vec<(String, String)> = report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            (
                p["object"].as_str().unwrap_or("").into(),
                p["problem"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(problems.len(), 2, "{report}");
    assert!(
        problems.contains(&(name(deleted), "missing".into())),
        "{report}"
    );
    assert!(
        problems.contains(&(name(truncated), "truncated".into())),
        "{report}"
    );
    assert_eq!(
        tree(&dir.join("objects")),
        before,
        "check changed no object"
    );
    assert_eq!(
        stdout(&cli(&dir, &["movies", "--json"], None)),
        movies_before
    );
}

/// The first segment a viewer's playlist names, fetched as a player would.
fn first_segment(client: &mut common::Client, id: &str) -> usize {
    let master = client.get(&format!("/stream/{id}"));
    assert_eq!(master.status, 200, "{}", master.body);
    let variant = (master.body.lines())
        .find(|l| l.starts_with("/stream/") && l.contains(".m3u8"))
        .expect("a variant")
        .to_string();
    let playlist = client.get(&variant);
    assert_eq!(playlist.status, 200, "{}", playlist.body);
    let segment = (playlist.body.lines())
        .find(|l| l.starts_with("http") && l.contains(".m4s"))
        .expect("a segment URL");
    let mut got = ureq::get(segment).call().expect("the segment");
    got.body_mut().read_to_vec().expect("body").len()
}

/// With the S3 backend, a new machine that has only the config (and the key) is the whole
/// service again after `restore latest`: users, grants and the movie, which plays from S3.
#[test]
fn on_s3_a_new_machine_with_only_the_config_restores_latest_and_plays() {
    let Some(s3s) = peer("s3s-fs") else { return };
    let tmp = Server::temp_dir();
    let (ak, sk) = ("STREAMDTESTKEY", "streamd-test-secret-key");
    let (_s3, endpoint) = start_s3s(&s3s, &tmp.path().join("s3root"), ak, sk);
    let secret = "0123456789abcdef0123456789abcdef-backup-secret";
    let env = [
        ("STREAMD_STORAGE_BACKEND", "s3"),
        ("STREAMD_STORAGE_ENDPOINT", endpoint.as_str()),
        ("STREAMD_STORAGE_ACCESS_KEY", ak),
        ("STREAMD_STORAGE_SECRET_KEY", sk),
        ("STREAMD_BACKUP_KEY", secret),
    ];
    let old = tmp.path().join("old");
    add_user(&old, "root", PW, &["--admin"]);
    add_user(&old, "ann", PW, &[]);
    let id = ingest_small(&old, &env, "Offsite");
    let out = cli_env(&old, &["grant", "ann", &id], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli_env(&old, &["check"], &env);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    let mut serving = env.to_vec();
    serving.push(("STREAMD_BACKUP_EVERY", "24h"));
    let mut s = Server::start_in(&old, &serving);
    // None in the bucket yet: the first is taken at start.
    next_backup(&old, &env, &[]);
    s.stop();

    // The old machine is gone. The new one has the config (here: the environment) only.
    let new = tmp.path().join("new");
    let started = std::time::Instant::now();
    let out = cli_env(&new, &["restore", "latest", "--json"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = Server::start_in(&new, &serving);
    let mut ann = s.client();
    assert_eq!(ann.login("ann", PW).status, 200);
    let bytes = first_segment(&mut ann, &id);
    assert!(bytes > 0);
    eprintln!(
        "recovery (S3, s3s-fs): restore latest + start + sign-in + first segment: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let out = cli_env(&new, &["check", "--json"], &env);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

/// A server killed (SIGKILL) while it writes a backup leaves nothing under the backup's name
/// but a whole backup, and starts again clean. The library is large enough (3,000 movies) for
/// the backup to take a while; each round waits for the half-written `FILE.tmp` to appear.
#[test]
fn a_server_killed_during_a_backup_leaves_no_partial_file_and_restarts_clean() {
    let tmp = Server::temp_dir();
    let dir = tmp.path().join("data");
    add_user(&dir, "root", PW, &["--admin"]);
    {
        let store = streamd::store::Store::open(&dir).expect("store");
        let mut movies = Vec::new();
        for n in 0..3000 {
            let mut movie = streamd::store::Movie::new(
                streamd::store::MovieId::generate(),
                format!("Seeded film {n} with a title of a usual length"),
                streamd::store::Tier::Free,
                streamd::store::Timestamp(1_700_000_000 + n),
            );
            movie.description = Some("A few lines about the film, ".repeat(8));
            movies.push(movie);
        }
        store.put_movies(&movies).expect("seed");
    }
    let file = tmp.path().join("killed.backup");
    let tmp_file = tmp.path().join("killed.backup.tmp");
    let mut caught = 0;
    for round in 0..3 {
        // A round's own half-written file, not the one a kill before left.
        let _ = std::fs::remove_file(&tmp_file);
        let mut s = Server::start_in(&dir, &[]);
        let mut backup = std::process::Command::new(BIN)
            .arg("--data-dir")
            .arg(&dir)
            .args(["backup", file.to_str().expect("utf8")])
            .env_remove("STREAMD_CONFIG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("backup");
        // Poll for the half-written file: the state this test is about.
        let seen = loop {
            if tmp_file.exists() {
                break true;
            }
            if backup.try_wait().expect("wait").is_some() {
                break false;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        };
        s.kill_hard();
        let _ = backup.wait();
        if seen {
            caught += 1;
        }
        if file.exists() {
            // The rename happened before the kill: then it is a whole backup.
            let check = tmp.path().join(format!("check{round}"));
            let out = cli(&check, &["restore", file.to_str().expect("utf8")], None);
            assert!(out.status.success(), "round {round}: {}", stderr(&out));
            std::fs::remove_file(&file).expect("remove");
        }
        let s = Server::start_in(&dir, &[]);
        assert_eq!(s.client().login("root", PW).status, 200, "round {round}");
        drop(s);
    }
    // A backup after the kills: whole, and the leftover .tmp is gone.
    let summary = backup_json(&dir, &file);
    assert_eq!(summary["movies"], 3000);
    assert!(!tmp_file.exists());
    eprintln!("killed mid-write in {caught} of 3 rounds");
    assert!(
        caught > 0,
        "no round caught the backup half-written: the test tested nothing"
    );
}
