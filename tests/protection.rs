//! Keys per viewer (contract section 10): with `protection.encrypt = "premium"`, a premium
//! movie's media segments are AES-128 encrypted when published, its media playlists carry an
//! `EXT-X-KEY` after the map and at each new key, and each key is handed out per viewer and
//! checked at every fetch. Segment URLs stay the same for everyone.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Command;

use common::{Client, Server, add_user, cli, ingest_cli, make_source, stderr};

const PW: &str = "correct horse battery";
/// 1-second segments, 2 seconds a key: a 7-second film has 4 keys.
const ENV: &[(&str, &str)] = &[
    ("STREAMD_PROTECTION_ENCRYPT", "premium"),
    ("STREAMD_PROTECTION_KEY_PERIOD", "2s"),
    ("STREAMD_TRANSCODE_SEGMENT_SECONDS", "1"),
    ("STREAMD_TRANSCODE_RENDITIONS", "[\"480p\", \"720p\"]"),
];

fn fetch(url: &str) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = agent.get(url).call().expect("request");
    let mut body = Vec::new();
    let _ = res.body_mut().as_reader().read_to_end(&mut body);
    (res.status().as_u16(), body)
}

/// A viewer's media playlist of the movie's first rendition.
fn variant(client: &mut Client, id: &str) -> String {
    let master = client.get(&format!("/stream/{id}"));
    assert_eq!(master.status, 200, "{}", master.body);
    let uri = (master.body.lines())
        .find(|l| l.starts_with("/stream/") && l.contains("480p.m3u8"))
        .expect("the 480p row")
        .to_string();
    let playlist = client.get(&uri);
    assert_eq!(playlist.status, 200, "{}", playlist.body);
    playlist.body
}

/// (key URL, IV hex) of every `EXT-X-KEY`, in order.
fn key_tags(playlist: &str) -> Vec<(String, String)> {
    (playlist.lines())
        .filter_map(|l| l.strip_prefix("#EXT-X-KEY:METHOD=AES-128,URI=\""))
        .map(|rest| {
            let (uri, iv) = rest.split_once("\",IV=0x").expect("URI then IV");
            (uri.to_string(), iv.to_string())
        })
        .collect()
}

fn segment_urls(playlist: &str) -> Vec<String> {
    (playlist.lines())
        .filter(|l| l.starts_with("http") && l.contains(".m4s"))
        .map(str::to_string)
        .collect()
}

/// The box type of an MP4 file's first box.
fn first_box(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes.get(4..8).unwrap_or_default()).into_owned()
}

