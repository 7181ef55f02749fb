//! Typed records kept in redb (JSON-encoded, so adding a field with a serde default needs no
//! migration) and the small value types they are built from.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::ids::{MovieId, Username};

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: Username,
    /// argon2id PHC string.
    pub password_hash: String,
    pub admin: bool,
    pub created_at: Timestamp,
    /// Sign-in refused and no session honoured; everything of theirs kept.
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub tier: Tier,
    /// A premium plan lapses at this time; `None` means until changed.
    #[serde(default)]
    pub until: Option<Timestamp>,
    /// This user's number of screens, instead of the plan's (`[plans]`); 0 is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screens: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub user: Username,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// What signed in ("Firefox on Linux"), from where, and when it was last used: shown on
    /// the account page so a viewer can tell their sessions apart and end one.
    #[serde(default)]
    pub device: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub last_seen: Option<Timestamp>,
}

impl Session {
    pub fn new(user: Username, created_at: Timestamp, expires_at: Timestamp) -> Session {
        Session {
            user,
            created_at,
            expires_at,
            device: String::new(),
            address: String::new(),
            last_seen: None,
        }
    }

    /// The id the account page names it by: the start of its token's hash (which is only a
    /// name: neither it nor the whole hash opens the session).
    pub fn public_id(token_hash: &str) -> &str {
        token_hash.get(..16).unwrap_or(token_hash)
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at
    }
}

/// The tracks a viewer last chose in the player, applied to every movie that has them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    /// BCP 47 language of the audio to pick.
    #[serde(default)]
    pub audio_lang: Option<String>,
    /// BCP 47 language of the subtitles to show, or `off`.
    #[serde(default)]
    pub subtitle_lang: Option<String>,
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
    /// HLS VIDEO-RANGE (`PQ`, `HLG`) of a row that keeps the source's HDR; `None` is SDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_range: Option<String>,
}

/// One audio rendition: a source audio stream encoded once as stereo AAC, shared by every rung.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioRendition {
    /// `audio_1`...: its directory under `movies/{id}/` and its playlist's name.
    pub name: String,
    /// BCP 47 (`en`, `fr`, `pt-BR`, `und`).
    pub lang: String,
    /// What players show: "English 5.1", "Français", a commentary's title.
    pub label: String,
    /// Channels delivered (the rendition is stereo).
    pub channels: u32,
    /// Channels of the source stream it was made from.
    pub source_channels: u32,
    pub default: bool,
    pub bandwidth: u64,
    pub average_bandwidth: u64,
}

/// One WebVTT subtitle rendition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtitleRendition {
    /// `subs_fr`, `subs_fr_2`...
    pub name: String,
    pub lang: String,
    pub label: String,
    pub forced: bool,
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
    #[serde(default)]
    pub audio: Vec<AudioRendition>,
    #[serde(default)]
    pub subtitles: Vec<SubtitleRendition>,
    /// Where the source's time 0 lands in the published segments' timeline (the first frame's
    /// presentation time out minus in): the `X-TIMESTAMP-MAP` of every subtitle.
    #[serde(default)]
    pub video_start_s: f64,
    /// What the ingest skipped or changed and why ("image subtitles cannot become WebVTT").
    #[serde(default)]
    pub notes: Vec<String>,
    /// The first segments of every rendition are published: viewers may start while the rest
    /// transcodes (always true once ready).
    #[serde(default)]
    pub playable: bool,
    /// The year of release, from the file name (`Inception.2010.1080p.mkv`) or set by hand.
    #[serde(default)]
    pub year: Option<u16>,
    /// The source file's content fingerprint (`ingest::fingerprint`): a folder import skips a
    /// file whose content is already in the library.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// A few lines about the film, shown on its card and watch page.
    #[serde(default)]
    pub description: Option<String>,
    /// The object name of a poster uploaded by hand (`poster-<random>.jpg`: a new name each time,
    /// so no cache keeps showing the old one); `None` is the frame the ingest picked.
    #[serde(default)]
    pub poster: Option<String>,
    /// The seek-bar thumbnails the ingest made, if any (movies ingested before they existed
    /// have none).
    #[serde(default)]
    pub thumbnails: Option<Thumbnails>,
    /// The video encoder settings its published segments were made with (preset, rate control,
    /// codecs): an interrupted ingest continues them only under the same settings, because a
    /// segment from another encoder set-up does not decode with the init segment already
    /// published. `None` for movies ingested before this was recorded.
    #[serde(default)]
    pub encoder: Option<String>,
    /// What was in the store when the movie was last published or changed: `streamd check`
    /// compares the store with it. `None` until recorded (movies published before streamd
    /// recorded it get one at the next `serve`).
    #[serde(default)]
    pub inventory: Option<Inventory>,
    /// The series it is an episode of, if it is one (contract section 13).
    #[serde(default)]
    pub episode: Option<Episode>,
}

