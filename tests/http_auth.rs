//! Sign-in, sessions, CSRF, rate limiting and admin gating, over HTTP against the real binary.

mod common;

use std::time::Instant;

use common::{Server, add_user};
use serde_json::json;
use streamd::store::{Movie, MovieId, MovieStatus, Store, Tier, Timestamp};

const PW: &str = "correct horse battery";

fn server_with_users(env: &[(&str, &str)]) -> (tempfile::TempDir, Server) {
    let tmp = Server::temp_dir();
    add_user(tmp.path(), "root", PW, &["--admin"]);
    add_user(tmp.path(), "viewer", PW, &[]);
    let s = Server::start_in(tmp.path(), env);
    (tmp, s)
}

#[test]
fn login_sets_an_httponly_samesite_session_cookie() {
    let (_tmp, s) = server_with_users(&[]);
    let mut c = s.client();
    let r = c.login("viewer", PW);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["user"]["name"], "viewer");
    let cookie = r
        .all("set-cookie")
        .into_iter()
        .find(|v| v.starts_with("streamd_session="))
        .expect("session cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http by default: {cookie}"
    );
    assert_eq!(c.get("/api/v1/movies").status, 200);
}

#[test]
fn secure_cookie_when_configured() {
    let (_tmp, s) = server_with_users(&[("STREAMD_AUTH_SECURE_COOKIES", "true")]);
    let r = s.client().login("viewer", PW);
    let cookie = r.header("set-cookie").expect("cookie").to_string();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[test]
fn unknown_user_gets_the_same_answer_as_a_wrong_password_in_comparable_time() {
    let (_tmp, s) = server_with_users(&[("STREAMD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE", "1000")]);
    let mut c = s.client();
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    let mut bodies = Vec::new();
    for i in 0..5 {
        let t = Instant::now();
        let a = c.login("viewer", &format!("not the password {i}"));
        wrong.push(t.elapsed());
        let t = Instant::now();
        let b = c.login(&format!("nobody{i}"), "not the password");
        unknown.push(t.elapsed());
        assert_eq!((a.status, b.status), (401, 401));
        bodies.push((a.body, b.body));
    }
    for (a, b) in &bodies {
        assert_eq!(a, b, "same body for unknown user and wrong password");
    }
    // A ratio, not a time: without the dummy argon2 run an unknown user answers ~1000x faster.
    wrong.sort();
    unknown.sort();
    let ratio = unknown[2].as_secs_f64() / wrong[2].as_secs_f64();
    assert!(
        ratio > 0.3,
        "unknown-user login is suspiciously fast: ratio {ratio:.3}"
    );
}

#[test]
fn too_many_attempts_get_429_with_retry_after() {
    let (_tmp, s) = server_with_users(&[]);
    let mut c = s.client();
    for _ in 0..5 {
        assert_eq!(c.login("viewer", "wrong password").status, 401);
    }
    let r = c.login("viewer", PW);
    assert_eq!(
        r.status, 429,
        "the 6th attempt in a minute is refused, even if right"
    );
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("secs");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(r.json()["error"]["code"], "rate_limited");
}

#[test]
fn login_form_requires_its_csrf_token() {
    let (_tmp, s) = server_with_users(&[]);
    let mut c = s.client();
    // No token at all.
    let r = c.post_form(
        "/login",
        &[("username", "viewer"), ("password", PW), ("csrf", "")],
    );
    assert_eq!(r.status, 403);
    assert!(!c.cookies.contains_key("streamd_session"));
    // A token without its cookie (as a cross-site page would send) is refused too.
    let page = c.get("/login");
    let token = c.csrf_from(&page.body);
    let mut other = s.client();
    let r = other.post_form(
        "/login",
        &[("username", "viewer"), ("password", PW), ("csrf", &token)],
    );
    assert_eq!(r.status, 403);
    // The real form works and redirects.
    let r = c.post_form(
        "/login",
        &[("username", "viewer"), ("password", PW), ("csrf", &token)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/"));
    assert!(c.cookies.contains_key("streamd_session"));
    let home = c.get("/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("viewer"));
}

#[test]
fn wrong_password_in_the_form_shows_the_page_again() {
    let (_tmp, s) = server_with_users(&[]);
    let mut c = s.client();
    let page = c.get("/login");
    let token = c.csrf_from(&page.body);
    let r = c.post_form(
        "/login",
        &[
            ("username", "viewer"),
            ("password", "nope nope"),
            ("csrf", &token),
        ],
    );
    assert_eq!(r.status, 401);
    assert!(r.body.contains("Wrong user name or password"), "{}", r.body);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
}

#[test]
fn logout_ends_the_session_on_the_server() {
    let (_tmp, s) = server_with_users(&[]);
    let mut c = s.client();
    assert_eq!(c.login("viewer", PW).status, 200);
    let stolen = c.cookies.clone();
    assert_eq!(c.post_json("/api/v1/logout", &json!({})).status, 204);
    // Replaying the old cookie gets nothing.
    let mut replay = s.client();
    replay.cookies = stolen;
    assert_eq!(replay.get("/api/v1/movies").status, 401);

    // The form logout needs its CSRF token and ends the session too.
    assert_eq!(c.login("viewer", PW).status, 200);
    let page = c.get("/");
    let token = c.csrf_from(&page.body);
    let stolen = c.cookies.clone();
    assert_eq!(c.post_form("/logout", &[("csrf", "forged")]).status, 403);
    let r = c.post_form("/logout", &[("csrf", &token)]);
    assert_eq!(r.status, 303);
    let mut replay = s.client();
    replay.cookies = stolen;
    assert_eq!(replay.get("/api/v1/movies").status, 401);
}

#[test]
fn admin_pages_are_refused_to_non_admins() {
    let (_tmp, s) = server_with_users(&[]);
    let mut anon = s.client();
    let r = anon.get("/admin");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/login"));

    let mut viewer = s.client();
    viewer.login("viewer", PW);
    let r = viewer.get("/admin");
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains("administrators"),
        "friendly page: {}",
        r.body
    );

    let mut root = s.client();
    root.login("root", PW);
    let r = root.get("/admin");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("viewer") && r.body.contains("root"));
}

#[test]
fn html_responses_carry_security_headers() {
    let s = Server::start();
    let r = s.client().get("/login");
    let csp = r.header("content-security-policy").expect("CSP");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.header("referrer-policy").is_some());
    assert!(!r.body.contains("<script>"), "no inline scripts");
    let csrf = r
        .all("set-cookie")
        .into_iter()
        .find(|v| v.starts_with("streamd_csrf="))
        .expect("csrf cookie")
        .to_string();
    assert!(
        csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict"),
        "{csrf}"
    );
}

#[test]
fn public_paths_need_no_session_and_the_rest_do() {
    let s = Server::start();
    let mut c = s.client();
    assert_eq!(c.get("/healthz").status, 200);
    assert_eq!(c.get("/login").status, 200);
    assert_eq!(c.get("/static/style.css").status, 200);
    let r = c.get("/api/v1/movies");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "unauthorized");
    assert_eq!(c.get("/").status, 303);
    assert_eq!(c.get("/static/../Cargo.toml").status, 404);
    assert_eq!(c.get("/static/%2e%2e/Cargo.toml").status, 404);
    let r = c.get("/api/v1/nothing-here");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "not_found");
}

