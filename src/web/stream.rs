//! The heart of the design: `GET /stream/{id}` checks the viewer's entitlement and answers the
//! master playlist; each variant playlist (token in its URL) lists every segment as a
//! presigned URL of the object store, valid for the movie's length plus `tokens.segment_grace`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{ApiError, AppState};
use super::{playback, viewer};
use crate::auth::check_entitlement;
use crate::auth::stream_token::{Scope, TokenError};
use crate::media::segment_keys::PUBLISHED_PLAYLIST;
use crate::media::sigv4::MAX_EXPIRES;
use crate::playlist::{self, Variant};
use crate::store::{Movie, MovieId, MovieStatus, Plan, Timestamp, User, Username};

pub fn routes(cfg: &mut web::ServiceConfig) {
    // Playlists compress ~4x (a 2-hour variant is ~700 KB of near-identical URLs).
    cfg.service(
        web::scope("/stream")
            .wrap(actix_web::middleware::Compress::default())
            .route("/{id}", web::get().to(master))
            .route("/{id}/{file}", web::get().to(variant))
            .route("/{id}/keys/{n}", web::get().to(key)),
    );
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
    /// The playback session a rendition or key URL belongs to (bound into its token).
    play: Option<String>,
}

fn token_refused(state: &AppState, e: TokenError) -> ApiError {
    state
        .metrics
        .token_failures
        .with_label_values(&[e.reason()])
        .inc();
    ApiError::Forbidden(match e {
        TokenError::Expired => "this link has expired; ask for a fresh one",
        TokenError::UnknownKey => "this link was signed with a retired key; ask for a fresh one",
        _ => "this link is not valid",
    })
}

/// Who is asking: the token's user when a token is given, else the session's. A token given
/// with a playback id (`play=`) is good only with that id.
async fn requester(
    req: &HttpRequest,
    state: &AppState,
    query: &TokenQuery,
    movie: &MovieId,
    scope: Scope<'_>,
) -> Result<Username, ApiError> {
    let scope = match &query.play {
        Some(play) => &Scope::InPlayback(&scope, play),
        None => &scope,
    };
    match &query.token {
        Some(t) => state
            .tokens
            .verify(t, movie, *scope, Timestamp::now())
            .map_err(|e| token_refused(state, e)),
        None => Ok(viewer::require(req, state).await?.user.name),
    }
}

/// The checks of a rendition or key request past the entitlement: its playback is alive (a
/// stopped one, or one whose screen was taken while it idled, is refused).
async fn playback_alive(
    req: &HttpRequest,
    state: &AppState,
    query: &TokenQuery,
    entitled: &Entitled,
) -> Result<(), ApiError> {
    match (&query.play, &query.token) {
        (Some(play), _) => {
            playback::sign_of_life(state, &entitled.user, &entitled.plan, play).await
        }
        (None, None) => {
            playback::browser_sign_of_life(req, state, &entitled.user, &entitled.plan).await
        }
        // A token from before playback sessions: nothing to count it against.
        (None, Some(_)) => Ok(()),
    }
}

/// A viewer entitled to a movie, as checked just now.
pub struct Entitled {
    pub user: User,
    pub plan: Plan,
    pub movie: Movie,
}

/// The movie, if ready, and the requester's right to watch it, checked now (so a revoke or a
/// lapsed plan takes effect at the next playlist request).
pub async fn entitled_movie(
    state: &AppState,
    user: Username,
    id: MovieId,
) -> Result<Entitled, ApiError> {
    let store = state.store.clone();
    let (found_user, plan, movie, grant) = web::block(move || {
        let movie = store.movie(&id)?;
        let grant = match &movie {
            Some(movie) => store.grant_for(&user, movie)?,
            None => None,
        };
        Ok::<_, crate::store::StoreError>((store.user(&user)?, store.plan(&user)?, movie, grant))
    })
    .await??;
    let user = found_user.ok_or(ApiError::Unauthorized)?;
    // A playback token outlives sessions: a disabled account's is refused here.
    if user.disabled {
        return Err(ApiError::AccountDisabled);
    }
    let movie = movie
        .filter(Movie::is_playable)
        .ok_or_else(|| ApiError::NotFound("no such movie, or it is not ready yet".into()))?;
    if let Err(denied) =
        check_entitlement(&user, &plan, movie.tier, grant.as_ref(), Timestamp::now())
    {
        state
            .metrics
            .token_failures
            .with_label_values(&["not_entitled"])
            .inc();
        return Err(ApiError::Denied(denied));
    }
    Ok(Entitled { user, plan, movie })
}

