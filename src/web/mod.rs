//! The HTTP surface: one function builds the actix app (the server and the tests use it), and
//! handlers grouped by page or API stay thin: parse, check who is asking, call, answer.

mod api;
mod assets;
pub mod connection;
mod error;
pub mod https;
mod limits;
pub mod local;
mod metadata;
pub mod metrics;
mod object_file;
mod pages;
pub mod playback;
mod s3;
pub mod series;
mod stream;
pub(crate) mod upload;
mod viewer;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::{ConnectionType, header};
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpResponse, web};
use futures_util::future::Either;

use crate::auth::csrf::Csrf;
use crate::auth::ratelimit::LoginLimiter;
use crate::auth::stream_token::StreamTokens;
use crate::config::{Config, StorageBackend};
use crate::ingest::{Ingester, Workers};
use crate::media::Media;
use crate::playlist::VariantCache;
use crate::secrets::Secrets;
use crate::store::Store;

pub use error::{ApiError, PageError};
pub use metrics::Metrics;

/// Largest JSON or form body accepted (logins, admin forms): generous for the purpose, small
/// enough that nobody can make argon2 or serde chew on megabytes.
const SMALL_BODY_LIMIT: usize = 16 * 1024;

pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub secrets: Arc<Secrets>,
    pub csrf: Csrf,
    pub limiter: LoginLimiter,
    pub metrics: Metrics,
    pub ingester: Ingester,
    pub workers: Arc<Workers>,
    pub media: Arc<Media>,
    pub tokens: StreamTokens,
    pub variants: VariantCache,
    /// One permit per argon2 memory buffer (`auth::password::pool_size`).
    pub password_checks: tokio::sync::Semaphore,
    /// Built-in HTTPS, when `[tls]` is set.
    pub tls: Option<Arc<crate::tls::Tls>>,
}

impl AppState {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        secrets: Arc<Secrets>,
        ingester: Ingester,
        workers: Arc<Workers>,
        tls: Option<Arc<crate::tls::Tls>>,
    ) -> Self {
        let media = ingester.media.clone();
        let csrf = Csrf::new(&secrets.signing_key().key);
        let limiter = LoginLimiter::new(config.auth.login_attempts_per_minute);
        let tokens = StreamTokens::new(secrets.hmac_keys.clone());
        AppState {
            media,
            tokens,
            variants: VariantCache::default(),
            password_checks: tokio::sync::Semaphore::new(crate::auth::password::pool_size()),
            config,
            store,
            secrets,
            csrf,
            limiter,
            metrics: Metrics::new(),
            ingester,
            workers,
            tls,
        }
    }
}

/// Content-Security-Policy: scripts and styles only from this origin (no inline code); media
/// may also come from the external object store when one is configured.
fn content_security_policy(config: &Config) -> String {
    let mut external = String::new();
    if config.storage.backend == StorageBackend::S3 {
        for endpoint in [&config.storage.public_endpoint, &config.storage.endpoint]
            .into_iter()
            .flatten()
        {
            external.push(' ');
            external.push_str(endpoint);
        }
    }
    // media-src `data:`: hls.js gives each subtitle `<track>` it makes `src="data:,WEBVTT"` and
    // adds the cues itself; refused, every player page logged a CSP violation per track.
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{external}; \
         media-src 'self' data: blob:{external}; connect-src 'self'{external}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )
}

/// Headers on every answer, whichever path sends it (actix, or `connection`'s `sendfile`).
pub(crate) fn security_headers(config: &Config) -> [(&'static str, String); 4] {
    [
        ("Content-Security-Policy", content_security_policy(config)),
        ("X-Content-Type-Options", "nosniff".into()),
        ("X-Frame-Options", "DENY".into()),
        ("Referrer-Policy", "same-origin".into()),
    ]
}

/// Builds the whole application for one worker.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let headers = security_headers(&state.config)
        .into_iter()
        .fold(DefaultHeaders::new(), |headers, header| headers.add(header));
    let json = web::JsonConfig::default()
        .limit(SMALL_BODY_LIMIT)
        .error_handler(|err, _| {
            use actix_web::error::JsonPayloadError as E;
            match err {
                E::Overflow { .. } | E::OverflowKnownLength { .. } => ApiError::TooLarge(format!(
                    "the JSON body is larger than {SMALL_BODY_LIMIT} bytes"
                )),
                other => ApiError::BadRequest(format!("bad JSON body: {other}")),
            }
            .into()
        });
    let form = web::FormConfig::default()
        .limit(SMALL_BODY_LIMIT)
        .error_handler(|err, _| {
            use actix_web::error::UrlencodedError as E;
            let e = match err {
                E::Overflow { .. } => {
                    ApiError::TooLarge(format!("the form is larger than {SMALL_BODY_LIMIT} bytes"))
                }
                other => ApiError::BadRequest(format!("bad form: {other}")),
            };
            PageError(e).into()
        });
    let path = web::PathConfig::default()
        .error_handler(|err, _| ApiError::NotFound(format!("no such resource: {err}")).into());
    let query = web::QueryConfig::default()
        .error_handler(|err, _| ApiError::BadRequest(format!("bad query string: {err}")).into());

    App::new()
        .app_data(state.clone())
        .app_data(json)
        .app_data(form)
        .app_data(path)
        .app_data(query)
        .wrap(headers)
        .wrap_fn(move |req, srv| {
            let started = std::time::Instant::now();
            let secure = https::over_tls(&req);
            let refused =
                https::plain_answer(&req, &state).or_else(|| limits::refuse_oversized(&req));
            let sent_body = limits::declares_body(req.headers());
            let call = match refused {
                Some(answer) => Either::Left(std::future::ready(Ok(req.into_response(answer)))),
                None => Either::Right(actix_web::dev::Service::call(srv, req)),
            };
            let state = state.clone();
            async move {
                let mut res = call.await?;
                if sent_body && res.status().as_u16() >= 400 {
                    // A refused body may be unread: say the connection ends here, or a
                    // keep-alive client sends its next request into a closed socket.
                    res.response_mut()
                        .head_mut()
                        .set_connection_type(ConnectionType::Close);
                }
                if secure {
                    res.headers_mut().insert(
                        header::STRICT_TRANSPORT_SECURITY,
                        header::HeaderValue::from_static(https::HSTS),
                    );
                }
                state.metrics.observe(&res, started.elapsed());
                Ok(res)
            }
        })
        .route("/healthz", web::get().to(healthz))
        .route("/metrics", web::get().to(metrics::scrape))
        .route("/static/{path:.*}", web::get().to(assets::serve))
        .configure(pages::routes)
        .configure(stream::routes)
        .configure(s3::routes)
        .service(
            web::scope("/api/v1")
                .configure(api::routes)
                .configure(playback::routes)
                .configure(upload::routes)
                .configure(metadata::routes)
                .configure(local::routes)
                .configure(series::routes)
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(ApiError::NotFound("no such API endpoint".into()))
                })),
        )
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(PageError(ApiError::NotFound(
                "There is nothing at this address.".into(),
            )))
        }))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}