#[test]
fn bad_input_gets_a_clear_4xx() {
    let (_tmp, s) = server_with_users(&[("STREAMD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE", "100")]);
    let mut c = s.client();
    let r = c.post_raw("/api/v1/login", "application/json", b"{\"username\": ");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "bad_request");
    let huge = "x".repeat(10_000);
    let r = c.login("viewer", &huge);
    assert_eq!(r.status, 400, "over-long password is refused before argon2");
    let r = c.login(&huge, PW);
    assert_eq!(r.status, 400);
    let r = c.post_raw("/api/v1/login", "application/json", &vec![b' '; 100_000]);
    assert_eq!(r.status, 413, "an over-limit body is refused as too large");
    assert_eq!(r.json()["error"]["code"], "too_large");
    // The server is still fine.
    assert_eq!(c.login("viewer", PW).status, 200);
}

#[test]
fn entitlement_shows_in_the_movie_list_and_follows_grants() {
    let tmp = Server::temp_dir();
    add_user(tmp.path(), "viewer", PW, &[]);
    {
        let store = Store::open(tmp.path()).expect("store");
        for (id, tier) in [("freemovie", Tier::Free), ("premiummovie", Tier::Premium)] {
            store
                .put_movie(&Movie {
                    status: MovieStatus::Ready,
                    duration_s: Some(60.0),
                    ..Movie::new(
                        MovieId::parse(id).expect("id"),
                        id.into(),
                        tier,
                        Timestamp::now(),
                    )
                })
                .expect("movie");
        }
    }
    let s = Server::start_in(tmp.path(), &[]);
    let mut c = s.client();
    c.login("viewer", PW);
    let entitled = |c: &mut common::Client, id: &str| {
        let list = c.get("/api/v1/movies").json();
        list.as_array()
            .expect("array")
            .iter()
            .find(|m| m["id"] == id)
            .expect("movie listed")["entitled"]
            .as_bool()
            .expect("bool")
    };
    assert!(entitled(&mut c, "freemovie"));
    assert!(!entitled(&mut c, "premiummovie"));
    let catalog = c.get("/");
    assert!(catalog.body.contains("Locked"), "locked tile with a reason");

    // Grant and revoke through the CLI while the server runs; each takes effect at once.
    let out = common::cli(tmp.path(), &["grant", "viewer", "premiummovie"], None);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(entitled(&mut c, "premiummovie"));
    let out = common::cli(tmp.path(), &["revoke", "viewer", "premiummovie"], None);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(!entitled(&mut c, "premiummovie"));

    // A premium plan opens it; one that has lapsed does not.
    let out = common::cli(tmp.path(), &["user", "plan", "viewer", "premium"], None);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(entitled(&mut c, "premiummovie"));
    let r = c.get("/api/v1/movies/premiummovie").json();
    assert_eq!(r["entitled"], true);
    assert_eq!(c.get("/api/v1/movies/nosuchmovie").status, 404);
}
