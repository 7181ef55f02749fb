//! `/`: every movie the viewer may know about, with its poster, length, tier, live transcode
//! progress, and, when it is locked for them, why.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Nav, nav, render};
use crate::store::{MovieStatus, Tier, Timestamp};
use crate::web::viewer;
use crate::web::{AppState, PageError};

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
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    nav: Nav,
    tiles: Vec<Tile>,
}

/// Poster links outlive a browsing session comfortably; the page is re-rendered on each visit.
const POSTER_LINK: Duration = Duration::from_secs(3600);

pub async fn page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, PageError> {
    let viewer = viewer::require(&req, &state).await?;
    let store = state.store.clone();
    let (user, plan) = (viewer.user.clone(), viewer.plan.clone());
    let entries =
        web::block(move || crate::catalog::for_viewer(&store, &user, &plan, Timestamp::now()))
            .await??;
    let batch = state.media.get_batch(POSTER_LINK);
    let tiles = entries
        .iter()
        .map(|e| {
            let m = &e.movie;
            let ready = m.status == MovieStatus::Ready;
            Tile {
                id: m.id.to_string(),
                title: m.title.clone(),
                premium: m.tier == Tier::Premium,
                minutes: m.duration_s.map(|d| (d / 60.0).round().max(1.0) as u64),
                status: m.status.to_string(),
                percent: m.progress.as_ref().map(|p| p.percent.round() as u32),
                poster: ready.then(|| state.media.object_url(&batch, &m.id, "poster.jpg")),
                locked: e.access.err().map(|d| d.to_string()),
                playable: m.is_playable() && e.access.is_ok(),
                error: m.error.clone(),
            }
        })
        .collect();
    let (nav, cookie) = nav(&req, &state, Some(&viewer));
    render(&CatalogPage { nav, tiles }, StatusCode::OK, cookie)
}
