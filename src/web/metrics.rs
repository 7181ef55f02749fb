//! Prometheus metrics and the access log: every request counted by route pattern and status
//! (patterns, not paths, so ids and tokens never become labels or log lines).

use std::time::Duration;

use actix_web::dev::ServiceResponse;
use actix_web::{HttpResponse, web};
use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

use super::{ApiError, AppState};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub logins: IntCounterVec,
    pub active_sessions: IntGauge,
    pub manifests: IntCounterVec,
    pub segment_bytes: IntCounter,
    pub sendfile_bytes: IntCounter,
    pub token_failures: IntCounterVec,
    pub s3_refusals: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("streamd".into()), None).unwrap_or_else(|_| Registry::new());
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["route", "status"],
        );
        let logins = IntCounterVec::new(
            Opts::new("logins_total", "Login attempts by result"),
            &["result"],
        );
        let active_sessions = IntGauge::new("active_sessions", "Sessions in the database");
        let manifests = IntCounterVec::new(
            Opts::new(
                "manifests_total",
                "Playlists served, by kind (master, variant)",
            ),
            &["kind"],
        );
        let segment_bytes = IntCounter::new(
            "segment_bytes_total",
            "Segment bytes served by the built-in object store",
        );
        let sendfile_bytes = IntCounter::new(
            "sendfile_bytes_total",
            "Object bytes the built-in store sent by sendfile(2), below actix",
        );
        let token_failures = IntCounterVec::new(
            Opts::new(
                "token_failures_total",
                "Refused playlist requests, by reason",
            ),
            &["reason"],
        );
        let s3_refusals = IntCounterVec::new(
            Opts::new(
                "s3_refusals_total",
                "Refused object store requests, by S3 error code",
            ),
            &["code"],
        );
        // These names and labels are constants: construction and registration cannot fail.
        let (
            Ok(requests),
            Ok(logins),
            Ok(active_sessions),
            Ok(manifests),
            Ok(segment_bytes),
            Ok(sendfile_bytes),
            Ok(token_failures),
            Ok(s3_refusals),
        ) = (
            requests,
            logins,
            active_sessions,
            manifests,
            segment_bytes,
            sendfile_bytes,
            token_failures,
            s3_refusals,
        )
        else {
            unreachable!("metric definitions are valid")
        };
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(logins.clone()),
            Box::new(active_sessions.clone()),
            Box::new(manifests.clone()),
            Box::new(segment_bytes.clone()),
            Box::new(sendfile_bytes.clone()),
            Box::new(token_failures.clone()),
            Box::new(s3_refusals.clone()),
        ] {
            let _ = registry.register(c);
        }
        Metrics {
            registry,
            requests,
            logins,
            active_sessions,
            manifests,
            segment_bytes,
            sendfile_bytes,
            token_failures,
            s3_refusals,
        }
    }

    pub fn observe<B>(&self, res: &ServiceResponse<B>, elapsed: Duration) {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_string());
        let method = res.request().method().as_str();
        self.observe_route(method, &route, res.status().as_u16(), elapsed);
    }

    /// Counts and logs one answered request (also for those answered below actix).
    pub fn observe_route(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[route, status.to_string().as_str()])
            .inc();
        tracing::info!(
            target: "streamd::access",
            method = %method,
            route = %route,
            status = status,
            micros = elapsed.as_micros() as u64,
        );
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

pub async fn scrape(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let sessions = web::block(move || store.count_sessions()).await??;
    state
        .metrics
        .active_sessions
        .set(i64::try_from(sessions).unwrap_or(i64::MAX));
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render()))
}
