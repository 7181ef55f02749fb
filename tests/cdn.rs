//! A CDN in front of streamd: nginx with `proxy_cache` keyed by the full URL stands in for
//! CloudFront / Cloudflare / Bunny. Because segment URLs are the same for every viewer within
//! `tokens.url_window`, twenty viewers of one movie cost the store about one fetch per object,
//! while playlists (private, no-store) still go to streamd every time, so a revoked viewer is
//! refused at the next playlist.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use common::{
    Client, Server, add_user, cli_env, cli_ok, free_port, make_source, peer, start_s3s, stderr,
    stdout, wait_listening,
};

const PW: &str = "correct horse battery";
const VIEWERS: usize = 20;

struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master take its workers down; SIGKILL would orphan them.
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

/// How the CDN treats a path prefix: which origin serves it, and whether it is cached.
struct Route<'a> {
    prefix: &'a str,
    origin: &'a str,
    cached: bool,
}

/// nginx as a CDN on `port`: cached routes keyed by the full URL (as CDNs do once told to
/// include the query string), with a TTL of its own for origins that send no `Cache-Control`
/// (an S3 server), the others passed through. The log says, per request, whether it reached
/// the origin.
fn start_cdn(bin: &Path, dir: &Path, port: u16, routes: &[Route]) -> Nginx {
    std::fs::create_dir_all(dir.join("cache")).expect("cache dir");
    // nginx's workers drop to `nobody` when started as root; keep them as the test's user.
    let user = if unsafe { libc::geteuid() } == 0 {
        "user root;"
    } else {
        ""
    };
    let d = dir.display();
    let locations: String = routes
        .iter()
        .map(|r| {
            let cache = if r.cached {
                "proxy_cache cdn;\n      proxy_cache_key $scheme$host$request_uri;\n      \
                 proxy_cache_valid 200 10m;\n      proxy_cache_lock on;\n      \
                 add_header X-Cache $upstream_cache_status;"
            } else {
                "proxy_set_header X-Forwarded-For $remote_addr;"
            };
            format!(
                "    location {} {{\n      proxy_pass http://{};\n      \
                 proxy_set_header Host $http_host;\n      proxy_http_version 1.1;\n      \
                 proxy_set_header Connection \"\";\n      {cache}\n    }}\n",
                r.prefix, r.origin
            )
        })
        .collect();
    let conf = format!(
        r#"{user}
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  log_format cdn '$upstream_cache_status $upstream_addr $request_uri';
  access_log {d}/access.log cdn;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  proxy_cache_path {d}/cache levels=1:2 keys_zone=cdn:10m max_size=1g inactive=1h use_temp_path=off;
  server {{
    listen 127.0.0.1:{port};
{locations}  }}
}}
"#
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("nginx.conf");
    let child = Command::new(bin)
        .arg("-c")
        .arg(&path)
        .arg("-p")
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start nginx");
    let mut cdn = Nginx(child);
    wait_listening(&mut cdn.0, port, "nginx to listen");
    cdn
}

