//! Secrets hygiene (issue 10): one server logging at `debug` through a whole session (users
//! created, logins right and wrong, a password changed, an upload ingested, playlists and
//! segments fetched through their signed URLs, forged tokens and signatures, refused uploads);
//! every secret issued or used on the way (passwords, session ids, CSRF tokens, stream tokens,
//! `X-Amz-Signature`s, the store's secret key, the HMAC keys, the CLI's admin secret) is
//! collected, and none may appear in what the server logged.

mod common;

use std::path::Path;

use common::{Client, Server, Work, add_user, cli, make_source, multipart, stderr, wait_for, when};

const ROOT_PW: &str = "root pass Zq7-unusual";
const VIEWER_PW_OLD: &str = "viewer first Kx3-pass";
const VIEWER_PW: &str = "viewer second Wm9-pass";
const WRONG_PW: &str = "wrong guess Pt4-never";

/// (what it is, its value): every secret the session met.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    fn add(&mut self, what: impl Into<String>, value: &str) {
        let value = value.trim();
        assert!(value.len() >= 8, "too short to be a secret: {value:?}");
        if !self.0.iter().any(|(_, v)| v == value) {
            self.0.push((what.into(), value.to_string()));
        }
    }

    fn cookie(&mut self, c: &Client, name: &str) {
        let v = c
            .cookies
            .get(name)
            .unwrap_or_else(|| panic!("no {name} cookie"))
            .clone();
        self.add(format!("{name} cookie"), &v);
    }

    fn count(&self, prefix: &str) -> usize {
        self.0.iter().filter(|(w, _)| w.starts_with(prefix)).count()
    }
}

/// Decodes `%XX` escapes (query values as they sit in a URL).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every value of query parameter `name` in `text` (playlists, JSON, URLs).
fn query_values(text: &str, name: &str) -> Vec<String> {
    let key = format!("{name}=");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(&key) {
        let before = rest[..i].chars().last();
        rest = &rest[i + key.len()..];
        if !matches!(before, Some('?') | Some('&')) {
            continue;
        }
        let end = rest
            .find(|c: char| c == '&' || c == '"' || c == '\'' || c.is_whitespace())
            .unwrap_or(rest.len());
        out.push(rest[..end].to_string());
    }
    out
}

/// Relative or absolute URIs a playlist names: its lines, and `URI="..."` attributes.
fn playlist_uris(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        if !line.starts_with('#') && !line.trim().is_empty() {
            out.push(line.trim().to_string());
        }
        if let Some(i) = line.find("URI=\"") {
            let rest = &line[i + 5..];
            out.push(rest.split('"').next().unwrap_or("").to_string());
        }
    }
    out
}

/// A cookie-less GET of an absolute URL, as a player fetches a chunk or a playback link.
fn fetch(url: &str) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut res = agent.get(url).call().expect("request");
    let status = res.status().as_u16();
    let body = res.body_mut().read_to_vec().unwrap_or_default();
    (status, body)
}

/// The same string with its last character changed (still of the same alphabet).
fn tamper(s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let last = chars.last_mut().expect("non-empty");
    *last = match *last {
        '0' => '1',
        'a' => 'b',
        'A' => 'B',
        _ => '0',
    };
    chars.into_iter().collect()
}

fn upload(c: &mut Client, title: &str, file: Option<&[u8]>) -> common::Reply {
    let mut fields: Vec<(&str, Option<&str>, &[u8])> =
        vec![("title", None, title.as_bytes()), ("tier", None, b"free")];
    if let Some(bytes) = file {
        fields.push(("file", Some("clip.mp4"), bytes));
    }
    let (ct, body) = multipart(&fields);
    c.post_raw("/api/v1/movies", &ct, &body)
}

/// Secrets on disk: the HMAC keys, the store's secret key, the CLI's admin secret.
fn file_secrets(dir: &Path, secrets: &mut Secrets) {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join("secrets").join(name))
            .unwrap_or_else(|e| panic!("secrets/{name}: {e}"))
    };
    for line in read("hmac.keys").lines().filter(|l| !l.trim().is_empty()) {
        let hex = line.split_whitespace().nth(1).expect("KEY_ID HEX_KEY");
        secrets.add("HMAC key (hex)", hex);
        secrets.add("HMAC key (upper-case hex)", &hex.to_uppercase());
        // As a byte slice would print in a Debug dump: "[18, 52, 86, ...".
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
            .collect();
        let debug = format!("{:?}", &bytes[..8]);
        secrets.add("HMAC key (as bytes)", debug.trim_end_matches(']'));
    }
    let creds = read("storage.credentials");
    let secret_key = creds.split_whitespace().nth(1).expect("ACCESS SECRET");
    secrets.add("storage secret key", secret_key);
    secrets.add("CLI admin secret", &read("admin.secret"));
}

