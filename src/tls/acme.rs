//! Certificates from an ACME CA (RFC 8555) through `instant-acme`: the account is kept in the
//! data dir, each order is proved by HTTP-01 on the plain listener (the tokens live in
//! [`Challenges`] until the CA has looked), and the certificate and its key are stored next to
//! the account, so a restart serves them again without asking the CA.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use serde::{Deserialize, Serialize};

use super::certs::{self, CertError, Loaded};
use crate::media::bucket::write_private;

/// A whole order (account, authorizations, issuance) that has not finished by now failed: the
/// CA is down or stuck, and the renewal loop tries again later.
const ORDER_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("ACME server {directory}: {}", with_causes(.error))]
    Protocol {
        directory: String,
        error: instant_acme::Error,
    },
    #[error("ACME server {directory} refused {what}: {detail}")]
    Refused {
        directory: String,
        what: String,
        detail: String,
    },
    #[error("ACME server {0} did not finish the order within 2 minutes")]
    TimedOut(String),
    #[error("cannot keep the certificate in {path}: {error}")]
    Save { path: String, error: std::io::Error },
    #[error("tls.ca_root: {0}")]
    CaRoot(String),
    #[error("the CA's certificate: {0}")]
    Certificate(CertError),
}

impl From<CertError> for AcmeError {
    fn from(e: CertError) -> Self {
        AcmeError::Certificate(e)
    }
}

/// "client error (Connect): tcp connect error: Connection refused": hyper's own message says
/// only the first part.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}

/// HTTP-01 tokens and their key authorizations, answered on the plain listener at
/// `/.well-known/acme-challenge/{token}` while an order is open.
#[derive(Debug, Default, Clone)]
pub struct Challenges(Arc<RwLock<HashMap<String, String>>>);

impl Challenges {
    pub fn answer(&self, token: &str) -> Option<String> {
        self.0.read().ok()?.get(token).cloned()
    }

    fn open(&self, token: &str, key_authorization: String) {
        if let Ok(mut map) = self.0.write() {
            map.insert(token.to_string(), key_authorization);
        }
    }

    fn close(&self, tokens: &[String]) {
        if let Ok(mut map) = self.0.write() {
            for t in tokens {
                map.remove(t);
            }
        }
    }
}

/// Where an ACME setup keeps its files: `<data dir>/tls/`.
#[derive(Debug, Clone)]
pub struct Paths {
    pub dir: PathBuf,
}

impl Paths {
    pub fn new(data_dir: &Path) -> Paths {
        Paths {
            dir: data_dir.join("tls"),
        }
    }
    pub fn account(&self) -> PathBuf {
        self.dir.join("account.json")
    }
    pub fn cert(&self) -> PathBuf {
        self.dir.join("certificate.pem")
    }
    pub fn key(&self) -> PathBuf {
        self.dir.join("certificate.key")
    }
    pub fn status(&self) -> PathBuf {
        self.dir.join("status.json")
    }

    /// The certificate kept by the last run, if there is one that reads and matches its key.
    pub fn stored(&self) -> Option<Loaded> {
        if !self.cert().exists() {
            return None;
        }
        match certs::read_files(&self.cert(), &self.key()) {
            Ok(loaded) => Some(loaded),
            Err(error) => {
                tracing::warn!(%error, "ignoring the stored certificate");
                None
            }
        }
    }
}

/// The account as stored: credentials only count for the directory they were made on.
#[derive(Serialize, Deserialize)]
struct StoredAccount {
    directory: String,
    credentials: AccountCredentials,
}

#[derive(Debug, Clone)]
pub struct Acme {
    pub domains: Vec<String>,
    pub directory: String,
    pub email: Option<String>,
    pub ca_root: Option<PathBuf>,
    pub paths: Paths,
    pub challenges: Challenges,
}

impl Acme {
    /// Orders a certificate for every domain, proves each by HTTP-01, and stores it.
    pub async fn obtain(&self) -> Result<Loaded, AcmeError> {
        let tokens = Arc::new(RwLock::new(Vec::new()));
        let result = tokio::time::timeout(ORDER_TIMEOUT, self.order(tokens.clone())).await;
        if let Ok(tokens) = tokens.read() {
            self.challenges.close(&tokens);
        }
        result.map_err(|_| AcmeError::TimedOut(self.directory.clone()))?
    }

