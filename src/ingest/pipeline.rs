//! One ingest, start to finish: probe -> plan -> one ffmpeg for the ladder -> poster -> master
//! rewritten from measurements -> publish atomically -> flip the movie to ready. Any failure
//! leaves nothing published and the movie `failed` with the reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::command::{AudioJob, LadderJob, Picture, Resume, audio_args, ladder_args, poster_args};
use super::ladder;
use super::master;
use super::probe::{self, Probe, ProbeError, Scan};
use super::progress::{Encode, JobProgress};
use super::publish::{PublishError, Track};
use super::run::{Control, RunError, Tick, run_ffmpeg};
use super::subtitles;
use super::thumbnails;
use super::tools::{ToolError, Tools};
use super::tracks::{self, plan_audio};
use crate::config::Config;
use crate::media::{Media, MediaError};
use crate::playlist::{Ladder, render_master};
use crate::store::{
    AudioRendition, Job, JobState, Movie, MovieId, Progress, Published, Sidecar, Store, StoreError,
    SubtitleRendition, Tier, Timestamp,
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
    #[error("publishing the ladder: {0}")]
    Publishing(#[from] PublishError),
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("subtitle: {0}")]
    BadSubtitle(String),
    #[error("no movie {0} that is ready")]
    NotReady(MovieId),
    #[error("the movie has no subtitles in {0:?}")]
    NoSuchSubtitle(String),
    #[error("{0}")]
    BadPoster(String),
    #[error("already in the library as {id} ({title:?})")]
    Duplicate { id: MovieId, title: String },
}

