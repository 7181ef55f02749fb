//! Running one ffmpeg child under control: progress events as they come, its own error lines
//! kept for the failure reason, and a watchdog that kills it on cancel, shutdown or timeout,
//! so no ffmpeg outlives its job.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RunError {
    #[error("cannot start ffmpeg: {0}")]
    Spawn(String),
    #[error("ffmpeg failed: {0}")]
    Failed(String),
    #[error("cancelled")]
    Cancelled,
    #[error("ffmpeg took longer than {} s and was stopped", .0.as_secs())]
    TimedOut(Duration),
}

#[derive(Default)]
struct Slot {
    pid: Option<u32>,
    /// Set before the child is reaped, so the watchdog never signals a recycled pid.
    exited: bool,
}

/// A job's handle for stopping its ffmpeg from another thread.
#[derive(Default)]
pub struct Control {
    cancelled: AtomicBool,
    slot: Mutex<Slot>,
    wake: Condvar,
}

impl Control {
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.wake.notify_all();
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Progress as ffmpeg reports it: seconds of output written, and speed as a multiple of real time.
#[derive(Debug, Clone, Copy)]
pub struct Tick {
    pub out_time_s: f64,
    pub speed: f64,
}

fn parse_time(text: &str) -> Option<f64> {
    let mut total = 0.0;
    for part in text.trim().split(':') {
        total = total * 60.0 + part.parse::<f64>().ok()?;
    }
    Some(total)
}

fn kill(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) with a pid we spawned and have not yet reaped (see Slot::exited).
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// Even a SIGKILLed streamd leaves no ffmpeg behind: the kernel kills the child when the
/// thread that spawned it dies (Linux `PR_SET_PDEATHSIG`).
fn die_with_parent(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Runs ffmpeg with `args` to completion, or until cancelled or past `timeout`.
pub fn run_ffmpeg(
    ffmpeg: &Path,
    args: &[String],
    control: &Control,
    timeout: Duration,
    mut on_tick: impl FnMut(Tick),
) -> Result<(), RunError> {
    if control.is_cancelled() {
        return Err(RunError::Cancelled);
    }
    let mut command = FfmpegCommand::new_with_path(ffmpeg);
    command.args(args);
    die_with_parent(command.as_inner_mut());
    let mut child = command
        .spawn()
        .map_err(|e| RunError::Spawn(e.to_string()))?;
    control.lock().pid = Some(child.as_inner().id());
    let started = Instant::now();
    let timed_out = AtomicBool::new(false);

    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut slot = control.lock();
            loop {
                if slot.exited {
                    return;
                }
                let elapsed = started.elapsed();
                if control.is_cancelled() || elapsed >= timeout {
                    if elapsed >= timeout {
                        timed_out.store(true, Ordering::SeqCst);
                    }
                    if let Some(pid) = slot.pid {
                        kill(pid);
                    }
                    return;
                }
                let wait = (timeout - elapsed).min(Duration::from_millis(500));
                slot = control
                    .wake
                    .wait_timeout(slot, wait)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
        });

        let mut errors: VecDeque<String> = VecDeque::new();
        match child.iter() {
            Ok(events) => {
                for event in events {
                    match event {
                        FfmpegEvent::Progress(p) => {
                            if let Some(t) = parse_time(&p.time) {
                                on_tick(Tick {
                                    out_time_s: t,
                                    speed: f64::from(p.speed),
                                });
                            }
                        }
                        FfmpegEvent::Log(LogLevel::Error | LogLevel::Fatal, line)
                        | FfmpegEvent::Error(line) => {
                            let line = line.trim().to_string();
                            if !line.is_empty() && !errors.contains(&line) {
                                errors.push_back(line);
                                if errors.len() > 8 {
                                    errors.pop_front();
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            Err(e) => errors.push_back(e.to_string()),
        }
        {
            let mut slot = control.lock();
            slot.exited = true;
            control.wake.notify_all();
        }
        let status = child.wait();
        if timed_out.load(Ordering::SeqCst) {
            return Err(RunError::TimedOut(timeout));
        }
        if control.is_cancelled() {
            return Err(RunError::Cancelled);
        }
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(RunError::Failed(if errors.is_empty() {
                format!("ffmpeg exited with {s}")
            } else {
                errors.into_iter().collect::<Vec<_>>().join("; ")
            })),
            Err(e) => Err(RunError::Failed(e.to_string())),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ffmpeg_times() {
        assert_eq!(parse_time("00:01:02.50"), Some(62.5));
        assert_eq!(parse_time("01:00:00.00"), Some(3600.0));
        assert_eq!(parse_time("N/A"), None);
    }
}
