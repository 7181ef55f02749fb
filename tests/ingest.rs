//! Ingest end to end with the real ffmpeg: sources generated here with lavfi, laddered by the
//! real binary, and the published tree checked the way a player would depend on it.

mod common;

use std::path::{Path, PathBuf};

use common::{
    Server, Work, add_user, cli_env, ffmpeg_processes, ffprobe, make_source, stderr, stdout,
    wait_for, when,
};

const FAST: &[(&str, &str)] = &[("STREAMD_TRANSCODE_PRESET", "ultrafast")];
const PW: &str = "correct horse battery";

fn ingest(dir: &Path, source: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "ingest",
        source.to_str().expect("utf8"),
        "--title",
        "Test movie",
        "--json",
    ];
    args.extend_from_slice(extra);
    cli_env(dir, &args, FAST)
}

fn ready_id(out: &std::process::Output) -> String {
    assert!(out.status.success(), "ingest failed: {}", stderr(out));
    let v: serde_json::Value = serde_json::from_str(stdout(out).trim()).expect("one JSON value");
    assert_eq!(v["status"], "ready");
    v["id"].as_str().expect("id").to_string()
}

fn movie_dir(dir: &Path, id: &str) -> PathBuf {
    dir.join("objects/media/movies").join(id)
}

/// (rendition, BANDWIDTH, AVERAGE-BANDWIDTH, RESOLUTION, CODECS, FRAME-RATE) per master row.
fn master_rows(dir: &Path) -> Vec<(String, u64, u64, String, String, f64)> {
    let text = std::fs::read_to_string(dir.join("master.m3u8")).expect("master");
    let mut rows = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(attrs) = line.strip_prefix("#EXT-X-STREAM-INF:") else {
            continue;
        };
        let uri = lines.next().expect("uri after STREAM-INF");
        let get = |k: &str| -> String {
            // Attributes may hold quoted commas (CODECS), so split on `,KEY=` boundaries.
            let start = attrs
                .find(&format!("{k}="))
                .unwrap_or_else(|| panic!("{k} missing: {line}"));
            let rest = &attrs[start + k.len() + 1..];
            if let Some(q) = rest.strip_prefix('"') {
                q.split('"').next().unwrap_or("").to_string()
            } else {
                rest.split(',').next().unwrap_or("").to_string()
            }
        };
        let name = uri.split('/').next().expect("rendition dir").to_string();
        assert_eq!(uri, format!("{name}/index.m3u8"), "relative URIs");
        rows.push((
            name,
            get("BANDWIDTH").parse().expect("bw"),
            get("AVERAGE-BANDWIDTH").parse().expect("avg"),
            get("RESOLUTION"),
            get("CODECS"),
            get("FRAME-RATE").parse().expect("fps"),
        ));
    }
    assert!(text.contains("#EXT-X-INDEPENDENT-SEGMENTS"));
    rows
}

/// Segment durations of one rung's playlist, checking its form on the way.
fn segments(rung_dir: &Path) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(rung_dir.join("index.m3u8")).expect("variant");
    assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD") && text.contains("#EXT-X-ENDLIST"));
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            let d: f64 = d.trim_end_matches(',').parse().expect("duration");
            out.push((lines.next().expect("uri").to_string(), d));
        }
    }
    out
}

/// An fMP4 segment with its rendition's init segment in front: what a player decodes.
fn playable(rung: &Path, uri: &str) -> PathBuf {
    let joined = rung.join(format!("probe-{uri}.mp4"));
    let mut bytes = std::fs::read(rung.join("init.mp4")).expect("init.mp4");
    bytes.extend(std::fs::read(rung.join(uri)).expect("segment"));
    std::fs::write(&joined, bytes).expect("write");
    joined
}

fn first_frame_is_keyframe(seg: &Path) -> bool {
    let v = ffprobe(
        seg,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=key_frame,pict_type",
            "-read_intervals",
            "%+#1",
        ],
    );
    let f = &v["frames"][0];
    f["key_frame"] == 1 && f["pict_type"] == "I"
}

