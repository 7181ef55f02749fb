//! Putting a movie in the queue: the checks a source and its sidecar subtitles must pass
//! before anything is recorded, and the duplicate check of a folder import.

use std::path::Path;

use super::error::IngestError;
use super::subtitles;
use crate::store::{
    EpisodeClaim, Job, JobState, Movie, MovieId, MovieStatus, Sidecar, Store, Tier, Timestamp,
};

/// What a queued movie starts as.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct NewMovie {
    pub title: String,
    #[serde(default)]
    pub year: Option<u16>,
    pub tier: Tier,
    /// The source is ours (an upload): removed once the movie is ready.
    #[serde(default)]
    pub remove_source: bool,
    #[serde(default)]
    pub sidecars: Vec<Sidecar>,
    /// A file whose content is already in the library (same fingerprint, not failed) is
    /// refused with [`IngestError::Duplicate`]: what a folder import wants. One file named
    /// on purpose is imported again.
    #[serde(default)]
    pub skip_duplicate: bool,
    /// Check everything, record nothing: the movie that would be queued.
    #[serde(default)]
    pub dry_run: bool,
    /// The source's `ingest::fingerprint`, when the caller has already read it (a folder scan
    /// does, to spot copies within the scan): not read a second time.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// The series, season and episode its name gave (contract section 13), if any.
    #[serde(default)]
    pub episode: Option<EpisodeClaim>,
}

/// Queues a movie for ingest: checks the source is there, records the movie and its job.
pub fn enqueue(store: &Store, source: &Path, new: NewMovie) -> Result<Movie, IngestError> {
    let title = new.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(IngestError::BadTitle);
    }
    let meta = std::fs::metadata(source)
        .ok()
        .filter(|m| m.is_file())
        .ok_or_else(|| IngestError::SourceMissing(source.to_path_buf()))?;
    if meta.len() == 0 {
        return Err(IngestError::SourceEmpty(source.to_path_buf()));
    }
    let source = source
        .canonicalize()
        .map_err(|_| IngestError::SourceMissing(source.to_path_buf()))?;
    let sidecars = new
        .sidecars
        .into_iter()
        .map(check_sidecar)
        .collect::<Result<Vec<_>, _>>()?;
    let fingerprint = match new.fingerprint {
        Some(print) => print,
        None => crate::ingest::fingerprint::of(&source)
            .map_err(IngestError::io("reading the source"))?,
    };
    if new.skip_duplicate {
        // The shared list: a folder of N files against M movies decodes the M once, not N times.
        let movies = store.movies_shared()?;
        let same = movies.iter().find(|m| {
            m.fingerprint.as_deref() == Some(fingerprint.as_str())
                && m.status != MovieStatus::Failed
        });
        if let Some(existing) = same {
            return Err(IngestError::Duplicate {
                id: existing.id.clone(),
                title: existing.title.clone(),
            });
        }
    }
    let now = Timestamp::now();
    let movie = Movie {
        year: new.year,
        fingerprint: Some(fingerprint),
        ..Movie::new(MovieId::generate(), title.to_string(), new.tier, now)
    };
    if new.dry_run {
        // What the summary shows; the series is found or started for real at enqueue.
        let episode = new.episode.map(|claim| crate::store::Episode {
            series: MovieId::generate(),
            series_title: claim.series,
            season: claim.season,
            episode: claim.episode,
            last_episode: claim.last_episode,
            also_claimed_by: None,
        });
        return Ok(Movie { episode, ..movie });
    }
    let job = Job {
        movie: movie.id.clone(),
        source,
        remove_source: new.remove_source,
        state: JobState::Queued,
        attempts: 0,
        queued_at: now,
        started_at: None,
        finished_at: None,
        sidecars,
    };
    Ok(store.enqueue(&movie, &job, new.episode.as_ref())?)
}

pub fn check_sidecar(mut sidecar: Sidecar) -> Result<Sidecar, IngestError> {
    let path = &sidecar.path;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if !subtitles::SIDECAR_EXTENSIONS.contains(&ext.as_str()) {
        return Err(IngestError::BadSubtitle(format!(
            "{}: subtitles must be .srt, .vtt, .ass or .ssa files",
            path.display()
        )));
    }
    let meta = std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .ok_or_else(|| IngestError::SourceMissing(path.clone()))?;
    if meta.len() == 0 || meta.len() > subtitles::MAX_BYTES as u64 {
        return Err(IngestError::BadSubtitle(format!(
            "{}: empty, or larger than a subtitle file can be",
            path.display()
        )));
    }
    sidecar.path = path
        .canonicalize()
        .map_err(|_| IngestError::SourceMissing(path.clone()))?;
    Ok(sidecar)
}
