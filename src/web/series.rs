//! Series for viewers (contract section 13): `GET /api/v1/series`, `GET /api/v1/series/{id}`,
//! and the views the catalog and series pages are drawn from.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::viewer::{self, Viewer};
use super::{ApiError, AppState};
use crate::catalog::{CatalogEntry, series as order};
use crate::media::sigv4::Batch;
use crate::store::{Movie, MovieStatus, Series, SeriesId, Tier, Timestamp};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/series", web::get().to(list))
        .route("/series/{id}", web::get().to(detail));
}

/// Poster links outlive a browsing session comfortably; pages are re-rendered on each visit.
const POSTER_LINK: Duration = Duration::from_secs(3600);

/// Everything a viewer's view of the shows is made from, read in one go.
pub struct Shows {
    pub series: Vec<Series>,
    pub entries: Vec<CatalogEntry>,
    pub positions: HashMap<String, f64>,
    /// Each series' episodes (indexes into `entries`) in play order: a catalog of thousands
    /// of episodes is grouped once per view, not once per card.
    by_series: HashMap<SeriesId, Vec<usize>>,
}

impl Shows {
    pub async fn load(state: &AppState, viewer: &Viewer) -> Result<Shows, ApiError> {
        let store = state.store.clone();
        let (user, plan) = (viewer.user.clone(), viewer.plan.clone());
        Ok(web::block(move || {
            let entries = crate::catalog::for_viewer(&store, &user, &plan, Timestamp::now())?;
            let mut by_series: HashMap<SeriesId, Vec<usize>> = HashMap::new();
            for (i, e) in entries.iter().enumerate() {
                if let Some(ep) = &e.movie.episode {
                    by_series.entry(ep.series.clone()).or_default().push(i);
                }
            }
            for list in by_series.values_mut() {
                list.sort_by(|a, b| order::play_order(&entries[*a].movie, &entries[*b].movie));
            }
            Ok::<_, crate::store::StoreError>(Shows {
                series: store.list_series()?,
                positions: store.positions_of(&user.name)?,
                entries,
                by_series,
            })
        })
        .await??)
    }

    /// The series `id`, if this viewer may know about one of its episodes.
    pub fn visible(&self, id: &SeriesId) -> Option<&Series> {
        (self.series.iter()).find(|s| &s.id == id && self.by_series.contains_key(id))
    }

    /// The episodes of a series this viewer may know about, in order, with their access.
    pub fn episodes(&self, id: &SeriesId) -> Vec<&CatalogEntry> {
        (self.by_series.get(id).into_iter().flatten())
            .map(|i| &self.entries[*i])
            .collect()
    }
}

/// A series in a list (`GET /api/v1/series`, a catalog card).
#[derive(Debug, Clone, Serialize)]
pub struct SeriesCard {
    pub id: String,
    pub title: String,
    pub year: Option<u16>,
    pub seasons: usize,
    pub episodes: usize,
    pub tier: Tier,
    pub poster_url: Option<String>,
    /// Whether this viewer may watch its episodes.
    pub entitled: bool,
}