/// Where a movie sits in a series. The series' title and tier are copied onto each episode
/// (and kept in step in the same transaction as any change to them), so listing movies never
/// joins two tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    pub series: SeriesId,
    pub series_title: String,
    /// 0 holds the specials.
    pub season: u32,
    pub episode: u32,
    /// The last episode of a double one (`S01E01E02` is episode 1, last 2).
    #[serde(default)]
    pub last_episode: Option<u32>,
    /// Another movie already claimed this season and episode when this one came in: both are
    /// kept, this one is flagged until someone fixes either with `movie edit`.
    #[serde(default)]
    pub also_claimed_by: Option<MovieId>,
}

impl Episode {
    /// `S01E02`, or `S01E01-E02` for a double episode.
    pub fn label(&self) -> String {
        match self.last_episode {
            Some(last) => format!("S{:02}E{:02}-E{last:02}", self.season, self.episode),
            None => format!("S{:02}E{:02}", self.season, self.episode),
        }
    }

    /// The order episodes play in: season, then episode.
    pub fn order(&self) -> (u32, u32) {
        (self.season, self.episode)
    }
}

/// A series' id has a movie id's shape (and generation), in its own namespace.
pub type SeriesId = MovieId;

/// A show: what its episodes share (contract section 13). Its tier is every episode's tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub id: SeriesId,
    pub title: String,
    #[serde(default)]
    pub year: Option<u16>,
    #[serde(default)]
    pub description: Option<String>,
    pub tier: Tier,
    /// The object name (under `series/{id}/`) of a poster set by hand; `None` shows the first
    /// episode's.
    #[serde(default)]
    pub poster: Option<String>,
    pub created_at: Timestamp,
}

/// A change to a series (`streamd series edit`): absent fields stay; `year` or `description`
/// null is cleared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesEdit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub year: Option<Option<u16>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
}

impl SeriesEdit {
    /// The same rules as a movie's metadata.
    pub fn check(&self) -> Result<(), String> {
        MovieEdit {
            title: self.title.clone(),
            year: self.year,
            description: self.description.clone(),
            tier: self.tier,
            ..MovieEdit::default()
        }
        .check()
    }

    pub fn apply(&self, series: &mut Series) {
        if let Some(title) = &self.title {
            series.title = title.trim().to_string();
        }
        if let Some(year) = self.year {
            series.year = year;
        }
        if let Some(d) = &self.description {
            series.description = tidy_description(d);
        }
        if let Some(tier) = self.tier {
            series.tier = tier;
        }
    }
}

/// Where a movie goes in a series, as someone asked for it: `series` is a series id or a
/// title (which joins the series of that title, case and punctuation aside, or starts one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpisodeClaim {
    pub series: String,
    #[serde(default)]
    pub year: Option<u16>,
    pub season: u32,
    pub episode: u32,
    #[serde(default)]
    pub last_episode: Option<u32>,
}

/// A summary of a published movie's objects; the object `inventory.json` beside them names each
/// one with its size, and `manifest_bytes` is that file's own size, so a damaged or missing
/// manifest is told apart from a damaged movie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    pub objects: u64,
    pub bytes: u64,
    pub manifest_bytes: u64,
}

/// Seek-bar thumbnails: `count` pictures of `width` x `height`, one every `interval_s` from the
/// start, tiled `columns` x `rows` per JPEG sprite `thumbnails/sprite_NNN.jpg` (from 000), in
/// reading order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thumbnails {
    pub interval_s: u32,
    pub width: u32,
    pub height: u32,
    pub columns: u32,
    pub rows: u32,
    pub count: u32,
}

impl Thumbnails {
    /// The sprite holding picture `n`, and where in it: (object name, x, y).
    pub fn locate(&self, n: u32) -> (String, u32, u32) {
        let per_sprite = (self.columns * self.rows).max(1);
        let cell = n % per_sprite;
        (
            format!("thumbnails/sprite_{:03}.jpg", n / per_sprite),
            cell % self.columns.max(1) * self.width,
            cell / self.columns.max(1) * self.height,
        )
    }

    pub fn sprites(&self) -> u32 {
        self.count.div_ceil((self.columns * self.rows).max(1))
    }
}

impl Movie {
    /// A movie just queued for ingest: nothing measured yet.
    pub fn new(id: MovieId, title: String, tier: Tier, created_at: Timestamp) -> Movie {
        Movie {
            id,
            title,
            tier,
            status: MovieStatus::Queued,
            duration_s: None,
            renditions: vec![],
            created_at,
            progress: None,
            error: None,
            audio: vec![],
            subtitles: vec![],
            video_start_s: 0.0,
            notes: vec![],
            playable: false,
            year: None,
            fingerprint: None,
            description: None,
            poster: None,
            thumbnails: None,
            encoder: None,
            inventory: None,
            episode: None,
        }
    }

