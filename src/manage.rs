//! The operator's commands (users, plans, grants, the movie list) as data: the CLI runs them on
//! the database directly, or sends them to the running server, which runs the same code.

use serde::{Deserialize, Serialize};

use crate::auth::password::{self, PasswordError};
use crate::ingest::Ingester;
use crate::store::{
    Grant, Movie, MovieId, Plan, Sidecar, Store, StoreError, Tier, Timestamp, User, Username,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    UserAdd {
        name: String,
        admin: bool,
        plan: Tier,
        password: String,
    },
    UserPlan {
        name: String,
        tier: Tier,
        until: Option<String>,
        /// Screens for this user instead of the plan's; `None` keeps what was set.
        #[serde(default)]
        screens: Option<u32>,
    },
    UserPasswd {
        name: String,
        password: String,
    },
    UserList,
    /// Remove a user with their sessions, grants, positions and preferences.
    UserRemove {
        name: String,
    },
    /// Refuse a user's sign-in and end their sessions (`disabled: false` enables).
    UserDisable {
        name: String,
        disabled: bool,
    },
    Grant {
        name: String,
        movie: String,
        until: Option<String>,
    },
    Revoke {
        name: String,
        movie: String,
    },
    Movies,
    /// Queue a local file for ingest.
    Ingest {
        path: std::path::PathBuf,
        #[serde(flatten)]
        movie: crate::ingest::NewMovie,
    },
    /// Add a subtitle file to a ready movie (no re-encode).
    SubtitleAdd {
        movie: String,
        subtitle: Sidecar,
    },
    /// Remove a ready movie's subtitles in a language.
    SubtitleRemove {
        movie: String,
        lang: String,
    },
    /// One movie's status and progress.
    Movie {
        id: String,
    },
    /// Change a movie's title, year, description or tier.
    MovieEdit {
        id: String,
        edit: crate::store::MovieEdit,
    },
    /// Make a JPEG or PNG file the poster of a ready movie.
    MoviePoster {
        id: String,
        path: std::path::PathBuf,
    },
    /// Delete a movie: its records, grants and objects (a running server stops its encode).
    MovieDelete {
        id: String,
    },
    /// Write a backup of the database and the secrets to a file (an absolute path).
    Backup {
        path: std::path::PathBuf,
        /// A key file (`--key`): the backup is encrypted with it.
        #[serde(default)]
        key: Option<std::path::PathBuf>,
    },
    /// Check that every ready movie's objects are in the store, whole.
    Check,
    /// Encrypt a movie published clear (`None`: every one not encrypted yet).
    Encrypt {
        id: Option<String>,
    },
    /// Every series with its season and episode counts.
    SeriesList,
    /// Change a series' title, year, description or tier (the tier of all its episodes).
    SeriesEdit {
        id: String,
        edit: crate::store::SeriesEdit,
    },
    /// Make a JPEG or PNG file a series' poster.
    SeriesPoster {
        id: String,
        path: std::path::PathBuf,
    },
    /// Let a user watch every episode of a series, those added later included.
    GrantSeries {
        name: String,
        series: String,
        until: Option<String>,
    },
    RevokeSeries {
        name: String,
        series: String,
    },
}

impl Command {
    /// Whether running it hashes a password (so a server runs it on the blocking pool anyway,
    /// and a caller knows it takes tens of milliseconds).
    pub fn hashes_password(&self) -> bool {
        matches!(self, Command::UserAdd { .. } | Command::UserPasswd { .. })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "outcome", content = "data", rename_all = "snake_case")]
pub enum Outcome {
    Done { message: String },
    Users(Vec<UserView>),
    Movies(Vec<MovieView>),
    Movie(Box<MovieView>),
    Backup(crate::backup::Summary),
    Check(crate::backup::check::Report),
    Encrypted(Vec<crate::ingest::encrypt::Encrypted>),
    Series(Vec<SeriesView>),
}

/// A series as the CLI shows it (the API adds its poster's URL).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeriesView {
    pub id: String,
    pub title: String,
    pub year: Option<u16>,
    pub description: Option<String>,
    pub tier: Tier,
    pub seasons: usize,
    pub episodes: usize,
}