impl IngestError {
    fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> IngestError {
        move |source| IngestError::Io { what, source }
    }
}

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
    /// The source's `library::fingerprint`, when the caller has already read it (a folder scan
    /// does, to spot copies within the scan): not read a second time.
    #[serde(default)]
    pub fingerprint: Option<String>,
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
        None => crate::library::fingerprint::of(&source)
            .map_err(IngestError::io("reading the source"))?,
    };
    if new.skip_duplicate {
        // The shared list: a folder of N files against M movies decodes the M once, not N times.
        let movies = store.movies_shared()?;
        let same = movies.iter().find(|m| {
            m.fingerprint.as_deref() == Some(fingerprint.as_str())
                && m.status != crate::store::MovieStatus::Failed
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
        return Ok(movie);
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
    store.enqueue(&movie, &job)?;
    Ok(movie)
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

/// Free space a progress save leaves untouched: what recording the job's outcome needs.
const DB_RESERVE_BYTES: u64 = 16 * 1024 * 1024;

/// Whether the filesystem holding `path` has room beyond [`DB_RESERVE_BYTES`].
fn has_room(path: &Path) -> bool {
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

/// ffmpeg's AAC encoder delays its output by one 1024-sample frame (at 48 kHz).
const AAC_PRIMING_S: f64 = 1024.0 / 48000.0;

/// `1:02:03` or `2:03`, for notes people read.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Audio renditions with the bitrate they are encoded at, for the master of a movie still
/// transcoding (AAC at 128 kb/s plus fMP4 framing).
fn with_estimates(audio: &[AudioRendition]) -> Vec<AudioRendition> {
    let rate = u64::from(super::command::AUDIO_KBPS) * 1000;
    audio
        .iter()
        .map(|a| AudioRendition {
            bandwidth: rate * 105 / 100,
            average_bandwidth: rate,
            ..a.clone()
        })
        .collect()
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
        let source = &job.source;
        if !source.is_file() {
            return Err(IngestError::SourceMissing(source.clone()));
        }
        let tools = Tools::locate(&self.config.transcode)?;
        let mut probe = probe::probe(&tools.ffprobe, source)?;
        let mut notes = Vec::new();
        let interlaced = match probe.scan {
            Scan::Interlaced => true,
            Scan::Progressive => false,
            // No flag (many MPEG-2 and AVI files): look at the fields themselves.
            Scan::Unknown => probe::detect_interlacing(&tools.ffmpeg, source, 300) == Some(true),
        };
        if interlaced {
            notes.push("interlaced source: deinterlaced (bwdif)".to_string());
        }
        if probe.colour.is_hdr() {
            notes.push(format!(
                "HDR source ({}): tone-mapped to SDR BT.709",
                probe.colour.transfer.as_deref().unwrap_or("?")
            ));
        }
        let segment_seconds = self.config.transcode.segment_seconds;
        let t = &self.config.transcode;
        let rungs = ladder::plan(
            &probe,
            &ladder::Wanted {
                renditions: &t.renditions,
                quality: t.quality,
                codecs: &t.codecs,
            },
        );
        let kept_hdr: Vec<&str> = rungs
            .iter()
            .filter(|r| r.range != ladder::VideoRange::Sdr)
            .map(|r| r.name.as_str())
            .collect();
        if !kept_hdr.is_empty() {
            notes.push(format!("HDR kept in {}", kept_hdr.join(", ")));
            if probe.colour.transfer.as_deref() == Some("smpte2084") {
                probe.hdr10 = probe::hdr10(&tools.ffprobe, source, probe.video_index);
            }
        }
        let mut audio = plan_audio(&probe, &mut notes);
        let streams: Vec<_> = probe.playable_audio().cloned().collect();
        let picture = Picture::of(&probe, interlaced);
        let duration = probe.duration_s;

        let staging = self.staging_dir(&movie.id);
        let _ = std::fs::remove_dir_all(&staging);
        let (video_dir, audio_dir) = (staging.join("video"), staging.join("audio"));
        let thumbs_dir = staging.join(thumbnails::PART);
        for dir in [&video_dir, &audio_dir, &thumbs_dir] {
            std::fs::create_dir_all(dir).map_err(IngestError::io("creating the staging dir"))?;
        }

        // What an earlier, interrupted run of this job published is kept: the video goes on
        // from the last segment every rung has; the audio (cheap) is made again unless done.
        let mut video: Vec<Track> = rungs
            .iter()
            .map(|r| Track::new(&r.name, &video_dir, false, segment_seconds))
            .collect();
        let mut sound: Vec<Track> = audio
            .iter()
            .map(|a| Track::new(&a.name, &audio_dir, true, segment_seconds))
            .collect();
        for t in video.iter_mut().chain(sound.iter_mut()) {
            t.load_published(&self.media, &movie.id)?;
        }
        // Segments of another preset, rate or codec set-up do not decode with the init segment
        // already published: an unfinished ladder goes on only under the settings it began with.
        let encoder = format!(
            "preset={} segment={segment_seconds}s rungs={rungs:?}",
            t.preset
        );
        let began_otherwise = movie.encoder.as_ref().is_some_and(|e| *e != encoder);
        if began_otherwise && !video.iter().all(|t| t.finished) {
            for t in &mut video {
                t.reset();
            }
            let note = "the encoder settings changed since the interruption: the video was encoded again from the start";
            tracing::info!(movie_id = %movie.id, note, "ingest not resumed");
            notes.push(note.to_string());
            // Rows the new settings no longer make (a rung or codec taken out) would stay in
            // the store, unlisted, until the movie is deleted.
            for gone in movie
                .renditions
                .iter()
                .filter(|old| !rungs.iter().any(|r| r.name == old.name))
            {
                self.media.delete_part(&movie.id, &gone.name)?;
            }
        }
        if movie.encoder.as_deref() != Some(encoder.as_str()) {
            self.store.set_encoder(&movie.id, &encoder)?;
        }
        let video_done = video.iter().all(|t| t.finished);
        let resume = if video_done {
            None
        } else {
            let n = video.iter().map(|t| t.published.len()).min().unwrap_or(0);
            for t in &mut video {
                t.truncate(n);
            }
            if n == 0 {
                None
            } else {
                let start_s = video[0].duration_s();
                for t in &mut video {
                    let (ticks, _) = t.published_end(&self.media, &movie.id)?;
                    t.shift_resumed(ticks);
                }
                let note = format!(
                    "resumed after an interruption at {} (segment {} of ~{}); nothing before it was encoded again",
                    clock(start_s),
                    n + 1,
                    (duration / f64::from(segment_seconds)).ceil()
                );
                tracing::info!(movie_id = %movie.id, note = %note, "ingest resumed");
                notes.push(note);
                Some(Resume {
                    segments_done: n as u32,
                    start_s,
                })
            }
        };
        let audio_done = sound.iter().all(|t| t.finished);
        if !audio_done {
            for t in &mut sound {
                t.reset();
            }
        }

        let video_args = ladder_args(&LadderJob {
            source,
            out_dir: &video_dir,
            rungs: &rungs,
            picture: picture.clone(),
            preset: &self.config.transcode.preset,
            segment_seconds,
            resume,
            audio_lead_s: probe.audio_lead_s(),
        });
        // Where the source's clock zero lands in the published timeline (the first frame's
        // time out minus its time in): subtitle cues are placed by it, and the audio is moved
        // by the video muxer's own shift so both keep the source's sync. Known from an earlier
        // run, or measured on the first video segment.
        let known_start = if movie.playable {
            Some(movie.video_start_s)
        } else if resume.is_some() || video_done {
            Some(
                self.published_video_start(&tools, &probe, &movie.id, &video[0], &staging)
                    .unwrap_or(0.0),
            )
        } else {
            None
        };
        let timeline = std::sync::Mutex::new(known_start);
        let read_timeline = || *timeline.lock().unwrap_or_else(|p| p.into_inner());
        let offset = resume.map_or(0.0, |r| r.start_s);
        let no_audio = audio_done || streams.is_empty();
        let job_progress = std::sync::Mutex::new(JobProgress::new(duration, video_done, no_audio));
        let lock_progress = || job_progress.lock().unwrap_or_else(|p| p.into_inner());
        let mut last_saved = Instant::now() - Duration::from_secs(10);
        // Called on this thread only (`on_progress` need not be Send): after each video tick,
        // and while the audio runs on after the ladder.
        let mut report = || {
            let progress = lock_progress().progress();
            on_progress(&progress);
            // At most once a second: progress is for people, and every save is a disk write.
            // Never on a nearly full disk: a write that fails there leaves redb refusing every
            // later one, and the job's outcome could then not be recorded.
            if last_saved.elapsed() >= Duration::from_secs(1) && has_room(&self.staging_root) {
                last_saved = Instant::now();
                if let Err(e) = self.store.set_progress(&movie.id, &progress) {
                    tracing::warn!(movie_id = %movie.id, error = %e, "could not save progress");
                }
            }
        };

        // The two encodes run side by side under their own control, so that one failing stops
        // the other; this thread publishes what they finish.
        let encodes = Control::default();
        let video_finished = AtomicBool::new(video_done);
        let audio_finished = AtomicBool::new(no_audio);
        let timeout = encode_timeout(duration);
        let mut playable = movie.playable;
        let mut subs = movie.subtitles.clone();
        let progressive = self.config.transcode.progressive;
        let results = std::thread::scope(|scope| {
            let audio_run = (!audio_finished.load(Ordering::SeqCst)).then(|| {
                scope.spawn(|| {
                    let start = loop {
                        if let Some(start) = read_timeline() {
                            break start;
                        }
                        if encodes.wait(Duration::from_millis(200)) {
                            audio_finished.store(true, Ordering::SeqCst);
                            return Err(RunError::Cancelled);
                        }
                    };
                    let args = audio_args(&AudioJob {
                        source,
                        out_dir: &audio_dir,
                        audio: &streams,
                        segment_seconds,
                        // The AAC encoder's priming frame starts its output one frame early.
                        offset_s: (start + probe.input_start_s + AAC_PRIMING_S).max(0.0),
                    });
                    let r = run_ffmpeg(&tools.ffmpeg, &args, &encodes, timeout, |t: Tick| {
                        lock_progress().advance(Encode::Audio, t.out_time_s, t.speed);
                    });
                    if r.is_err() {
                        encodes.cancel();
                    }
                    lock_progress().finish(Encode::Audio);
                    audio_finished.store(true, Ordering::SeqCst);
                    encodes.notify_all();
                    r
                })
            });
            let publisher = scope.spawn(|| {
                let published = (|| -> Result<(), IngestError> {
                    loop {
                        if control.is_cancelled() {
                            encodes.cancel();
                        }
                        let v_done = video_finished.load(Ordering::SeqCst);
                        let a_done = audio_finished.load(Ordering::SeqCst);
                        if encodes.is_cancelled() {
                            return Ok(());
                        }
                        if read_timeline().is_none() {
                            // Read while the first segment is still staged.
                            if let Some((init, first)) = video[0].staged_first() {
                                let start = master::first_pts(&tools.ffprobe, &init, &first)
                                    .map_or(0.0, |out| out - probe.video_start_s);
                                *timeline.lock().unwrap_or_else(|p| p.into_inner()) = Some(start);
                                encodes.notify_all();
                            }
                        }
                        if progressive || (v_done && a_done) {
                            for t in &mut video {
                                t.publish_new(&self.media, &movie.id, v_done)?;
                            }
                            for t in &mut sound {
                                t.publish_new(&self.media, &movie.id, a_done)?;
                            }
                        }
                        let started = video
                            .iter()
                            .chain(sound.iter())
                            .all(|t| !t.published.is_empty());
                        if !playable && started {
                            let video_start_s = read_timeline().unwrap_or(0.0);
                            subs = self.make_subtitles(
                                &tools,
                                &probe,
                                job,
                                &staging,
                                video_start_s,
                                &mut notes,
                                control,
                            )?;
                            playable = self.store.set_playable(
                                &movie.id,
                                Published {
                                    duration_s: duration,
                                    renditions: rungs
                                        .iter()
                                        .zip(&video)
                                        .map(|(r, t)| master::estimate(r, t.codecs.as_deref()))
                                        .collect(),
                                    audio: with_estimates(&audio),
                                    subtitles: subs.clone(),
                                    video_start_s,
                                    notes: notes.clone(),
                                    thumbnails: None,
                                },
                            )?;
                            tracing::info!(movie_id = %movie.id, "playable while it transcodes");
                        }
                        if v_done && a_done {
                            return Ok(());
                        }
                        encodes.wait(Duration::from_millis(500));
                    }
                })();
                if published.is_err() {
                    encodes.cancel();
                }
                published
            });
            let video_result = if video_done {
                Ok(())
            } else {
                let tick = |t: Tick| {
                    lock_progress().advance(Encode::Video, offset + t.out_time_s, t.speed);
                    report();
                };
                let r = run_ffmpeg(&tools.ffmpeg, &video_args, &encodes, timeout, tick);
                if r.is_err() {
                    encodes.cancel();
                }
                r
            };
            lock_progress().finish(Encode::Video);
            video_finished.store(true, Ordering::SeqCst);
            encodes.notify_all();
            while !audio_finished.load(Ordering::SeqCst) && !encodes.wait(Duration::from_secs(1)) {
                report();
            }
            let panicked = || Err(RunError::Failed("an ingest thread panicked".into()));
            let audio_result =
                audio_run.map_or(Ok(()), |h| h.join().unwrap_or_else(|_| panicked()));
            let published = publisher
                .join()
                .unwrap_or_else(|_| panicked().map_err(IngestError::from));
            (published, video_result, audio_result)
        });
        if control.is_cancelled() {
            return Err(RunError::Cancelled.into());
        }
        // The first real failure is the reason; the other encode was only stopped by it.
        let (published, video_result, audio_result) = results;
        for r in [video_result, audio_result] {
            if let Err(e) = r
                && e != RunError::Cancelled
            {
                return Err(e.into());
            }
        }
        published?;
        if encodes.is_cancelled() {
            return Err(RunError::Cancelled.into());
        }

        // The shape of the top rung (square pixels, the source's display aspect).
        let thumb_size = thumbnails::size(
            rungs
                .iter()
                .max_by_key(|r| r.width * r.height)
                .map_or((probe.width, probe.height), |r| (r.width, r.height)),
        );
        let mut thumbs = None;
        for keyframes_only in [true, false] {
            let made = self.thumbnails_pass(
                &tools,
                source,
                &picture,
                &thumbs_dir,
                thumb_size,
                duration,
                keyframes_only,
                control,
            )?;
            match made.and_then(|()| {
                thumbnails::collect(&thumbs_dir, thumb_size, duration)
                    .ok_or_else(|| "ffmpeg made no pictures".to_string())
            }) {
                Ok(made) => {
                    thumbs = Some(made);
                    break;
                }
                Err(why) => {
                    tracing::info!(movie_id = %movie.id, keyframes_only, why = %why, "no thumbnails from this pass");
                }
            }
        }
        if thumbs.is_none() {
            notes.push(
                "no seek-bar thumbnails: ffmpeg could not make pictures of this source".into(),
            );
        }

        let poster = staging.join("poster.jpg");
        run_ffmpeg(
            &tools.ffmpeg,
            &poster_args(source, &poster, &probe, &picture),
            control,
            Duration::from_secs(120),
            |_| {},
        )?;
        if !poster.is_file() {
            return Err(RunError::Failed("ffmpeg wrote no poster frame".into()).into());
        }

        let target = u64::from(segment_seconds.max(1));
        let sizes: Vec<_> = video
            .iter()
            .map(|t| (t.sizes(), t.codecs.clone()))
            .collect();
        let renditions: Vec<_> = master::measure(&rungs, &sizes, target)?
            .into_iter()
            .map(|m| m.info)
            .collect();
        for (a, t) in audio.iter_mut().zip(&sound) {
            let rates = master::rates(&t.sizes(), target, &a.name)?;
            (a.bandwidth, a.average_bandwidth) = (rates.peak, rates.average);
        }
        let video_start_s = read_timeline().unwrap_or(0.0);
        if !playable {
            subs = self.make_subtitles(
                &tools,
                &probe,
                job,
                &staging,
                video_start_s,
                &mut notes,
                control,
            )?;
        }
        for t in video.iter_mut().chain(sound.iter_mut()) {
            t.write_playlist(&self.media, &movie.id, true)?;
        }
        self.media.put_file(&movie.id, "poster.jpg", &poster)?;
        if thumbs.is_some() {
            self.media
                .publish_part(&thumbs_dir, &movie.id, thumbnails::PART)?;
        }
        let ladder = Ladder {
            video: &renditions,
            audio: &audio,
            subtitles: &subs,
        };
        self.media.replace_object(
            &movie.id,
            "master.m3u8",
            render_master(&ladder, |name| format!("{name}/index.m3u8")).as_bytes(),
        )?;
        for note in &notes {
            tracing::info!(movie_id = %movie.id, note = %note, "ingest note");
        }
        Ok(self.store.complete_job(
            &movie.id,
            Published {
                duration_s: duration,
                renditions,
                audio,
                subtitles: subs,
                video_start_s,
                notes,
                thumbnails: thumbs,
            },
        )?)
    }

    /// One thumbnails pass (see `thumbnails`). Thumbnails are a comfort: a failure is the
    /// reason in `Err` of the inner result, never the movie's failure; only a cancellation
    /// stops the ingest.
    #[allow(clippy::too_many_arguments)]
    fn thumbnails_pass(
        &self,
        tools: &Tools,
        source: &Path,
        picture: &Picture,
        dir: &Path,
        size: (u32, u32),
        duration: f64,
        keyframes_only: bool,
        control: &Control,
    ) -> Result<Result<(), String>, IngestError> {
        let started = Instant::now();
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(IngestError::io("creating the staging dir"))?;
        let args = thumbnails::pass_args(source, picture, size, dir, keyframes_only);
        match run_ffmpeg(
            &tools.ffmpeg,
            &args,
            control,
            encode_timeout(duration),
            |_| {},
        ) {
            Ok(()) => {
                tracing::info!(
                    secs = started.elapsed().as_secs_f64(),
                    keyframes_only,
                    "thumbnails made"
                );
                Ok(Ok(()))
            }
            Err(RunError::Cancelled) => Err(RunError::Cancelled.into()),
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    /// The timeline start of a movie whose first video segment is already published (a
    /// resumed job), measured on the published init and segment.
    fn published_video_start(
        &self,
        tools: &Tools,
        probe: &Probe,
        id: &MovieId,
        first_rung: &Track,
        staging: &Path,
    ) -> Option<f64> {
        let (_, first, _) = first_rung.published.first()?;
        let init = self
            .media
            .read_blocking(id, &format!("{}/init.mp4", first_rung.name))
            .ok()?;
        let segment = self
            .media
            .read_blocking(id, &format!("{}/{first}", first_rung.name))
            .ok()?;
        let (init_path, segment_path) = (
            staging.join("probe-init.mp4"),
            staging.join("probe-seg.m4s"),
        );
        std::fs::write(&init_path, init).ok()?;
        std::fs::write(&segment_path, segment).ok()?;
        let out = master::first_pts(&tools.ffprobe, &init_path, &segment_path)?;
        Some(out - probe.video_start_s)
    }

    /// Every text subtitle stream of the source, then the sidecar files, as published WebVTT
    /// renditions; a subtitle that fails is skipped with a note: the movie is still worth
    /// watching.
    #[allow(clippy::too_many_arguments)]
    fn make_subtitles(
        &self,
        tools: &Tools,
        probe: &Probe,
        job: &Job,
        staging: &Path,
        video_start_s: f64,
        notes: &mut Vec<String>,
        control: &Control,
    ) -> Result<Vec<SubtitleRendition>, IngestError> {
        let mut wanted: Vec<(&Path, Option<u32>, String, String, bool)> = Vec::new();
        for (n, s) in probe.subtitles.iter().enumerate() {
            let lang = tracks::bcp47(s.language.as_deref());
            if !s.is_text() {
                notes.push(format!(
                    "subtitle stream {} ({}, {lang}) is a picture format that cannot become WebVTT: skipped",
                    s.index, s.codec
                ));
                continue;
            }
            let label = tracks::subtitle_name(&lang, s.title.as_deref(), s.forced, n + 1);
            wanted.push((&job.source, Some(s.index), lang, label, s.forced));
        }
        let embedded: Vec<(String, bool)> = probe
            .subtitles
            .iter()
            .filter(|s| s.is_text())
            .map(|s| (tracks::bcp47(s.language.as_deref()), s.forced))
            .collect();
        for (n, s) in job.sidecars.iter().enumerate() {
            let lang = tracks::bcp47(s.lang.as_deref());
            if s.found_beside && embedded.contains(&(lang.clone(), s.forced)) {
                notes.push(format!(
                    "{} beside the file repeats its embedded {lang} subtitles: skipped",
                    s.path.file_name().unwrap_or_default().to_string_lossy()
                ));
                continue;
            }
            let ordinal = probe.subtitles.len() + n + 1;
            let label = tracks::subtitle_name(&lang, s.name.as_deref(), s.forced, ordinal);
            wanted.push((&s.path, None, lang, label, s.forced));
        }
        let mut subs: Vec<SubtitleRendition> = Vec::new();
        for (input, stream, lang, label, forced) in wanted {
            let taken: Vec<String> = subs.iter().map(|s| s.name.clone()).collect();
            let labels: Vec<String> = subs.iter().map(|s| s.label.clone()).collect();
            let name = tracks::subtitle_rendition(&lang, &taken);
            let dir = staging.join("subtitles").join(&name);
            let converted = subtitles::convert(
                &tools.ffmpeg,
                input,
                stream,
                &dir,
                video_start_s,
                probe.duration_s,
                control,
            );
            match converted {
                Ok(_) => {
                    self.media.publish_part(&dir, &job.movie, &name)?;
                    subs.push(SubtitleRendition {
                        name,
                        lang,
                        label: tracks::unique(label, &labels),
                        forced,
                    });
                }
                Err(subtitles::ConvertError::Cancelled) => return Err(RunError::Cancelled.into()),
                Err(e) => notes.push(format!("subtitles {label}: skipped ({e})")),
            }
        }
        Ok(subs)
    }

    /// Adds a subtitle file to a ready movie as one more WebVTT rendition, re-encoding nothing.
    /// A file that is not a readable subtitle changes nothing and says why.
    pub fn add_subtitle(&self, id: &MovieId, sidecar: Sidecar) -> Result<Movie, IngestError> {
        let movie = self.ready_movie(id)?;
        let sidecar = check_sidecar(sidecar)?;
        let tools = Tools::locate(&self.config.transcode)?;
        let lang = tracks::bcp47(sidecar.lang.as_deref());
        let taken: Vec<String> = movie.subtitles.iter().map(|s| s.name.clone()).collect();
        let labels: Vec<String> = movie.subtitles.iter().map(|s| s.label.clone()).collect();
        let name = tracks::subtitle_rendition(&lang, &taken);
        let ordinal = movie.subtitles.len() + 1;
        let label = tracks::subtitle_name(&lang, sidecar.name.as_deref(), sidecar.forced, ordinal);
        let staged = self
            .staging_root
            .join(format!("{}-{name}-{}", movie.id, MovieId::generate()));
        let result = subtitles::convert(
            &tools.ffmpeg,
            &sidecar.path,
            None,
            &staged,
            movie.video_start_s,
            movie.duration_s.unwrap_or(0.0),
            &Control::default(),
        )
        .map_err(|e| IngestError::BadSubtitle(e.to_string()))
        .and_then(|_| Ok(self.media.publish_part(&staged, id, &name)?));
        let _ = std::fs::remove_dir_all(&staged);
        result?;
        let mut subs = movie.subtitles.clone();
        subs.push(SubtitleRendition {
            name,
            lang,
            label: tracks::unique(label, &labels),
            forced: sidecar.forced,
        });
        self.save_subtitles(id, subs)
    }

    /// Removes a movie's subtitle renditions in a language (`fr`, `fre`) or by rendition name.
    pub fn remove_subtitle(&self, id: &MovieId, lang: &str) -> Result<Movie, IngestError> {
        let movie = self.ready_movie(id)?;
        let wanted = tracks::bcp47(Some(lang));
        let (gone, kept): (Vec<_>, Vec<_>) = movie.subtitles.iter().cloned().partition(|s| {
            s.name == lang || (wanted != "und" && s.lang == wanted) || s.lang == lang
        });
        if gone.is_empty() {
            return Err(IngestError::NoSuchSubtitle(lang.to_string()));
        }
        // The record first: no playlist may name objects that are going.
        let movie = self.save_subtitles(id, kept)?;
        for s in gone {
            self.media.delete_part(id, &s.name)?;
        }
        Ok(movie)
    }

    pub(crate) fn ready_movie(&self, id: &MovieId) -> Result<Movie, IngestError> {
        self.store
            .movie(id)?
            .filter(|m| m.status == crate::store::MovieStatus::Ready)
            .ok_or_else(|| IngestError::NotReady(id.clone()))
    }

    /// Records the new subtitle list and rewrites the stored master to match it.
    fn save_subtitles(
        &self,
        id: &MovieId,
        subs: Vec<SubtitleRendition>,
    ) -> Result<Movie, IngestError> {
        let movie = self
            .store
            .set_subtitles(id, subs)?
            .ok_or_else(|| IngestError::NotReady(id.clone()))?;
        let master = render_master(
            &Ladder {
                video: &movie.renditions,
                audio: &movie.audio,
                subtitles: &movie.subtitles,
            },
            |name| format!("{name}/index.m3u8"),
        );
        if let Err(e) = self
            .media
            .replace_object(id, "master.m3u8", master.as_bytes())
        {
            // Players never read the stored master (it is rendered from the record); it is
            // kept for people browsing the bucket, so a failure here is only logged.
            tracing::warn!(movie_id = %id, error = %e, "could not rewrite the stored master");
        }
        Ok(movie)
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
