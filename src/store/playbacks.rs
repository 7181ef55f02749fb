//! Playback sessions (contract section 10): one per browser (sign-in session) or per playback
//! token (an external player), counted against the user's screens while alive. Each decision
//! (start, sign of life, stop) reads and writes in one transaction, so two players starting at
//! once cannot both take the last screen.

use std::time::Duration;

use rand::RngCore;
use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{MovieId, Store, StoreError, Timestamp, Username, decode, encode};

/// playback id -> [`Playback`]. Not in backups: nothing in it outlives a restart of a player.
pub(super) const PLAYBACKS: TableDefinition<&str, &[u8]> = TableDefinition::new("playbacks");

/// Records are kept this long after their last sign of life (a stopped one must still answer
/// "stopped" to its player's next key request, which may come days later after a pause).
const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Playback {
    pub id: String,
    pub user: Username,
    /// `s:` + the sign-in session's token hash, or `t:` + a digest of the playback token.
    pub owner: String,
    /// What the player is, from its user agent ("Chrome on Linux", "VLC").
    pub device: String,
    pub movie: MovieId,
    pub started_at: Timestamp,
    pub last_seen: Timestamp,
    /// Stopped from another device: its next key or position is refused, saying so.
    #[serde(default)]
    pub stopped: bool,
}

impl Playback {
    pub fn is_alive(&self, now: Timestamp, idle: Duration) -> bool {
        !self.stopped && now < self.last_seen.plus(idle)
    }
}

/// Who wants to play, and how many screens they have (0: unlimited).
pub struct Viewer<'a> {
    pub user: &'a Username,
    pub screens: u32,
}

/// The answer to a player's sign of life.
#[derive(Debug, PartialEq)]
pub enum Liveness {
    Alive(Playback),
    /// Ended from another device (or by an admin).
    Stopped,
    /// Idle too long, and its screen was taken meanwhile: these are in use.
    TooMany(Vec<Playback>),
    /// No such playback (forgotten after [`KEEP`], or never was).
    Unknown,
}

