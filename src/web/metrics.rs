//! Prometheus metrics and the access log: every request counted by route pattern and status
//! (patterns, not paths, so ids and tokens never become labels or log lines).

use std::time::Duration;

use actix_web::dev::ServiceResponse;
use actix_web::{HttpResponse, web};
use prometheus::{Encoder, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

use super::{ApiError, AppState};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub logins: IntCounterVec,
    pub active_sessions: IntGauge,
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
        // These names and labels are constants: construction and registration cannot fail.
        let (Ok(requests), Ok(logins), Ok(active_sessions)) = (requests, logins, active_sessions)
        else {
            unreachable!("metric definitions are valid")
        };
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(logins.clone()),
            Box::new(active_sessions.clone()),
        ] {
            let _ = registry.register(c);
        }
        Metrics {
            registry,
            requests,
            logins,
            active_sessions,
        }
    }

    pub fn observe<B>(&self, res: &ServiceResponse<B>, elapsed: Duration) {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_string());
        let status = res.status();
        self.requests
            .with_label_values(&[route.as_str(), status.as_str()])
            .inc();
        tracing::info!(
            target: "streamd::access",
            method = %res.request().method(),
            route = %route,
            status = status.as_u16(),
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