impl SeriesView {
    pub fn new(series: &crate::store::Series, episodes: &[std::sync::Arc<Movie>]) -> Self {
        SeriesView {
            id: series.id.to_string(),
            title: series.title.clone(),
            year: series.year,
            description: series.description.clone(),
            tier: series.tier,
            seasons: crate::catalog::series::season_count(episodes),
            episodes: episodes.len(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserView {
    pub name: String,
    pub admin: bool,
    pub plan: Tier,
    pub plan_until: Option<String>,
    /// Screens for this user instead of the plan's (0 unlimited); `None`: the plan's.
    #[serde(default)]
    pub screens: Option<u32>,
    pub created_at: String,
    #[serde(default)]
    pub disabled: bool,
}

impl UserView {
    pub fn new(user: &User, plan: &Plan) -> Self {
        UserView {
            name: user.name.to_string(),
            admin: user.admin,
            plan: plan.tier,
            plan_until: plan.until.map(Timestamp::to_rfc3339),
            screens: plan.screens,
            created_at: user.created_at.to_rfc3339(),
            disabled: user.disabled,
        }
    }
}

/// A movie as the API and the CLI show it (CONTRACT.md section 3).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MovieView {
    pub id: String,
    pub title: String,
    /// The year of release, or null.
    #[serde(default)]
    pub year: Option<u16>,
    #[serde(default)]
    pub description: Option<String>,
    /// When it was added to the library (RFC 3339).
    #[serde(default)]
    pub added_at: String,
    pub tier: Tier,
    pub status: String,
    pub duration_s: Option<f64>,
    pub renditions: Vec<String>,
    /// Viewers may press play: ready, or transcoding with its start published.
    #[serde(default)]
    pub playable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<crate::store::Progress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub audio: Vec<AudioView>,
    #[serde(default)]
    pub subtitles: Vec<SubtitleView>,
    /// What the ingest skipped or changed (image subtitles, downmixes, tone-mapping).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The series it is an episode of, or null (contract section 13).
    #[serde(default)]
    pub series: Option<SeriesRef>,
}

/// Where an episode sits, as the movie JSON shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeriesRef {
    pub id: String,
    pub title: String,
    pub season: u32,
    pub episode: u32,
    /// The last episode of a double one (`S01E01E02`: episode 1, last 2), or null.
    pub last_episode: Option<u32>,
    /// `S01E02` (`S01E01-E02` for a double).
    pub label: String,
    /// Another movie that claimed the same season and episode first, or null.
    pub also_claimed_by: Option<String>,
}

impl From<&crate::store::Episode> for SeriesRef {
    fn from(e: &crate::store::Episode) -> Self {
        SeriesRef {
            id: e.series.to_string(),
            title: e.series_title.clone(),
            season: e.season,
            episode: e.episode,
            last_episode: e.last_episode,
            label: e.label(),
            also_claimed_by: e.also_claimed_by.as_ref().map(ToString::to_string),
        }
    }
}

/// An audio rendition as the API shows it (CONTRACT.md section 6).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AudioView {
    pub lang: String,
    pub name: String,
    pub channels: u32,
    pub default: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubtitleView {
    pub lang: String,
    pub name: String,
    pub forced: bool,
}

impl From<&Movie> for MovieView {
    fn from(m: &Movie) -> Self {
        MovieView {
            id: m.id.to_string(),
            title: m.title.clone(),
            year: m.year,
            description: m.description.clone(),
            added_at: m.created_at.to_rfc3339(),
            tier: m.tier,
            status: m.status.to_string(),
            duration_s: m.duration_s,
            renditions: m.renditions.iter().map(|r| r.name.clone()).collect(),
            playable: m.is_playable(),
            progress: m.progress.clone(),
            error: m.error.clone(),
            audio: m
                .audio
                .iter()
                .map(|a| AudioView {
                    lang: a.lang.clone(),
                    name: a.label.clone(),
                    channels: a.channels,
                    default: a.default,
                })
                .collect(),
            subtitles: m
                .subtitles
                .iter()
                .map(|s| SubtitleView {
                    lang: s.lang.clone(),
                    name: s.label.clone(),
                    forced: s.forced,
                })
                .collect(),
            notes: m.notes.clone(),
            series: m.episode.as_ref().map(SeriesRef::from),
        }
    }
}

/// One series, as a list of one.
fn series_outcome(store: &Store, series: &crate::store::Series) -> Result<Outcome, ManageError> {
    let episodes = crate::catalog::series::episodes_of(&series.id, &store.movies_shared()?);
    Ok(Outcome::Series(vec![SeriesView::new(series, &episodes)]))
}

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<crate::ingest::IngestError> for ManageError {
    fn from(e: crate::ingest::IngestError) -> Self {
        use crate::ingest::IngestError;
        match e {
            IngestError::Store(e) => e.into(),
            e @ (IngestError::NotReady(_) | IngestError::NoSuchSubtitle(_)) => {
                ManageError::NotFound(e.to_string())
            }
            other => ManageError::Invalid(other.to_string()),
        }
    }
}

impl From<StoreError> for ManageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UserNotFound(_)
            | StoreError::MovieNotFound(_)
            | StoreError::SeriesNotFound(_) => ManageError::NotFound(e.to_string()),
            StoreError::BadEdit(why) => ManageError::Invalid(why),
            StoreError::UserExists(_) | StoreError::LastAdmin(_) => {
                ManageError::Conflict(e.to_string())
            }
            other => ManageError::Store(other),
        }
    }
}

