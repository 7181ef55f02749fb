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

/// A job's handle for stopping its ffmpeg children (a job may run several at once: the video
/// ladder and the audio renditions) from another thread.
#[derive(Default)]
pub struct Control {
    cancelled: AtomicBool,
    gate: Mutex<()>,
    wake: Condvar,
}

impl Control {
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        let _gate = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        self.wake.notify_all();
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Sleeps until cancelled or `timeout`; `true` if cancelled.
    pub fn wait(&self, timeout: Duration) -> bool {
        let gate = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        if self.is_cancelled() {
            return true;
        }
        let _ = self.wake.wait_timeout(gate, timeout);
        self.is_cancelled()
    }

    /// Wakes whoever waits on this control (a finished encode, for the publisher).
    pub fn notify_all(&self) {
        self.notify();
    }

    fn notify(&self) {
        let _gate = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        self.wake.notify_all();
    }
}

/// What ffmpeg-sidecar reports for an ffmpeg that writes nothing to stdout.
const SIDECAR_NO_STDOUT: &str = "No streams found";

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
        // SAFETY: kill(2) with a pid we spawned and have not yet reaped (see `exited` in run_ffmpeg).
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
    let pid = child.as_inner().id();
    // Set before the child is reaped, so the watchdog never signals a recycled pid.
    let exited = Mutex::new(false);
    let started = Instant::now();
    let timed_out = AtomicBool::new(false);

    std::thread::scope(|scope| {
        scope.spawn(|| {
            loop {
                let elapsed = started.elapsed();
                let stop = control.is_cancelled() || elapsed >= timeout;
                {
                    let exited = exited.lock().unwrap_or_else(|p| p.into_inner());
                    if *exited {
                        return;
                    }
                    if stop {
                        if elapsed >= timeout {
                            timed_out.store(true, Ordering::SeqCst);
                        }
                        kill(pid);
                        return;
                    }
                }
                control.wait((timeout - elapsed).min(Duration::from_millis(500)));
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
                        // ffmpeg-sidecar's own note that nothing goes to stdout (every output
                        // of ours is a file), not ffmpeg's: a disk-full failure read "No streams
                        // found; ... No space left on device".
                        FfmpegEvent::Error(line) if line == SIDECAR_NO_STDOUT => {}
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
        *exited.lock().unwrap_or_else(|p| p.into_inner()) = true;
        control.notify();
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
