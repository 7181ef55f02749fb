//! Test fixture: the real `streamd` binary on 127.0.0.1 with a fresh temp data dir, plus a tiny
//! HTTP client that keeps cookies the way a browser would.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

pub const BIN: &str = env!("CARGO_BIN_EXE_streamd");

pub struct Server {
    pub dir: PathBuf,
    pub addr: SocketAddr,
    child: Option<Child>,
    log: Log,
    _tmp: Option<tempfile::TempDir>,
}

/// What a server writes to stderr, read as it comes. Left in the pipe, a chatty server (debug
/// logging, a full disk warning every few seconds) would fill its 64 KiB and block in `write`,
/// holding the log lock, and then hang on SIGTERM.
#[derive(Clone, Default)]
struct Log(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Log {
    fn drain(stream: std::process::ChildStderr) -> Log {
        let log = Log::default();
        let sink = log.0.clone();
        std::thread::spawn(move || {
            let mut stream = stream;
            let mut buf = [0u8; 8192];
            while let Ok(n) = std::io::Read::read(&mut stream, &mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&buf[..n]);
            }
        });
        log
    }

    /// Everything so far. After the server exits, waits briefly for the reader to catch up
    /// (not for EOF: a child of the server could keep the pipe open).
    fn text(&self, exited: bool) -> String {
        let mut last = usize::MAX;
        if exited {
            for _ in 0..20 {
                let len = self.0.lock().unwrap_or_else(|p| p.into_inner()).len();
                if len == last {
                    break;
                }
                last = len;
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

/// Runs a CLI command against `data_dir`, optionally feeding stdin.
pub fn cli(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("STREAMD_CONFIG")
        // The suite's own switch (tests/run.sh), not streamd's: it would warn about it.
        .env_remove("STREAMD_REQUIRE_PEERS")
        .env_remove("STREAMD_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn streamd");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait streamd")
}

/// `cli`, failing the test with what the command printed when it does not succeed.
#[allow(dead_code)]
pub fn cli_ok(data_dir: &Path, args: &[&str]) -> Output {
    let out = cli(data_dir, args, None);
    assert!(
        out.status.success(),
        "streamd {args:?} failed ({}): {}{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn add_user(data_dir: &Path, name: &str, password: &str, extra: &[&str]) {
    let mut args = vec!["user", "add", name, "--password-stdin"];
    args.extend_from_slice(extra);
    let out = cli(data_dir, &args, Some(&format!("{password}\n")));
    assert!(out.status.success(), "user add failed: {}", stderr(&out));
}

impl Server {
    pub fn temp_dir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("streamd-test-")
            .tempdir()
            .expect("tempdir")
    }

    /// Starts a server on a fresh data dir.
    pub fn start() -> Server {
        let tmp = Self::temp_dir();
        let mut s = Self::start_in(tmp.path(), &[]);
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on `dir` with extra environment, waiting until /healthz answers.
    pub fn start_in(dir: &Path, env: &[(&str, &str)]) -> Server {
        Self::start_on(dir, "127.0.0.1:0", env)
    }

    /// As [`Server::start_in`], with the plain listener on `listen`. A server with a
    /// certificate answers the plain /healthz with a redirect to https: that counts as up.
    pub fn start_on(dir: &Path, listen: &str, env: &[(&str, &str)]) -> Server {
        let _ = std::fs::remove_file(dir.join("server.json"));
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir")
            .arg(dir)
            .args(["serve", "--listen", listen])
            .env_remove("STREAMD_CONFIG")
            // The suite's own switch (tests/run.sh), not streamd's: it would warn about it.
            .env_remove("STREAMD_REQUIRE_PEERS")
            .env("STREAMD_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn streamd serve");
        let log = Log::drain(child.stderr.take().expect("piped stderr"));
        // Opening the store and binding a socket: no work that grows with anything the test
        // does, so a fixed bound, generous for a busy machine; past it, it is a hang.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = String::from("no server.json yet");
        let addr = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("streamd serve exited early ({status}): {}", log.text(true));
            }
            if let Ok(text) = std::fs::read_to_string(dir.join("server.json")) {
                let v: serde_json::Value = serde_json::from_str(&text).expect("server.json");
                let addr: SocketAddr = v["listen"].as_str().expect("listen").parse().expect("addr");
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .max_redirects(0)
                    .build()
                    .into();
                match agent.get(format!("http://{addr}/healthz")).call() {
                    Ok(_) => break addr,
                    Err(e) => seen = format!("server.json says {addr}; /healthz: {e}"),
                }
            }
            assert!(
                Instant::now() < deadline,
                "streamd did not come up in 60 s; last seen: {seen}; its log:\n{}",
                log.text(false)
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Server {
            dir: dir.to_path_buf(),
            addr,
            child: Some(child),
            log,
            _tmp: None,
        }
    }

    /// What the server has logged so far.
    pub fn log_so_far(&self) -> String {
        self.log.text(false)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr)
    }

    /// SIGKILL: the process gets no chance to clean up, as in a crash or an OOM kill.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits; returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        self.stop_with_stderr().0
    }

    /// Sends SIGTERM, waits, and returns the exit status and everything the server logged.
    pub fn stop_with_stderr(&mut self) -> (std::process::ExitStatus, String) {
        self.terminate();
        self.wait_with_stderr()
    }

    /// Sends SIGTERM and returns at once.
    pub fn terminate(&self) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
    }

    /// Waits for the server to exit (20 s at most: a hang, not a slow stop) and returns its
    /// exit status and everything it logged.
    pub fn wait_with_stderr(&mut self) -> (std::process::ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return (status, self.log.text(true));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "streamd did not stop on SIGTERM; its log:\n{}",
                    self.log.text(false)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A cookie-keeping client that never follows redirects, so tests see 303s.
pub struct Client {
    addr: SocketAddr,
    agent: ureq::Agent,
    pub cookies: BTreeMap<String, String>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        Client {
            addr,
            agent,
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, res: &ureq::http::Response<ureq::Body>) {
        for v in res.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap_or("");
            let pair = text.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                let removal = text.contains("Max-Age=0") || v.is_empty();
                if removal {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
    }

    fn finish(&mut self, res: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut res = res.expect("request");
        self.keep(&res);
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let status = res.status().as_u16();
        let body = res.body_mut().read_to_string().unwrap_or_default();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn get(&mut self, path: &str) -> Reply {
        let r = self
            .agent
            .get(format!("http://{}{}", self.addr, path))
            .header("Cookie", self.cookie_header())
            .call();
        self.finish(r)
    }

    pub fn delete(&mut self, path: &str) -> Reply {
        let r = self
            .agent
            .delete(format!("http://{}{}", self.addr, path))
            .header("Cookie", self.cookie_header())
            .call();
        self.finish(r)
    }

    pub fn post_json(&mut self, path: &str, body: &serde_json::Value) -> Reply {
        let r = self
            .agent
            .post(format!("http://{}{}", self.addr, path))
            .header("Cookie", self.cookie_header())
            .send_json(body);
        self.finish(r)
    }

    #[allow(dead_code)]
    pub fn put_json(&mut self, path: &str, body: &serde_json::Value) -> Reply {
        let r = self
            .agent
            .put(format!("http://{}{}", self.addr, path))
            .header("Cookie", self.cookie_header())
            .send_json(body);
        self.finish(r)
    }

    /// A PATCH with a JSON body, optionally with an `Origin` header.
    pub fn patch_json(
        &mut self,
        path: &str,
        body: &serde_json::Value,
        origin: Option<&str>,
    ) -> Reply {
        let mut req = self
            .agent
            .patch(format!("http://{}{}", self.addr, path))
            .header("Cookie", self.cookie_header());
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        let r = req.send_json(body);
        self.finish(r)
    }

    pub fn post_raw(&mut self, path: &str, content_type: &str, body: &[u8]) -> Reply {
        let r = self
            .agent
            .post(format!("http://{}{}", self.addr, path))
            .header("Cookie", self.cookie_header())
            .header("Content-Type", content_type)
            .send(body);
        self.finish(r)
    }

    pub fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let r = self
            .agent
            .post(format!("http://{}{}", self.addr, path))
            .header("Cookie", self.cookie_header())
            .send_form(fields.iter().copied());
        self.finish(r)
    }

    pub fn login(&mut self, user: &str, password: &str) -> Reply {
        self.post_json(
            "/api/v1/login",
            &serde_json::json!({"username": user, "password": password}),
        )
    }

    /// The CSRF token the login page embeds in its form.
    pub fn csrf_from(&self, html: &str) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = html.find(marker).expect("csrf field") + marker.len();
        html[start..].split('"').next().expect("token").to_string()
    }
}

/// Runs a CLI command with extra environment.
pub fn cli_env(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("STREAMD_CONFIG")
        // The suite's own switch (tests/run.sh), not streamd's: it would warn about it.
        .env_remove("STREAMD_REQUIRE_PEERS")
        .env_remove("STREAMD_LOG")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run streamd")
}

/// Makes a test movie with ffmpeg's lavfi sources: `video` is a lavfi spec without duration
/// (e.g. "testsrc2=size=1920x1080:rate=30"), optionally with a sine tone as audio.
pub fn make_source(
    dir: &Path,
    name: &str,
    video: &str,
    seconds: u32,
    audio: bool,
    extra: &[&str],
) -> PathBuf {
    let out = dir.join(name);
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("{video}:duration={seconds}"));
    if audio {
        cmd.args(["-f", "lavfi", "-i"]).arg(format!(
            "sine=frequency=440:sample_rate=48000:duration={seconds}"
        ));
    }
    cmd.args([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
    ]);
    if audio {
        cmd.args(["-c:a", "aac", "-shortest"]);
    }
    cmd.args(extra).arg(&out);
    let status = cmd.status().expect("ffmpeg installed");
    assert!(status.success(), "making {name} failed");
    out
}

/// The RFC 6381 string of an H.264 stream as ffprobe describes it (profile, constraint flags as
/// x264 writes them, level): what a master's CODECS must say of it.
pub fn avc1_codecs(stream: &serde_json::Value) -> String {
    let (profile, constraints) = match stream["profile"].as_str() {
        Some("High") => (0x64, 0x00),
        Some("Main") => (0x4d, 0x40),
        Some("Constrained Baseline") => (0x42, 0xc0),
        other => panic!("unexpected H.264 profile {other:?}"),
    };
    let level = stream["level"].as_u64().expect("level");
    format!("avc1.{profile:02x}{constraints:02x}{level:02x}")
}

/// Runs ffprobe and returns its JSON.
pub fn ffprobe(path: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json"])
        .args(args)
        .arg(path)
        .output()
        .expect("ffprobe");
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// ffmpeg processes whose command line mentions `needle` (a data dir): should be none once a
/// job is cancelled or its server is gone.
pub fn ffmpeg_processes(needle: &Path) -> Vec<u32> {
    let needle = needle.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains("ffmpeg") && cmdline.contains(&needle) {
            found.push(pid);
        }
    }
    found
}

/// The ffmpeg processes `parent` (a server's pid) started, as (pid, command line with its
/// arguments joined by spaces), read from /proc: a child's parent is the fourth field of
/// `/proc/<pid>/stat`, and a child only counts once it runs ffmpeg (between fork and exec it
/// is a copy of the server).
pub fn ffmpeg_children(parent: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so count fields
        // from the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid != Some(parent) {
            continue;
        }
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_ffmpeg = args
            .first()
            .and_then(|a| Path::new(a).file_name())
            .is_some_and(|n| n == "ffmpeg");
        if is_ffmpeg {
            found.push((pid, args.join(" ")));
        }
    }
    found
}

/// The server's ffmpeg encoding movie `id`'s video ladder: it writes the job's staging dir,
/// `<data>/staging/<id>/video/` (`ladder_args` in src/ingest/command.rs), which nothing else
/// names. Ok with (pid, command line), or Err with what the server was running instead.
pub fn ladder_ffmpeg(server: &Server, id: &str) -> Result<(u32, String), String> {
    let marker = server.dir.join("staging").join(id).join("video");
    let marker = format!("{}/", marker.display());
    let children = ffmpeg_children(server.pid());
    children
        .iter()
        .find(|(_, cmdline)| cmdline.contains(&marker))
        .cloned()
        .ok_or_else(|| {
            format!(
                "no ffmpeg of the server writes {marker}; its ffmpeg children: {:?}",
                children
                    .iter()
                    .map(|(pid, cmd)| format!(
                        "{pid}: {}",
                        cmd.chars().take(200).collect::<String>()
                    ))
                    .collect::<Vec<_>>()
            )
        })
}

/// The preset the server encodes with unless told otherwise (`transcode.preset`).
pub const DEFAULT_PRESET: &str = "veryfast";

/// What encoding a source costs: its length, picture size and frame rate, as ffprobe reads
/// them. Waits for an encode take their bounds from it.
#[derive(Debug, Clone, Copy)]
pub struct Work {
    pub seconds: f64,
    pub width: f64,
    pub height: f64,
    pub fps: f64,
}

impl Work {
    pub fn of(source: &Path) -> Work {
        let v = ffprobe(
            source,
            &[
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height,avg_frame_rate:format=duration",
            ],
        );
        let stream = &v["streams"][0];
        let rate = stream["avg_frame_rate"].as_str().unwrap_or("30/1");
        let fps = match rate.split_once('/') {
            Some((n, d)) => n.parse::<f64>().unwrap_or(30.0) / d.parse::<f64>().unwrap_or(1.0),
            None => rate.parse().unwrap_or(30.0),
        };
        Work {
            seconds: v["format"]["duration"]
                .as_str()
                .and_then(|d| d.parse().ok())
                .unwrap_or_else(|| panic!("no duration for {}: {v}", source.display())),
            width: stream["width"].as_f64().expect("width"),
            height: stream["height"].as_f64().expect("height"),
            fps: if fps.is_finite() && fps > 0.0 {
                fps
            } else {
                30.0
            },
        }
    }

    /// A bound, in seconds, on encoding the first `seconds` of the source through the ladder
    /// with x264's `preset`, plus a minute for everything around it (probing, start-up,
    /// publishing, the audio). Generous on purpose: it only says when to give up. Measured on
    /// a 2-core machine running a cargo build beside it, one 1080p encode costs x264 about
    /// 0.014 s (ultrafast), 0.032 s (veryfast), 0.056 s (medium), 0.092 s (slow) and 0.28 s
    /// (veryslow) per million pixels of frames; the costs below round those up, the ladder
    /// counts twice the source's pixels (its rungs add up to at most 1.7 times them), and
    /// all of it three times over.
    pub fn encode_secs(&self, seconds: f64, preset: &str) -> u64 {
        let per_megapixel_frame = match preset {
            "ultrafast" => 0.015,
            "superfast" => 0.025,
            "veryfast" => 0.035,
            "faster" => 0.045,
            "fast" => 0.05,
            "medium" => 0.06,
            "slow" => 0.1,
            "slower" => 0.2,
            "veryslow" => 0.3,
            other => panic!("not an x264 preset: {other}"),
        };
        let megapixel_frames =
            seconds.min(self.seconds) * self.fps * self.width * self.height / 1e6;
        60 + (megapixel_frames * 2.0 * per_megapixel_frame * 3.0).ceil() as u64
    }

    /// `encode_secs` of the whole source.
    pub fn whole(&self, preset: &str) -> u64 {
        self.encode_secs(self.seconds, preset)
    }
}

/// A port for a peer server (s3s-fs, nginx) that the test starts itself. Picked below the
/// kernel's ephemeral range: a port from `bind(127.0.0.1:0)` is free only until something else
/// binds port 0, and the streamd servers of tests running in parallel do exactly that, so a
/// peer could find its port taken, exit, and leave the test talking to somebody else's server.
pub fn free_port() -> u16 {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u32, u32::from(ephemeral_low.max(10_001)));
    // Tests running at once pick independently: start from a value that differs per call.
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id().wrapping_mul(2_654_435_761);
    // And never the same port twice in one test binary (two peers of one test, say).
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let port = (0..high - low)
        .map(|i| (low + (seed.wrapping_add(i.wrapping_mul(7_919))) % (high - low)) as u16)
        .find(|&p| !given.contains(&p) && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("a free port below the ephemeral range");
    given.push(port);
    port
}

/// Waits until the peer `child` answers HTTP on `port` (any status: accepting a connection is
/// not enough, CI once saw s3s-fs reset the first request after its port accepted one),
/// failing at once, with a clear message, if it exits instead (a port taken, a bad argument).
pub fn wait_listening(child: &mut Child, port: u16, what: &str) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    wait_for(60, what, || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what}: the process exited ({status}) instead of listening on {port}");
        }
        agent
            .get(format!("http://127.0.0.1:{port}/"))
            .call()
            .map(|_| ())
            .map_err(|e| format!("GET http://127.0.0.1:{port}/: {e}"))
    });
}

