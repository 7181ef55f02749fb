//! Built-in HTTPS (contract section 12) against a real ACME server: Let's Encrypt's `pebble`
//! (a Debian package, installed by tests/run.sh), which validates HTTP-01 for real here: it
//! fetches `http://localhost:<plain port>/.well-known/acme-challenge/<token>` from streamd.
//! Certificates are short-lived (`certificateValidityPeriod`), so renewal happens during a test.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{
    Peer, Server, add_user, cli_env, free_port, make_source, multipart, stdout, wait_for, when,
};

const PW: &str = "correct horse battery";

/// Certificates pebble issues in the renewal test live this long: renewed 2/3 in, at 30 s.
const SHORT_LIFE_S: u64 = 45;

// ---------------------------------------------------------------------------------------------
// Certificates made here: a CA and leaves for pebble's own HTTPS and for `tls.cert`.
// ---------------------------------------------------------------------------------------------

struct Ca(rcgen::CertifiedIssuer<'static, rcgen::KeyPair>);

impl Ca {
    fn new(name: &str) -> Ca {
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, name.to_string());
        let key = rcgen::KeyPair::generate().expect("key");
        Ca(rcgen::CertifiedIssuer::self_signed(p, key).expect("CA"))
    }

    fn pem(&self) -> String {
        self.0.pem()
    }

    /// (certificate PEM, key PEM) for `names`.
    fn leaf(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let p = rcgen::CertificateParams::new(names).expect("params");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = p.signed_by(&key, &self.0).expect("leaf");
        (cert.pem(), key.serialize_pem())
    }
}

// ---------------------------------------------------------------------------------------------
// pebble
// ---------------------------------------------------------------------------------------------

struct Pebble {
    _peer: Peer,
    directory: String,
    /// The CA of pebble's own HTTPS listener (`tls.ca_root`).
    listener_ca: PathBuf,
    management: u16,
}

impl Pebble {
    /// pebble on `port`, validating HTTP-01 on `http_port` (streamd's plain listener).
    fn start(dir: &Path, port: u16, http_port: u16, validity_s: u64) -> Pebble {
        let ca = Ca::new("pebble listener CA");
        let (cert, key) = ca.leaf(&["localhost", "127.0.0.1"]);
        let listener_ca = dir.join("pebble-ca.pem");
        std::fs::write(&listener_ca, ca.pem()).expect("ca");
        std::fs::write(dir.join("pebble.pem"), cert).expect("cert");
        std::fs::write(dir.join("pebble.key"), key).expect("key");
        let management = free_port();
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.join("pebble.pem"),
            "privateKey": dir.join("pebble.key"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "certificateValidityPeriod": validity_s,
        }});
        let config_path = dir.join("pebble.json");
        std::fs::write(&config_path, config.to_string()).expect("pebble config");
        let log = std::fs::File::create(dir.join("pebble.log")).expect("log");
        let child = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            // Validation stays on (HTTP-01 for real); only its random sleeps go.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("pebble (the Debian package `pebble`; tests/run.sh installs it)");
        let mut peer = Peer(child);
        let directory = format!("https://127.0.0.1:{port}/dir");
        let client = https_client(&std::fs::read_to_string(&listener_ca).expect("ca"), false);
        wait_for(60, "pebble to answer its directory", || {
            if let Ok(Some(status)) = peer.0.try_wait() {
                panic!(
                    "pebble exited ({status}): {}",
                    std::fs::read_to_string(dir.join("pebble.log")).unwrap_or_default()
                );
            }
            client
                .get(&directory)
                .send()
                .map(drop)
                .map_err(|e| format!("{directory}: {e:?}"))
        });
        Pebble {
            _peer: peer,
            directory,
            listener_ca,
            management,
        }
    }

    /// The root pebble issues under (new at every launch).
    fn issuing_root(&self) -> String {
        let ca = std::fs::read_to_string(&self.listener_ca).expect("ca");
        https_client(&ca, false)
            .get(format!("https://127.0.0.1:{}/roots/0", self.management))
            .send()
            .and_then(|r| r.text())
            .expect("pebble's root")
    }
}

