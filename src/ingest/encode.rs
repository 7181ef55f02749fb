//! The encodes of one ingest: the video ladder (on the job's thread) and the audio of every
//! language (a thread beside it) run under one control, so that one failing stops the other,
//! while a third thread publishes what they finish (as they go, or at the end) and makes the
//! movie playable once every row has its first segments.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::command::{AudioJob, LadderJob, audio_args, ladder_args};
use super::error::IngestError;
use super::master;
use super::pipeline::{Ingester, Staging, encode_timeout, has_room};
use super::plan::Plan;
use super::progress::{Encode, JobProgress};
use super::resume::{Start, Tracks};
use super::run::{Control, RunError, Tick, run_ffmpeg};
use super::tools::Tools;
use crate::store::{AudioRendition, Job, Movie, Progress, Published, SubtitleRendition};

/// ffmpeg's AAC encoder delays its output by one 1024-sample frame (at 48 kHz).
const AAC_PRIMING_S: f64 = 1024.0 / 48000.0;

/// What the encodes leave: every rendition published but its final playlist.
pub struct Encoded {
    pub tracks: Tracks,
    /// Where the source's clock zero lands in the published timeline (the first frame's time
    /// out minus its time in): subtitle cues are placed by it.
    pub video_start_s: f64,
    /// The subtitle renditions, when they were made as the movie became playable (or by an
    /// earlier run); `None` when they are still to make.
    pub subtitles: Option<Vec<SubtitleRendition>>,
    pub notes: Vec<String>,
}

/// One job's encodes and what their threads share.
struct Encoding<'a> {
    ingester: &'a Ingester,
    tools: &'a Tools,
    job: &'a Job,
    movie: &'a Movie,
    plan: &'a Plan,
    staging: &'a Staging,
    /// The job's control (a deletion or a shutdown).
    control: &'a Control,
    /// The two encodes': one failing stops the other.
    encodes: Control,
    /// See [`Encoded::video_start_s`]; known from an earlier run, or measured on the first
    /// video segment while it is staged (the audio waits for it).
    timeline: Mutex<Option<f64>>,
    progress: Mutex<JobProgress>,
    video_finished: AtomicBool,
    audio_finished: AtomicBool,
    timeout: Duration,
}

/// What the publishing thread makes along the way.
struct Made {
    playable: bool,
    subtitles: Vec<SubtitleRendition>,
    notes: Vec<String>,
}

impl Ingester {
    /// Runs the encodes that `start` says are left, publishing as they finish.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn encode(
        &self,
        tools: &Tools,
        job: &Job,
        movie: &Movie,
        plan: &Plan,
        staging: &Staging,
        start: Start,
        control: &Control,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Result<Encoded, IngestError> {
        let Start {
            mut tracks,
            resume,
            video_done,
            audio_done,
            notes,
        } = start;
        let known_start = if movie.playable {
            Some(movie.video_start_s)
        } else if resume.is_some() || video_done {
            Some(
                self.published_video_start(tools, plan, movie, &tracks.video[0], &staging.root)
                    .unwrap_or(0.0),
            )
        } else {
            None
        };
        let no_audio = audio_done || plan.streams.is_empty();
        let duration = plan.duration_s();
        let encoding = Encoding {
            ingester: self,
            tools,
            job,
            movie,
            plan,
            staging,
            control,
            encodes: Control::default(),
            timeline: Mutex::new(known_start),
            progress: Mutex::new(JobProgress::new(duration, video_done, no_audio)),
            video_finished: AtomicBool::new(video_done),
            audio_finished: AtomicBool::new(no_audio),
            timeout: encode_timeout(duration),
        };
        let mut made = Made {
            playable: movie.playable,
            subtitles: movie.subtitles.clone(),
            notes: [plan.notes.clone(), notes].concat(),
        };
        let video_args = (!video_done).then(|| {
            ladder_args(&LadderJob {
                source: &plan.source.path,
                out_dir: &staging.video,
                rungs: &plan.rungs,
                picture: plan.picture.clone(),
                preset: &plan.preset,
                segment_seconds: plan.segment_seconds,
                resume,
                audio_lead_s: plan.source.probe.audio_lead_s(),
            })
        });
        let offset = resume.map_or(0.0, |r| r.start_s);
        encoding.run(&mut tracks, &mut made, video_args, offset, on_progress)?;
        Ok(Encoded {
            tracks,
            video_start_s: encoding.timeline().unwrap_or(0.0),
            subtitles: made.playable.then_some(made.subtitles),
            notes: made.notes,
        })
    }

