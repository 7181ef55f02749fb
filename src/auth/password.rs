//! argon2id password hashing with the crate's defaults, which are OWASP's (m=19456 KiB, t=2, p=1).

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Longer passwords are refused before hashing: argon2 over a megabyte is a cheap DoS.
pub const MAX_PASSWORD_BYTES: usize = 1024;
pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("passwords must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("passwords must be at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Checks the length rules a new password must meet.
pub fn validate_new(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    Ok(())
}

pub fn hash(password: &str) -> Result<String, PasswordError> {
    validate_new(password)?;
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Verifies against a stored PHC string. `None` for the hash (unknown user) still runs a full
/// argon2 verification against a fixed hash, so both failures cost the same time.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let (phc, real) = match stored {
        Some(h) => (h, true),
        None => (dummy_hash(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // verify_password compares in constant time.
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && real
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("streamd-no-such-user-placeholder").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let h = hash("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse", Some(&h)));
        assert!(!verify("wrong horse!", Some(&h)));
        assert_ne!(h, hash("correct horse").expect("hash"), "salted");
    }

    #[test]
    fn unknown_user_never_verifies() {
        assert!(!verify("streamd-no-such-user-placeholder", None));
        assert!(!verify("anything", Some("not a phc string")));
    }

    #[test]
    fn length_limits() {
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(matches!(hash(&long), Err(PasswordError::TooLong)));
        assert!(!verify(&long, None));
    }
}