// ---------------------------------------------------------------------------------------------
// HTTPS clients
// ---------------------------------------------------------------------------------------------

/// A client that trusts only `root_pem`, resolves `localhost` to 127.0.0.1 and follows no
/// redirects; HTTP/1.1 only when asked, else HTTP/2 when the server offers it.
fn https_client(root_pem: &str, http1_only: bool) -> reqwest::blocking::Client {
    let root = reqwest::Certificate::from_pem(root_pem.as_bytes()).expect("root pem");
    let mut b = reqwest::blocking::Client::builder()
        .tls_certs_only([root])
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .resolve("localhost", "127.0.0.1:0".parse().expect("addr"));
    if http1_only {
        b = b.http1_only();
    }
    b.build().expect("client")
}

fn rustls_client(root_pem: &str) -> Arc<rustls::ClientConfig> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(root_pem.as_bytes()) {
        roots.add(cert.expect("root")).expect("add root");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A verified TLS connection to `localhost` on `port`.
fn connect(port: u16, root_pem: &str) -> Result<Tls, String> {
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let conn = rustls::ClientConnection::new(rustls_client(root_pem), name.to_owned())
        .map_err(|e| e.to_string())?;
    let sock = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.conn
        .complete_io(&mut tls.sock)
        .map_err(|e| format!("handshake: {e}"))?;
    Ok(tls)
}

/// The leaf certificate a fresh handshake is answered with.
fn served_leaf(port: u16, root_pem: &str) -> Result<Vec<u8>, String> {
    let tls = connect(port, root_pem)?;
    let certs = tls.conn.peer_certificates().ok_or("no certificate")?;
    Ok(certs[0].to_vec())
}

/// `GET /healthz` on an open keep-alive connection; its status.
fn healthz_on(tls: &mut Tls) -> Result<u16, String> {
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // The answer is "ok\n" after the head.
    while !got.ends_with(b"ok\n") {
        let n = tls.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err(format!("closed after {:?}", String::from_utf8_lossy(&got)));
        }
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {text:?}"))
}

fn leaf_of_pem(pem: &str) -> Vec<u8> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .expect("a certificate")
        .expect("pem")
        .to_vec()
}