/// Every log file the server may have written in its data dir besides stderr.
fn log_files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "log" || x == "txt" || x == "out")
            {
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap_or_default()).into();
                out.push((p.display().to_string(), text));
            }
        }
    }
    out
}

#[test]
fn no_secret_issued_during_a_full_session_appears_in_the_logs() {
    let tmp = Server::temp_dir();
    let dir = tmp.path().join("data");
    let src = make_source(
        tmp.path(),
        "clip.mp4",
        "testsrc2=size=320x240:rate=25",
        3,
        true,
        &[],
    );
    let mut server = Server::start_in(
        &dir,
        &[
            ("STREAMD_LOG", "debug"),
            ("STREAMD_TRANSCODE_PRESET", "ultrafast"),
            ("STREAMD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE", "100"),
        ],
    );
    let mut secrets = Secrets::default();
    for (what, pw) in [
        ("root password", ROOT_PW),
        ("viewer's first password", VIEWER_PW_OLD),
        ("viewer's password", VIEWER_PW),
        ("a wrong password", WRONG_PW),
    ] {
        secrets.add(what, pw);
    }

    // An admin made with the CLI through the running server (authenticated by admin.secret).
    add_user(&dir, "root", ROOT_PW, &["--admin"]);
    let mut admin = server.client();
    assert_eq!(admin.login("root", WRONG_PW).status, 401);
    assert_eq!(admin.login("root", ROOT_PW).status, 200);
    secrets.cookie(&admin, "streamd_session");

    // A viewer made on the admin page's form, then given a new password by the CLI.
    let page = admin.get("/admin");
    assert_eq!(page.status, 200);
    let csrf = admin.csrf_from(&page.body);
    secrets.add("admin page CSRF token", &csrf);
    secrets.cookie(&admin, "streamd_csrf");
    let r = admin.post_form(
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("name", "viewer"),
            ("password", VIEWER_PW_OLD),
            ("plan", "free"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let out = cli(
        &dir,
        &["user", "passwd", "viewer", "--password-stdin"],
        Some(&format!("{VIEWER_PW}\n")),
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // The viewer signs in on the login form: the old password first, then the right one.
    let mut viewer = server.client();
    let page = viewer.get("/login");
    let csrf = viewer.csrf_from(&page.body);
    secrets.add("login page CSRF token", &csrf);
    secrets.cookie(&viewer, "streamd_csrf");
    let r = viewer.post_form(
        "/login",
        &[
            ("username", "viewer"),
            ("password", VIEWER_PW_OLD),
            ("csrf", &csrf),
        ],
    );
    assert_eq!(r.status, 401);
    let r = viewer.post_form(
        "/login",
        &[
            ("username", "viewer"),
            ("password", VIEWER_PW),
            ("csrf", &csrf),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    secrets.cookie(&viewer, "streamd_session");
    let home = viewer.get("/");
    assert_eq!(home.status, 200);
    secrets.add("catalog page CSRF token", &viewer.csrf_from(&home.body));

    // An upload ingested, and three refused.
    let bytes = std::fs::read(&src).expect("source");
    let r = upload(&mut admin, "Secret clip", Some(&bytes));
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["id"].as_str().expect("id").to_string();
    assert_eq!(upload(&mut viewer, "Not yours", Some(&bytes)).status, 403);
    assert_eq!(upload(&mut admin, "No file", None).status, 400);
    assert_eq!(upload(&mut admin, "Empty", Some(b"")).status, 400);
    let budget = Work::of(&src).whole("ultrafast");
    let m = wait_for(budget, "the upload to be ingested", || {
        let m = admin.get(&format!("/api/v1/movies/{id}")).json();
        let done = m["status"] == "ready" || m["status"] == "failed";
        when(done, m.clone(), m)
    });
    assert_eq!(m["status"], "ready", "{m}");

    // The master, a variant, the init and a segment through their signed URLs.
    let master = viewer.get(&format!("/stream/{id}"));
    assert_eq!(master.status, 200, "{}", master.body);
    for t in query_values(&master.body, "token") {
        secrets.add("stream token (master)", &t);
    }
    let variants: Vec<String> = playlist_uris(&master.body)
        .into_iter()
        .filter(|u| u.contains("token="))
        .collect();
    assert!(!variants.is_empty(), "{}", master.body);
    let mut fetched = 0;
    for v in &variants {
        let r = viewer.get(v);
        assert_eq!(r.status, 200, "{v}: {}", r.body);
        for s in query_values(&r.body, "X-Amz-Signature") {
            secrets.add("X-Amz-Signature", &s);
        }
        let urls: Vec<String> = playlist_uris(&r.body)
            .into_iter()
            .filter(|u| u.starts_with("http"))
            .collect();
        assert!(urls.len() >= 2, "init and segments: {}", r.body);
        for u in urls.iter().take(2) {
            let (status, body) = fetch(u);
            assert_eq!(status, 200, "{u}");
            assert!(!body.is_empty());
            fetched += 1;
        }
        // A forged signature on a real object.
        let first = &urls[0];
        let sig = query_values(first, "X-Amz-Signature")
            .pop()
            .expect("signature");
        let forged = first.replace(&sig, &tamper(&sig));
        let (status, _) = fetch(&forged);
        assert_eq!(status, 403, "{forged}");
    }
    // A forged stream token on a variant and on the master.
    let v = &variants[0];
    let token = query_values(v, "token").pop().expect("token");
    let r = viewer.get(&v.replace(&token, &tamper(&token)));
    assert_eq!(r.status, 403, "{}", r.body);
    let (status, _) = fetch(&server.url(&format!("/stream/{id}?token={}", tamper(&token))));
    assert_eq!(status, 403);

    // The playback link for VLC: a token that needs no cookie.
    let link = viewer.get(&format!("/api/v1/movies/{id}/playback"));
    assert_eq!(link.status, 200, "{}", link.body);
    let url = link.json()["master_url"]
        .as_str()
        .expect("master_url")
        .to_string();
    for t in query_values(&url, "token") {
        secrets.add("stream token (playback link)", &t);
    }
    let (status, body) = fetch(&url);
    assert_eq!(status, 200, "{url}");
    for t in query_values(&String::from_utf8_lossy(&body), "token") {
        secrets.add("stream token (playback master)", &t);
    }
    let (status, _) = fetch(&url.replace(
        &query_values(&url, "token")[0],
        &tamper(&query_values(&url, "token")[0]),
    ));
    assert_eq!(status, 403);

    // Signed out: the session is ended on the server.
    assert_eq!(
        viewer
            .post_json("/api/v1/logout", &serde_json::json!({}))
            .status,
        204
    );

    file_secrets(&dir, &mut secrets);
    let (status, stderr_log) = server.stop_with_stderr();
    assert!(status.success(), "{status}");
    let mut logs = vec![("stderr".to_string(), stderr_log)];
    logs.extend(log_files(&dir));

    // Not vacuous: the session happened, and the log saw it at debug level.
    let all: String = logs.iter().map(|(_, t)| t.as_str()).collect();
    for expected in [
        "login user=root",
        "login user=viewer",
        id.as_str(),
        "upload queued",
        "ingest started",
        "route=/s3/",
        "status=403",
    ] {
        assert!(
            all.contains(expected),
            "the log mentions {expected:?}:\n{all}"
        );
    }
    assert!(
        secrets.count("stream token") >= 2
            && secrets.count("X-Amz-Signature") >= 4
            && secrets.count("streamd_session") == 2,
        "every kind of secret was collected: {:?}",
        secrets.0.iter().map(|(w, _)| w).collect::<Vec<_>>()
    );
    assert!(fetched >= 2);

    let mut leaks = Vec::new();
    for (what, value) in &secrets.0 {
        let decoded = percent_decode(value);
        for (file, text) in &logs {
            if text.contains(value.as_str()) || text.contains(&decoded) {
                let at = text.find(value.as_str()).or_else(|| text.find(&decoded));
                let line = at
                    .map(|i| {
                        let start = text[..i].rfind('\n').map_or(0, |s| s + 1);
                        let end = text[i..].find('\n').map_or(text.len(), |e| i + e);
                        text[start..end].to_string()
                    })
                    .unwrap_or_default();
                leaks.push(format!("{what} in {file}: {line}"));
            }
        }
    }
    println!(
        "FIGURE secrets hygiene: {} secrets checked ({} stream tokens, {} signatures) against {} log lines: {} leaked",
        secrets.0.len(),
        secrets.count("stream token"),
        secrets.count("X-Amz-Signature"),
        all.lines().count(),
        leaks.len()
    );
    assert!(
        leaks.is_empty(),
        "secrets in the log:\n{}",
        leaks.join("\n")
    );
}
