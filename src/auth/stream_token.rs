//! Stream tokens: HMAC-SHA256 over (user, movie, scope, expiry), carried in the `token` query
//! parameter of master and variant playlist URLs. The key id travels in the token, so keys can
//! be rotated (new key first in `hmac.keys`) without ending anyone's playback.
//!
//! Format: `{key_id}.{expires_unix}.{base64url(user)}.{base64url(mac)}`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::secrets::HmacKey;
use crate::store::{MovieId, Timestamp, Username};

/// What a token opens: the master playlist of a movie, or one rendition's variant playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    Master,
    Rendition(&'a str),
    /// The segment keys of an encrypted movie (every key; each fetch is checked anew).
    Keys,
    /// A rendition or the keys within one playback session: the token is good only beside
    /// that session's id (`play=`), so its signs of life and its stop reach the right one.
    InPlayback(&'a Scope<'a>, &'a str),
}

impl Scope<'_> {
    fn label(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Scope::Master => "master".into(),
            Scope::Rendition(r) => (*r).into(),
            // No rendition has this name (they are 480p..., audio_N, subs_xx, thumbnails).
            Scope::Keys => "keys/".into(),
            // No label above holds a '|'.
            Scope::InPlayback(scope, id) => format!("{}|play={id}", scope.label()).into(),
        }
    }
}

/// Why a token was refused; each is counted separately in the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token signed with a retired key")]
    UnknownKey,
    #[error("token signature does not match")]
    BadSignature,
    #[error("token has expired")]
    Expired,
}

impl TokenError {
    pub fn reason(self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed",
            TokenError::UnknownKey => "unknown_key",
            TokenError::BadSignature => "bad_signature",
            TokenError::Expired => "expired",
        }
    }
}

#[derive(Clone)]
pub struct StreamTokens {
    keys: Vec<HmacKey>,
}

fn mac(key: &[u8], user: &str, movie: &str, scope: &str, expires: i64) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    for part in ["streamd-stream", user, movie, scope] {
        mac.update(part.as_bytes());
        mac.update(b"\0");
    }
    mac.update(expires.to_string().as_bytes());
    mac
}

impl StreamTokens {
    /// `keys` newest first: the first signs, all verify.
    pub fn new(keys: Vec<HmacKey>) -> Self {
        StreamTokens { keys }
    }

