//! The JSON API under /api/v1 (CONTRACT.md section 3).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::viewer;
use super::{ApiError, AppState};
use crate::manage::{MovieView, UserView};
use crate::store::Timestamp;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/movies", web::get().to(list_movies))
        .route("/movies/{id}", web::get().to(get_movie))
        .route("/movies/{id}/playback", web::get().to(playback))
        .route("/movies/{id}/position", web::post().to(save_position))
        .route("/preferences", web::put().to(save_preferences))
        .route("/users/{name}", web::delete().to(remove_user));
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

#[derive(Serialize)]
struct LoginAnswer {
    user: UserView,
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (cookie, user) = viewer::attempt_login(&req, &state, body.username, body.password).await?;
    let store = state.store.clone();
    let name = user.name.clone();
    let plan = web::block(move || store.plan(&name)).await??;
    Ok(HttpResponse::Ok().cookie(cookie).json(LoginAnswer {
        user: UserView::new(&user, &plan),
    }))
}

/// `DELETE /api/v1/users/{name}` (admin): the user, their sessions (at once), grants,
/// positions and preferences; 409 for the last admin who can sign in.
async fn remove_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    viewer::require_admin(&req, &state).await?;
    if !super::upload::same_origin(&req) {
        return Err(ApiError::Forbidden("cross-site request refused"));
    }
    let store = state.store.clone();
    let command = crate::manage::Command::UserRemove {
        name: name.into_inner(),
    };
    web::block(move || crate::manage::execute(&store, command)).await??;
    Ok(HttpResponse::NoContent().finish())
}

async fn logout(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    viewer::end_session(&req, &state).await?;
    Ok(HttpResponse::NoContent()
        .cookie(viewer::cleared_session_cookie(&state))
        .finish())
}

/// The catalog as this viewer sees it, each movie with their entitlement, and their resume
/// positions by movie id.
async fn catalog_for(state: &AppState, viewer: viewer::Viewer) -> Result<Catalog, ApiError> {
    let store = state.store.clone();
    Ok(web::block(move || {
        let entries =
            crate::catalog::for_viewer(&store, &viewer.user, &viewer.plan, Timestamp::now())?;
        let positions = store.positions_of(&viewer.user.name)?;
        Ok::<_, crate::store::StoreError>(Catalog { entries, positions })
    })
    .await??)
}

struct Catalog {
    entries: Vec<crate::catalog::CatalogEntry>,
    positions: std::collections::HashMap<String, f64>,
}

impl Catalog {
    fn entry(
        &self,
        e: &crate::catalog::CatalogEntry,
        state: &AppState,
        viewer: &crate::store::Username,
    ) -> MovieEntry {
        let entitled = e.access.is_ok();
        MovieEntry {
            movie: MovieView::from(&*e.movie),
            entitled,
            position_s: self.positions.get(e.movie.id.as_str()).copied(),
            thumbnails_url: entitled
                .then(|| super::stream::thumbnails_url(state, viewer, &e.movie))
                .flatten(),
        }
    }
}

#[derive(Serialize)]
struct MovieEntry {
    #[serde(flatten)]
    movie: MovieView,
    entitled: bool,
    /// Where this viewer stopped, or null.
    position_s: Option<f64>,
    /// The signed WebVTT track of seek-bar thumbnails, or null (not entitled, not ready, or
    /// ingested before thumbnails existed).
    thumbnails_url: Option<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    sort: Option<String>,
    /// A page of the answer: at most `limit` movies after the first `offset`. Without them,
    /// every movie; `X-Total-Count` says how many there are either way.
    limit: Option<usize>,
    offset: Option<usize>,
}

