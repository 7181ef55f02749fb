//! The identifiers every part of streamd passes around (a movie, a user), validated once at the
//! edge; store/, media/, auth/ and web/ all use them, so they belong to none of them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A validated user name: 1-64 of `A-Z a-z 0-9 . _ -`, compared case-insensitively (stored
/// lower-case) so `Alice` and `alice` cannot be two accounts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

pub const MAX_USERNAME_LEN: usize = 64;

impl Username {
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok_chars = text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if text.is_empty() || text.len() > MAX_USERNAME_LEN || !ok_chars {
            return Err(format!(
                "user names are 1-{MAX_USERNAME_LEN} characters of A-Z, a-z, 0-9, '.', '_' or '-'"
            ));
        }
        Ok(Username(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Username::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A movie id: a short URL-safe string (what CONTRACT.md section 4 puts in object keys).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MovieId(String);

impl MovieId {
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok = (1..=32).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(MovieId(text.to_string()))
        } else {
            Err(format!("{text:?} is not a movie id"))
        }
    }

    /// 12 random URL-safe characters (72 bits): unguessable enough that ids leak nothing. Never
    /// beginning with `-` or `_`: command lines take `-9abc` for a flag (one id in 32 did).
    pub fn generate() -> Self {
        use base64::Engine;
        use rand::RngCore;
        let mut bytes = [0u8; 9];
        loop {
            rand::rng().fill_bytes(&mut bytes);
            // The first character is the top six bits of the first byte: 62 and 63 are `-`
            // and `_` in the URL-safe alphabet.
            if bytes[0] >> 2 < 62 {
                return MovieId(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MovieId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        MovieId::parse(&s)
    }
}

impl From<MovieId> for String {
    fn from(m: MovieId) -> String {
        m.0
    }
}

impl fmt::Display for MovieId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_movie_ids_never_begin_with_a_dash_or_an_underscore() {
        // 2,000 draws: the old ids began with one of them one time in 32, so about 60 would.
        for _ in 0..2000 {
            let id = MovieId::generate();
            assert!(!id.as_str().starts_with(['-', '_']), "{id}");
            assert_eq!(id.as_str().len(), 12);
            assert_eq!(MovieId::parse(id.as_str()), Ok(id));
        }
        // Ids made before keep working.
        assert!(MovieId::parse("-9abcdefghij").is_ok());
    }

    #[test]
    fn usernames_are_validated_and_case_folded() {
        assert_eq!(
            Username::parse("Alice.B-2").expect("ok").as_str(),
            "alice.b-2"
        );
        for bad in ["", "a b", "../x", "é", &"x".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn movie_ids_are_url_safe() {
        let id = MovieId::generate();
        assert_eq!(id.as_str().len(), 12);
        assert!(MovieId::parse(id.as_str()).is_ok());
        for bad in ["", "../etc", "a/b", "a%2e", &"x".repeat(33)] {
            assert!(MovieId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
