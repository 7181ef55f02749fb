//! `streamd check`: does the object store still hold every object of every ready movie, each
//! of the size it was published with (`media::inventory`)? Run after a restore, an rsync, or a
//! failed disk. It only reads.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::media::inventory::{MANIFEST, Manifest};
use crate::media::{Media, MediaError, movie_prefix};
use crate::store::{Movie, MovieStatus, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Ready movies whose objects were checked.
    pub movies: usize,
    /// Objects and bytes found whole.
    pub objects: u64,
    pub bytes: u64,
    /// Ready movies with nothing recorded yet (published before streamd recorded objects; the
    /// next `serve` records them).
    pub unrecorded: Vec<String>,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub movie: String,
    pub title: String,
    /// The object's name under `movies/{id}/`.
    pub object: String,
    /// `missing`, `truncated`, `larger` (than recorded), or for the manifest itself
    /// `manifest missing` / `manifest damaged`.
    pub problem: String,
    pub expected_bytes: Option<u64>,
    pub found_bytes: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("listing the object store: {0}")]
    Media(#[from] MediaError),
}

/// Checks every ready movie. Blocking.
pub fn run(store: &Store, media: &Media) -> Result<Report, CheckError> {
    let mut report = Report {
        movies: 0,
        objects: 0,
        bytes: 0,
        unrecorded: Vec::new(),
        problems: Vec::new(),
    };
    for movie in store.list_movies()? {
        if movie.status != MovieStatus::Ready {
            continue;
        }
        if movie.inventory.is_none() {
            report.unrecorded.push(movie.id.to_string());
            continue;
        }
        report.movies += 1;
        check_movie(media, &movie, &mut report)?;
    }
    Ok(report)
}

fn check_movie(media: &Media, movie: &Movie, report: &mut Report) -> Result<(), CheckError> {
    let Some(inventory) = movie.inventory else {
        return Ok(());
    };
    let bucket = media.objects();
    let found: HashMap<String, u64> = bucket.list(&movie_prefix(&movie.id))?.into_iter().collect();
    let problem = |object: &str, problem: &str, expected, found| Problem {
        movie: movie.id.to_string(),
        title: movie.title.clone(),
        object: object.into(),
        problem: problem.into(),
        expected_bytes: expected,
        found_bytes: found,
    };
    let manifest_size = found.get(MANIFEST).copied();
    let manifest = match manifest_size {
        Some(size) if size == inventory.manifest_bytes => {
            let key = format!("{}/{MANIFEST}", movie_prefix(&movie.id));
            Manifest::parse(&bucket.read(&key)?)
        }
        _ => None,
    };
    let Some(manifest) = manifest else {
        let what = match manifest_size {
            None => "manifest missing",
            Some(_) => "manifest damaged",
        };
        let expected = Some(inventory.manifest_bytes);
        (report.problems).push(problem(MANIFEST, what, expected, manifest_size));
        // Without the names, the counts still say how much is gone.
        let present = found.len() as u64 - u64::from(manifest_size.is_some());
        if present < inventory.objects {
            let what = format!("{present} of {} objects present", inventory.objects);
            (report.problems).push(problem("*", &what, Some(inventory.bytes), None));
        }
        return Ok(());
    };
    for (name, size) in manifest.objects {
        match found.get(&name).copied() {
            Some(have) if have == size => {
                report.objects += 1;
                report.bytes += size;
            }
            Some(have) => {
                let what = if have < size { "truncated" } else { "larger" };
                (report.problems).push(problem(&name, what, Some(size), Some(have)));
            }
            None => (report.problems).push(problem(&name, "missing", Some(size), None)),
        }
    }
    Ok(())
}
