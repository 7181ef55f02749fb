//! Series (contract section 13) with the real binary and ffmpeg: a show tree imported as one
//! series (names, seasons, a double claim, files that only look like episodes), the API's
//! shapes and order, a series' tier and grant, progress leading to the next episode, and the
//! catalog showing one card per show.

mod common;

use std::path::{Path, PathBuf};

use common::{Server, add_user, cli_env, make_source, stderr, stdout};

const FAST: &[(&str, &str)] = &[("STREAMD_TRANSCODE_PRESET", "ultrafast")];

/// A one-second clip whose content differs from every other one (the import skips copies).
fn clip(dir: &Path, n: usize, to: &Path) {
    let sources = [
        "testsrc2",
        "testsrc",
        "smptebars",
        "rgbtestsrc",
        "yuvtestsrc",
        "pal75bars",
        "smptehdbars",
        "pal100bars",
        "colorspectrum",
    ];
    let video = format!("{}=size=192x108:rate=25", sources[n % sources.len()]);
    let comment = format!("comment=clip {n}");
    let made = make_source(
        dir,
        &format!("clip{n}.mp4"),
        &video,
        1,
        true,
        &["-metadata", &comment],
    );
    std::fs::create_dir_all(to.parent().expect("parent")).expect("folders");
    std::fs::rename(made, to).expect("place");
}

fn run_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = cli_env(dir, args, FAST);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_str(stdout(&out).trim())
        .unwrap_or_else(|_| panic!("{args:?}: {}\n{}", stdout(&out), stderr(&out)))
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = cli_env(dir, args, FAST);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// The import summary's item for a file name.
fn item<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    summary["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["path"].as_str().is_some_and(|p| p.ends_with(name)))
        .unwrap_or_else(|| panic!("no item for {name}: {summary}"))
}