/// Everything a published ladder must be, whatever the source.
fn check_ladder(
    dir: &Path,
    expected: &[&str],
    audio: bool,
) -> Vec<(String, u64, u64, String, String, f64)> {
    let rows = master_rows(dir);
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, expected);
    assert!(dir.join("poster.jpg").metadata().expect("poster").len() > 1000);
    let mut reference: Option<Vec<f64>> = None;
    for (name, bw, avg, resolution, codecs, _) in &rows {
        assert!(bw >= avg && *avg > 0, "{name}: peak {bw} avg {avg}");
        assert_eq!(codecs.contains("mp4a.40.2"), audio, "{codecs}");
        let rung = dir.join(name);
        let segs = segments(&rung);
        assert!(!segs.is_empty());
        for (i, (uri, d)) in segs.iter().enumerate() {
            assert_eq!(uri, &format!("seg_{:05}.m4s", i + 1), "contract key names");
            if i + 1 < segs.len() {
                assert!((d - 4.0).abs() < 0.05, "{name} segment {} lasts {d}", i + 1);
            }
            assert!(
                first_frame_is_keyframe(&playable(&rung, uri)),
                "{name}/{uri} starts with an IDR"
            );
        }
        let durations: Vec<f64> = segs.iter().map(|s| s.1).collect();
        match &reference {
            None => reference = Some(durations),
            Some(r) => assert_eq!(r, &durations, "{name} is aligned with the first rung"),
        }
        // RESOLUTION and the level in CODECS are what was really encoded.
        let probe = ffprobe(
            &playable(&rung, "seg_00001.m4s"),
            &["-show_streams", "-select_streams", "v:0"],
        );
        let s = &probe["streams"][0];
        assert_eq!(resolution, &format!("{}x{}", s["width"], s["height"]));
        // Read from the init segment: exact even where x264 needed less than High (ultrafast
        // makes Constrained Baseline).
        assert!(
            codecs.starts_with(&common::avc1_codecs(s)),
            "{codecs} vs {}",
            common::avc1_codecs(s)
        );
        assert_eq!(s["sample_aspect_ratio"], "1:1");
    }
    rows
}

#[test]
fn a_1080p_movie_with_audio_becomes_an_aligned_three_rung_ladder() {
    let dir = Server::temp_dir();
    let src = make_source(
        dir.path(),
        "in.mp4",
        "testsrc2=size=1920x1080:rate=30",
        10,
        true,
        &[],
    );
    let id = ready_id(&ingest(dir.path(), &src, &["--tier", "premium"]));
    let rows = check_ladder(
        &movie_dir(dir.path(), &id),
        &["480p", "720p", "1080p"],
        true,
    );
    assert!(
        rows.windows(2).all(|w| w[0].1 < w[1].1),
        "BANDWIDTH rises with resolution"
    );
    assert_eq!(rows[2].3, "1920x1080");
    assert_eq!(rows[0].5, 30.0);
    let seg = segments(&movie_dir(dir.path(), &id).join("480p"));
    assert_eq!(seg.len(), 3, "10 s in 4 s segments");
    assert!(
        !dir.path().join("staging").join(&id).exists(),
        "staging cleaned"
    );
    let list = cli_env(dir.path(), &["movies", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&list)).expect("json");
    assert_eq!(v[0]["tier"], "premium");
    assert_eq!(
        v[0]["renditions"],
        serde_json::json!(["480p", "720p", "1080p"])
    );
    assert!((v[0]["duration_s"].as_f64().expect("duration") - 10.0).abs() < 0.2);
}

#[test]
fn a_small_silent_source_gets_one_rung_at_its_own_height() {
    let dir = Server::temp_dir();
    let src = make_source(
        dir.path(),
        "in.mp4",
        "testsrc2=size=640x360:rate=25",
        5,
        false,
        &[],
    );
    let id = ready_id(&ingest(dir.path(), &src, &[]));
    let rows = check_ladder(&movie_dir(dir.path(), &id), &["360p"], false);
    assert_eq!(rows[0].3, "640x360");
    assert!(!rows[0].4.contains(','), "video-only CODECS: {}", rows[0].4);
}

