//! Hostile and careless clients against the real server: refused bodies on keep-alive
//! connections, upload abuse, oversized requests, Slowloris, thousands of idle connections,
//! mutated presigned URLs and stream tokens, and a login storm. Each answer must be a clear
//! 4xx (never a 5xx, a hang or a panic), nothing may be published or left behind, and the
//! server must go on serving.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    Client, Raw, Server, add_user, cli_env, make_source, multipart, read_response, stderr, stdout,
};

const PW: &str = "correct horse battery";

/// A tiny deterministic PRNG (xorshift64*), so a failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One HTTP/1.1 response read off a raw socket: status, lower-cased headers, body.
fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s
}

/// Sends raw bytes on a fresh connection and reads one response.
fn raw_request(addr: SocketAddr, bytes: &[u8]) -> Raw {
    let mut s = connect(addr);
    s.write_all(bytes).expect("write");
    read_response(&mut s).expect("response")
}

fn admin(s: &Server) -> Client {
    let mut c = s.client();
    assert_eq!(c.login("root", PW).status, 200);
    c
}

fn cookie_of(c: &Client) -> String {
    c.cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A multipart form field: name, file name (for the file), content.
type Field<'a> = (&'a str, Option<&'a str>, &'a [u8]);

fn upload_request(
    addr: SocketAddr,
    cookie: &str,
    fields: &[(&str, Option<&str>, &[u8])],
) -> Vec<u8> {
    let (content_type, body) = multipart(fields);
    let mut req = format!(
        "POST /api/v1/movies HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    req
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join("uploads"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn published(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("objects/media/movies"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn refused_uploads_leave_keep_alive_clients_a_usable_or_announced_connection() {
    let dir = Server::temp_dir();
    let d = dir.path();
    add_user(d, "root", PW, &["--admin"]);
    let s = Server::start_in(d, &[]);
    let cookie = cookie_of(&admin(&s));
    let big = vec![7u8; 2 * 1024 * 1024];
    let cases: Vec<(&str, Vec<Field>)> = vec![
        (
            "tier=gold before the file",
            vec![
                ("title", None, b"Gold"),
                ("tier", None, b"gold"),
                ("file", Some("a.mp4"), &big),
            ],
        ),
        ("no title", vec![("file", Some("a.mp4"), &big)]),
        ("no file", vec![("title", None, b"Nothing")]),
    ];
    for (what, fields) in cases {
        let mut sock = connect(s.addr);
        sock.write_all(&upload_request(s.addr, &cookie, &fields))
            .expect("write");
        let first = read_response(&mut sock).expect(what);
        assert_eq!(
            first.status,
            400,
            "{what}: {}",
            String::from_utf8_lossy(&first.body)
        );
        if first.header("connection") == Some("close") {
            // Announced: the client opens a new connection, as it should.
            continue;
        }
        // Not announced: the connection must still answer the next request.
        let next = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr);
        let reused = sock
            .write_all(next.as_bytes())
            .and_then(|_| read_response(&mut sock));
        match reused {
            Ok(r) => assert_eq!(r.status, 200, "{what}"),
            Err(e) => {
                panic!("{what}: 400 without Connection: close, then the next request failed: {e}")
            }
        }
    }
    assert!(leftovers(d).is_empty(), "{:?}", leftovers(d));
}

#[test]
fn upload_abuse_gets_a_clear_4xx_and_leaves_nothing_behind() {
    let dir = Server::temp_dir();
    let d = dir.path();
    add_user(d, "root", PW, &["--admin"]);
    let good = make_source(d, "good.mp4", "testsrc2=size=320x240:rate=25", 2, true, &[]);
    let bytes = std::fs::read(&good).expect("read");
    std::fs::remove_file(&good).expect("rm");
    let s = Server::start_in(d, &[("STREAMD_TRANSCODE_MAX_UPLOAD", "1MiB")]);
    let cookie = cookie_of(&admin(&s));
    let mut rng = Rng(0x5eed_0001);
    let random: Vec<u8> = (0..300_000).map(|_| rng.next() as u8).collect();
    let over = vec![0u8; 1536 * 1024];
    let long_title = "T".repeat(5000);
    let truncated = &bytes[..bytes.len() / 3];
    let cases: Vec<(&str, u16, &str, Vec<Field>)> = vec![
        (
            "zero bytes",
            400,
            "empty",
            vec![("title", None, b"Zero"), ("file", Some("z.mp4"), b"")],
        ),
        ("no file", 400, "file", vec![("title", None, b"Nothing")]),
        (
            "no title",
            400,
            "title",
            vec![("file", Some("a.mp4"), &bytes)],
        ),
        (
            "huge title",
            400,
            "",
            vec![
                ("title", None, long_title.as_bytes()),
                ("file", Some("a.mp4"), &bytes),
            ],
        ),
        (
            "over max_upload",
            413,
            "upload limit",
            vec![("title", None, b"Big"), ("file", Some("b.mp4"), &over)],
        ),
        (
            "bad tier",
            400,
            "",
            vec![("title", None, b"T"), ("tier", None, b"gold")],
        ),
    ];
    for (what, status, says, fields) in cases {
        let r = raw_request(s.addr, &upload_request(s.addr, &cookie, &fields));
        let body = String::from_utf8_lossy(&r.body).to_string();
        assert_eq!(r.status, status, "{what}: {body}");
        let v: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: {body}"));
        let message = v["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(says), "{what}: {message}");
        assert!(leftovers(d).is_empty(), "{what} left {:?}", leftovers(d));
    }
    // Not multipart at all (a JSON body, or multipart without its boundary): a 4xx, and the
    // server goes on (the multipart reader panicked when polled after such a start).
    for content_type in ["application/json", "multipart/form-data"] {
        let body = br#"{"title":"not a form"}"#;
        let mut req = format!(
            "POST /api/v1/movies HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            s.addr,
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        let r = raw_request(s.addr, &req);
        assert_eq!(
            r.status,
            400,
            "{content_type}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    // Content ffprobe cannot read is the job's failure, as the contract has it: 202, then the
    // movie fails with ffprobe's reason, publishes nothing and its upload is removed.
    let mut c = admin(&s);
    for (what, content) in [("random bytes", &random[..]), ("truncated", truncated)] {
        let r = raw_request(
            s.addr,
            &upload_request(
                s.addr,
                &cookie,
                &[("title", None, b"Bad"), ("file", Some("x.mp4"), content)],
            ),
        );
        assert_eq!(
            r.status,
            202,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        let id = v["id"].as_str().expect("id").to_string();
        // Only ffprobe runs on it: a bound for a hang, not for an encode.
        let m = common::wait_for(120, "the job to fail", || {
            let m = c.get(&format!("/api/v1/movies/{id}")).json();
            common::when(m["status"] == "failed", m.clone(), m)
        });
        assert!(
            m["error"].as_str().unwrap_or("").contains("ffprobe"),
            "{what}: {m}"
        );
        assert!(leftovers(d).is_empty(), "{what} left {:?}", leftovers(d));
        assert_eq!(c.delete(&format!("/api/v1/movies/{id}")).status, 204);
    }
    // A body cut off mid-stream (the client goes away): nothing kept either.
    let full = upload_request(
        s.addr,
        &cookie,
        &[("title", None, b"Gone"), ("file", Some("g.mp4"), &bytes)],
    );
    {
        let mut sock = connect(s.addr);
        sock.write_all(&full[..full.len() / 2]).expect("write");
    }
    // The server sees the connection end at once: a bound for a hang.
    common::wait_for(60, "the cut-off upload's file to go", || {
        let left = leftovers(d);
        common::when(left.is_empty(), (), format!("left: {left:?}"))
    });
    let movies = admin(&s).get("/api/v1/movies").json();
    assert_eq!(movies.as_array().map(Vec::len), Some(0), "{movies}");
    assert_eq!(published(d), 0);
    let (_, log) = {
        let mut s = s;
        s.stop_with_stderr()
    };
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn oversized_uris_headers_and_bodies_get_414_431_and_413() {
    let s = Server::start();
    let long_query = "a".repeat(12 * 1024);
    for (path, s3) in [
        (
            format!("/s3/media/movies/x/seg.m4s?X-Amz-Date={long_query}"),
            true,
        ),
        (format!("/api/v1/movies?q={long_query}"), false),
        (format!("/stream/abc?token={long_query}"), false),
    ] {
        let r = raw_request(
            s.addr,
            format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).as_bytes(),
        );
        let body = String::from_utf8_lossy(&r.body);
        assert_eq!(r.status, 414, "{}", &path[..30]);
        assert_eq!(r.header("connection"), Some("close"));
        if s3 {
            assert!(body.contains("<Code>RequestURITooLong</Code>"), "{body}");
        } else {
            assert!(body.contains("uri_too_long"), "{body}");
        }
    }
    let big_header = "b".repeat(20 * 1024);
    for path in ["/s3/media/k", "/healthz"] {
        let r = raw_request(
            s.addr,
            format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nX-Filler: {big_header}\r\n\r\n",
                s.addr
            )
            .as_bytes(),
        );
        assert_eq!(r.status, 431, "{path}");
    }
    // Far past what actix parses at all (64 KiB, 128 KiB): still 414, with S3's XML.
    for size in [100 * 1024, 200 * 1024] {
        let target = format!("/s3/media/k?x={}", "c".repeat(size));
        let r = raw_request(
            s.addr,
            format!("GET {target} HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).as_bytes(),
        );
        assert_eq!(r.status, 414, "{size}");
        assert!(String::from_utf8_lossy(&r.body).contains("<Code>RequestURITooLong</Code>"));
        let r = raw_request(
            s.addr,
            format!(
                "GET /healthz?{} HTTP/1.1\r\nHost: x\r\n\r\n",
                "d".repeat(size)
            )
            .as_bytes(),
        );
        assert_eq!(r.status, 414, "{size}");
        assert!(String::from_utf8_lossy(&r.body).contains("uri_too_long"));
    }
    // Bodies over the JSON and form limits.
    let mut c = s.client();
    let huge = serde_json::json!({"username": "x".repeat(40_000), "password": "y"});
    assert_eq!(c.post_json("/api/v1/login", &huge).status, 413);
    let form = vec![("username", "u"), ("password", "p")];
    let mut fields: Vec<(&str, &str)> = form.clone();
    let filler = "z".repeat(40_000);
    fields.push(("filler", &filler));
    assert_eq!(c.post_form("/login", &fields).status, 413);
    assert_eq!(s.client().get("/healthz").status, 200);
}

#[test]
fn a_request_line_too_long_gets_414_on_a_kept_alive_connection_too() {
    let s = Server::start();
    let mut sock = connect(s.addr);
    for size in [20 * 1024, 100 * 1024] {
        sock.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).as_bytes())
            .expect("write");
        assert_eq!(read_response(&mut sock).expect("first").status, 200);
        let target = format!("/s3/media/k?x={}", "c".repeat(size));
        sock.write_all(format!("GET {target} HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).as_bytes())
            .expect("write");
        let r = read_response(&mut sock).expect("414");
        assert_eq!(r.status, 414, "{size}");
        assert!(String::from_utf8_lossy(&r.body).contains("<Code>RequestURITooLong</Code>"));
        sock = connect(s.addr);
    }
}

#[test]
fn a_body_refused_from_its_length_alone_is_answered_not_reset() {
    let s = Server::start();
    // 4 MiB of JSON to the login: refused (413) from its Content-Length before a byte of it
    // is read. A client that sends it all before reading must still get the 413, not a reset.
    for _ in 0..3 {
        let body = format!(
            "{{\"username\":\"{}\",\"password\":\"x\"}}",
            "u".repeat(4 << 20)
        );
        let mut sock = connect(s.addr);
        let head = format!(
            "POST /api/v1/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            s.addr,
            body.len()
        );
        sock.write_all(head.as_bytes()).expect("head");
        sock.write_all(body.as_bytes())
            .expect("the server read (and dropped) the refused body");
        let r = read_response(&mut sock).expect("an answer, not a reset");
        assert_eq!(r.status, 413);
        assert_eq!(r.header("connection"), Some("close"));
    }
    assert_eq!(s.client().get("/healthz").status, 200);
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

fn server_pid(dir: &Path) -> u32 {
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("server.json")).expect("server.json"),
    )
    .expect("json");
    v["pid"].as_u64().expect("pid") as u32
}

#[test]
fn slowloris_sockets_are_closed_after_the_request_timeout_and_others_are_served() {
    let dir = Server::temp_dir();
    let s = Server::start_in(dir.path(), &[("STREAMD_SERVER_REQUEST_TIMEOUT", "2s")]);
    let sockets: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut t = connect(s.addr);
            t.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .expect("write");
            t.set_nonblocking(true).expect("nonblocking");
            t
        })
        .collect();
    let mut open: Vec<Option<TcpStream>> = sockets.into_iter().map(Some).collect();
    let started = Instant::now();
    let mut served_meanwhile = 0;
    // Trickle a header line every 300 ms on every socket for as long as it stays open,
    // well past the timeout; count the ones the server ends.
    while open.iter().any(Option::is_some) && started.elapsed() < Duration::from_secs(30) {
        for slot in open.iter_mut() {
            let Some(sock) = slot else { continue };
            let mut buf = [0u8; 512];
            let closed = match sock.read(&mut buf) {
                Ok(_) => true, // 408, or EOF
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
                Err(_) => true,
            };
            if closed || sock.write_all(b"X-Slow: 1\r\n").is_err() {
                *slot = None;
            }
        }
        if s.client().get("/healthz").status == 200 {
            served_meanwhile += 1;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let still_open = open.iter().filter(|o| o.is_some()).count();
    assert_eq!(
        still_open, 0,
        "{still_open} of 300 trickling sockets still open after 30 s"
    );
    assert!(served_meanwhile > 0, "the server stopped answering others");
}

#[test]
fn two_thousand_idle_keep_alive_connections_cost_bounded_memory() {
    let dir = Server::temp_dir();
    let s = Server::start_in(dir.path(), &[]);
    let pid = server_pid(dir.path());
    for _ in 0..20 {
        assert_eq!(s.client().get("/healthz").status, 200);
    }
    let before = rss_kb(pid);
    let mut idle = Vec::new();
    for _ in 0..2000 {
        let mut t = connect(s.addr);
        t.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).as_bytes())
            .expect("write");
        assert_eq!(read_response(&mut t).expect("response").status, 200);
        idle.push(t);
    }
    let during = rss_kb(pid);
    assert_eq!(s.client().get("/healthz").status, 200, "still serving");
    // They are still open (keep-alive), and each costs little.
    let mut probe = idle.pop().expect("one");
    probe
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).as_bytes())
        .expect("write");
    assert_eq!(read_response(&mut probe).expect("reused").status, 200);
    let grown_mb = during.saturating_sub(before) as f64 / 1024.0;
    eprintln!(
        "RSS {before} kB idle, {during} kB with 2,000 idle keep-alive connections (+{grown_mb:.1} MB)"
    );
    assert!(
        grown_mb < 64.0,
        "2,000 idle connections grew RSS by {grown_mb:.1} MB"
    );
}

fn ingest(dir: &Path) -> String {
    let src = make_source(
        dir,
        "src.mp4",
        "testsrc2=size=640x360:rate=25",
        4,
        true,
        &[],
    );
    let out = cli_env(
        dir,
        &[
            "ingest",
            src.to_str().expect("utf8"),
            "--title",
            "Target",
            "--json",
        ],
        &[
            ("STREAMD_TRANSCODE_PRESET", "ultrafast"),
            ("STREAMD_TRANSCODE_RENDITIONS", "[\"480p\"]"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    v["id"].as_str().expect("id").to_string()
}

/// One mutation of `text`: flip, insert, delete, duplicate a parameter, change case,
/// percent-encode, or splice in something hostile.
fn mutate(text: &str, rng: &mut Rng) -> String {
    const NASTY: &[&str] = &[
        "%00",
        "%2e%2e/",
        "../",
        "%",
        "%zz",
        "&",
        "=",
        "+",
        " ",
        "\u{e9}",
        "%C3%A9",
        "//",
        "?",
        "#",
        "X-Amz-Signature=",
        "X-Amz-Expires=604801",
        "X-Amz-Expires=-1",
        "99999999999999999999",
        "\\",
        ";",
        "%252e",
    ];
    let mut bytes: Vec<char> = text.chars().collect();
    match rng.below(8) {
        0 => {
            let i = rng.below(bytes.len());
            let c = b"0123456789abcdefABCDEF-_.~XZ"[rng.below(28)] as char;
            bytes[i] = c;
        }
        1 => {
            let i = rng.below(bytes.len());
            bytes.remove(i);
        }
        2 => {
            let i = rng.below(bytes.len() + 1);
            for c in NASTY[rng.below(NASTY.len())].chars().rev() {
                bytes.insert(i, c);
            }
        }
        3 => {
            let i = rng.below(bytes.len());
            bytes.truncate(i);
        }
        4 => {
            let i = rng.below(bytes.len());
            bytes[i] = if bytes[i].is_ascii_uppercase() {
                bytes[i].to_ascii_lowercase()
            } else {
                bytes[i].to_ascii_uppercase()
            };
        }
        5 => {
            // Duplicate one `&`-separated piece of the query.
            let s: String = bytes.iter().collect();
            if let Some((head, query)) = s.split_once('?') {
                let parts: Vec<&str> = query.split('&').collect();
                let dup = parts[rng.below(parts.len())];
                return format!("{head}?{query}&{dup}");
            }
        }
        6 => {
            let i = rng.below(bytes.len());
            let c = bytes[i];
            if c.is_ascii() {
                let enc: Vec<char> = format!("%{:02X}", c as u32).chars().collect();
                bytes.splice(i..=i, enc);
            }
        }
        _ => {
            let a = rng.below(bytes.len());
            let b = rng.below(bytes.len());
            bytes.swap(a, b);
        }
    }
    bytes.into_iter().collect()
}

fn status_of(agent: &ureq::Agent, url: &str) -> (u16, Vec<u8>) {
    let result = agent.get(url).call();
    let previous = LAST.with(|l| l.replace(url.to_string()));
    match result {
        Ok(mut r) => {
            let status = r.status().as_u16();
            let mut body = Vec::new();
            let _ = r.body_mut().as_reader().read_to_end(&mut body);
            (status, body)
        }
        // URLs ureq itself refuses to send (not valid URIs) never reach the server.
        Err(ureq::Error::Http(_)) | Err(ureq::Error::BadUri(_)) => (0, Vec::new()),
        Err(e) => panic!("{url}: {e} (after {previous})"),
    }
}

thread_local! {
    static LAST: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

#[test]
fn mutated_presigned_urls_and_stream_tokens_get_only_4xx() {
    let dir = Server::temp_dir();
    let d = dir.path();
    add_user(d, "root", PW, &["--admin"]);
    let id = ingest(d);
    let s = Server::start_in(d, &[]);
    let mut c = admin(&s);
    let master = c.get(&format!("/stream/{id}")).body;
    let variant_uri = master
        .lines()
        .find(|l| l.starts_with("/stream/"))
        .unwrap_or_else(|| panic!("no variant in {master}"))
        .to_string();
    let variant = c.get(&variant_uri).body;
    let segment = variant
        .lines()
        .find(|l| l.starts_with("http") && l.contains("seg_"))
        .expect("segment")
        .to_string();
    // A connection per request: actix answers a request line it cannot parse (raw non-ASCII
    // bytes, say) with 400 and closes without `Connection: close`, so a pooled connection
    // would fail the *next* mutation instead of this one.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections(0)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let (status, original) = status_of(&agent, &segment);
    assert_eq!(status, 200);

    let mut rng = Rng(0x5eed_0002);
    let mut counts = std::collections::BTreeMap::new();
    let origin = format!("http://{}", s.addr);
    let target = segment.strip_prefix(&origin).expect("our store");
    for _ in 0..3000 {
        let mutated = mutate(target, &mut rng);
        let slash = if mutated.starts_with('/') { "" } else { "/" };
        let url = format!("{origin}{slash}{mutated}");
        let (status, body) = status_of(&agent, &url);
        *counts.entry(status).or_insert(0) += 1;
        let in_store = mutated.starts_with("/s3/");
        match status {
            0 | 400 | 403 | 404 | 405 => {}
            // Only a spelling of the same request may open it (a percent-encoded unreserved
            // character in the path, say), and then only the same object.
            200 | 206 if in_store => assert!(body == original, "{url} opened something else"),
            // A mutation that left the store (`/s3/` -> `/?3/`) reached a page: fine, not 5xx.
            other if !in_store && other < 500 => {}
            other => panic!("{url}: {other}"),
        }
    }
    eprintln!("3,000 mutated presigned URLs: {counts:?}");

    let (path, query) = variant_uri.split_once("?token=").expect("token");
    // The token alone is mutated; what follows it (`&play=`, the playback it belongs to) stays.
    let (token, rest) = query.split_once('&').unwrap_or((query, ""));
    let rest = if rest.is_empty() {
        String::new()
    } else {
        format!("&{rest}")
    };
    let base = format!("http://{}{path}", s.addr);
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..500 {
        let t = mutate(token, &mut rng);
        let url = format!("{base}?token={t}{rest}");
        let (status, _) = status_of(&agent, &url);
        *counts.entry(status).or_insert(0) += 1;
        match status {
            0 | 400 | 401 | 403 | 404 => {}
            // Percent-encoding in the URL is the URL's business: what reaches the token
            // parser must be the token, byte for byte.
            200 => {
                let decoded = streamd::media::sigv4::percent_decode(&t)
                    .map(|b| String::from_utf8_lossy(&b).to_string());
                assert_eq!(
                    decoded.as_deref(),
                    Some(token),
                    "a second spelling of the token was accepted: {t}"
                );
            }
            other => panic!("{url}: {other}"),
        }
    }
    eprintln!("500 mutated stream tokens: {counts:?}");
    assert_eq!(s.client().get("/healthz").status, 200);
}

#[test]
fn a_login_storm_gets_only_401_or_429_and_leaves_memory_where_it_was() {
    let dir = Server::temp_dir();
    let d = dir.path();
    add_user(d, "root", PW, &["--admin"]);
    let s = Server::start_in(d, &[("STREAMD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE", "100000")]);
    let pid = server_pid(d);
    assert_eq!(s.client().get("/healthz").status, 200);
    let idle = rss_kb(pid);
    let addr = s.addr;
    let storm = |round: usize| {
        let threads: Vec<_> = (0..50)
            .map(|i| {
                std::thread::spawn(move || {
                    let mut c = Client::new(addr);
                    c.login(&format!("user{round}x{i}"), "wrong password!")
                        .status
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect::<Vec<u16>>()
    };
    let mut statuses = Vec::new();
    for round in 0..2 {
        statuses.extend(storm(round));
    }
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert!(statuses.contains(&401));
    // The right password still works after the storm.
    assert_eq!(s.client().login("root", PW).status, 200);
    let after = rss_kb(pid);
    // One 19 MiB argon2 buffer per hashing thread, kept; a few MB for the rest.
    let buffers = streamd::auth::password::pool_size() as u64;
    let bound = idle + buffers * 19 * 1024 + 5 * 1024;
    eprintln!("RSS idle {idle} kB, after 101 sign-ins {after} kB (bound {bound} kB)");
    assert!(
        after <= bound,
        "RSS {after} kB after the storm, idle {idle} kB"
    );
}

#[test]
fn a_slow_reader_keeps_its_connection_for_the_next_segment() {
    let dir = Server::temp_dir();
    let d = dir.path();
    add_user(d, "root", PW, &["--admin"]);
    let id = ingest(d);
    let s = Server::start_in(d, &[]);
    let mut c = admin(&s);
    let master = c.get(&format!("/stream/{id}")).body;
    let variant_uri = master
        .lines()
        .find(|l| l.starts_with("/stream/"))
        .expect("variant")
        .to_string();
    let variant = c.get(&variant_uri).body;
    let origin = format!("http://{}", s.addr);
    let targets: Vec<String> = variant
        .lines()
        .filter(|l| l.starts_with(&origin) && l.contains("seg_"))
        .map(|l| l[origin.len()..].to_string())
        .collect();
    assert!(!targets.is_empty(), "{variant}");
    let mut sock = connect(s.addr);
    sock.write_all(format!("GET {} HTTP/1.1\r\nHost: {}\r\n\r\n", targets[0], s.addr).as_bytes())
        .expect("write");
    // A player on a slow link: a little now, the rest much later. The clock this test is
    // about: the pause outlasts actix's default keep-alive (5 s), which must not apply to a
    // response still being read, and stays well inside streamd's (`server.keep_alive`, 60 s).
    const ACTIX_DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(5);
    let mut first = [0u8; 1024];
    let n = sock.read(&mut first).expect("first bytes");
    assert!(n > 0);
    std::thread::sleep(ACTIX_DEFAULT_KEEP_ALIVE + Duration::from_secs(2));
    let mut rest = Vec::new();
    let head_end = first[..n]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head in the first read")
        + 4;
    let head = String::from_utf8_lossy(&first[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("content-length");
    rest.extend_from_slice(&first[head_end..n]);
    let mut chunk = [0u8; 65536];
    while rest.len() < length {
        let got = sock.read(&mut chunk).expect("body");
        assert!(got > 0, "closed mid-body");
        rest.extend_from_slice(&chunk[..got]);
    }
    // The next request (the same segment will do), on the same connection.
    sock.write_all(format!("GET {} HTTP/1.1\r\nHost: {}\r\n\r\n", targets[0], s.addr).as_bytes())
        .expect("write the next request");
    let next = read_response(&mut sock).expect("the connection was kept for the next segment");
    assert_eq!(next.status, 200);
    assert!(!next.body.is_empty());
}
