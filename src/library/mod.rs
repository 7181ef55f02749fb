//! A library from files as people keep them: names that say title and year, subtitles
//! beside the movie, content fingerprints, folders imported once and watched.

pub mod names;
pub mod sidecars;
pub mod watch;

use std::path::Path;

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
