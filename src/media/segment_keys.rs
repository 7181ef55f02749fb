//! Segment encryption (contract section 10): the media segments of an encrypted movie are
//! AES-128-CBC encrypted whole (HLS `METHOD=AES-128`, PKCS#7 padding) when they are published.
//! Init segments and WebVTT stay clear. One key covers `segments_per_key` consecutive segments
//! (`protection.key_period` of content) of every rendition, so a quality switch needs no new
//! key; each key has its own IV, written into its `EXT-X-KEY`. Keys live in the database only
//! and are handed to viewers one at a time by `GET /stream/{id}/keys/{n}`, checked at every
//! fetch; the segments themselves stay shared and cacheable.

use std::fmt;

use aes::Aes128;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use rand::RngCore;
use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentKey {
    #[serde(with = "hex16")]
    pub key: [u8; 16],
    #[serde(with = "hex16")]
    pub iv: [u8; 16],
}

/// A movie's keys: key `n` encrypts segments `n * segments_per_key ..` of each rendition.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovieKeys {
    pub segments_per_key: u32,
    pub keys: Vec<SegmentKey>,
    /// The object name, in each video and audio rendition, of the playlist that lists the
    /// encrypted segments: `index.m3u8` for a movie encrypted as it was published;
    /// `streamd encrypt` writes [`ENCRYPTED_PLAYLIST`] beside the clear one, so that which list
    /// players get switches with the keys, in one database transaction.
    #[serde(default = "published_playlist")]
    pub playlist: String,
}

/// The playlist name ffmpeg and the publisher give every rendition.
pub const PUBLISHED_PLAYLIST: &str = "index.m3u8";
/// The playlist `streamd encrypt` writes for the segments it encrypted.
pub const ENCRYPTED_PLAYLIST: &str = "index.enc.m3u8";
/// What `streamd encrypt` puts before a clear segment's name to name its encrypted copy:
/// published objects are immutable, and a CDN may hold the clear bytes under the old name.
pub const ENCRYPTED_PREFIX: &str = "enc_";

fn published_playlist() -> String {
    PUBLISHED_PLAYLIST.into()
}

// Never the bytes, in a log or a panic message.
impl fmt::Debug for MovieKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MovieKeys({} keys, {} segments each)",
            self.keys.len(),
            self.segments_per_key
        )
    }
}

impl fmt::Debug for SegmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SegmentKey(redacted)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("segment {0} does not decrypt with its key (damaged, or not encrypted)")]
pub struct DecryptError(pub usize);

impl MovieKeys {
    /// Fresh random keys for a movie of `duration_s` cut into `segment_seconds` segments, one
    /// key per `key_period_s`. A few more than the probed length needs: a source's real length
    /// can exceed what its header says.
    pub fn generate(duration_s: f64, segment_seconds: u32, key_period_s: u64) -> MovieKeys {
        let seconds = u64::from(segment_seconds.max(1));
        let segments = (duration_s.max(0.0) / seconds as f64).ceil() as u64 + 2;
        MovieKeys::for_segments(segments, (key_period_s / seconds).max(1))
    }

    /// Fresh random keys for `segments` segments (and one key more), `segments_per_key` each.
    pub fn for_segments(segments: u64, segments_per_key: u64) -> MovieKeys {
        let segments_per_key = segments_per_key.max(1);
        let count = segments.div_ceil(segments_per_key) + 1;
        let keys = (0..count)
            .map(|_| {
                let (mut key, mut iv) = ([0u8; 16], [0u8; 16]);
                rand::rng().fill_bytes(&mut key);
                rand::rng().fill_bytes(&mut iv);
                SegmentKey { key, iv }
            })
            .collect();
        MovieKeys {
            segments_per_key: u32::try_from(segments_per_key).unwrap_or(u32::MAX),
            keys,
            playlist: published_playlist(),
        }
    }

    /// The key number for the segment at `index` (0-based, in playlist order). A segment past
    /// what the keys were made for shares the last key.
    pub fn key_index(&self, index: usize) -> usize {
        let n = index / self.segments_per_key.max(1) as usize;
        n.min(self.keys.len().saturating_sub(1))
    }

    fn key_for(&self, index: usize) -> &SegmentKey {
        &self.keys[self.key_index(index)]
    }

    pub fn encrypt(&self, index: usize, plain: &[u8]) -> Vec<u8> {
        let k = self.key_for(index);
        cbc::Encryptor::<Aes128>::new(&k.key.into(), &k.iv.into())
            .encrypt_padded_vec::<Pkcs7>(plain)
    }

    pub fn decrypt(&self, index: usize, data: &[u8]) -> Result<Vec<u8>, DecryptError> {
        let k = self.key_for(index);
        cbc::Decryptor::<Aes128>::new(&k.key.into(), &k.iv.into())
            .decrypt_padded_vec::<Pkcs7>(data)
            .map_err(|_| DecryptError(index))
    }
}

mod hex16 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 16], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 16];
        hex::decode_to_slice(&text, &mut out).map_err(D::Error::custom)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cover_periods_of_segments_and_round_trip() {
        let keys = MovieKeys::generate(125.0, 4, 20);
        assert_eq!(keys.segments_per_key, 5);
        // 32 segments + 2 spare, 5 a key: 7 keys, and one more.
        assert_eq!(keys.keys.len(), 8);
        assert_eq!(keys.key_index(0), 0);
        assert_eq!(keys.key_index(4), 0);
        assert_eq!(keys.key_index(5), 1);
        assert_eq!(keys.key_index(10_000), 7, "past the end: the last key");
        let plain = b"\0\0\0\x18stypmsdh\0\0\0\0msdhmsixmore bytes of a segment";
        let sealed = keys.encrypt(6, plain);
        assert_eq!(sealed.len() % 16, 0);
        assert_ne!(&sealed[..plain.len().min(sealed.len())], &plain[..]);
        assert_eq!(keys.decrypt(6, &sealed).expect("decrypts"), plain);
        assert!(
            keys.decrypt(0, &sealed).is_err()
                || keys.decrypt(0, &sealed).ok().as_deref() != Some(&plain[..])
        );
        let json = serde_json::to_string(&keys).expect("json");
        assert_eq!(
            serde_json::from_str::<MovieKeys>(&json).expect("back"),
            keys
        );
        assert!(!format!("{keys:?}").contains(&hex::encode(keys.keys[0].key)));
    }

    #[test]
    fn a_key_period_shorter_than_a_segment_is_one_segment() {
        let keys = MovieKeys::generate(10.0, 4, 1);
        assert_eq!(keys.segments_per_key, 1);
        assert_eq!(keys.key_index(2), 2);
    }
}
