//! What an earlier, interrupted run of a job already published, and so where this run starts:
//! the video goes on from the last segment every rung has (never from zero), unless the encoder
//! settings changed since; the audio (cheap) is made again unless it was finished.

use super::command::Resume;
use super::error::IngestError;
use super::pipeline::{Ingester, Staging};
use super::plan::Plan;
use super::publish::Track;
use crate::config::Encrypt;
use crate::store::{Movie, MovieKeys, Tier};
use std::sync::Arc;

/// The renditions of one movie as they are being published.
pub struct Tracks {
    pub video: Vec<Track>,
    pub sound: Vec<Track>,
}

impl Tracks {
    pub fn all(&self) -> impl Iterator<Item = &Track> {
        self.video.iter().chain(self.sound.iter())
    }

    pub fn all_mut(&mut self) -> impl Iterator<Item = &mut Track> {
        self.video.iter_mut().chain(self.sound.iter_mut())
    }
}

/// Where this run starts.
pub struct Start {
    /// The renditions, holding what is already published and will not be made again.
    pub tracks: Tracks,
    /// Where the video encode picks up, when it goes on from an earlier run.
    pub resume: Option<Resume>,
    pub video_done: bool,
    pub audio_done: bool,
    /// What people should know about the interruption.
    pub notes: Vec<String>,
}

/// What to do with the video, decided from what each rung has published.
#[derive(Debug, PartialEq, Eq)]
pub enum VideoStep {
    /// Every rung's final playlist is out.
    Finished,
    /// Encode from the first segment no rung lacks; `restart` when what was published was made
    /// under other settings and is thrown away.
    Encode { from_segment: usize, restart: bool },
}

/// `rungs`: (final playlist published, segments published) of each rung.
pub fn video_step(rungs: &[(bool, usize)], settings_changed: bool) -> VideoStep {
    if rungs.iter().all(|&(finished, _)| finished) {
        return VideoStep::Finished;
    }
    if settings_changed {
        return VideoStep::Encode {
            from_segment: 0,
            restart: true,
        };
    }
    // A kill can fall between one rung's newest segment and another's.
    let from_segment = rungs.iter().map(|&(_, n)| n).min().unwrap_or(0);
    VideoStep::Encode {
        from_segment,
        restart: false,
    }
}

/// `1:02:03` or `2:03`, for notes people read.
fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

impl Ingester {
    /// Reads what was published of `movie` and decides where this run starts. Rows that the
    /// plan no longer makes (a rung or codec taken out of the settings) are removed from the
    /// store when the video starts over, and the plan's settings are recorded on the movie.
    pub(super) fn start(
        &self,
        movie: &Movie,
        plan: &Plan,
        staging: &Staging,
    ) -> Result<Start, IngestError> {
        let seconds = plan.segment_seconds;
        let mut tracks = Tracks {
            video: (plan.rungs.iter())
                .map(|r| Track::new(&r.name, &staging.video, false, seconds))
                .collect(),
            sound: (plan.audio.iter())
                .map(|a| Track::new(&a.name, &staging.audio, true, seconds))
                .collect(),
        };
        for t in tracks.all_mut() {
            t.load_published(&self.media, &movie.id)?;
        }
        let keys = self.segment_keys(movie, plan, &tracks)?;
        for t in tracks.all_mut() {
            t.keys = keys.clone();
        }
        let mut notes = Vec::new();
        let published: Vec<_> = (tracks.video.iter())
            .map(|t| (t.finished, t.published.len()))
            .collect();
        let settings_changed = movie.encoder.as_ref().is_some_and(|e| *e != plan.encoder);
        let step = video_step(&published, settings_changed);
        if let VideoStep::Encode { restart: true, .. } = step {
            for t in &mut tracks.video {
                t.reset();
            }
            let note = "the encoder settings changed since the interruption: the video was encoded again from the start";
            tracing::info!(movie_id = %movie.id, note, "ingest not resumed");
            notes.push(note.to_string());
            // Rows the new settings no longer make would stay in the store, unlisted, until
            // the movie is deleted.
            for gone in (movie.renditions.iter())
                .filter(|old| !plan.rungs.iter().any(|r| r.name == old.name))
            {
                self.media.delete_part(&movie.id, &gone.name)?;
            }
        }
        if movie.encoder.as_deref() != Some(plan.encoder.as_str()) {
            self.store.set_encoder(&movie.id, &plan.encoder)?;
        }
        let resume = match step {
            VideoStep::Finished => None,
            VideoStep::Encode { from_segment, .. } => {
                self.resume_video(movie, plan, &mut tracks.video, from_segment, &mut notes)?
            }
        };
        let audio_done = tracks.sound.iter().all(|t| t.finished);
        if !audio_done {
            for t in &mut tracks.sound {
                t.reset();
            }
        }
        Ok(Start {
            tracks,
            resume,
            video_done: step == VideoStep::Finished,
            audio_done,
            notes,
        })
    }

