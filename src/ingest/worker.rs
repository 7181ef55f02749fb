//! The worker pool: `transcode.workers` threads that take queued jobs from redb one at a time.
//! It can cancel one job (its ffmpeg is killed) or all of them at shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::pipeline::Ingester;
use super::run::Control;
use crate::store::MovieId;

#[derive(Default)]
struct PoolState {
    stopping: bool,
    running: HashMap<MovieId, Arc<Control>>,
}

struct Shared {
    ingester: Ingester,
    state: Mutex<PoolState>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct Workers {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// How long an idle worker sleeps before looking at the queue again on its own (jobs queued
/// through this process wake it at once).
const IDLE_POLL: Duration = Duration::from_secs(5);

impl Workers {
    pub fn start(ingester: Ingester, count: usize) -> Workers {
        let shared = Arc::new(Shared {
            ingester,
            state: Mutex::new(PoolState::default()),
            wake: Condvar::new(),
        });
        let threads = (0..count.max(1))
            .map(|n| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("ingest-{n}"))
                    .spawn(move || work(&shared))
            })
            .filter_map(|t| {
                t.map_err(|e| tracing::error!(error = %e, "cannot start worker"))
                    .ok()
            })
            .collect();
        Workers {
            shared,
            threads: Mutex::new(threads),
        }
    }

    /// A job was queued: wake an idle worker.
    pub fn notify(&self) {
        self.shared.wake.notify_all();
    }

    /// Stops a running job (its ffmpeg is killed); `false` if it was not running.
    pub fn cancel(&self, id: &MovieId) -> bool {
        match self.shared.lock().running.get(id) {
            Some(control) => {
                control.cancel();
                true
            }
            None => false,
        }
    }

    pub fn is_running(&self, id: &MovieId) -> bool {
        self.shared.lock().running.contains_key(id)
    }

    /// Kills every running ffmpeg, re-queues their jobs and waits for the workers to end.
    pub fn shutdown(&self) {
        {
            let mut state = self.shared.lock();
            state.stopping = true;
            for control in state.running.values() {
                control.cancel();
            }
        }
        self.shared.wake.notify_all();
        let threads: Vec<_> =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

fn work(shared: &Shared) {
    loop {
        if shared.lock().stopping {
            return;
        }
        match shared.ingester.store.claim_job(None) {
            Ok(Some((job, movie))) => {
                let control = Arc::new(Control::default());
                {
                    let mut state = shared.lock();
                    if state.stopping {
                        control.cancel();
                    }
                    state.running.insert(movie.id.clone(), control.clone());
                }
                let stopping = || shared.lock().stopping;
                shared
                    .ingester
                    .process(&job, &movie, &control, &stopping, &mut |_| {});
                shared.lock().running.remove(&movie.id);
            }
            Ok(None) => {
                let state = shared.lock();
                if !state.stopping {
                    let _ = shared.wake.wait_timeout(state, IDLE_POLL);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the job queue");
                let state = shared.lock();
                let _ = shared.wake.wait_timeout(state, IDLE_POLL);
            }
        }
    }
}
