//! The one place where failures become HTTP answers: JSON errors for the API
//! (`{"error": {"code", "message"}}`) and friendly HTML pages for the browser.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::auth::Denied;
use crate::auth::login::LoginError;
use crate::manage::ManageError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("sign in first")]
    Unauthorized,
    #[error("wrong user name or password")]
    BadCredentials,
    #[error("this account is disabled; ask the server's owner to enable it")]
    AccountDisabled,
    #[error("{0}")]
    Denied(Denied),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// The server's own disk is full: the request may succeed once there is room.
    #[error("{0}")]
    InsufficientStorage(String),
    /// Every screen of the viewer's plan is in use: these playback sessions.
    #[error("every screen of your plan is in use; stop one of these to watch here")]
    TooManyScreens(Vec<crate::web::playback::PlaybackView>),
    /// This playback was stopped from another device (or by an admin).
    #[error("playback was stopped on another device")]
    PlaybackStopped,
    #[error("too many attempts; try again in {} s", .0.as_secs())]
    RateLimited(Duration),
    /// The detail is logged, never sent: it may name paths or internals.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::BadCredentials => "bad_credentials",
            ApiError::AccountDisabled => "account_disabled",
            ApiError::Denied(d) => d.code(),
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooLarge(_) => "too_large",
            ApiError::InsufficientStorage(_) => "insufficient_storage",
            ApiError::TooManyScreens(_) => "too_many_screens",
            ApiError::PlaybackStopped => "playback_stopped",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }

    /// A failed write of ours: 507 with a message that says so when the disk is full (the
    /// admin can act on it), an internal error otherwise.
    pub fn write_failed(what: &str, e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull {
            tracing::error!(error = %e, "{what}: the disk is full");
            ApiError::InsufficientStorage(format!(
                "{what}: the server's disk is full; free some space and try again"
            ))
        } else {
            ApiError::Internal(format!("{what}: {e}"))
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::internal(e)
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::BadCredentials => ApiError::BadCredentials,
            LoginError::Disabled => ApiError::AccountDisabled,
            LoginError::Store(e) => e.into(),
            LoginError::Busy(_) => ApiError::RateLimited(Duration::from_secs(1)),
        }
    }
}

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::Invalid(m) => ApiError::BadRequest(m),
            ManageError::Password(p) => ApiError::BadRequest(p.to_string()),
            ManageError::NotFound(m) => ApiError::NotFound(m),
            ManageError::Conflict(m) => ApiError::Conflict(m),
            ManageError::Store(e) => e.into(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Denied(_) | ApiError::Forbidden(_) | ApiError::AccountDisabled => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::TooManyScreens(_) => StatusCode::CONFLICT,
            ApiError::PlaybackStopped => StatusCode::FORBIDDEN,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(detail) = self {
            tracing::error!(error = %detail, "request failed");
        }
        let mut res = HttpResponse::build(self.status_code());
        if let ApiError::RateLimited(wait) = self {
            res.insert_header((header::RETRY_AFTER, wait.as_secs().max(1).to_string()));
        }
        let mut error = serde_json::json!({ "code": self.code(), "message": self.to_string() });
        if let ApiError::TooManyScreens(sessions) = self {
            error["sessions"] = serde_json::json!(sessions);
        }
        res.json(serde_json::json!({ "error": error }))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: super::pages::Nav,
    status: u16,
    title: &'a str,
    message: String,
}

/// An error met while serving an HTML page: the same causes as [`ApiError`], answered with a
/// page a person can act on (or a redirect to the login form).
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Unauthorized = self.0 {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish();
        }
        if let ApiError::Internal(detail) = &self.0 {
            tracing::error!(error = %detail, "page failed");
        }
        let status = self.status_code();
        let page = ErrorPage {
            nav: super::pages::Nav::anonymous(),
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message: self.0.to_string(),
        };
        let mut res = HttpResponse::build(status);
        if let ApiError::RateLimited(wait) = &self.0 {
            res.insert_header((header::RETRY_AFTER, wait.as_secs().max(1).to_string()));
        }
        match page.render() {
            Ok(body) => res.content_type(ContentType::html()).body(body),
            Err(_) => res.body(self.0.to_string()),
        }
    }
}