fn ingest(dir: &Path, tier: &str, env: &[(&str, &str)]) -> String {
    let src = make_source(
        dir,
        "src.mp4",
        "testsrc2=size=640x360:rate=25",
        10,
        true,
        &[],
    );
    let out = cli_env(
        dir,
        &[
            "ingest",
            src.to_str().expect("utf8"),
            "--title",
            "Shared",
            "--tier",
            tier,
            "--json",
        ],
        &[
            ("STREAMD_TRANSCODE_PRESET", "ultrafast"),
            ("STREAMD_TRANSCODE_RENDITIONS", "[\"480p\"]"),
        ]
        .iter()
        .chain(env)
        .copied()
        .collect::<Vec<_>>(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    v["id"].as_str().expect("id").to_string()
}

/// Every object URL of a movie as one viewer sees it: master -> each variant (video and
/// audio) -> its init segment and segments.
fn object_urls(c: &mut Client, id: &str) -> Vec<String> {
    let master = c.get(&format!("/stream/{id}"));
    assert_eq!(master.status, 200, "{}", master.body);
    let mut variants: Vec<String> = master
        .body
        .lines()
        .filter(|l| l.starts_with("/stream/"))
        .map(String::from)
        .collect();
    for line in master.body.lines() {
        if let Some(uri) = line
            .split("URI=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        {
            variants.push(uri.to_string());
        }
    }
    let mut urls = Vec::new();
    for variant in variants {
        let body = c.get(&variant).body;
        for line in body.lines() {
            if line.starts_with("http") {
                urls.push(line.to_string());
            } else if let Some(uri) = line
                .strip_prefix("#EXT-X-MAP:URI=\"")
                .and_then(|rest| rest.split('"').next())
            {
                urls.push(uri.to_string());
            }
        }
    }
    urls
}

fn store_fetches(s: &Server) -> u64 {
    let metrics = s.client().get("/metrics").body;
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("streamd_http_requests_total")
                && l.contains("route=\"/s3/{tail:.*}\"")
                && l.contains("status=\"200\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Twenty viewers sign in at `api` and fetch every object of movie `id` from the links their
/// playlists hand out (each must start with `link_prefix`); returns the links each saw.
fn watch(api: std::net::SocketAddr, link_prefix: &str, id: &str) -> Vec<Vec<String>> {
    let viewers: Vec<_> = (0..VIEWERS)
        .map(|i| {
            let (id, link_prefix) = (id.to_string(), link_prefix.to_string());
            std::thread::spawn(move || {
                // Viewers arrive over three seconds, as they do: links signed at "now" would
                // differ between them; links signed at the window's start do not.
                std::thread::sleep(Duration::from_millis(150 * i as u64));
                let mut c = Client::new(api);
                assert_eq!(c.login(&format!("viewer{i}"), PW).status, 200);
                let urls = object_urls(&mut c, &id);
                assert!(!urls.is_empty());
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                for url in &urls {
                    assert!(url.starts_with(&link_prefix), "{url}");
                    let mut res = agent.get(url).call().expect("segment");
                    assert_eq!(res.status(), 200, "{url}");
                    let _ = res.body_mut().read_to_vec();
                }
                urls
            })
        })
        .collect();
    viewers
        .into_iter()
        .map(|t| t.join().expect("viewer"))
        .collect()
}

/// The same links for everyone, and about one store fetch per object.
fn check_offload(seen: &[Vec<String>], fetches: u64) {
    let distinct: BTreeSet<&String> = seen.iter().flatten().collect();
    let objects: BTreeSet<String> = seen[0]
        .iter()
        .map(|u| u.split('?').next().expect("path").to_string())
        .collect();
    let per_object = fetches as f64 / objects.len() as f64;
    eprintln!(
        "{VIEWERS} viewers, {} objects, {} distinct URLs handed out, {fetches} store fetches ({per_object:.2} per object)",
        objects.len(),
        distinct.len()
    );
    // The same URLs for everyone (a window boundary in the middle of the test may double them).
    assert!(distinct.len() <= 2 * objects.len(), "{}", distinct.len());
    assert!(
        per_object <= 1.2 || distinct.len() > objects.len(),
        "{per_object:.2}"
    );
    assert!(
        per_object <= 2.4,
        "{per_object:.2} store fetches per object"
    );
}

#[test]
fn twenty_viewers_behind_a_caching_cdn_cost_the_store_one_fetch_per_segment() {
    let Some(nginx) = peer("nginx") else { return };
    let dir = Server::temp_dir();
    let d = dir.path();
    add_user(d, "root", PW, &["--admin"]);
    for i in 0..VIEWERS {
        add_user(d, &format!("viewer{i}"), PW, &["--plan", "premium"]);
    }
    add_user(d, "lent", PW, &[]);
    let id = ingest(d, "premium", &[]);
    cli_ok(d, &["grant", "lent", &id]);

    let cdn_port = free_port();
    let public = format!("http://127.0.0.1:{cdn_port}");
    let s = Server::start_in(
        d,
        &[
            ("STREAMD_SERVER_PUBLIC_URL", &public),
            // Twenty sign-ins from one address within a second.
            ("STREAMD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE", "1000"),
            // A long window, so a boundary is unlikely to fall inside the test.
            ("STREAMD_TOKENS_URL_WINDOW", "1h"),
        ],
    );
    let cdn_dir = d.join("cdn");
    let origin = s.addr.to_string();
    let _cdn = start_cdn(
        &nginx,
        &cdn_dir,
        cdn_port,
        &[
            Route {
                prefix: "/s3/",
                origin: &origin,
                cached: true,
            },
            Route {
                prefix: "/",
                origin: &origin,
                cached: false,
            },
        ],
    );
    let cdn_addr: std::net::SocketAddr = format!("127.0.0.1:{cdn_port}").parse().expect("addr");
    let before = store_fetches(&s);
    // Everything through the CDN: pages and playlists passed to streamd, chunks cached.
    let seen = watch(cdn_addr, &format!("http://{cdn_addr}/s3/"), &id);
    let fetches = store_fetches(&s) - before;
    check_offload(&seen, fetches);
    let log = std::fs::read_to_string(cdn_dir.join("access.log")).expect("access log");
    assert!(log.lines().any(|l| l.starts_with("HIT ")), "{log}");

    // Playlists are never cached: a viewer whose grant is revoked is refused at the next one,
    // through the CDN, at once.
    let mut lent = Client::new(cdn_addr);
    assert_eq!(lent.login("lent", PW).status, 200);
    assert_eq!(lent.get(&format!("/stream/{id}")).status, 200);
    cli_ok(d, &["revoke", "lent", &id]);
    assert_eq!(lent.get(&format!("/stream/{id}")).status, 403);
}

/// The S3 backend behind a CDN: the same links for every viewer within a window, so the CDN
/// (nginx caching by the full URL, in front of s3s-fs) fetches each object from the store about
/// once, and a link tampered with is still refused by the store, not served from the cache.
#[test]
fn behind_a_cdn_the_s3_backend_is_fetched_once_per_object_too() {
    let Some(nginx) = peer("nginx") else { return };
    let Some(s3s) = peer("s3s-fs") else { return };
    let dir = Server::temp_dir();
    let d = dir.path();
    for i in 0..VIEWERS {
        add_user(d, &format!("viewer{i}"), PW, &["--plan", "premium"]);
    }
    let root = d.join("s3root");
    let cdn_port = free_port();
    let (ak, sk) = ("STREAMDTESTKEY", "streamd-test-secret-key");
    let (_s3, endpoint) = start_s3s(&s3s, &root, ak, sk);
    let store = endpoint.trim_start_matches("http://").to_string();
    let cdn = format!("http://127.0.0.1:{cdn_port}");
    let env = [
        ("STREAMD_STORAGE_BACKEND", "s3"),
        ("STREAMD_STORAGE_ENDPOINT", endpoint.as_str()),
        // Players fetch from the CDN; the links are signed for its host, which it forwards.
        ("STREAMD_STORAGE_PUBLIC_ENDPOINT", cdn.as_str()),
        ("STREAMD_STORAGE_ACCESS_KEY", ak),
        ("STREAMD_STORAGE_SECRET_KEY", sk),
    ];
    let id = ingest(d, "premium", &env);
    let mut server_env = env.to_vec();
    server_env.push(("STREAMD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE", "1000"));
    server_env.push(("STREAMD_TOKENS_URL_WINDOW", "1h"));
    let s = Server::start_in(d, &server_env);
    let cdn_dir = d.join("cdn");
    let _cdn = start_cdn(
        &nginx,
        &cdn_dir,
        cdn_port,
        &[Route {
            prefix: "/",
            origin: &store,
            cached: true,
        }],
    );

    // Pages and playlists from streamd, every chunk through the CDN.
    let seen = watch(s.addr, &format!("{cdn}/media/"), &id);
    let log = std::fs::read_to_string(cdn_dir.join("access.log")).expect("access log");
    // `$upstream_cache_status $upstream_addr $request_uri`: an address means a store fetch.
    let fetches = log
        .lines()
        .filter(|l| l.split(' ').nth(1).is_some_and(|a| a != "-"))
        .count() as u64;
    check_offload(&seen, fetches);

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    // One hex digit of the signature changed: well-formed, and wrong.
    let (head, signature) = seen[0][0].split_once("X-Amz-Signature=").expect("signed");
    let flipped = if signature.starts_with('0') { "1" } else { "0" };
    let tampered = format!("{head}X-Amz-Signature={flipped}{}", &signature[1..]);
    let status = agent.get(&tampered).call().expect("tampered").status();
    assert_eq!(
        status, 403,
        "the store refuses a tampered link behind the CDN"
    );
}