    /// The timeline start of a movie whose first video segment is already published (a
    /// resumed job), measured on the published init and segment.
    fn published_video_start(
        &self,
        tools: &Tools,
        plan: &Plan,
        movie: &Movie,
        first_rung: &super::publish::Track,
        staging: &Path,
    ) -> Option<f64> {
        let (_, first, _) = first_rung.published.first()?;
        let read = |name: &str| {
            (self.media).read_blocking(&movie.id, &format!("{}/{name}", first_rung.name))
        };
        let (init, segment) = (read("init.mp4").ok()?, read(first).ok()?);
        let (init_path, segment_path) = (
            staging.join("probe-init.mp4"),
            staging.join("probe-seg.m4s"),
        );
        std::fs::write(&init_path, init).ok()?;
        std::fs::write(&segment_path, segment).ok()?;
        let out = master::first_pts(&tools.ffprobe, &init_path, &segment_path)?;
        Some(out - plan.source.probe.video_start_s)
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

impl Encoding<'_> {
    fn timeline(&self) -> Option<f64> {
        *self.timeline.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_progress(&self) -> std::sync::MutexGuard<'_, JobProgress> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The three threads, and the first real failure among them as the reason (the other
    /// encode was only stopped by it).
    fn run(
        &self,
        tracks: &mut Tracks,
        made: &mut Made,
        video_args: Option<Vec<String>>,
        offset: f64,
        on_progress: &mut dyn FnMut(&Progress),
    ) -> Result<(), IngestError> {
        let mut last_saved = Instant::now() - Duration::from_secs(10);
        // Called on this thread only (`on_progress` need not be Send): after each video tick,
        // and while the audio runs on after the ladder.
        let mut report = || {
            let progress = self.lock_progress().progress();
            on_progress(&progress);
            self.save_progress(&progress, &mut last_saved);
        };
        let (published, video_result, audio_result) = std::thread::scope(|scope| {
            let audio_run = (!self.audio_finished.load(Ordering::SeqCst))
                .then(|| scope.spawn(|| self.run_audio()));
            let publisher = scope.spawn(|| {
                let published = self.publish_as_finished(tracks, made);
                if published.is_err() {
                    self.encodes.cancel();
                }
                published
            });
            let video_result = match &video_args {
                None => Ok(()),
                Some(args) => self.run_video(args, offset, &mut report),
            };
            self.lock_progress().finish(Encode::Video);
            self.video_finished.store(true, Ordering::SeqCst);
            self.encodes.notify_all();
            while !self.audio_finished.load(Ordering::SeqCst)
                && !self.encodes.wait(Duration::from_secs(1))
            {
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
        if self.control.is_cancelled() {
            return Err(RunError::Cancelled.into());
        }
        for r in [video_result, audio_result] {
            if let Err(e) = r
                && e != RunError::Cancelled
            {
                return Err(e.into());
            }
        }
        published?;
        if self.encodes.is_cancelled() {
            return Err(RunError::Cancelled.into());
        }
        Ok(())
    }

    /// At most once a second: progress is for people, and every save is a disk write. Never on
    /// a nearly full disk: a write that fails there leaves redb refusing every later one, and
    /// the job's outcome could then not be recorded.
    fn save_progress(&self, progress: &Progress, last_saved: &mut Instant) {
        let ingester = self.ingester;
        if last_saved.elapsed() < Duration::from_secs(1) || !has_room(&self.staging.root) {
            return;
        }
        *last_saved = Instant::now();
        if let Err(e) = ingester.store.set_progress(&self.movie.id, progress) {
            tracing::warn!(movie_id = %self.movie.id, error = %e, "could not save progress");
        }
    }

    fn run_video(
        &self,
        args: &[String],
        offset: f64,
        report: &mut dyn FnMut(),
    ) -> Result<(), RunError> {
        let tick = |t: Tick| {
            self.lock_progress()
                .advance(Encode::Video, offset + t.out_time_s, t.speed);
            report();
        };
        let r = run_ffmpeg(&self.tools.ffmpeg, args, &self.encodes, self.timeout, tick);
        if r.is_err() {
            self.encodes.cancel();
        }
        r
    }

    /// The audio starts once the video's timeline start is known: it is moved by the video
    /// muxer's own shift, so both keep the source's sync.
    fn run_audio(&self) -> Result<(), RunError> {
        let start = loop {
            if let Some(start) = self.timeline() {
                break start;
            }
            if self.encodes.wait(Duration::from_millis(200)) {
                self.audio_finished.store(true, Ordering::SeqCst);
                return Err(RunError::Cancelled);
            }
        };
        let probe = &self.plan.source.probe;
        let args = audio_args(&AudioJob {
            source: &self.plan.source.path,
            out_dir: &self.staging.audio,
            audio: &self.plan.streams,
            segment_seconds: self.plan.segment_seconds,
            // The AAC encoder's priming frame starts its output one frame early.
            offset_s: (start + probe.input_start_s + AAC_PRIMING_S).max(0.0),
        });
        let r = run_ffmpeg(
            &self.tools.ffmpeg,
            &args,
            &self.encodes,
            self.timeout,
            |t: Tick| {
                self.lock_progress()
                    .advance(Encode::Audio, t.out_time_s, t.speed);
            },
        );
        if r.is_err() {
            self.encodes.cancel();
        }
        self.lock_progress().finish(Encode::Audio);
        self.audio_finished.store(true, Ordering::SeqCst);
        self.encodes.notify_all();
        r
    }

    /// Publishes what the encodes finish (as they go when publishing is progressive, else
    /// once both are done) until both are done or one is stopped.
    fn publish_as_finished(&self, tracks: &mut Tracks, made: &mut Made) -> Result<(), IngestError> {
        let (media, id) = (&self.ingester.media, &self.movie.id);
        loop {
            if self.control.is_cancelled() {
                self.encodes.cancel();
            }
            let v_done = self.video_finished.load(Ordering::SeqCst);
            let a_done = self.audio_finished.load(Ordering::SeqCst);
            if self.encodes.is_cancelled() {
                return Ok(());
            }
            if self.timeline().is_none() {
                self.measure_timeline(tracks);
            }
            if self.plan.progressive || (v_done && a_done) {
                for t in &mut tracks.video {
                    t.publish_new(media, id, v_done)?;
                }
                for t in &mut tracks.sound {
                    t.publish_new(media, id, a_done)?;
                }
            }
            if !made.playable && tracks.all().all(|t| !t.published.is_empty()) {
                self.make_playable(tracks, made)?;
            }
            if v_done && a_done {
                return Ok(());
            }
            self.encodes.wait(Duration::from_millis(500));
        }
    }

    /// Reads the timeline start from the first video segment while it is still staged.
    fn measure_timeline(&self, tracks: &Tracks) {
        let Some((init, first)) = tracks.video[0].staged_first() else {
            return;
        };
        let start = master::first_pts(&self.tools.ffprobe, &init, &first)
            .map_or(0.0, |out| out - self.plan.source.probe.video_start_s);
        *self.timeline.lock().unwrap_or_else(|p| p.into_inner()) = Some(start);
        self.encodes.notify_all();
    }

    /// Every row has its first segments: the subtitles are made, and the movie is playable
    /// with the ladder it will end with (rates estimated until they are measured).
    fn make_playable(&self, tracks: &Tracks, made: &mut Made) -> Result<(), IngestError> {
        let video_start_s = self.timeline().unwrap_or(0.0);
        made.subtitles = self.ingester.make_subtitles(
            self.tools,
            &self.plan.source.probe,
            self.job,
            &self.staging.root,
            video_start_s,
            &mut made.notes,
            self.control,
        )?;
        let plan = self.plan;
        made.playable = self.ingester.store.set_playable(
            &self.movie.id,
            Published {
                duration_s: plan.duration_s(),
                renditions: (plan.rungs.iter())
                    .zip(&tracks.video)
                    .map(|(r, t)| master::estimate(r, t.codecs.as_deref()))
                    .collect(),
                audio: with_estimates(&plan.audio),
                subtitles: made.subtitles.clone(),
                video_start_s,
                notes: made.notes.clone(),
                thumbnails: None,
            },
        )?;
        tracing::info!(movie_id = %self.movie.id, "playable while it transcodes");
        Ok(())
    }
}
