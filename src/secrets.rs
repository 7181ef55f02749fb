//! Secrets that must never sit in a config file by default: generated on first run, kept in the
//! data dir with mode 0600, and read back on every later start.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot create secrets dir {path}: {source} (is the data dir writable?)")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read or write secret {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secret file {path} is malformed: {reason} (delete it to generate a new one)")]
    Malformed { path: PathBuf, reason: &'static str },
}

/// One HMAC key with its id; tokens name the id so an old key can still verify after rotation.
#[derive(Clone)]
pub struct HmacKey {
    pub id: String,
    pub key: Vec<u8>,
}

#[derive(Clone)]
pub struct Secrets {
    /// Signing keys, newest first: index 0 signs, all verify.
    pub hmac_keys: Vec<HmacKey>,
    pub storage_access_key: String,
    pub storage_secret_key: String,
    /// Authenticates the CLI to a running server over loopback.
    pub admin_secret: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(redacted)")
    }
}

pub fn secrets_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("secrets")
}

pub fn admin_secret_path(data_dir: &Path) -> PathBuf {
    secrets_dir(data_dir).join("admin.secret")
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

impl Secrets {
    /// Reads the secrets, generating any that are missing. Config-supplied storage keys win.
    pub fn load_or_create(config: &Config) -> Result<Self, SecretsError> {
        let dir = secrets_dir(&config.server.data_dir);
        fs::create_dir_all(&dir).map_err(|source| SecretsError::Dir {
            path: dir.clone(),
            source,
        })?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(|source| {
            SecretsError::Dir {
                path: dir.clone(),
                source,
            }
        })?;

        let hmac_path = dir.join("hmac.keys");
        let hmac_text = read_or_create(&hmac_path, || {
            format!("{} {}\n", random_hex(4), random_hex(32))
        })?;
        let hmac_keys = parse_hmac_keys(&hmac_path, &hmac_text)?;

        let storage_path = dir.join("storage.credentials");
        let storage_text = read_or_create(&storage_path, || {
            format!(
                "STREAMD{} {}\n",
                random_hex(6).to_uppercase(),
                random_hex(20)
            )
        })?;
        let mut parts = storage_text.split_whitespace();
        let (Some(access), Some(secret)) = (parts.next(), parts.next()) else {
            return Err(SecretsError::Malformed {
                path: storage_path,
                reason: "expected `ACCESS_KEY SECRET_KEY`",
            });
        };
        let admin_path = admin_secret_path(&config.server.data_dir);
        let admin_secret = read_or_create(&admin_path, || random_hex(32))?
            .trim()
            .to_string();

        Ok(Secrets {
            hmac_keys,
            storage_access_key: config
                .storage
                .access_key
                .clone()
                .unwrap_or_else(|| access.to_string()),
            storage_secret_key: config
                .storage
                .secret_key
                .clone()
                .unwrap_or_else(|| secret.to_string()),
            admin_secret,
        })
    }

    pub fn signing_key(&self) -> &HmacKey {
        // parse_hmac_keys guarantees at least one key.
        &self.hmac_keys[0]
    }
}

fn parse_hmac_keys(path: &Path, text: &str) -> Result<Vec<HmacKey>, SecretsError> {
    let malformed = |reason| SecretsError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    let mut keys = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (id, key) = line
            .split_once(' ')
            .ok_or_else(|| malformed("each line is `KEY_ID HEX_KEY`"))?;
        let key = hex::decode(key.trim()).map_err(|_| malformed("key is not hex"))?;
        if key.len() < 32 {
            return Err(malformed("key shorter than 32 bytes"));
        }
        keys.push(HmacKey {
            id: id.to_string(),
            key,
        });
    }
    if keys.is_empty() {
        return Err(malformed("no key"));
    }
    Ok(keys)
}

/// Reads a secret file, or creates it with mode 0600 from the start (never chmod after writing,
/// which would leave a window where it is world-readable).
fn read_or_create(path: &Path, generate: impl FnOnce() -> String) -> Result<String, SecretsError> {
    let io = |source| SecretsError::File {
        path: path.to_path_buf(),
        source,
    };
    match fs::read_to_string(path) {
        Ok(text) => {
            let mode = fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
            if mode != 0o600 {
                tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "secret file was not 0600; fixing");
                fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io)?;
            }
            Ok(text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = generate();
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(io)?;
            file.write_all(text.as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok(text)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    #[test]
    fn generated_once_with_mode_0600_and_stable_across_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let o = Overrides {
            data_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let config = Config::load_from(&o, Vec::new()).expect("config");
        let first = Secrets::load_or_create(&config).expect("create");
        let second = Secrets::load_or_create(&config).expect("reload");
        assert_eq!(first.admin_secret, second.admin_secret);
        assert_eq!(first.signing_key().key, second.signing_key().key);
        assert_eq!(first.signing_key().key.len(), 32);
        for entry in fs::read_dir(secrets_dir(dir.path())).expect("dir") {
            let meta = entry.expect("entry").metadata().expect("meta");
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
        assert!(!format!("{first:?}").contains(&first.admin_secret));
    }
}
