//! `/series/{id}`: a show's seasons and episodes, with how far the viewer has got and a button
//! that plays the episode to go on with.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Nav, nav, render};
use crate::store::Tier;
use crate::web::series::{SeriesDetail, Shows, detail_of};
use crate::web::viewer;
use crate::web::{ApiError, AppState, PageError};

#[derive(Template)]
#[template(path = "series.html")]
struct SeriesPage {
    nav: Nav,
    s: SeriesDetail,
    premium: bool,
    admin: bool,
    /// Why the viewer cannot watch it, when they cannot.
    locked: Option<String>,
    /// The episode to go on with and its button's words ("Play S01E01", "Continue S01E03").
    next: Option<(String, String)>,
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let viewer = viewer::require(&req, &state).await?;
    let not_found = || PageError(ApiError::NotFound("This series does not exist.".into()));
    let id = crate::store::SeriesId::parse(&id).map_err(|_| not_found())?;
    let shows = Shows::load(&state, &viewer).await?;
    let series = shows.visible(&id).ok_or_else(not_found)?;
    let detail = detail_of(&state, &shows, series);
    let locked = crate::web::series::locked(&shows.episodes(&id));
    let episodes = || detail.seasons.iter().flat_map(|s| s.episodes.iter());
    let next = (detail.next_episode.as_ref())
        .and_then(|n| episodes().find(|e| &e.id == n))
        .filter(|e| e.entitled && e.playable)
        .map(|e| {
            let verb = if e.position_s.is_some_and(|p| p > 0.0) && !e.watched {
                "Continue"
            } else {
                "Play"
            };
            (e.id.clone(), format!("{verb} {} · {}", e.label, e.title))
        });
    let (nav, cookie) = nav(&req, &state, Some(&viewer));
    let page = SeriesPage {
        nav,
        premium: series.tier == Tier::Premium,
        admin: viewer.user.admin,
        locked,
        next,
        s: detail,
    };
    render(&page, StatusCode::OK, cookie)
}
