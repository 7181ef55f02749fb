//! Session tokens: 256 random bits handed to the browser, only their SHA-256 kept in redb.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const COOKIE_NAME: &str = "streamd_session";

/// A fresh token for the cookie and the hash to store under.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// The key a token is stored under. Anything that is not a well-formed token hashes to a key
/// no session has, so lookups need no separate validation.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_stored_hashed() {
        let (token, hash) = new_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).expect("b64").len(), 32);
        assert_eq!(hash, hash_token(&token));
        assert_ne!(hash, token);
        assert_ne!(new_token().0, token);
    }
}