/// `GET /api/v1/movies?q=&sort=title|added|year&limit=&offset=`.
async fn list_movies(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let sort = match query.sort.as_deref() {
        None | Some("") => crate::catalog::Sort::default(),
        Some(s) => s.parse().map_err(ApiError::BadRequest)?,
    };
    let viewer = viewer::require(&req, &state).await?;
    let name = viewer.user.name.clone();
    let mut catalog = catalog_for(&state, viewer).await?;
    crate::catalog::search_and_sort(&mut catalog.entries, query.q.as_deref(), sort);
    let total = catalog.entries.len();
    let out: Vec<MovieEntry> = catalog
        .entries
        .iter()
        .skip(query.offset.unwrap_or(0))
        .take(query.limit.unwrap_or(usize::MAX))
        .map(|e| catalog.entry(e, &state, &name))
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("X-Total-Count", total.to_string()))
        .json(out))
}

async fn get_movie(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let viewer = viewer::require(&req, &state).await?;
    let id = super::stream::parse_id(&id)?;
    let name = viewer.user.name.clone();
    let catalog = catalog_for(&state, viewer).await?;
    let entry = catalog
        .entries
        .iter()
        .find(|e| e.movie.id == id)
        .ok_or_else(|| ApiError::NotFound("no such movie".into()))?;
    Ok(HttpResponse::Ok().json(catalog.entry(entry, &state, &name)))
}

#[derive(Serialize)]
struct Playback {
    master_url: String,
    expires_at: String,
}

/// An absolute master-playlist URL that works with no cookie, for VLC, mpv, ffmpeg, Safari.
async fn playback(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let viewer = viewer::require(&req, &state).await?;
    let id = super::stream::parse_id(&id)?;
    let super::stream::Entitled { user, movie, .. } =
        super::stream::entitled_movie(&state, viewer.user.name, id).await?;
    let expires = Timestamp::now().plus(state.config.tokens.playback_ttl);
    let token = state.tokens.sign(
        &user.name,
        &movie.id,
        crate::auth::stream_token::Scope::Master,
        expires,
    );
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "private, no-store"))
        .json(Playback {
            master_url: format!(
                "{}/stream/{}?token={token}",
                state.config.public_base(),
                movie.id
            ),
            expires_at: expires.to_rfc3339(),
        }))
}

#[derive(Deserialize)]
struct Position {
    seconds: f64,
}

/// Where the viewer is in a movie, saved every few seconds by the player for "resume".
async fn save_position(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Position>,
) -> Result<HttpResponse, ApiError> {
    let viewer = viewer::require(&req, &state).await?;
    // A sign of life of this browser's playback; a stopped one is told so.
    super::playback::browser_sign_of_life(&req, &state, &viewer.user, &viewer.plan).await?;
    let id = super::stream::parse_id(&id)?;
    let seconds = body.seconds;
    if !seconds.is_finite() || !(0.0..=1.0e6).contains(&seconds) {
        return Err(ApiError::BadRequest(
            "seconds must be a number of seconds into the movie".into(),
        ));
    }
    let store = state.store.clone();
    let name = viewer.user.name;
    let saved = web::block(move || {
        if store.movie(&id)?.is_none() {
            return Ok(false);
        }
        store.set_position(&name, &id, seconds).map(|_| true)
    })
    .await??;
    if !saved {
        return Err(ApiError::NotFound("no such movie".into()));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A language as the player sends it: a short BCP 47 tag, or `off` for subtitles.
fn language_choice(value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(v)
            if (1..=16).contains(&v.len())
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            Ok(Some(v))
        }
        Some(_) => Err(ApiError::BadRequest(
            "languages are BCP 47 tags such as en, fr or pt-BR".into(),
        )),
    }
}

/// The audio and subtitle languages the viewer chose, remembered for the next movie.
async fn save_preferences(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<crate::store::Preferences>,
) -> Result<HttpResponse, ApiError> {
    let viewer = viewer::require(&req, &state).await?;
    let body = body.into_inner();
    let prefs = crate::store::Preferences {
        audio_lang: language_choice(body.audio_lang)?,
        subtitle_lang: language_choice(body.subtitle_lang)?,
    };
    let store = state.store.clone();
    let name = viewer.user.name;
    web::block(move || store.set_preferences(&name, &prefs)).await??;
    Ok(HttpResponse::NoContent().finish())
}
