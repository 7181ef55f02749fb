//! The embedded database (redb): its tables, schema version and migrations. This is the only
//! code that opens a transaction; every call blocks, so async callers use the blocking pool.

mod accounts;
mod movies;
pub mod playbacks;
mod records;
pub mod series;
mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::ids::{MAX_USERNAME_LEN, MovieId, Username};
pub use crate::media::segment_keys::MovieKeys;
pub use records::*;
pub use snapshot::{Snapshot, SnapshotError};

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
const PLANS: TableDefinition<&str, &[u8]> = TableDefinition::new("plans");
/// Keyed by the SHA-256 of the session token: a stolen database file yields no live cookie.
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// (user, movie) -> grant.
const GRANTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("grants");
const MOVIES: TableDefinition<&str, &[u8]> = TableDefinition::new("movies");
/// Ingest jobs, keyed by movie id (one live job per movie); the ingest module owns the record.
const JOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("jobs");
/// (user, movie) -> seconds into the movie where the viewer stopped, for "resume".
const POSITIONS: TableDefinition<(&str, &str), f64> = TableDefinition::new("positions");
/// user -> the languages the viewer last chose in the player.
const PREFERENCES: TableDefinition<&str, &[u8]> = TableDefinition::new("preferences");
/// movie -> its segment keys (`media::segment_keys`): in the database only, never beside the
/// segments, never in a movie's JSON.
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");

pub const SCHEMA_VERSION: u64 = 2;
const DB_FILE: &str = "streamd.redb";

/// Migrations, index `n` upgrades schema `n + 1` to `n + 2`. Records are JSON with serde
/// defaults, so only changes of shape or keying need an entry here.
type Migration = fn(&WriteTransaction) -> Result<(), StoreError>;
const MIGRATIONS: &[Migration] = &[name_unknown_languages];

/// v1 -> v2: tracks without a language tag were named "Audio 2" or "Subtitles 1" (a name that
/// made people guess); they are "Unknown language" now, as new ingests name them.
fn name_unknown_languages(txn: &WriteTransaction) -> Result<(), StoreError> {
    /// "Audio 2 5.1" -> "Unknown language 5.1", for a track whose language is `und`.
    fn renamed(label: &str, lang: &str, word: &str) -> Option<String> {
        let rest = label.strip_prefix(word)?.strip_prefix(' ')?;
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let tail = &rest[digits..];
        // What `ingest::tracks` names a track of these codes now.
        let name = match lang {
            "und" | "mis" => "Unknown language",
            "mul" => "Several languages",
            "zxx" => "No dialogue",
            _ => return None,
        };
        (digits > 0 && (tail.is_empty() || tail.starts_with(' '))).then(|| format!("{name}{tail}"))
    }
    fn unique(name: String, taken: &[String]) -> String {
        (1..)
            .map(|n| match n {
                1 => name.clone(),
                n => format!("{name} {n}"),
            })
            .find(|candidate| !taken.contains(candidate))
            .unwrap_or(name)
    }
    let mut movies = txn.open_table(MOVIES)?;
    let mut changed = Vec::new();
    for row in movies.iter()? {
        let (id, bytes) = row?;
        let mut movie: Movie = decode("movies", bytes.value())?;
        let mut touched = false;
        let mut taken: Vec<String> = movie.audio.iter().map(|a| a.label.clone()).collect();
        for a in &mut movie.audio {
            if let Some(name) = renamed(&a.label, &a.lang, "Audio") {
                a.label = unique(name, &taken);
                taken.push(a.label.clone());
                touched = true;
            }
        }
        let mut taken: Vec<String> = movie.subtitles.iter().map(|s| s.label.clone()).collect();
        for s in &mut movie.subtitles {
            if let Some(name) = renamed(&s.label, &s.lang, "Subtitles") {
                s.label = unique(name, &taken);
                taken.push(s.label.clone());
                touched = true;
            }
        }
        if touched {
            changed.push((id.value().to_string(), encode(&movie)));
        }
    }
    for (id, bytes) in changed {
        movies.insert(id.as_str(), bytes.as_slice())?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the database {path} is in use by another streamd process; stop it, or run this command \
         while it serves so the command goes through it"
    )]
    Locked { path: PathBuf },
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: redb::DatabaseError,
    },
    #[error(
        "database schema version {found} is newer than this streamd understands ({supported}); \
         upgrade streamd"
    )]
    SchemaTooNew { found: u64, supported: u64 },
    #[error("database error: {0}")]
    Db(#[from] redb::Error),
    #[error("corrupt record in table {table}: {source}")]
    Codec {
        table: &'static str,
        source: serde_json::Error,
    },
    #[error("user {0} already exists")]
    UserExists(Username),
    #[error("no user named {0}")]
    UserNotFound(Username),
    #[error("no movie with id {0}")]
    MovieNotFound(MovieId),
    #[error("no series with id {0}")]
    SeriesNotFound(MovieId),
    /// A change that cannot be made as asked, in words for the person who asked.
    #[error("{0}")]
    BadEdit(String),
    #[error("{0} is the last admin who can sign in: make another user an admin first")]
    LastAdmin(Username),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Db(e.into()) }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Our records hold only strings, numbers and enums: serialising them cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: DeserializeOwned>(table: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Codec { table, source })
}