/// One episode as the series page and `GET /api/v1/series/{id}` show it.
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeView {
    pub id: String,
    pub title: String,
    pub season: u32,
    pub episode: u32,
    pub last_episode: Option<u32>,
    pub label: String,
    pub duration_s: Option<f64>,
    pub status: String,
    pub playable: bool,
    pub entitled: bool,
    pub position_s: Option<f64>,
    /// The viewer's position passed 90% of it.
    pub watched: bool,
    /// How far in they are, 0-100, while started and not watched.
    #[serde(skip)]
    pub percent: Option<u32>,
    /// Another movie claims the same episode (the admin fixes one with `movie edit`).
    pub also_claimed_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeasonView {
    pub season: u32,
    pub episodes: Vec<EpisodeView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeriesDetail {
    #[serde(flatten)]
    pub card: SeriesCard,
    pub description: Option<String>,
    pub seasons: Vec<SeasonView>,
    /// The episode to play next for this viewer: the one they are in, else the one after
    /// the last they watched, else the first.
    pub next_episode: Option<String>,
}

/// The poster of a series: its own, else its first ready episode's.
fn poster_url(
    state: &AppState,
    batch: &Batch,
    series: &Series,
    episodes: &[&CatalogEntry],
) -> Option<String> {
    if let Some(own) = &series.poster {
        return Some(state.media.object_url(batch, &series.id, own));
    }
    let first = episodes
        .iter()
        .find(|e| e.movie.status == MovieStatus::Ready)?;
    Some(
        state
            .media
            .object_url(batch, &first.movie.id, first.movie.poster_object()),
    )
}

/// Signs poster URLs for a page or an answer's worth of cards (one signing key for all).
pub fn poster_batch(state: &AppState) -> Batch {
    state.media.get_batch(POSTER_LINK)
}

pub fn card(
    state: &AppState,
    batch: &Batch,
    series: &Series,
    episodes: &[&CatalogEntry],
) -> SeriesCard {
    let movies: Vec<Arc<Movie>> = episodes.iter().map(|e| e.movie.clone()).collect();
    SeriesCard {
        id: series.id.to_string(),
        title: series.title.clone(),
        year: series.year,
        seasons: order::season_count(&movies),
        episodes: episodes.len(),
        tier: series.tier,
        poster_url: poster_url(state, batch, series, episodes),
        entitled: episodes.iter().any(|e| e.access.is_ok()),
    }
}

/// Why the viewer may watch none of these episodes, if they may watch none.
pub fn locked(episodes: &[&CatalogEntry]) -> Option<String> {
    let mut refusals = episodes.iter().map(|e| e.access);
    let first = refusals.next()?.err()?;
    refusals.all(|a| a.is_err()).then(|| first.to_string())
}

fn episode_view(e: &CatalogEntry, positions: &HashMap<String, f64>) -> Option<EpisodeView> {
    let m = &e.movie;
    let ep = m.episode.as_ref()?;
    let position = positions.get(m.id.as_str()).copied();
    let watched = position.is_some_and(|p| order::watched(p, m.duration_s));
    Some(EpisodeView {
        id: m.id.to_string(),
        title: m.title.clone(),
        season: ep.season,
        episode: ep.episode,
        last_episode: ep.last_episode,
        label: ep.label(),
        duration_s: m.duration_s,
        status: m.status.to_string(),
        playable: m.is_playable(),
        entitled: e.access.is_ok(),
        position_s: position,
        watched,
        percent: position
            .filter(|_| !watched)
            .zip(m.duration_s.filter(|d| *d > 0.0))
            .map(|(p, d)| (p / d * 100.0).round().clamp(1.0, 99.0) as u32),
        also_claimed_by: ep.also_claimed_by.as_ref().map(ToString::to_string),
    })
}

pub fn detail_of(state: &AppState, shows: &Shows, series: &Series) -> SeriesDetail {
    let episodes = shows.episodes(&series.id);
    let movies: Vec<Arc<Movie>> = episodes.iter().map(|e| e.movie.clone()).collect();
    let mut seasons: Vec<SeasonView> = Vec::new();
    for view in episodes
        .iter()
        .filter_map(|e| episode_view(e, &shows.positions))
    {
        match seasons.last_mut() {
            Some(s) if s.season == view.season => s.episodes.push(view),
            _ => seasons.push(SeasonView {
                season: view.season,
                episodes: vec![view],
            }),
        }
    }
    let next = order::continue_with(&movies, &shows.positions)
        .or_else(|| movies.iter().find(|m| m.is_playable()).cloned());
    SeriesDetail {
        card: card(state, &poster_batch(state), series, &episodes),
        description: series.description.clone(),
        seasons,
        next_episode: next.map(|m| m.id.to_string()),
    }
}

/// `GET /api/v1/series`: every series with an episode this viewer may know about, by title.
async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let viewer = viewer::require(&req, &state).await?;
    let shows = Shows::load(&state, &viewer).await?;
    let batch = poster_batch(&state);
    let mut cards: Vec<SeriesCard> = (shows.series.iter())
        .map(|s| card(&state, &batch, s, &shows.episodes(&s.id)))
        .filter(|c| c.episodes > 0)
        .collect();
    cards.sort_by_key(|c| crate::catalog::fold(&c.title));
    Ok(HttpResponse::Ok().json(cards))
}

/// `GET /api/v1/series/{id}`: its seasons and episodes in order, with this viewer's progress.
async fn detail(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let viewer = viewer::require(&req, &state).await?;
    let id = super::stream::parse_id(&id)?;
    let shows = Shows::load(&state, &viewer).await?;
    let series = (shows.visible(&id)).ok_or_else(|| ApiError::NotFound("no such series".into()))?;
    Ok(HttpResponse::Ok().json(detail_of(&state, &shows, series)))
}
