//! `streamd backup` and `streamd restore`: the whole database (one consistent snapshot, see
//! `store::snapshot`) and the data dir's secrets in one file, written whole or not at all
//! (`FILE.tmp`, fsync, rename; mode 0600), and read back into an empty data dir. Media objects
//! are not in it: they are immutable once published and copied with rsync, or already in S3.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::secrets::secrets_dir;
use crate::store::{Snapshot, SnapshotError, Store, StoreError, Timestamp};

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
    NotABackup(PathBuf),
    #[error(
        "{path} is a backup of format {found}, newer than this streamd reads ({VERSION}): restore \
         it with a newer streamd"
    )]
    TooNew { path: PathBuf, found: u32 },
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

/// Writes `bytes` to `path` whole or not at all: `path.tmp` (mode 0600), fsync, rename, fsync
/// of the folder. A process killed meanwhile leaves at most the `.tmp`, never a torn backup.
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io("creating", &tmp))?;
    file.write_all(bytes).map_err(io("writing", &tmp))?;
    file.sync_all().map_err(io("writing", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io("renaming into", path))?;
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Ok(dir) = fs::File::open(folder.unwrap_or(Path::new("."))) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Takes a backup of the database `store` holds and the secrets of `data_dir` into `path`.
pub fn write(store: &Store, data_dir: &Path, path: &Path) -> Result<Summary, BackupError> {
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
    let bytes = serde_json::to_vec(&file).unwrap_or_default();
    write_whole(path, &bytes)?;
    Ok(Summary {
        path: path.display().to_string(),
        bytes: bytes.len() as u64,
        movies,
        users,
        taken_at,
    })
}

fn read(path: &Path) -> Result<File, BackupError> {
    let bytes = fs::read(path).map_err(io("reading", path))?;
    /// Only the header, to say "too new" even when the rest has a shape this streamd lacks.
    #[derive(Deserialize)]
    struct Header {
        format: String,
        version: u32,
    }
    let not_a_backup = || BackupError::NotABackup(path.to_path_buf());
    let header: Header = serde_json::from_slice(&bytes).map_err(|_| not_a_backup())?;
    if header.format != FORMAT {
        return Err(not_a_backup());
    }
    if header.version > VERSION {
        return Err(BackupError::TooNew {
            path: path.to_path_buf(),
            found: header.version,
        });
    }
    serde_json::from_slice(&bytes).map_err(|_| not_a_backup())
}

/// Fills `data_dir` from the backup at `path`. The file is read and checked whole before
/// anything is touched. `force` keeps an existing database and secrets aside
/// (`*.before-restore-<time>`) instead of refusing.
pub fn restore(path: &Path, data_dir: &Path, force: bool) -> Result<Summary, BackupError> {
    let file = read(path)?;
    if file.database.schema_version > crate::store::SCHEMA_VERSION {
        return Err(SnapshotError::TooNew {
            found: file.database.schema_version,
            supported: crate::store::SCHEMA_VERSION,
        }
        .into());
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
        // Names come from the file: never a path out of the secrets folder.
        if name.contains(['/', '\0']) || name.starts_with('.') {
            return Err(BackupError::NotABackup(path.to_path_buf()));
        }
        write_whole(&secrets.join(name), text.as_bytes())?;
    }
    let store = Store::open(data_dir)?;
    store.restore(&file.database)?;
    let bytes = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(Summary {
        path: path.display().to_string(),
        bytes,
        movies: file.database.movies.len(),
        users: file.database.users.len(),
        taken_at: file.taken_at,
    })
}