/// Links inside playlists live for the movie plus the grace period (hls.js loads a VOD playlist
/// once, so they must outlive the film), within S3's seven-day ceiling.
pub fn link_lifetime(state: &AppState, movie: &Movie) -> Duration {
    let film = Duration::from_secs_f64(movie.duration_s.unwrap_or(0.0).max(0.0));
    (film + state.config.tokens.segment_grace).min(Duration::from_secs(MAX_EXPIRES))
}

fn playlist_response(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(crate::media::PLAYLIST_TYPE)
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(body)
}

pub(super) fn parse_id(id: &str) -> Result<MovieId, ApiError> {
    MovieId::parse(id).map_err(|_| ApiError::NotFound("no such movie".into()))
}

async fn master(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let user = requester(&req, &state, &query, &id, Scope::Master).await?;
    let Entitled { user, plan, movie } = entitled_movie(&state, user, id).await?;
    let play = playback::begin(
        &req,
        &state,
        &user,
        &plan,
        &movie.id,
        query.token.as_deref(),
    )
    .await?;
    let expires = Timestamp::now().plus(link_lifetime(&state, &movie));
    let ladder = playlist::Ladder {
        video: &movie.renditions,
        audio: &movie.audio,
        subtitles: &movie.subtitles,
    };
    let body = playlist::render_master(&ladder, |rendition| {
        let scope = Scope::InPlayback(&Scope::Rendition(rendition), &play.id);
        let token = state.tokens.sign(&user.name, &movie.id, scope, expires);
        format!(
            "/stream/{}/{rendition}.m3u8?token={token}&play={}",
            movie.id, play.id
        )
    });
    state.metrics.manifests.with_label_values(&["master"]).inc();
    Ok(playlist_response(body))
}

/// The absolute signed URL of a movie's thumbnails track, for a viewer entitled to it; `None`
/// when it has none (not ready, or ingested before thumbnails existed).
pub fn thumbnails_url(state: &AppState, user: &Username, movie: &Movie) -> Option<String> {
    if movie.status != MovieStatus::Ready || movie.thumbnails.is_none() {
        return None;
    }
    let expires = Timestamp::now().plus(state.config.tokens.playback_ttl);
    let token = state
        .tokens
        .sign(user, &movie.id, Scope::Rendition(THUMBNAILS), expires);
    Some(format!(
        "{}/stream/{}/{THUMBNAILS}.vtt?token={token}",
        state.config.public_base(),
        movie.id
    ))
}

/// The scope of a thumbnails token and the track's file name: no rendition has this name.
const THUMBNAILS: &str = "thumbnails";

/// `GET /stream/{id}/thumbnails.vtt`: the seek-bar thumbnails track, every sprite a presigned
/// store URL living as long as segment URLs do.
async fn thumbnails_track(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: MovieId,
    query: &TokenQuery,
) -> Result<HttpResponse, ApiError> {
    let user = requester(&req, &state, query, &id, Scope::Rendition(THUMBNAILS)).await?;
    let movie = entitled_movie(&state, user, id).await?.movie;
    let thumbs = movie
        .thumbnails
        .as_ref()
        .filter(|_| movie.status == MovieStatus::Ready)
        .ok_or_else(|| ApiError::NotFound("this movie has no thumbnails".into()))?;
    let batch = state.media.get_batch(link_lifetime(&state, &movie));
    let body = playlist::thumbnails::render(thumbs, movie.duration_s.unwrap_or(0.0), |name| {
        state.media.object_url(&batch, &movie.id, name)
    });
    state
        .metrics
        .manifests
        .with_label_values(&["thumbnails"])
        .inc();
    Ok(HttpResponse::Ok()
        .content_type(crate::media::WEBVTT_TYPE)
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(body))
}

