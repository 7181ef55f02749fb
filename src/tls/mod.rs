//! HTTPS served by streamd itself (contract section 12): rustls with HTTP/2 and HTTP/1.1, a
//! certificate from an ACME CA or from the owner's PEM files, swapped in place when it is
//! renewed or its files change, so neither a restart nor a dropped connection is needed.
//!
//! The handshake picks the certificate from a [`CertSlot`] at every new connection; open
//! connections keep the one they started with until they close.

pub mod acme;
pub mod certs;
pub mod status;

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::{Certificates, Config};
use acme::{Acme, Challenges, Paths};
use certs::{CertError, CertInfo, Loaded};
use status::{Status, StatusFile};

/// How often `tls.cert` and `tls.key` are looked at for a change.
const FILES_POLL: Duration = Duration::from_secs(2);
/// The first retry of a failed order; each next one waits twice as long, up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_secs(5);
const BACKOFF_MAX: Duration = Duration::from_secs(3600);

/// One line each: the cause is in the message, not in a source chain.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls: {0}")]
    Certificate(CertError),
    #[error("tls: {0}")]
    Rustls(rustls::Error),
}

impl From<CertError> for TlsError {
    fn from(e: CertError) -> Self {
        TlsError::Certificate(e)
    }
}

impl From<rustls::Error> for TlsError {
    fn from(e: rustls::Error) -> Self {
        TlsError::Rustls(e)
    }
}

/// The certificate handshakes are answered with, replaced whole when a new one arrives.
#[derive(Debug, Default)]
pub struct CertSlot(RwLock<Option<Loaded>>);

impl CertSlot {
    pub fn set(&self, loaded: Loaded) {
        if let Ok(mut slot) = self.0.write() {
            *slot = Some(loaded);
        }
    }

    pub fn info(&self) -> Option<CertInfo> {
        self.0.read().ok()?.as_ref().map(|l| l.info.clone())
    }

    pub fn has_certificate(&self) -> bool {
        self.0.read().is_ok_and(|s| s.is_some())
    }
}

impl ResolvesServerCert for CertSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // One certificate covers every name streamd serves; a client asking for another name
        // gets it anyway and decides for itself (as nginx's default server does).
        self.0.read().ok()?.as_ref().map(|l| l.key.clone())
    }
}

/// What the listeners and the app need of TLS.
#[derive(Debug)]
pub struct Tls {
    pub slot: Arc<CertSlot>,
    pub challenges: Challenges,
    /// The port HTTPS is served on (plain requests are redirected there).
    pub https_port: u16,
}

impl Tls {
    /// Redirects and the sendfile path's hand-off start once there is something to serve.
    pub fn redirecting(&self) -> bool {
        self.slot.has_certificate()
    }

    /// The rustls configuration of the HTTPS listener: TLS 1.2 and 1.3, h2 then HTTP/1.1.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(certs::provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.slot.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Starts TLS for `config` (None when `[tls]` is not set): file certificates are read now (a
/// bad pair refuses to start); an ACME certificate is the stored one if it still covers the
/// domains, and ordering, renewing and watching go on in the background.
pub fn start(config: &Config, https_port: u16) -> Result<Option<Arc<Tls>>, TlsError> {
    let Some(certificates) = &config.tls.certificates else {
        return Ok(None);
    };
    // instant-acme's HTTP client asks rustls for the process default; two providers are linked
    // in (object_store brings ring), so say which.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let tls = Arc::new(Tls {
        slot: Arc::new(CertSlot::default()),
        challenges: Challenges::default(),
        https_port,
    });
    let paths = Paths::new(&config.server.data_dir);
    let status = StatusFile(paths.status());
    match certificates.clone() {
        Certificates::Files { cert, key } => {
            let loaded = certs::read_files(&cert, &key)?;
            status.write(&Status::serving(&loaded.info, None));
            tls.slot.set(loaded);
            let slot = tls.slot.clone();
            std::thread::Builder::new()
                .name("tls-files".into())
                .spawn(move || watch_files(&cert, &key, &slot, &status))
                .map_err(|e| CertError::Read {
                    path: "tls watcher".into(),
                    error: e,
                })?;
        }
        Certificates::Acme {
            domains,
            directory,
            email,
            ca_root,
        } => {
            if let Some(stored) = paths.stored().filter(|l| l.info.covers(&domains)) {
                tracing::info!(
                    names = %stored.info.names.join(","),
                    expires = stored.info.not_after,
                    "serving the stored certificate"
                );
                tls.slot.set(stored);
            }
            let acme = Acme {
                domains,
                directory,
                email,
                ca_root,
                paths,
                challenges: tls.challenges.clone(),
            };
            let slot = tls.slot.clone();
            actix_web::rt::spawn(keep_renewed(acme, slot, status));
        }
    }
    Ok(Some(tls))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Orders a certificate when there is none (or it no longer covers the domains) and again two
