//! Typed records kept in redb (JSON-encoded, so adding a field with a serde default needs no
//! migration) and the small value types they are built from.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch; what every expiry in the database is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
    }

    pub fn plus(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        )
    }

    /// Parses an RFC 3339 date-time such as `2027-01-31T00:00:00Z`.
    pub fn parse_rfc3339(text: &str) -> Result<Self, String> {
        let t = humantime::parse_rfc3339_weak(text).map_err(|e| {
            format!("{text:?} is not an RFC 3339 time ({e}); e.g. 2027-01-31T00:00:00Z")
        })?;
        let secs = t
            .duration_since(UNIX_EPOCH)
            .map_err(|_| format!("{text:?} is before 1970"))?
            .as_secs();
        Ok(Timestamp(i64::try_from(secs).unwrap_or(i64::MAX)))
    }

    pub fn to_rfc3339(self) -> String {
        let secs = u64::try_from(self.0).unwrap_or(0);
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    #[default]
    Free,
    Premium,
}

impl std::str::FromStr for Tier {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "free" => Ok(Tier::Free),
            "premium" => Ok(Tier::Premium),
            other => Err(format!("{other:?} is not a tier: use free or premium")),
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Tier::Free => "free",
            Tier::Premium => "premium",
        })
    }
}

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

    /// 12 random URL-safe characters (72 bits): unguessable enough that ids leak nothing.
    pub fn generate() -> Self {
        use base64::Engine;
        use rand::RngCore;
        let mut bytes = [0u8; 9];
        rand::rng().fill_bytes(&mut bytes);
        MovieId(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: Username,
    /// argon2id PHC string.
    pub password_hash: String,
    pub admin: bool,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub tier: Tier,
    /// A premium plan lapses at this time; `None` means until changed.
    #[serde(default)]
    pub until: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub user: Username,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Session {
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub granted_at: Timestamp,
    #[serde(default)]
    pub until: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MovieStatus {
    Queued,
    Running,
    Ready,
    Failed,
}

impl fmt::Display for MovieStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            MovieStatus::Queued => "queued",
            MovieStatus::Running => "running",
            MovieStatus::Ready => "ready",
            MovieStatus::Failed => "failed",
        })
    }
}

/// One row of the ladder as measured after the encode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenditionInfo {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bandwidth: u64,
    pub average_bandwidth: u64,
    pub codecs: String,
    pub frame_rate: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub percent: f64,
    pub speed: f64,
    pub eta_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Movie {
    pub id: MovieId,
    pub title: String,
    pub tier: Tier,
    pub status: MovieStatus,
    #[serde(default)]
    pub duration_s: Option<f64>,
    #[serde(default)]
    pub renditions: Vec<RenditionInfo>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub progress: Option<Progress>,
    /// Why the last ingest failed, in ffmpeg's own words where it gave any.
    #[serde(default)]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn timestamps_round_trip_rfc3339() {
        let t = Timestamp::parse_rfc3339("2027-01-31T12:00:00Z").expect("parse");
        assert_eq!(t.to_rfc3339(), "2027-01-31T12:00:00Z");
        assert!(Timestamp::parse_rfc3339("next tuesday").is_err());
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

/// An ingest job: one per movie, kept until the movie is deleted so its history stays readable.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub movie: MovieId,
    pub source: std::path::PathBuf,
    /// Uploaded sources belong to streamd and are deleted once the job ends; a file named on
    /// the command line belongs to the user and is left alone.
    pub remove_source: bool,
    pub state: JobState,
    pub attempts: u32,
    pub queued_at: Timestamp,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
}