    /// The movie's segment keys: those it was first published with (a resumed run goes on with
    /// them), else new ones when `protection.encrypt` covers its tier and nothing of it is
    /// published clear yet, else none.
    fn segment_keys(
        &self,
        movie: &Movie,
        plan: &Plan,
        tracks: &Tracks,
    ) -> Result<Option<Arc<MovieKeys>>, IngestError> {
        if let Some(keys) = self.store.movie_keys(&movie.id)? {
            return Ok(Some(Arc::new(keys)));
        }
        let wanted = match self.config.protection.encrypt {
            Encrypt::Off => false,
            Encrypt::Premium => movie.tier == Tier::Premium,
            Encrypt::All => true,
        };
        if !wanted || tracks.all().any(|t| !t.published.is_empty()) {
            return Ok(None);
        }
        let period = self.config.protection.key_period.as_secs();
        let keys = MovieKeys::generate(plan.duration_s(), plan.segment_seconds, period);
        self.store.set_movie_keys(&movie.id, &keys)?;
        Ok(Some(Arc::new(keys)))
    }

    /// Keeps the first `n` segments of every rung and shifts what comes next onto their
    /// timeline; `None` when there is nothing to keep.
    fn resume_video(
        &self,
        movie: &Movie,
        plan: &Plan,
        video: &mut [Track],
        n: usize,
        notes: &mut Vec<String>,
    ) -> Result<Option<Resume>, IngestError> {
        for t in video.iter_mut() {
            t.truncate(n);
        }
        if n == 0 {
            return Ok(None);
        }
        let start_s = video[0].duration_s();
        for t in video.iter_mut() {
            let (ticks, _) = t.published_end(&self.media, &movie.id)?;
            t.shift_resumed(ticks);
        }
        let note = format!(
            "resumed after an interruption at {} (segment {} of ~{}); nothing before it was encoded again",
            clock(start_s),
            n + 1,
            (plan.duration_s() / f64::from(plan.segment_seconds)).ceil()
        );
        tracing::info!(movie_id = %movie.id, note = %note, "ingest resumed");
        notes.push(note);
        Ok(Some(Resume {
            segments_done: n as u32,
            start_s,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_ladder_is_not_encoded_again_even_under_new_settings() {
        assert_eq!(
            video_step(&[(true, 10), (true, 10)], false),
            VideoStep::Finished
        );
        assert_eq!(
            video_step(&[(true, 10), (true, 10)], true),
            VideoStep::Finished
        );
    }

    #[test]
    fn an_interrupted_ladder_goes_on_from_the_last_segment_every_rung_has() {
        assert_eq!(
            video_step(&[(false, 7), (false, 6), (false, 7)], false),
            VideoStep::Encode {
                from_segment: 6,
                restart: false
            }
        );
        // One rung finished, another not: the unfinished one decides.
        assert_eq!(
            video_step(&[(true, 9), (false, 4)], false),
            VideoStep::Encode {
                from_segment: 4,
                restart: false
            }
        );
    }

    #[test]
    fn a_new_job_starts_at_the_first_segment() {
        assert_eq!(
            video_step(&[(false, 0), (false, 0)], false),
            VideoStep::Encode {
                from_segment: 0,
                restart: false
            }
        );
    }

    #[test]
    fn changed_settings_start_an_unfinished_ladder_over() {
        assert_eq!(
            video_step(&[(false, 7), (false, 7)], true),
            VideoStep::Encode {
                from_segment: 0,
                restart: true
            }
        );
    }

    #[test]
    fn clocks_read_as_people_write_them() {
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(125.4), "2:05");
        assert_eq!(clock(3723.0), "1:02:03");
    }
}
