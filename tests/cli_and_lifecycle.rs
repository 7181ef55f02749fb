//! The CLI with and without a running server, and the server's life: first run, restart,
//! SIGTERM, a second `serve`, secrets on disk, and bad configuration.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Server, add_user, cli, read_response, stderr, stdout};

const PW: &str = "correct horse battery";

/// The same sequence of commands, returning what a user would see of each.
fn script(dir: &std::path::Path) -> Vec<(bool, String)> {
    let steps: Vec<(Vec<&str>, Option<&str>)> = vec![
        (
            vec!["user", "add", "alice", "--password-stdin"],
            Some("alice password\n"),
        ),
        (
            vec!["user", "add", "Alice", "--password-stdin"],
            Some("other password\n"),
        ),
        (
            vec![
                "user",
                "add",
                "bob",
                "--admin",
                "--plan",
                "premium",
                "--password-stdin",
            ],
            Some("bob password!\n"),
        ),
        (
            vec!["user", "add", "shorty", "--password-stdin"],
            Some("short\n"),
        ),
        (
            vec![
                "user",
                "plan",
                "alice",
                "premium",
                "--until",
                "2999-12-31T00:00:00Z",
            ],
            None,
        ),
        (
            vec!["user", "plan", "alice", "premium", "--until", "yesterday"],
            None,
        ),
        (vec!["user", "plan", "nobody", "free"], None),
        (
            vec!["user", "passwd", "alice", "--password-stdin"],
            Some("alice new password\n"),
        ),
        (vec!["grant", "alice", "nosuchmovie"], None),
        (vec!["revoke", "alice", "nosuchmovie"], None),
        (vec!["movies", "--json"], None),
    ];
    steps
        .into_iter()
        .map(|(args, input)| {
            let out = cli(dir, &args, input);
            let text = if out.status.success() {
                stdout(&out)
            } else {
                stderr(&out)
            };
            (out.status.success(), text.trim().to_string())
        })
        .collect()
}