fn openssl_decrypt(data: &[u8], key: &[u8], iv: &str, dir: &Path) -> Vec<u8> {
    let input = dir.join("segment.enc");
    std::fs::write(&input, data).expect("write");
    let out = Command::new("openssl")
        .args([
            "enc",
            "-d",
            "-aes-128-cbc",
            "-K",
            &hex(key),
            "-iv",
            iv,
            "-in",
        ])
        .arg(&input)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Frames ffmpeg decodes from a URL, as a player with no cookie would (the playback link).
fn ffmpeg_frames(url: &str) -> u64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i", url, "-map", "0:v:0"])
        .args(["-f", "null", "-progress", "pipe:1", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    (text.lines())
        .filter_map(|l| l.strip_prefix("frame="))
        .filter_map(|n| n.trim().parse().ok())
        .next_back()
        .expect("ffmpeg reported frames")
}

#[test]
fn encrypted_segments_decode_with_keys_handed_out_per_viewer_and_checked_at_every_fetch() {
    let tmp = Server::temp_dir();
    let d = tmp.path();
    add_user(d, "root", PW, &["--admin"]);
    add_user(d, "ann", PW, &["--plan", "premium"]);
    add_user(d, "bob", PW, &["--plan", "premium"]);
    let src = make_source(
        d,
        "film.mp4",
        "testsrc2=size=1280x720:rate=25",
        7,
        true,
        &[],
    );
    let premium = ingest_cli(d, &src, "Locked", "premium", ENV);
    let free = ingest_cli(d, &src, "Open", "free", ENV);

    let mut env = ENV.to_vec();
    env.push(("STREAMD_LOG", "debug"));
    let mut s = Server::start_in(d, &env);
    let mut ann = s.client();
    assert_eq!(ann.login("ann", PW).status, 200);
    let mut bob = s.client();
    assert_eq!(bob.login("bob", PW).status, 200);

    let text = variant(&mut ann, &premium);
    let map_at = text.find("#EXT-X-MAP").expect("a map");
    let key_at = text.find("#EXT-X-KEY").expect("a key tag");
    assert!(map_at < key_at, "the key comes after the map:\n{text}");
    let keys = key_tags(&text);
    let segments = segment_urls(&text);
    assert!(segments.len() >= 6, "{text}");
    assert_eq!(
        keys.len(),
        segments.len().div_ceil(2),
        "a key every 2 segments:\n{text}"
    );
    let base = format!("{}/stream/{premium}/keys/", s.url(""));
    for (n, (uri, iv)) in keys.iter().enumerate() {
        assert!(uri.starts_with(&format!("{base}{n}?token=")), "{uri}");
        assert_eq!(iv.len(), 32, "{iv}");
    }

    // The init is clear; every segment is not, and decrypts with its key and IV.
    let init_url = text[map_at..]
        .split('"')
        .nth(1)
        .expect("map URI")
        .to_string();
    let (status, init) = fetch(&init_url);
    assert_eq!((status, first_box(&init).as_str()), (200, "ftyp"));
    let mut fetched_keys = Vec::new();
    for (uri, _) in &keys {
        let (status, key) = fetch(uri);
        assert_eq!(status, 200);
        assert_eq!(key.len(), 16);
        fetched_keys.push(key);
    }
    for (i, url) in segments.iter().enumerate() {
        let (status, data) = fetch(url);
        assert_eq!(status, 200);
        assert_eq!(data.len() % 16, 0, "segment {i} is whole AES blocks");
        assert!(
            !["styp", "moof"].contains(&first_box(&data).as_str()),
            "segment {i} is not clear"
        );
        let plain = openssl_decrypt(&data, &fetched_keys[i / 2], &keys[i / 2].1, d);
        assert!(
            ["styp", "moof"].contains(&first_box(&plain).as_str()),
            "segment {i} decrypts to fMP4"
        );
    }
    let (status, headers) = {
        let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
        let res = agent.get(&keys[0].0).call().expect("key");
        let h = res.headers().clone();
        (res.status().as_u16(), h)
    };
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/octet-stream")
    );

    // The whole film decodes through the cookie-less playback link.
    let link = ann
        .get(&format!("/api/v1/movies/{premium}/playback"))
        .json();
    let frames = ffmpeg_frames(link["master_url"].as_str().expect("master_url"));
    assert!(
        frames >= 7 * 25 - 5,
        "ffmpeg decoded {frames} frames of 175"
    );

    // Two viewers: the same segment URLs, their own key URLs.
    let bobs = variant(&mut bob, &premium);
    assert_eq!(
        segment_urls(&bobs),
        segments,
        "segments stay shared (and cacheable)"
    );
    let bob_keys = key_tags(&bobs);
    assert_ne!(bob_keys[0].0, keys[0].0);
    assert_eq!(
        bob_keys[0].1, keys[0].1,
        "the same key and IV, another viewer's URL"
    );

    // Bad requests.
    let tampered = keys[0].0.replacen("token=", "token=x", 1);
    assert_eq!(fetch(&tampered).0, 403);
    let beyond = format!("{base}999?{}", keys[0].0.split_once('?').expect("query").1);
    assert_eq!(fetch(&beyond).0, 404);
    assert_eq!(
        ann.get(&format!("/stream/{premium}/keys/0")).status,
        200,
        "or by session"
    );
    assert_eq!(
        ann.get(&format!("/stream/{free}/keys/0")).status,
        404,
        "a clear movie has none"
    );
    let open = variant(&mut ann, &free);
    assert!(!open.contains("#EXT-X-KEY"), "{open}");
    let (_, clear) = fetch(&segment_urls(&open)[0]);
    assert!(["styp", "moof"].contains(&first_box(&clear).as_str()));

    // Revoked: the next key is refused at once, while the shared segment URL still answers.
    let out = cli(d, &["user", "plan", "ann", "free"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        fetch(&keys[1].0).0,
        403,
        "a revoked plan stops decryption at the next key"
    );
    assert_eq!(fetch(&segments[2]).0, 200);
    assert_eq!(fetch(&bob_keys[1].0).0, 200, "bob still may");

    // Keys are nowhere in the store, nor in the debug log.
    let (_, log) = s.stop_with_stderr();
    for key in &fetched_keys {
        assert!(!log.contains(&hex(key)), "a key in the log");
    }
    for entry in walkdir::WalkDir::new(d.join("objects"))
        .into_iter()
        .flatten()
    {
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).expect("object");
            for key in &fetched_keys {
                assert!(
                    !bytes.windows(16).any(|w| w == key.as_slice())
                        && !String::from_utf8_lossy(&bytes).contains(&hex(key)),
                    "a key in {}",
                    entry.path().display()
                );
            }
        }
    }
}

