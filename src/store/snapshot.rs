//! A consistent copy of the whole database as one value: every table read in one read
//! transaction (so a backup taken while `serve` writes holds every write committed before it
//! and nothing half-done), and written back into an empty database in one write transaction.
//! Records are kept as the JSON the tables hold, so a later streamd reads an older snapshot
//! through its own migrations.

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{
    GRANTS, JOBS, KEYS, META, MOVIES, PLANS, POSITIONS, PREFERENCES, SCHEMA_VERSION, SESSIONS,
    Store, StoreError, USERS,
};

/// A record as the table holds it: checked to be JSON, never parsed into a tree and written
/// out again (half the CPU of a backup, taken from the viewers on a small machine).
type Record = Box<serde_json::value::RawValue>;
/// One table's rows: text keys with JSON records.
type Rows = Vec<(String, Record)>;
/// Rows keyed by (user, movie).
type PairRows<V> = Vec<((String, String), V)>;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// The schema the records are in; restoring runs the migrations from there.
    pub schema_version: u64,
    pub users: Rows,
    pub plans: Rows,
    pub sessions: Rows,
    pub movies: Rows,
    pub jobs: Rows,
    pub preferences: Rows,
    pub grants: PairRows<Record>,
    pub positions: PairRows<f64>,
    /// Segment keys of encrypted movies (absent from backups taken before they existed).
    #[serde(default)]
    pub keys: Rows,
    /// Series (absent from backups taken before they existed).
    #[serde(default)]
    pub series: Rows,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the database is not empty: restore into an empty data dir (or use --force)")]
    NotEmpty,
    #[error(
        "the backup is of database schema {found}, newer than this streamd understands \
         ({supported}): restore it with a newer streamd"
    )]
    TooNew { found: u64, supported: u64 },
    #[error("a record in table {table} is not valid JSON: {source}")]
    Record {
        table: &'static str,
        source: serde_json::Error,
    },
}

fn record(bytes: &[u8], table: &'static str) -> Result<Record, SnapshotError> {
    let text = std::str::from_utf8(bytes).map_err(|e| SnapshotError::Record {
        table,
        source: serde::de::Error::custom(e),
    })?;
    serde_json::value::RawValue::from_string(text.to_string())
        .map_err(|source| SnapshotError::Record { table, source })
}

fn text_rows(
    txn: &redb::ReadTransaction,
    table: TableDefinition<&str, &[u8]>,
    name: &'static str,
) -> Result<Rows, SnapshotError> {
    let t = match txn.open_table(table) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::from(e).into()),
    };
    let mut out = Vec::new();
    for row in t.iter().map_err(StoreError::from)? {
        let (k, v) = row.map_err(StoreError::from)?;
        let value = record(v.value(), name)?;
        out.push((k.value().to_string(), value));
    }
    Ok(out)
}

impl Store {
    /// Every table, read in one read transaction: writers go on meanwhile and are not in it.
    pub fn snapshot(&self) -> Result<Snapshot, SnapshotError> {
        let txn = self.db()?.begin_read().map_err(StoreError::from)?;
        let schema_version = txn
            .open_table(META)
            .map_err(StoreError::from)?
            .get("schema_version")
            .map_err(StoreError::from)?
            .map_or(SCHEMA_VERSION, |v| v.value());
        let mut grants = Vec::new();
        for row in (txn.open_table(GRANTS).map_err(StoreError::from)?)
            .iter()
            .map_err(StoreError::from)?
        {
            let (k, v) = row.map_err(StoreError::from)?;
            let (user, movie) = k.value();
            let value = record(v.value(), "grants")?;
            grants.push(((user.to_string(), movie.to_string()), value));
        }
        let mut positions = Vec::new();
        for row in (txn.open_table(POSITIONS).map_err(StoreError::from)?)
            .iter()
            .map_err(StoreError::from)?
        {
            let (k, v) = row.map_err(StoreError::from)?;
            let (user, movie) = k.value();
            positions.push(((user.to_string(), movie.to_string()), v.value()));
        }
        Ok(Snapshot {
            schema_version,
            users: text_rows(&txn, USERS, "users")?,
            plans: text_rows(&txn, PLANS, "plans")?,
            sessions: text_rows(&txn, SESSIONS, "sessions")?,
            movies: text_rows(&txn, MOVIES, "movies")?,
            jobs: text_rows(&txn, JOBS, "jobs")?,
            preferences: text_rows(&txn, PREFERENCES, "preferences")?,
            keys: text_rows(&txn, KEYS, "keys")?,
            series: text_rows(&txn, super::series::SERIES, "series")?,
            grants,
            positions,
        })
    }

    /// Fills an empty database with `snapshot` in one write transaction, then brings its
    /// records up to this streamd's schema. Nothing is written if any of it fails.
    pub fn restore(&self, snapshot: &Snapshot) -> Result<(), SnapshotError> {
        if snapshot.schema_version > SCHEMA_VERSION {
            return Err(SnapshotError::TooNew {
                found: snapshot.schema_version,
                supported: SCHEMA_VERSION,
            });
        }
        let txn = self.begin_write()?;
        {
            let text_tables = [
                (USERS, &snapshot.users),
                (PLANS, &snapshot.plans),
                (SESSIONS, &snapshot.sessions),
                (MOVIES, &snapshot.movies),
                (JOBS, &snapshot.jobs),
                (PREFERENCES, &snapshot.preferences),
                (KEYS, &snapshot.keys),
                (super::series::SERIES, &snapshot.series),
            ];
            for (table, rows) in text_tables {
                let mut t = txn.open_table(table).map_err(StoreError::from)?;
                if !t.is_empty().map_err(StoreError::from)? {
                    return Err(SnapshotError::NotEmpty);
                }
                for (k, v) in rows {
                    t.insert(k.as_str(), v.get().as_bytes())
                        .map_err(StoreError::from)?;
                }
            }
            let mut t = txn.open_table(GRANTS).map_err(StoreError::from)?;
            for ((user, movie), v) in &snapshot.grants {
                t.insert((user.as_str(), movie.as_str()), v.get().as_bytes())
                    .map_err(StoreError::from)?;
            }
            let mut t = txn.open_table(POSITIONS).map_err(StoreError::from)?;
            for ((user, movie), seconds) in &snapshot.positions {
                t.insert((user.as_str(), movie.as_str()), *seconds)
                    .map_err(StoreError::from)?;
            }
            txn.open_table(META)
                .map_err(StoreError::from)?
                .insert("schema_version", snapshot.schema_version)
                .map_err(StoreError::from)?;
        }
        self.commit_movies(txn, true)?;
        self.migrate()?;
        Ok(())
    }
}
