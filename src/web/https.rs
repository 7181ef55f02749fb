//! The web side of built-in HTTPS (contract section 12): TLS connections handed to actix's
//! HTTP/2 or HTTP/1.1 service by ALPN, and the plain listener's part once HTTPS is on (ACME
//! HTTP-01 answers, 308 redirects), and HSTS on every HTTPS answer.
//!
//! TLS connections take actix's ordinary path: the `sendfile` layer of [`super::connection`]
//! cannot send from the page cache through rustls (BENCHMARKS.md, "HTTPS", measures the cost).

use std::cell::Cell;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_http::Protocol;
use actix_rt::net::TcpStream;
use actix_service::Service;
use actix_web::dev::ServiceRequest;
use actix_web::{HttpResponse, http::header};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::AppState;
use super::connection::Open;

/// A year, without `includeSubDomains`: other hosts of the owner's domain may not speak HTTPS.
pub const HSTS: &str = "max-age=31536000";
/// Where HTTP-01 tokens are asked for (RFC 8555 section 8.3).
const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// Marks a request that came over TLS (set on each HTTPS connection).
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

pub fn over_tls(req: &ServiceRequest) -> bool {
    req.conn_data::<OverTls>().is_some()
}

/// A TLS connection that has neither read nor written for this long while the server stops
/// is idle (a browser's kept-alive h2 connection): it is closed rather than waited for.
const IDLE_AT_STOP: Duration = Duration::from_secs(2);

/// Serves one TLS connection: the handshake (bounded, so a client that stalls in it holds
/// nothing but its own task), then actix's h2 or HTTP/1.1 service, as ALPN chose. When the
/// server stops, the connection is closed once idle; answers being sent finish first (the
/// plain listener does the same in [`super::connection`]).
pub async fn serve<S>(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    http: Rc<S>,
    handshake_timeout: Duration,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> Result<(), ()>
where
    S: Service<(Watched<TlsStream<TcpStream>>, Protocol, Option<SocketAddr>), Response = ()>,
    S::Error: std::fmt::Debug,
{
    let _open = Open::count();
    let peer = stream.peer_addr().ok();
    let _ = stream.set_nodelay(true);
    let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::debug!(%error, ?peer, "TLS handshake failed");
            return Ok(());
        }
        Err(_) => {
            tracing::debug!(?peer, "TLS handshake timed out");
            return Ok(());
        }
    };
    let protocol = match tls.get_ref().1.alpn_protocol() {
        Some(b"h2") => Protocol::Http2,
        _ => Protocol::Http1,
    };
    let last = Rc::new(Cell::new(Instant::now()));
    let io = Watched {
        inner: tls,
        last: last.clone(),
    };
    let served = http.call((io, protocol, peer));
    tokio::select! {
        result = served => {
            if let Err(error) = result {
                tracing::debug!(?error, "HTTPS connection ended with an error");
            }
        }
        _ = idle_while_stopping(&mut stopping, &last) => {}
    }
    Ok(())
}

async fn idle_while_stopping(
    stopping: &mut tokio::sync::watch::Receiver<bool>,
    last: &Cell<Instant>,
) {
    if stopping.wait_for(|stop| *stop).await.is_err() {
        return std::future::pending().await;
    }
    while last.get().elapsed() < IDLE_AT_STOP {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An IO that remembers when it last moved bytes.
pub struct Watched<T> {
    inner: T,
    last: Rc<Cell<Instant>>,
}

impl<T> Watched<T> {
    fn moved(&self, n: usize) {
        if n > 0 {
            self.last.set(Instant::now());
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.moved(buf.filled().len() - before);
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = polled {
            self.moved(n);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What the plain listener answers itself while HTTPS is on: an ACME token, or (once there is
/// a certificate to serve) a 308 to the same address over https. `None`: the app answers.
pub fn plain_answer(req: &ServiceRequest, state: &AppState) -> Option<HttpResponse> {
    let tls = state.tls.as_ref()?;
    if over_tls(req) {
        return None;
    }
    if let Some(token) = req.path().strip_prefix(CHALLENGE_PREFIX) {
        return Some(match tls.challenges.answer(token) {
            Some(key_authorization) => HttpResponse::Ok()
                .content_type("application/octet-stream")
                .body(key_authorization),
            None => HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body("no such challenge\n"),
        });
    }
    let loopback = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
    if loopback && req.path() == super::local::CLI_PATH {
        // The CLI beside a running server talks to it over loopback, never leaving the machine.
        return None;
    }
    if !tls.redirecting() {
        // No certificate yet (the CA is unreachable on a first start): plain HTTP keeps the
        // site usable rather than sending browsers to a handshake that must fail.
        return None;
    }
    let target = https_location(req, state, tls.https_port);
    Some(
        HttpResponse::PermanentRedirect()
            .insert_header((header::LOCATION, target))
            .finish(),
    )
}

/// The same path and query at `public_url` when that is https, else at the host the client
/// asked for, on the HTTPS port.
fn https_location(req: &ServiceRequest, state: &AppState, https_port: u16) -> String {
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    if let Some(base) = state
        .config
        .server
        .public_url
        .as_deref()
        .filter(|u| u.starts_with("https://"))
    {
        let origin = url::Url::parse(base)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| base.to_string());
        return format!("{origin}{path}");
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(host_without_port)
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .or_else(|| state.config.tls.domains().first().cloned())
        .unwrap_or_else(|| "localhost".into());
    match https_port {
        443 => format!("https://{host}{path}"),
        port => format!("https://{host}:{port}{path}"),
    }
}

/// `example.org:80` -> `example.org`, `[::1]:80` -> `[::1]`.
fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_come_off_host_names_and_bracketed_addresses() {
        assert_eq!(host_without_port("tv.example.org:80"), "tv.example.org");
        assert_eq!(host_without_port("tv.example.org"), "tv.example.org");
        assert_eq!(host_without_port("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_without_port("[::1]:8080"), "[::1]");
        assert_eq!(host_without_port("[::1]"), "[::1]");
    }
}
