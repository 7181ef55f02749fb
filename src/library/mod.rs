//! A library from files as people keep them: names that say title and year, subtitles
//! beside the movie, content fingerprints, folders imported once and watched.

pub mod episodes;
pub mod names;
pub mod sidecars;
pub mod watch;

use std::path::{Path, PathBuf};

/// What ffmpeg reads and people keep films in.
const VIDEO_EXTENSIONS: &[&str] = &[
    "mkv", "mp4", "m4v", "mov", "avi", "webm", "ts", "m2ts", "mts", "wmv", "flv", "mpg", "mpeg",
    "vob", "ogv", "3gp", "divx",
];

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

/// A subtitle file: it comes with its movie, never alone.
pub fn is_subtitle(path: &Path) -> bool {
    crate::ingest::subtitles::SIDECAR_EXTENSIONS.contains(&extension(path).as_str())
}

/// Why a file cannot be a movie, if it cannot ("cannot be read: Permission denied").
pub fn unusable(path: &Path) -> Option<String> {
    if !VIDEO_EXTENSIONS.contains(&extension(path).as_str()) {
        return Some("not a video".into());
    }
    let unreadable = |e: std::io::Error| Some(format!("cannot be read: {e}"));
    match std::fs::metadata(path) {
        Ok(m) if m.len() == 0 => Some("an empty file".into()),
        Ok(_) => std::fs::File::open(path).err().and_then(unreadable),
        Err(e) => unreadable(e),
    }
}

/// A file made ready to queue: what its path says and what the import summary shows of it.
pub struct Found {
    pub movie: crate::ingest::NewMovie,
    /// Subtitle files beside it that were left out, and why.
    pub problems: Vec<String>,
    /// Why a name that looks like an episode's was imported as a film ("episode 999 is not an
    /// episode number"): the owner fixes it with `movie edit`.
    pub note: Option<String>,
}

/// What the file's path says, ready to queue: a film's title and year, or a series, season and
/// episode (folders below `root` count: `Show (2019)/Season 1/...`); the usable subtitles
/// beside it; marked to skip a copy of a film already there.
pub fn new_movie(path: &Path, root: &Path, tier: crate::store::Tier) -> Found {
    let (sidecars, problems) = sidecars::usable_beside(path, &[]);
    let film = || names::parse(&path.file_stem().unwrap_or_default().to_string_lossy());
    let (title, year, episode, note) = match episodes::parse(path, root) {
        episodes::Named::Episode(e) => {
            let title = e.title.clone().unwrap_or_else(|| match e.last_episode {
                Some(last) => format!("Episodes {}-{last}", e.episode),
                None => format!("Episode {}", e.episode),
            });
            let claim = crate::store::EpisodeClaim {
                series: e.series,
                year: e.year,
                season: e.season,
                episode: e.episode,
                last_episode: e.last_episode,
            };
            (title, None, Some(claim), None)
        }
        episodes::Named::Film => {
            let named = film();
            (named.title, named.year, None, None)
        }
        episodes::Named::FilmBecause(why) => {
            let named = film();
            (named.title, named.year, None, Some(why))
        }
    };
    let movie = crate::ingest::NewMovie {
        title,
        year,
        tier,
        sidecars,
        skip_duplicate: true,
        episode,
        ..Default::default()
    };
    Found {
        movie,
        problems,
        note,
    }
}

/// Folders a library scan never enters: what streamd writes (the object store, which may be a
/// symlink to another disk, staging and uploads, whether they exist yet or not) and, for a
/// scan of a folder above it, the whole data dir. By real path, symlinks followed. A folder
/// import of a parent of the data dir would otherwise take every published `init.mp4` for a
/// movie, and a watched one would import each new ingest's output again, without end. A scan
/// of a folder inside the data dir is the owner's own choice: only streamd's folders are
/// skipped there.
#[derive(Debug, Clone, Default)]
pub struct OwnFolders {
    /// Each scanned root (real path) with what is streamd's own for a scan of it.
    roots: Vec<(PathBuf, Vec<PathBuf>)>,
    /// What is streamd's own whatever the root: its folders, and the data dir.
    all: Vec<PathBuf>,
}

/// The data dir's folders that hold what streamd writes.
const WRITTEN: &[&str] = &["objects", "staging", "uploads"];

/// `path` resolved as far as it exists: a folder not made yet is named under its real parent.
fn real(path: &Path) -> Option<PathBuf> {
    if let Ok(real) = path.canonicalize() {
        return Some(real);
    }
    Some(real(path.parent()?)?.join(path.file_name()?))
}

