//! Subtitle files people keep beside a movie: `Movie.srt`, `Movie.en.srt`,
//! `Movie.fr.forced.srt`, `Movie.pt-BR.sdh.vtt`, `Movie.ass`. Found by name, read later through
//! the ingest's subtitle path like `--subtitle`.

use std::path::Path;

use crate::ingest::subtitles::SIDECAR_EXTENSIONS as EXTENSIONS;
use crate::store::Sidecar;

/// `en`, `fre`, `pt-BR`: what a language tag in a file name looks like.
fn looks_like_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    let region_ok =
        parts.all(|p| (2..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && region_ok
}

/// What a sidecar's middle part (`fr.forced` of `Movie.fr.forced.srt`) says.
fn describe(path: &Path, middle: &str) -> Sidecar {
    let mut sidecar = Sidecar {
        path: path.to_path_buf(),
        lang: None,
        name: None,
        forced: false,
        found_beside: true,
    };
    let mut other = Vec::new();
    for tag in middle.split('.').filter(|t| !t.is_empty()) {
        match tag.to_ascii_lowercase().as_str() {
            "forced" => sidecar.forced = true,
            // `Movie.mkv.en.srt`: the video's own extension, as some tools name them.
            "default" | "mkv" | "mp4" | "m4v" | "avi" | "mov" | "webm" => {}
            "sdh" | "cc" | "hi" => other.push("SDH".to_string()),
            _ if sidecar.lang.is_none() && looks_like_language(tag) => {
                sidecar.lang = Some(tag.to_string())
            }
            _ => other.push(tag.to_string()),
        }
    }
    if !other.is_empty() {
        sidecar.name = Some(other.join(" "));
    }
    sidecar
}

/// The subtitle files beside `file` not among `given`, each checked as the ingest will; those
/// that cannot be used (empty, too large) are left out with the reason.
pub fn usable_beside(file: &Path, given: &[Sidecar]) -> (Vec<Sidecar>, Vec<String>) {
    let given: Vec<_> = given
        .iter()
        .filter_map(|s| s.path.canonicalize().ok())
        .collect();
    let mut problems = Vec::new();
    let usable = beside(file)
        .into_iter()
        .filter(|s| s.path.canonicalize().is_ok_and(|p| !given.contains(&p)))
        .filter_map(|s| match crate::ingest::queue::check_sidecar(s) {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        })
        .collect();
    (usable, problems)
}

/// The subtitle files beside `video` whose names start with its name, sorted by file name.
pub fn beside(video: &Path) -> Vec<Sidecar> {
    let (Some(dir), Some(stem)) = (video.parent(), video.file_stem().and_then(|s| s.to_str()))
    else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<Sidecar> = entries
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            let name = path.file_name()?.to_str()?.to_string();
            let (rest, ext) = name.rsplit_once('.')?;
            if !EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()) || !path.is_file() {
                return None;
            }
            let middle = if rest == stem {
                ""
            } else {
                rest.strip_prefix(stem)?.strip_prefix('.')?
            };
            Some(describe(&path, middle))
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars_beside_a_movie_are_found_with_their_language() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for f in [
            "Movie.mkv",
            "Movie.srt",
            "Movie.en.srt",
            "Movie.fr.forced.srt",
            "Movie.pt-BR.sdh.vtt",
            "Movie.ass",
            "Movie.commentary.srt",
            "Movie 2.en.srt",
            "Movie.mkv.de.srt",
            "Other.en.srt",
            "Movie.en.txt",
        ] {
            std::fs::write(d.join(f), b"x").expect("write");
        }
        let found: Vec<(String, Option<String>, Option<String>, bool)> =
            beside(&d.join("Movie.mkv"))
                .into_iter()
                .map(|s| {
                    (
                        s.path
                            .file_name()
                            .expect("name")
                            .to_string_lossy()
                            .into_owned(),
                        s.lang,
                        s.name,
                        s.forced,
                    )
                })
                .collect();
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            found,
            vec![
                ("Movie.ass".into(), None, None, false),
                (
                    "Movie.commentary.srt".into(),
                    None,
                    some("commentary"),
                    false
                ),
                ("Movie.en.srt".into(), some("en"), None, false),
                ("Movie.fr.forced.srt".into(), some("fr"), None, true),
                ("Movie.mkv.de.srt".into(), some("de"), None, false),
                (
                    "Movie.pt-BR.sdh.vtt".into(),
                    some("pt-BR"),
                    some("SDH"),
                    false
                ),
                ("Movie.srt".into(), None, None, false),
            ]
        );
    }
}