    /// The object name of the poster shown for it.
    pub fn poster_object(&self) -> &str {
        self.poster.as_deref().unwrap_or("poster.jpg")
    }

    /// Whether viewers may open its stream: ready, or transcoding with its start published.
    pub fn is_playable(&self) -> bool {
        self.status == MovieStatus::Ready || (self.playable && self.status != MovieStatus::Failed)
    }

    /// The names of every playlist a viewer may ask for: rungs, audio and subtitles.
    pub fn has_rendition(&self, name: &str) -> bool {
        self.renditions.iter().any(|r| r.name == name)
            || self.audio.iter().any(|a| a.name == name)
            || self.subtitles.iter().any(|s| s.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_rfc3339() {
        let t = Timestamp::parse_rfc3339("2027-01-31T12:00:00Z").expect("parse");
        assert_eq!(t.to_rfc3339(), "2027-01-31T12:00:00Z");
        assert!(Timestamp::parse_rfc3339("next tuesday").is_err());
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
    /// Subtitle files given with the source (`ingest --subtitle`, sidecars beside it).
    #[serde(default)]
    pub sidecars: Vec<Sidecar>,
}

/// A subtitle file to import with a movie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    pub path: std::path::PathBuf,
    /// As given (`fr`, `fre`, `pt-BR`); `None` for `und`.
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub forced: bool,
    /// Found beside the movie rather than named by the user: left out when the source already
    /// carries a text subtitle in that language (an extracted copy of an embedded track).
    #[serde(default)]
    pub found_beside: bool,
}

/// What a finished ingest publishes about a movie.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Published {
    pub duration_s: f64,
    pub renditions: Vec<RenditionInfo>,
    pub audio: Vec<AudioRendition>,
    pub subtitles: Vec<SubtitleRendition>,
    pub video_start_s: f64,
    pub notes: Vec<String>,
    pub thumbnails: Option<Thumbnails>,
}

/// A change to a movie's metadata (`streamd movie edit`, `PATCH /api/v1/movies/{id}`, the admin
/// page): an absent field stays as it is; `year` or `description` set to null is cleared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MovieEdit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub year: Option<Option<u16>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    /// The series it is an episode of: an id or a title (see [`EpisodeClaim`]); null makes it
    /// a film again.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub series: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub season: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode: Option<u32>,
}

/// A field that is there, even as null (`Some(None)`); an absent one stays `None` (default).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The highest season and episode numbers taken (0 is the specials' season; no episode 0).
pub const MAX_SEASON: u32 = 100;
pub const MAX_EPISODE: u32 = 500;

/// A description as kept: trimmed, and none rather than an empty one.
fn tidy_description(d: &Option<String>) -> Option<String> {
    d.as_ref()
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
}

/// Longest description kept: a few paragraphs, not a document.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;

impl MovieEdit {
    /// What is wrong with it, in words for the person who sent it.
    pub fn check(&self) -> Result<(), String> {
        if let Some(title) = &self.title {
            let n = title.trim().chars().count();
            if n == 0 || n > 200 {
                return Err("a title is 1 to 200 characters".into());
            }
        }
        if let Some(Some(year)) = self.year
            && !(1888..=2100).contains(&year)
        {
            return Err(format!("{year} is not a film's year (1888-2100)"));
        }
        if let Some(Some(d)) = &self.description
            && d.chars().count() > MAX_DESCRIPTION_CHARS
        {
            return Err(format!(
                "a description is at most {MAX_DESCRIPTION_CHARS} characters"
            ));
        }
        if let Some(season) = self.season
            && season > MAX_SEASON
        {
            return Err(format!("a season is 0 to {MAX_SEASON}, not {season}"));
        }
        if let Some(episode) = self.episode
            && !(1..=MAX_EPISODE).contains(&episode)
        {
            return Err(format!("an episode is 1 to {MAX_EPISODE}, not {episode}"));
        }
        if let Some(Some(series)) = &self.series
            && series.trim().is_empty()
        {
            return Err("a series is an id or a title".into());
        }
        if self == &MovieEdit::default() {
            return Err(
                "nothing to change: give a title, year, description, tier, series, season or \
                 episode"
                    .into(),
            );
        }
        Ok(())
    }

    pub fn apply(&self, movie: &mut Movie) {
        if let Some(title) = &self.title {
            movie.title = title.trim().to_string();
        }
        if let Some(year) = self.year {
            movie.year = year;
        }
        if let Some(d) = &self.description {
            movie.description = tidy_description(d);
        }
        if let Some(tier) = self.tier {
            movie.tier = tier;
        }
    }
}