fn users_json(dir: &std::path::Path) -> serde_json::Value {
    let out = cli(dir, &["user", "list", "--json"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON value");
    for u in v.as_array_mut().expect("array") {
        u.as_object_mut().expect("object").remove("created_at");
    }
    v
}

#[test]
fn cli_gives_the_same_results_with_and_without_a_running_server() {
    let direct = Server::temp_dir();
    let direct_results = script(direct.path());

    let served = Server::temp_dir();
    let server = Server::start_in(served.path(), &[]);
    let served_results = script(served.path());

    assert_eq!(direct_results, served_results);
    let ok: Vec<bool> = direct_results.iter().map(|(ok, _)| *ok).collect();
    assert_eq!(
        ok,
        [
            true, false, true, false, true, false, false, true, false, false, true
        ]
    );
    for (ok, text) in &direct_results {
        if !ok {
            assert!(text.starts_with("streamd: "), "one-line reason: {text}");
            assert_eq!(text.lines().count(), 1, "one line: {text}");
        }
    }
    assert!(direct_results[1].1.contains("already exists"));
    assert!(direct_results[3].1.contains("at least 8"));
    assert_eq!(users_json(direct.path()), users_json(served.path()));
    let users = users_json(direct.path());
    assert_eq!(users[0]["name"], "alice");
    assert_eq!(users[0]["plan"], "premium");
    assert_eq!(users[0]["plan_until"], "2999-12-31T00:00:00Z");
    assert_eq!(users[1]["admin"], true);

    // The password changed through the server really is the one that now works.
    let mut c = server.client();
    assert_eq!(c.login("alice", "alice password").status, 401);
    assert_eq!(c.login("alice", "alice new password").status, 200);
}

#[test]
fn password_prompt_without_a_terminal_says_what_to_do() {
    let dir = Server::temp_dir();
    let out = cli(dir.path(), &["user", "add", "carol"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--password-stdin"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_stale_server_announcement_does_not_stop_the_cli() {
    // A SIGKILLed server leaves server.json behind; its pid is gone.
    let dir = Server::temp_dir();
    let mut s = Server::start_in(dir.path(), &[]);
    s.kill_hard();
    assert!(dir.path().join("server.json").exists(), "SIGKILL leaves it");
    add_user(dir.path(), "erin", PW, &[]);
    assert_eq!(users_json(dir.path())[0]["name"], "erin");

    // A live pid (this test) but nothing listening: nobody answers, so the CLI goes direct.
    let closed = format!("127.0.0.1:{}", common::free_port());
    std::fs::write(
        dir.path().join("server.json"),
        serde_json::json!({ "pid": std::process::id(), "listen": closed.to_string() }).to_string(),
    )
    .expect("write");
    add_user(dir.path(), "frank", PW, &[]);
    assert_eq!(users_json(dir.path())[1]["name"], "frank");
}

#[test]
fn first_run_creates_the_data_dir_and_says_how_to_make_an_admin() {
    let parent = Server::temp_dir();
    let dir = parent.path().join("fresh");
    let mut s = Server::start_in(&dir, &[]);
    assert!(dir.join("streamd.redb").exists());
    let (status, log) = s.stop_with_stderr();
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    assert!(log.contains(&format!("http://{}", s.addr)), "{log}");
    assert!(log.contains("user add NAME --admin"), "{log}");
    assert!(
        !dir.join("server.json").exists(),
        "runtime file removed on shutdown"
    );
}

#[test]
fn secrets_are_generated_with_mode_0600_and_kept_out_of_logs() {
    let dir = Server::temp_dir();
    let mut s = Server::start_in(dir.path(), &[("STREAMD_LOG", "debug")]);
    let mut c = s.client();
    add_user(dir.path(), "dave", PW, &[]);
    let login = c.login("dave", PW);
    let session = c.cookies.get("streamd_session").expect("cookie").clone();
    assert_eq!(login.status, 200);
    let (_, log) = s.stop_with_stderr();
    let secrets = dir.path().join("secrets");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&secrets).expect("secrets dir") {
        let entry = entry.expect("entry");
        let mode = entry.metadata().expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{:?}", entry.path());
        let content = std::fs::read_to_string(entry.path()).expect("read");
        for word in content.split_whitespace().filter(|w| w.len() >= 16) {
            assert!(!log.contains(word), "a secret leaked into the log");
        }
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    assert_eq!(names, ["admin.secret", "hmac.keys", "storage.credentials"]);
    assert!(!log.contains(&session), "session id leaked into the log");
    assert!(!log.contains(PW), "password leaked into the log");
}

#[test]
fn data_and_sessions_survive_a_restart() {
    let dir = Server::temp_dir();
    add_user(dir.path(), "erin", PW, &[]);
    let mut s = Server::start_in(dir.path(), &[]);
    let mut c = s.client();
    assert_eq!(c.login("erin", PW).status, 200);
    let cookies = c.cookies.clone();
    assert!(s.stop().success());

    let s = Server::start_in(dir.path(), &[]);
    let mut c = s.client();
    c.cookies = cookies;
    assert_eq!(c.get("/api/v1/movies").status, 200, "session still valid");
    let mut fresh = s.client();
    assert_eq!(fresh.login("erin", PW).status, 200);
}

#[test]
fn sigterm_closes_idle_connections_at_once_and_lets_a_download_finish() {
    use std::io::{Read, Write};
    let dir = Server::temp_dir();
    let mut s = Server::start_in(dir.path(), &[]);
    // An object larger than loopback's socket buffers hold, so that its download stays in
    // flight while the client does not read.
    let key = "movies/stoptest/480p/seg_00001.m4s";
    let file = dir.path().join("objects/media").join(key);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    let size = 64 << 20;
    std::fs::write(&file, vec![7u8; size]).expect("object");
    let creds = std::fs::read_to_string(dir.path().join("secrets/storage.credentials"))
        .expect("credentials");
    let mut parts = creds.split_whitespace();
    let signer = streamd::media::sigv4::Signer::new(
        parts.next().expect("ak"),
        parts.next().expect("sk"),
        "us-east-1",
    );
    let host = s.addr.to_string();
    let target = signer
        .batch(
            "GET",
            &host,
            std::time::SystemTime::now(),
            std::time::Duration::from_secs(600),
        )
        .signed(&format!("/s3/media/{key}"));

    // A browser's connection between requests: answered once, kept alive.
    let mut idle = std::net::TcpStream::connect(s.addr).expect("connect");
    write!(idle, "GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").expect("request");
    assert_eq!(read_response(&mut idle).expect("answer").status, 200);
    // A download under way: its head read, the rest left in the socket buffers.
    let mut download = std::net::TcpStream::connect(s.addr).expect("connect");
    write!(download, "GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n").expect("request");
    let mut first = [0u8; 12];
    download.read_exact(&mut first).expect("download begins");
    assert_eq!(&first, b"HTTP/1.1 200");

    s.terminate();
    // The idle connection is closed when the stop begins, not when the shutdown timeout runs
    // out: by then the download, which nobody has read yet, would be cut short too.
    idle.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .expect("timeout");
    let mut rest = Vec::new();
    let closed = idle.read_to_end(&mut rest);
    assert!(
        matches!(closed, Ok(0)) || closed.is_err(),
        "idle connection closed without an answer: {closed:?} {rest:?}"
    );
    // The download still finishes whole.
    let mut body = Vec::new();
    download.read_to_end(&mut body).expect("download");
    let head_end = body
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head")
        + 4;
    let (status, log) = s.wait_with_stderr();
    assert_eq!(
        body.len() - head_end,
        size,
        "the download was cut short; exit {status}, log:\n{log}"
    );
    assert!(status.success(), "clean exit on SIGTERM: {status}");
}

#[test]
fn a_second_serve_on_the_same_data_dir_fails_clearly() {
    let dir = Server::temp_dir();
    let s = Server::start_in(dir.path(), &[]);
    let out = cli(dir.path(), &["serve", "--listen", "127.0.0.1:0"], None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("already serving"), "{err}");
    assert!(
        err.contains(&s.addr.to_string()),
        "names the running server: {err}"
    );
    assert!(!err.to_lowercase().contains("panick"));
    // The first one is unharmed.
    assert_eq!(s.client().get("/healthz").status, 200);
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = Server::temp_dir();
    let out = cli(dir.path(), &["serve", "--listen", &addr], None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("in use") && err.contains("--listen"), "{err}");
    // The database lock was released: the CLI works directly afterwards.
    add_user(dir.path(), "frank", PW, &[]);
}

#[test]
fn bad_configuration_is_refused_with_the_reason() {
    let dir = Server::temp_dir();
    let cases = [
        ("[auth]\nsesion_ttl = \"1h\"\n", "sesion_ttl"),
        ("[server\nlisten=", "config file"),
        ("[server]\nlisten = \"everywhere\"\n", "server.listen"),
        (
            "[tokens]\nplayback_ttl = \"a while\"\n",
            "tokens.playback_ttl",
        ),
    ];
    for (text, expected) in cases {
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, text).expect("write");
        let out = cli(
            dir.path(),
            &["--config", file.to_str().expect("utf8"), "serve"],
            None,
        );
        assert!(!out.status.success(), "{text}");
        let err = stderr(&out);
        assert!(err.contains(expected), "{text}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = cli(
        dir.path(),
        &["--config", "/no/such/file.toml", "movies"],
        None,
    );
    assert!(stderr(&out).contains("/no/such/file.toml"));
}

#[test]
fn a_data_dir_that_is_not_a_directory_is_a_clear_error() {
    let dir = Server::temp_dir();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    let out = cli(&file, &["serve", "--listen", "127.0.0.1:0"], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("data dir"), "{}", stderr(&out));
    let out = cli(&file, &["user", "list"], None);
    assert!(!out.status.success());
}

#[test]
fn doctor_reports_each_check() {
    let dir = Server::temp_dir();
    let out = cli(dir.path(), &["doctor"], None);
    let text = stdout(&out);
    for check in ["config", "data dir", "database", "ffmpeg", "port"] {
        assert!(text.contains(check), "doctor checks {check}: {text}");
    }
    let ffmpeg_present = std::process::Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok();
    if ffmpeg_present {
        assert!(text.contains("libx264 available"), "{text}");
    }
}

#[test]
fn metrics_count_requests_and_logins() {
    let dir = Server::temp_dir();
    add_user(dir.path(), "gina", PW, &[]);
    let s = Server::start_in(dir.path(), &[]);
    let mut c = s.client();
    c.login("gina", PW);
    c.login("gina", "wrong wrong");
    let m = c.get("/metrics").body;
    assert!(
        m.contains("streamd_logins_total{result=\"success\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("streamd_logins_total{result=\"failure\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("streamd_http_requests_total{route=\"/api/v1/login\",status=\"401\"} 1"),
        "{m}"
    );
    assert!(m.contains("streamd_active_sessions 1"), "{m}");
}