/// A peer server killed when the test ends, pass or fail.
pub struct Peer(pub Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `check` every 100 ms until it returns Ok, or panics after `secs` saying what it
/// waited for and what `check` last saw: its last Err, the state as it stood.
pub fn wait_for<T>(secs: u64, what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let seen = match check() {
            Ok(v) => return v,
            Err(seen) => seen,
        };
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}; last seen: {seen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Ok(`v`) when `done`, else Err with `seen` described: for `wait_for` checks.
pub fn when<T>(done: bool, v: T, seen: impl std::fmt::Display) -> Result<T, String> {
    if done { Ok(v) } else { Err(seen.to_string()) }
}

/// A multipart/form-data body: (name, filename, bytes) per field.
pub fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "streamdtestboundary7d93a1";
    let mut body = Vec::new();
    for (name, filename, data) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// One HTTP/1.1 response as read off a raw socket: header names in lower case.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response (Content-Length framed, or to EOF) from `s`.
pub fn read_response(s: &mut std::net::TcpStream) -> std::io::Result<Raw> {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed before a response",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[head_end..].to_vec();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    match length {
        Some(n) => {
            while body.len() < n {
                let got = s.read(&mut chunk)?;
                if got == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..got]);
            }
        }
        None => {
            let _ = s.read_to_end(&mut body);
        }
    }
    Ok(Raw {
        status,
        headers,
        body,
    })
}

