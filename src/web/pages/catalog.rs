//! `/`: every movie the viewer may know about, with its poster, length, tier, live transcode
//! progress, and, when it is locked for them, why.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Nav, nav, render};
use crate::catalog::{CatalogEntry, Sort};
use crate::store::{MovieStatus, SeriesId, Tier};
use crate::web::viewer;
use crate::web::{AppState, PageError};

#[derive(Clone)]
pub struct Tile {
    pub id: String,
    /// Where the card leads: the player, or a series' page.
    pub href: String,
    /// A series card's "2 seasons · 14 episodes"; `None` for a film or an episode.
    pub series: Option<String>,
    pub title: String,
    pub premium: bool,
    pub minutes: Option<u64>,
    pub status: String,
    pub percent: Option<u32>,
    pub poster: Option<String>,
    /// Why the viewer cannot watch it, if they cannot.
    pub locked: Option<String>,
    pub playable: bool,
    pub error: Option<String>,
    pub year: Option<u16>,
    pub description: Option<String>,
    /// "Audio: en, fr · Subtitles: fr", or empty.
    pub languages: String,
    /// How much of it this viewer has watched, when they have started and not finished it.
    pub watched_percent: Option<u32>,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    nav: Nav,
    tiles: Vec<Tile>,
    /// Started and not finished, most recently added first.
    continuing: Vec<Tile>,
    q: String,
    sort: &'static str,
    /// The library has movies, whether or not the search found any.
    any: bool,
    /// How many the search found, and which page of them this is (from 1).
    found: usize,
    page: usize,
    pages: usize,
    /// Links to the pages before and after, keeping the search and the sort.
    previous: Option<String>,
    next: Option<String>,
}

/// What the catalog shows one card for: a film, or a whole show.
enum Card<'a> {
    Film(&'a CatalogEntry),
    Series(SeriesId),
}

#[derive(serde::Deserialize)]
pub struct Query {
    q: Option<String>,
    sort: Option<String>,
    page: Option<usize>,
}

/// Tiles per page: a few screens of posters. A library of thousands is browsed by search and
/// sort, and a page of all of them would be megabytes of HTML.
const PAGE_SIZE: usize = 60;

/// `/?q=..&sort=..&page=N`.
fn page_link(q: &str, sort: &str, page: usize) -> String {
    let mut link = String::from("/?");
    if !q.is_empty() {
        link.push_str("q=");
        crate::media::sigv4::uri_encode(q.as_bytes(), false, &mut link);
        link.push('&');
    }
    link.push_str(&format!("sort={sort}&page={page}"));
    link
}

pub(super) fn languages(m: &crate::store::Movie) -> String {
    let join = |langs: Vec<&str>| {
        let mut seen: Vec<&str> = Vec::new();
        for l in langs {
            if l != "und" && !seen.contains(&l) {
                seen.push(l);
            }
        }
        seen.join(", ")
    };
    let audio = join(m.audio.iter().map(|a| a.lang.as_str()).collect());
    let subs = join(m.subtitles.iter().map(|s| s.lang.as_str()).collect());
    match (audio.is_empty(), subs.is_empty()) {
        (false, false) => format!("Audio: {audio} · Subtitles: {subs}"),
        (false, true) => format!("Audio: {audio}"),
        (true, false) => format!("Subtitles: {subs}"),
        (true, true) => String::new(),
    }
}