#[test]
fn a_rotated_phone_video_is_laddered_upright() {
    let dir = Server::temp_dir();
    let flat = make_source(
        dir.path(),
        "flat.mp4",
        "testsrc2=size=1280x720:rate=30",
        5,
        true,
        &[],
    );
    let rotated = dir.path().join("rotated.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(&flat)
        .args(["-c", "copy", "-metadata:s:v:0", "rotate=90"])
        .arg(&rotated)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    let id = ready_id(&ingest(dir.path(), &rotated, &[]));
    let rows = check_ladder(&movie_dir(dir.path(), &id), &["480p", "720p"], true);
    assert_eq!(rows[0].3, "480x854");
    assert_eq!(rows[1].3, "720x1280");
}

#[test]
fn odd_dimensions_and_60_fps_are_handled() {
    let dir = Server::temp_dir();
    let src = make_source(
        dir.path(),
        "in.mp4",
        "testsrc2=size=1281x721:rate=60",
        5,
        true,
        &[],
    );
    let id = ready_id(&ingest(dir.path(), &src, &[]));
    let rows = check_ladder(&movie_dir(dir.path(), &id), &["480p", "720p"], true);
    assert_eq!(rows[1].3, "1280x720", "even and never above the source");
    assert_eq!(rows[1].5, 60.0);
    // Keyframes every 2 s at 60 fps: segments still start on IDRs (checked above) and the
    // 720p60 rung needs level 3.2.
    assert!(rows[1].4.ends_with("20,mp4a.40.2"), "{}", rows[1].4);
}

fn assert_refused(dir: &Path, source: &Path, reason: &str) {
    let out = ingest(dir, source, &[]);
    assert!(!out.status.success(), "{} was accepted", source.display());
    let err = stderr(&out);
    assert!(err.contains(reason), "expected {reason:?} in {err:?}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"));
    let published = std::fs::read_dir(dir.join("objects/media/movies"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(published, 0, "nothing published for {}", source.display());
}

#[test]
fn bad_sources_fail_with_a_clear_reason_and_publish_nothing() {
    let dir = Server::temp_dir();
    let d = dir.path();
    let garbage = d.join("garbage.mp4");
    std::fs::write(
        &garbage,
        (0..200_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect::<Vec<_>>(),
    )
    .expect("write");
    assert_refused(d, &garbage, "ffprobe could not read the file");

    let good = make_source(d, "good.mp4", "testsrc2=size=640x360:rate=25", 4, true, &[]);
    let bytes = std::fs::read(&good).expect("read");
    let truncated = d.join("truncated.mp4");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).expect("write");
    assert_refused(d, &truncated, "failed");

    let empty = d.join("empty.mp4");
    std::fs::write(&empty, b"").expect("write");
    assert_refused(d, &empty, "is empty");

    assert_refused(d, &d.join("no-such-file.mp4"), "does not exist");

    let audio_only = d.join("tone.m4a");
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=2",
            "-c:a",
            "aac",
        ])
        .arg(&audio_only)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    assert_refused(d, &audio_only, "no video stream");

    let huge = d.join("huge.mkv");
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=10000x16:d=1:r=1",
            "-c:v",
            "ffv1",
        ])
        .arg(&huge)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    assert_refused(d, &huge, "outside what streamd transcodes");

    // The failures are recorded on their movies, with the reason.
    let list = cli_env(d, &["movies", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&list)).expect("json");
    let failed: Vec<&serde_json::Value> = v.as_array().expect("array").iter().collect();
    assert_eq!(
        failed.len(),
        4,
        "garbage, truncated, audio-only, huge were queued and failed"
    );
    assert!(
        failed
            .iter()
            .all(|m| m["status"] == "failed" && m["error"].is_string())
    );
    assert!(
        !d.join("staging").exists()
            || std::fs::read_dir(d.join("staging")).expect("dir").count() == 0
    );
}

fn upload(c: &mut common::Client, file: &[u8], title: &str, tier: &str) -> common::Reply {
    let (ct, body) = common::multipart(&[
        ("title", None, title.as_bytes()),
        ("tier", None, tier.as_bytes()),
        ("file", Some("movie.mp4"), file),
    ]);
    c.post_raw("/api/v1/movies", &ct, &body)
}

