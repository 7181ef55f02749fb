//! `streamd backup` and `streamd restore`: the whole database (one consistent snapshot, see
//! `store::snapshot`) and the data dir's secrets in one file, written whole or not at all
//! (`FILE.tmp`, fsync, rename; mode 0600), and read back into an empty data dir. Media objects
//! are not in it: they are immutable once published and copied with rsync, or already in S3.
//! `shelf` keeps encrypted backups in the object store (`sealed`), on `schedule`; `check` finds
//! what the store lost.

pub mod check;
pub mod schedule;
pub mod sealed;
pub mod shelf;

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::media::MediaError;
use crate::media::bucket::write_private;
use crate::secrets::secrets_dir;
use crate::store::{Snapshot, SnapshotError, Store, StoreError, Timestamp};
pub use sealed::BackupKey;
use sealed::{KeyError, OpenError};

/// What the first bytes of every backup say, so a wrong file is told apart from a damaged one.
const FORMAT: &str = "streamd-backup";
/// The layout of the file itself (the database inside has its own schema version).
pub const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not a streamd backup (or it is cut short or damaged): nothing was changed")]
    NotABackup(String),
    #[error(
        "{path} is a backup of format {found}, newer than this streamd reads ({VERSION}): restore \
         it with a newer streamd"
    )]
    TooNew { path: String, found: u32 },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{0}: {1}; nothing was changed")]
    Open(String, OpenError),
    #[error("the object store: {0}")]
    Media(#[from] MediaError),
    #[error("no backups under {0}: scheduled backups ([backup] every) write them there")]
    NoBackups(String),
    #[error(
        "{0} already holds a streamd database or secrets: restore into an empty data dir, or add \
         --force to keep the old ones aside and restore over them"
    )]
    NotEmpty(PathBuf),
    #[error("a streamd server is running on {0}: stop it before restoring")]
    ServerRunning(PathBuf),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The file: the database, the secrets, and when and by what it was taken.
#[derive(Debug, Serialize, Deserialize)]
struct File {
    format: String,
    version: u32,
    taken_at: String,
    streamd: String,
    database: Snapshot,
    /// The data dir's `secrets/` files by name: signing keys, the store's credentials, the
    /// CLI's admin secret.
    secrets: Vec<(String, String)>,
}

/// What a backup holds, for people and `--json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub path: String,
    pub bytes: u64,
    pub movies: usize,
    pub users: usize,
    pub taken_at: String,
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + use<> {
    let path = path.to_path_buf();
    move |source| BackupError::Io { what, path, source }
}

fn read_secrets(data_dir: &Path) -> Result<Vec<(String, String)>, BackupError> {
    let dir = secrets_dir(data_dir);
    let mut out = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io("reading", &dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io("reading", &dir))?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(io("reading", &path))?;
        out.push((entry.file_name().to_string_lossy().into_owned(), text));
    }
    out.sort();
    Ok(out)
}

/// Runs `work` on a thread of its own at a lower CPU priority (nice 10): a backup (a snapshot
/// and megabytes of JSON) then yields the CPU to the threads answering viewers instead of
/// taking one of a small machine's two cores from them. Linux applies `setpriority` to the
/// one thread whose id it is given.
pub fn in_background<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let me = rustix::thread::gettid();
            if let Err(e) = rustix::process::setpriority_process(Some(me), 10) {
                tracing::debug!(error = %e, "backup runs at normal priority");
            }
            work()
        });
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The backup as bytes (sealed when `key` is given) and what it holds.
pub fn encode(
    store: &Store,
    data_dir: &Path,
    key: Option<&BackupKey>,
) -> Result<(Vec<u8>, Summary), BackupError> {
    let database = store.snapshot()?;
    let taken_at = Timestamp::now().to_rfc3339();
    let (movies, users) = (database.movies.len(), database.users.len());
    let file = File {
        format: FORMAT.into(),
        version: VERSION,
        taken_at: taken_at.clone(),
        streamd: env!("CARGO_PKG_VERSION").into(),
        database,
        secrets: read_secrets(data_dir)?,
    };
    let plain = serde_json::to_vec(&file).unwrap_or_default();
    let bytes = match key {
        Some(key) => sealed::seal(key, &plain),
        None => plain,
    };
    let summary = Summary {
        path: String::new(),
        bytes: bytes.len() as u64,
        movies,
        users,
        taken_at,
    };
    Ok((bytes, summary))
}

