//! `streamd ingest FOLDER`: a tree as people keep films (videos, a copy under another name, a
//! non-video, subtitles beside a film, an empty file, a symlink loop, names in any script),
//! with the real binary and real ffmpeg.

mod common;

use std::path::Path;

use common::{Server, Work, add_user, cli_env, make_source, stderr, stdout, wait_for, when};

const FAST: &[(&str, &str)] = &[("STREAMD_TRANSCODE_PRESET", "ultrafast")];

fn import(dir: &Path, folder: &Path, extra: &[&str]) -> (bool, serde_json::Value, String) {
    let mut args = vec!["ingest", folder.to_str().expect("utf8"), "--json"];
    args.extend_from_slice(extra);
    let out = cli_env(dir, &args, FAST);
    let v = serde_json::from_str(stdout(&out).trim())
        .unwrap_or_else(|_| panic!("{}\n{}", stdout(&out), stderr(&out)));
    (out.status.success(), v, stderr(&out))
}

fn outcomes(v: &serde_json::Value) -> Vec<(String, String)> {
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            let path = i["path"].as_str().unwrap_or("");
            let name = Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, i["outcome"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

fn movies(dir: &Path) -> Vec<serde_json::Value> {
    let out = cli_env(dir, &["movies", "--json"], &[]);
    serde_json::from_str::<Vec<serde_json::Value>>(stdout(&out).trim()).expect("movies")
}

#[test]
fn a_folder_is_imported_once_with_names_subtitles_and_copies_handled() {
    let tmp = Server::temp_dir();
    let dir = tmp.path();
    let films = dir.join("films");
    std::fs::create_dir_all(films.join("extras/copies")).expect("tree");
    let a = make_source(dir, "a.mp4", "testsrc2=size=320x240:rate=25", 2, true, &[]);
    let b = make_source(dir, "b.mp4", "testsrc=size=320x240:rate=25", 2, false, &[]);
    std::fs::rename(&a, films.join("Amélie.2001.FRENCH.1080p.mp4")).expect("a");
    std::fs::rename(&b, films.join("extras/The Matrix (1999).mp4")).expect("b");
    std::fs::copy(
        films.join("Amélie.2001.FRENCH.1080p.mp4"),
        films.join("extras/copies/amelie copy.mp4"),
    )
    .expect("copy");
    std::fs::write(
        films.join("Amélie.2001.FRENCH.1080p.fr.srt"),
        "1\n00:00:00,200 --> 00:00:01,500\nBonjour\n",
    )
    .expect("srt");
    std::fs::write(films.join("cover.txt"), "not a film").expect("txt");
    std::fs::write(films.join("broken.mkv"), "").expect("empty");
    std::os::unix::fs::symlink("..", films.join("extras/loop")).expect("loop");

    // A dry run says what would happen and records nothing.
    let (ok, v, err) = import(dir, &films, &["--dry-run"]);
    assert!(ok, "{err}");
    assert_eq!(
        (v["would_import"].as_u64(), v["duplicates"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
    assert!(movies(dir).is_empty());

    let (ok, v, err) = import(dir, &films, &[]);
    assert!(ok, "{err}");
    let mut got = outcomes(&v);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("Amélie.2001.FRENCH.1080p.mp4".into(), "ready".into()),
            ("The Matrix (1999).mp4".into(), "ready".into()),
            ("amelie copy.mp4".into(), "already in the library".into()),
            ("broken.mkv".into(), "skipped".into()),
            ("cover.txt".into(), "skipped".into()),
            ("loop".into(), "skipped".into()),
        ],
        "{v}"
    );
    let mut library: Vec<(String, u64, usize)> = movies(dir)
        .iter()
        .map(|m| {
            (
                m["title"].as_str().unwrap_or("").to_string(),
                m["year"].as_u64().unwrap_or(0),
                m["subtitles"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    library.sort();
    assert_eq!(
        library,
        vec![("Amélie".into(), 2001, 1), ("The Matrix".into(), 1999, 0)]
    );

    // Again: nothing new. Then, with the server running, a new film dropped in is queued
    // through it and the rest are still known.
    let (ok, v, err) = import(dir, &films, &[]);
    assert!(ok, "{err}");
    assert_eq!(
        (v["queued"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(3)),
        "{v}"
    );
    add_user(dir, "root", "correct horse battery", &["--admin"]);
    let _server = Server::start_in(dir, FAST);
    let c = make_source(
        dir,
        "c.mp4",
        "smptebars=size=320x240:rate=25",
        2,
        false,
        &[],
    );
    let work = Work::of(&c);
    std::fs::rename(&c, films.join("Город.2010.mp4")).expect("c");
    let (ok, v, err) = import(dir, &films, &[]);
    assert!(ok, "{err}");
    assert_eq!(
        (v["queued"].as_u64(), v["duplicates"].as_u64()),
        (Some(1), Some(3)),
        "{v}"
    );
    wait_for(
        work.whole("ultrafast"),
        "the server to transcode the new film",
        || {
            let all = movies(dir);
            let done = all
                .iter()
                .any(|m| m["title"] == "Город" && m["year"] == 2010 && m["status"] == "ready");
            when(done, (), serde_json::Value::from(all))
        },
    );
}

/// A folder where a file cannot be imported: the scan goes on, the rest is imported, and the
/// exit status says something failed.
#[test]
fn a_file_that_fails_does_not_stop_the_scan() {
    let tmp = Server::temp_dir();
    let dir = tmp.path();
    let films = dir.join("films");
    std::fs::create_dir_all(&films).expect("films");
    let good = make_source(dir, "g.mp4", "testsrc2=size=320x240:rate=25", 2, false, &[]);
    std::fs::rename(&good, films.join("Good.Film.2015.mp4")).expect("good");
    // Named like a video, but not one: ffprobe refuses it, so its job fails.
    std::fs::write(films.join("Not.A.Film.2016.mkv"), vec![7u8; 4096]).expect("junk");
    let (ok, v, _) = import(dir, &films, &[]);
    assert!(!ok, "a failed file makes the exit status say so: {v}");
    let mut got = outcomes(&v);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("Good.Film.2015.mp4".into(), "ready".into()),
            ("Not.A.Film.2016.mkv".into(), "failed".into()),
        ],
        "{v}"
    );
}

/// Metadata edits (CLI and API), search and sort, resume positions and "Continue watching".
#[test]
fn metadata_search_sort_and_continue_watching() {
    use streamd::store::{Movie, MovieId, MovieStatus, Store, Tier, Timestamp};
    const PW: &str = "correct horse battery";
    let tmp = Server::temp_dir();
    let dir = tmp.path();
    add_user(dir, "root", PW, &["--admin"]);
    add_user(dir, "ann", PW, &["--plan", "premium"]);
    {
        let store = Store::open(dir).expect("store");
        for (id, title, year, added) in [
            ("amelie000001", "Amélie", Some(2001), 30),
            ("matrix000001", "The Matrix", Some(1999), 20),
            ("leon00000001", "Leon", None, 10),
        ] {
            store
                .put_movie(&Movie {
                    status: MovieStatus::Ready,
                    duration_s: Some(6000.0),
                    year,
                    ..Movie::new(
                        MovieId::parse(id).expect("id"),
                        title.into(),
                        Tier::Free,
                        Timestamp(added),
                    )
                })
                .expect("movie");
        }
    }
    // The CLI, with no server: year and description; `none` clears the year.
    let edit = |args: &[&str]| {
        let mut all = vec!["movie", "edit", "leon00000001", "--json"];
        all.extend_from_slice(args);
        cli_env(dir, &all, &[])
    };
    let out = edit(&[
        "--year",
        "1994",
        "--description",
        "A hitman takes in a girl.",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    assert_eq!(
        (v["year"].as_u64(), v["description"].as_str()),
        (Some(1994), Some("A hitman takes in a girl."))
    );
    let out = edit(&["--year", "none"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    assert!(v["year"].is_null(), "{v}");
    assert!(!edit(&["--year", "nineteen"]).status.success());
    assert!(!edit(&[]).status.success(), "nothing to change is an error");
    assert!(edit(&["--year", "1994"]).status.success());

    let s = Server::start_in(dir, &[]);
    let mut root = s.client();
    assert_eq!(root.login("root", PW).status, 200);
    let r = root.patch_json(
        "/api/v1/movies/leon00000001",
        &serde_json::json!({"title": "Léon: The Professional", "tier": "premium"}),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.json()["title"].as_str(), r.json()["tier"].as_str()),
        (Some("Léon: The Professional"), Some("premium"))
    );
    assert_eq!(r.json()["year"], 1994, "an absent field stays");
    for (body, status) in [
        (serde_json::json!({"rating": 5}), 400),
        (serde_json::json!({"year": 1500}), 400),
        (serde_json::json!({"title": ""}), 400),
        (serde_json::json!({"description": "d".repeat(4001)}), 400),
        (serde_json::json!({"description": "d".repeat(1 << 20)}), 413),
        (serde_json::json!({}), 400),
    ] {
        let r = root.patch_json("/api/v1/movies/leon00000001", &body, None);
        assert_eq!(r.status, status, "{}", r.body);
    }
    let one = serde_json::json!({"year": 1995});
    assert_eq!(
        root.patch_json("/api/v1/movies/nosuchmovie1", &one, None)
            .status,
        404
    );
    assert_eq!(
        root.patch_json(
            "/api/v1/movies/leon00000001",
            &one,
            Some("http://evil.example")
        )
        .status,
        403
    );
    let mut ann = s.client();
    assert_eq!(ann.login("ann", PW).status, 200);
    assert_eq!(
        ann.patch_json("/api/v1/movies/leon00000001", &one, None)
            .status,
        403
    );

    // Search (case, accents, punctuation ignored) and the three sorts.
    let titles = |c: &mut common::Client, q: &str| -> Vec<String> {
        let r = c.get(&format!("/api/v1/movies?{q}"));
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        r.json()
            .as_array()
            .expect("list")
            .iter()
            .map(|m| m["title"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(titles(&mut ann, "q=amelie"), ["Amélie"]);
    assert_eq!(
        titles(&mut ann, "q=LEON%20professional"),
        ["Léon: The Professional"]
    );
    assert_eq!(titles(&mut ann, "q=matrix&sort=year"), ["The Matrix"]);
    assert_eq!(
        titles(&mut ann, "sort=title"),
        ["Amélie", "Léon: The Professional", "The Matrix"]
    );
    assert_eq!(
        titles(&mut ann, "sort=year"),
        ["Amélie", "The Matrix", "Léon: The Professional"]
    );
    assert_eq!(
        titles(&mut ann, "sort=added"),
        ["Amélie", "The Matrix", "Léon: The Professional"]
    );
    assert_eq!(ann.get("/api/v1/movies?sort=rating").status, 400);

    // A resume position shows in the list and puts the film in "Continue watching".
    let r = ann.post_json(
        "/api/v1/movies/matrix000001/position",
        &serde_json::json!({"seconds": 1200.0}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let list = ann.get("/api/v1/movies").json();
    let position = |id: &str| {
        list.as_array()
            .expect("list")
            .iter()
            .find(|m| m["id"] == id)
            .map(|m| m["position_s"].clone())
            .expect("movie")
    };
    assert_eq!(position("matrix000001"), 1200.0);
    assert!(position("amelie000001").is_null());
    assert!(
        list[0]["added_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("1970-")),
        "{list}"
    );
    let page = ann.get("/").body;
    let row = page
        .split("id=\"continue\"")
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
        .expect("a Continue watching row");
    assert!(
        row.contains("The Matrix") && !row.contains("Amélie"),
        "{row}"
    );
    let searched = ann.get("/?q=amelie").body;
    assert!(searched.contains("Amélie") && !searched.contains("The Matrix"));

    // The admin page's form sends every field: an emptied year is cleared.
    let admin = root.get("/admin").body;
    let csrf = root.csrf_from(&admin);
    let form = |csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("title", "Amélie".to_string()),
            ("year", String::new()),
            ("tier", "premium".to_string()),
            ("description", "Paris, 1997.".to_string()),
        ]
    };
    let fields = form(&csrf);
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = root.post_form("/admin/movies/amelie000001/edit", &pairs);
    assert_eq!(r.status, 303, "{}", r.body);
    let m = root.get("/api/v1/movies/amelie000001").json();
    assert!(m["year"].is_null(), "{m}");
    assert_eq!(
        (m["description"].as_str(), m["tier"].as_str()),
        (Some("Paris, 1997."), Some("premium"))
    );
    let stale = form("not-a-token");
    let pairs: Vec<(&str, &str)> = stale.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        root.post_form("/admin/movies/amelie000001/edit", &pairs)
            .status,
        403
    );
}

/// Watched folders: a film there at start is imported; one copied in slowly is imported only
/// once it is whole (never half-written), with its title from the name.
#[test]
fn a_watched_folder_imports_new_films_only_once_they_are_whole() {
    let tmp = Server::temp_dir();
    let dir = tmp.path();
    let watched = dir.join("watched");
    std::fs::create_dir_all(&watched).expect("watched dir");
    let early = make_source(
        dir,
        "early.mp4",
        "testsrc2=size=320x240:rate=25",
        2,
        false,
        &[],
    );
    std::fs::rename(&early, watched.join("Early.Film.2011.mp4")).expect("early");
    let slow = make_source(
        dir,
        "slow.mp4",
        "testsrc=size=320x240:rate=25",
        3,
        true,
        &[],
    );
    let folders = format!("[\"{}\"]", watched.display());
    let _s = Server::start_in(
        dir,
        &[
            ("STREAMD_LIBRARY_FOLDERS", folders.as_str()),
            ("STREAMD_LIBRARY_SETTLE", "2s"),
            ("STREAMD_TRANSCODE_PRESET", "ultrafast"),
        ],
    );
    let status_of = |title: &str| {
        movies(dir)
            .iter()
            .find(|m| m["title"] == title)
            .map(|m| (m["status"].as_str().unwrap_or("").to_string(), m.clone()))
    };
    // Found by the folder watch (or, without one, by the rescan every minute), held still for
    // the settle time, then encoded.
    let found = |src: &Path| 60 + 2 + Work::of(src).whole("ultrafast");
    wait_for(
        found(&watched.join("Early.Film.2011.mp4")),
        "the film there at start to be imported",
        || match status_of("Early Film") {
            Some((s, _)) if s == "ready" => Ok(()),
            seen => Err(format!("{seen:?}")),
        },
    );

    // Copied in slowly: a piece every 600 ms, so it never holds still for the 2 s settle time
    // until done (the clock this test is about).
    let bytes = std::fs::read(&slow).expect("slow source");
    let target = watched.join("Slow.Copy.2012.mp4");
    {
        use std::io::Write;
        let mut out = std::fs::File::create(&target).expect("create");
        for piece in bytes.chunks(bytes.len() / 8 + 1) {
            out.write_all(piece).expect("write");
            out.flush().expect("flush");
            std::thread::sleep(std::time::Duration::from_millis(600));
            assert!(
                status_of("Slow Copy").is_none(),
                "picked up while still being copied"
            );
        }
    }
    let (_, movie) = wait_for(
        found(&target),
        "the copied film to be imported whole",
        || match status_of("Slow Copy") {
            Some((s, m)) if s == "ready" => Ok((s, m)),
            seen => Err(format!("{seen:?}")),
        },
    );
    assert_eq!(movie["year"], 2012, "{movie}");
    let duration = movie["duration_s"].as_f64().expect("duration");
    assert!((duration - 3.0).abs() < 0.5, "the whole file: {movie}");
}

/// One still picture made by ffmpeg (`.png` or `.jpg` by the name).
fn picture(dir: &Path, name: &str, size: &str) -> Vec<u8> {
    let path = dir.join(name);
    let made = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={size}:rate=1"))
        .args(["-frames:v", "1"])
        .arg(&path)
        .status()
        .expect("ffmpeg");
    assert!(made.success(), "making {name}");
    std::fs::read(&path).expect("read")
}

/// The poster objects of a movie, with their picture sizes.
fn posters(dir: &Path, id: &str) -> Vec<(String, u64, u64)> {
    let movie = dir.join("objects/media/movies").join(id);
    let mut found: Vec<(String, u64, u64)> = std::fs::read_dir(&movie)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("poster"))
                .map(|n| {
                    let v =
                        common::ffprobe(&movie.join(&n), &["-show_entries", "stream=width,height"]);
                    let dim = |k: &str| v["streams"][0][k].as_u64().unwrap_or(0);
                    (n.clone(), dim("width"), dim("height"))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn a_poster_is_set_by_cli_api_and_page_and_anything_but_a_picture_is_refused() {
    use streamd::store::{Movie, MovieId, MovieStatus, Store, Tier, Timestamp};
    const PW: &str = "correct horse battery";
    let tmp = Server::temp_dir();
    let dir = tmp.path();
    add_user(dir, "root", PW, &["--admin"]);
    add_user(dir, "ann", PW, &[]);
    let id = "vertigo00001";
    {
        let store = Store::open(dir).expect("store");
        store
            .put_movie(&Movie {
                status: MovieStatus::Ready,
                duration_s: Some(7680.0),
                ..Movie::new(
                    MovieId::parse(id).expect("id"),
                    "Vertigo".into(),
                    Tier::Free,
                    Timestamp(1),
                )
            })
            .expect("movie");
    }
    let work = dir.join("pictures");
    std::fs::create_dir_all(&work).expect("mkdir");

    // The CLI, no server running: a tall PNG becomes a JPEG at most 720 lines high.
    picture(&work, "tall.png", "1000x1500");
    let out = cli_env(
        dir,
        &[
            "movie",
            "edit",
            id,
            "--poster",
            work.join("tall.png").to_str().expect("utf8"),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let first = posters(dir, id);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].0.starts_with("poster-") && first[0].0.ends_with(".jpg"));
    assert_eq!((first[0].1, first[0].2), (480, 720));

    let s = Server::start_in(dir, &[]);
    let mut root = s.client();
    assert_eq!(root.login("root", PW).status, 200);
    let post = |c: &mut common::Client, file: &[u8], name: &str| {
        let (ct, body) = common::multipart(&[("file", Some(name), file)]);
        c.post_raw(&format!("/api/v1/movies/{id}/poster"), &ct, &body)
    };

    // The API: a wide JPEG replaces it under a new name; the old object is gone.
    let wide = picture(&work, "wide.jpg", "1920x1080");
    let r = post(&mut root, &wide, "wide.jpg");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["id"], id);
    let second = posters(dir, id);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(
        second[0].0, first[0].0,
        "a new name, so no cache shows the old one"
    );
    assert_eq!((second[0].1, second[0].2), (1280, 720));
    let catalog = root.get("/").body;
    assert!(
        catalog.contains(&format!("/movies/{id}/{}?", second[0].0)),
        "the catalog shows it"
    );

    // Refusals change nothing and leave no file behind.
    let png = picture(&work, "small.png", "64x64");
    let playlist = b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n".to_vec();
    let huge = picture(&work, "huge.png", "8000x8000");
    for (file, name, status, says) in [
        (b"just some text".to_vec(), "poster.jpg", 400, "JPEG or PNG"),
        (playlist, "poster.png", 400, "JPEG or PNG"),
        (png[..60].to_vec(), "cut.png", 400, "not a readable picture"),
        (huge, "huge.png", 400, "not a readable picture"),
        (vec![0u8; 21 << 20], "big.jpg", 413, "larger than"),
        (vec![], "empty.png", 400, "empty"),
    ] {
        let r = post(&mut root, &file, name);
        assert_eq!(r.status, status, "{name}: {}", r.body);
        assert!(r.body.contains(says), "{name}: {}", r.body);
    }
    let (ct, body) = common::multipart(&[("title", None, b"no file")]);
    assert_eq!(
        root.post_raw(&format!("/api/v1/movies/{id}/poster"), &ct, &body)
            .status,
        400
    );
    assert_eq!(post(&mut root, &png, "p.png").status, 200);
    let third = posters(dir, id);
    assert_eq!(third.len(), 1);
    assert_eq!(
        (third[0].1, third[0].2),
        (64, 64),
        "a small picture is not blown up"
    );
    let r = root.post_raw(
        "/api/v1/movies/nosuchmovie1/poster",
        &common::multipart(&[("file", Some("p.png"), &png)]).0,
        &common::multipart(&[("file", Some("p.png"), &png)]).1,
    );
    assert_eq!(r.status, 404);
    let mut ann = s.client();
    assert_eq!(ann.login("ann", PW).status, 200);
    assert_eq!(post(&mut ann, &png, "p.png").status, 403);
    for leftovers in ["uploads", "staging"] {
        let n = std::fs::read_dir(dir.join(leftovers))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(n, 0, "nothing left in {leftovers}");
    }

    // The admin page's form, with its CSRF token; a stale token is refused.
    let admin = root.get("/admin").body;
    assert!(admin.contains(&format!("action=\"/admin/movies/{id}/poster\"")));
    let csrf = root.csrf_from(&admin);
    let form = |token: &str| {
        common::multipart(&[
            ("csrf", None, token.as_bytes()),
            ("file", Some("wide.jpg"), &wide),
        ])
    };
    let (ct, body) = form(&csrf);
    let r = root.post_raw(&format!("/admin/movies/{id}/poster"), &ct, &body);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(posters(dir, id)[0].1, 1280);
    let (ct, body) = form("stale");
    assert_eq!(
        root.post_raw(&format!("/admin/movies/{id}/poster"), &ct, &body)
            .status,
        403
    );
}

#[test]
fn a_big_library_is_paged_on_the_catalog_and_in_the_api() {
    use streamd::store::{Movie, MovieId, MovieStatus, Store, Tier, Timestamp};
    const PW: &str = "correct horse battery";
    let tmp = Server::temp_dir();
    let dir = tmp.path();
    add_user(dir, "ann", PW, &[]);
    {
        let store = Store::open(dir).expect("store");
        for n in 0..130 {
            let title = if n % 2 == 0 {
                format!("Night {n:03}")
            } else {
                format!("Day {n:03}")
            };
            store
                .put_movie(&Movie {
                    status: MovieStatus::Ready,
                    duration_s: Some(5400.0),
                    ..Movie::new(MovieId::generate(), title, Tier::Free, Timestamp(n))
                })
                .expect("movie");
        }
    }
    let s = Server::start_in(dir, &[]);
    let mut ann = s.client();
    assert_eq!(ann.login("ann", PW).status, 200);
    let tiles = |html: &str| html.matches("<li class=\"tile").count();

    let first = ann.get("/").body;
    assert_eq!(tiles(&first), 60);
    assert!(first.contains("Page 1 of 3 · 130 movies"), "{first}");
    assert!(
        first.contains("href=\"/?sort=title&#38;page=2\" rel=\"next\""),
        "{}",
        first.split("class=\"pages\"").nth(1).unwrap_or("")
    );
    assert!(!first.contains("rel=\"prev\""));
    assert!(first.contains("Day 001"), "sorted by title: the days first");
    let last = ann.get("/?sort=title&page=3").body;
    assert_eq!(tiles(&last), 10);
    assert!(
        last.contains("Night 128")
            && last.contains("rel=\"prev\"")
            && !last.contains("rel=\"next\"")
    );
    assert_eq!(
        tiles(&ann.get("/?page=99").body),
        10,
        "past the end is the last page"
    );
    assert_eq!(tiles(&ann.get("/?page=0").body), 60);

    // A search pages too, and its links keep it.
    let nights = ann.get("/?q=NIGHT&sort=added").body;
    assert!(nights.contains("Page 1 of 2 · 65 movies"), "{nights}");
    assert!(nights.contains("href=\"/?q=NIGHT&#38;sort=added&#38;page=2\""));
    assert!(nights.contains("Night 128") && !nights.contains("Day "));

    // The API: everything by default, a page with limit and offset; the total in a header.
    let all = ann.get("/api/v1/movies");
    assert_eq!(all.json().as_array().map(Vec::len), Some(130));
    assert_eq!(all.header("x-total-count"), Some("130"));
    let page = ann.get("/api/v1/movies?q=night&sort=title&limit=10&offset=60");
    let titles: Vec<String> = page
        .json()
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["title"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        titles,
        [
            "Night 120",
            "Night 122",
            "Night 124",
            "Night 126",
            "Night 128"
        ]
    );
    assert_eq!(page.header("x-total-count"), Some("65"));
    assert_eq!(ann.get("/api/v1/movies?limit=x").status, 400);
}

/// What a scan meets in real folders besides films: a file it may not read, a named pipe, a link
/// to a file that is gone. Each gets a line saying why, nothing hangs, and the film beside them is
/// still found. Tests run as root in CI, where nothing is unreadable: the scan then runs as
/// `nobody` (setpriv, from util-linux) in world-writable folders.
#[test]
fn unreadable_files_pipes_and_dangling_links_are_skipped_with_a_line_each() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = Server::temp_dir();
    let dir = tmp.path();
    let films = dir.join("films");
    let data = dir.join("data");
    for d in [&films, &data] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let good = make_source(dir, "g.mp4", "testsrc2=size=320x240:rate=25", 1, false, &[]);
    std::fs::rename(&good, films.join("Good.Film.2015.mp4")).expect("good");
    let secret = films.join("Private.2019.mkv");
    std::fs::write(&secret, vec![1u8; 4096]).expect("secret");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let made = std::process::Command::new("mkfifo")
        .arg(films.join("Pipe.2018.mkv"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    std::os::unix::fs::symlink("/nonexistent/film.mkv", films.join("Gone.2017.mkv")).expect("ln");

    let as_root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if as_root {
        for d in [dir, films.as_path(), data.as_path()] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        }
        std::fs::set_permissions(
            films.join("Good.Film.2015.mp4"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        // nobody may not reach the build's target dir: a copy it can run.
        let bin = dir.join("streamd");
        std::fs::copy(common::BIN, &bin).expect("copy the binary");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(bin);
        c
    } else {
        std::process::Command::new(common::BIN)
    };
    let out = cmd
        .arg("--data-dir")
        .arg(&data)
        .args([
            "ingest",
            films.to_str().expect("utf8"),
            "--dry-run",
            "--json",
        ])
        .env_remove("STREAMD_CONFIG")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the scan");
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim())
        .unwrap_or_else(|_| panic!("{}\n{}", stdout(&out), stderr(&out)));
    let reasons: std::collections::BTreeMap<String, (String, String)> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            let name = Path::new(i["path"].as_str().unwrap_or(""))
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let outcome = i["outcome"].as_str().unwrap_or("").to_string();
            (
                name,
                (outcome, i["reason"].as_str().unwrap_or("").to_string()),
            )
        })
        .collect();
    let of = |name: &str| {
        reasons
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {v}"))
    };
    assert_eq!(of("Good.Film.2015.mp4").0, "would import", "{v}");
    assert_eq!(of("Private.2019.mkv").0, "skipped");
    assert!(of("Private.2019.mkv").1.contains("ermission denied"), "{v}");
    assert_eq!(of("Pipe.2018.mkv").0, "skipped");
    assert!(of("Pipe.2018.mkv").1.contains("not a regular file"), "{v}");
    assert_eq!(of("Gone.2017.mkv").0, "skipped");
    assert!(of("Gone.2017.mkv").1.contains("cannot be read"), "{v}");
    assert_eq!(reasons.len(), 4, "{v}");
}

/// streamd's own output is never a film: an import of a folder that holds the data dir takes
/// nothing from it, and a watched folder holding it imports each new film once and never what
/// streamd publishes there (every `init.mp4` would be a "movie", and each import would publish
/// more: a loop). `serve` and `doctor` say the data dir should live elsewhere.
#[test]
fn a_library_folder_holding_the_data_dir_never_imports_streamds_own_files() {
    let tmp = Server::temp_dir();
    let media = tmp.path().join("media");
    let data = media.join("streamd");
    std::fs::create_dir_all(&data).expect("data dir");
    let source = |name: &str, pattern: &str| make_source(tmp.path(), name, pattern, 2, true, &[]);
    // A movie published into the data dir before anything else.
    let first = source("first.mp4", "testsrc=size=320x240:rate=25");
    let out = cli_env(
        &data,
        &[
            "ingest",
            first.to_str().expect("utf8"),
            "--title",
            "First",
            "--json",
        ],
        FAST,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(data.join("objects/media/movies").is_dir());
    let early = media.join("Early.Film.2011.mp4");
    std::fs::rename(source("early.mp4", "testsrc2=size=320x240:rate=25"), &early).expect("early");

    let (ok, v, err) = import(&data, &media, &["--dry-run"]);
    assert!(ok, "{err}");
    assert_eq!(v["would_import"].as_u64(), Some(1), "only the film: {v}");
    assert!(
        outcomes(&v).iter().all(|(name, _)| name != "init.mp4"),
        "nothing of the data dir is even looked at: {v}"
    );
    assert!(err.contains("streamd's own data"), "{err}");

    let folders = format!("[\"{}\"]", media.display());
    let env = [
        ("STREAMD_LIBRARY_FOLDERS", folders.as_str()),
        ("STREAMD_LIBRARY_SETTLE", "2s"),
        ("STREAMD_TRANSCODE_PRESET", "ultrafast"),
    ];
    let mut s = Server::start_in(&data, &env);
    let titles = || {
        let mut t: Vec<(String, String)> = movies(&data)
            .iter()
            .map(|m| {
                let s = |k: &str| m[k].as_str().unwrap_or("").to_string();
                (s("title"), s("status"))
            })
            .collect();
        t.sort();
        t
    };
    let ready = |title: &str| {
        let seen = titles();
        let done = seen.iter().any(|(t, s)| t == title && s == "ready");
        when(done, (), format!("{seen:?}"))
    };
    let found = |src: &Path| 60 + 2 + Work::of(src).whole("ultrafast");
    wait_for(
        found(&early),
        "the film in the folder to be imported",
        || ready("Early Film"),
    );
    // Its objects were published inside the watched folder meanwhile. A film added after them
    // is imported after them: once it is ready, anything of theirs would have been too.
    let later = media.join("Later.Film.2012.mp4");
    std::fs::rename(
        source("later.mp4", "smptebars=size=320x240:rate=25"),
        &later,
    )
    .expect("later");
    wait_for(found(&later), "the film added later to be imported", || {
        ready("Later Film")
    });
    assert_eq!(
        titles(),
        [
            ("Early Film".to_string(), "ready".to_string()),
            ("First".to_string(), "ready".to_string()),
            ("Later Film".to_string(), "ready".to_string()),
        ],
        "every film once, and nothing streamd published"
    );

    let doctor = cli_env(&data, &["doctor"], &env);
    assert!(
        stdout(&doctor).contains("holds streamd's own data"),
        "{}",
        stdout(&doctor)
    );
    let (_, log) = s.stop_with_stderr();
    assert!(log.contains("holds streamd's own data dir"), "{log}");
}