/// Peers installed by tests/run.sh, on PATH or in /usr/sbin (nginx). Run through it they must
/// be there; run by hand without them, the test says so and passes.
pub fn peer(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    let found = on_path.or_else(|| {
        let sbin = Path::new("/usr/sbin").join(name);
        sbin.is_file().then_some(sbin)
    });
    if found.is_none() {
        assert!(
            std::env::var_os("STREAMD_REQUIRE_PEERS").is_none(),
            "{name} is required (tests/run.sh installs it)"
        );
        eprintln!("SKIPPED: {name} not installed; run tests/run.sh");
    }
    found
}

/// s3s-fs on a free port with a `media` bucket under `root`: (peer, endpoint).
pub fn start_s3s(s3s: &Path, root: &Path, ak: &str, sk: &str) -> (Peer, String) {
    std::fs::create_dir_all(root.join("media")).expect("bucket dir");
    let port = free_port();
    let mut peer = Peer(
        Command::new(s3s)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ak, "--secret-key", sk])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs"),
    );
    wait_listening(&mut peer.0, port, "s3s-fs to listen");
    (peer, format!("http://127.0.0.1:{port}"))
}

/// `streamd ingest SRC --title T --tier TIER --json` (ultrafast) with extra environment; the
/// new movie's id.
pub fn ingest_cli(dir: &Path, src: &Path, title: &str, tier: &str, env: &[(&str, &str)]) -> String {
    let mut env = env.to_vec();
    if !env.iter().any(|(k, _)| *k == "STREAMD_TRANSCODE_PRESET") {
        env.push(("STREAMD_TRANSCODE_PRESET", "ultrafast"));
    }
    let src = src.to_str().expect("utf8");
    let args = ["ingest", src, "--title", title, "--tier", tier, "--json"];
    let out = cli_env(dir, &args, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    v["id"].as_str().expect("id").to_string()
}
