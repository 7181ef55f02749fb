//! The bucket as plain keys and bytes, for what is not a ladder (backups under `backups/`) and
//! for listing what a movie's prefix holds. Built from the config alone, so `restore latest`
//! reaches S3 on a machine that has nothing else yet.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{MediaError, on_own_runtime, s3::S3Media};
use crate::config::{Config, StorageBackend};

#[derive(Debug, Clone)]
pub enum Bucket {
    /// `<data_dir>/objects/<bucket>`.
    Local(PathBuf),
    S3(S3Media),
}

fn io_err(e: io::Error) -> MediaError {
    MediaError::Io(e.to_string())
}

impl Bucket {
    /// The bucket the config names. The S3 backend needs its keys in the config (or
    /// `STREAMD_STORAGE_ACCESS_KEY` / `_SECRET_KEY`): `storage_keys` are the data dir's, when
    /// there is one.
    pub fn from_config(
        config: &Config,
        storage_keys: Option<(&str, &str)>,
    ) -> Result<Bucket, MediaError> {
        match config.storage.backend {
            StorageBackend::Local => Ok(Bucket::Local(
                super::LocalMedia::new(&config.server.data_dir, &config.storage.bucket)
                    .bucket_root()
                    .to_path_buf(),
            )),
            StorageBackend::S3 => {
                let s = &config.storage;
                let keys = match (s.access_key.as_deref(), s.secret_key.as_deref()) {
                    (Some(a), Some(k)) => (a, k),
                    _ => storage_keys.ok_or_else(|| {
                        MediaError::Io(
                            "storage.access_key and storage.secret_key must be set to reach the \
                             S3 service"
                                .into(),
                        )
                    })?,
                };
                Ok(Bucket::S3(S3Media::new(s, keys.0, keys.1)?))
            }
        }
    }

    /// Writes `key` whole or not at all. On local disk the file has mode 0600. Blocking.
    pub fn put(&self, key: &str, bytes: &[u8]) -> Result<(), MediaError> {
        match self {
            Bucket::Local(root) => write_private(&root.join(key), bytes).map_err(io_err),
            Bucket::S3(s3) => on_own_runtime(s3.put_bytes(key, bytes.to_vec())),
        }
    }

    /// Every object under `prefix/` with its size, keys relative to the prefix, sorted.
    /// Blocking.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, MediaError> {
        let mut out = match self {
            Bucket::Local(root) => list_local(&root.join(prefix)).map_err(io_err)?,
            Bucket::S3(s3) => on_own_runtime(s3.list(prefix))?,
        };
        out.sort();
        Ok(out)
    }

    /// Blocking.
    pub fn read(&self, key: &str) -> Result<Vec<u8>, MediaError> {
        match self {
            Bucket::Local(root) => fs::read(root.join(key)).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => MediaError::NotFound(key.to_string()),
                _ => io_err(e),
            }),
            Bucket::S3(s3) => on_own_runtime(s3.read(key)),
        }
    }

    /// Removes `key`; a key already gone is fine. Blocking.
    pub fn delete(&self, key: &str) -> Result<(), MediaError> {
        match self {
            Bucket::Local(root) => match fs::remove_file(root.join(key)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(e)),
                _ => Ok(()),
            },
            Bucket::S3(s3) => on_own_runtime(s3.delete(key)),
        }
    }
}

/// `path.tmp` (0600), fsync, rename, fsync of the folder: a crash leaves the old file or the
/// new one, never a part under the final name.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
    let folder = folder.unwrap_or(Path::new("."));
    fs::create_dir_all(folder)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    fs::File::open(folder)?.sync_all()
}

/// Files below `dir`, but not the local store's own half-written ones (`.part`, `.tmp`): those
/// are not objects yet.
fn list_local(dir: &Path) -> io::Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if e.io_error().map(io::Error::kind) == Some(io::ErrorKind::NotFound) => {
                continue;
            }
            Err(e) => return Err(io::Error::other(e)),
        };
        let name = entry.file_name().to_string_lossy();
        if !entry.file_type().is_file() || name.ends_with(".part") || name.ends_with(".tmp") {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(dir) else {
            continue;
        };
        out.push((rel.to_string_lossy().into_owned(), entry.metadata()?.len()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn local_objects_are_private_listed_by_prefix_and_deleted_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bucket = Bucket::Local(dir.path().to_path_buf());
        assert_eq!(bucket.list("backups").expect("empty"), vec![]);
        bucket.put("backups/b.backup", b"bb").expect("put");
        bucket.put("backups/a.backup", b"a").expect("put");
        fs::write(dir.path().join("backups/c.backup.tmp"), "half").expect("write");
        bucket.put("movies/m/x", b"xyz").expect("put");
        let mode = fs::metadata(dir.path().join("backups/a.backup"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            bucket.list("backups").expect("list"),
            vec![("a.backup".into(), 1), ("b.backup".into(), 2)]
        );
        assert_eq!(bucket.read("backups/b.backup").expect("read"), b"bb");
        bucket.delete("backups/b.backup").expect("delete");
        bucket.delete("backups/b.backup").expect("twice is fine");
        assert!(matches!(
            bucket.read("backups/b.backup"),
            Err(MediaError::NotFound(_))
        ));
    }
}
