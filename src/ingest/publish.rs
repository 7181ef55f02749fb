//! Progressive publishing: while ffmpeg encodes, each segment it finishes goes to the object
//! store (moved on local disk, uploaded to S3), then the rendition's EVENT playlist there is
//! rewritten to list it. A segment is listed only once it is complete and published, so a
//! viewer never meets half a file; the published playlists are also what an interrupted job
//! resumes from.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::fmp4;
use super::master::MasterError;
use crate::ids::MovieId;
use crate::media::{Media, MediaError};
use crate::playlist::Variant;
use crate::store::MovieKeys;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("a resumed segment could not be placed on the timeline: {0}")]
    Timeline(#[from] fmp4::Fmp4Error),
    #[error(transparent)]
    Master(#[from] MasterError),
    #[error(transparent)]
    Decrypt(#[from] crate::media::segment_keys::DecryptError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PublishError {
    let what = what.into();
    move |source| PublishError::Io { what, source }
}

/// Audio segments held back while the audio encode runs: the muxer may end the track with a
/// tiny segment that is then folded into the one before it, so the last two stay private
/// until the end. Audio runs far ahead of the video, so nobody waits for them.
const AUDIO_HOLD_BACK: usize = 2;

/// A tail segment shorter than this is folded into the one before it.
const TINY_TAIL_S: f32 = 0.5;

/// One rendition being published.
pub struct Track {
    pub name: String,
    /// Where ffmpeg writes this rendition's files.
    staged: PathBuf,
    audio: bool,
    /// (EXTINF duration, file name, size) of every published segment, in order.
    pub published: Vec<(f32, String, u64)>,
    init_published: bool,
    /// The RFC 6381 codec string of a video rendition, read from its init segment.
    pub codecs: Option<String>,
    /// A resumed video run starts its fragments at decode time 0: (ticks, fragments) to add.
    shift: Option<(u64, u32)>,
    /// EXT-X-TARGETDURATION of the growing playlist: it may not change while it grows.
    target: u64,
    /// The final (VOD) playlist is published.
    pub finished: bool,
    /// Tail segments folded into the one before them: never published on their own.
    folded: Vec<String>,
    /// Set for an encrypted movie: each segment is encrypted as it is published.
    pub keys: Option<Arc<MovieKeys>>,
}

impl Track {
    pub fn new(name: &str, staged: &Path, audio: bool, segment_seconds: u32) -> Track {
        Track {
            name: name.to_string(),
            staged: staged.join(name),
            audio,
            published: Vec::new(),
            init_published: false,
            codecs: None,
            shift: None,
            target: u64::from(segment_seconds.max(1)),
            finished: false,
            folded: Vec::new(),
            keys: None,
        }
    }

    /// Picks up what an earlier run of the job published: its playlist and segment sizes.
    pub fn load_published(&mut self, media: &Media, id: &MovieId) -> Result<(), PublishError> {
        let bytes = match media.read_blocking(id, &format!("{}/index.m3u8", self.name)) {
            Ok(bytes) => bytes,
            Err(MediaError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let Ok(playlist) = Variant::parse(&bytes) else {
            return Ok(());
        };
        self.finished = playlist.finished;
        self.init_published = playlist.map.is_some();
        if self.init_published && !self.audio {
            let init = media.read_blocking(id, &format!("{}/init.mp4", self.name))?;
            self.codecs = fmp4::codecs(&init);
        }
        for (duration, uri) in playlist.segments {
            let size = media.object_size(id, &format!("{}/{uri}", self.name))?;
            self.published.push((duration, uri, size));
        }
        Ok(())
    }

    /// Forgets published segments past the first `n` (a resumed encode makes them again).
    pub fn truncate(&mut self, n: usize) {
        self.published.truncate(n);
        self.finished = false;
    }

    /// Starts over (the audio of an interrupted job is made again from the start).
    pub fn reset(&mut self) {
        self.published.clear();
        self.folded.clear();
        self.init_published = false;
        self.finished = false;
    }

    /// Where the published segments end on this rendition's decode timeline, in ticks, and its
    /// timescale: what a resumed run's fragments are shifted by.
    pub fn published_end(&self, media: &Media, id: &MovieId) -> Result<(u64, u32), PublishError> {
        let init = media.read_blocking(id, &format!("{}/init.mp4", self.name))?;
        let timescale = fmp4::timescale(&init)?;
        let Some((_, last, _)) = self.published.last() else {
            return Ok((0, timescale));
        };
        let mut segment = media.read_blocking(id, &format!("{}/{last}", self.name))?;
        if let Some(keys) = &self.keys {
            segment = keys.decrypt(self.published.len() - 1, &segment)?;
        }
        Ok((fmp4::end_ticks(&init, &segment)?, timescale))
    }

    pub fn shift_resumed(&mut self, ticks: u64) {
        self.shift = Some((ticks, self.published.len() as u32));
    }

    pub fn duration_s(&self) -> f64 {
        self.published.iter().map(|(d, ..)| f64::from(*d)).sum()
    }

    /// The init segment and the first segment ffmpeg wrote, while they are still staged.
    pub fn staged_first(&self) -> Option<(PathBuf, PathBuf)> {
        let init = staged_init(&self.staged)?;
        let playlist = read_staged(&self.staged)?;
        let (_, first) = playlist.segments.first()?;
        Some((init, self.staged.join(first)))
    }

    /// Publishes every segment ffmpeg has finished since the last call; `done` says the
    /// encode has ended (so the last segments are final too). Returns whether anything new
    /// was published.
    pub fn publish_new(
        &mut self,
        media: &Media,
        id: &MovieId,
        done: bool,
    ) -> Result<bool, PublishError> {
        if self.finished {
            return Ok(false);
        }
        // ffmpeg rewrites its playlist by rename; one caught mid-write is read next time.
        let Some(staged) = read_staged(&self.staged) else {
            return Ok(false);
        };
        let mut fresh: Vec<(f32, String)> = staged
            .segments
            .into_iter()
            .filter(|(_, uri)| {
                !self.published.iter().any(|(_, p, _)| p == uri) && !self.folded.contains(uri)
            })
            .collect();
        if self.audio {
            if done {
                self.fold_tiny_tail(&mut fresh)?;
            } else {
                let keep = fresh.len().saturating_sub(AUDIO_HOLD_BACK);
                fresh.truncate(keep);
            }
        }
        if fresh.is_empty() {
            return Ok(false);
        }
        if !self.init_published {
            let init = staged_init(&self.staged).ok_or_else(|| PublishError::Io {
                what: format!("{}: ffmpeg wrote no init segment", self.name),
                source: std::io::ErrorKind::NotFound.into(),
            })?;
            if !self.audio {
                let bytes = std::fs::read(&init).map_err(io(init.display().to_string()))?;
                self.codecs = fmp4::codecs(&bytes);
            }
            media.put_file(id, &format!("{}/init.mp4", self.name), &init)?;
            self.init_published = true;
        }
        for (duration, uri) in fresh {
            let path = self.staged.join(&uri);
            if self.shift.is_some() || self.keys.is_some() {
                let mut bytes = std::fs::read(&path).map_err(io(path.display().to_string()))?;
                if let Some((ticks, fragments)) = self.shift {
                    fmp4::shift(&mut bytes, ticks, fragments)?;
                }
                if let Some(keys) = &self.keys {
                    bytes = keys.encrypt(self.published.len(), &bytes);
                }
                std::fs::write(&path, bytes).map_err(io(path.display().to_string()))?;
            }
            let size = std::fs::metadata(&path)
                .map_err(io(path.display().to_string()))?
                .len();
            media.put_file(id, &format!("{}/{uri}", self.name), &path)?;
            self.published.push((duration, uri, size));
        }
        self.write_playlist(media, id, false)?;
        Ok(true)
    }

    /// The muxer's last audio segment is often a few frames past the video's end: fold it into
    /// the one before it (fMP4 fragments concatenate) when the result still fits the target.
    fn fold_tiny_tail(&mut self, fresh: &mut Vec<(f32, String)>) -> Result<(), PublishError> {
        let n = fresh.len();
        if n < 2 || fresh[n - 1].0 >= TINY_TAIL_S {
            return Ok(());
        }
        let (tail_d, tail_uri) = fresh[n - 1].clone();
        let (prev_d, prev_uri) = fresh[n - 2].clone();
        if f64::from(prev_d + tail_d).round() as u64 > self.target {
            return Ok(());
        }
        let tail_path = self.staged.join(&tail_uri);
        let bytes = std::fs::read(&tail_path).map_err(io(tail_path.display().to_string()))?;
        let prev_path = self.staged.join(&prev_uri);
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&prev_path)
            .and_then(|mut f| f.write_all(&bytes))
            .map_err(io(prev_path.display().to_string()))?;
        fresh.pop();
        self.folded.push(tail_uri);
        if let Some(last) = fresh.last_mut() {
            last.0 += tail_d;
        }
        Ok(())
    }

    /// Publishes the playlist: growing (EVENT) while the encode runs, VOD once `finished`.
    pub fn write_playlist(
        &mut self,
        media: &Media,
        id: &MovieId,
        finished: bool,
    ) -> Result<(), PublishError> {
        let mut playlist = Variant {
            version: 7,
            target_duration: self.target,
            media_sequence: 1,
            independent_segments: true,
            map: Some("init.mp4".into()),
            finished,
            segments: self
                .published
                .iter()
                .map(|(d, uri, _)| (*d, uri.clone()))
                .collect(),
        };
        if finished {
            playlist.target_duration = playlist.fitting_target_duration().max(self.target);
        }
        media.replace_object(
            id,
            &format!("{}/index.m3u8", self.name),
            playlist.to_stored_text().as_bytes(),
        )?;
        self.finished = finished;
        Ok(())
    }

    /// (duration, size) of every published segment, for measuring bitrates.
    pub fn sizes(&self) -> Vec<(f32, u64)> {
        self.published.iter().map(|(d, _, s)| (*d, *s)).collect()
    }
}

fn read_staged(dir: &Path) -> Option<Variant> {
    let bytes = std::fs::read(dir.join("index.m3u8")).ok()?;
    Variant::parse(&bytes).ok()
}

/// ffmpeg names each variant's init segment `init_{n}.mp4`.
fn staged_init(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("init") && n.ends_with(".mp4"))
        })
}
