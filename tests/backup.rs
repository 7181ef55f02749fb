//! `streamd backup` and `streamd restore`: a backup taken while `serve` runs and writes holds
//! every write acknowledged before it; restored into an empty data dir (with the objects
//! folder copied beside it), every user signs in with the same password and finds the same
//! plan, grants, positions and preferences, and the movie plays. Bad files change nothing.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::{Server, add_user, cli, cli_env, make_source, stderr, stdout};

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