fn set_cookie_named<'a>(res: &'a reqwest::blocking::Response, name: &str) -> Option<&'a str> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn acme_env<'a>(
    pebble_dir: &'a str,
    ca_root: &'a str,
    tls_listen: &'a str,
    public_url: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("STREAMD_TLS_DOMAINS", "[\"localhost\"]"),
        ("STREAMD_TLS_ACME_DIRECTORY", pebble_dir),
        ("STREAMD_TLS_CA_ROOT", ca_root),
        ("STREAMD_TLS_EMAIL", "owner@example.org"),
        ("STREAMD_TLS_LISTEN", tls_listen),
        ("STREAMD_SERVER_PUBLIC_URL", public_url),
        // The renewal test keeps one connection idle across a renewal.
        ("STREAMD_SERVER_KEEP_ALIVE", "300s"),
        ("STREAMD_LOG", "info"),
    ]
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// A certificate from pebble by HTTP-01; h2 and HTTP/1.1; redirects; the whole site over HTTPS
/// (sign-in with a Secure cookie, catalog, upload, playlists, presigned segments, ffmpeg on the
/// playback URL); renewal in place while a connection stays open; a restart serves the stored
/// certificate.
#[test]
fn a_certificate_from_acme_serves_the_whole_site_over_https_and_renews_in_place() {
    let tmp = Server::temp_dir();
    let d = tmp.path().join("data");
    let work = tmp.path();
    add_user(&d, "root", PW, &["--admin"]);
    let (plain, https, acme) = (free_port(), free_port(), free_port());
    let pebble = Pebble::start(work, acme, plain, SHORT_LIFE_S);
    let (tls_listen, public) = (
        format!("127.0.0.1:{https}"),
        format!("https://localhost:{https}"),
    );
    let ca_root = pebble.listener_ca.display().to_string();
    let env = acme_env(&pebble.directory, &ca_root, &tls_listen, &public);
    let mut server = Server::start_on(&d, &format!("127.0.0.1:{plain}"), &env);
    let root = pebble.issuing_root();

    // Issued: the handshake verifies against pebble's root for the name "localhost" alone.
    let first = wait_for(180, "a certificate from pebble", || {
        served_leaf(https, &root)
    });
    let stored = std::fs::read_to_string(d.join("tls/certificate.pem")).expect("stored cert");
    assert_eq!(
        leaf_of_pem(&stored),
        first,
        "the served certificate is the stored one"
    );
    let key_mode = std::fs::metadata(d.join("tls/certificate.key"))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .expect("key");
    assert_eq!(key_mode, 0o600, "the private key is the owner's only");
    let log = std::fs::read_to_string(work.join("pebble.log")).unwrap_or_default();
    assert!(
        log.contains("Attempting to validate w/ HTTP") && log.contains("set VALID"),
        "pebble validated HTTP-01 against streamd's plain listener: {log}"
    );
    // This connection stays open across the renewal below.
    let mut held = connect(https, &root).expect("a connection to keep");
    assert_eq!(healthz_on(&mut held), Ok(200));

    // ALPN: h2 by default, HTTP/1.1 when that is all the client speaks; HSTS on both.
    let h2 = https_client(&root, false);
    let h1 = https_client(&root, true);
    for (client, version) in [
        (&h2, reqwest::Version::HTTP_2),
        (&h1, reqwest::Version::HTTP_11),
    ] {
        let r = client
            .get(format!("{public}/healthz"))
            .send()
            .expect("healthz");
        assert_eq!((r.status().as_u16(), r.version()), (200, version));
        assert_eq!(
            r.headers()
                .get("strict-transport-security")
                .and_then(|v| v.to_str().ok()),
            Some("max-age=31536000")
        );
    }

    // Plain HTTP: ACME tokens only; everything else moves to https, path and query kept.
    let plain_agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let r = plain_agent
        .get(format!("http://localhost:{plain}/catalog?q=a%20b"))
        .call()
        .expect("plain");
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(
        r.headers().get("location").and_then(|v| v.to_str().ok()),
        Some(format!("{public}/catalog?q=a%20b").as_str())
    );
    let r = plain_agent
        .get(format!(
            "http://127.0.0.1:{plain}/.well-known/acme-challenge/nosuchtoken"
        ))
        .call()
        .expect("plain");
    assert_eq!(
        r.status().as_u16(),
        404,
        "unknown tokens are not redirected"
    );
    // The sendfile path on the plain listener redirects too: no object leaves in clear.
    let r = plain_agent
        .get(format!(
            "http://127.0.0.1:{plain}/s3/media/movies/x/480p/seg_00000.m4s"
        ))
        .call()
        .expect("plain");
    assert_eq!(r.status().as_u16(), 308);

    // Sign-in: the cookie is Secure (and HttpOnly).
    let r = h2
        .post(format!("{public}/api/v1/login"))
        .json(&serde_json::json!({"username": "root", "password": PW}))
        .send()
        .expect("login");
    assert_eq!(r.status().as_u16(), 200);
    let cookie = set_cookie_named(&r, "streamd_session")
        .expect("session cookie")
        .to_string();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let session = cookie.split(';').next().expect("pair").to_string();
    let get = |path: &str| {
        h2.get(format!("{public}{path}"))
            .header("cookie", &session)
            .send()
            .expect(path)
    };
    let catalog = get("/");
    assert_eq!(catalog.status().as_u16(), 200);
    assert!(catalog.text().expect("page").contains("Sign out"));

    // Upload over HTTPS (HTTP/2), then play it through every URL streamd hands out.
    let src = make_source(
        work,
        "clip.mp4",
        "testsrc2=size=640x360:rate=25",
        4,
        true,
        &[],
    );
    let bytes = std::fs::read(&src).expect("source");
    let (ct, body) = multipart(&[
        ("title", None, b"Over HTTPS"),
        ("tier", None, b"free"),
        ("file", Some("clip.mp4"), &bytes),
    ]);
    let r = h2
        .post(format!("{public}/api/v1/movies"))
        .header("cookie", &session)
        .header("content-type", ct)
        .header("origin", &public)
        .body(body)
        .send()
        .expect("upload");
    assert_eq!(r.status().as_u16(), 202);
    let id = r.json::<serde_json::Value>().expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let budget = common::Work::of(&src).whole(common::DEFAULT_PRESET);
    let m = wait_for(budget, "the upload to be ingested", || {
        let m: serde_json::Value = get(&format!("/api/v1/movies/{id}")).json().expect("json");
        when(
            m["status"] == "ready" || m["status"] == "failed",
            m.clone(),
            m,
        )
    });
    assert_eq!(m["status"], "ready", "{m}");
    let master = get(&format!("/stream/{id}")).text().expect("master");
    let rendition = master
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .expect("a rendition")
        .to_string();
    // Relative in the browser's master (it rides on the page's cookie): on the https origin.
    let rendition = match rendition.starts_with('/') {
        true => format!("{public}{rendition}"),
        false => rendition,
    };
    assert!(rendition.starts_with(&public), "{rendition}");
    let media = h2
        .get(&rendition)
        .header("cookie", &session)
        .send()
        .and_then(|r| r.text())
        .expect("media playlist");
    let segment = media
        .lines()
        .find(|l| l.contains("/s3/") && !l.starts_with('#'))
        .expect("a segment URL")
        .to_string();
    assert!(
        segment.starts_with(&format!("{public}/s3/")),
        "presigned for the https host: {segment}"
    );
    // Straight from the store, as a player does: no cookie, the signature alone, over HTTP/2.
    let r = h2.get(&segment).send().expect("segment");
    assert_eq!(
        (r.status().as_u16(), r.version()),
        (200, reqwest::Version::HTTP_2)
    );
    assert!(r.bytes().expect("body").len() > 1000);
    let r = h1.get(&segment).send().expect("segment");
    assert_eq!(
        (r.status().as_u16(), r.version()),
        (200, reqwest::Version::HTTP_11)
    );
    // ffmpeg on the playback URL (libavformat does not check certificates by default).
    let link: serde_json::Value = get(&format!("/api/v1/movies/{id}/playback"))
        .json()
        .expect("playback");
    let url = link["master_url"].as_str().expect("master_url");
    assert!(url.starts_with(&public), "{link}");
    let out = Command::new("ffmpeg")
        .args([
            "-v", "error", "-nostdin", "-i", url, "-map", "0:v:0", "-f", "null", "-",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg over https: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Renewal two thirds into the certificate's life, without a restart: new handshakes get
    // the new certificate, the connection opened before keeps working.
    let renewed = wait_for(SHORT_LIFE_S * 4, "the certificate to be renewed", || {
        let leaf = served_leaf(https, &root)?;
        when(leaf != first, leaf, "the first certificate is still served")
    });
    assert_eq!(
        healthz_on(&mut held),
        Ok(200),
        "a connection opened before the renewal"
    );
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("tls/status.json")).expect("status"))
            .expect("json");
    assert!(status["next_renewal"].as_i64().is_some(), "{status}");
    drop(held);

    // A restart serves the stored certificate at once, without asking the CA.
    server.stop();
    let server = Server::start_on(&d, &format!("127.0.0.1:{plain}"), &env);
    let stored = std::fs::read_to_string(d.join("tls/certificate.pem")).expect("stored cert");
    let again = served_leaf(https, &root).expect("a handshake right after the restart");
    assert_eq!(again, leaf_of_pem(&stored));
    assert_eq!(again, renewed, "the renewed certificate was stored");
    assert!(
        server
            .log_so_far()
            .contains("serving the stored certificate"),
        "{}",
        server.log_so_far()
    );

    // doctor says what is served and when it renews.
    let out = cli_env(&d, &["doctor"], &env);
    let text = stdout(&out);
    assert!(
        text.contains("ok    cert       localhost from Pebble Intermediate CA")
            && text.contains("renewal from"),
        "{text}"
    );
}