#[derive(Clone)]
pub struct Store {
    handle: Arc<Handle>,
}

/// How long a reopen waits for the old handle's last transactions to end.
const REOPEN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The open database, replaced when an I/O error poisoned it. redb refuses every write after
/// one failed (a full disk, say) until the database is closed and opened again; without this,
/// one write refused by a full disk broke logins and the job queue until a restart, even after
/// space was freed.
struct Handle {
    path: PathBuf,
    db: std::sync::RwLock<Option<Arc<Database>>>,
    /// A commit without fsync happened since the last durable one.
    unpersisted: std::sync::atomic::AtomicBool,
    /// Bumped after every commit that wrote movies; tags `movies_cache`.
    movies_generation: std::sync::atomic::AtomicU64,
    /// The decoded movie list at a generation (`Store::movies_shared`).
    movies_cache: std::sync::Mutex<Option<(u64, SharedMovies)>>,
}

type SharedMovies = Arc<Vec<Arc<Movie>>>;

fn open_database(path: &Path) -> Result<Database, StoreError> {
    Database::builder()
        .set_cache_size(64 * 1024 * 1024)
        .create(path)
        .map_err(|source| match source {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked {
                path: path.to_path_buf(),
            },
            source => StoreError::Open {
                path: path.to_path_buf(),
                source,
            },
        })
}

