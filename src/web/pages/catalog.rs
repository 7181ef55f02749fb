//! `/`: every movie the viewer may know about, with its poster, length, tier, live transcode
//! progress, and, when it is locked for them, why.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Nav, nav, render};
use crate::catalog::Sort;
use crate::store::{MovieStatus, Tier, Timestamp};
use crate::web::viewer;
use crate::web::{AppState, PageError};

#[derive(Clone)]
pub struct Tile {
    pub id: String,
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
    let store = state.store.clone();
    let (user, plan) = (viewer.user.clone(), viewer.plan.clone());
    let (mut entries, positions) = web::block(move || {
        let entries = crate::catalog::for_viewer(&store, &user, &plan, Timestamp::now())?;
        Ok::<_, crate::store::StoreError>((entries, store.positions_of(&user.name)?))
    })
    .await??;
    let any = !entries.is_empty();
    crate::catalog::search_and_sort(&mut entries, query.q.as_deref(), sort);
    let batch = state.media.get_batch(POSTER_LINK);
    let tile = |e: &crate::catalog::CatalogEntry| {
        let m = &e.movie;
        let ready = m.status == MovieStatus::Ready;
        Tile {
            id: m.id.to_string(),
            title: m.title.clone(),
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
    let found = entries.len();
    let pages = found.div_ceil(PAGE_SIZE).max(1);
    let number = query.page.unwrap_or(1).clamp(1, pages);
    let tiles: Vec<Tile> = entries
        .iter()
        .skip((number - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .map(tile)
        .collect();
    // Only on the first page of the whole library: a search or a later page is about finding.
    let q = query.q.clone().unwrap_or_default();
    let continuing: Vec<Tile> = if number == 1 && q.trim().is_empty() {
        entries
            .iter()
            .filter(|e| {
                e.movie.is_playable()
                    && e.access.is_ok()
                    && positions
                        .get(e.movie.id.as_str())
                        .is_some_and(|p| crate::catalog::in_progress(*p, e.movie.duration_s))
            })
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
