//! Screens per plan and the sessions a viewer can see and end (contract section 10).
//! A playback begins at `GET /stream/{id}` (one per browser, or per playback token for an
//! external player) and stays alive while its player fetches playlists or keys or saves its
//! position; past the plan's screens a new one is refused with the ones in use, which the
//! viewer can stop. The account page lists sign-in sessions and playbacks, each endable.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{ApiError, AppState, viewer};
use crate::auth::screens;
use crate::store::playbacks::{Liveness, Playback, Viewer as Screens};
use crate::store::{Movie, MovieId, Plan, Session, Timestamp, User};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/playback/{id}", web::delete().to(stop))
        .route("/account/sessions", web::get().to(account_sessions))
        .route("/account/sessions/{id}", web::delete().to(end_session))
        .route(
            "/account/logout-everywhere",
            web::post().to(logout_everywhere),
        );
}

/// A playback as the viewer is shown it (the 409 answer, the account page).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaybackView {
    pub id: String,
    pub device: String,
    /// The movie's id, and its title to show.
    pub movie: String,
    pub title: String,
    pub user: String,
    pub started_at: String,
    pub last_seen: String,
}

impl PlaybackView {
    pub fn new(p: &Playback, titles: &impl Fn(&MovieId) -> String) -> PlaybackView {
        PlaybackView {
            id: p.id.clone(),
            device: p.device.clone(),
            movie: p.movie.to_string(),
            title: titles(&p.movie),
            user: p.user.to_string(),
            started_at: p.started_at.to_rfc3339(),
            last_seen: p.last_seen.to_rfc3339(),
        }
    }
}

/// A sign-in session as the account page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub id: String,
    pub user: String,
    pub device: String,
    pub address: String,
    pub signed_in_at: String,
    pub last_seen: String,
    /// The one this request came with.
    pub current: bool,
}

impl SessionView {
    fn new(hash: &str, s: &Session, current: &str) -> SessionView {
        SessionView {
            id: Session::public_id(hash).to_string(),
            user: s.user.to_string(),
            device: if s.device.is_empty() {
                "Unknown device".into()
            } else {
                s.device.clone()
            },
            address: s.address.clone(),
            signed_in_at: s.created_at.to_rfc3339(),
            last_seen: s.last_seen.unwrap_or(s.created_at).to_rfc3339(),
            current: hash == current,
        }
    }
}

/// Whose playback a request starts: the browser's sign-in session, or the playback token an
/// external player was given.
fn owner(req: &HttpRequest, token: Option<&str>) -> Option<String> {
    match token {
        Some(t) => Some(format!("t:{}", hex::encode(&Sha256::digest(t)[..16]))),
        None => (req.cookie(crate::auth::session::COOKIE_NAME))
            .map(|c| format!("s:{}", crate::auth::session::hash_token(c.value()))),
    }
}

/// Titles of movies by id, for showing playbacks.
fn titles(movies: &[std::sync::Arc<Movie>]) -> impl Fn(&MovieId) -> String + '_ {
    move |id| {
        (movies.iter().find(|m| &m.id == id)).map_or_else(|| id.to_string(), |m| m.title.clone())
    }
}

async fn too_many(state: &AppState, in_use: Vec<Playback>) -> ApiError {
    let store = state.store.clone();
    let movies = web::block(move || store.movies_shared()).await;
    let movies = match movies {
        Ok(Ok(m)) => m,
        _ => Default::default(),
    };
    let names = titles(&movies);
    ApiError::TooManyScreens(
        in_use
            .iter()
            .map(|p| PlaybackView::new(p, &names))
            .collect(),
    )
}

/// `GET /stream/{id}`: starts (or goes on with) the requester's playback of `movie`.
pub async fn begin(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    plan: &Plan,
    movie: &MovieId,
    token: Option<&str>,
) -> Result<Playback, ApiError> {
    let owner = owner(req, token).ok_or(ApiError::Unauthorized)?;
    let device = screens::device(viewer::user_agent(req));
    let store = state.store.clone();
    let (user, plan, movie) = (user.clone(), plan.clone(), movie.clone());
    let idle = state.config.protection.session_idle;
    let screens = screens::screens(&user, &plan, &state.config.plans, Timestamp::now());
    let started = web::block(move || {
        let viewer = Screens {
            user: &user.name,
            screens,
        };
        store.start_playback(viewer, &owner, &device, &movie, idle)
    })
    .await??;
    match started {
        Ok(playback) => Ok(playback),
        Err(in_use) => Err(too_many(state, in_use).await),
    }
}

/// A playlist or key request of playback `play`: a sign of life, refused when the playback
/// was stopped or lost its screen while idle.
pub async fn sign_of_life(
    state: &AppState,
    user: &User,
    plan: &Plan,
    play: &str,
) -> Result<(), ApiError> {
    let store = state.store.clone();
    let (user, plan, play) = (user.clone(), plan.clone(), play.to_string());
    let idle = state.config.protection.session_idle;
    let screens = screens::screens(&user, &plan, &state.config.plans, Timestamp::now());
    let liveness = web::block(move || {
        let viewer = Screens {
            user: &user.name,
            screens,
        };
        store.touch_playback(&play, viewer, idle)
    })
    .await??;
    match liveness {
        // Forgotten a week after its last sign of life: a player back from a long pause.
        Liveness::Alive(_) | Liveness::Unknown => Ok(()),
        Liveness::Stopped => Err(ApiError::PlaybackStopped),
        Liveness::TooMany(in_use) => Err(too_many(state, in_use).await),
    }
}

