//! Backups kept in the object store under `backups/`: always sealed (the bucket is the one a CDN
//! reads), named by the time they were taken so that the newest sorts last, pruned to the newest
//! `keep`.

use serde::{Deserialize, Serialize};

use super::{BackupError, BackupKey, Summary};
use crate::media::Bucket;
use crate::store::Store;

pub const PREFIX: &str = "backups";
const NAME_START: &str = "streamd-";
const NAME_END: &str = ".backup";

/// One backup in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    /// The object key, `backups/streamd-<time>.backup`.
    pub key: String,
    pub bytes: u64,
    pub taken_at: String,
}

/// `streamd-20261207T061500.123Z.backup`: RFC 3339 (UTC, milliseconds) without `-` and `:`, so
/// names sort by time and need no escaping anywhere.
fn name_at(time: std::time::SystemTime) -> String {
    let stamp = humantime::format_rfc3339_millis(time).to_string();
    format!("{NAME_START}{}{NAME_END}", stamp.replace(['-', ':'], ""))
}

/// The RFC 3339 time a backup's name holds, `None` for a name that is not one of ours.
fn taken_at(name: &str) -> Option<String> {
    let stamp = name.strip_prefix(NAME_START)?.strip_suffix(NAME_END)?;
    let b = stamp.as_bytes();
    if stamp.len() != 20 || b[8] != b'T' || !stamp.ends_with('Z') {
        return None;
    }
    let text = format!(
        "{}-{}-{}T{}:{}:{}",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..]
    );
    humantime::parse_rfc3339(&text).ok().map(|_| text)
}

/// The backups in the store, oldest first. Other objects under `backups/` are left out.
pub fn list(bucket: &Bucket) -> Result<Vec<Stored>, BackupError> {
    let mut out: Vec<Stored> = (bucket.list(PREFIX)?.into_iter())
        .filter(|(name, _)| !name.contains('/'))
        .filter_map(|(name, bytes)| {
            Some(Stored {
                taken_at: taken_at(&name)?,
                key: format!("{PREFIX}/{name}"),
                bytes,
            })
        })
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Takes a sealed backup into the store.
pub fn put(
    bucket: &Bucket,
    store: &Store,
    key: &BackupKey,
) -> Result<(Stored, Summary), BackupError> {
    let (bytes, summary) = super::encode(store, &store.data_dir(), Some(key))?;
    let object = format!("{PREFIX}/{}", name_at(std::time::SystemTime::now()));
    bucket.put(&object, &bytes)?;
    let stored = Stored {
        taken_at: taken_at(object.trim_start_matches("backups/")).unwrap_or_default(),
        key: object.clone(),
        bytes: bytes.len() as u64,
    };
    Ok((
        stored,
        Summary {
            path: object,
            ..summary
        },
    ))
}

/// Deletes all but the newest `keep` backups; answers what went.
pub fn prune(bucket: &Bucket, keep: usize) -> Result<Vec<String>, BackupError> {
    let all = list(bucket)?;
    let old = all.len().saturating_sub(keep);
    let mut gone = Vec::new();
    for stored in all.into_iter().take(old) {
        bucket.delete(&stored.key)?;
        gone.push(stored.key);
    }
    Ok(gone)
}

/// The newest backup's key and bytes.
pub fn latest(bucket: &Bucket) -> Result<(String, Vec<u8>), BackupError> {
    let newest = list(bucket)?
        .pop()
        .ok_or_else(|| BackupError::NoBackups(format!("{PREFIX}/ in the object store")))?;
    let bytes = bucket.read(&newest.key)?;
    Ok((newest.key, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn names_sort_by_time_and_read_back_as_it() {
        let t = UNIX_EPOCH + Duration::from_millis(1_796_620_500_123);
        let name = name_at(t);
        assert_eq!(name, "streamd-20261207T051500.123Z.backup");
        assert_eq!(taken_at(&name).as_deref(), Some("2026-12-07T05:15:00.123Z"));
        assert!(name_at(t + Duration::from_millis(1)) > name);
        assert!(name_at(t + Duration::from_secs(86400 * 400)) > name);
        for other in ["notes.txt", "streamd-latest.backup", "streamd-2026.backup"] {
            assert_eq!(taken_at(other), None, "{other}");
        }
    }

    #[test]
    fn pruning_keeps_the_newest_and_leaves_other_objects() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bucket = Bucket::Local(dir.path().to_path_buf());
        let t = UNIX_EPOCH + Duration::from_secs(1_796_620_500);
        for minute in 0..4 {
            let name = name_at(t + Duration::from_secs(60 * minute));
            bucket
                .put(&format!("{PREFIX}/{name}"), &[0; 3])
                .expect("put");
        }
        bucket.put("backups/README.txt", b"mine").expect("put");
        let gone = prune(&bucket, 2).expect("prune");
        assert_eq!(gone.len(), 2);
        let left = list(&bucket).expect("list");
        let times: Vec<_> = left.iter().map(|s| s.taken_at.as_str()).collect();
        assert_eq!(
            times,
            ["2026-12-07T05:17:00.000Z", "2026-12-07T05:18:00.000Z"]
        );
        assert_eq!(bucket.read("backups/README.txt").expect("kept"), b"mine");
        let (key, _) = latest(&bucket).expect("latest");
        assert_eq!(key, left[1].key);
    }
}