/// `tls.cert` and `tls.key`: a wrong key refuses to start in one line; changed files are
/// served without a restart, a bad change is refused and the old certificate stays; garbage and
/// stalled handshakes (1,000 idle TLS connections) block no one.
#[test]
fn certificate_files_are_checked_reloaded_and_idle_handshakes_block_no_one() {
    let tmp = Server::temp_dir();
    let d = tmp.path().join("data");
    let work = tmp.path();
    add_user(&d, "root", PW, &["--admin"]);
    let ca = Ca::new("streamd files CA");
    let root = ca.pem();
    let (cert1, key1) = ca.leaf(&["localhost"]);
    let (cert2, key2) = ca.leaf(&["localhost"]);
    let (cert_path, key_path) = (work.join("site.pem"), work.join("site.key"));
    std::fs::write(&cert_path, &cert1).expect("cert");
    std::fs::write(&key_path, &key2).expect("key");
    let https = free_port();
    let tls_listen = format!("127.0.0.1:{https}");
    let (c, k) = (
        cert_path.display().to_string(),
        key_path.display().to_string(),
    );
    let env = [
        ("STREAMD_TLS_CERT", c.as_str()),
        ("STREAMD_TLS_KEY", k.as_str()),
        ("STREAMD_TLS_LISTEN", tls_listen.as_str()),
    ];

    // The key of another certificate: one line saying which files do not match.
    let out = cli_env(&d, &["serve", "--listen", "127.0.0.1:0"], &env);
    let err = common::stderr(&out);
    assert!(!out.status.success());
    // (Other lines may be log warnings about the test's own environment.)
    let said: Vec<&str> = err.lines().filter(|l| l.starts_with("streamd:")).collect();
    assert_eq!(
        said,
        [format!("streamd: tls: {k} is not the private key of {c}")],
        "{err}"
    );

    std::fs::write(&key_path, &key1).expect("key");
    let server = Server::start_on(&d, "127.0.0.1:0", &env);
    assert_eq!(served_leaf(https, &root), Ok(leaf_of_pem(&cert1)));
    // The CLI beside the running server still reaches it over plain loopback HTTP.
    add_user(&d, "bob", PW, &[]);
    // No certificate from a CA: plain HTTP redirects as soon as the files are served.
    let r = server.client().get("/login");
    assert_eq!(r.status, 308, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("https://127.0.0.1:{https}/login").as_str())
    );

    // 1,000 connections that never finish a handshake (half send nothing, half a part of a
    // ClientHello), then a real client: it is answered while they are all still open.
    let idle_before = rss_kib(server.pid());
    let mut idle = Vec::new();
    for i in 0..1000 {
        let mut s = TcpStream::connect(("127.0.0.1", https)).expect("connect");
        if i % 2 == 1 {
            // A TLS record header announcing 512 bytes of handshake, and 5 of them.
            let _ = s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03]);
        }
        idle.push(s);
    }
    let mut garbage = TcpStream::connect(("127.0.0.1", https)).expect("connect");
    let _ = garbage.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let answered = served_leaf(https, &root);
    assert_eq!(
        answered,
        Ok(leaf_of_pem(&cert1)),
        "answered beside 1,000 idle handshakes"
    );
    let idle_after = rss_kib(server.pid());
    println!(
        "FIGURE 1000 idle TLS handshakes: RSS {} -> {} KiB (+{} KiB, {:.1} KiB each)",
        idle_before,
        idle_after,
        idle_after.saturating_sub(idle_before),
        idle_after.saturating_sub(idle_before) as f64 / 1000.0
    );
    // Plain HTTP at a TLS port is refused, not hung: the connection ends.
    garbage
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut buf = [0u8; 256];
    loop {
        match garbage.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue, // a TLS alert first
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!("plain HTTP at the TLS port was left hanging")
            }
            Err(_) => break, // reset
        }
    }
    drop(idle);

    // New files (written elsewhere and renamed over, as certbot does): served at the next
    // handshake after the change is seen, without a restart.
    let tmp_cert = work.join("site.pem.new");
    let tmp_key = work.join("site.key.new");
    std::fs::write(&tmp_cert, &cert2).expect("cert");
    std::fs::write(&tmp_key, &key2).expect("key");
    std::fs::rename(&tmp_key, &key_path).expect("rename");
    std::fs::rename(&tmp_cert, &cert_path).expect("rename");
    let second = leaf_of_pem(&cert2);
    wait_for(60, "the new certificate files to be served", || {
        let leaf = served_leaf(https, &root)?;
        when(leaf == second, (), "the first certificate")
    });

    // A broken change (a key that is not the certificate's) is refused; the last good
    // certificate stays.
    std::fs::write(&key_path, &key1).expect("key");
    wait_for(60, "the refusal of a mismatched key to be logged", || {
        let log = server.log_so_far();
        when(log.contains("do not make a usable pair"), (), log)
    });
    assert_eq!(served_leaf(https, &root), Ok(second));

    let out = cli_env(
        &d,
        &["doctor"],
        &[
            ("STREAMD_TLS_CERT", c.as_str()),
            ("STREAMD_TLS_KEY", k.as_str()),
        ],
    );
    assert!(
        stdout(&out).contains("FAIL  cert") && stdout(&out).contains("is not the private key"),
        "{}",
        stdout(&out)
    );
}

