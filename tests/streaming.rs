//! The streaming flow over the real server with real ingested movies: entitlement-checked
//! master, tokenised variants, presigned segments from the built-in S3-compatible store.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{Client, Reply, Server, add_user, cli_ok, ingest_cli, make_source};
use streamd::media::sigv4::Signer;

const PW: &str = "correct horse battery";

struct Setup {
    dir: tempfile::TempDir,
    premium: String,
    free: String,
}

/// Users root (admin), prem (premium), free (free); a premium and a free movie, 480p+720p.
fn setup() -> Setup {
    let dir = Server::temp_dir();
    let d = dir.path();
    add_user(d, "root", PW, &["--admin"]);
    add_user(d, "prem", PW, &["--plan", "premium"]);
    add_user(d, "free", PW, &[]);
    let src = make_source(d, "src.mp4", "testsrc2=size=1280x720:rate=30", 6, true, &[]);
    let premium = ingest_cli(d, &src, "Premium movie", "premium", &[]);
    let free = ingest_cli(d, &src, "Free movie", "free", &[]);
    std::fs::remove_file(src).expect("rm source");
    Setup { dir, premium, free }
}

fn signed_in(s: &Server, user: &str) -> Client {
    let mut c = s.client();
    assert_eq!(c.login(user, PW).status, 200);
    c
}

/// Variant URIs (host-relative) from a master playlist.
fn variant_uris(master: &str) -> Vec<String> {
    master
        .lines()
        .filter(|l| l.starts_with("/stream/"))
        .map(String::from)
        .collect()
}

fn segment_urls(variant: &str) -> Vec<String> {
    variant
        .lines()
        .filter(|l| l.starts_with("http"))
        .map(String::from)
        .collect()
}

/// A plain GET of an absolute URL with no cookie, as a player fetching a chunk: status,
/// headers and the body as sent.
fn get_raw(url: &str, headers: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut res = req.call().expect("request");
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let mut body = Vec::new();
    res.body_mut()
        .as_reader()
        .read_to_end(&mut body)
        .expect("body");
    (res.status().as_u16(), headers, body)
}

/// Sleeps until `t` is past on the wall clock, by a second more: the server keeps time in
/// whole seconds.
fn sleep_past(t: SystemTime) {
    let past = t + Duration::from_secs(1);
    if let Ok(left) = past.duration_since(SystemTime::now()) {
        std::thread::sleep(left);
    }
}