/// Segments published for a rendition so far, from its playlist in the store.
fn published(d: &Path, id: &str, rendition: &str) -> usize {
    let playlist = d
        .join("objects/media/movies")
        .join(id)
        .join(rendition)
        .join("index.m3u8");
    std::fs::read_to_string(playlist).map_or(0, |t| t.matches("#EXTINF").count())
}

/// Watch while it transcodes, encrypted: the growing playlists carry the keys, and a server
/// killed mid-encode resumes with the same keys (the last published segment is decrypted to
/// find where the timeline goes on), so the whole film decodes in the end.
#[test]
fn an_encrypted_ingest_killed_midway_resumes_with_its_keys_and_decodes_whole() {
    let tmp = Server::temp_dir();
    let d = tmp.path();
    add_user(d, "root", PW, &["--admin"]);
    add_user(d, "ann", PW, &["--plan", "premium"]);
    let src = make_source(
        d,
        "long.mp4",
        "testsrc2=size=1280x720:rate=25",
        30,
        true,
        &[],
    );
    let mut env = ENV.to_vec();
    env.push(("STREAMD_PROTECTION_ENCRYPT", "all"));
    env.push(("STREAMD_TRANSCODE_PRESET", "fast"));
    let mut s = Server::start_in(d, &env);
    let out = common::cli_env(
        d,
        &[
            "ingest",
            src.to_str().expect("utf8"),
            "--title",
            "Long",
            "--no-wait",
            "--json",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id = serde_json::from_str::<serde_json::Value>(common::stdout(&out).trim()).expect("json")
        ["id"]
        .as_str()
        .expect("id")
        .to_string();
    let work = common::Work::of(&src);
    common::wait_for(
        work.encode_secs(3.0, "fast"),
        "3 segments of every rung",
        || {
            let counts = [published(d, &id, "480p"), published(d, &id, "720p")];
            common::when(counts.iter().all(|n| *n >= 3), (), format!("{counts:?}"))
        },
    );
    // Mid-encode, a viewer already gets keys in the growing playlist.
    let mut ann = s.client();
    assert_eq!(ann.login("ann", PW).status, 200);
    let growing = variant(&mut ann, &id);
    assert!(
        growing.contains("#EXT-X-KEY") && !growing.contains("#EXT-X-ENDLIST"),
        "{growing}"
    );
    s.kill_hard();
    let before = published(d, &id, "480p");
    assert!(
        before < 30,
        "killed before the end ({before} of 30 segments)"
    );

    let s = Server::start_in(d, &env);
    let mut ann = s.client();
    assert_eq!(ann.login("ann", PW).status, 200);
    let m = common::wait_for(work.whole("fast"), "the resumed job to finish", || {
        let m = ann.get(&format!("/api/v1/movies/{id}")).json();
        let done = m["status"] == "ready" || m["status"] == "failed";
        common::when(done, m.clone(), m)
    });
    assert_eq!(m["status"], "ready", "{m}");
    let notes = m["notes"].to_string();
    assert!(notes.contains("resumed after an interruption"), "{m}");
    let link = ann.get(&format!("/api/v1/movies/{id}/playback")).json();
    let frames = ffmpeg_frames(link["master_url"].as_str().expect("master_url"));
    assert!(
        frames >= 30 * 25 - 10,
        "ffmpeg decoded {frames} frames of 750"
    );
}

/// The files of one rendition in the built-in store.
fn rendition_files(d: &Path, id: &str, rendition: &str) -> Vec<String> {
    let dir = d.join("objects/media/movies").join(id).join(rendition);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `streamd encrypt` on movies published clear: killed with SIGKILL as soon as it has written
/// its first encrypted object, the movie still plays clear; run again (`--all`, through the
/// running server) it finishes: new object names, keys in the playlists, no clear segment left
/// in the store, `streamd check` content, the film decodes whole; a third run has nothing to do.
#[test]
fn encrypt_turns_clear_movies_encrypted_and_a_kill_midway_leaves_them_playable() {
    let tmp = Server::temp_dir();
    let d = tmp.path();
    add_user(d, "root", PW, &["--admin"]);
    add_user(d, "ann", PW, &["--plan", "premium"]);
    let src = make_source(
        d,
        "clear.mp4",
        "testsrc2=size=1280x720:rate=25",
        12,
        true,
        &[],
    );
    let clear_env: Vec<_> = ENV[1..].to_vec(); // encryption off
    let id = ingest_cli(d, &src, "Clear", "premium", &clear_env);
    let other = ingest_cli(d, &src, "Clear too", "free", &clear_env);
    assert!(
        rendition_files(d, &id, "480p")
            .iter()
            .any(|f| f.starts_with("seg_"))
    );

    // Killed as soon as the first encrypted copy is in the store.
    let mut run = Command::new(common::BIN)
        .arg("--data-dir")
        .arg(d)
        .args(["encrypt", &id])
        .env_remove("STREAMD_CONFIG")
        .env("STREAMD_PROTECTION_KEY_PERIOD", "2s")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("streamd encrypt");
    let mut seen = Vec::new();
    let killed_midway = loop {
        if let Some(status) = run.try_wait().expect("wait") {
            assert!(status.success(), "encrypt failed before the kill");
            break false;
        }
        seen = rendition_files(d, &id, "480p");
        if seen.iter().any(|f| f.starts_with("enc_")) {
            run.kill().expect("kill -9");
            let _ = run.wait();
            break true;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    eprintln!("killed midway: {killed_midway}; 480p held {seen:?}");

    let s = Server::start_in(d, &ENV[1..]);
    let mut ann = s.client();
    assert_eq!(ann.login("ann", PW).status, 200);
    let text = variant(&mut ann, &id);
    let playlist_keys = text.contains("#EXT-X-KEY");
    let link = ann.get(&format!("/api/v1/movies/{id}/playback")).json();
    let master = link["master_url"].as_str().expect("master_url").to_string();
    let frames = ffmpeg_frames(&master);
    assert!(
        frames >= 12 * 25 - 5,
        "after the kill: {frames} frames of 300"
    );
    if killed_midway && !playlist_keys {
        assert!(
            (segment_urls(&text).iter()).all(|u| u.contains("/seg_")),
            "before the switch every segment is a clear one:\n{text}"
        );
    }

    // Again, through the running server, for every movie.
    let out = cli(d, &["encrypt", "--all", "--json"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let done: serde_json::Value = serde_json::from_str(common::stdout(&out).trim()).expect("json");
    let ids: Vec<&str> = (done.as_array().expect("a list").iter())
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert!(ids.contains(&other.as_str()), "{done}");
    assert!(
        killed_midway && playlist_keys || ids.contains(&id.as_str()),
        "{done}"
    );

    for movie in [&id, &other] {
        let text = variant(&mut ann, movie);
        assert!(text.contains("#EXT-X-KEY"), "{text}");
        let segments = segment_urls(&text);
        assert!(segments.iter().all(|u| u.contains("/enc_seg_")), "{text}");
        let (status, data) = fetch(&segments[0]);
        assert_eq!(status, 200);
        assert!(!["styp", "moof"].contains(&first_box(&data).as_str()));
        for rendition in ["480p", "720p", "audio_1"] {
            let files = rendition_files(d, movie, rendition);
            assert!(
                files
                    .iter()
                    .all(|f| !f.starts_with("seg_") && f != "index.m3u8"),
                "clear objects left in {rendition}: {files:?}"
            );
        }
    }
    let frames = ffmpeg_frames(&master);
    assert!(frames >= 12 * 25 - 5, "encrypted: {frames} frames of 300");
    let check = cli(d, &["check"], None);
    assert!(
        check.status.success(),
        "{}{}",
        common::stdout(&check),
        stderr(&check)
    );

    let again = cli(d, &["encrypt", &id], None);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        common::stdout(&again).contains("already encrypted"),
        "{}",
        common::stdout(&again)
    );
    assert!(ann.get(&format!("/stream/{id}/keys/0")).status == 200);
}

/// The first master playlist of a client: (status, the playback id its rendition URLs carry,
/// the body).
fn start(client: &mut Client, id: &str) -> (u16, Option<String>, String) {
    let master = client.get(&format!("/stream/{id}"));
    let play = (master.body.lines())
        .find_map(|l| l.split_once("&play=").map(|(_, p)| p.to_string()))
        .map(|p| p.chars().take_while(char::is_ascii_hexdigit).collect());
    (master.status, play, master.body)
}

/// Screens per plan: a second browser past a one-screen plan gets 409 `too_many_screens` with
/// the session in use; stopping it lets the second start, and the stopped one's next key and
/// position are refused with `playback_stopped`. An idle session stops counting; a user's own
/// number of screens and an admin's (unlimited) win over the plan's. The account API lists
/// sign-in sessions and playbacks, ends one, and signs out everywhere.
#[test]
fn screens_limit_playbacks_which_viewers_can_see_and_stop() {
    let tmp = Server::temp_dir();
    let d = tmp.path();
    add_user(d, "root", PW, &["--admin"]);
    add_user(d, "ann", PW, &["--plan", "premium"]);
    let src = make_source(
        d,
        "film.mp4",
        "testsrc2=size=1280x720:rate=25",
        4,
        true,
        &[],
    );
    let id = ingest_cli(d, &src, "Locked", "premium", ENV);
    let mut env = ENV.to_vec();
    env.push(("STREAMD_PLANS_PREMIUM_SCREENS", "1"));
    env.push(("STREAMD_PROTECTION_SESSION_IDLE", "3s"));
    env.push(("STREAMD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE", "100"));
    let s = Server::start_in(d, &env);
    let mut a = s.client();
    assert_eq!(a.login("ann", PW).status, 200);
    let mut b = s.client();
    assert_eq!(b.login("ann", PW).status, 200);

    let (status, play_a, body) = start(&mut a, &id);
    assert_eq!(status, 200, "{body}");
    let play_a = play_a.expect("rendition URLs name the playback");
    let (status, again, _) = start(&mut a, &id);
    assert_eq!(
        (status, again.as_deref()),
        (200, Some(play_a.as_str())),
        "a reload reuses it"
    );
    let keys_a = key_tags(&variant(&mut a, &id));
    assert_eq!(fetch(&keys_a[0].0).0, 200);

    // The second browser: refused, with the session in use.
    let refused = b.get(&format!("/stream/{id}"));
    assert_eq!(refused.status, 409, "{}", refused.body);
    let error = &refused.json()["error"];
    assert_eq!(error["code"], "too_many_screens");
    let in_use = error["sessions"].as_array().expect("sessions");
    assert_eq!(in_use.len(), 1, "{error}");
    for field in ["id", "device", "movie", "started_at", "last_seen"] {
        assert!(in_use[0][field].is_string(), "{field} in {error}");
    }
    assert_eq!(in_use[0]["id"], play_a.as_str());
    assert_eq!(in_use[0]["movie"], id.as_str());

    // Stop it from the second browser; the second plays, the first is told at its next key.
    assert_eq!(b.delete(&format!("/api/v1/playback/{play_a}")).status, 204);
    let (status, play_b, _) = start(&mut b, &id);
    assert_eq!(status, 200);
    assert_ne!(play_b.as_deref(), Some(play_a.as_str()));
    let (status, body) = fetch(&keys_a[1].0);
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("playback_stopped"));
    let saved = a.post_json(
        &format!("/api/v1/movies/{id}/position"),
        &serde_json::json!({"seconds": 2.0}),
    );
    assert_eq!(saved.status, 403, "{}", saved.body);
    assert_eq!(saved.json()["error"]["code"], "playback_stopped");
    assert_eq!(
        b.delete(&format!("/api/v1/playback/{play_a}")).status,
        404,
        "stopped already"
    );

    // The external player's link is a screen too.
    let link = a.get(&format!("/api/v1/movies/{id}/playback")).json();
    let (status, _) = fetch(link["master_url"].as_str().expect("master_url"));
    assert_eq!(status, 409, "one screen, taken by the second browser");

    // Idle: once the second browser shows no sign of life, its screen is free.
    common::wait_for(30, "the idle playback to stop counting", || {
        let live = b.get("/api/v1/account/sessions").json();
        let n = live["playbacks"].as_array().map_or(0, Vec::len);
        common::when(n == 0, (), live)
    });
    let (status, _, _) = start(&mut a, &id);
    assert_eq!(
        status, 200,
        "an idle session never blocks a viewer for good"
    );

    // Ann's own number, and an admin's, win over the plan's.
    let out = cli(
        d,
        &["user", "plan", "ann", "premium", "--screens", "2"],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(start(&mut b, &id).0, 200, "two screens now");
    let mut c = s.client();
    assert_eq!(c.login("ann", PW).status, 200);
    assert_eq!(start(&mut c, &id).0, 409);
    let mut roots: Vec<Client> = (0..3).map(|_| s.client()).collect();
    for r in &mut roots {
        assert_eq!(r.login("root", PW).status, 200);
        assert_eq!(start(r, &id).0, 200, "admins are never limited");
    }

    // The account: sign-in sessions (this one marked) and playbacks, each endable.
    let mine = c.get("/api/v1/account/sessions").json();
    let sessions = mine["sessions"].as_array().expect("sessions").clone();
    assert_eq!(sessions.len(), 3, "{mine}");
    assert_eq!(
        sessions.iter().filter(|s| s["current"] == true).count(),
        1,
        "{mine}"
    );
    for s in &sessions {
        for field in ["id", "device", "address", "last_seen"] {
            assert!(s[field].is_string(), "{field} in {s}");
        }
    }
    assert_eq!(
        mine["playbacks"].as_array().map(Vec::len),
        Some(2),
        "{mine}"
    );
    let page = c.get("/account");
    assert_eq!(page.status, 200);
    for text in [
        "this browser",
        "Sign out everywhere",
        "data-stop-playback",
        "Locked",
    ] {
        assert!(
            page.body.contains(text),
            "{text} on /account:\n{}",
            page.body
        );
    }
    let admin = roots[0].get("/admin");
    assert!(
        admin.body.contains("Sessions of every user") && admin.body.contains(">ann<"),
        "{}",
        admin.body
    );
    let other = sessions
        .iter()
        .find(|s| s["current"] == false)
        .expect("another session");
    let path = format!(
        "/api/v1/account/sessions/{}",
        other["id"].as_str().expect("id")
    );
    assert_eq!(c.delete(&path).status, 204);
    let left = c.get("/api/v1/account/sessions").json();
    assert_eq!(left["sessions"].as_array().map(Vec::len), Some(2), "{left}");
    assert_eq!(
        c.post_json("/api/v1/account/logout-everywhere", &serde_json::json!({}))
            .status,
        204
    );
    for client in [&mut a, &mut b, &mut c] {
        assert_eq!(client.get("/api/v1/account/sessions").status, 401);
    }
    assert_eq!(roots[0].get("/api/v1/account/sessions").status, 200);
}
