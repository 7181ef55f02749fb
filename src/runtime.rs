//! The data dir's runtime file: a running server records its pid and bound address in
//! `server.json`, so the CLI can find it and a second `serve` can say who holds the database.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunningServer {
    pub pid: u32,
    /// The address actually bound (after resolving a `:0` port).
    pub listen: SocketAddr,
}

impl RunningServer {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("server.json")
    }

    pub fn read(data_dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(Self::path(data_dir)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Written to a temp file and renamed, so a reader never sees half a file.
    pub fn write(&self, data_dir: &Path) -> std::io::Result<()> {
        let tmp = data_dir.join(".server.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(self).unwrap_or_default())?;
        std::fs::rename(tmp, Self::path(data_dir))
    }

    pub fn remove(data_dir: &Path) {
        let _ = std::fs::remove_file(Self::path(data_dir));
    }

    /// Whether the announcing process still exists: a SIGKILLed server leaves its file behind.
    pub fn is_alive(&self) -> bool {
        let pid = match libc::pid_t::try_from(self.pid) {
            Ok(pid) if pid > 0 => pid,
            _ => return false,
        };
        // SAFETY: signal 0 sends nothing; it only asks whether the pid exists (EPERM: it does,
        // under another user).
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }

    /// The address a local client connects to: a wildcard bind is reached over loopback.
    pub fn connect_addr(&self) -> SocketAddr {
        let mut addr = self.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        addr
    }
}

/// Creates the data dir when missing and checks it is a writable directory.
pub fn prepare_data_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", dir.display()))?;
    // Per process, so two commands probing at once never remove each other's file.
    let probe = dir.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"ok").map_err(|e| {
        let _ = std::fs::remove_file(&probe);
        let hint = if e.kind() == std::io::ErrorKind::StorageFull {
            "the disk holding it is full: free some space"
        } else {
            "check its owner and permissions, or pick another with --data-dir"
        };
        format!("data dir {} is not writable: {e} ({hint})", dir.display())
    })?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}
