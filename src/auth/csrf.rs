//! CSRF protection for HTML forms: a signed double-submit token. The browser holds a random
//! nonce in an HttpOnly SameSite=Strict cookie; each form carries HMAC(key, nonce), which a
//! cross-site page can neither read nor forge.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const COOKIE_NAME: &str = "streamd_csrf";
pub const FORM_FIELD: &str = "csrf";

#[derive(Clone)]
pub struct Csrf {
    key: Vec<u8>,
}

impl Csrf {
    pub fn new(key: &[u8]) -> Self {
        Csrf { key: key.to_vec() }
    }

    pub fn new_nonce() -> String {
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn mac(&self, nonce: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(b"streamd-csrf\0");
        mac.update(nonce.as_bytes());
        mac
    }

    pub fn token_for(&self, nonce: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(nonce).finalize().into_bytes())
    }

    /// Constant-time check of a submitted form token against the cookie's nonce.
    pub fn verify(&self, nonce: &str, token: &str) -> bool {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        !nonce.is_empty() && self.mac(nonce).verify_slice(&raw).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_verifies_only_with_its_nonce_and_key() {
        let csrf = Csrf::new(b"k1");
        let nonce = Csrf::new_nonce();
        let token = csrf.token_for(&nonce);
        assert!(csrf.verify(&nonce, &token));
        assert!(!csrf.verify(&Csrf::new_nonce(), &token));
        assert!(!Csrf::new(b"k2").verify(&nonce, &token));
        assert!(!csrf.verify(&nonce, ""));
        assert!(!csrf.verify("", &csrf.token_for("")));
        assert!(!csrf.verify(&nonce, "!!not base64"));
    }
}
