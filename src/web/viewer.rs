//! Who is asking: the session cookie resolved (on the blocking pool) to a user and their plan.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::{HttpRequest, web};

use super::{ApiError, AppState};
use crate::auth::session;
use crate::store::{Plan, Timestamp, User};

pub struct Viewer {
    pub user: User,
    pub plan: Plan,
    /// The hash of the session's token (its key in the database).
    pub session: String,
}

const SEEN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The signed-in viewer, if the request carries a live session cookie.
pub async fn current(req: &HttpRequest, state: &AppState) -> Result<Option<Viewer>, ApiError> {
    let Some(cookie) = req.cookie(session::COOKIE_NAME) else {
        return Ok(None);
    };
    let token_hash = session::hash_token(cookie.value());
    let store = state.store.clone();
    let found = web::block(move || {
        let now = Timestamp::now();
        let found = store.session_user(&token_hash, now)?;
        // "Last seen" on the account page, to the minute: one write a minute per viewer.
        if let Some((session, ..)) = &found
            && session.last_seen.is_none_or(|t| t.plus(SEEN_EVERY) <= now)
        {
            store.touch_session(&token_hash, now)?;
        }
        Ok::<_, crate::store::StoreError>(found.map(|f| (token_hash, f)))
    })
    .await??;
    Ok(found.map(|(token_hash, (_, user, plan))| Viewer {
        user,
        plan,
        session: token_hash,
    }))
}

pub async fn require(req: &HttpRequest, state: &AppState) -> Result<Viewer, ApiError> {
    current(req, state).await?.ok_or(ApiError::Unauthorized)
}

pub async fn require_admin(req: &HttpRequest, state: &AppState) -> Result<Viewer, ApiError> {
    let viewer = require(req, state).await?;
    if !viewer.user.admin {
        return Err(ApiError::Forbidden("this page is for administrators"));
    }
    Ok(viewer)
}

pub fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    let ttl = i64::try_from(state.config.auth.session_ttl.as_secs()).unwrap_or(i64::MAX);
    Cookie::build(session::COOKIE_NAME, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies())
        .max_age(time::Duration::seconds(ttl))
        .finish()
}

pub fn cleared_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = session_cookie(state, String::new());
    c.make_removal();
    c
}

/// Ends the request's session server-side (the cookie alone is worthless afterwards).
pub async fn end_session(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    if let Some(cookie) = req.cookie(session::COOKIE_NAME) {
        let hash = session::hash_token(cookie.value());
        let store = state.store.clone();
        web::block(move || store.end_session_and_playback(&hash)).await??;
    }
    Ok(())
}

pub fn user_agent(req: &HttpRequest) -> &str {
    (req.headers().get(actix_web::http::header::USER_AGENT))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The client address rate limits are keyed on. A loopback peer is taken to be a reverse proxy
/// on the same host, whose `X-Forwarded-For`/`Forwarded` header names the real client.
pub fn client_ip(req: &HttpRequest) -> std::net::IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    if peer.is_loopback() {
        let info = req.connection_info();
        if let Some(ip) = info.realip_remote_addr().and_then(|a| {
            a.parse::<std::net::SocketAddr>()
                .map(|s| s.ip())
                .ok()
                .or_else(|| a.parse().ok())
        }) {
            return ip;
        }
    }
    peer
}

/// Rate limit, then argon2 on the blocking pool, then count the outcome.
pub async fn attempt_login(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    username: String,
    password: String,
) -> Result<(Cookie<'static>, User), ApiError> {
    if let Err(wait) = state.limiter.check(client_ip(req), &username) {
        state
            .metrics
            .logins
            .with_label_values(&["rate_limited"])
            .inc();
        return Err(ApiError::RateLimited(wait));
    }
    if username.len() > crate::store::MAX_USERNAME_LEN
        || password.len() > crate::auth::password::MAX_PASSWORD_BYTES
    {
        state.metrics.logins.with_label_values(&["failure"]).inc();
        return Err(ApiError::BadRequest(
            "user name or password is too long".into(),
        ));
    }
    // Wait here, not on a blocking thread, for one of the argon2 slots: a storm of logins
    // then holds sockets, not threads or CPU, and segment serving goes on.
    let slot = actix_web::rt::time::timeout(
        crate::auth::password::MAX_WAIT,
        state.password_checks.acquire(),
    )
    .await;
    let Ok(Ok(_slot)) = slot else {
        state.metrics.logins.with_label_values(&["busy"]).inc();
        return Err(ApiError::RateLimited(std::time::Duration::from_secs(1)));
    };
    let store = state.store.clone();
    let ttl = state.config.auth.session_ttl;
    let client = crate::auth::login::Client {
        device: crate::auth::screens::device(user_agent(req)),
        address: client_ip(req).to_string(),
    };
    let result =
        web::block(move || crate::auth::login::login(&store, &username, &password, ttl, client))
            .await?;
    match result {
        Ok((token, user)) => {
            state.metrics.logins.with_label_values(&["success"]).inc();
            tracing::info!(user = %user.name, "login");
            Ok((session_cookie(state, token), user))
        }
        Err(e) => {
            state.metrics.logins.with_label_values(&["failure"]).inc();
            Err(e.into())
        }
    }
}