#[test]
fn upload_over_http_queues_a_job_the_server_runs_with_visible_progress() {
    let dir = Server::temp_dir();
    add_user(dir.path(), "root", PW, &["--admin"]);
    add_user(dir.path(), "viewer", PW, &[]);
    let src = make_source(
        dir.path(),
        "in.mp4",
        "testsrc2=size=1280x720:rate=30",
        12,
        true,
        &[],
    );
    let bytes = std::fs::read(&src).expect("read");
    let s = Server::start_in(
        dir.path(),
        &[
            ("STREAMD_TRANSCODE_PRESET", "veryfast"),
            ("STREAMD_TRANSCODE_MAX_UPLOAD", "20MB"),
        ],
    );

    let mut viewer = s.client();
    viewer.login("viewer", PW);
    assert_eq!(upload(&mut viewer, b"tiny", "Nope", "free").status, 403);

    let mut admin = s.client();
    admin.login("root", PW);
    let r = upload(&mut admin, &bytes, "Uploaded", "premium");
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["status"], "queued");
    let id = r.json()["id"].as_str().expect("id").to_string();

    // An observation, not a wait: the job saves its progress at ffmpeg's first tick and every
    // second after, so it shows for the whole encode but its first frames, a window that only
    // widens on a slower machine, and the API is polled every 100 ms through it.
    let mut saw_progress = false;
    let budget = Work::of(&src).whole("veryfast");
    let last = wait_for(budget, "the upload to be transcoded", || {
        let m = admin.get(&format!("/api/v1/movies/{id}")).json();
        if m["status"] == "running" && m["progress"]["percent"].as_f64().unwrap_or(0.0) > 0.0 {
            saw_progress = true;
        }
        let done = m["status"] == "ready" || m["status"] == "failed";
        when(done, m.clone(), m)
    });
    assert_eq!(last["status"], "ready", "{last}");
    assert!(saw_progress, "progress was visible while it ran");
    check_ladder(&movie_dir(dir.path(), &id), &["480p", "720p"], true);
    // "ready" is recorded before the source is removed (crash-safe order): wait for the
    // removal, bounded for a hang (one unlink).
    wait_for(
        30,
        "the uploaded source to be removed once ingested",
        || {
            let left = std::fs::read_dir(dir.path().join("uploads"))
                .map(|d| d.count())
                .unwrap_or(0);
            when(left == 0, (), format!("{left} file(s) in uploads/"))
        },
    );

    // Bad uploads: not a video (fails as a job), too big (413), no file (400).
    let r = upload(&mut admin, b"this is not a movie at all", "Junk", "free");
    assert_eq!(r.status, 202);
    let junk = r.json()["id"].as_str().expect("id").to_string();
    // Only ffprobe runs on it: a bound for a hang, not for an encode.
    let m = wait_for(120, "the junk job to fail", || {
        let m = admin.get(&format!("/api/v1/movies/{junk}")).json();
        when(m["status"] == "failed", m.clone(), m)
    });
    assert!(
        m["error"].as_str().expect("reason").contains("ffprobe"),
        "{m}"
    );
    let big = vec![0u8; 21_000_000];
    let r = upload(&mut admin, &big, "Big", "free");
    assert_eq!(r.status, 413, "{}", r.body);
    let (ct, body) = common::multipart(&[("title", None, b"x")]);
    assert_eq!(admin.post_raw("/api/v1/movies", &ct, &body).status, 400);
    let uploads = std::fs::read_dir(dir.path().join("uploads"))
        .expect("uploads")
        .count();
    assert_eq!(uploads, 0, "refused uploads leave no partial file");
    assert_eq!(admin.get("/healthz").status, 200);
}

/// The server's segment length (`transcode.segment_seconds`).
const SEGMENT_S: f64 = 4.0;

/// A source slow enough to catch mid-encode on 2 cores with the veryslow preset.
fn slow_source(dir: &Path) -> PathBuf {
    make_source(
        dir,
        "slow.mp4",
        "testsrc2=size=1920x1080:rate=30",
        40,
        true,
        &[],
    )
}

