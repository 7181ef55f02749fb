//! `streamd ingest FOLDER`: every video under it (recursive; symlinks followed, loops reported
//! and not followed), title and year from each file's name, subtitles beside each, and a file
//! whose content is already in the library skipped. One line per file; the scan goes on past
//! anything it cannot use. Queued through the running server, or, when none runs, transcoded
//! here one after another (unless --no-wait).

use std::path::Path;

use anyhow::bail;
use serde::Serialize;
use walkdir::WalkDir;

use super::ingest::Queue;
use crate::config::Config;
use crate::library;
use crate::manage::MovieView;
use crate::store::Tier;

pub struct Options {
    pub tier: Tier,
    pub no_wait: bool,
    pub dry_run: bool,
    pub json: bool,
}

/// What became of one file.
#[derive(Serialize)]
struct Item {
    path: String,
    /// `queued`, `would import`, `already in the library`, `skipped`, `failed`, `ready`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    movie: Option<MovieView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Subtitle files beside it, imported with it.
    #[serde(skip_serializing_if = "is_zero")]
    subtitle_files: usize,
}

impl Item {
    /// A file that did not become a movie, and why.
    fn not_imported(path: String, outcome: &'static str, reason: String) -> Item {
        Item {
            path,
            outcome,
            movie: None,
            reason: Some(reason),
            subtitle_files: 0,
        }
    }
}