fn username(name: &str) -> Result<Username, ManageError> {
    Username::parse(name).map_err(ManageError::Invalid)
}

fn movie_id(id: &str) -> Result<MovieId, ManageError> {
    MovieId::parse(id).map_err(ManageError::Invalid)
}

fn until(text: Option<&str>, now: Timestamp) -> Result<Option<Timestamp>, ManageError> {
    let Some(text) = text else { return Ok(None) };
    let t = Timestamp::parse_rfc3339(text).map_err(ManageError::Invalid)?;
    if t <= now {
        return Err(ManageError::Invalid(format!(
            "--until {text} is in the past"
        )));
    }
    Ok(Some(t))
}

impl Command {
    /// Whether running it needs the object store and ffmpeg, not only the database.
    pub fn needs_media(&self) -> bool {
        matches!(
            self,
            Command::SubtitleAdd { .. }
                | Command::SubtitleRemove { .. }
                | Command::MoviePoster { .. }
                | Command::MovieDelete { .. }
                | Command::Check
                | Command::Encrypt { .. }
                | Command::SeriesPoster { .. }
        )
    }
}

/// Runs one command with everything it may need: subtitle changes publish objects, the rest
/// goes to [`execute`]. Blocking.
pub fn execute_with(ingester: &Ingester, command: Command) -> Result<Outcome, ManageError> {
    match command {
        Command::SubtitleAdd { movie, subtitle } => {
            let id = movie_id(&movie)?;
            let updated = ingester.add_subtitle(&id, subtitle)?;
            Ok(Outcome::Movie(Box::new(MovieView::from(&updated))))
        }
        Command::SubtitleRemove { movie, lang } => {
            let id = movie_id(&movie)?;
            let updated = ingester.remove_subtitle(&id, &lang)?;
            Ok(Outcome::Movie(Box::new(MovieView::from(&updated))))
        }
        Command::MoviePoster { id, path } => {
            let id = movie_id(&id)?;
            let updated = ingester.set_poster(&id, &path)?;
            Ok(Outcome::Movie(Box::new(MovieView::from(&updated))))
        }
        Command::MovieDelete { id } => {
            let id = movie_id(&id)?;
            match ingester.delete(&id)? {
                Some(movie) => Ok(Outcome::Done {
                    message: format!("deleted {:?} ({id}) and its objects", movie.title),
                }),
                None => Err(ManageError::NotFound(format!("no movie with id {id}"))),
            }
        }
        Command::Check => {
            let report = crate::backup::check::run(&ingester.store, &ingester.media)
                .map_err(|e| ManageError::Invalid(e.to_string()))?;
            Ok(Outcome::Check(report))
        }
        Command::Encrypt { id: Some(id) } => {
            Ok(Outcome::Encrypted(vec![ingester.encrypt(&movie_id(&id)?)?]))
        }
        Command::Encrypt { id: None } => Ok(Outcome::Encrypted(ingester.encrypt_all()?)),
        Command::SeriesPoster { id, path } => {
            let id = movie_id(&id)?;
            let series = ingester.set_series_poster(&id, &path)?;
            series_outcome(&ingester.store, &series)
        }
        other => execute(&ingester.store, other),
    }
}