/// Poster links outlive a browsing session comfortably; the page is re-rendered on each visit.
const POSTER_LINK: Duration = Duration::from_secs(3600);

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Query>,
) -> Result<HttpResponse, PageError> {
    let viewer = viewer::require(&req, &state).await?;
    // An unknown sort is the default one here: a page, unlike the API, should just show.
    let sort: Sort = query
        .sort
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let shows = crate::web::series::Shows::load(&state, &viewer).await?;
    let positions = &shows.positions;
    let mut entries: Vec<&CatalogEntry> = shows.entries.iter().collect();
    let any = !entries.is_empty();
    crate::catalog::search_and_sort(&mut entries, query.q.as_deref(), sort);
    let batch = state.media.get_batch(POSTER_LINK);
    let tile = |e: &CatalogEntry| {
        let m = &e.movie;
        let ready = m.status == MovieStatus::Ready;
        Tile {
            id: m.id.to_string(),
            href: format!("/watch/{}", m.id),
            series: None,
            title: match &m.episode {
                Some(ep) => format!("{} · {} · {}", ep.series_title, ep.label(), m.title),
                None => m.title.clone(),
            },
            premium: m.tier == Tier::Premium,
            minutes: m.duration_s.map(|d| (d / 60.0).round().max(1.0) as u64),
            status: m.status.to_string(),
            percent: m.progress.as_ref().map(|p| p.percent.round() as u32),
            poster: ready.then(|| state.media.object_url(&batch, &m.id, m.poster_object())),
            locked: e.access.err().map(|d| d.to_string()),
            playable: m.is_playable() && e.access.is_ok(),
            error: m.error.clone(),
            year: m.year,
            description: m.description.clone(),
            languages: languages(m),
            watched_percent: positions
                .get(m.id.as_str())
                .filter(|p| crate::catalog::in_progress(**p, m.duration_s))
                .zip(m.duration_s)
                .map(|(p, d)| (p / d * 100.0).round() as u32),
        }
    };
    // A show is one card, where its first episode in this order would be.
    let mut cards: Vec<Card> = Vec::new();
    let mut shown = std::collections::HashSet::new();
    for e in &entries {
        match &e.movie.episode {
            None => cards.push(Card::Film(e)),
            Some(ep) if shown.insert(&ep.series) => cards.push(Card::Series(ep.series.clone())),
            Some(_) => {}
        }
    }
    let series_tile = |id: &SeriesId| {
        let series = shows.series.iter().find(|s| &s.id == id)?;
        let episodes = shows.episodes(id);
        let card = crate::web::series::card(&state, &batch, series, &episodes);
        Some(Tile {
            id: card.id.clone(),
            href: format!("/series/{}", card.id),
            series: Some(format!(
                "{} season{} · {} episode{}",
                card.seasons,
                if card.seasons == 1 { "" } else { "s" },
                card.episodes,
                if card.episodes == 1 { "" } else { "s" }
            )),
            title: card.title,
            premium: card.tier == Tier::Premium,
            minutes: None,
            status: "ready".into(),
            percent: None,
            poster: card.poster_url,
            locked: crate::web::series::locked(&episodes),
            playable: true,
            error: None,
            year: card.year,
            description: series.description.clone(),
            languages: String::new(),
            watched_percent: None,
        })
    };
    let found = cards.len();
    let pages = found.div_ceil(PAGE_SIZE).max(1);
    let number = query.page.unwrap_or(1).clamp(1, pages);
    let tiles: Vec<Tile> = cards
        .iter()
        .skip((number - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .filter_map(|c| match c {
            Card::Film(e) => Some(tile(e)),
            Card::Series(id) => series_tile(id),
        })
        .collect();
    // Only on the first page of the whole library: a search or a later page is about finding.
    let q = query.q.clone().unwrap_or_default();
    // A film started and not finished; of a show, only the episode to go on with.
    let continuing: Vec<Tile> = if number == 1 && q.trim().is_empty() {
        cards
            .iter()
            .filter_map(|c| match c {
                Card::Film(e) => positions
                    .get(e.movie.id.as_str())
                    .is_some_and(|p| crate::catalog::in_progress(*p, e.movie.duration_s))
                    .then_some(*e),
                Card::Series(id) => {
                    let episodes = shows.episodes(id);
                    let movies: Vec<_> = episodes.iter().map(|e| e.movie.clone()).collect();
                    let next = crate::catalog::series::continue_with(&movies, positions)?;
                    episodes.into_iter().find(|e| e.movie.id == next.id)
                }
            })
            .filter(|e| e.movie.is_playable() && e.access.is_ok())
            .take(12)
            .map(tile)
            .collect()
    } else {
        vec![]
    };
    let sort = match sort {
        Sort::Title => "title",
        Sort::Added => "added",
        Sort::Year => "year",
    };
    let (nav, cookie) = nav(&req, &state, Some(&viewer));
    let page = CatalogPage {
        nav,
        tiles,
        continuing,
        previous: (number > 1).then(|| page_link(&q, sort, number - 1)),
        next: (number < pages).then(|| page_link(&q, sort, number + 1)),
        q,
        sort,
        any,
        found,
        page: number,
        pages,
    };
    render(&page, StatusCode::OK, cookie)
}
