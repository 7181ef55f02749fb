//! How far a job has got. The video ladder and the audio renditions are two ffmpeg processes
//! running side by side; the job is as far as the one behind. Usually that is the video, but
//! on a small picture (a 360p film at 40x real time) the audio, one thread encoding every
//! language of the whole film, finishes minutes later, and a figure taken from the video alone
//! would sit at 99.8% with "0 s left" all that time.

use crate::store::Progress;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encode {
    Video,
    Audio,
}

#[derive(Debug, Clone, Copy, Default)]
struct Lane {
    /// Seconds of the film this encode has written (from the start of the film, not of this
    /// run: a resumed ladder starts at its resume point).
    done_s: f64,
    /// ffmpeg's own speed figure (1.0 = real time); 0 until it reports one.
    speed: f64,
    finished: bool,
}

#[derive(Debug, Clone)]
pub struct JobProgress {
    duration_s: f64,
    video: Lane,
    audio: Lane,
}

impl JobProgress {
    /// A job over a film of `duration_s`; an encode already finished (or with nothing to do,
    /// as the audio of a silent film) never holds the figure back.
    pub fn new(duration_s: f64, video_finished: bool, audio_finished: bool) -> JobProgress {
        let lane = |finished| Lane {
            finished,
            ..Lane::default()
        };
        JobProgress {
            duration_s,
            video: lane(video_finished),
            audio: lane(audio_finished),
        }
    }

    fn lane(&mut self, encode: Encode) -> &mut Lane {
        match encode {
            Encode::Video => &mut self.video,
            Encode::Audio => &mut self.audio,
        }
    }

    /// ffmpeg reported that `encode` has written up to `done_s` of the film at `speed`.
    pub fn advance(&mut self, encode: Encode, done_s: f64, speed: f64) {
        let lane = self.lane(encode);
        lane.done_s = done_s;
        lane.speed = speed;
    }

    pub fn finish(&mut self, encode: Encode) {
        self.lane(encode).finished = true;
    }

    /// The figure people see: that of the encode furthest behind.
    pub fn progress(&self) -> Progress {
        let behind = [self.video, self.audio]
            .into_iter()
            .filter(|lane| !lane.finished)
            .min_by(|a, b| a.done_s.total_cmp(&b.done_s));
        let Some(lane) = behind else {
            return Progress {
                percent: 100.0,
                speed: self.video.speed,
                eta_s: Some(0.0),
            };
        };
        let duration = self.duration_s.max(f64::EPSILON);
        Progress {
            percent: (lane.done_s / duration * 100.0).clamp(0.0, 100.0),
            speed: lane.speed,
            eta_s: (lane.speed > 0.0)
                .then(|| ((self.duration_s - lane.done_s) / lane.speed).max(0.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encode_behind_sets_the_figure() {
        let mut job = JobProgress::new(7200.0, false, false);
        job.advance(Encode::Video, 3600.0, 40.0);
        job.advance(Encode::Audio, 1800.0, 12.0);
        let p = job.progress();
        assert_eq!(p.percent, 25.0);
        assert_eq!(p.speed, 12.0);
        assert_eq!(p.eta_s, Some(450.0));

        // The ladder is done; the audio still has half the film to go.
        job.advance(Encode::Video, 7187.0, 40.0);
        job.finish(Encode::Video);
        job.advance(Encode::Audio, 3600.0, 12.0);
        let p = job.progress();
        assert_eq!(p.percent, 50.0);
        assert_eq!(p.eta_s, Some(300.0));

        job.finish(Encode::Audio);
        assert_eq!(job.progress().percent, 100.0);
        assert_eq!(job.progress().eta_s, Some(0.0));
    }

    #[test]
    fn an_encode_with_nothing_to_do_never_holds_it_back() {
        // A silent film, or audio finished before a resume.
        let mut job = JobProgress::new(100.0, false, true);
        job.advance(Encode::Video, 25.0, 2.0);
        assert_eq!(job.progress().percent, 25.0);
        assert_eq!(job.progress().eta_s, Some(37.5));
    }

    #[test]
    fn audio_not_started_yet_counts_as_at_the_start_with_no_estimate() {
        let mut job = JobProgress::new(100.0, false, false);
        job.advance(Encode::Video, 4.0, 3.0);
        let p = job.progress();
        assert_eq!(p.percent, 0.0);
        assert_eq!(p.eta_s, None);
    }
}
