//! Certificates as PEM: read, checked against their key, and described (names, issuer,
//! validity) for renewal and `streamd doctor`.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{0} holds no PEM certificate")]
    NoCertificate(String),
    #[error("{path} holds no usable private key: {message}")]
    BadKey { path: String, message: String },
    #[error("{key} is not the private key of {cert}")]
    Mismatch { cert: String, key: String },
    #[error("{path}: not a certificate streamd can read: {message}")]
    Parse { path: String, message: String },
}

/// The crypto every TLS part of streamd uses (one provider for the server and the ACME client).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A certificate ready to serve, and what it says about itself.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub key: Arc<CertifiedKey>,
    pub info: CertInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    /// DNS names (and addresses) it covers.
    pub names: Vec<String>,
    pub issuer: String,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

impl CertInfo {
    /// Two thirds into its life (contract section 12): a 90-day certificate is renewed with 30
    /// days left, a six-day one with two, a two-minute one with 40 s.
    pub fn renew_at(&self) -> i64 {
        self.not_before + (self.not_after - self.not_before).max(0) * 2 / 3
    }

    pub fn covers(&self, domains: &[String]) -> bool {
        domains
            .iter()
            .all(|d| self.names.iter().any(|n| n.eq_ignore_ascii_case(d)))
    }
}

/// A chain and its key from PEM text; `cert_name` and `key_name` say where they came from in
/// error messages.
pub fn from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_name: &str,
    key_name: &str,
) -> Result<Loaded, CertError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| CertError::Parse {
            path: cert_name.into(),
            message: e.to_string(),
        })?;
    let Some(leaf) = chain.first() else {
        return Err(CertError::NoCertificate(cert_name.into()));
    };
    let info = describe(leaf).map_err(|message| CertError::Parse {
        path: cert_name.into(),
        message,
    })?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| CertError::BadKey {
        path: key_name.into(),
        message: e.to_string(),
    })?;
    let certified = CertifiedKey::from_der(chain, key, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => CertError::Mismatch {
            cert: cert_name.into(),
            key: key_name.into(),
        },
        other => CertError::BadKey {
            path: key_name.into(),
            message: other.to_string(),
        },
    })?;
    Ok(Loaded {
        key: Arc::new(certified),
        info,
    })
}

pub fn read_files(cert: &Path, key: &Path) -> Result<Loaded, CertError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|error| CertError::Read {
            path: p.display().to_string(),
            error,
        })
    };
    from_pem(
        &read(cert)?,
        &read(key)?,
        &cert.display().to_string(),
        &key.display().to_string(),
    )
}

/// The leaf's names, issuer and validity.
pub fn describe(leaf: &CertificateDer<'_>) -> Result<CertInfo, String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) => names.push(n.to_string()),
                GeneralName::IPAddress(b) => match b.len() {
                    4 => names.push(std::net::Ipv4Addr::from([b[0], b[1], b[2], b[3]]).to_string()),
                    16 => {
                        let mut o = [0u8; 16];
                        o.copy_from_slice(b);
                        names.push(std::net::Ipv6Addr::from(o).to_string())
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    let issuer = cert
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| cert.issuer().to_string());
    Ok(CertInfo {
        names,
        issuer,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}
