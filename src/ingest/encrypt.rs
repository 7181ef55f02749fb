//! `streamd encrypt`: encrypting a movie that was published clear, without a re-encode
//! (contract section 10). Published objects are immutable and a CDN may hold the clear bytes
//! under their names, so each segment is encrypted under a new name and each rendition gets a
//! new playlist listing those names; then one database transaction stores the keys, which name
//! that playlist, and players switch. Only then are the clear objects removed. A kill at any
//! point leaves the movie playable: clear before the transaction, encrypted after it; running
//! the command again finishes the job.

use serde::{Deserialize, Serialize};

use super::{IngestError, Ingester};
use crate::media::segment_keys::{
    ENCRYPTED_PLAYLIST, ENCRYPTED_PREFIX, MovieKeys, PUBLISHED_PLAYLIST,
};
use crate::playlist::Variant;
use crate::store::{Movie, MovieId, MovieStatus};

/// What `encrypt` did to one movie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encrypted {
    pub id: String,
    pub title: String,
    /// Segments encrypted now (0 when the movie already was).
    pub segments: usize,
    pub keys: usize,
    /// Clear objects removed now (an earlier, interrupted run may have left some).
    pub removed: usize,
    pub already: bool,
}

impl Ingester {
    /// Encrypts one ready movie, or finishes an interrupted run on it. Blocking.
    pub fn encrypt(&self, id: &MovieId) -> Result<Encrypted, IngestError> {
        let movie = self.ready_movie(id)?;
        let (keys, segments, already) = match self.store.movie_keys(id)? {
            Some(keys) => (keys, 0, true),
            None => {
                let (keys, segments) = self.encrypt_renditions(&movie)?;
                // The switch: from this commit on, players get the encrypted lists and keys.
                self.store.set_movie_keys(id, &keys)?;
                tracing::info!(movie_id = %id, segments, keys = keys.keys.len(), "movie encrypted");
                (keys, segments, false)
            }
        };
        let removed = self.remove_clear_objects(&movie, &keys)?;
        if removed > 0 || !already {
            let inventory = self.media.take_inventory(id)?;
            self.store.set_inventory(id, inventory)?;
        }
        Ok(Encrypted {
            id: id.to_string(),
            title: movie.title.clone(),
            segments,
            keys: keys.keys.len(),
            removed,
            already,
        })
    }

    /// `encrypt --all`: every ready movie not encrypted yet, and any left half-cleaned.
    pub fn encrypt_all(&self) -> Result<Vec<Encrypted>, IngestError> {
        let mut done = Vec::new();
        for movie in self.store.list_movies()? {
            if movie.status != MovieStatus::Ready {
                continue;
            }
            let outcome = self.encrypt(&movie.id)?;
            if !outcome.already || outcome.removed > 0 {
                done.push(outcome);
            }
        }
        Ok(done)
    }

    /// Writes every video and audio segment encrypted under its new name, and each rendition's
    /// list of them, with keys made for the longest rendition. Nothing a player reads changes.
    fn encrypt_renditions(&self, movie: &Movie) -> Result<(MovieKeys, usize), IngestError> {
        let mut lists = Vec::new();
        for name in media_renditions(movie) {
            let bytes = self
                .media
                .read_blocking(&movie.id, &format!("{name}/{PUBLISHED_PLAYLIST}"))?;
            let list = Variant::parse(&bytes)
                .map_err(|_| IngestError::BadPlaylist(format!("{}/{name}", movie.id)))?;
            lists.push((name, list));
        }
        let longest = lists.iter().map(|(_, l)| l.segments.len()).max();
        let seconds = lists.iter().map(|(_, l)| l.target_duration).max();
        let period = self.config.protection.key_period.as_secs();
        let keys = MovieKeys {
            playlist: ENCRYPTED_PLAYLIST.into(),
            ..MovieKeys::for_segments(
                longest.unwrap_or(0) as u64,
                period / seconds.unwrap_or(1).max(1),
            )
        };
        let mut count = 0;
        for (name, mut list) in lists {
            for (i, (_, segment)) in list.segments.iter_mut().enumerate() {
                let clear = self
                    .media
                    .read_blocking(&movie.id, &format!("{name}/{segment}"))?;
                let renamed = format!("{ENCRYPTED_PREFIX}{segment}");
                self.media.replace_object(
                    &movie.id,
                    &format!("{name}/{renamed}"),
                    &keys.encrypt(i, &clear),
                )?;
                *segment = renamed;
                count += 1;
            }
            self.media.replace_object(
                &movie.id,
                &format!("{name}/{ENCRYPTED_PLAYLIST}"),
                list.to_stored_text().as_bytes(),
            )?;
        }
        Ok((keys, count))
    }

    /// Removes, in each video and audio rendition, every object the encrypted list does not
    /// name (the clear segments and their playlist), once the keys are committed.
    fn remove_clear_objects(&self, movie: &Movie, keys: &MovieKeys) -> Result<usize, IngestError> {
        if keys.playlist == PUBLISHED_PLAYLIST {
            return Ok(0); // encrypted as it was published: nothing clear was ever there
        }
        let mut removed = 0;
        for name in media_renditions(movie) {
            let prefix = format!("{}/{name}", crate::media::movie_prefix(&movie.id));
            for (object, _) in self.media.objects().list(&prefix)? {
                let file = object.rsplit('/').next().unwrap_or(&object);
                let keep = file == "init.mp4"
                    || file == keys.playlist
                    || file.starts_with(ENCRYPTED_PREFIX);
                if !keep {
                    self.media
                        .delete_object(&movie.id, &format!("{name}/{file}"))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// The renditions whose segments are encrypted: video and audio, never subtitles.
fn media_renditions(movie: &Movie) -> Vec<String> {
    (movie.renditions.iter().map(|r| r.name.clone()))
        .chain(movie.audio.iter().map(|a| a.name.clone()))
        .collect()
}