    pub fn sign(
        &self,
        user: &Username,
        movie: &MovieId,
        scope: Scope,
        expires: Timestamp,
    ) -> String {
        let key = &self.keys[0];
        let tag = mac(
            &key.key,
            user.as_str(),
            movie.as_str(),
            &scope.label(),
            expires.0,
        )
        .finalize()
        .into_bytes();
        format!(
            "{}.{}.{}.{}",
            key.id,
            expires.0,
            URL_SAFE_NO_PAD.encode(user.as_str()),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Checks a token for this movie and scope (constant-time) and returns whose it is.
    pub fn verify(
        &self,
        token: &str,
        movie: &MovieId,
        scope: Scope,
        now: Timestamp,
    ) -> Result<Username, TokenError> {
        let mut parts = token.split('.');
        let (Some(kid), Some(exp), Some(user_b64), Some(sig_b64), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        let expires = canonical_expiry(exp).ok_or(TokenError::Malformed)?;
        let user = URL_SAFE_NO_PAD
            .decode(user_b64)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|u| Username::parse(&u).ok())
            .ok_or(TokenError::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig_b64)
            .map_err(|_| TokenError::Malformed)?;
        // One grant, one spelling: the name must come back exactly as `sign` wrote it (user
        // names are stored lower-case), and the signature must be a whole HMAC-SHA256.
        if URL_SAFE_NO_PAD.encode(user.as_str()) != user_b64 || sig.len() != 32 {
            return Err(TokenError::Malformed);
        }
        let key = self
            .keys
            .iter()
            .find(|k| k.id == kid)
            .ok_or(TokenError::UnknownKey)?;
        mac(
            &key.key,
            user.as_str(),
            movie.as_str(),
            &scope.label(),
            expires,
        )
        .verify_slice(&sig)
        .map_err(|_| TokenError::BadSignature)?;
        if now.0 >= expires {
            return Err(TokenError::Expired);
        }
        Ok(user)
    }
}

/// The expiry as `sign` writes it: decimal digits, no sign, no leading zero. Anything else
/// (`+2000`, `02000`, ` 2000`) would be a second spelling of the same token.
fn canonical_expiry(text: &str) -> Option<i64> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> HmacKey {
        HmacKey {
            id: id.into(),
            key: vec![byte; 32],
        }
    }

    fn ids() -> (Username, MovieId, MovieId) {
        (
            Username::parse("ann").expect("user"),
            MovieId::parse("movie1").expect("id"),
            MovieId::parse("movie2").expect("id"),
        )
    }

    #[test]
    fn a_token_opens_only_its_movie_scope_and_time() {
        let tokens = StreamTokens::new(vec![key("k1", 1)]);
        let (ann, m1, m2) = ids();
        let now = Timestamp(1000);
        let t = tokens.sign(&ann, &m1, Scope::Rendition("720p"), Timestamp(2000));
        assert_eq!(
            tokens.verify(&t, &m1, Scope::Rendition("720p"), now),
            Ok(ann.clone())
        );
        assert_eq!(
            tokens.verify(&t, &m2, Scope::Rendition("720p"), now),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            tokens.verify(&t, &m1, Scope::Rendition("1080p"), now),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            tokens.verify(&t, &m1, Scope::Master, now),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            tokens.verify(&t, &m1, Scope::Rendition("720p"), Timestamp(2000)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn tampering_is_detected() {
        let tokens = StreamTokens::new(vec![key("k1", 1)]);
        let (ann, m1, _) = ids();
        let t = tokens.sign(&ann, &m1, Scope::Master, Timestamp(2000));
        let parts: Vec<&str> = t.split('.').collect();
        let longer = format!("{}.{}.{}.{}", parts[0], 99999, parts[2], parts[3]);
        let bob = format!(
            "{}.{}.{}.{}",
            parts[0],
            parts[1],
            URL_SAFE_NO_PAD.encode("bob"),
            parts[3]
        );
        let now = Timestamp(1000);
        assert_eq!(
            tokens.verify(&longer, &m1, Scope::Master, now),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            tokens.verify(&bob, &m1, Scope::Master, now),
            Err(TokenError::BadSignature)
        );
        for junk in ["", "a.b.c", "k1.x.y.z", "k1.1.!!.zz", "k1.1.YW5u.zz.extra"] {
            assert_eq!(
                tokens.verify(junk, &m1, Scope::Master, now),
                Err(TokenError::Malformed),
                "{junk}"
            );
        }
    }

    #[test]
    fn a_token_has_exactly_one_spelling() {
        let tokens = StreamTokens::new(vec![key("k1", 1)]);
        let (ann, m1, _) = ids();
        let t = tokens.sign(&ann, &m1, Scope::Master, Timestamp(2000));
        let now = Timestamp(1000);
        assert_eq!(tokens.verify(&t, &m1, Scope::Master, now), Ok(ann));
        let parts: Vec<&str> = t.split('.').collect();
        let respell = |exp: &str, user: &str, sig: &str| format!("{}.{exp}.{user}.{sig}", parts[0]);
        let sig_padded = format!("{}=", parts[3]);
        let variants = [
            respell("+2000", parts[2], parts[3]),
            respell("02000", parts[2], parts[3]),
            respell(" 2000", parts[2], parts[3]),
            respell("2000", &URL_SAFE_NO_PAD.encode("ANN"), parts[3]),
            respell("2000", &URL_SAFE_NO_PAD.encode("Ann"), parts[3]),
            respell("2000", parts[2], &sig_padded),
            respell("2000", parts[2], &parts[3][..parts[3].len() - 4]),
        ];
        for v in variants {
            assert_ne!(v, t);
            assert_eq!(
                tokens.verify(&v, &m1, Scope::Master, now),
                Err(TokenError::Malformed),
                "{v}"
            );
        }
    }

    #[test]
    fn old_keys_still_verify_after_rotation_and_removed_ones_do_not() {
        let (ann, m1, _) = ids();
        let old = StreamTokens::new(vec![key("old", 1)]);
        let t = old.sign(&ann, &m1, Scope::Master, Timestamp(2000));
        let rotated = StreamTokens::new(vec![key("new", 2), key("old", 1)]);
        assert_eq!(
            rotated.verify(&t, &m1, Scope::Master, Timestamp(1)),
            Ok(ann.clone())
        );
        assert!(
            rotated
                .sign(&ann, &m1, Scope::Master, Timestamp(2000))
                .starts_with("new.")
        );
        let retired = StreamTokens::new(vec![key("new", 2)]);
        assert_eq!(
            retired.verify(&t, &m1, Scope::Master, Timestamp(1)),
            Err(TokenError::UnknownKey)
        );
    }
}