/// thirds into each one's life; a failure is retried after 5 s, 10 s, 20 s... up to an hour.
async fn keep_renewed(acme: Acme, slot: Arc<CertSlot>, status: StatusFile) {
    let mut failures: u32 = 0;
    loop {
        let due = slot
            .info()
            .filter(|i| i.covers(&acme.domains))
            .map_or(0, |i| i.renew_at());
        if failures == 0 {
            let current = slot.info();
            status.write(&Status::waiting(current.as_ref(), due));
            let wait = (due - now()).max(0) as u64;
            tokio::time::sleep(Duration::from_secs(wait)).await;
        }
        tracing::info!(domains = %acme.domains.join(","), directory = %acme.directory, "ordering a certificate");
        match acme.obtain().await {
            Ok(loaded) => {
                failures = 0;
                tracing::info!(
                    names = %loaded.info.names.join(","),
                    issuer = %loaded.info.issuer,
                    expires = loaded.info.not_after,
                    renew_at = loaded.info.renew_at(),
                    "certificate obtained"
                );
                slot.set(loaded);
            }
            Err(error) => {
                failures += 1;
                let wait = backoff(failures);
                let next = now() + wait.as_secs() as i64;
                tracing::warn!(
                    %error,
                    attempt = failures,
                    retry_in_s = wait.as_secs(),
                    "could not obtain a certificate; retrying"
                );
                status.write(&Status::failing(
                    slot.info().as_ref(),
                    &error.to_string(),
                    next,
                ));
                tokio::time::sleep(wait).await;
            }
        }
    }
}

fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (BACKOFF_FIRST * 2u32.pow(doublings)).min(BACKOFF_MAX)
}

/// Reads `cert` and `key` again whenever either changes (renamed over, rewritten, touched).
/// A pair that does not read or match is logged and the one being served stays.
fn watch_files(
    cert: &std::path::Path,
    key: &std::path::Path,
    slot: &CertSlot,
    status: &StatusFile,
) {
    use std::os::unix::fs::MetadataExt;
    let stamp = || {
        [cert, key].map(|p| {
            std::fs::metadata(p)
                .map(|m| (m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
                .ok()
        })
    };
    let mut seen = stamp();
    loop {
        std::thread::sleep(FILES_POLL);
        let now_seen = stamp();
        if now_seen == seen {
            continue;
        }
        seen = now_seen;
        match certs::read_files(cert, key) {
            Ok(loaded) => {
                tracing::info!(
                    cert = %cert.display(),
                    names = %loaded.info.names.join(","),
                    expires = loaded.info.not_after,
                    "certificate files changed: serving the new certificate"
                );
                status.write(&Status::serving(&loaded.info, None));
                slot.set(loaded);
            }
            Err(error) => {
                tracing::warn!(%error, "certificate files changed but do not make a usable pair; still serving the previous one");
                status.write(&Status::serving_with_error(
                    slot.info().as_ref(),
                    &error.to_string(),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_seconds_up_to_an_hour() {
        let waits: Vec<u64> = (1..=12).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(
            waits,
            [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(backoff(u32::MAX).as_secs(), 3600);
    }

    #[test]
    fn renewal_is_two_thirds_into_a_certificates_life() {
        let info = |life: i64| CertInfo {
            names: vec!["tv.example.org".into()],
            issuer: "test".into(),
            not_before: 1_000,
            not_after: 1_000 + life,
        };
        assert_eq!(info(120).renew_at(), 1_080);
        assert_eq!(info(90 * 86_400).renew_at(), 1_000 + 60 * 86_400);
        assert_eq!(info(6 * 86_400).renew_at(), 1_000 + 4 * 86_400);
        assert!(info(120).covers(&["TV.example.org".into()]));
        assert!(!info(120).covers(&["tv.example.org".into(), "www.example.org".into()]));
    }
}