/// The CA is down when streamd starts: it serves plain HTTP (nothing to redirect to yet),
/// says so in the log and in `doctor`, retries with backoff, and switches to HTTPS once the CA
/// answers.
#[test]
fn an_unreachable_ca_leaves_plain_http_serving_and_is_retried_until_it_answers() {
    let tmp = Server::temp_dir();
    let d = tmp.path().join("data");
    let work = tmp.path();
    add_user(&d, "root", PW, &["--admin"]);
    let (plain, https, acme) = (free_port(), free_port(), free_port());
    // The listener CA must exist before pebble does: make it the way Pebble::start will.
    let pebble_dir = format!("https://127.0.0.1:{acme}/dir");
    let ca_root = work.join("pebble-ca.pem").display().to_string();
    let tls_listen = format!("127.0.0.1:{https}");
    let public = format!("https://localhost:{https}");
    let env = acme_env(&pebble_dir, &ca_root, &tls_listen, &public);
    let server = Server::start_on(&d, &format!("127.0.0.1:{plain}"), &env);

    let mut c = server.client();
    assert_eq!(
        c.get("/healthz").status,
        200,
        "plain HTTP serves while there is no certificate"
    );
    assert_eq!(c.login("root", PW).status, 200);
    wait_for(60, "a failed order to be logged", || {
        let log = server.log_so_far();
        when(
            log.contains("could not obtain a certificate; retrying"),
            (),
            log,
        )
    });
    let out = cli_env(&d, &["doctor"], &env);
    let text = stdout(&out);
    assert!(
        text.contains("warn  cert       none yet") && text.contains("the last attempt failed"),
        "{text}"
    );

    let pebble = Pebble::start(work, acme, plain, 3600);
    assert_eq!(pebble.listener_ca.display().to_string(), ca_root);
    let root = pebble.issuing_root();
    // Retries come 5, 10, 20, 40 s apart: a bound for a hang, not a measure.
    wait_for(300, "a certificate once the CA answers", || {
        served_leaf(https, &root)
    });
    assert_eq!(
        c.get("/healthz").status,
        308,
        "plain HTTP redirects once HTTPS serves"
    );
}