impl Store {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(DB_FILE)
    }

    /// The data dir this database lives in.
    pub fn data_dir(&self) -> PathBuf {
        let parent = self.handle.path.parent().map(Path::to_path_buf);
        parent.unwrap_or_else(|| PathBuf::from("."))
    }

    /// Opens (or creates) the database in `data_dir` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = Self::path(data_dir);
        let db = open_database(&path)?;
        let store = Store {
            handle: Arc::new(Handle {
                path,
                db: std::sync::RwLock::new(Some(Arc::new(db))),
                unpersisted: std::sync::atomic::AtomicBool::new(false),
                movies_generation: std::sync::atomic::AtomicU64::new(0),
                movies_cache: std::sync::Mutex::new(None),
            }),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The database, opened again first if an I/O error closed it.
    fn db(&self) -> Result<Arc<Database>, StoreError> {
        if let Some(db) = self
            .handle
            .db
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            return Ok(db.clone());
        }
        let mut slot = self.handle.db.write().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            // Refused (Locked) while a transaction of the old handle is still alive, which is
            // a moment: wait for it rather than fail the request with "in use by another
            // process". Past the wait the error stands and the next call tries again.
            let deadline = std::time::Instant::now() + REOPEN_WAIT;
            let db = loop {
                match open_database(&self.handle.path) {
                    Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    other => break other?,
                }
            };
            *slot = Some(Arc::new(db));
            tracing::warn!("database reopened after an I/O error");
        }
        slot.clone().ok_or(StoreError::Locked {
            path: self.handle.path.clone(),
        })
    }

    /// A write transaction. After a failed write (redb then answers `PreviousIo` to every
    /// write) the database is closed and opened again, once, before giving up.
    fn begin_write(&self) -> Result<redb::WriteTransaction, StoreError> {
        match self.db()?.begin_write() {
            Err(redb::TransactionError::Storage(redb::StorageError::PreviousIo)) => {
                tracing::warn!("a database write failed earlier (disk full?): reopening");
                self.handle
                    .db
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                Ok(self.db()?.begin_write()?)
            }
            other => Ok(other?),
        }
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        {
            // Opening creates: after this every table exists, so readers never see TableDoesNotExist.
            txn.open_table(USERS)?;
            txn.open_table(PLANS)?;
            txn.open_table(SESSIONS)?;
            txn.open_table(GRANTS)?;
            txn.open_table(MOVIES)?;
            txn.open_table(JOBS)?;
            txn.open_table(POSITIONS)?;
            txn.open_table(KEYS)?;
            txn.open_table(playbacks::PLAYBACKS)?;
            txn.open_table(series::SERIES)?;
            let mut meta = txn.open_table(META)?;
            let found = meta.get("schema_version")?.map(|v| v.value());
            let mut version = found.unwrap_or(SCHEMA_VERSION);
            if version > SCHEMA_VERSION {
                return Err(StoreError::SchemaTooNew {
                    found: version,
                    supported: SCHEMA_VERSION,
                });
            }
            while version < SCHEMA_VERSION {
                let step = usize::try_from(version - 1).unwrap_or(usize::MAX);
                if let Some(migration) = MIGRATIONS.get(step) {
                    migration(&txn)?;
                }
                version += 1;
            }
            meta.insert("schema_version", version)?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn schema_version(&self) -> Result<u64, StoreError> {
        let txn = self.db()?.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(meta.get("schema_version")?.map(|v| v.value()).unwrap_or(0))
    }

    // ---- users and plans ----

    pub fn create_user(&self, user: &User, plan: &Plan) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        {
            let mut users = txn.open_table(USERS)?;
            if users.get(user.name.as_str())?.is_some() {
                return Err(StoreError::UserExists(user.name.clone()));
            }
            users.insert(user.name.as_str(), encode(user).as_slice())?;
            txn.open_table(PLANS)?
                .insert(user.name.as_str(), encode(plan).as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn user(&self, name: &Username) -> Result<Option<User>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let users = txn.open_table(USERS)?;
        users
            .get(name.as_str())?
            .map(|v| decode("users", v.value()))
            .transpose()
    }

    pub fn plan(&self, name: &Username) -> Result<Plan, StoreError> {
        let txn = self.db()?.begin_read()?;
        let plans = txn.open_table(PLANS)?;
        Ok(plans
            .get(name.as_str())?
            .map(|v| decode("plans", v.value()))
            .transpose()?
            .unwrap_or_default())
    }

    /// Replaces a user's password hash and ends every session they had.
    pub fn set_password_hash(&self, name: &Username, hash: String) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        {
            let mut users = txn.open_table(USERS)?;
            let mut user: User = match users.get(name.as_str())? {
                Some(v) => decode("users", v.value())?,
                None => return Err(StoreError::UserNotFound(name.clone())),
            };
            user.password_hash = hash;
            users.insert(name.as_str(), encode(&user).as_slice())?;
            txn.open_table(SESSIONS)?.retain(|_, bytes| {
                decode::<Session>("sessions", bytes).is_ok_and(|s| &s.user != name)
            })?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn set_plan(&self, name: &Username, plan: &Plan) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        {
            if txn.open_table(USERS)?.get(name.as_str())?.is_none() {
                return Err(StoreError::UserNotFound(name.clone()));
            }
            txn.open_table(PLANS)?
                .insert(name.as_str(), encode(plan).as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn list_users(&self) -> Result<Vec<(User, Plan)>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let users = txn.open_table(USERS)?;
        let plans = txn.open_table(PLANS)?;
        let mut out = Vec::new();
        for row in users.iter()? {
            let (name, bytes) = row?;
            let user: User = decode("users", bytes.value())?;
            let plan = plans
                .get(name.value())?
                .map(|v| decode("plans", v.value()))
                .transpose()?
                .unwrap_or_default();
            out.push((user, plan));
        }
        Ok(out)
    }

    pub fn has_admin(&self) -> Result<bool, StoreError> {
        Ok(self
            .list_users()?
            .iter()
            .any(|(u, _)| u.admin && !u.disabled))
    }

    // ---- sessions ----

    /// Records a session, in the same transaction as a look at its user: one removed or
    /// disabled while their password was being checked gets none (a name taken again later
    /// must not find the old account's session waiting).
    pub fn insert_session(&self, token_hash: &str, session: &Session) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        let user: Option<User> = match txn.open_table(USERS)?.get(session.user.as_str())? {
            Some(v) => Some(decode("users", v.value())?),
            None => None,
        };
        if user.is_none_or(|u| u.disabled) {
            return Err(StoreError::UserNotFound(session.user.clone()));
        }
        txn.open_table(SESSIONS)?
            .insert(token_hash, encode(session).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// The live session for a token hash with its user and plan, all from one snapshot.
    /// An expired session, or one whose user is gone, is no session.
    pub fn session_user(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(Session, User, Plan)>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let Some(bytes) = txn.open_table(SESSIONS)?.get(token_hash)? else {
            return Ok(None);
        };
        let session: Session = decode("sessions", bytes.value())?;
        if session.is_expired(now) {
            return Ok(None);
        }
        let Some(user) = txn.open_table(USERS)?.get(session.user.as_str())? else {
            return Ok(None);
        };
        let user: User = decode("users", user.value())?;
        if user.disabled {
            return Ok(None);
        }
        let plan = txn
            .open_table(PLANS)?
            .get(session.user.as_str())?
            .map(|v| decode("plans", v.value()))
            .transpose()?
            .unwrap_or_default();
        Ok(Some((session, user, plan)))
    }

    pub fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let txn = self.begin_write()?;
        let removed = txn.open_table(SESSIONS)?.remove(token_hash)?.is_some();
        txn.commit()?;
        Ok(removed)
    }

    pub fn purge_expired_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        let txn = self.begin_write()?;
        let removed = {
            let mut sessions = txn.open_table(SESSIONS)?;
            let before = sessions.len()?;
            sessions.retain(|_, bytes| {
                decode::<Session>("sessions", bytes).is_ok_and(|s| !s.is_expired(now))
            })?;
            before - sessions.len()?
        };
        txn.commit()?;
        Ok(removed)
    }

    /// A user's live sessions with their token hashes, newest first.
    pub fn sessions_of(
        &self,
        user: &Username,
        now: Timestamp,
    ) -> Result<Vec<(String, Session)>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let mut out = Vec::new();
        for row in txn.open_table(SESSIONS)?.iter()? {
            let (hash, bytes) = row?;
            let session: Session = decode("sessions", bytes.value())?;
            if &session.user == user && !session.is_expired(now) {
                out.push((hash.value().to_string(), session));
            }
        }
        out.sort_by_key(|(_, s)| std::cmp::Reverse(s.last_seen.unwrap_or(s.created_at)));
        Ok(out)
    }

    /// Notes that a session was used now (the caller asks at most every minute or so).
    pub fn touch_session(&self, token_hash: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut txn = self.begin_write()?;
        txn.set_durability(redb::Durability::None)
            .map_err(|e| StoreError::Db(e.into()))?;
        {
            let mut table = txn.open_table(SESSIONS)?;
            let found = match table.get(token_hash)? {
                Some(v) => Some(decode::<Session>("sessions", v.value())?),
                None => None,
            };
            if let Some(mut session) = found {
                session.last_seen = Some(now);
                table.insert(token_hash, encode(&session).as_slice())?;
            }
        }
        txn.commit()?;
        self.handle
            .unpersisted
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Ends every session of a user (signing out everywhere); how many there were.
    pub fn end_sessions_of(&self, user: &Username) -> Result<u64, StoreError> {
        let txn = self.begin_write()?;
        let ended = {
            let mut table = txn.open_table(SESSIONS)?;
            let before = table.len()?;
            table.retain(|_, bytes| {
                decode::<Session>("sessions", bytes).is_ok_and(|s| &s.user != user)
            })?;
            before - table.len()?
        };
        txn.commit()?;
        Ok(ended)
    }

    pub fn count_sessions(&self) -> Result<u64, StoreError> {
        let txn = self.db()?.begin_read()?;
        Ok(txn.open_table(SESSIONS)?.len()?)
    }

    // ---- resume positions ----

    /// Resume positions arrive every 5 s from every playing viewer. With an fsync each they
    /// would be the store's bottleneck (~1,300 saves/s measured, so ~6,500 viewers), and losing
    /// a position's last seconds costs a viewer nothing. So they commit without fsync (redb keeps
    /// such commits in memory), and [`Store::persist`] (every 5 s, and at shutdown) or any other
    /// write makes them durable: a crash or `kill -9` loses at most the last 5 s of positions.
    /// Everything else commits durably.
    pub fn set_position(
        &self,
        user: &Username,
        movie: &MovieId,
        seconds: f64,
    ) -> Result<(), StoreError> {
        let mut txn = self.begin_write()?;
        txn.set_durability(redb::Durability::None)
            .map_err(|e| StoreError::Db(e.into()))?;
        txn.open_table(POSITIONS)?
            .insert((user.as_str(), movie.as_str()), seconds)?;
        txn.commit()?;
        self.handle
            .unpersisted
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Makes writes committed without fsync (positions) durable, if there are any.
    pub fn persist(&self) -> Result<(), StoreError> {
        if !self
            .handle
            .unpersisted
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            return Ok(());
        }
        // An empty durable commit persists the non-durable ones before it.
        self.begin_write()?.commit()?;
        Ok(())
    }

    pub fn position(&self, user: &Username, movie: &MovieId) -> Result<Option<f64>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = txn.open_table(POSITIONS)?;
        Ok(table
            .get((user.as_str(), movie.as_str()))?
            .map(|v| v.value()))
    }

    // ---- track preferences ----

    /// Records a movie's segment keys (once, before its first encrypted segment is published).
    pub fn set_movie_keys(&self, id: &MovieId, keys: &MovieKeys) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        txn.open_table(KEYS)?
            .insert(id.as_str(), encode(keys).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// A movie's segment keys; `None` for a movie published clear.
    pub fn movie_keys(&self, id: &MovieId) -> Result<Option<MovieKeys>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = match txn.open_table(KEYS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        table
            .get(id.as_str())?
            .map(|v| decode("keys", v.value()))
            .transpose()
    }

    pub fn set_preferences(&self, user: &Username, prefs: &Preferences) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        txn.open_table(PREFERENCES)?
            .insert(user.as_str(), encode(prefs).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    pub fn preferences(&self, user: &Username) -> Result<Preferences, StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = match txn.open_table(PREFERENCES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Preferences::default()),
            Err(e) => return Err(e.into()),
        };
        table
            .get(user.as_str())?
            .map(|v| decode("preferences", v.value()))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Every grant, as (user, movie, grant).
    pub fn all_grants(&self) -> Result<Vec<(String, String, Grant)>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let grants = txn.open_table(GRANTS)?;
        let mut out = Vec::new();
        for row in grants.iter()? {
            let (key, bytes) = row?;
            let (user, movie) = key.value();
            out.push((
                user.to_string(),
                movie.to_string(),
                decode("grants", bytes.value())?,
            ));
        }
        Ok(out)
    }

    // ---- grants ----

    pub fn put_grant(
        &self,
        user: &Username,
        movie: &MovieId,
        grant: &Grant,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        {
            if txn.open_table(USERS)?.get(user.as_str())?.is_none() {
                return Err(StoreError::UserNotFound(user.clone()));
            }
            if txn.open_table(MOVIES)?.get(movie.as_str())?.is_none() {
                return Err(StoreError::MovieNotFound(movie.clone()));
            }
            txn.open_table(GRANTS)?
                .insert((user.as_str(), movie.as_str()), encode(grant).as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Removes a grant; `false` when there was none.
    pub fn remove_grant(&self, user: &Username, movie: &MovieId) -> Result<bool, StoreError> {
        let txn = self.begin_write()?;
        let removed = txn
            .open_table(GRANTS)?
            .remove((user.as_str(), movie.as_str()))?
            .is_some();
        txn.commit()?;
        Ok(removed)
    }

    pub fn grant(&self, user: &Username, movie: &MovieId) -> Result<Option<Grant>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let grants = txn.open_table(GRANTS)?;
        grants
            .get((user.as_str(), movie.as_str()))?
            .map(|v| decode("grants", v.value()))
            .transpose()
    }

    /// Every grant a user holds, by movie id.
    /// Every resume position of one viewer, by movie id.
    pub fn positions_of(
        &self,
        user: &Username,
    ) -> Result<std::collections::HashMap<String, f64>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = txn.open_table(POSITIONS)?;
        let mut out = std::collections::HashMap::new();
        for row in table.range((user.as_str(), "")..)? {
            let (key, seconds) = row?;
            let (owner, movie) = key.value();
            if owner != user.as_str() {
                break;
            }
            out.insert(movie.to_string(), seconds.value());
        }
        Ok(out)
    }

    pub fn grants_of(&self, user: &Username) -> Result<Vec<(MovieId, Grant)>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let grants = txn.open_table(GRANTS)?;
        let mut out = Vec::new();
        for row in grants.range((user.as_str(), "")..)? {
            let (key, bytes) = row?;
            let (owner, movie) = key.value();
            if owner != user.as_str() {
                break;
            }
            if let Ok(id) = MovieId::parse(movie) {
                out.push((id, decode("grants", bytes.value())?));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn user(name: &str, admin: bool) -> User {
        User {
            name: Username::parse(name).expect("name"),
            password_hash: "$argon2id$x".into(),
            admin,
            created_at: Timestamp(1),
            disabled: false,
        }
    }

    fn movie(id: &str) -> Movie {
        Movie {
            status: MovieStatus::Ready,
            duration_s: Some(10.0),
            ..Movie::new(
                MovieId::parse(id).expect("id"),
                "T".into(),
                Tier::Premium,
                Timestamp(5),
            )
        }
    }

    #[test]
    fn the_shared_movie_list_is_decoded_once_per_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let a = MovieId::parse("aaaaaaaaaaaa").expect("id");
        store.put_movie(&movie(a.as_str())).expect("put");
        let first = store.movies_shared().expect("list");
        assert_eq!(first.len(), 1);
        assert!(Arc::ptr_eq(&first, &store.movies_shared().expect("list")));
        // A position is not a movie change: the snapshot stays.
        let ann = Username::parse("ann").expect("name");
        store.set_position(&ann, &a, 3.0).expect("position");
        assert!(Arc::ptr_eq(&first, &store.movies_shared().expect("list")));
        // Nor is an idle worker's look at an empty queue.
        assert!(store.claim_job(None).expect("claim").is_none());
        assert!(Arc::ptr_eq(&first, &store.movies_shared().expect("list")));
        let edit = MovieEdit {
            title: Some("Renamed".into()),
            ..Default::default()
        };
        store.edit_movie(&a, &edit).expect("edit");
        let after = store.movies_shared().expect("list");
        assert_eq!(after[0].title, "Renamed");
        assert_eq!(
            first[0].title, "T",
            "a snapshot handed out earlier is left as it was"
        );
        store.delete_movie(&a).expect("delete");
        assert!(store.movies_shared().expect("list").is_empty());
    }

    #[test]
    fn tracks_named_audio_n_before_are_unknown_language_after_the_upgrade() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rendition = |name: &str, lang: &str, label: &str| AudioRendition {
            name: name.into(),
            lang: lang.into(),
            label: label.into(),
            channels: 2,
            source_channels: 2,
            default: false,
            bandwidth: 0,
            average_bandwidth: 0,
        };
        let mut old = movie("m1");
        old.audio = vec![
            rendition("audio_0", "en", "English"),
            rendition("audio_1", "und", "Audio 2"),
            rendition("audio_2", "und", "Audio 3 5.1"),
            rendition("audio_3", "und", "Audio commentary"),
            rendition("audio_4", "und", "Audio 5"),
            rendition("audio_5", "mul", "Audio 6"),
        ];
        old.subtitles = vec![SubtitleRendition {
            name: "subs_und".into(),
            lang: "und".into(),
            label: "Subtitles 1 (forced)".into(),
            forced: true,
        }];
        {
            // A database as streamd wrote it at schema version 1.
            let store = Store::open(dir.path()).expect("open");
            let db = store.db().expect("db");
            let txn = db.begin_write().expect("txn");
            txn.open_table(MOVIES)
                .expect("movies")
                .insert("m1", encode(&old).as_slice())
                .expect("insert");
            txn.open_table(META)
                .expect("meta")
                .insert("schema_version", 1)
                .expect("version");
            txn.commit().expect("commit");
        }
        let store = Store::open(dir.path()).expect("reopen");
        let labels = |m: &Movie| m.audio.iter().map(|a| a.label.clone()).collect::<Vec<_>>();
        let now = store
            .movie(&MovieId::parse("m1").expect("id"))
            .expect("read")
            .expect("m1");
        assert_eq!(
            labels(&now),
            [
                "English",
                "Unknown language",
                "Unknown language 5.1",
                "Audio commentary",
                "Unknown language 2",
                "Several languages"
            ]
        );
        assert_eq!(now.subtitles[0].label, "Unknown language (forced)");
        assert_eq!(store.schema_version().expect("v"), SCHEMA_VERSION);
    }

    #[test]
    fn a_removed_user_leaves_nothing_behind_and_a_namesake_starts_afresh() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let (bob, ann) = (
            Username::parse("bob").expect("n"),
            Username::parse("ann").expect("n"),
        );
        store
            .create_user(&user("root", true), &Plan::default())
            .expect("root");
        store
            .create_user(&user("bob", false), &Plan::default())
            .expect("bob");
        store
            .create_user(&user("ann", false), &Plan::default())
            .expect("ann");
        store.put_movie(&movie("m1")).expect("movie");
        let m1 = MovieId::parse("m1").expect("id");
        let grant = Grant {
            granted_at: Timestamp(1),
            until: None,
        };
        for who in [&bob, &ann] {
            store.put_grant(who, &m1, &grant).expect("grant");
            store.set_position(who, &m1, 42.0).expect("position");
            let prefs = Preferences {
                audio_lang: Some("fr".into()),
                subtitle_lang: None,
            };
            store.set_preferences(who, &prefs).expect("prefs");
            let session = Session::new(who.clone(), Timestamp(1), Timestamp(i64::MAX / 2));
            store
                .insert_session(who.as_str(), &session)
                .expect("session");
        }
        store.remove_user(&bob).expect("remove");
        assert!(store.user(&bob).expect("get").is_none());
        assert!(
            store
                .session_user("bob", Timestamp(2))
                .expect("session")
                .is_none()
        );
        store
            .create_user(&user("bob", false), &Plan::default())
            .expect("again");
        assert!(store.grants_of(&bob).expect("grants").is_empty());
        assert!(store.positions_of(&bob).expect("positions").is_empty());
        assert_eq!(
            store.preferences(&bob).expect("prefs"),
            Preferences::default()
        );
        // Ann keeps all of hers.
        assert_eq!(store.grants_of(&ann).expect("grants").len(), 1);
        assert_eq!(store.positions_of(&ann).expect("positions").len(), 1);
        assert!(
            store
                .session_user("ann", Timestamp(2))
                .expect("session")
                .is_some()
        );
        assert!(matches!(
            store.remove_user(&Username::parse("root").expect("n")),
            Err(StoreError::LastAdmin(_))
        ));
    }

    #[test]
    fn data_survives_reopen_and_schema_is_recorded() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path()).expect("open");
            store
                .create_user(&user("ann", true), &Plan::default())
                .expect("create");
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert!(
            store
                .user(&Username::parse("ann").expect("n"))
                .expect("get")
                .is_some()
        );
        assert_eq!(store.schema_version().expect("v"), SCHEMA_VERSION);
    }

    #[test]
    fn positions_saved_without_fsync_are_kept_once_persisted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ann, m) = (
            Username::parse("ann").expect("n"),
            MovieId::parse("m1").expect("id"),
        );
        {
            let store = Store::open(dir.path()).expect("open");
            store.set_position(&ann, &m, 12.0).expect("save");
            store.set_position(&ann, &m, 17.5).expect("save");
            assert_eq!(store.position(&ann, &m).expect("read"), Some(17.5));
            store.persist().expect("persist");
            // Nothing left to persist: no empty commit.
            store.persist().expect("persist again");
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.position(&ann, &m).expect("read"), Some(17.5));
    }

    #[test]
    fn second_open_of_the_same_dir_reports_locked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _first = Store::open(dir.path()).expect("open");
        let err = Store::open(dir.path()).err().expect("locked");
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    }

    #[test]
    fn duplicate_user_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        store
            .create_user(&user("bob", false), &Plan::default())
            .expect("first");
        let err = store
            .create_user(&user("BOB", false), &Plan::default())
            .expect_err("dup");
        assert!(matches!(err, StoreError::UserExists(_)));
    }

    #[test]
    fn expired_sessions_are_not_returned_and_get_purged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let u = user("cat", false);
        store.create_user(&u, &Plan::default()).expect("user");
        let now = Timestamp(1_000);
        let live = Session::new(u.name.clone(), now, now.plus(Duration::from_secs(60)));
        store.insert_session("live", &live).expect("insert");
        store
            .insert_session(
                "old",
                &Session {
                    expires_at: now,
                    ..live.clone()
                },
            )
            .expect("insert");
        assert!(store.session_user("live", now).expect("get").is_some());
        assert!(store.session_user("old", now).expect("get").is_none());
        assert!(
            store
                .session_user("live", Timestamp(1_060))
                .expect("get")
                .is_none()
        );
        assert_eq!(store.purge_expired_sessions(now).expect("purge"), 1);
        assert_eq!(store.count_sessions().expect("count"), 1);
    }

    #[test]
    fn password_change_ends_that_users_sessions_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let a = user("a", false);
        let b = user("b", false);
        store.create_user(&a, &Plan::default()).expect("a");
        store.create_user(&b, &Plan::default()).expect("b");
        let s = |u: &User| Session::new(u.name.clone(), Timestamp(0), Timestamp(i64::MAX));
        store.insert_session("sa", &s(&a)).expect("sa");
        store.insert_session("sb", &s(&b)).expect("sb");
        store
            .set_password_hash(&a.name, "new".into())
            .expect("passwd");
        assert!(
            store
                .session_user("sa", Timestamp(1))
                .expect("get")
                .is_none()
        );
        assert!(
            store
                .session_user("sb", Timestamp(1))
                .expect("get")
                .is_some()
        );
    }

    #[test]
    fn grants_need_user_and_movie_and_can_be_revoked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let u = user("dan", false);
        let m = movie("m1");
        let g = Grant {
            granted_at: Timestamp(1),
            until: None,
        };
        assert!(matches!(
            store.put_grant(&u.name, &m.id, &g),
            Err(StoreError::UserNotFound(_))
        ));
        store.create_user(&u, &Plan::default()).expect("user");
        assert!(matches!(
            store.put_grant(&u.name, &m.id, &g),
            Err(StoreError::MovieNotFound(_))
        ));
        store.put_movie(&m).expect("movie");
        store.put_grant(&u.name, &m.id, &g).expect("grant");
        assert_eq!(store.grant(&u.name, &m.id).expect("get"), Some(g));
        assert_eq!(store.grants_of(&u.name).expect("list").len(), 1);
        assert!(store.remove_grant(&u.name, &m.id).expect("revoke"));
        assert!(!store.remove_grant(&u.name, &m.id).expect("again"));
        assert!(store.grant(&u.name, &m.id).expect("get").is_none());
    }
}
