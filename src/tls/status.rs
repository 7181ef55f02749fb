//! What the certificate manager last did, kept in `tls/status.json` for `streamd doctor` (which
//! runs in another process and must not talk to the CA itself).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::certs::CertInfo;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The certificate being served, if any.
    pub certificate: Option<CertInfo>,
    /// When an ACME certificate will be renewed (unix seconds).
    pub next_renewal: Option<i64>,
    /// The last failure (ordering, or reading changed files) since the last success.
    pub last_error: Option<String>,
    /// When a failed order is tried again.
    pub next_attempt: Option<i64>,
}

impl Status {
    pub fn serving(info: &CertInfo, next_renewal: Option<i64>) -> Status {
        Status {
            certificate: Some(info.clone()),
            next_renewal,
            last_error: None,
            next_attempt: None,
        }
    }

    pub fn serving_with_error(info: Option<&CertInfo>, error: &str) -> Status {
        Status {
            certificate: info.cloned(),
            next_renewal: None,
            last_error: Some(error.to_string()),
            next_attempt: None,
        }
    }

    pub fn waiting(info: Option<&CertInfo>, due: i64) -> Status {
        Status {
            certificate: info.cloned(),
            next_renewal: Some(due),
            last_error: None,
            next_attempt: None,
        }
    }

    pub fn failing(info: Option<&CertInfo>, error: &str, next_attempt: i64) -> Status {
        Status {
            certificate: info.cloned(),
            next_renewal: None,
            last_error: Some(error.to_string()),
            next_attempt: Some(next_attempt),
        }
    }
}

#[derive(Debug, Clone)]
pub struct StatusFile(pub PathBuf);

impl StatusFile {
    /// Best effort: a status that cannot be written only leaves `doctor` less informed.
    pub fn write(&self, status: &Status) {
        let Ok(json) = serde_json::to_vec_pretty(status) else {
            return;
        };
        if let Err(error) = crate::media::bucket::write_private(&self.0, &json) {
            tracing::warn!(%error, path = %self.0.display(), "cannot record the certificate status");
        }
    }

    pub fn read(path: &Path) -> Option<Status> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }
}
