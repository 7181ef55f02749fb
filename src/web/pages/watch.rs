//! `/watch/{id}`: the player page. A movie the viewer may not watch, or one not ready yet, gets
//! a page that says so, never a broken player.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Nav, nav, render};
use crate::auth::check_entitlement;
use crate::store::{MovieId, MovieStatus, Timestamp};
use crate::web::viewer;
use crate::web::{ApiError, AppState, PageError};

#[derive(Template)]
#[template(path = "watch.html")]
struct WatchPage {
    nav: Nav,
    id: String,
    title: String,
    resume: f64,
    poster: String,
    /// The signed seek-bar thumbnails track, "" when the movie has none.
    thumbnails: String,
    /// The viewer's remembered choices ("" when none): the player applies them.
    audio_lang: String,
    subtitle_lang: String,
    /// Still transcoding: the stream grows while it plays.
    growing: bool,
    /// The whole film's length, for the seek bar of a growing stream.
    duration: f64,
    /// "2001 · 122 min · Audio: fr · Subtitles: en", the parts known.
    facts: String,
    description: Option<String>,
    /// An episode's show, linked: (series id, "Show · S01E02").
    series: Option<(String, String)>,
    /// The episode "Up next" offers at the end: (movie id, "S01E03 · Title").
    next: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "unavailable.html")]
struct Unavailable {
    nav: Nav,
    title: String,
    reason: String,
    percent: Option<u32>,
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let viewer = viewer::require(&req, &state).await?;
    let not_found = || {
        PageError(ApiError::NotFound(
            "This movie does not exist (any more).".into(),
        ))
    };
    let id = MovieId::parse(&id).map_err(|_| not_found())?;
    let store = state.store.clone();
    let name = viewer.user.name.clone();
    let lookup = id.clone();
    let (movie, grant, position, prefs) = web::block(move || {
        let movie = store.movie(&lookup)?;
        let grant = match &movie {
            Some(movie) => store.grant_for(&name, movie)?,
            None => None,
        };
        Ok::<_, crate::store::StoreError>((
            movie,
            grant,
            store.position(&name, &lookup)?,
            store.preferences(&name)?,
        ))
    })
    .await??;
    let movie = movie.ok_or_else(not_found)?;
    let (nav, cookie) = nav(&req, &state, Some(&viewer));
    let access = check_entitlement(
        &viewer.user,
        &viewer.plan,
        movie.tier,
        grant.as_ref(),
        Timestamp::now(),
    );
    if let Err(denied) = access {
        let page = Unavailable {
            nav,
            title: movie.title,
            reason: format!("Locked: {denied}."),
            percent: None,
        };
        return render(&page, StatusCode::FORBIDDEN, cookie);
    }
    if !movie.is_playable() {
        let reason = match movie.status {
            MovieStatus::Failed => "This movie could not be transcoded.".to_string(),
            _ => "This movie is still being prepared.".to_string(),
        };
        let page = Unavailable {
            nav,
            title: movie.title,
            reason,
            percent: movie.progress.map(|p| p.percent.round() as u32),
        };
        return render(&page, StatusCode::OK, cookie);
    }
    let next = match &movie.episode {
        Some(ep) => {
            let store = state.store.clone();
            let series = ep.series.clone();
            let all = web::block(move || store.movies_shared()).await??;
            let episodes = crate::catalog::series::episodes_of(&series, &all);
            crate::catalog::series::next_after(&episodes, &movie)
                .filter(|m| m.is_playable())
                .map(|m| {
                    let label = m.episode.as_ref().map(|e| e.label()).unwrap_or_default();
                    (m.id.to_string(), format!("{label} · {}", m.title))
                })
        }
        None => None,
    };
    let series = (movie.episode.as_ref()).map(|e| {
        (
            e.series.to_string(),
            format!("{} · {}", e.series_title, e.label()),
        )
    });
    let growing = movie.status != MovieStatus::Ready;
    let batch = state.media.get_batch(std::time::Duration::from_secs(3600));
    let duration = movie.duration_s.unwrap_or(0.0);
    // Resuming in the last seconds would just end the film again: start over instead.
    let resume = position
        .filter(|p| *p > 5.0 && *p < duration - 10.0)
        .unwrap_or(0.0);
    let page = WatchPage {
        nav,
        // The poster is made at the end of the transcode.
        poster: if growing {
            String::new()
        } else {
            state
                .media
                .object_url(&batch, &movie.id, movie.poster_object())
        },
        thumbnails: crate::web::stream::thumbnails_url(&state, &viewer.user.name, &movie)
            .unwrap_or_default(),
        growing,
        duration,
        facts: [
            movie.year.map(|y| y.to_string()),
            movie
                .duration_s
                .map(|d| format!("{} min", (d / 60.0).round().max(1.0))),
            Some(super::catalog::languages(&movie)).filter(|l| !l.is_empty()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · "),
        description: movie.description.clone(),
        series,
        next,
        id: movie.id.to_string(),
        title: movie.title,
        resume,
        audio_lang: prefs.audio_lang.unwrap_or_default(),
        subtitle_lang: prefs.subtitle_lang.unwrap_or_default(),
    };
    render(&page, StatusCode::OK, cookie)
}