/// Runs one command against the database. Blocking (redb, argon2): call from a blocking context.
pub fn execute(store: &Store, command: Command) -> Result<Outcome, ManageError> {
    let now = Timestamp::now();
    let done = |message: String| Ok(Outcome::Done { message });
    match command {
        Command::UserAdd {
            name,
            admin,
            plan,
            password,
        } => {
            let name = username(&name)?;
            if store.user(&name)?.is_some() {
                return Err(StoreError::UserExists(name).into());
            }
            let user = User {
                password_hash: password::hash(&password)?,
                name,
                admin,
                created_at: now,
                disabled: false,
            };
            store.create_user(
                &user,
                &Plan {
                    tier: plan,
                    until: None,
                    screens: None,
                },
            )?;
            let role = if admin { "admin" } else { "user" };
            done(format!("created {role} {} on the {plan} plan", user.name))
        }
        Command::UserPlan {
            name,
            tier,
            until: until_text,
            screens,
        } => {
            let name = username(&name)?;
            let until = until(until_text.as_deref(), now)?;
            let screens = match screens {
                Some(n) => Some(n),
                None => store.plan(&name)?.screens,
            };
            store.set_plan(
                &name,
                &Plan {
                    tier,
                    until,
                    screens,
                },
            )?;
            let suffix = until.map(|t| format!(" until {t}")).unwrap_or_default();
            let screens = match screens {
                Some(0) => ", unlimited screens".to_string(),
                Some(n) => format!(", {n} screen{}", if n == 1 { "" } else { "s" }),
                None => String::new(),
            };
            done(format!("{name} is now on the {tier} plan{suffix}{screens}"))
        }
        Command::UserPasswd { name, password } => {
            let name = username(&name)?;
            let hash = password::hash(&password)?;
            store.set_password_hash(&name, hash)?;
            done(format!(
                "password of {name} changed; their sessions were ended"
            ))
        }
        Command::UserList => Ok(Outcome::Users(
            store
                .list_users()?
                .iter()
                .map(|(u, p)| UserView::new(u, p))
                .collect(),
        )),
        Command::Grant {
            name,
            movie,
            until: until_text,
        } => {
            let name = username(&name)?;
            let movie = movie_id(&movie)?;
            let until = until(until_text.as_deref(), now)?;
            store.put_grant(
                &name,
                &movie,
                &Grant {
                    granted_at: now,
                    until,
                },
            )?;
            let suffix = until.map(|t| format!(" until {t}")).unwrap_or_default();
            done(format!("{name} may watch {movie}{suffix}"))
        }
        Command::Revoke { name, movie } => {
            let name = username(&name)?;
            let movie = movie_id(&movie)?;
            if store.remove_grant(&name, &movie)? {
                done(format!("revoked {name}'s grant for {movie}"))
            } else {
                Err(ManageError::NotFound(format!(
                    "{name} holds no grant for {movie}"
                )))
            }
        }
        Command::Movies => Ok(Outcome::Movies(
            store.list_movies()?.iter().map(MovieView::from).collect(),
        )),
        Command::Ingest { path, movie: new } => {
            let new = crate::ingest::NewMovie {
                // A path named over the socket is never the server's to delete.
                remove_source: false,
                ..new
            };
            let movie = crate::ingest::enqueue(store, &path, new)?;
            Ok(Outcome::Movie(Box::new(MovieView::from(&movie))))
        }
        Command::SubtitleAdd { .. }
        | Command::SubtitleRemove { .. }
        | Command::MoviePoster { .. }
        | Command::MovieDelete { .. }
        | Command::Check
        | Command::Encrypt { .. }
        | Command::SeriesPoster { .. } => Err(ManageError::Invalid(
            "subtitle, poster and delete commands need the object store: use execute_with".into(),
        )),
        Command::Backup { path, key } => {
            let data_dir = store.data_dir();
            let summary = (key.as_deref())
                .map(|file| crate::backup::BackupKey::from_file(file, &data_dir))
                .transpose()
                .map_err(|e| ManageError::Invalid(e.to_string()))
                .and_then(|key| {
                    crate::backup::in_background(|| {
                        crate::backup::write(store, &data_dir, &path, key.as_ref())
                    })
                    .map_err(|e| ManageError::Invalid(e.to_string()))
                })?;
            Ok(Outcome::Backup(summary))
        }
        Command::UserRemove { name } => {
            let name = username(&name)?;
            store.remove_user(&name)?;
            done(format!(
                "removed {name}: their sessions ended, their grants, positions and preferences are gone"
            ))
        }
        Command::UserDisable { name, disabled } => {
            let name = username(&name)?;
            store.set_disabled(&name, disabled)?;
            done(if disabled {
                format!("disabled {name}: sign-in refused, sessions ended, their data kept")
            } else {
                format!("enabled {name}: they can sign in again")
            })
        }
        Command::MovieEdit { id, edit } => {
            let id = movie_id(&id)?;
            edit.check().map_err(ManageError::Invalid)?;
            let movie = store
                .edit_movie(&id, &edit)?
                .ok_or_else(|| ManageError::NotFound(format!("no movie with id {id}")))?;
            Ok(Outcome::Movie(Box::new(MovieView::from(&movie))))
        }
        Command::SeriesList => {
            let movies = store.movies_shared()?;
            let mut all: Vec<SeriesView> = (store.list_series()?.iter())
                .map(|s| SeriesView::new(s, &crate::catalog::series::episodes_of(&s.id, &movies)))
                .collect();
            all.sort_by_key(|s| crate::catalog::fold(&s.title));
            Ok(Outcome::Series(all))
        }
        Command::SeriesEdit { id, edit } => {
            let id = movie_id(&id)?;
            edit.check().map_err(ManageError::Invalid)?;
            let series = store.edit_series(&id, &edit)?;
            series_outcome(store, &series)
        }
        Command::GrantSeries {
            name,
            series,
            until: until_text,
        } => {
            let name = username(&name)?;
            let series = movie_id(&series)?;
            let until = until(until_text.as_deref(), now)?;
            store.put_series_grant(
                &name,
                &series,
                &Grant {
                    granted_at: now,
                    until,
                },
            )?;
            let suffix = until.map(|t| format!(" until {t}")).unwrap_or_default();
            done(format!(
                "{name} may watch every episode of series {series}{suffix}"
            ))
        }
        Command::RevokeSeries { name, series } => {
            let name = username(&name)?;
            let series = movie_id(&series)?;
            if store.remove_series_grant(&name, &series)? {
                done(format!("revoked {name}'s grant for series {series}"))
            } else {
                Err(ManageError::NotFound(format!(
                    "{name} holds no grant for series {series}"
                )))
            }
        }
        Command::Movie { id } => {
            let id = movie_id(&id)?;
            let movie = store
                .movie(&id)?
                .ok_or_else(|| ManageError::NotFound(format!("no movie with id {id}")))?;
            Ok(Outcome::Movie(Box::new(MovieView::from(&movie))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_lifecycle_through_commands() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let add = Command::UserAdd {
            name: "Ann".into(),
            admin: false,
            plan: Tier::Free,
            password: "long enough".into(),
        };
        execute(&store, add.clone()).expect("add");
        assert!(matches!(
            execute(&store, add),
            Err(ManageError::Conflict(_))
        ));
        execute(
            &store,
            Command::UserPlan {
                name: "ann".into(),
                tier: Tier::Premium,
                until: Some("2999-01-01T00:00:00Z".into()),
                screens: None,
            },
        )
        .expect("plan");
        let Outcome::Users(users) = execute(&store, Command::UserList).expect("list") else {
            panic!("expected users");
        };
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].plan, Tier::Premium);
        assert_eq!(users[0].plan_until.as_deref(), Some("2999-01-01T00:00:00Z"));

        let past = Command::UserPlan {
            name: "ann".into(),
            tier: Tier::Premium,
            until: Some("2001-01-01T00:00:00Z".into()),
            screens: None,
        };
        assert!(matches!(
            execute(&store, past),
            Err(ManageError::Invalid(_))
        ));
        let short = Command::UserPasswd {
            name: "ann".into(),
            password: "short".into(),
        };
        assert!(matches!(
            execute(&store, short),
            Err(ManageError::Password(_))
        ));
        let revoke = Command::Revoke {
            name: "ann".into(),
            movie: "nothing".into(),
        };
        assert!(matches!(
            execute(&store, revoke),
            Err(ManageError::NotFound(_))
        ));
    }
}