#[test]
fn a_show_tree_becomes_one_series_with_order_tier_grants_and_up_next() {
    let tmp = Server::temp_dir();
    let dir = tmp.path();
    let root = dir.join("library");
    let show = root.join("The Office (2005)");
    let files: Vec<PathBuf> = vec![
        show.join("Season 1/The.Office.S01E01.Pilot.720p.WEB-DL.x264.mkv"),
        show.join("Season 1/the office - 1x02 - Diversity Day.mkv"),
        show.join("Season 2/The Office S02E01E02 The Dundies.mkv"),
        // The same episode again under another name: imported and flagged.
        show.join("Season 1/The.Office.S01E02.PROPER.720p.mkv"),
        // Looks like a show's but cannot be an episode: a film, and the summary says why.
        show.join("Season 2/Behind the scenes.mkv"),
        root.join("Other Show/Other.Show.S01E999.mkv"),
        // A film is a film, in a show's folder or not.
        root.join("Inception.2010.1080p.BluRay.mkv"),
        show.join("The.Office.Movie.Special.2010.mkv"),
    ];
    for (n, f) in files.iter().enumerate() {
        clip(dir, n, f);
    }
    let summary = run_json(dir, &["ingest", root.to_str().expect("utf8"), "--json"]);
    assert_eq!(summary["failed"].as_u64(), Some(0), "{summary}");
    let series_of = |name: &str| item(&summary, name)["movie"]["series"].clone();
    let pilot = series_of("Pilot.720p.WEB-DL.x264.mkv");
    assert_eq!(pilot["title"], "The Office", "{pilot}");
    assert_eq!(
        (pilot["season"].as_u64(), pilot["episode"].as_u64()),
        (Some(1), Some(1))
    );
    let double = series_of("The Dundies.mkv");
    assert_eq!(double["last_episode"].as_u64(), Some(2), "{double}");
    assert_eq!(double["label"], "S02E01-E02");
    // Whichever came second is flagged with the first's id, and the summary says so.
    let (a, b) = (
        item(&summary, "Diversity Day.mkv"),
        item(&summary, "S01E02.PROPER.720p.mkv"),
    );
    let (first, second) = if a["movie"]["series"]["also_claimed_by"].is_null() {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(
        second["movie"]["series"]["also_claimed_by"], first["movie"]["id"],
        "{second}"
    );
    assert!(
        first["movie"]["series"]["also_claimed_by"].is_null(),
        "{first}"
    );
    assert!(
        second["reason"]
            .as_str()
            .is_some_and(|r| r.contains("also claimed")),
        "{second}"
    );
    for (name, words) in [
        ("Behind the scenes.mkv", "no episode number"),
        ("S01E999.mkv", "999"),
    ] {
        let it = item(&summary, name);
        assert!(it["movie"]["series"].is_null(), "{it}");
        assert!(
            it["reason"].as_str().is_some_and(|r| r.contains(words)),
            "{it}"
        );
    }
    for film in [
        "Inception.2010.1080p.BluRay.mkv",
        "The.Office.Movie.Special.2010.mkv",
    ] {
        let it = item(&summary, film);
        assert!(it["movie"]["series"].is_null(), "a film: {it}");
        assert!(it["reason"].is_null(), "{it}");
    }

    // One series; the CLI lists it.
    let all = run_json(dir, &["series", "list", "--json"]);
    let list = all.as_array().expect("list");
    assert_eq!(list.len(), 1, "{all}");
    let id = list[0]["id"].as_str().expect("id").to_string();
    assert_eq!(
        (list[0]["seasons"].as_u64(), list[0]["episodes"].as_u64()),
        (Some(2), Some(4))
    );

    // A hand fix: the behind-the-scenes film becomes a special of the show, by title.
    let bts = item(&summary, "Behind the scenes.mkv")["movie"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let fixed = run_json(
        dir,
        &[
            "movie",
            "edit",
            &bts,
            "--series",
            "the office!",
            "--season",
            "0",
            "--episode",
            "1",
            "--json",
        ],
    );
    assert_eq!(fixed["series"]["id"], id.as_str(), "{fixed}");
    ok(
        dir,
        &[
            "series",
            "edit",
            &id,
            "--year",
            "2005",
            "--description",
            "A mockumentary.",
        ],
    );
    // A poster of its own (JPEG or PNG, re-encoded), instead of the first episode's.
    let png = dir.join("cover.png");
    let made = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("color=c=orange:size=300x200:duration=1")
        .args(["-frames:v", "1"])
        .arg(&png)
        .status()
        .expect("ffmpeg");
    assert!(made.success());
    ok(
        dir,
        &[
            "series",
            "edit",
            &id,
            "--poster",
            png.to_str().expect("utf8"),
        ],
    );

    add_user(dir, "admin", "admin password", &["--admin"]);
    add_user(dir, "viewer", "viewer password", &[]);
    let server = Server::start_in(dir, &[]);
    let mut c = server.client();
    assert_eq!(c.login("viewer", "viewer password").status, 200);

    let r = c.get("/api/v1/series");
    assert_eq!(r.status, 200, "{}", r.body);
    let list = r.json();
    assert_eq!(list[0]["title"], "The Office");
    assert_eq!(list[0]["year"].as_u64(), Some(2005));
    assert_eq!(
        (list[0]["seasons"].as_u64(), list[0]["episodes"].as_u64()),
        (Some(3), Some(5))
    );
    assert_eq!(list[0]["tier"], "free");
    let poster = list[0]["poster_url"]
        .as_str()
        .expect("poster_url")
        .to_string();
    assert!(
        poster.contains(&format!("/{id}/poster-")),
        "its own poster: {poster}"
    );
    let origin = format!("http://{}", server.addr);
    let path = poster
        .strip_prefix(&origin)
        .expect("a URL of this server's store");
    assert_eq!(c.get(path).status, 200, "{poster}");

    let detail = c.get(&format!("/api/v1/series/{id}")).json();
    let seasons: Vec<u64> = detail["seasons"]
        .as_array()
        .expect("seasons")
        .iter()
        .map(|s| s["season"].as_u64().expect("n"))
        .collect();
    assert_eq!(seasons, [0, 1, 2], "{detail}");
    let s1: Vec<(u64, String)> = detail["seasons"][1]["episodes"]
        .as_array()
        .expect("e")
        .iter()
        .map(|e| {
            (
                e["episode"].as_u64().expect("n"),
                e["title"].as_str().expect("t").to_string(),
            )
        })
        .collect();
    assert_eq!(s1.len(), 3, "{detail}");
    assert_eq!(s1[0], (1, "Pilot".to_string()));
    assert_eq!(s1[1].0, 2);
    assert_eq!(s1[2].0, 2);
    let ep = |season: usize, n: usize| detail["seasons"][season]["episodes"][n].clone();
    let pilot_id = ep(1, 0)["id"].as_str().expect("id").to_string();
    let next_id = ep(1, 1)["id"].as_str().expect("id").to_string();
    assert_eq!(ep(1, 0)["watched"], false);
    assert!(ep(1, 0)["position_s"].is_null());
    assert_eq!(
        detail["next_episode"],
        ep(0, 0)["id"],
        "not started: the first episode"
    );

    // Movie JSON carries the series.
    let m = c.get(&format!("/api/v1/movies/{pilot_id}")).json();
    assert_eq!(m["series"]["id"], id.as_str());
    assert_eq!(m["series"]["episode"].as_u64(), Some(1));
    let film = c.get("/api/v1/movies?q=inception").json();
    assert!(film[0]["series"].is_null(), "{film}");

    // Progress: past 90% of the pilot it is watched and the next episode is up.
    let duration = m["duration_s"].as_f64().expect("duration");
    let saved = c.post_json(
        &format!("/api/v1/movies/{pilot_id}/position"),
        &serde_json::json!({ "seconds": duration * 0.95 }),
    );
    assert_eq!(saved.status, 204, "{}", saved.body);
    let detail = c.get(&format!("/api/v1/series/{id}")).json();
    assert_eq!(
        detail["seasons"][1]["episodes"][0]["watched"], true,
        "{detail}"
    );
    assert_eq!(detail["next_episode"], next_id.as_str(), "{detail}");

    // The catalog: one card for the show, the film on its own; the show's episode to go on
    // with under "Continue watching"; the search finds the show by an episode's title.
    let page = c.get("/").body;
    assert_eq!(
        page.matches(&format!("data-series=\"{id}\"")).count(),
        1,
        "{page}"
    );
    assert!(
        !page.contains(&format!("data-movie=\"{pilot_id}\"")),
        "episodes are not cards"
    );
    let continuing = page
        .split("id=\"continue\"")
        .nth(1)
        .expect("continue watching row");
    let continuing = continuing.split("</section>").next().expect("row");
    assert!(
        continuing.contains(&format!("data-movie=\"{next_id}\"")),
        "{continuing}"
    );
    let found = c.get("/?q=dundies").body;
    assert!(found.contains(&format!("data-series=\"{id}\"")), "{found}");
    let series_page = c.get(&format!("/series/{id}"));
    assert_eq!(series_page.status, 200);
    assert!(series_page.body.contains("Season 2") && series_page.body.contains("Specials"));
    assert!(
        series_page
            .body
            .contains(&format!("href=\"/watch/{next_id}\""))
    );
    let watch = c.get(&format!("/watch/{pilot_id}")).body;
    assert!(
        watch.contains(&format!("data-next=\"{next_id}\"")),
        "Up next on the pilot"
    );

    // A series' tier is every episode's; a grant of the series opens them all, those added
    // later included, and its revocation closes them at the next manifest.
    ok(dir, &["series", "edit", &id, "--tier", "premium"]);
    assert_eq!(c.get(&format!("/stream/{pilot_id}")).status, 403);
    ok(dir, &["grant", "viewer", "--series", &id]);
    assert_eq!(c.get(&format!("/stream/{pilot_id}")).status, 200);
    let later = root.join("The Office (2005)/Season 2/The.Office.S02E03.Office.Olympics.mkv");
    clip(dir, 8, &later);
    let added = run_json(dir, &["ingest", later.to_str().expect("utf8"), "--json"]);
    assert_eq!(added["series"]["id"], id.as_str(), "{added}");
    assert_eq!(added["tier"], "premium", "the series' tier: {added}");
    let added_id = added["id"].as_str().expect("id");
    common::wait_for(120, "the added episode to be ready", || {
        let m = c.get(&format!("/api/v1/movies/{added_id}")).json();
        common::when(m["status"] == "ready", (), &m["status"])
    });
    assert_eq!(c.get(&format!("/stream/{added_id}")).status, 200);
    ok(dir, &["revoke", "viewer", "--series", &id]);
    assert_eq!(c.get(&format!("/stream/{pilot_id}")).status, 403);
    let refused = cli_env(dir, &["movie", "edit", &pilot_id, "--tier", "free"], FAST);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("series edit"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(c.get("/api/v1/series/nope").status, 404);
}