/// Waits until the server's ffmpeg is encoding movie `id`'s ladder: what the tests that
/// interrupt an encode need. (Not its progress: at veryslow, on a loaded 2-core machine, a
/// 1080p ladder reports none for over a minute.) Nothing is encoded before that ffmpeg
/// starts, only the source probed: a bound for a hang, not for an encode.
fn wait_encoding(s: &Server, c: &mut common::Client, id: &str) {
    wait_for(120, "the server's ffmpeg to encode the job", || {
        common::ladder_ffmpeg(s, id).map_err(|none| {
            let m = c.get(&format!("/api/v1/movies/{id}")).json();
            format!("{none}; the movie: {m}")
        })
    });
}

fn queue_through_server(dir: &Path, src: &Path) -> String {
    let out = cli_env(
        dir,
        &[
            "ingest",
            src.to_str().expect("utf8"),
            "--title",
            "Slow",
            "--no-wait",
            "--json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    assert_eq!(v["status"], "queued");
    v["id"].as_str().expect("id").to_string()
}

/// A server with an admin signed in and a slow movie whose ladder ffmpeg is running.
fn encoding_slowly() -> (tempfile::TempDir, Server, common::Client, String) {
    let dir = Server::temp_dir();
    add_user(dir.path(), "root", PW, &["--admin"]);
    let src = slow_source(dir.path());
    let s = Server::start_in(dir.path(), &[("STREAMD_TRANSCODE_PRESET", "veryslow")]);
    let id = queue_through_server(dir.path(), &src);
    let mut admin = s.client();
    admin.login("root", PW);
    wait_encoding(&s, &mut admin, &id);
    (dir, s, admin, id)
}

#[test]
fn deleting_a_transcoding_movie_kills_its_ffmpeg_and_leaves_nothing() {
    let (dir, _s, mut admin, id) = encoding_slowly();
    assert!(
        !ffmpeg_processes(dir.path()).is_empty(),
        "ffmpeg is running"
    );

    let r = admin.delete(&format!("/api/v1/movies/{id}"));
    assert_eq!(r.status, 204, "{}", r.body);
    // A SIGKILL: a bound for a hang.
    wait_for(30, "ffmpeg to be gone", || {
        let left = ffmpeg_processes(dir.path());
        when(left.is_empty(), (), format!("ffmpeg running: {left:?}"))
    });
    assert_eq!(admin.get(&format!("/api/v1/movies/{id}")).status, 404);
    assert!(!dir.path().join("staging").join(&id).exists());
    assert!(!movie_dir(dir.path(), &id).exists());
    assert_eq!(admin.delete(&format!("/api/v1/movies/{id}")).status, 404);
}

/// `streamd movie delete` does what the API does: through a running server it stops the
/// encode first; without one it removes a ready movie's records and objects.
#[test]
fn movie_delete_from_the_cli_stops_the_encode_and_removes_everything() {
    let (dir, s, mut admin, id) = encoding_slowly();
    let out = cli_env(dir.path(), &["movie", "delete", &id], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("deleted"), "{}", stdout(&out));
    // A SIGKILL: a bound for a hang.
    wait_for(30, "ffmpeg to be gone", || {
        let left = ffmpeg_processes(dir.path());
        when(left.is_empty(), (), format!("ffmpeg running: {left:?}"))
    });
    assert_eq!(admin.get(&format!("/api/v1/movies/{id}")).status, 404);
    assert!(!movie_dir(dir.path(), &id).exists());
    drop(s);

    // No server: a ready movie.
    let small = make_source(
        dir.path(),
        "small.mp4",
        "testsrc=size=320x240:rate=25",
        2,
        true,
        &[],
    );
    let out = cli_env(
        dir.path(),
        &[
            "ingest",
            small.to_str().expect("utf8"),
            "--title",
            "Small",
            "--json",
        ],
        &[("STREAMD_TRANSCODE_PRESET", "ultrafast")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    let id = v["id"].as_str().expect("id").to_string();
    assert!(movie_dir(dir.path(), &id).exists());
    let out = cli_env(dir.path(), &["movie", "delete", &id], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!movie_dir(dir.path(), &id).exists());
    let out = cli_env(dir.path(), &["movies", "--json"], &[]);
    assert_eq!(stdout(&out).trim(), "[]");
    let out = cli_env(dir.path(), &["movie", "delete", &id], &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no movie with id"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_killed_server_leaves_no_ffmpeg_and_the_job_resumes_after_restart() {
    let dir = Server::temp_dir();
    add_user(dir.path(), "root", PW, &["--admin"]);
    let src = slow_source(dir.path());
    let mut s = Server::start_in(dir.path(), &[("STREAMD_TRANSCODE_PRESET", "veryslow")]);
    let id = queue_through_server(dir.path(), &src);
    let mut admin = s.client();
    admin.login("root", PW);
    // Killed once segments are published, so that there is something to resume from: the
    // first segment of every rung, encoded at veryslow.
    let work = Work::of(&src);
    wait_for(
        work.encode_secs(2.0 * SEGMENT_S, "veryslow"),
        "the first segments to be published",
        || {
            let m = admin.get(&format!("/api/v1/movies/{id}")).json();
            when(m["playable"] == true, (), m)
        },
    );
    s.kill_hard();
    wait_for(30, "the orphaned ffmpeg to die", || {
        let left = ffmpeg_processes(dir.path());
        when(left.is_empty(), (), format!("ffmpeg running: {left:?}"))
    });
    assert!(
        dir.path().join("staging").join(&id).exists(),
        "half-written output is left by the crash"
    );

    assert!(movie_dir(dir.path(), &id).join("1080p").exists());

    // Restart with a fast preset and without the 1080p rung: the interrupted job is re-queued,
    // its staging cleared, and it finishes. Segments of another preset would not decode with
    // the init segments the first run published, so the video is made again from the start
    // under the new settings, every segment decodes and starts with an IDR (check_ladder), and
    // the rung no longer made leaves the store.
    let s = Server::start_in(
        dir.path(),
        &[
            ("STREAMD_TRANSCODE_PRESET", "ultrafast"),
            ("STREAMD_TRANSCODE_RENDITIONS", r#"["480p", "720p"]"#),
        ],
    );
    let mut admin = s.client();
    admin.login("root", PW);
    let m = wait_for(
        work.whole("ultrafast"),
        "the re-queued job to finish",
        || {
            let m = admin.get(&format!("/api/v1/movies/{id}")).json();
            let done = m["status"] == "ready" || m["status"] == "failed";
            when(done, m.clone(), m)
        },
    );
    assert_eq!(m["status"], "ready", "{m}");
    assert!(
        m["notes"].as_array().is_some_and(|n| n.iter().any(|n| n
            .as_str()
            .is_some_and(|n| n.contains("encoder settings changed")))),
        "{m}"
    );
    check_ladder(&movie_dir(dir.path(), &id), &["480p", "720p"], true);
    assert!(
        !movie_dir(dir.path(), &id).join("1080p").exists(),
        "the 1080p rung of the first run is removed"
    );
}

#[test]
fn sigterm_mid_encode_stops_ffmpeg_and_requeues_the_job() {
    let dir = Server::temp_dir();
    add_user(dir.path(), "root", PW, &["--admin"]);
    let src = slow_source(dir.path());
    let mut s = Server::start_in(dir.path(), &[("STREAMD_TRANSCODE_PRESET", "veryslow")]);
    let id = queue_through_server(dir.path(), &src);
    let mut admin = s.client();
    admin.login("root", PW);
    wait_encoding(&s, &mut admin, &id);
    assert!(s.stop().success(), "graceful exit");
    assert!(
        ffmpeg_processes(dir.path()).is_empty(),
        "no ffmpeg outlives the server"
    );
    let list = cli_env(dir.path(), &["movies", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&list)).expect("json");
    assert_eq!(v[0]["id"], id.as_str());
    assert_eq!(
        v[0]["status"], "queued",
        "interrupted job waits for the next start"
    );
}

#[test]
fn a_disk_that_fills_up_mid_encode_fails_the_job_cleanly() {
    // Needs a small filesystem: a tmpfs, which only root can mount.
    let dir = Server::temp_dir();
    let data = dir.path().join("small");
    std::fs::create_dir_all(&data).expect("mkdir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
        .arg(&data)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(data.clone());
    let src = make_source(
        dir.path(),
        "in.mp4",
        "testsrc2=size=1920x1080:rate=30",
        10,
        true,
        &[],
    );
    let out = ingest(&data, &src, &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!err.contains("panicked"));
    assert!(
        !data.join("objects/media/movies").exists()
            || std::fs::read_dir(data.join("objects/media/movies"))
                .expect("dir")
                .count()
                == 0
    );
    assert_eq!(
        std::fs::read_dir(data.join("staging"))
            .expect("dir")
            .count(),
        0,
        "staging cleaned"
    );
    // The database is intact and says why.
    let list = cli_env(&data, &["movies", "--json"], &[]);
    assert!(list.status.success(), "{}", stderr(&list));
    let v: serde_json::Value = serde_json::from_str(&stdout(&list)).expect("json");
    assert_eq!(v[0]["status"], "failed");
}

/// A release-style name gives title and year (no --title), and the subtitle files beside the
/// movie come along with their languages; an empty one is skipped with a line, not the ingest.
#[test]
fn title_year_and_sidecar_subtitles_come_from_the_files_beside_the_movie() {
    let tmp = Server::temp_dir();
    let dir = tmp.path();
    let films = dir.join("films");
    std::fs::create_dir_all(&films).expect("films dir");
    let made = make_source(
        dir,
        "src.mp4",
        "testsrc2=size=320x240:rate=25",
        4,
        true,
        &[],
    );
    let movie = films.join("La.Haine.1995.FRENCH.1080p.BluRay.x264-GROUP.mp4");
    std::fs::rename(&made, &movie).expect("move");
    let srt =
        "1\n00:00:00,500 --> 00:00:02,000\nBonjour\n\n2\n00:00:02,500 --> 00:00:03,500\nSalut\n";
    std::fs::write(
        films.join("La.Haine.1995.FRENCH.1080p.BluRay.x264-GROUP.fr.srt"),
        srt,
    )
    .expect("fr");
    std::fs::write(
        films.join("La.Haine.1995.FRENCH.1080p.BluRay.x264-GROUP.en.forced.srt"),
        srt.replace("Bonjour", "Hello").replace("Salut", "Hi"),
    )
    .expect("en");
    std::fs::write(
        films.join("La.Haine.1995.FRENCH.1080p.BluRay.x264-GROUP.de.srt"),
        "",
    )
    .expect("empty de");
    let out = cli_env(
        dir,
        &["ingest", movie.to_str().expect("utf8"), "--json"],
        FAST,
    );
    let id = ready_id(&out);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    assert_eq!(v["title"], "La Haine", "{v}");
    assert_eq!(v["year"], 1995, "{v}");
    let mut subs: Vec<(String, bool)> = v["subtitles"]
        .as_array()
        .expect("subtitles")
        .iter()
        .map(|s| {
            (
                s["lang"].as_str().unwrap_or("").to_string(),
                s["forced"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    subs.sort();
    assert_eq!(subs, vec![("en".into(), true), ("fr".into(), false)], "{v}");
    assert!(
        stderr(&out).contains("skipping subtitles"),
        "{}",
        stderr(&out)
    );
    let vtt = std::fs::read_to_string(movie_dir(dir, &id).join("subs_fr/subs.vtt")).expect("vtt");
    assert!(vtt.contains("Bonjour"), "{vtt}");

    // --title wins; the year still comes from the name.
    let out = cli_env(
        dir,
        &[
            "ingest",
            movie.to_str().expect("utf8"),
            "--title",
            "Hate",
            "--json",
            "--no-wait",
        ],
        FAST,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    assert_eq!(
        (v["title"].as_str(), v["year"].as_u64()),
        (Some("Hate"), Some(1995))
    );
}