/// Takes a backup of the database `store` holds and the secrets of `data_dir` into `path`,
/// sealed with `key` when given.
pub fn write(
    store: &Store,
    data_dir: &Path,
    path: &Path,
    key: Option<&BackupKey>,
) -> Result<Summary, BackupError> {
    let (bytes, summary) = encode(store, data_dir, key)?;
    write_private(path, &bytes).map_err(io("writing", path))?;
    Ok(Summary {
        path: path.display().to_string(),
        ..summary
    })
}

/// Reads a backup's bytes (`label` names it in messages), opening a sealed one with `key`.
fn decode(bytes: &[u8], label: &str, key: Option<&BackupKey>) -> Result<File, BackupError> {
    let opened;
    let bytes = if sealed::is_sealed(bytes) {
        opened = sealed::open(key, bytes).map_err(|e| BackupError::Open(label.into(), e))?;
        &opened[..]
    } else {
        bytes
    };
    /// Only the header, to say "too new" even when the rest has a shape this streamd lacks.
    #[derive(Deserialize)]
    struct Header {
        format: String,
        version: u32,
    }
    let not_a_backup = || BackupError::NotABackup(label.into());
    let header: Header = serde_json::from_slice(bytes).map_err(|_| not_a_backup())?;
    if header.format != FORMAT {
        return Err(not_a_backup());
    }
    if header.version > VERSION {
        return Err(BackupError::TooNew {
            path: label.into(),
            found: header.version,
        });
    }
    serde_json::from_slice(bytes).map_err(|_| not_a_backup())
}

/// Fills `data_dir` from the backup file at `path`.
pub fn restore(
    path: &Path,
    data_dir: &Path,
    force: bool,
    key: Option<&BackupKey>,
) -> Result<Summary, BackupError> {
    let bytes = fs::read(path).map_err(io("reading", path))?;
    restore_bytes(&bytes, &path.display().to_string(), data_dir, force, key)
}

/// Fills `data_dir` from a backup's bytes (`label`: where they came from). The backup is read,
/// opened and checked whole before anything is touched. `force` keeps an existing database and
/// secrets aside (`*.before-restore-<time>`) instead of refusing.
pub fn restore_bytes(
    bytes: &[u8],
    label: &str,
    data_dir: &Path,
    force: bool,
    key: Option<&BackupKey>,
) -> Result<Summary, BackupError> {
    let file = decode(bytes, label, key)?;
    if file.database.schema_version > crate::store::SCHEMA_VERSION {
        return Err(SnapshotError::TooNew {
            found: file.database.schema_version,
            supported: crate::store::SCHEMA_VERSION,
        }
        .into());
    }
    // Names come from the file: never a path out of the secrets folder.
    let bad_name = |name: &String| name.contains(['/', '\0']) || name.starts_with('.');
    if file.secrets.iter().any(|(name, _)| bad_name(name)) {
        return Err(BackupError::NotABackup(label.into()));
    }
    if crate::runtime::RunningServer::read(data_dir).is_some() {
        return Err(BackupError::ServerRunning(data_dir.to_path_buf()));
    }
    let db = Store::path(data_dir);
    let secrets = secrets_dir(data_dir);
    let occupied = [&db, &secrets].into_iter().filter(|p| p.exists());
    let occupied: Vec<&PathBuf> = occupied.collect();
    if !occupied.is_empty() {
        if !force {
            return Err(BackupError::NotEmpty(data_dir.to_path_buf()));
        }
        let stamp = Timestamp::now().0;
        for old in occupied {
            let mut aside = old.as_os_str().to_owned();
            aside.push(format!(".before-restore-{stamp}"));
            fs::rename(old, &aside).map_err(io("keeping aside", old))?;
        }
    }
    fs::create_dir_all(&secrets).map_err(io("creating", &secrets))?;
    for (name, text) in &file.secrets {
        let secret = secrets.join(name);
        write_private(&secret, text.as_bytes()).map_err(io("writing", &secret))?;
    }
    let store = Store::open(data_dir)?;
    store.restore(&file.database)?;
    Ok(Summary {
        path: label.into(),
        bytes: bytes.len() as u64,
        movies: file.database.movies.len(),
        users: file.database.users.len(),
        taken_at: file.taken_at,
    })
}
