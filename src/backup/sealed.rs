//! Encrypted backups (contract section 11): a backup holds password hashes, segment keys and the
//! signing secrets, and the bucket it may go to is the one a CDN reads. So a backup for the
//! store (and a file backup given `--key`) is sealed with AES-256-GCM under a key derived
//! (HKDF-SHA256, a fresh salt per backup) from the owner's secret: `--key FILE`,
//! `STREAMD_BACKUP_KEY`, or the file `backup.key` names, kept outside the data dir.
//!
//! Layout: `MAGIC`, salt (16), key check (16), nonce (12), then the ciphertext with its tag.
//! The header is the associated data, so no byte of it can change unnoticed. The key check is
//! derived apart from the key, so a wrong key is told apart from a damaged file.

use std::fmt;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::Config;

/// The first bytes of a sealed backup (a plain one starts with `{`).
pub const MAGIC: &[u8] = b"streamd-backup-sealed-v1\n";
const SALT: usize = 16;
const CHECK: usize = 16;
const NONCE: usize = 12;
/// `openssl rand -hex 32` writes 64; anything under 32 characters is refused.
pub const MIN_SECRET_CHARS: usize = 32;
/// The environment variable that holds the secret itself (not a path).
pub const ENV: &str = "STREAMD_BACKUP_KEY";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the backup key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the backup key from {from} is {chars} characters; it must be at least \
         {MIN_SECRET_CHARS} (make one with: openssl rand -hex 32 > backup.key)"
    )]
    TooShort { from: String, chars: usize },
    #[error(
        "the backup key {0} is inside the data dir: keep it elsewhere (a backup is needed \
         exactly when the data dir is lost)"
    )]
    InsideDataDir(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "the backup is encrypted: give its key with --key FILE, backup.key in the config or \
         STREAMD_BACKUP_KEY"
    )]
    NoKey,
    #[error("wrong key: this backup was encrypted with another backup key ({0})")]
    WrongKey(String),
    #[error("the encrypted backup is damaged or cut short (its key is right)")]
    Damaged,
}

/// The owner's backup secret and where it came from (for messages; never the secret itself).
#[derive(Clone)]
pub struct BackupKey {
    secret: Vec<u8>,
    from: String,
}

impl fmt::Debug for BackupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackupKey(from {})", self.from)
    }
}

impl BackupKey {
    fn new(secret: &str, from: String) -> Result<BackupKey, KeyError> {
        let secret = secret.trim();
        let chars = secret.chars().count();
        if chars < MIN_SECRET_CHARS {
            return Err(KeyError::TooShort { from, chars });
        }
        Ok(BackupKey {
            secret: secret.as_bytes().to_vec(),
            from,
        })
    }

    /// Reads a key file, refusing one kept inside `data_dir`.
    pub fn from_file(path: &Path, data_dir: &Path) -> Result<BackupKey, KeyError> {
        let read = |source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(read)?;
        let inside = match (path.canonicalize(), data_dir.canonicalize()) {
            (Ok(key), Ok(dir)) => key.starts_with(dir),
            _ => false,
        };
        if inside {
            return Err(KeyError::InsideDataDir(path.to_path_buf()));
        }
        BackupKey::new(&text, path.display().to_string())
    }

    /// The key to use: `flag` (`--key FILE`), else `STREAMD_BACKUP_KEY`, else `backup.key`.
    pub fn find(config: &Config, flag: Option<&Path>) -> Result<Option<BackupKey>, KeyError> {
        let data_dir = &config.server.data_dir;
        if let Some(path) = flag {
            return BackupKey::from_file(path, data_dir).map(Some);
        }
        if let Ok(secret) = std::env::var(ENV) {
            return BackupKey::new(&secret, ENV.into()).map(Some);
        }
        match &config.backup.key {
            Some(path) => BackupKey::from_file(path, data_dir).map(Some),
            None => Ok(None),
        }
    }

    pub fn source(&self) -> &str {
        &self.from
    }

    /// The AES key and the key check for one salt.
    fn derive(&self, salt: &[u8]) -> ([u8; 32], [u8; CHECK]) {
        let hk = Hkdf::<Sha256>::new(Some(salt), &self.secret);
        let (mut key, mut check) = ([0u8; 32], [0u8; CHECK]);
        // Both lengths are far below HKDF-SHA256's limit (255 * 32 bytes): never an error.
        let _ = hk.expand(b"streamd backup AES-256-GCM key", &mut key);
        let _ = hk.expand(b"streamd backup key check", &mut check);
        (key, check)
    }
}

pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Encrypts `plain` with a fresh salt and nonce.
pub fn seal(key: &BackupKey, plain: &[u8]) -> Vec<u8> {
    let mut header = MAGIC.to_vec();
    let mut salt = [0u8; SALT];
    let mut nonce = [0u8; NONCE];
    rand::rng().fill_bytes(&mut salt);
    rand::rng().fill_bytes(&mut nonce);
    let (aes_key, check) = key.derive(&salt);
    header.extend_from_slice(&salt);
    header.extend_from_slice(&check);
    header.extend_from_slice(&nonce);
    let cipher = Aes256Gcm::new(&aes_key.into());
    let payload = Payload {
        msg: plain,
        aad: &header,
    };
    // AES-GCM fails only past 64 GiB in one message; a backup is megabytes.
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), payload)
        .unwrap_or_default();
    header.extend_from_slice(&sealed);
    header
}

/// Decrypts a sealed backup.
pub fn open(key: Option<&BackupKey>, bytes: &[u8]) -> Result<Vec<u8>, OpenError> {
    let key = key.ok_or(OpenError::NoKey)?;
    let header_len = MAGIC.len() + SALT + CHECK + NONCE;
    if bytes.len() < header_len + 16 {
        return Err(OpenError::Damaged);
    }
    let (header, sealed) = bytes.split_at(header_len);
    let salt = &header[MAGIC.len()..MAGIC.len() + SALT];
    let check = &header[MAGIC.len() + SALT..MAGIC.len() + SALT + CHECK];
    let mut nonce = [0u8; NONCE];
    nonce.copy_from_slice(&header[header_len - NONCE..]);
    let (aes_key, expected) = key.derive(salt);
    if !bool::from(expected.ct_eq(check)) {
        return Err(OpenError::WrongKey(key.from.clone()));
    }
    let cipher = Aes256Gcm::new(&aes_key.into());
    let payload = Payload {
        msg: sealed,
        aad: header,
    };
    cipher
        .decrypt(&Nonce::from(nonce), payload)
        .map_err(|_| OpenError::Damaged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> BackupKey {
        BackupKey::new(secret, "test".into()).expect("key")
    }

    #[test]
    fn sealed_backups_open_only_with_their_key_and_only_whole() {
        let right = key(&"a".repeat(64));
        let plain = br#"{"format":"streamd-backup"}"#;
        let sealed = seal(&right, plain);
        assert!(is_sealed(&sealed));
        assert!(
            !sealed.windows(plain.len()).any(|w| w == plain),
            "the plain text is not in it"
        );
        assert_ne!(
            seal(&right, plain),
            sealed,
            "a fresh salt and nonce each time"
        );
        assert_eq!(open(Some(&right), &sealed).expect("opens"), plain);
        assert!(matches!(open(None, &sealed), Err(OpenError::NoKey)));
        let wrong = key(&"b".repeat(64));
        assert!(matches!(
            open(Some(&wrong), &sealed),
            Err(OpenError::WrongKey(_))
        ));
        for cut in [10, MAGIC.len() + 20, sealed.len() - 1] {
            assert!(
                matches!(open(Some(&right), &sealed[..cut]), Err(OpenError::Damaged)),
                "cut at {cut}"
            );
        }
        let mut flipped = sealed.clone();
        let last = flipped.len() - 20;
        flipped[last] ^= 1;
        assert!(matches!(
            open(Some(&right), &flipped),
            Err(OpenError::Damaged)
        ));
    }

    #[test]
    fn short_keys_and_keys_inside_the_data_dir_are_refused() {
        let err = BackupKey::new("  short\n", "backup.key".into()).expect_err("short");
        assert!(err.to_string().contains("openssl rand -hex 32"), "{err}");
        assert!(BackupKey::new(&format!("{}\n", "k".repeat(32)), "f".into()).is_ok());
        let dir = tempfile::tempdir().expect("tempdir");
        let inside = dir.path().join("secrets/backup.key");
        std::fs::create_dir_all(inside.parent().expect("parent")).expect("mkdir");
        std::fs::write(&inside, "k".repeat(64)).expect("write");
        assert!(matches!(
            BackupKey::from_file(&inside, dir.path()),
            Err(KeyError::InsideDataDir(_))
        ));
        let outside = tempfile::NamedTempFile::new().expect("file");
        std::fs::write(outside.path(), "k".repeat(64)).expect("write");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("mkdir");
        assert!(BackupKey::from_file(outside.path(), &data).is_ok());
    }
}