async fn variant(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, file) = path.into_inner();
    let id = parse_id(&id)?;
    if file.strip_suffix(".vtt") == Some(THUMBNAILS) {
        return thumbnails_track(req, state, id, &query).await;
    }
    let rendition = file
        .strip_suffix(".m3u8")
        .ok_or_else(|| ApiError::NotFound("no such playlist".into()))?
        .to_string();
    let user = requester(&req, &state, &query, &id, Scope::Rendition(&rendition)).await?;
    let entitled = entitled_movie(&state, user, id).await?;
    playback_alive(&req, &state, &query, &entitled).await?;
    let Entitled { user, movie, .. } = entitled;
    let viewer = user.name;
    if !movie.has_rendition(&rendition) {
        return Err(ApiError::NotFound("no such rendition".into()));
    }
    // Only video and audio segments are encrypted; WebVTT stays clear (contract section 10).
    let keys = if movie.subtitles.iter().any(|s| s.name == rendition) {
        None
    } else {
        let store = state.store.clone();
        let id = movie.id.clone();
        web::block(move || store.movie_keys(&id)).await??
    };
    // The list the keys go with: `streamd encrypt` writes the encrypted one under a new name.
    let object = format!(
        "{rendition}/{}",
        keys.as_ref()
            .map_or(PUBLISHED_PLAYLIST, |k| k.playlist.as_str())
    );
    // A ready movie's playlists never change; one still transcoding grows, so it is read
    // afresh each time (it is small while it grows).
    let ready = movie.status == MovieStatus::Ready;
    let cached = ready
        .then(|| state.variants.get(movie.id.as_str(), &object))
        .flatten();
    let variant = match cached {
        Some(v) => v,
        None => {
            let bytes = state
                .media
                .read(&movie.id, &object)
                .await
                .map_err(|e| match e {
                    crate::media::MediaError::NotFound(_) => {
                        ApiError::NotFound("this rendition has no segments yet".into())
                    }
                    other => ApiError::internal(other),
                })?;
            let parsed = Arc::new(Variant::parse(&bytes).map_err(ApiError::internal)?);
            if ready && parsed.finished {
                state
                    .variants
                    .insert(movie.id.as_str(), &object, parsed.clone());
            }
            parsed
        }
    };
    let lifetime = link_lifetime(&state, &movie);
    let batch = state.media.get_batch(lifetime);
    // One token opens every key of the movie for this viewer: key URLs differ per viewer
    // (and are checked at each fetch) while segment URLs stay the same for everyone.
    // Its expiry is counted from the start of the URL window, as segment links are: every
    // playlist a viewer loads within a window names the same key URLs, so a quality switch
    // finds its keys in the player's cache.
    let key_token = (keys.as_ref())
        .map(|_| {
            let window = state.config.tokens.url_window + lifetime;
            let start = i64::try_from(state.media.window_start()).unwrap_or(i64::MAX);
            let expires = Timestamp(start).plus(window);
            let scope = match &query.play {
                Some(play) => Scope::InPlayback(&Scope::Keys, play),
                None => Scope::Keys,
            };
            (state.tokens).sign(&viewer, &movie.id, scope, expires)
        })
        .unwrap_or_default();
    let base = state.config.public_base();
    let play = (query.play.as_ref())
        .map(|p| format!("&play={p}"))
        .unwrap_or_default();
    let key_url = |n: usize| {
        format!(
            "{base}/stream/{}/keys/{n}?token={key_token}{play}",
            movie.id
        )
    };
    let body = variant.render_signed(
        state.media.origin(),
        &state.media.rendition_path(&movie.id, &rendition),
        &batch,
        keys.as_ref()
            .map(|k| (k, &key_url as &dyn Fn(usize) -> String)),
    );
    state
        .metrics
        .manifests
        .with_label_values(&["variant"])
        .inc();
    Ok(playlist_response(body))
}

/// `GET /stream/{id}/keys/{n}`: the 16 bytes of one segment key of an encrypted movie. The
/// token (or the session), the account and the entitlement rule are checked in the database at
/// every fetch, so a revoked plan or grant stops decryption at the next key even while the
/// segments themselves stay cached. Never cached, never logged.
async fn key(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ApiError> {
    let (id, n) = path.into_inner();
    let id = parse_id(&id)?;
    let n: usize = n
        .parse()
        .map_err(|_| ApiError::NotFound("no such key".into()))?;
    let user = requester(&req, &state, &query, &id, Scope::Keys).await?;
    let entitled = entitled_movie(&state, user, id).await?;
    playback_alive(&req, &state, &query, &entitled).await?;
    let movie = entitled.movie;
    let store = state.store.clone();
    let keys = web::block(move || store.movie_keys(&movie.id)).await??;
    let key = keys
        .ok_or_else(|| ApiError::NotFound("this movie is not encrypted".into()))?
        .keys
        .get(n)
        .map(|k| k.key)
        .ok_or_else(|| ApiError::NotFound("no such key".into()))?;
    state.metrics.manifests.with_label_values(&["key"]).inc();
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(key.to_vec()))
}
