//! The S3-compatible layer is the point: a stock SDK's presigned URLs work against the built-in
//! store, and the S3 backend works against a real S3 server that verifies signatures.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::{
    DEFAULT_PRESET, Server, Work, add_user, ingest_cli, make_source, peer, start_s3s, stderr,
    stdout, wait_for, when,
};
use streamd::media::sigv4::Signer;

const PW: &str = "correct horse battery";

fn credentials(dir: &Path) -> (String, String) {
    let text =
        std::fs::read_to_string(dir.join("secrets/storage.credentials")).expect("credentials");
    let mut parts = text.split_whitespace();
    (
        parts.next().expect("ak").into(),
        parts.next().expect("sk").into(),
    )
}

fn get(url: &str, method: &str) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = match method {
        "HEAD" => agent.head(url).call(),
        _ => agent.get(url).call(),
    }
    .expect("request");
    let mut body = Vec::new();
    let _ = res.body_mut().as_reader().read_to_end(&mut body);
    (res.status().as_u16(), body)
}

fn content_type_of(url: &str) -> String {
    let res = ureq::get(url).call().expect("GET");
    res.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn head_headers(url: &str) -> std::collections::HashMap<String, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let res = agent.head(url).call().expect("HEAD");
    res.headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect()
}

#[test]
fn urls_presigned_by_boto3_work_against_the_built_in_store() {
    if Command::new("python3")
        .args(["-c", "import boto3"])
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        assert!(
            std::env::var_os("STREAMD_REQUIRE_PEERS").is_none(),
            "boto3 is required (tests/run.sh installs it)"
        );
        eprintln!("SKIPPED: boto3 not installed; run tests/run.sh");
        return;
    }
    let dir = Server::temp_dir();
    let d = dir.path();
    let src = make_source(d, "src.mp4", "testsrc2=size=854x480:rate=25", 4, true, &[]);
    let id = ingest_cli(d, &src, "Interop", "free", &[]);
    let s = Server::start_in(d, &[]);
    let (ak, sk) = credentials(d);
    let key = format!("movies/{id}/480p/seg_00001.m4s");
    let script = r#"
import sys, boto3
from botocore.config import Config
endpoint, ak, sk, key = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
print(s3.generate_presigned_url("get_object", Params={"Bucket": "media", "Key": key}, ExpiresIn=300))
print(s3.generate_presigned_url("head_object", Params={"Bucket": "media", "Key": key}, ExpiresIn=300, HttpMethod="HEAD"))
print(s3.generate_presigned_url("get_object", Params={"Bucket": "media", "Key": key + ".missing"}, ExpiresIn=300))
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &format!("http://{}/s3", s.addr),
            &ak,
            &sk,
            &key,
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let urls: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    let on_disk = std::fs::read(d.join("objects/media").join(&key)).expect("segment");
    let (status, body) = get(&urls[0], "GET");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, on_disk);
    assert_eq!(get(&urls[1], "HEAD").0, 200);
    // HEAD answers with what GET would send, as S3 does: the length above all.
    let head = head_headers(&urls[1]);
    assert_eq!(
        head.get("content-length").map(String::as_str),
        Some(on_disk.len().to_string().as_str()),
        "{head:?}"
    );
    for name in ["etag", "last-modified", "content-type", "accept-ranges"] {
        assert!(head.contains_key(name), "HEAD lacks {name}: {head:?}");
    }
    let (status, body) = get(&urls[2], "GET");
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("NoSuchKey"));
    // Tampered: another object under the same signature, or a flipped signature digit.
    let (status, body) = get(&urls[0].replace("seg_00001", "seg_00002"), "GET");
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&body).contains("SignatureDoesNotMatch"));
    let sig_at = urls[0].find("X-Amz-Signature=").expect("signature") + 16;
    let mut flipped = urls[0].clone();
    let c = if &flipped[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    flipped.replace_range(sig_at..sig_at + 1, c);
    assert_eq!(get(&flipped, "GET").0, 403);
    assert_eq!(
        get(&urls[1], "GET").0,
        403,
        "a HEAD signature does not open a GET"
    );
}

