//! Scheduled backups (`[backup] every`, `keep`): while `serve` runs, a sealed backup goes into
//! the object store every `every`, and the oldest beyond `keep` are deleted. The first is due
//! `every` after the newest already there (at once when there is none), so restarts neither
//! skip nor pile up backups. A failed backup is logged and tried again sooner.

use std::time::{Duration, SystemTime};

use super::{BackupKey, shelf};
use crate::media::Bucket;
use crate::store::Store;

/// A failed backup is tried again after this long, or after `every` when that is sooner.
const RETRY: Duration = Duration::from_secs(300);

pub struct Schedule {
    pub store: Store,
    pub bucket: Bucket,
    pub key: BackupKey,
    pub every: Duration,
    pub keep: usize,
}

impl Schedule {
    /// Runs the schedule on a thread of its own for as long as the process lives (a backup cut
    /// off by the process ending leaves no object: each is put whole).
    pub fn start(self) {
        std::thread::Builder::new()
            .name("backups".into())
            .spawn(move || self.run())
            .map(drop)
            .unwrap_or_else(|e| tracing::error!(error = %e, "could not start scheduled backups"));
    }

    fn first_wait(&self) -> Duration {
        let newest = shelf::list(&self.bucket)
            .ok()
            .and_then(|all| all.last().cloned());
        let Some(newest) = newest else {
            return Duration::ZERO;
        };
        let taken = humantime::parse_rfc3339(&newest.taken_at).unwrap_or(SystemTime::UNIX_EPOCH);
        let age = SystemTime::now().duration_since(taken).unwrap_or_default();
        self.every.saturating_sub(age)
    }

    fn run(self) {
        let mut wait = self.first_wait();
        loop {
            std::thread::sleep(wait);
            wait = match self.once() {
                Ok(()) => self.every,
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?self.every.min(RETRY), "scheduled backup failed");
                    self.every.min(RETRY)
                }
            };
        }
    }

    fn once(&self) -> Result<(), super::BackupError> {
        let started = std::time::Instant::now();
        let (stored, summary) =
            super::in_background(|| shelf::put(&self.bucket, &self.store, &self.key))?;
        let pruned = shelf::prune(&self.bucket, self.keep)?;
        tracing::info!(
            object = %stored.key,
            bytes = stored.bytes,
            movies = summary.movies,
            users = summary.users,
            secs = started.elapsed().as_secs_f64(),
            pruned = pruned.len(),
            "backup written"
        );
        Ok(())
    }
}
