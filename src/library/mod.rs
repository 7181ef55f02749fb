//! A library from files as people keep them: names that say title and year, subtitles
//! beside the movie, content fingerprints, folders imported once and watched.

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

/// What the file's name says, ready to queue: title, year, the usable subtitles beside it
/// (and why any other was left out), marked to skip a copy of a film already there.
pub fn new_movie(path: &Path, tier: crate::store::Tier) -> (crate::ingest::NewMovie, Vec<String>) {
    let named = names::parse(&path.file_stem().unwrap_or_default().to_string_lossy());
    let (sidecars, problems) = sidecars::usable_beside(path, &[]);
    let movie = crate::ingest::NewMovie {
        title: named.title,
        year: named.year,
        tier,
        sidecars,
        skip_duplicate: true,
        ..Default::default()
    };
    (movie, problems)
}

/// Folders a library scan never enters: what streamd writes (the object store, which may be a
/// symlink to another disk, staging and uploads) and, for a scan of a folder above it, the
/// whole data dir. By canonical path. A folder import of a parent of the data dir would
/// otherwise take every published `init.mp4` for a movie, and a watched one would import each
/// new ingest's output again, without end. A folder inside the data dir is the owner's own
/// choice: only streamd's folders in it are skipped.
#[derive(Debug, Clone, Default)]
pub struct OwnFolders(Vec<PathBuf>);

/// The data dir's folders that hold what streamd writes.
const WRITTEN: &[&str] = &["objects", "staging", "uploads"];

impl OwnFolders {
    /// For scans of `roots`.
    pub fn of(data_dir: &Path, roots: &[PathBuf]) -> OwnFolders {
        let real = |p: &Path| p.canonicalize().ok();
        let mut own: Vec<PathBuf> = WRITTEN
            .iter()
            .filter_map(|dir| real(&data_dir.join(dir)))
            .collect();
        if let Some(data) = real(data_dir) {
            let inside = roots
                .iter()
                .filter_map(|r| real(r))
                .any(|r| r.starts_with(&data));
            if !inside {
                own.push(data);
            }
        }
        own.dedup();
        OwnFolders(own)
    }

    /// Whether `path` is one of them or lies inside one, symlinks followed.
    pub fn hold(&self, path: &Path) -> bool {
        path.canonicalize()
            .is_ok_and(|real| self.0.iter().any(|own| real.starts_with(own)))
    }

    /// Those of them that lie inside `folder`: a scan of `folder` skips them.
    pub fn inside(&self, folder: &Path) -> Vec<PathBuf> {
        let Ok(folder) = folder.canonicalize() else {
            return Vec::new();
        };
        let mut found: Vec<PathBuf> = (self.0.iter())
            .filter(|own| own.starts_with(&folder))
            .cloned()
            .collect();
        // The data dir, not also each of its folders.
        found.sort();
        found.dedup_by(|inner, outer| inner.starts_with(&*outer));
        found
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

        // A folder inside the data dir is scanned, but never streamd's own folders in it.
        let incoming = data.join("incoming");
        std::fs::create_dir_all(&incoming).expect("incoming");
        let own = OwnFolders::of(&data, std::slice::from_ref(&data));
        assert!(!own.hold(&incoming));
        assert!(own.hold(&data.join("objects/media/movies")));
        let own = OwnFolders::of(&data, &[incoming]);
        assert!(!own.hold(&data.join("incoming")));
    }
}