#[test]
fn the_s3_backend_publishes_to_a_real_s3_server_and_players_fetch_from_it() {
    let Some(s3s) = peer("s3s-fs") else { return };
    let dir = Server::temp_dir();
    let d = dir.path();
    let root = d.join("s3root");
    let (ak, sk) = ("STREAMDTESTKEY", "streamd-test-secret-key");
    let (_peer, endpoint) = start_s3s(&s3s, &root, ak, sk);
    let host = endpoint.trim_start_matches("http://").to_string();

    // First: this server really checks signatures.
    std::fs::write(root.join("media/probe.txt"), b"probe").expect("probe");
    let signer = Signer::new(ak, sk, "us-east-1");
    let url = format!(
        "{endpoint}{}",
        signer
            .batch("GET", &host, SystemTime::now(), Duration::from_secs(60))
            .signed("/media/probe.txt")
    );
    assert_eq!(get(&url, "GET"), (200, b"probe".to_vec()));
    assert_eq!(
        get(&url.replace("probe.txt", "probe.txx"), "GET").0,
        403,
        "tampered URL refused"
    );
    let old = signer.batch(
        "GET",
        &host,
        SystemTime::now() - Duration::from_secs(3600),
        Duration::from_secs(60),
    );
    assert_eq!(
        get(
            &format!("{endpoint}{}", old.signed("/media/probe.txt")),
            "GET"
        )
        .0,
        403,
        "expired URL refused"
    );

    let env = [
        ("STREAMD_STORAGE_BACKEND", "s3"),
        ("STREAMD_STORAGE_ENDPOINT", endpoint.as_str()),
        ("STREAMD_STORAGE_ACCESS_KEY", ak),
        ("STREAMD_STORAGE_SECRET_KEY", sk),
    ];
    add_user(d, "root", PW, &["--admin"]);
    let src = make_source(d, "src.mp4", "testsrc2=size=1280x720:rate=30", 6, true, &[]);
    let id = ingest_cli(d, &src, "Interop", "premium", &env);
    let published = root.join("media/movies").join(&id);
    for f in [
        "master.m3u8",
        "poster.jpg",
        "480p/index.m3u8",
        "720p/seg_00001.m4s",
    ] {
        assert!(published.join(f).is_file(), "{f} uploaded");
    }
    assert!(
        !d.join("objects/media/movies").join(&id).exists(),
        "nothing kept locally"
    );

    let s = Server::start_in(d, &env);
    let mut c = s.client();
    c.login("root", PW);
    let master = c.get(&format!("/stream/{id}"));
    assert_eq!(master.status, 200, "{}", master.body);
    let variant_uri = master
        .body
        .lines()
        .find(|l| l.starts_with("/stream/"))
        .expect("variant")
        .to_string();
    let variant = c.get(&variant_uri);
    assert_eq!(variant.status, 200, "{}", variant.body);
    let segs: Vec<&str> = variant
        .body
        .lines()
        .filter(|l| l.starts_with("http"))
        .collect();
    assert!(
        segs.iter()
            .all(|u| u.starts_with(&format!("{endpoint}/media/movies/{id}/480p/seg_"))),
        "{segs:?}"
    );
    let (status, bytes) = get(segs[0], "GET");
    assert_eq!(status, 200, "the S3 server accepts our presigned URL");
    assert_eq!(
        bytes,
        std::fs::read(published.join("480p/seg_00001.m4s")).expect("segment")
    );
    // Uploads declare their type, so the S3 server (and a CDN) answers with it, not
    // binary/octet-stream.
    assert_eq!(content_type_of(segs[0]), "video/iso.segment");
    let thumbnails = c.get(&format!("/api/v1/movies/{id}")).json()["thumbnails_url"]
        .as_str()
        .expect("thumbnails_url")
        .to_string();
    let vtt = get(&thumbnails, "GET").1;
    let sprite = String::from_utf8_lossy(&vtt)
        .lines()
        .find(|l| l.starts_with(&endpoint))
        .expect("a sprite on the S3 server")
        .split('#')
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type_of(&sprite), "image/jpeg");
    // streamd itself serves no chunk in this mode.
    let local = segs[0].replace(&endpoint, &format!("http://{}/s3", s.addr));
    assert_eq!(get(&local, "GET").0, 404);

    // An external player decodes the whole movie, every chunk from the S3 server.
    let url = c.get(&format!("/api/v1/movies/{id}/playback")).json()["master_url"]
        .as_str()
        .expect("url")
        .to_string();
    let out = Command::new("ffmpeg")
        .args([
            "-nostdin", "-v", "error", "-xerror", "-i", &url, "-f", "null", "-",
        ])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Deleting the movie removes its objects from the bucket.
    assert_eq!(c.delete(&format!("/api/v1/movies/{id}")).status, 204);
    // s3s-fs keeps objects as plain files and may leave empty directories behind.
    fn files(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            files(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    assert_eq!(files(&published), 0, "objects deleted from the S3 server");
}

/// Watch while it transcodes, on the S3 backend: segments are uploaded as they finish and
/// fetched from the S3 server while the encode runs; a SIGKILLed ingest resumes from what the
/// bucket holds.
#[test]
fn on_the_s3_backend_segments_are_uploaded_as_they_finish_and_a_killed_ingest_resumes() {
    let Some(s3s) = peer("s3s-fs") else { return };
    let dir = Server::temp_dir();
    let d = dir.path();
    let root = d.join("s3root");
    let (ak, sk) = ("STREAMDTESTKEY", "streamd-test-secret-key");
    let (_peer, endpoint) = start_s3s(&s3s, &root, ak, sk);
    let env = [
        ("STREAMD_STORAGE_BACKEND", "s3"),
        ("STREAMD_STORAGE_ENDPOINT", endpoint.as_str()),
        ("STREAMD_STORAGE_ACCESS_KEY", ak),
        ("STREAMD_STORAGE_SECRET_KEY", sk),
    ];
    add_user(d, "root", PW, &["--admin"]);
    let src = make_source(
        d,
        "long.mp4",
        "testsrc2=size=1280x720:rate=25",
        80,
        true,
        &[],
    );
    let mut s = Server::start_in(d, &env);
    let mut c = s.client();
    c.login("root", PW);
    let out = common::cli_env(
        d,
        &[
            "ingest",
            src.to_str().expect("utf8"),
            "--title",
            "S3",
            "--no-wait",
            "--json",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id = serde_json::from_str::<serde_json::Value>(stdout(&out).trim()).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    // The server's segments are 4 s long (`transcode.segment_seconds`).
    let work = Work::of(&src);
    let variant_uri = wait_for(work.encode_secs(8.0, DEFAULT_PRESET), "playable", || {
        let master = c.get(&format!("/stream/{id}"));
        if master.status != 200 {
            let m = c.get(&format!("/api/v1/movies/{id}")).body;
            return Err(format!(
                "/stream: {} {}; the movie: {m}",
                master.status, master.body
            ));
        }
        Ok(master
            .body
            .lines()
            .find(|l| l.contains("/480p.m3u8"))
            .expect("480p")
            .to_string())
    });
    let m = c.get(&format!("/api/v1/movies/{id}")).json();
    assert_eq!(
        (m["status"].as_str(), m["playable"].as_bool()),
        (Some("running"), Some(true))
    );
    let variant = c.get(&variant_uri).body;
    assert!(variant.contains("#EXT-X-PLAYLIST-TYPE:EVENT"), "{variant}");
    let first = variant
        .lines()
        .find(|l| l.starts_with(&endpoint))
        .expect("a presigned segment URL")
        .to_string();
    let (status, bytes) = get(&first, "GET");
    assert_eq!(
        status, 200,
        "fetched from the S3 server while the encode runs"
    );
    assert!(!bytes.is_empty());
    // Nothing half-written: every listed object is there, whole.
    for url in variant.lines().filter(|l| l.starts_with(&endpoint)) {
        assert_eq!(get(url, "GET").0, 200, "{url}");
    }

    // Killed once every rung has published half its segments (not at a progress percentage:
    // what is resumed from is what the bucket holds), as its playlists list them.
    let total = (work.seconds / 4.0).ceil() as usize;
    wait_for(
        work.encode_secs(work.seconds / 2.0 + 4.0, DEFAULT_PRESET),
        "half the segments of every rung to be published",
        || {
            let m = c.get(&format!("/api/v1/movies/{id}")).json();
            let master = c.get(&format!("/stream/{id}")).body;
            let mut counts = Vec::new();
            for uri in master.lines().filter(|l| l.starts_with("/stream/")) {
                let variant = c.get(uri).body;
                assert!(
                    (m["status"] == "queued" || m["status"] == "running")
                        && !variant.contains("#EXT-X-ENDLIST"),
                    "the encode ended before half of it was seen published: {m}"
                );
                counts.push(variant.matches("#EXTINF").count());
            }
            let half = counts.len() == 2 && counts.iter().all(|n| *n >= total / 2);
            when(
                half,
                (),
                format!("segments per rung {counts:?} of {total}; the movie: {m}"),
            )
        },
    );
    s.kill_hard();
    let mut s = Server::start_in(d, &env);
    let mut c = s.client();
    c.login("root", PW);
    wait_for(
        work.whole(DEFAULT_PRESET),
        "the resumed movie to be ready",
        || {
            let m = c.get(&format!("/api/v1/movies/{id}")).json();
            assert_ne!(m["status"], "failed", "{m}");
            when(m["status"] == "ready", (), m)
        },
    );
    let m = c.get(&format!("/api/v1/movies/{id}")).json();
    assert!(
        m["notes"]
            .to_string()
            .contains("resumed after an interruption"),
        "{m}"
    );
    let master = c.get(&format!("/stream/{id}")).body;
    let uri = master
        .lines()
        .find(|l| l.contains("/480p.m3u8"))
        .expect("480p");
    let last = c.get(uri).body;
    assert!(last.contains("#EXT-X-ENDLIST"));
    assert_eq!(last.matches("#EXTINF").count(), 20, "80 s in 4 s segments");
    let url = c.get(&format!("/api/v1/movies/{id}/playback")).json()["master_url"]
        .as_str()
        .expect("url")
        .to_string();
    let out = Command::new("ffmpeg")
        .args([
            "-nostdin", "-v", "error", "-xerror", "-i", &url, "-f", "null", "-",
        ])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.stop();
}