fn fetch(url: &str, headers: &[(&str, &str)]) -> Reply {
    let (status, headers, body) = get_raw(url, headers);
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn fetch_bytes(url: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = get_raw(url, &[]);
    (status, body)
}

/// Exactly these bytes on the wire, so no client library tidies the path first.
fn raw_get(s: &Server, target: &str) -> u16 {
    let mut tcp = std::net::TcpStream::connect(s.addr).expect("connect");
    write!(
        tcp,
        "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        s.addr
    )
    .expect("write");
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn storage_signer(dir: &Path) -> Signer {
    let creds = std::fs::read_to_string(dir.join("secrets/storage.credentials")).expect("creds");
    let mut parts = creds.split_whitespace();
    Signer::new(
        parts.next().expect("ak"),
        parts.next().expect("sk"),
        "us-east-1",
    )
}

#[test]
fn a_premium_user_streams_the_whole_ladder_from_the_built_in_store() {
    let st = setup();
    let s = Server::start_in(st.dir.path(), &[]);
    let mut c = signed_in(&s, "prem");
    let master = c.get(&format!("/stream/{}", st.premium));
    assert_eq!(master.status, 200, "{}", master.body);
    assert_eq!(
        master.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(master.header("cache-control"), Some("private, no-store"));
    let m = m3u8_rs::parse_master_playlist_res(master.body.as_bytes()).expect("master parses");
    assert_eq!(m.variants.len(), 2);
    for v in &m.variants {
        assert!(
            v.average_bandwidth.is_some()
                && v.codecs.is_some()
                && v.resolution.is_some()
                && v.frame_rate.is_some()
        );
    }
    let uris = variant_uris(&master.body);
    assert!(uris[0].starts_with(&format!("/stream/{}/480p.m3u8?token=", st.premium)));

    // The variant needs no cookie: the token in its URL is the permission.
    let mut anonymous = s.client();
    let variant = anonymous.get(&uris[1]);
    assert_eq!(variant.status, 200, "{}", variant.body);
    let vp = m3u8_rs::parse_media_playlist_res(variant.body.as_bytes()).expect("variant parses");
    assert!(vp.end_list);
    let urls = segment_urls(&variant.body);
    assert_eq!(urls.len(), vp.segments.len());
    let object_dir = st
        .dir
        .path()
        .join("objects/media/movies")
        .join(&st.premium)
        .join("720p");
    for (i, url) in urls.iter().enumerate() {
        assert!(
            url.starts_with(&format!(
                "http://{}/s3/media/movies/{}/720p/seg_{:05}.m4s?X-Amz-Algorithm=AWS4-HMAC-SHA256",
                s.addr,
                st.premium,
                i + 1
            )),
            "{url}"
        );
        let (status, bytes) = fetch_bytes(url);
        assert_eq!(status, 200);
        let on_disk =
            std::fs::read(object_dir.join(format!("seg_{:05}.m4s", i + 1))).expect("segment file");
        assert_eq!(bytes, on_disk);
    }
    let first = fetch(&urls[0], &[]);
    assert_eq!(first.header("content-type"), Some("video/iso.segment"));
    assert!(first.header("etag").is_some() && first.header("last-modified").is_some());
    // Cached no longer than the presented link lives (X-Amz-Date + X-Amz-Expires - now).
    let cache = first.header("cache-control").unwrap_or("").to_string();
    assert!(
        cache.contains("public") && cache.contains("immutable"),
        "{cache}"
    );
    let max_age: u64 = cache
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no max-age in {cache}"));
    let param = |name: &str| {
        urls[0]
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name}"))
            .to_string()
    };
    let signed = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", param("X-Amz-Date"))
        .expect("date")
        .to_zoned(jiff::tz::TimeZone::UTC)
        .expect("utc")
        .timestamp()
        .as_second() as u64;
    let expires: u64 = param("X-Amz-Expires").parse().expect("expires");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let left = (signed + expires).saturating_sub(now);
    assert!(
        max_age <= left + 1 && max_age + 60 >= left,
        "max-age {max_age} for a link with {left} s left"
    );
    let range = fetch(&urls[0], &[("Range", "bytes=0-187")]);
    assert_eq!(range.status, 206);
    assert!(
        range
            .header("content-range")
            .unwrap_or("")
            .starts_with("bytes 0-187/")
    );
    assert_eq!(range.header("content-length"), Some("188"));
    // A range across several of the slices the body is sent in.
    let on_disk = std::fs::read(object_dir.join("seg_00001.m4s")).expect("segment file");
    let (from, to) = (100_000, on_disk.len() - 1000);
    assert!(
        to - from > 2 * 256 * 1024,
        "segment of {} bytes",
        on_disk.len()
    );
    let (status, _, part) = get_raw(&urls[0], &[("Range", &format!("bytes={from}-{to}"))]);
    assert_eq!(status, 206);
    assert_eq!(part, on_disk[from..=to]);
    // The URLs outlive the film: expiry = duration + segment_grace (2h by default).
    let expires: u64 = urls[0]
        .split("X-Amz-Expires=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .and_then(|e| e.parse().ok())
        .expect("expires");
    assert!(expires >= 7200 + 6, "{expires}");
    let metrics = c.get("/metrics").body;
    assert!(
        metrics.contains("streamd_manifests_total{kind=\"master\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("streamd_segment_bytes_total"));
}

#[test]
fn who_may_stream_follows_the_entitlement_rule_at_every_request() {
    let st = setup();
    let d = st.dir.path();
    let s = Server::start_in(d, &[]);
    let mut anonymous = s.client();
    assert_eq!(
        anonymous.get(&format!("/stream/{}", st.premium)).status,
        401
    );
    assert_eq!(anonymous.get("/stream/doesnotexist").status, 401);

    let mut free = signed_in(&s, "free");
    let r = free.get(&format!("/stream/{}", st.premium));
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["code"], "premium_required");
    assert_eq!(free.get(&format!("/stream/{}", st.free)).status, 200);
    assert_eq!(free.get("/stream/doesnotexist").status, 404);
    assert_eq!(
        free.get(&format!("/api/v1/movies/{}/playback", st.premium))
            .status,
        403
    );

    // A grant lets the free user in; revoking it shuts the door at the next playlist, even for
    // a variant URL handed out while it was valid.
    cli_ok(d, &["grant", "free", &st.premium]);
    let master = free.get(&format!("/stream/{}", st.premium));
    assert_eq!(master.status, 200);
    let variant = variant_uris(&master.body)[0].clone();
    assert_eq!(free.get(&variant).status, 200);
    cli_ok(d, &["revoke", "free", &st.premium]);
    assert_eq!(free.get(&format!("/stream/{}", st.premium)).status, 403);
    assert_eq!(s.client().get(&variant).status, 403);

    // The premium plan: downgraded, refused; a plan that lapses, refused once it has.
    let mut prem = signed_in(&s, "prem");
    assert_eq!(prem.get(&format!("/stream/{}", st.premium)).status, 200);
    cli_ok(d, &["user", "plan", "prem", "free"]);
    assert_eq!(prem.get(&format!("/stream/{}", st.premium)).status, 403);
    // Five seconds of plan: time for one CLI call and one request before it lapses.
    let end = SystemTime::now() + Duration::from_secs(5);
    let soon = humantime::format_rfc3339_seconds(end).to_string();
    cli_ok(d, &["user", "plan", "prem", "premium", "--until", &soon]);
    assert_eq!(prem.get(&format!("/stream/{}", st.premium)).status, 200);
    // The clock this test is about: past the plan's end.
    sleep_past(end);
    let r = prem.get(&format!("/stream/{}", st.premium));
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["code"], "plan_expired");

    // Admins see everything.
    let mut root = signed_in(&s, "root");
    assert_eq!(root.get(&format!("/stream/{}", st.premium)).status, 200);
}

#[test]
fn forged_expired_and_borrowed_tokens_are_refused() {
    let st = setup();
    // Long enough for the link to be used once before it expires; waited out below.
    let s = Server::start_in(st.dir.path(), &[("STREAMD_TOKENS_PLAYBACK_TTL", "5s")]);
    let mut prem = signed_in(&s, "prem");
    let master = prem.get(&format!("/stream/{}", st.premium)).body;
    let variant = variant_uris(&master)[0].clone();
    let (path, token) = variant.split_once("?token=").expect("token");
    let parts: Vec<&str> = token.split('.').collect();
    let mut anon = s.client();
    let tampered_sig = format!(
        "{path}?token={}.{}.{}.{}",
        parts[0],
        parts[1],
        parts[2],
        "A".repeat(43)
    );
    assert_eq!(anon.get(&tampered_sig).status, 403);
    let longer = format!(
        "{path}?token={}.{}.{}.{}",
        parts[0], 4_000_000_000u64, parts[2], parts[3]
    );
    assert_eq!(anon.get(&longer).status, 403);
    let as_root = format!(
        "{path}?token={}.{}.{}.{}",
        parts[0], parts[1], "cm9vdA", parts[3]
    );
    assert_eq!(anon.get(&as_root).status, 403, "cannot become another user");
    let other_movie = variant.replace(&st.premium, &st.free);
    assert_eq!(
        anon.get(&other_movie).status,
        403,
        "a token is bound to its movie"
    );
    let other_rung = variant.replace("/480p.m3u8", "/720p.m3u8");
    assert_eq!(anon.get(&other_rung).status, 403, "and to its rendition");
    for junk in ["?token=", "?token=%zz", "?token=a.b", "?token=k.1.x.y"] {
        assert_eq!(anon.get(&format!("{path}{junk}")).status, 403, "{junk}");
    }
    assert_eq!(anon.get(path).status, 401, "no token, no cookie");

    // The playback link works with no cookie until it expires.
    let playback = prem
        .get(&format!("/api/v1/movies/{}/playback", st.premium))
        .json();
    let url = playback["master_url"].as_str().expect("url").to_string();
    assert!(url.starts_with(&format!("http://{}/stream/{}?token=", s.addr, st.premium)));
    assert!(
        playback["expires_at"]
            .as_str()
            .expect("expiry")
            .ends_with('Z')
    );
    assert_eq!(fetch(&url, &[]).status, 200);
    let other = url.replace(&st.premium, &st.free);
    assert_eq!(fetch(&other, &[]).status, 403);
    // The clock this test is about: past the link's expiry, as the API gave it.
    let expires_at = playback["expires_at"].as_str().expect("expiry");
    sleep_past(humantime::parse_rfc3339(expires_at).expect("RFC 3339 expiry"));
    let expired = fetch(&url, &[]);
    assert_eq!(expired.status, 403);
    assert!(expired.body.contains("expired"));
    let metrics = prem.get("/metrics").body;
    assert!(
        metrics.contains("streamd_token_failures_total{reason=\"bad_signature\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("streamd_token_failures_total{reason=\"expired\"} 1"),
        "{metrics}"
    );
}

#[test]
fn the_object_store_refuses_bad_signatures_and_paths_with_s3_errors() {
    let st = setup();
    let d = st.dir.path();
    let s = Server::start_in(d, &[]);
    let mut prem = signed_in(&s, "prem");
    let master = prem.get(&format!("/stream/{}", st.premium)).body;
    let variant = prem.get(&variant_uris(&master)[0]).body;
    let url = segment_urls(&variant)[0].clone();

    let last = if url.ends_with('0') { "1" } else { "0" };
    let tampered = format!("{}{last}", &url[..url.len() - 1]);
    let r = fetch(&tampered, &[]);
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        r.body
    );
    assert_eq!(r.header("content-type"), Some("application/xml"));
    let other_object = url.replace("seg_00001.m4s", "seg_00002.m4s");
    assert_eq!(fetch(&other_object, &[]).status, 403);
    let bare = url.split('?').next().expect("path");
    let r = fetch(bare, &[]);
    assert_eq!(r.status, 403);
    assert!(r.body.contains("<Code>AccessDenied</Code>"));
    let missing_field = url.replace("X-Amz-Credential", "X-Amz-Nope");
    assert!(fetch(&missing_field, &[]).body.contains("AccessDenied"));
    assert_eq!(
        fetch(&url.replace("X-Amz-Expires=", "X-Amz-Expires=9"), &[]).status,
        403
    );

    // Signed by us, but expired / for a missing key / for another bucket / HEAD.
    let signer = storage_signer(d);
    let host = s.addr.to_string();
    let origin = format!("http://{host}");
    let old = signer.batch(
        "GET",
        &host,
        SystemTime::now() - Duration::from_secs(7200),
        Duration::from_secs(60),
    );
    let r = fetch(
        &format!(
            "{origin}{}",
            old.signed(&format!(
                "/s3/media/movies/{}/480p/seg_00001.m4s",
                st.premium
            ))
        ),
        &[],
    );
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Request has expired"));
    let now = signer.batch("GET", &host, SystemTime::now(), Duration::from_secs(60));
    let r = fetch(
        &format!(
            "{origin}{}",
            now.signed(&format!(
                "/s3/media/movies/{}/480p/seg_09999.m4s",
                st.premium
            ))
        ),
        &[],
    );
    assert_eq!(r.status, 404);
    assert!(r.body.contains("<Code>NoSuchKey</Code>"));
    let unsigned_missing = fetch(&format!("{origin}/s3/media/movies/nope/seg.ts"), &[]);
    assert_eq!(
        unsigned_missing.status, 403,
        "NoSuchKey only after a valid signature"
    );
    let r = fetch(
        &format!("{origin}{}", now.signed("/s3/otherbucket/x.ts")),
        &[],
    );
    assert_eq!(r.status, 404);
    assert!(r.body.contains("NoSuchBucket"));
    let r = fetch(
        &format!(
            "{origin}{}",
            now.signed(&format!("/s3/media/movies/{}", st.premium))
        ),
        &[],
    );
    assert_eq!(
        r.status, 404,
        "a directory is no object, and there is no listing"
    );
    let head_batch = signer.batch("HEAD", &host, SystemTime::now(), Duration::from_secs(60));
    let head_url = format!(
        "{origin}{}",
        head_batch.signed(&format!("/s3/media/movies/{}/poster.jpg", st.premium))
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let res = agent.head(&head_url).call().expect("head");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/jpeg")
    );
    let seg = now.signed(&format!(
        "/s3/media/movies/{}/480p/seg_00001.m4s",
        st.premium
    ));
    let r = fetch(&format!("{origin}{seg}"), &[("Range", "bytes=999999999-")]);
    assert_eq!(r.status, 416);

    // Traversal, in every spelling, never reaches a file.
    for target in [
        "/s3/media/../secrets/admin.secret",
        "/s3/media/..%2F..%2Fsecrets%2Fadmin.secret",
        "/s3/media/%2e%2e/%2e%2e/secrets/admin.secret",
        "/s3/media/movies/%2E%2E/%2E%2E/streamd.redb",
        "/s3/../secrets/admin.secret",
        "/s3/media//etc/passwd",
        "/s3/media/a%00b",
    ] {
        let code = raw_get(&s, target);
        assert!(
            code == 400 || code == 403 || code == 404,
            "{target} answered {code}"
        );
    }
    // Huge headers are cut off (actix-http caps a request head at 128 KB); the server keeps serving.
    let mut tcp = std::net::TcpStream::connect(s.addr).expect("connect");
    let _ = write!(
        tcp,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200_000)
    );
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    assert!(
        !answer.starts_with("HTTP/1.1 200"),
        "headers past actix's 128 KB buffer are refused"
    );
    assert_eq!(s.client().get("/healthz").status, 200);
}

#[test]
fn an_external_player_decodes_the_whole_movie_from_the_playback_link() {
    let st = setup();
    let s = Server::start_in(st.dir.path(), &[]);
    let mut prem = signed_in(&s, "prem");
    let url = prem
        .get(&format!("/api/v1/movies/{}/playback", st.premium))
        .json()["master_url"]
        .as_str()
        .expect("url")
        .to_string();
    // -xerror: without it ffmpeg skips a refused segment and still exits 0.
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-nostdin", "-v", "error", "-xerror", "-i", &url, "-map", "0:v:0", "-map", "0:a:0",
            "-f", "null", "-",
        ])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoded = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            &url,
        ])
        .output()
        .expect("ffprobe");
    let secs: f64 = String::from_utf8_lossy(&decoded.stdout)
        .trim()
        .parse()
        .unwrap_or(0.0);
    assert!((secs - 6.0).abs() < 0.5, "ffprobe saw {secs} s");
    let metrics = prem.get("/metrics").body;
    assert!(metrics.contains("streamd_manifests_total{kind=\"variant\"}"));
}

