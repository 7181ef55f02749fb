//! HTML pages (askama templates): sign-in and sign-out here, the catalog, the player and the
//! admin pages in their own modules. Handlers parse, check who asks, call, render.

mod account;
mod admin;
mod catalog;
mod series;
mod watch;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::viewer::{self, Viewer};
use super::{ApiError, AppState, PageError};
use crate::auth::csrf::{self, Csrf};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login_submit))
        .route("/logout", web::post().to(logout))
        .route("/", web::get().to(catalog::page))
        .route("/watch/{id}", web::get().to(watch::page))
        .route("/series/{id}", web::get().to(series::page))
        .route("/account", web::get().to(account::page))
        .configure(admin::routes);
}

/// What the layout needs on every page: who is signed in and the token for the logout form.
pub struct Nav {
    pub user: Option<String>,
    pub admin: bool,
    pub csrf: String,
}

impl Nav {
    pub fn anonymous() -> Self {
        Nav {
            user: None,
            admin: false,
            csrf: String::new(),
        }
    }
}

/// The CSRF token for this browser, and the cookie to set when it had no nonce yet.
fn csrf_token(req: &HttpRequest, state: &AppState) -> (String, Option<Cookie<'static>>) {
    match req.cookie(csrf::COOKIE_NAME) {
        Some(c) if !c.value().is_empty() => (state.csrf.token_for(c.value()), None),
        _ => {
            let nonce = Csrf::new_nonce();
            let token = state.csrf.token_for(&nonce);
            let cookie = Cookie::build(csrf::COOKIE_NAME, nonce)
                .path("/")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(state.config.secure_cookies())
                .finish();
            (token, Some(cookie))
        }
    }
}

pub(super) fn csrf_ok(req: &HttpRequest, state: &AppState, submitted: &str) -> bool {
    req.cookie(csrf::COOKIE_NAME)
        .is_some_and(|c| state.csrf.verify(c.value(), submitted))
}

pub(super) fn nav(
    req: &HttpRequest,
    state: &AppState,
    viewer: Option<&Viewer>,
) -> (Nav, Option<Cookie<'static>>) {
    let (csrf, cookie) = csrf_token(req, state);
    let nav = Nav {
        user: viewer.map(|v| v.user.name.to_string()),
        admin: viewer.is_some_and(|v| v.user.admin),
        csrf,
    };
    (nav, cookie)
}

pub(super) fn render(
    page: &impl Template,
    status: StatusCode,
    cookies: impl IntoIterator<Item = Cookie<'static>>,
) -> Result<HttpResponse, PageError> {
    let body = page.render().map_err(ApiError::internal)?;
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    for c in cookies {
        res.cookie(c);
    }
    Ok(res.body(body))
}

pub(super) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Only same-site paths may be redirect targets: `/x` yes, `//evil.example` or `https://…` no.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    nav: Nav,
    next: &'a str,
    username: &'a str,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    let next = safe_next(query.next.as_deref());
    if viewer::current(&req, &state).await?.is_some() {
        return Ok(see_other(next));
    }
    let (nav, cookie) = nav(&req, &state, None);
    let page = LoginPage {
        nav,
        next,
        username: "",
        error: None,
    };
    render(&page, StatusCode::OK, cookie)
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref()).to_string();
    let again = |status: StatusCode, error: String, extra: Option<(&str, String)>| {
        let (nav, cookie) = nav(&req, &state, None);
        let username: String = form.username.chars().take(64).collect();
        let page = LoginPage {
            nav,
            next: &next,
            username: &username,
            error: Some(error),
        };
        let mut res = render(&page, status, cookie)?;
        if let Some((name, value)) = extra {
            if let Ok(v) = header::HeaderValue::from_str(&value) {
                if let Ok(n) = header::HeaderName::from_bytes(name.as_bytes()) {
                    res.headers_mut().insert(n, v);
                }
            }
        }
        Ok::<_, PageError>(res)
    };
    if !csrf_ok(&req, &state, &form.csrf) {
        return again(
            StatusCode::FORBIDDEN,
            "This form had expired. Please sign in again.".into(),
            None,
        );
    }
    match viewer::attempt_login(&req, &state, form.username.clone(), form.password.clone()).await {
        Ok((cookie, _)) => {
            let mut res = see_other(&next);
            res.add_cookie(&cookie).map_err(ApiError::internal)?;
            Ok(res)
        }
        Err(ApiError::BadCredentials) => again(
            StatusCode::UNAUTHORIZED,
            "Wrong user name or password.".into(),
            None,
        ),
        Err(e @ ApiError::AccountDisabled) => again(StatusCode::FORBIDDEN, format!("{e}."), None),
        Err(e @ ApiError::RateLimited(wait)) => again(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{e}."),
            Some(("retry-after", wait.as_secs().max(1).to_string())),
        ),
        Err(ApiError::BadRequest(m)) => again(StatusCode::BAD_REQUEST, m, None),
        Err(e) => Err(e.into()),
    }
}

/// A form that carries nothing but its CSRF token (logout, delete).
#[derive(Deserialize)]
pub(super) struct CsrfForm {
    csrf: String,
}

async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, PageError> {
    if !csrf_ok(&req, &state, &form.csrf) {
        return Err(
            ApiError::Forbidden("the form had expired; reload the page and try again").into(),
        );
    }
    viewer::end_session(&req, &state).await?;
    let mut res = see_other("/login");
    res.add_cookie(&viewer::cleared_session_cookie(&state))
        .map_err(ApiError::internal)?;
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn redirect_targets_stay_on_this_site() {
        assert_eq!(safe_next(Some("/watch/abc")), "/watch/abc");
        for bad in ["//evil.example", "https://evil.example", "evil", "/\\evil"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