/// Why an episode is flagged: another file already holds its season and episode.
fn clash(view: &MovieView) -> Option<String> {
    let series = view.series.as_ref()?;
    let other = series.also_claimed_by.as_ref()?;
    Some(format!(
        "{} of {:?} is also claimed by movie {other}: both are kept; fix either with `streamd movie edit ID --season N --episode N`",
        series.label, series.title
    ))
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn say(items: &mut Vec<Item>, json: bool, item: Item) {
    if !json {
        let what = match (&item.movie, &item.reason) {
            (Some(m), reason) => format!(
                "{}{}{:?}{}{}{}",
                // A dry run's id is never used.
                if item.outcome == "would import" {
                    String::new()
                } else {
                    format!("{} ", m.id)
                },
                m.series
                    .as_ref()
                    .map(|s| format!("{:?} {} ", s.title, s.label))
                    .unwrap_or_default(),
                m.title,
                m.year.map(|y| format!(" ({y})")).unwrap_or_default(),
                match item.subtitle_files {
                    0 => String::new(),
                    n => format!(", {n} subtitle file(s) beside it"),
                },
                reason
                    .as_ref()
                    .map(|r| format!(" (note: {r})"))
                    .unwrap_or_default()
            ),
            (None, Some(r)) => r.clone(),
            (None, None) => String::new(),
        };
        eprintln!("{:<22} {}: {what}", item.outcome, item.path);
    }
    items.push(item);
}

pub fn run(config: &Config, root: &Path, opts: Options) -> anyhow::Result<()> {
    let data_dir = &config.server.data_dir;
    let queue = Queue::open(data_dir)?;
    let root = std::path::absolute(root)?;
    let mut items = Vec::new();
    let mut seen = std::collections::HashMap::new();
    let json = opts.json;
    // Never streamd's own output: a folder that holds the data dir would import every
    // published init segment as a movie.
    let own = library::OwnFolders::of(data_dir, std::slice::from_ref(&root));
    for skipped in own.inside(&root) {
        eprintln!(
            "skipping {}: streamd's own data, not a library folder",
            skipped.display()
        );
    }
    let walk = WalkDir::new(&root).follow_links(true).sort_by_file_name();
    let skip = |e: &walkdir::DirEntry| library::OwnFolders::worth_checking(e) && own.hold(e.path());
    for found in walk.into_iter().filter_entry(|e| !skip(e)) {
        let entry = match found {
            Ok(entry) => entry,
            Err(e) => {
                let path = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let reason = if e.loop_ancestor().is_some() {
                    "a symlink loop: not followed".to_string()
                } else {
                    format!(
                        "cannot be read: {}",
                        e.io_error()
                            .map_or_else(|| e.to_string(), |io| io.to_string())
                    )
                };
                say(
                    &mut items,
                    json,
                    Item::not_imported(path, "skipped", reason),
                );
                continue;
            }
        };
        let path = entry.path();
        // Subtitle files come with their movie.
        if entry.file_type().is_dir() || library::is_subtitle(path) {
            continue;
        }
        let shown = path.display().to_string();
        if !entry.file_type().is_file() {
            // Reading a named pipe would wait for a writer forever.
            let reason = "not a regular file (a pipe, socket or device)".to_string();
            say(
                &mut items,
                json,
                Item::not_imported(shown, "skipped", reason),
            );
            continue;
        }
        if let Some(why) = library::unusable(path) {
            let item = Item::not_imported(shown, "skipped", why);
            say(&mut items, json, item);
            continue;
        }
        // Two copies in one folder: the second is the first's duplicate, even in a dry run
        // (which records nothing the store could match).
        let print = match crate::ingest::fingerprint::of(path) {
            Ok(print) => {
                if let Some(first) = seen.get(&print) {
                    let reason = format!("a copy of {first}");
                    say(
                        &mut items,
                        json,
                        Item::not_imported(shown, "already in the library", reason),
                    );
                    continue;
                }
                seen.insert(print.clone(), shown.clone());
                print
            }
            Err(e) => {
                let reason = format!("cannot be read: {e}");
                say(
                    &mut items,
                    json,
                    Item::not_imported(shown, "skipped", reason),
                );
                continue;
            }
        };
        let found = library::new_movie(path, &root, opts.tier);
        let mut movie = found.movie;
        for p in found.problems {
            eprintln!("skipping subtitles: {p}");
        }
        movie.dry_run = opts.dry_run;
        movie.fingerprint = Some(print);
        let subtitle_files = movie.sidecars.len();
        let item = match queue.add(data_dir, path, movie) {
            Ok(view) => Item {
                path: shown,
                outcome: if opts.dry_run {
                    "would import"
                } else {
                    "queued"
                },
                reason: found.note.or_else(|| clash(&view)),
                movie: Some(view),
                subtitle_files,
            },
            Err(e) => {
                let reason = format!("{e:#}");
                let outcome = if reason.contains("already in the library as ") {
                    "already in the library"
                } else {
                    "failed"
                };
                Item::not_imported(shown, outcome, reason)
            }
        };
        say(&mut items, json, item);
    }

    // With no server, the films are made here, one after another.
    if !opts.dry_run && !opts.no_wait && matches!(queue, Queue::Here(_)) {
        for item in items.iter_mut().filter(|i| i.outcome == "queued") {
            let Some(id) = item.movie.as_ref().map(|m| m.id.clone()) else {
                continue;
            };
            let view = queue.finish(config, &id)?;
            (item.outcome, item.reason) = match view.status.as_str() {
                // A note from the import (an episode claimed twice) stays with it.
                "ready" => ("ready", item.reason.take()),
                _ => ("failed", view.error.clone()),
            };
            if !json {
                eprintln!(
                    "{:<22} {}: {}",
                    item.outcome,
                    item.path,
                    item.reason.as_deref().unwrap_or(&id)
                );
            }
            item.movie = Some(view);
        }
    } else if !opts.dry_run && !json && matches!(queue, Queue::Server) {
        eprintln!("the server transcodes them: `streamd movies` shows how far it has got");
    }

    let count = |o: &str| items.iter().filter(|i| i.outcome == o).count();
    let failed = count("failed");
    if json {
        println!(
            "{}",
            serde_json::json!({
                "items": items,
                "queued": count("queued") + count("ready"),
                "would_import": count("would import"),
                "duplicates": count("already in the library"),
                "skipped": count("skipped"),
                "failed": failed,
            })
        );
    } else {
        eprintln!(
            "{} {}, {} already in the library, {} skipped, {failed} failed",
            count("queued") + count("ready") + count("would import"),
            if opts.dry_run {
                "to import"
            } else {
                "imported"
            },
            count("already in the library"),
            count("skipped"),
        );
    }
    if failed > 0 {
        bail!("{failed} of the files could not be imported (see above)");
    }
    Ok(())
}

/// `ingest FILE --dry-run`: the movie that would be queued.
pub fn print_dry_run(view: &MovieView, subtitle_files: usize, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(view)?);
    } else {
        println!(
            "would import {:?}{} ({}), {} subtitle file(s) beside it",
            view.title,
            view.year.map(|y| format!(" ({y})")).unwrap_or_default(),
            view.tier,
            subtitle_files
        );
    }
    Ok(())
}
