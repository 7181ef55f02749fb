//! One ingest, start to finish, as a short sequence of steps, each a function of what the one
//! before produced: source facts (probe) -> plan -> what is already published (resume) ->
//! encodes (publishing as they go) -> finish (thumbnails, poster, rates, master, ready). Any
//! failure leaves nothing published and the movie `failed` with the reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::IngestError;
use super::plan::{Plan, Source};
use super::probe;
use super::run::{Control, RunError};
use super::thumbnails;
use super::tools::Tools;
use crate::config::Config;
use crate::media::Media;
use crate::store::{Job, JobState, Movie, MovieId, Progress, Store, StoreError};

/// Free space a progress save leaves untouched: what recording the job's outcome needs.
const DB_RESERVE_BYTES: u64 = 16 * 1024 * 1024;

/// Whether the filesystem holding `path` has room beyond [`DB_RESERVE_BYTES`].
pub(super) fn has_room(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return true;
    };
    // SAFETY: statvfs writes only into the zeroed struct we pass, from a NUL-terminated path.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return true;
    }
    stat.f_bavail.saturating_mul(stat.f_frsize) > DB_RESERVE_BYTES
}

/// A job's working folders, emptied at its start: ffmpeg writes here, the publisher reads.
pub struct Staging {
    pub root: PathBuf,
    pub video: PathBuf,
    pub audio: PathBuf,
    pub thumbnails: PathBuf,
}

impl Staging {
    fn create(root: PathBuf) -> Result<Staging, IngestError> {
        let _ = std::fs::remove_dir_all(&root);
        let staging = Staging {
            video: root.join("video"),
            audio: root.join("audio"),
            thumbnails: root.join(thumbnails::PART),
            root,
        };
        for dir in [&staging.video, &staging.audio, &staging.thumbnails] {
            std::fs::create_dir_all(dir).map_err(IngestError::io("creating the staging dir"))?;
        }
        Ok(staging)
    }
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
    pub(super) staging_root: PathBuf,
}

/// An encode may take this long before it is assumed stuck: generous, since a 2160p rung on a
/// slow preset runs several times slower than real time.
pub(super) fn encode_timeout(duration_s: f64) -> Duration {
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
    /// their half-written staging output is removed, and so are uploads that no job owns
    /// (a process killed mid-upload leaves `uploads/<id>.upload` behind otherwise).
    pub fn recover(&self) -> Result<Vec<MovieId>, StoreError> {
        let requeued = self.store.requeue_running(None)?;
        if let Ok(entries) = std::fs::read_dir(&self.staging_root) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let owned = self.store.job_files()?;
        let uploads = self.config.server.data_dir.join("uploads");
        let mut removed = 0;
        for entry in std::fs::read_dir(&uploads).into_iter().flatten().flatten() {
            // Jobs hold canonical paths (the data dir may be relative or behind a symlink).
            let path = entry.path().canonicalize().unwrap_or_else(|_| entry.path());
            if !owned.contains(&path) && std::fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::info!(
                count = removed,
                "removed partial uploads left by the last run"
            );
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
            // A shutdown keeps what was published: the next start resumes from it.
            Err(IngestError::Run(RunError::Cancelled)) if stopping() => {
                if let Err(e) = self.store.requeue_running(Some(id)) {
                    tracing::error!(movie_id = %id, error = %e, "could not re-queue job");
                }
                return Outcome::Requeued;
            }
            Err(IngestError::Run(RunError::Cancelled)) => {
                let _ = self.media.delete_movie(id);
                Outcome::Dropped
            }
            Err(e) => {
                // Nothing of a failed movie stays published, not even its first segments.
                let _ = self.media.delete_movie(id);
                let reason = e.to_string();
                tracing::warn!(movie_id = %id, reason = %reason, "ingest failed");
                // The failure may be a full disk that also refuses this write for a moment
                // (the staging dir was just removed): try again before leaving the job
                // "running" for good.
                let mut recorded = self.store.fail_job(id, &reason);
                for _ in 0..20 {
                    let Err(e) = &recorded else { break };
                    tracing::warn!(movie_id = %id, error = %e, "recording the failure failed; retrying");
                    std::thread::sleep(Duration::from_millis(500));
                    recorded = self.store.fail_job(id, &reason);
                }
                if let Err(e) = recorded {
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
        if !job.source.is_file() {
            return Err(IngestError::SourceMissing(job.source.clone()));
        }
        let tools = Tools::locate(&self.config.transcode)?;
        let source = Source::read(&tools, &job.source)?;
        let mut plan = Plan::make(source, &self.config.transcode);
        if plan.needs_hdr10() {
            let (ffprobe, path) = (&tools.ffprobe, &plan.source.path);
            let hdr10 = probe::hdr10(ffprobe, path, plan.source.probe.video_index);
            plan = plan.with_hdr10(hdr10);
        }
        let staging = Staging::create(self.staging_dir(&movie.id))?;
        let start = self.start(movie, &plan, &staging)?;
        let encoded = self.encode(
            &tools,
            job,
            movie,
            &plan,
            &staging,
            start,
            control,
            on_progress,
        )?;
        self.finish(&tools, job, movie, plan, &staging, encoded, control)
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
