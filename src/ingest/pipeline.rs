//! One ingest, start to finish: probe -> plan -> one ffmpeg for the ladder -> poster -> master
//! rewritten from measurements -> publish atomically -> flip the movie to ready. Any failure
//! leaves nothing published and the movie `failed` with the reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::command::{LadderJob, ladder_args, poster_args};
use super::ladder;
use super::master;
use super::probe::{self, ProbeError};
use super::run::{Control, RunError, Tick, run_ffmpeg};
use super::tools::{ToolError, Tools};
use crate::config::Config;
use crate::media::{Media, MediaError};
use crate::store::{
    Job, JobState, Movie, MovieId, MovieStatus, Progress, Store, StoreError, Tier, Timestamp,
};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the source file {0} does not exist or cannot be read")]
    SourceMissing(PathBuf),
    #[error("the source file {0} is empty")]
    SourceEmpty(PathBuf),
    #[error("a title is needed (1-200 characters)")]
    BadTitle,
    #[error(transparent)]
    Tools(#[from] ToolError),
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Master(#[from] master::MasterError),
    #[error("publishing the ladder: {0}")]
    Publish(#[from] MediaError),
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IngestError {
    fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> IngestError {
        move |source| IngestError::Io { what, source }
    }
}

/// Queues a movie for ingest: checks the source is there, records the movie and its job.
pub fn enqueue(
    store: &Store,
    source: &Path,
    title: &str,
    tier: Tier,
    remove_source: bool,
) -> Result<Movie, IngestError> {
    let title = title.trim();
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
    let now = Timestamp::now();
    let movie = Movie {
        id: MovieId::generate(),
        title: title.to_string(),
        tier,
        status: MovieStatus::Queued,
        duration_s: None,
        renditions: vec![],
        created_at: now,
        progress: None,
        error: None,
    };
    let job = Job {
        movie: movie.id.clone(),
        source,
        remove_source,
        state: JobState::Queued,
        attempts: 0,
        queued_at: now,
        started_at: None,
        finished_at: None,
    };
    store.enqueue(&movie, &job)?;
    Ok(movie)
}

/// How a job ended, for the worker's bookkeeping.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Ready,
    Failed,
    /// Stopped by a shutdown: back in the queue for the next start.
    Requeued,
    /// Stopped because the movie was deleted.
    Dropped,
}

/// Everything a job needs; cheap to clone into worker threads.
#[derive(Clone)]
pub struct Ingester {
    pub store: Store,
    pub config: Arc<Config>,
    pub media: Arc<Media>,
    staging_root: PathBuf,
}

/// An encode may take this long before it is assumed stuck: generous, since a 2160p rung on a
/// slow preset runs several times slower than real time.
fn encode_timeout(duration_s: f64) -> Duration {
    Duration::from_secs(600) + Duration::from_secs_f64(duration_s.max(0.0) * 20.0)
}

impl Ingester {
    pub fn new(store: Store, config: Arc<Config>, media: Arc<Media>) -> Self {
        Ingester {
            media,
            staging_root: config.server.data_dir.join("staging"),
            store,
            config,
        }
    }

    fn staging_dir(&self, id: &MovieId) -> PathBuf {
        self.staging_root.join(id.as_str())
    }

    /// At start-up: jobs that were running when the last process died go back in the queue,
    /// and their half-written staging output is removed.
    pub fn recover(&self) -> Result<Vec<MovieId>, StoreError> {
        let requeued = self.store.requeue_running(None)?;
        if let Ok(entries) = std::fs::read_dir(&self.staging_root) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        if !requeued.is_empty() {
            tracing::info!(count = requeued.len(), "re-queued interrupted ingest jobs");
        }
        Ok(requeued)
    }

    /// Runs a claimed job to its end and records the result. `stopping` says whether a
    /// cancellation came from a shutdown (re-queue) rather than a deletion (drop).
    pub fn process(
        &self,
        job: &Job,
        movie: &Movie,
        control: &Control,
        stopping: &dyn Fn() -> bool,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Outcome {
        let id = &movie.id;
        let started = Instant::now();
        tracing::info!(movie_id = %id, attempt = job.attempts, "ingest started");
        let result = self.run(job, movie, control, on_progress);
        let _ = std::fs::remove_dir_all(self.staging_dir(id));
        let outcome = match result {
            Ok(true) => Outcome::Ready,
            Ok(false) => {
                let _ = self.media.delete_movie(id);
                Outcome::Dropped
            }
            Err(IngestError::Run(RunError::Cancelled)) if stopping() => {
                if let Err(e) = self.store.requeue_running(Some(id)) {
                    tracing::error!(movie_id = %id, error = %e, "could not re-queue job");
                }
                return Outcome::Requeued;
            }
            Err(IngestError::Run(RunError::Cancelled)) => Outcome::Dropped,
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(movie_id = %id, reason = %reason, "ingest failed");
                if let Err(e) = self.store.fail_job(id, &reason) {
                    tracing::error!(movie_id = %id, error = %e, "could not record the failure");
                }
                Outcome::Failed
            }
        };
        if job.remove_source {
            let _ = std::fs::remove_file(&job.source);
        }
        tracing::info!(movie_id = %id, outcome = ?outcome, secs = started.elapsed().as_secs_f64(), "ingest ended");
        outcome
    }

    /// The pipeline. `Ok(false)`: finished, but the movie was deleted meanwhile.
    fn run(
        &self,
        job: &Job,
        movie: &Movie,
        control: &Control,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Result<bool, IngestError> {
        let source = &job.source;
        if !source.is_file() {
            return Err(IngestError::SourceMissing(source.clone()));
        }
        let tools = Tools::locate(&self.config.transcode)?;
        let probe = probe::probe(&tools.ffprobe, source)?;
        let rungs = ladder::plan(&probe, &self.config.transcode.renditions);

        let staging = self.staging_dir(&movie.id);
        let _ = std::fs::remove_dir_all(&staging);
        let out = staging.join("out");
        std::fs::create_dir_all(&out).map_err(IngestError::io("creating the staging dir"))?;

        let args = ladder_args(&LadderJob {
            source,
            out_dir: &out,
            rungs: &rungs,
            has_audio: probe.has_audio(),
            source_frame_rate: probe.frame_rate,
            preset: &self.config.transcode.preset,
            segment_seconds: self.config.transcode.segment_seconds,
        });
        let duration = probe.duration_s;
        let mut last_saved = Instant::now() - Duration::from_secs(10);
        let mut tick = |t: Tick| {
            let percent = (t.out_time_s / duration * 100.0).clamp(0.0, 100.0);
            let eta_s = (t.speed > 0.0).then(|| ((duration - t.out_time_s) / t.speed).max(0.0));
            let progress = Progress {
                percent,
                speed: t.speed,
                eta_s,
            };
            on_progress(&progress);
            // At most once a second: progress is for people, and every save is a disk write.
            if last_saved.elapsed() >= Duration::from_secs(1) {
                last_saved = Instant::now();
                if let Err(e) = self.store.set_progress(&movie.id, &progress) {
                    tracing::warn!(movie_id = %movie.id, error = %e, "could not save progress");
                }
            }
        };
        run_ffmpeg(
            &tools.ffmpeg,
            &args,
            control,
            encode_timeout(duration),
            &mut tick,
        )?;

        let poster = out.join("poster.jpg");
        run_ffmpeg(
            &tools.ffmpeg,
            &poster_args(source, &poster, duration),
            control,
            Duration::from_secs(120),
            |_| {},
        )?;
        if !poster.is_file() {
            return Err(RunError::Failed("ffmpeg wrote no poster frame".into()).into());
        }

        let measured = master::measure(&out, &rungs, probe.has_audio())?;
        let renditions: Vec<_> = measured.into_iter().map(|m| m.info).collect();
        std::fs::write(out.join("master.m3u8"), master::render(&renditions))
            .map_err(IngestError::io("writing the master playlist"))?;
        if control.is_cancelled() {
            return Err(RunError::Cancelled.into());
        }
        self.media.publish(&out, &movie.id)?;
        Ok(self.store.complete_job(&movie.id, duration, renditions)?)
    }

    /// Deletes a movie: its records, grants and published objects. The caller cancels a
    /// running job first.
    pub fn delete(&self, id: &MovieId) -> Result<Option<Movie>, IngestError> {
        let removed = self.store.delete_movie(id)?;
        self.media.delete_movie(id)?;
        if let Some((_, Some(job))) = &removed
            && job.remove_source
            && job.state == JobState::Queued
        {
            let _ = std::fs::remove_file(&job.source);
        }
        Ok(removed.map(|(m, _)| m))
    }
}
