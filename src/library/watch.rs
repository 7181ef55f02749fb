//! Watched folders (`[library] folders`): scanned when the server starts and watched while it
//! runs (inotify through the `notify` crate, and a full rescan every minute for what a watch can
//! miss: a network mount, a tree past the inotify limit). A video file is imported once its
//! size and modification time have held still for `library.settle`, so a copy still in progress
//! is never picked up half-written. Imports go the way `streamd ingest FOLDER` does: title and
//! year from the name, subtitles beside it, and a copy of a film already there skipped.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use notify::{RecursiveMode, Watcher};

use super::OwnFolders;
use crate::ingest::{IngestError, enqueue};
use crate::store::{MovieStatus, Store, Tier};

const RESCAN_EVERY: Duration = Duration::from_secs(60);
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// A file seen, and since when it has looked the same.
struct Candidate {
    size: u64,
    modified: Option<SystemTime>,
    still_since: Instant,
}

/// Starts watching on a thread of its own; it runs for the life of the process.
pub fn start(store: Store, folders: Vec<PathBuf>, settle: Duration, data_dir: &Path) {
    if folders.is_empty() {
        return;
    }
    let own = OwnFolders::of(data_dir, &folders);
    for folder in &folders {
        for inside in own.inside(folder) {
            tracing::warn!(
                folder = %folder.display(),
                skipped = %inside.display(),
                "a watched library folder holds streamd's own data dir: it is skipped (better: keep the data dir outside library folders)"
            );
        }
    }
    let spawned = std::thread::Builder::new()
        .name("library-watch".into())
        .spawn(move || Watch::new(store, folders, own, settle).run());
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start watching the library folders");
    }
}

struct Watch {
    store: Store,
    folders: Vec<PathBuf>,
    /// Never looked into (see [`OwnFolders`]).
    own: OwnFolders,
    settle: Duration,
    candidates: HashMap<PathBuf, Candidate>,
    /// Files already imported, refused or known copies: not looked at again unless they change.
    done: HashMap<PathBuf, (u64, Option<SystemTime>)>,
    /// Fingerprints of the films in the library, so a known copy costs no database scan.
    known: HashSet<String>,
}

impl Watch {
    fn new(store: Store, folders: Vec<PathBuf>, own: OwnFolders, settle: Duration) -> Watch {
        let known = store
            .list_movies()
            .map(|movies| {
                movies
                    .into_iter()
                    .filter(|m| m.status != MovieStatus::Failed)
                    .filter_map(|m| m.fingerprint)
                    .collect()
            })
            .unwrap_or_default();
        Watch {
            store,
            folders,
            own,
            settle,
            candidates: HashMap::new(),
            done: HashMap::new(),
            known,
        }
    }

    fn run(mut self) {
        let (tx, rx) = mpsc::channel();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let Ok(event) = event {
                for path in event.paths {
                    let _ = tx.send(path);
                }
            }
        });
        let mut watcher = match watcher {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch folders; rescanning every minute instead");
                None
            }
        };
        for folder in &self.folders {
            match watcher
                .as_mut()
                .map(|w| w.watch(folder, RecursiveMode::Recursive))
            {
                Some(Err(e)) => {
                    tracing::warn!(folder = %folder.display(), error = %e, "cannot watch a library folder; it is rescanned every minute")
                }
                _ => tracing::info!(folder = %folder.display(), "watching a library folder"),
            }
        }
        let mut last_scan: Option<Instant> = None;
        loop {
            if last_scan.is_none_or(|t| t.elapsed() >= RESCAN_EVERY) {
                self.scan();
                last_scan = Some(Instant::now());
            }
            match rx.recv_timeout(LOOK_EVERY) {
                Ok(path) => {
                    self.consider(&path);
                    while let Ok(path) = rx.try_recv() {
                        self.consider(&path);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // The watcher is gone: rescans alone from here.
                    std::thread::sleep(LOOK_EVERY);
                }
            }
            self.import_settled();
        }
    }

    fn scan(&mut self) {
        for folder in self.folders.clone() {
            let walk = walkdir::WalkDir::new(&folder).follow_links(true);
            let own = self.own.clone();
            for entry in walk
                .into_iter()
                .filter_entry(|e| !(OwnFolders::worth_checking(e) && own.hold(e.path())))
                .flatten()
            {
                if entry.file_type().is_file() {
                    self.consider(entry.path());
                }
            }
        }
    }

    /// A file appeared or changed: note how it looks now.
    fn consider(&mut self, path: &Path) {
        if crate::library::is_subtitle(path)
            || crate::library::unusable(path).as_deref() == Some("not a video")
            || self.own.hold(path)
        {
            return;
        }
        let Ok(meta) = std::fs::metadata(path) else {
            self.candidates.remove(path);
            return;
        };
        if !meta.is_file() {
            return;
        }
        let looks = (meta.len(), meta.modified().ok());
        if self.done.get(path) == Some(&looks) {
            return;
        }
        let unchanged = self
            .candidates
            .get(path)
            .is_some_and(|c| (c.size, c.modified) == looks);
        if !unchanged {
            self.candidates.insert(
                path.to_path_buf(),
                Candidate {
                    size: looks.0,
                    modified: looks.1,
                    still_since: Instant::now(),
                },
            );
        }
    }

    /// Imports every candidate that has held still for `settle`.
    fn import_settled(&mut self) {
        let paths: Vec<PathBuf> = self.candidates.keys().cloned().collect();
        for path in paths {
            // Look again: a copy in progress grows between events too.
            self.consider(&path);
            let Some(c) = self.candidates.get(&path) else {
                continue;
            };
            if c.still_since.elapsed() < self.settle {
                continue;
            }
            let looks = (c.size, c.modified);
            self.candidates.remove(&path);
            self.done.insert(path.clone(), looks);
            self.import(&path);
        }
    }

    fn import(&mut self, path: &Path) {
        if let Some(why) = crate::library::unusable(path) {
            tracing::warn!(file = %path.display(), reason = why, "library file skipped");
            return;
        }
        let print = match crate::ingest::fingerprint::of(path) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "library file cannot be read");
                return;
            }
        };
        if self.known.contains(&print) {
            tracing::debug!(file = %path.display(), "already in the library");
            return;
        }
        let root = (self.folders.iter())
            .find(|root| path.starts_with(root))
            .map_or_else(|| path.parent().unwrap_or(path), |root| root.as_path());
        let found = crate::library::new_movie(path, root, Tier::Free);
        let mut movie = found.movie;
        movie.fingerprint = Some(print.clone());
        for p in found.problems {
            tracing::warn!(file = %path.display(), problem = %p, "subtitles beside it skipped");
        }
        if let Some(note) = found.note {
            tracing::warn!(file = %path.display(), reason = %note, "imported as a film");
        }
        match enqueue(&self.store, path, movie) {
            Ok(m) => {
                tracing::info!(file = %path.display(), movie_id = %m.id, title = %m.title, "library file queued");
                self.known.insert(print);
            }
            Err(IngestError::Duplicate { id, .. }) => {
                tracing::debug!(file = %path.display(), movie_id = %id, "already in the library");
                self.known.insert(print);
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "library file not imported")
            }
        }
    }
}