fn new_id() -> String {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Every playback, and those that are gone for good removed.
fn load_all(txn: &WriteTransaction, now: Timestamp) -> Result<Vec<Playback>, StoreError> {
    let mut table = txn.open_table(PLAYBACKS)?;
    table.retain(|_, bytes| {
        decode::<Playback>("playbacks", bytes).is_ok_and(|p| now < p.last_seen.plus(KEEP))
    })?;
    let mut all = Vec::new();
    for row in table.iter()? {
        let (_, bytes) = row?;
        all.push(decode("playbacks", bytes.value())?);
    }
    Ok(all)
}

fn alive_of(all: &[Playback], user: &Username, now: Timestamp, idle: Duration) -> Vec<Playback> {
    let mut alive: Vec<Playback> = (all.iter())
        .filter(|p| &p.user == user && p.is_alive(now, idle))
        .cloned()
        .collect();
    alive.sort_by_key(|p| p.started_at);
    alive
}

fn put(txn: &WriteTransaction, playback: &Playback) -> Result<(), StoreError> {
    txn.open_table(PLAYBACKS)?
        .insert(playback.id.as_str(), encode(playback).as_slice())?;
    Ok(())
}

impl Store {
    /// Starts playing `movie` for `owner`, or goes on with the owner's live playback (a reload,
    /// another movie in the same browser). `Err` lists the playbacks taking every screen.
    pub fn start_playback(
        &self,
        viewer: Viewer,
        owner: &str,
        device: &str,
        movie: &MovieId,
        idle: Duration,
    ) -> Result<Result<Playback, Vec<Playback>>, StoreError> {
        let now = Timestamp::now();
        let txn = self.begin_write()?;
        let all = load_all(&txn, now)?;
        let alive = alive_of(&all, viewer.user, now, idle);
        let playback = match alive.iter().find(|p| p.owner == owner) {
            Some(mine) => Playback {
                movie: movie.clone(),
                last_seen: now,
                device: device.to_string(),
                ..mine.clone()
            },
            None if viewer.screens > 0 && alive.len() >= viewer.screens as usize => {
                return Ok(Err(alive));
            }
            None => Playback {
                id: new_id(),
                user: viewer.user.clone(),
                owner: owner.to_string(),
                device: device.to_string(),
                movie: movie.clone(),
                started_at: now,
                last_seen: now,
                stopped: false,
            },
        };
        put(&txn, &playback)?;
        txn.commit()?;
        Ok(Ok(playback))
    }

    /// A sign of life from playback `id` (a playlist, a key, a position): alive again unless it
    /// was stopped, or its screen was taken while it was idle.
    pub fn touch_playback(
        &self,
        id: &str,
        viewer: Viewer,
        idle: Duration,
    ) -> Result<Liveness, StoreError> {
        let now = Timestamp::now();
        let mut txn = self.begin_write()?;
        let all = load_all(&txn, now)?;
        let Some(mut playback) = all.iter().find(|p| p.id == id).cloned() else {
            return Ok(Liveness::Unknown);
        };
        if playback.stopped || &playback.user != viewer.user {
            return Ok(Liveness::Stopped);
        }
        if !playback.is_alive(now, idle) {
            let alive = alive_of(&all, viewer.user, now, idle);
            if viewer.screens > 0 && alive.len() >= viewer.screens as usize {
                return Ok(Liveness::TooMany(alive));
            }
        }
        playback.last_seen = now;
        // Signs of life come every few seconds from every player: like positions, they need
        // no fsync of their own (a crash forgets a few seconds of "last seen").
        txn.set_durability(redb::Durability::None)
            .map_err(|e| StoreError::Db(e.into()))?;
        put(&txn, &playback)?;
        txn.commit()?;
        self.handle
            .unpersisted
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(Liveness::Alive(playback))
    }

    /// The newest playback of an owner (a browser), stopped or not.
    pub fn owner_playback(&self, owner: &str) -> Result<Option<Playback>, StoreError> {
        let txn = self.db()?.begin_read()?;
        let table = txn.open_table(PLAYBACKS)?;
        let mut newest: Option<Playback> = None;
        for row in table.iter()? {
            let (_, bytes) = row?;
            let p: Playback = decode("playbacks", bytes.value())?;
            if p.owner == owner && newest.as_ref().is_none_or(|n| n.last_seen <= p.last_seen) {
                newest = Some(p);
            }
        }
        Ok(newest)
    }

    /// Live playbacks, of one user or of everyone, oldest first.
    pub fn live_playbacks(
        &self,
        user: Option<&Username>,
        idle: Duration,
    ) -> Result<Vec<Playback>, StoreError> {
        let now = Timestamp::now();
        let txn = self.db()?.begin_read()?;
        let table = txn.open_table(PLAYBACKS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, bytes) = row?;
            let p: Playback = decode("playbacks", bytes.value())?;
            if user.is_none_or(|u| &p.user == u) && p.is_alive(now, idle) {
                out.push(p);
            }
        }
        out.sort_by_key(|p| p.started_at);
        Ok(out)
    }

    /// Stops a playback (its next key or position is refused). `None` when there is none.
    pub fn stop_playback(&self, id: &str) -> Result<Option<Playback>, StoreError> {
        let txn = self.begin_write()?;
        let found = match txn.open_table(PLAYBACKS)?.get(id)? {
            Some(v) => Some(decode::<Playback>("playbacks", v.value())?),
            None => None,
        };
        let Some(mut playback) = found else {
            return Ok(None);
        };
        playback.stopped = true;
        put(&txn, &playback)?;
        txn.commit()?;
        Ok(Some(playback))
    }

    /// Ends a sign-in session and stops the browser's playback with it (signing out frees
    /// the screen). Whether there was such a session.
    pub fn end_session_and_playback(&self, token_hash: &str) -> Result<bool, StoreError> {
        if let Some(playback) = self.owner_playback(&format!("s:{token_hash}"))? {
            self.stop_playback(&playback.id)?;
        }
        self.delete_session(token_hash)
    }

    /// Stops every playback of a user's (signing out everywhere).
    pub fn stop_playbacks_of(&self, user: &Username) -> Result<usize, StoreError> {
        let now = Timestamp::now();
        let txn = self.begin_write()?;
        let mut stopped = 0;
        for mut p in load_all(&txn, now)? {
            if &p.user == user && !p.stopped {
                p.stopped = true;
                put(&txn, &p)?;
                stopped += 1;
            }
        }
        txn.commit()?;
        Ok(stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Username {
        Username::parse(n).expect("name")
    }

    #[test]
    fn screens_are_counted_per_user_reused_per_owner_and_freed_by_stop_or_idle() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");
        let ann = name("ann");
        let movie = MovieId::generate();
        let idle = Duration::from_secs(60);
        let one = || Viewer {
            user: &ann,
            screens: 1,
        };
        let first = store
            .start_playback(one(), "s:a", "Firefox on Linux", &movie, idle)
            .expect("db")
            .expect("a screen");
        let again = store
            .start_playback(one(), "s:a", "Firefox on Linux", &movie, idle)
            .expect("db")
            .expect("the same browser");
        assert_eq!(again.id, first.id, "a reload reuses it");
        let refused = store
            .start_playback(one(), "s:b", "VLC", &movie, idle)
            .expect("db")
            .expect_err("one screen only");
        assert_eq!(refused, vec![again.clone()]);
        let unlimited = Viewer {
            user: &ann,
            screens: 0,
        };
        assert!(
            (store.start_playback(unlimited, "s:c", "VLC", &movie, idle))
                .expect("db")
                .is_ok()
        );
        store.stop_playback(&first.id).expect("db").expect("found");
        assert_eq!(
            store.touch_playback(&first.id, one(), idle).expect("db"),
            Liveness::Stopped
        );
        let second = store
            .start_playback(one(), "s:a", "Firefox on Linux", &movie, idle)
            .expect("db");
        // The unlimited start above still holds a screen for one second.
        assert!(second.is_err(), "two alive, one screen");
        let none = Duration::ZERO;
        let after_idle = store
            .start_playback(one(), "s:b", "VLC", &movie, none)
            .expect("db")
            .expect("idle ones take no screen");
        assert_ne!(after_idle.id, first.id);
        assert_eq!(
            store.owner_playback("s:b").expect("db").map(|p| p.id),
            Some(after_idle.id)
        );
        assert_eq!(
            store.touch_playback("nope", one(), idle).expect("db"),
            Liveness::Unknown
        );
    }
}