#[test]
fn playlists_are_gzipped_for_clients_that_accept_it() {
    let st = setup();
    let s = Server::start_in(st.dir.path(), &[]);
    let mut prem = signed_in(&s, "prem");
    let master = prem.get(&format!("/stream/{}", st.premium)).body;
    let url = format!("http://{}{}", s.addr, variant_uris(&master)[0]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let res = agent
        .get(&url)
        .header("Accept-Encoding", "gzip")
        .call()
        .expect("get");
    assert_eq!(
        res.headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
}

#[test]
fn tokens_survive_a_key_rotation_until_the_old_key_is_removed() {
    let st = setup();
    let d = st.dir.path();
    let mut s = Server::start_in(d, &[]);
    let mut prem = signed_in(&s, "prem");
    let url = prem
        .get(&format!("/api/v1/movies/{}/playback", st.premium))
        .json()["master_url"]
        .as_str()
        .expect("url")
        .to_string();
    let path = url
        .splitn(4, '/')
        .nth(3)
        .map(|p| format!("/{p}"))
        .expect("path");
    assert!(s.stop().success());

    let keys = d.join("secrets/hmac.keys");
    let old = std::fs::read_to_string(&keys).expect("keys");
    let new_line = format!("newkey {}\n", "ab".repeat(32));
    std::fs::write(&keys, format!("{new_line}{old}")).expect("rotate");
    let mut s = Server::start_in(d, &[]);
    assert_eq!(
        s.client().get(&path).status,
        200,
        "old token verifies with the old key"
    );
    let mut prem = signed_in(&s, "prem");
    let fresh = prem
        .get(&format!("/api/v1/movies/{}/playback", st.premium))
        .json()["master_url"]
        .as_str()
        .expect("url")
        .to_string();
    assert!(
        fresh.contains("token=newkey."),
        "new tokens use the new key: {fresh}"
    );
    assert!(s.stop().success());

    std::fs::write(&keys, &new_line).expect("retire old key");
    let s = Server::start_in(d, &[]);
    let r = s.client().get(&path);
    assert_eq!(r.status, 403);
    assert!(r.body.contains("retired key"), "{}", r.body);
}

#[test]
fn viewers_get_byte_identical_segment_links_within_a_url_window() {
    let st = setup();
    const WINDOW: Duration = Duration::from_secs(3);
    let s = Server::start_in(st.dir.path(), &[("STREAMD_TOKENS_URL_WINDOW", "3s")]);
    let mut prem = signed_in(&s, "prem");
    let mut root = signed_in(&s, "root");
    let links = |c: &mut Client| {
        let master = c.get(&format!("/stream/{}", st.premium)).body;
        let variant = c.get(&variant_uris(&master)[0]).body;
        variant
            .lines()
            .filter(|l| l.starts_with("http") || l.starts_with("#EXT-X-MAP"))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    // Two viewers' playlists differ in their tokens, never in their segment links (unless a
    // window boundary fell between the two fetches: then the next pair agrees).
    let agreed = (0..3).any(|_| {
        let (a, b) = (links(&mut prem), links(&mut root));
        assert!(!a.is_empty());
        a == b
    });
    assert!(
        agreed,
        "two viewers got different segment links within one window"
    );
    let before = links(&mut prem);
    // The clock this test is about: a window later, the next window has begun.
    std::thread::sleep(WINDOW + Duration::from_secs(1));
    let after = links(&mut prem);
    assert_ne!(before, after, "a new window signs new links");
    // Signed at the window's start, valid for the window plus the lifetime.
    let url = after.iter().find(|l| l.starts_with("http")).expect("url");
    let date = url
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("X-Amz-Date="))
        .expect("date");
    let second: u32 = date[13..15].parse().expect("seconds");
    assert_eq!(second % 3, 0, "{date} is not a 3 s window's start");
    assert_eq!(fetch_bytes(url).0, 200);
}

/// One answer read off a connection that may carry more after it.
fn read_answer(
    r: &mut std::io::BufReader<std::net::TcpStream>,
    head_only: bool,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use std::io::BufRead;
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).expect("header");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').expect("header line");
        headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().expect("length"))
        .unwrap_or(0);
    let mut body = vec![0; if head_only { 0 } else { length }];
    r.read_exact(&mut body).expect("body");
    (status, headers, body)
}

