//! The last steps of an ingest, once every segment is out: seek-bar thumbnails and the poster
//! frame, rates measured from the published segments, the final playlists, the master, and
//! the movie flipped to ready in one transaction.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::command::poster_args;
use super::encode::Encoded;
use super::error::IngestError;
use super::master;
use super::pipeline::{Ingester, Staging, encode_timeout};
use super::plan::Plan;
use super::run::{Control, RunError, run_ffmpeg};
use super::thumbnails;
use super::tools::Tools;
use crate::ids::MovieId;
use crate::playlist::{Ladder, render_master};
use crate::store::{Job, Movie, MovieStatus, Published, Thumbnails};

impl Ingester {
    /// Publishes the rest and records the movie ready. `Ok(false)`: the movie was deleted
    /// meanwhile.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn finish(
        &self,
        tools: &Tools,
        job: &Job,
        movie: &Movie,
        plan: Plan,
        staging: &Staging,
        encoded: Encoded,
        control: &Control,
    ) -> Result<bool, IngestError> {
        let Encoded {
            mut tracks,
            video_start_s,
            subtitles,
            mut notes,
        } = encoded;
        let thumbs = self.make_thumbnails(tools, movie, &plan, staging, control)?;
        if thumbs.is_none() {
            notes.push(
                "no seek-bar thumbnails: ffmpeg could not make pictures of this source".into(),
            );
        }
        let poster = make_poster(tools, &plan, staging, control)?;

        let target = u64::from(plan.segment_seconds.max(1));
        let sizes: Vec<_> = (tracks.video.iter())
            .map(|t| (t.sizes(), t.codecs.clone()))
            .collect();
        let renditions: Vec<_> = master::measure(&plan.rungs, &sizes, target)?
            .into_iter()
            .map(|m| m.info)
            .collect();
        let mut audio = plan.audio.clone();
        for (a, t) in audio.iter_mut().zip(&tracks.sound) {
            let rates = master::rates(&t.sizes(), target, &a.name)?;
            (a.bandwidth, a.average_bandwidth) = (rates.peak, rates.average);
        }
        let subs = match subtitles {
            Some(made) => made,
            None => self.make_subtitles(
                tools,
                &plan.source.probe,
                job,
                &staging.root,
                video_start_s,
                &mut notes,
                control,
            )?,
        };
        for t in tracks.all_mut() {
            t.write_playlist(&self.media, &movie.id, true)?;
        }
        self.media.put_file(&movie.id, "poster.jpg", &poster)?;
        if thumbs.is_some() {
            (self.media).publish_part(&staging.thumbnails, &movie.id, thumbnails::PART)?;
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
        // Taken before the flip to ready, and recorded in the same transaction: a ready movie
        // always has one, unless the store could not be listed (then the next `serve` takes it).
        let inventory = (self.media.take_inventory(&movie.id))
            .inspect_err(|error| tracing::warn!(movie_id = %movie.id, %error, "could not record the movie's objects for `streamd check`"))
            .ok();
        let completed = self.store.complete_job(
            &movie.id,
            Published {
                duration_s: plan.duration_s(),
                renditions,
                audio,
                subtitles: subs,
                video_start_s,
                notes,
                thumbnails: thumbs,
            },
            inventory,
        )?;
        Ok(completed)
    }

    /// Writes down what a ready movie's objects are now (`media::inventory`), after it is
    /// published or its objects change. A failure is logged, not the change's: the movie plays
    /// without it, and the next `serve` records it.
    pub(crate) fn record_inventory(&self, id: &MovieId) {
        let recorded = self
            .media
            .take_inventory(id)
            .map_err(|e| e.to_string())
            .and_then(|inventory| {
                (self.store.set_inventory(id, inventory)).map_err(|e| e.to_string())
            });
        if recorded == Ok(false) {
            // Deleted meanwhile: its objects went with it, but not the manifest just written.
            let _ = self.media.delete_movie(id);
        }
        if let Err(error) = recorded {
            tracing::warn!(movie_id = %id, %error, "could not record the movie's objects for `streamd check`");
        }
    }

    /// Records the objects of every ready movie published before streamd recorded them.
    pub fn record_missing_inventories(&self) -> Result<usize, crate::store::StoreError> {
        let movies = self.store.list_movies()?;
        let missing: Vec<_> = (movies.iter())
            .filter(|m| m.status == MovieStatus::Ready && m.inventory.is_none())
            .collect();
        for movie in &missing {
            self.record_inventory(&movie.id);
        }
        Ok(missing.len())
    }

    /// Seek-bar thumbnails from keyframes, or from every frame when the keyframes cannot be
    /// picked out. A comfort: `None` when neither pass made any, never the movie's failure.
    fn make_thumbnails(
        &self,
        tools: &Tools,
        movie: &Movie,
        plan: &Plan,
        staging: &Staging,
        control: &Control,
    ) -> Result<Option<Thumbnails>, IngestError> {
        let (size, duration) = (plan.thumbnail_size, plan.duration_s());
        for keyframes_only in [true, false] {
            let made = thumbnails_pass(tools, plan, &staging.thumbnails, keyframes_only, control)?;
            match made.and_then(|()| {
                thumbnails::collect(&staging.thumbnails, size, duration)
                    .ok_or_else(|| "ffmpeg made no pictures".to_string())
            }) {
                Ok(made) => return Ok(Some(made)),
                Err(why) => {
                    tracing::info!(movie_id = %movie.id, keyframes_only, why = %why, "no thumbnails from this pass");
                }
            }
        }
        Ok(None)
    }
}

/// One thumbnails pass (see `thumbnails`): a failure is the reason in `Err` of the inner
/// result; only a cancellation stops the ingest.
fn thumbnails_pass(
    tools: &Tools,
    plan: &Plan,
    dir: &Path,
    keyframes_only: bool,
    control: &Control,
) -> Result<Result<(), String>, IngestError> {
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(IngestError::io("creating the staging dir"))?;
    let args = thumbnails::pass_args(
        &plan.source.path,
        &plan.picture,
        plan.thumbnail_size,
        dir,
        keyframes_only,
    );
    let timeout = encode_timeout(plan.duration_s());
    match run_ffmpeg(&tools.ffmpeg, &args, control, timeout, |_| {}) {
        Ok(()) => {
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(secs, keyframes_only, "thumbnails made");
            Ok(Ok(()))
        }
        Err(RunError::Cancelled) => Err(RunError::Cancelled.into()),
        Err(e) => Ok(Err(e.to_string())),
    }
}

fn make_poster(
    tools: &Tools,
    plan: &Plan,
    staging: &Staging,
    control: &Control,
) -> Result<PathBuf, IngestError> {
    let poster = staging.root.join("poster.jpg");
    let args = poster_args(
        &plan.source.path,
        &poster,
        &plan.source.probe,
        &plan.picture,
    );
    run_ffmpeg(
        &tools.ffmpeg,
        &args,
        control,
        Duration::from_secs(120),
        |_| {},
    )?;
    if !poster.is_file() {
        return Err(RunError::Failed("ffmpeg wrote no poster frame".into()).into());
    }
    Ok(poster)
}