impl OwnFolders {
    /// For scans of `roots`.
    pub fn of(data_dir: &Path, roots: &[PathBuf]) -> OwnFolders {
        let Some(data) = real(data_dir) else {
            return OwnFolders::default();
        };
        let written: Vec<PathBuf> = WRITTEN
            .iter()
            .filter_map(|dir| real(&data_dir.join(dir)))
            .collect();
        let roots = roots
            .iter()
            .filter_map(|root| real(root))
            .map(|root| {
                let mut own = written.clone();
                if !root.starts_with(&data) {
                    own.push(data.clone());
                }
                (root, own)
            })
            .collect();
        let mut all = written;
        all.push(data);
        OwnFolders { roots, all }
    }

    /// Whether `path` is streamd's own for the scans it lies in (all of them must say so: a
    /// folder watched on purpose inside the data dir is scanned even when a parent is too).
    pub fn hold(&self, path: &Path) -> bool {
        let Ok(path) = path.canonicalize() else {
            return false;
        };
        let within = |own: &Vec<PathBuf>| own.iter().any(|o| path.starts_with(o));
        let mut scans = self.roots.iter().filter(|(root, _)| path.starts_with(root));
        match scans.next() {
            None => within(&self.all),
            Some((_, own)) => within(own) && scans.all(|(_, own)| within(own)),
        }
    }

    /// Where a scan of `folder` meets streamd's own folders (the data dir, or the store
    /// linked elsewhere): what it skips.
    pub fn inside(&self, folder: &Path) -> Vec<PathBuf> {
        let Ok(folder) = folder.canonicalize() else {
            return Vec::new();
        };
        let own = (self.roots.iter())
            .find(|(root, _)| *root == folder)
            .map_or(&self.all, |(_, own)| own);
        let mut found: Vec<PathBuf> = (own.iter())
            .filter(|o| o.starts_with(&folder) && o.exists())
            .cloned()
            .collect();
        // The data dir, not also each of its folders.
        found.sort();
        found.dedup_by(|inner, outer| inner.starts_with(&*outer));
        found
    }

    /// Whether a walk must look at this entry before entering or reading it: folders and
    /// links can lead into streamd's own; a plain file inside a folder that does not is
    /// not, and resolving every file's path is slow on network mounts.
    pub fn worth_checking(entry: &walkdir::DirEntry) -> bool {
        entry.file_type().is_dir() || entry.path_is_symlink()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_dir_and_a_symlinked_object_store_are_streamds_own() {
        let root = tempfile::tempdir().expect("tempdir");
        let media = root.path().join("media");
        let data = media.join("streamd-data");
        let elsewhere = root.path().join("disk2");
        std::fs::create_dir_all(&data).expect("data");
        std::fs::create_dir_all(elsewhere.join("media/movies")).expect("disk2");
        std::os::unix::fs::symlink(&elsewhere, data.join("objects")).expect("symlink");
        std::fs::write(media.join("film.mkv"), b"x").expect("film");
        // A link in the media folder into the data dir is the data dir too.
        std::os::unix::fs::symlink(&data, media.join("shortcut")).expect("symlink");

        let own = OwnFolders::of(&data, std::slice::from_ref(&media));
        assert!(own.hold(&data));
        assert!(own.hold(&data.join("objects/media/movies")));
        assert!(own.hold(&elsewhere.join("media")));
        assert!(own.hold(&media.join("shortcut")));
        assert!(!own.hold(&media.join("film.mkv")));
        assert!(!own.hold(&media));
        assert_eq!(own.inside(&media), [data.canonicalize().expect("real")]);
        assert_eq!(
            own.inside(root.path()).len(),
            2,
            "the data dir, the store elsewhere"
        );
        assert!(own.inside(&elsewhere.join("media")).is_empty());

        // A folder inside the data dir is scanned, but never streamd's own folders in it, even
        // those made after the scan began.
        let incoming = data.join("incoming");
        std::fs::create_dir_all(&incoming).expect("incoming");
        std::fs::write(incoming.join("film.mkv"), b"x").expect("film");
        let own = OwnFolders::of(&data, std::slice::from_ref(&data));
        assert!(!own.hold(&incoming));
        assert!(own.hold(&data.join("objects/media/movies")));
        std::fs::create_dir_all(data.join("staging/abc")).expect("staging");
        assert!(own.hold(&data.join("staging/abc")));
        // Watched both from above and on purpose inside: the folder inside is scanned.
        let own = OwnFolders::of(&data, &[media.clone(), incoming.clone()]);
        assert!(!own.hold(&incoming.join("film.mkv")));
        assert!(own.hold(&data.join("objects/media/movies")));
        assert!(own.hold(&data.join("staging/abc")));
        assert!(own.hold(&data), "from the folder above");
    }
}