#[test]
fn one_connection_carries_objects_by_sendfile_and_everything_else_by_actix() {
    let st = setup();
    let s = Server::start_in(st.dir.path(), &[]);
    let mut root = signed_in(&s, "root");
    let master = root.get(&format!("/stream/{}", st.premium)).body;
    let variant_uri = variant_uris(&master)[0].clone();
    let variant = root.get(&variant_uri).body;
    let origin = format!("http://{}", s.addr);
    let targets: Vec<String> = segment_urls(&variant)
        .iter()
        .map(|u| u.strip_prefix(&origin).expect("same origin").to_string())
        .collect();
    assert!(targets.len() >= 2, "{variant}");
    let (seg1, seg2) = (&targets[0], &targets[1]);
    let bytes1 = fetch_bytes(&format!("{origin}{seg1}")).1;
    let bytes2 = fetch_bytes(&format!("{origin}{seg2}")).1;
    let metric = |c: &mut Client| -> u64 {
        c.get("/metrics")
            .body
            .lines()
            .find_map(|l| l.strip_prefix("streamd_sendfile_bytes_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let sent_before = metric(&mut root);

    let tcp = std::net::TcpStream::connect(s.addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut w = tcp.try_clone().expect("clone");
    let mut r = std::io::BufReader::new(tcp);
    let host = s.addr;
    let get =
        |target: &str, extra: &str| format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n");

    // One at a time: object, playlist (actix), HEAD of an object, a page (actix).
    w.write_all(get(seg1, "").as_bytes()).expect("write");
    let plain = read_answer(&mut r, false);
    assert_eq!((plain.0, &plain.2), (200, &bytes1));
    w.write_all(get(&variant_uri, "").as_bytes())
        .expect("write");
    let playlist = read_answer(&mut r, false);
    assert_eq!(playlist.0, 200);
    assert!(String::from_utf8_lossy(&playlist.2).contains("#EXTM3U"));
    // A HEAD is signed for HEAD (the method is part of the signature).
    let seg1_path = seg1.split('?').next().expect("path");
    let head_target = storage_signer(st.dir.path())
        .batch(
            "HEAD",
            &host.to_string(),
            SystemTime::now(),
            Duration::from_secs(60),
        )
        .signed(seg1_path);
    w.write_all(format!("HEAD {head_target} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .expect("write");
    let head = read_answer(&mut r, true);
    assert_eq!(head.0, 200);
    assert!(
        head.1
            .contains(&("content-length".into(), bytes1.len().to_string()))
    );
    w.write_all(get("/healthz", "").as_bytes()).expect("write");
    assert_eq!(read_answer(&mut r, false).0, 200);

    // Pipelined in one write: object, range (actix), conditional miss (actix), object, page.
    let batch = [
        get(seg2, ""),
        get(seg1, "Range: bytes=0-99\r\n"),
        get(seg1, "If-None-Match: \"not-this-one\"\r\n"),
        get(seg1, ""),
        get("/healthz", ""),
    ]
    .concat();
    w.write_all(batch.as_bytes()).expect("write");
    let a = read_answer(&mut r, false);
    assert_eq!((a.0, &a.2), (200, &bytes2));
    let ranged = read_answer(&mut r, false);
    assert_eq!((ranged.0, &ranged.2[..]), (206, &bytes1[..100]));
    let by_actix = read_answer(&mut r, false);
    assert_eq!((by_actix.0, &by_actix.2), (200, &bytes1));
    let again = read_answer(&mut r, false);
    assert_eq!((again.0, &again.2), (200, &bytes1));
    assert_eq!(read_answer(&mut r, false).0, 200);

    // Whichever path answers, the same headers (the date aside).
    let without_date = |h: &[(String, String)]| {
        let mut h: Vec<_> = h.iter().filter(|(k, _)| k != "date").cloned().collect();
        h.sort();
        h
    };
    assert_eq!(without_date(&plain.1), without_date(&by_actix.1));

    // The plain object requests went by sendfile: 3 GETs' bytes (HEAD sends none).
    let sent = metric(&mut root) - sent_before;
    assert_eq!(sent as usize, 2 * bytes1.len() + bytes2.len());
}

/// Mean luma (full range) of the `w` x `h` picture at (`x`, `y`) of a JPEG.
fn picture_brightness(jpeg: &Path, x: u32, y: u32, w: u32, h: u32) -> f64 {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(jpeg)
        .args([
            "-vf",
            &format!(
                "crop={w}:{h}:{x}:{y},signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-"
            ),
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("lavfi.signalstats.YAVG="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no YAVG: {text} {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn seek_thumbnails_show_the_frame_at_each_slot_and_are_signed_like_segments() {
    let dir = Server::temp_dir();
    let d = dir.path();
    add_user(d, "prem", PW, &["--plan", "premium"]);
    add_user(d, "free", PW, &[]);
    // A picture whose brightness tells the time: 5 luma levels per second, 45 s. Its picture
    // starts 0.04 s after its sound, as in many MKVs: the slots still start at 0. A keyframe
    // every 0.2 s: a slot shows the last keyframe at or before it.
    let src = d.join("clock.mkv");
    let made = std::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-itsoffset",
            "0.04",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg("color=c=black:s=640x360:r=25:d=45,format=yuv420p,geq=lum='T*5':cb=128:cr=128")
        .args(["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo:d=45"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "5",
            "-c:a",
            "aac",
        ])
        .arg(&src)
        .status()
        .expect("ffmpeg");
    assert!(made.success());
    let id = ingest_cli(d, &src, "Clock", "premium", &[]);
    let s = Server::start_in(d, &[]);

    let mut prem = signed_in(&s, "prem");
    let movie = prem.get(&format!("/api/v1/movies/{id}")).json();
    let url = movie["thumbnails_url"]
        .as_str()
        .expect("thumbnails_url")
        .to_string();
    assert!(
        url.starts_with(&s.url(&format!("/stream/{id}/thumbnails.vtt?token="))),
        "{url}"
    );
    let listed = prem.get("/api/v1/movies").json();
    assert!(listed[0]["thumbnails_url"].as_str().is_some(), "{listed}");

    // The track needs no cookie: its token is the permission, as for a variant playlist.
    let track = fetch(&url, &[]);
    assert_eq!(track.status, 200, "{}", track.body);
    assert_eq!(
        track.header("content-type"),
        Some("text/vtt; charset=utf-8")
    );
    assert_eq!(track.header("cache-control"), Some("private, no-store"));
    assert!(track.body.starts_with("WEBVTT\n"));
    let cues: Vec<(&str, &str)> = track
        .body
        .split("\n\n")
        .skip(1)
        .map(|block| {
            let mut lines = block.lines();
            (
                lines.next().expect("timing"),
                lines.next().expect("picture"),
            )
        })
        .collect();
    assert_eq!(
        cues.len(),
        5,
        "one picture per 10 s of 45 s: {}",
        track.body
    );
    assert_eq!(cues[0].0, "00:00:00.000 --> 00:00:10.000");
    assert!(
        cues[4].0.starts_with("00:00:40.000 --> 00:00:4"),
        "{}",
        cues[4].0
    );

    let sprite_url = cues[0].1.split('#').next().expect("url");
    assert!(sprite_url.contains("X-Amz-Signature="), "{sprite_url}");
    assert!(sprite_url.contains(&format!("/movies/{id}/thumbnails/sprite_000.jpg?")));
    let sprite = fetch(sprite_url, &[]);
    assert_eq!(sprite.status, 200);
    assert_eq!(sprite.header("content-type"), Some("image/jpeg"));
    let (_, bytes) = fetch_bytes(sprite_url);
    let jpeg = d.join("sprite.jpg");
    std::fs::write(&jpeg, &bytes).expect("write");
    let shape = common::ffprobe(&jpeg, &["-show_entries", "stream=width,height"]);
    assert_eq!(
        shape["streams"][0]["width"], 3200,
        "10 columns of 320: {shape}"
    );
    assert_eq!(
        shape["streams"][0]["height"], 1800,
        "10 rows of 180: {shape}"
    );
    for (n, (_, picture)) in cues.iter().enumerate() {
        let (_, xywh) = picture.split_once("#xywh=").expect("xywh");
        let v: Vec<u32> = xywh
            .split(',')
            .map(|p| p.parse().expect("number"))
            .collect();
        assert_eq!((v[2], v[3]), (320, 180));
        // The frame at the slot's start (10 n s, luma 50 n in TV range), in the JPEG's full range.
        let want = ((50.0 * n as f64 - 16.0) * 255.0 / 219.0).clamp(0.0, 255.0);
        let got = picture_brightness(&jpeg, v[0], v[1], v[2], v[3]);
        assert!(
            (got - want).abs() < 8.0,
            "picture {n}: brightness {got}, want {want}"
        );
    }

    // Bound to its movie and user, like every stream token; a viewer not entitled gets none.
    let other = url.replace(&format!("/stream/{id}/"), "/stream/AAAAAAAAAAAA/");
    assert!(matches!(fetch(&other, &[]).status, 403 | 404));
    assert_eq!(fetch(&format!("{url}x"), &[]).status, 403);
    let mut free = signed_in(&s, "free");
    assert!(free.get(&format!("/api/v1/movies/{id}")).json()["thumbnails_url"].is_null());
    assert_eq!(
        free.get(&format!("/stream/{id}/thumbnails.vtt")).status,
        403
    );
    assert_eq!(
        s.client()
            .get(&format!("/stream/{id}/thumbnails.vtt"))
            .status,
        401
    );
}