/// For requests that name no playback (the page's position saves, a key fetched with the
/// session cookie): the browser's own playback, if it has one.
pub async fn browser_sign_of_life(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    plan: &Plan,
) -> Result<(), ApiError> {
    let Some(owner) = owner(req, None) else {
        return Ok(());
    };
    let store = state.store.clone();
    let Some(playback) = web::block(move || store.owner_playback(&owner)).await?? else {
        return Ok(());
    };
    sign_of_life(state, user, plan, &playback.id).await
}

/// `DELETE /api/v1/playback/{id}`: the viewer stops one of their playbacks (an admin, anyone's).
async fn stop(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let me = viewer::require(&req, &state).await?;
    if !super::upload::same_origin(&req) {
        return Err(ApiError::Forbidden("cross-site request refused"));
    }
    let store = state.store.clone();
    let id = id.into_inner();
    let idle = state.config.protection.session_idle;
    let stopped = web::block(move || {
        let mine = store
            .live_playbacks(None, idle)?
            .into_iter()
            .find(|p| p.id == id);
        match mine {
            Some(p) if p.user == me.user.name || me.user.admin => store.stop_playback(&p.id),
            _ => Ok(None),
        }
    })
    .await??;
    match stopped {
        Some(p) => {
            tracing::info!(user = %p.user, device = %p.device, "playback stopped");
            Ok(HttpResponse::NoContent().finish())
        }
        None => Err(ApiError::NotFound("no such playback".into())),
    }
}

/// What the account page and `GET /api/v1/account/sessions` show: the viewer's sign-in
/// sessions and playbacks (for an admin's `/admin`, every user's).
#[derive(Serialize)]
pub struct Sessions {
    pub sessions: Vec<SessionView>,
    pub playbacks: Vec<PlaybackView>,
}

pub async fn sessions_of(
    state: &AppState,
    viewer: &viewer::Viewer,
    everyone: bool,
) -> Result<Sessions, ApiError> {
    let store = state.store.clone();
    let name = viewer.user.name.clone();
    let current = viewer.session.clone();
    let idle = state.config.protection.session_idle;
    web::block(move || {
        let now = Timestamp::now();
        let users = match everyone {
            true => store
                .list_users()?
                .into_iter()
                .map(|(u, _)| u.name)
                .collect(),
            false => vec![name.clone()],
        };
        let mut sessions = Vec::new();
        for user in &users {
            for (hash, s) in store.sessions_of(user, now)? {
                sessions.push(SessionView::new(&hash, &s, &current));
            }
        }
        let movies = store.movies_shared()?;
        let names = titles(&movies);
        let playbacks = store
            .live_playbacks((!everyone).then_some(&name), idle)?
            .iter()
            .map(|p| PlaybackView::new(p, &names))
            .collect();
        Ok::<_, crate::store::StoreError>(Sessions {
            sessions,
            playbacks,
        })
    })
    .await?
    .map_err(Into::into)
}

async fn account_sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let me = viewer::require(&req, &state).await?;
    let all = sessions_of(&state, &me, false).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "private, no-store"))
        .json(all))
}

/// `DELETE /api/v1/account/sessions/{id}`: signs one session out (an admin: anyone's).
async fn end_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let me = viewer::require(&req, &state).await?;
    if !super::upload::same_origin(&req) {
        return Err(ApiError::Forbidden("cross-site request refused"));
    }
    let store = state.store.clone();
    let id = id.into_inner();
    let ended = web::block(move || {
        let now = Timestamp::now();
        let users = match me.user.admin {
            true => store
                .list_users()?
                .into_iter()
                .map(|(u, _)| u.name)
                .collect(),
            false => vec![me.user.name.clone()],
        };
        for user in users {
            for (hash, _) in store.sessions_of(&user, now)? {
                if Session::public_id(&hash) == id {
                    return store.end_session_and_playback(&hash);
                }
            }
        }
        Ok(false)
    })
    .await??;
    match ended {
        true => Ok(HttpResponse::NoContent().finish()),
        false => Err(ApiError::NotFound("no such session".into())),
    }
}

/// `POST /api/v1/account/logout-everywhere`: every session of the viewer's ends (this one too)
/// and every playback stops.
async fn logout_everywhere(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let me = viewer::require(&req, &state).await?;
    if !super::upload::same_origin(&req) {
        return Err(ApiError::Forbidden("cross-site request refused"));
    }
    let store = state.store.clone();
    let name = me.user.name.clone();
    let (sessions, playbacks) = web::block(move || {
        Ok::<_, crate::store::StoreError>((
            store.end_sessions_of(&name)?,
            store.stop_playbacks_of(&name)?,
        ))
    })
    .await??;
    tracing::info!(user = %me.user.name, sessions, playbacks, "signed out everywhere");
    Ok(HttpResponse::NoContent()
        .cookie(viewer::cleared_session_cookie(&state))
        .finish())
}
