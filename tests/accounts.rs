//! Accounts that end: `user remove`, `user disable` and `enable` from the CLI (with and without
//! a running server) and the API, never leaving the server without an admin; and movie ids
//! that begin with a dash, which the CLI must still take.

mod common;

use std::path::Path;

use common::{Server, add_user, cli, stderr, stdout};

const PW: &str = "correct horse battery";

fn users(dir: &Path) -> Vec<serde_json::Value> {
    let out = cli(dir, &["user", "list", "--json"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(stdout(&out).trim()).expect("users json")
}

fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = users(dir)
        .iter()
        .map(|u| u["name"].as_str().unwrap_or("").to_string())
        .collect();
    n.sort();
    n
}

#[test]
fn removed_and_disabled_users_lose_their_sessions_at_once_and_the_last_admin_stays() {
    let tmp = Server::temp_dir();
    let dir = tmp.path();
    add_user(dir, "root", PW, &["--admin"]);
    add_user(dir, "ann", PW, &["--plan", "premium"]);
    add_user(dir, "bob", PW, &[]);
    add_user(dir, "cleo", PW, &[]);

    // Without a server: the last admin is refused, in words that say what to do.
    for args in [["user", "remove", "root"], ["user", "disable", "root"]] {
        let out = cli(dir, &args, None);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("last admin"), "{}", stderr(&out));
    }
    let out = cli(dir, &["user", "remove", "cleo"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(names(dir), ["ann", "bob", "root"]);
    let out = cli(dir, &["user", "remove", "cleo"], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no user named cleo"),
        "{}",
        stderr(&out)
    );

    // More sign-ins than the default 5 a minute allow.
    let s = Server::start_in(dir, &[("STREAMD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE", "100")]);
    let mut ann = s.client();
    assert_eq!(ann.login("ann", PW).status, 200);
    let mut bob = s.client();
    assert_eq!(bob.login("bob", PW).status, 200);
    assert_eq!(ann.get("/api/v1/movies").status, 200);

    // Disabled through the running server: signed out at once, sign-in refused with a reason
    // only someone who knows the password hears, data kept; enabled again, all is back.
    let out = cli(dir, &["user", "disable", "ann"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ann.get("/api/v1/movies").status, 401, "the session ended");
    let r = ann.login("ann", PW);
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "account_disabled");
    assert_eq!(ann.login("ann", "wrong password").status, 401);
    let listed = users(dir);
    let ann_row = listed
        .iter()
        .find(|u| u["name"] == "ann")
        .expect("ann kept");
    assert_eq!(ann_row["disabled"], true);
    assert_eq!(ann_row["plan"], "premium");
    let out = cli(dir, &["user", "enable", "ann"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ann.login("ann", PW).status, 200);
    assert_eq!(ann.get("/api/v1/movies").status, 200);

    // Removed by an admin over the API: bob's session ends and nothing of his stays.
    let mut root = s.client();
    assert_eq!(root.login("root", PW).status, 200);
    assert_eq!(ann.delete("/api/v1/users/bob").status, 403, "admins only");
    assert_eq!(root.delete("/api/v1/users/bob").status, 204);
    assert_eq!(bob.get("/api/v1/movies").status, 401);
    assert_eq!(bob.login("bob", PW).status, 401);
    assert_eq!(root.delete("/api/v1/users/bob").status, 404);
    let r = root.delete("/api/v1/users/root");
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("last admin"), "{}", r.body);

    // A second admin may go; then the first is the last again.
    add_user(dir, "deputy", PW, &["--admin"]);
    let out = cli(dir, &["user", "disable", "deputy"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli(dir, &["user", "remove", "root"], None);
    assert!(
        !out.status.success(),
        "deputy is disabled, so root is the last admin"
    );
    let out = cli(dir, &["user", "enable", "deputy"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli(dir, &["user", "remove", "root"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(root.get("/api/v1/movies").status, 401);
    assert_eq!(names(dir), ["ann", "deputy"]);
}

#[test]
fn movie_ids_that_begin_with_a_dash_are_taken_as_ids() {
    let tmp = Server::temp_dir();
    let dir = tmp.path();
    add_user(dir, "ann", PW, &[]);
    // Ids made before new ones stopped beginning with '-': taken as an id, not a flag.
    for args in [
        vec!["grant", "ann", "-9abcdefghij"],
        vec!["revoke", "ann", "-9abcdefghij"],
        vec!["movie", "delete", "-9abcdefghij"],
        vec!["movie", "edit", "-9abcdefghij", "--title", "X"],
        vec!["subtitle", "remove", "-9abcdefghij", "fr"],
    ] {
        let out = cli(dir, &args, None);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(!err.contains("unexpected argument"), "{args:?}: {err}");
        assert!(err.contains("-9abcdefghij"), "{args:?}: {err}");
    }
}