    async fn order(&self, tokens: Arc<RwLock<Vec<String>>>) -> Result<Loaded, AcmeError> {
        let protocol = |error| AcmeError::Protocol {
            directory: self.directory.clone(),
            error,
        };
        let account = self.account().await?;
        let identifiers: Vec<Identifier> = self
            .domains
            .iter()
            .map(|d| Identifier::Dns(d.clone()))
            .collect();
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .map_err(protocol)?;
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(protocol)?;
            if authz.status == AuthorizationStatus::Valid {
                continue;
            }
            let mut challenge =
                authz
                    .challenge(ChallengeType::Http01)
                    .ok_or_else(|| AcmeError::Refused {
                        directory: self.directory.clone(),
                        what: "an HTTP-01 challenge".into(),
                        detail: "it offered none (streamd proves names over HTTP only)".into(),
                    })?;
            let token = challenge.token.clone();
            self.challenges
                .open(&token, challenge.key_authorization().as_str().to_string());
            if let Ok(mut t) = tokens.write() {
                t.push(token);
            }
            challenge.set_ready().await.map_err(protocol)?;
        }
        let retries = RetryPolicy::new().backoff(1.5).timeout(ORDER_TIMEOUT);
        let status = order.poll_ready(&retries).await.map_err(protocol)?;
        if status != OrderStatus::Ready {
            let detail = order
                .state()
                .error
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_else(|| format!("the order is {status:?}"));
            return Err(AcmeError::Refused {
                directory: self.directory.clone(),
                what: format!("the order for {}", self.domains.join(", ")),
                detail,
            });
        }
        let key_pem = order.finalize().await.map_err(protocol)?;
        let chain_pem = order.poll_certificate(&retries).await.map_err(protocol)?;
        let loaded = certs::from_pem(
            chain_pem.as_bytes(),
            key_pem.as_bytes(),
            "the issued certificate",
            "its key",
        )?;
        // Key first: a crash between the two renames leaves a pair that does not match, which
        // `Paths::stored` refuses, and the next start orders again.
        self.save(&self.paths.key(), key_pem.as_bytes())?;
        self.save(&self.paths.cert(), chain_pem.as_bytes())?;
        Ok(loaded)
    }

    async fn account(&self) -> Result<Account, AcmeError> {
        let protocol = |error| AcmeError::Protocol {
            directory: self.directory.clone(),
            error,
        };
        let builder = || match &self.ca_root {
            Some(root) => Account::builder_with_root(root)
                .map_err(|e| AcmeError::CaRoot(format!("{}: {e}", root.display()))),
            None => Account::builder().map_err(protocol),
        };
        let stored = std::fs::read(self.paths.account())
            .ok()
            .and_then(|b| serde_json::from_slice::<StoredAccount>(&b).ok())
            .filter(|a| a.directory == self.directory);
        if let Some(stored) = stored {
            return builder()?
                .from_credentials(stored.credentials)
                .await
                .map_err(protocol);
        }
        let contact = self.email.as_ref().map(|e| format!("mailto:{e}"));
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let (account, credentials) = builder()?
            .create(
                &NewAccount {
                    contact: &contacts,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                self.directory.clone(),
                None,
            )
            .await
            .map_err(protocol)?;
        let stored = StoredAccount {
            directory: self.directory.clone(),
            credentials,
        };
        let json = serde_json::to_vec_pretty(&stored).map_err(|e| AcmeError::Save {
            path: self.paths.account().display().to_string(),
            error: std::io::Error::other(e),
        })?;
        self.save(&self.paths.account(), &json)?;
        tracing::info!(directory = %self.directory, "ACME account created");
        Ok(account)
    }

    fn save(&self, path: &Path, bytes: &[u8]) -> Result<(), AcmeError> {
        write_private(path, bytes).map_err(|error| AcmeError::Save {
            path: path.display().to_string(),
            error,
        })
    }
}
