//! Every connection is read here, below actix, one request head at a time.
//!
//! Why: actix copies every body byte through user space twice (file to a slice, slice into the
//! connection's write buffer) before the socket gets it. For the one request that makes up
//! nearly all of streamd's traffic, a presigned `GET`/`HEAD` of a whole object in the built-in
//! store, this layer answers itself with `sendfile(2)`: the kernel sends from the page cache,
//! nothing is held per connection, and the CPU per byte is nginx's (BENCHMARKS.md).
//!
//! Every other request goes to actix *one request at a time* over the same keep-alive
//! connection: actix is handed that request's bytes (head and `Content-Length` body), then an
//! end of stream, held back until its answer has begun (actix cuts a request body short if it
//! sees the end of stream while body bytes are still unread), and when it has answered and
//! shut down, the socket comes back here for the next request. So a browser's connection that
//! carries a playlist between segments still gets its segments by `sendfile`.
//!
//! What this layer does not understand goes to actix for the rest of the connection, as before:
//! chunked bodies, `Expect`, upgrades, `Connection: close`, HTTP/1.0, unparsable or oversized
//! heads. Refusals, ranges and conditional requests stay actix's too (the signature is checked
//! here first and anything but a plain valid request is left to the handler), so S3's XML
//! errors and the metrics are the same whichever path answers.

use std::cell::RefCell;
use std::fmt::Debug;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, Instant, SystemTime};

use actix_rt::net::TcpStream;
use actix_service::Service;
use actix_web::web;
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest, ReadBuf};

use super::AppState;
use super::limits::{MAX_HEADER_BYTES, MAX_URI_BYTES, uri_too_long_response};
use super::object_file;
use super::s3;

/// Method, spaces and version around the longest target we answer (414 past it).
const MAX_LINE: usize = MAX_URI_BYTES + 64;
/// A head not complete by this size goes to actix, which answers 431 (or 400) as it always has.
const MAX_HEAD: usize = MAX_LINE + MAX_HEADER_BYTES + 1024;
const MAX_HEADERS: usize = 64;
/// What a refused request's unread body may cost us before the connection is cut: enough for the
/// client to finish sending and read our answer instead of a reset.
const LINGER_BYTES: u64 = 64 * 1024 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(5);

#[derive(Clone, Copy)]
pub struct Timeouts {
    /// Idle time allowed between requests (`server.keep_alive`), and to a stalled reader.
    pub keep_alive: Duration,
    /// Time allowed to send a whole request head (`server.request_timeout`).
    pub request_timeout: Duration,
}

/// Connections being served now, on every worker.
static OPEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many connections are being served now: a graceful stop waits for them itself, because
/// actix-server 2.6 may end a worker (dropping its connections) when its accept thread stops
/// before the worker has read the stop message (seen on a loaded machine: a SIGTERM cut a
/// download short at once, though the worker should have let it finish).
pub fn open_connections() -> usize {
    OPEN.load(std::sync::atomic::Ordering::SeqCst)
}

/// Counts a connection as open for as long as it lives.
pub struct Open;

impl Open {
    pub fn count() -> Open {
        OPEN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Serves one connection until it ends. `http` is actix's HTTP/1 service for this worker.
/// `stopping` turns true when the server begins to stop: a connection waiting for its next
/// request is closed then, one sending an answer finishes it first.
pub async fn serve<S>(
    stream: TcpStream,
    http: Rc<S>,
    state: web::Data<AppState>,
    timeouts: Timeouts,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> Result<(), ()>
where
    S: Service<(ActixIo, Option<SocketAddr>), Response = ()>,
    S::Error: Debug,
{
    let _open = Open::count();
    let peer = stream.peer_addr().ok();
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        stream,
        buf: BytesMut::new(),
    };
    let mut first = true;
    loop {
        let head_len = match read_head(&mut conn, first, timeouts, &mut stopping).await {
            HeadRead::Complete(n) => n,
            HeadRead::Ended => return Ok(()),
            HeadRead::TimedOut => {
                let _ = conn.stream.write_all(REQUEST_TIMEOUT).await;
                return Ok(());
            }
            HeadRead::LineTooLong { s3 } => {
                let _ = conn.stream.write_all(&uri_too_long_response(s3)).await;
                linger(conn).await;
                return Ok(());
            }
            HeadRead::NotOurs => {
                return hand_over(conn, Mode::Whole, &http, peer).await.map(drop);
            }
        };
        first = false;
        match plan(&conn.buf[..head_len], &state) {
            Plan::Object(object) => {
                conn.buf.advance(head_len);
                let started = Instant::now();
                if let Err(error) = send_object(&conn.stream, &object, timeouts.keep_alive).await {
                    // The client went away or stalled: nothing to answer, only to close.
                    tracing::debug!(%error, "object not sent whole");
                    return Ok(());
                }
                object.count(&state, started);
            }
            Plan::OneRequest { body } => {
                let mode = Mode::One(One::new(head_len as u64 + body));
                match hand_over(conn, mode, &http, peer).await {
                    Ok(Some(back)) => conn = back,
                    _ => return Ok(()),
                }
            }
            Plan::Whole => return hand_over(conn, Mode::Whole, &http, peer).await.map(drop),
        }
        if conn.buf.is_empty() {
            // An idle connection holds no buffer.
            conn.buf = BytesMut::new();
        }
    }
}

const REQUEST_TIMEOUT: &[u8] =
    b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

struct Conn {
    stream: TcpStream,
    /// Bytes read from the socket and not yet answered (a pipelined client sends ahead).
    buf: BytesMut,
}

enum HeadRead {
    Complete(usize),
    Ended,
    TimedOut,
    LineTooLong { s3: bool },
    NotOurs,
}

/// Reads until `conn.buf` holds a whole request head. The first request has
/// `request_timeout` from the connection's start; later ones may idle for `keep_alive` before
/// their first byte, then have `request_timeout` for the rest of the head (Slowloris). A
/// connection with nothing to answer ends when the server stops: browsers keep one open per
/// page, and a graceful stop would otherwise wait out its shutdown timeout for each of them.
async fn read_head(
    conn: &mut Conn,
    first: bool,
    timeouts: Timeouts,
    stopping: &mut tokio::sync::watch::Receiver<bool>,
) -> HeadRead {
    let started = tokio::time::Instant::now();
    if conn.buf.is_empty() {
        let idle = if first {
            timeouts.request_timeout
        } else {
            timeouts.keep_alive
        };
        tokio::select! {
            ready = tokio::time::timeout(idle, conn.stream.readable()) => {
                if !matches!(ready, Ok(Ok(()))) {
                    return HeadRead::Ended;
                }
            }
            () = server_stops(stopping) => return HeadRead::Ended,
        }
    }
    // The first head is due `request_timeout` after the connection opened; a later one, after
    // its first byte.
    let from = if first {
        started
    } else {
        tokio::time::Instant::now()
    };
    let deadline = from + timeouts.request_timeout;
    loop {
        if let Some(read) = examine(&conn.buf) {
            return read;
        }
        if conn.buf.capacity() - conn.buf.len() < 2048 {
            conn.buf.reserve(8192);
        }
        match tokio::time::timeout_at(deadline, conn.stream.read_buf(&mut conn.buf)).await {
            Err(_) if conn.buf.is_empty() => return HeadRead::Ended,
            Err(_) => return HeadRead::TimedOut,
            Ok(Ok(0)) | Ok(Err(_)) => return HeadRead::Ended,
            Ok(Ok(_)) => {}
        }
    }
}

/// Resolves when the server begins to stop; never, if the sender is gone without saying so.
async fn server_stops(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    if stopping.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What the bytes so far make: a whole head, too long a line, not ours, or `None` (read more).
fn examine(buf: &[u8]) -> Option<HeadRead> {
    if buf.is_empty() {
        return None;
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Complete(n)) => return Some(HeadRead::Complete(n)),
        Ok(httparse::Status::Partial) => {}
        // Too many headers, bad bytes: actix answers those.
        Err(_) => return Some(HeadRead::NotOurs),
    }
    let line_end = buf.iter().position(|&b| b == b'\n');
    if line_end.is_none_or(|end| end > MAX_LINE) && buf.len() > MAX_LINE {
        let target = buf.split(|&b| b == b' ').nth(1).unwrap_or_default();
        return Some(HeadRead::LineTooLong {
            s3: target.starts_with(b"/s3/"),
        });
    }
    (buf.len() > MAX_HEAD).then_some(HeadRead::NotOurs)
}

/// An object this layer sends itself.
struct Object {
    file: File,
    len: u64,
    head: Vec<u8>,
    head_only: bool,
    segment: bool,
}

impl Object {
    fn count(&self, state: &AppState, started: Instant) {
        let method = if self.head_only { "HEAD" } else { "GET" };
        if !self.head_only {
            state.metrics.sendfile_bytes.inc_by(self.len);
            if self.segment {
                state.metrics.segment_bytes.inc_by(self.len);
            }
        }
        state
            .metrics
            .observe_route(method, s3::ROUTE, 200, started.elapsed());
    }
}

enum Plan {
    Object(Object),
    /// actix answers this request; `body` bytes follow the head.
    OneRequest {
        body: u64,
    },
    /// actix takes the rest of the connection.
    Whole,
}

fn plan(head: &[u8], state: &AppState) -> Plan {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    if !matches!(request.parse(head), Ok(httparse::Status::Complete(_))) {
        return Plan::Whole;
    }
    let (Some(method), Some(target), Some(1)) = (request.method, request.path, request.version)
    else {
        return Plan::Whole;
    };
    let mut body: Option<u64> = None;
    let mut host = None;
    let mut plain = true;
    for h in request.headers.iter() {
        let name = h.name;
        let value = std::str::from_utf8(h.value).ok();
        if name.eq_ignore_ascii_case("content-length") {
            let length = value.and_then(|v| v.trim().parse::<u64>().ok());
            match (length, body) {
                (Some(n), None) => body = Some(n),
                (Some(n), Some(m)) if n == m => {}
                _ => return Plan::Whole,
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("expect")
            || name.eq_ignore_ascii_case("upgrade")
        {
            return Plan::Whole;
        } else if name.eq_ignore_ascii_case("connection") {
            let v = value.unwrap_or("close").to_ascii_lowercase();
            if v.contains("close") || v.contains("upgrade") {
                return Plan::Whole;
            }
        } else if name.eq_ignore_ascii_case("host") {
            host = value;
        } else if name.eq_ignore_ascii_case("range") || name.to_ascii_lowercase().starts_with("if-")
        {
            plain = false;
        }
    }
    let body = body.unwrap_or(0);
    let header_bytes: usize = request
        .headers
        .iter()
        .map(|h| h.name.len() + h.value.len() + 4)
        .sum();
    // Once HTTPS serves, plain HTTP only redirects (and answers ACME): actix does both, so
    // no object leaves in clear.
    let redirecting = state.tls.as_ref().is_some_and(|t| t.redirecting());
    let object = plain
        && !redirecting
        && body == 0
        && (method == "GET" || method == "HEAD")
        && target.starts_with("/s3/")
        && target.len() <= MAX_URI_BYTES
        && header_bytes <= MAX_HEADER_BYTES;
    match object.then(|| open_object(state, method, target, host)) {
        Some(Some(object)) => Plan::Object(object),
        _ => Plan::OneRequest { body },
    }
}

/// The object a plain presigned request names, if it is valid and there; `None` leaves the
/// request to actix, which finds the same answer and says why.
fn open_object(state: &AppState, method: &str, target: &str, host: Option<&str>) -> Option<Object> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let now = SystemTime::now();
    let located = s3::locate(state, method, path, query, host, now).ok()?;
    // Opening a file whose directory entries are cached costs microseconds: done inline, as
    // nginx does, rather than through the blocking pool.
    let file = File::open(&located.path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    let (etag, modified) = object_file::validators(&meta);
    let cache = s3::cache_control(located.mime, located.valid_until, now);
    let mut head = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: {}\r\netag: {etag}\r\n\
         last-modified: {}\r\ncache-control: {cache}\r\naccept-ranges: bytes\r\n",
        meta.len(),
        located.mime,
        httpdate::fmt_http_date(modified),
    );
    for (name, value) in super::security_headers(&state.config) {
        head.push_str(&format!("{}: {value}\r\n", name.to_ascii_lowercase()));
    }
    head.push_str(&format!(
        "date: {}\r\n\r\n",
        httpdate::fmt_http_date(SystemTime::now())
    ));
    Some(Object {
        file,
        len: meta.len(),
        head: head.into_bytes(),
        head_only: method == "HEAD",
        segment: s3::is_segment(located.mime),
    })
}

/// Sends the head (held back with `MSG_MORE` so it leaves in the body's first packet) and the
/// file by `sendfile`. A reader that takes nothing for `stall` is dropped, as nginx's
/// `send_timeout` does.
async fn send_object(stream: &TcpStream, object: &Object, stall: Duration) -> io::Result<()> {
    let more = if object.head_only || object.len == 0 {
        rustix::net::SendFlags::empty()
    } else {
        rustix::net::SendFlags::MORE
    };
    let mut sent = 0;
    while sent < object.head.len() {
        let write = stream.async_io(Interest::WRITABLE, || {
            Ok(rustix::net::send(stream, &object.head[sent..], more)?)
        });
        sent += tokio::time::timeout(stall, write).await??;
    }
    if object.head_only {
        return Ok(());
    }
    let mut offset = 0u64;
    while offset < object.len {
        let count = usize::try_from(object.len - offset)
            .unwrap_or(usize::MAX)
            .min(1 << 30);
        let write = stream.async_io(Interest::WRITABLE, || {
            Ok(rustix::fs::sendfile(
                stream,
                &object.file,
                Some(&mut offset),
                count,
            )?)
        });
        if tokio::time::timeout(stall, write).await?? == 0 {
            // The file is shorter than it said: nothing honest can follow.
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(())
}

/// Reads and drops what the client still sends (a refused body), for a bounded time and
/// amount, before closing: closing with unread bytes would send a reset that can reach the
/// client before it has read our answer.
async fn linger(mut conn: Conn) {
    let _ = conn.stream.shutdown().await;
    let deadline = tokio::time::Instant::now() + LINGER_TIME;
    let mut drained = 0u64;
    let mut sink = vec![0u8; 16 * 1024];
    while drained < LINGER_BYTES {
        match tokio::time::timeout_at(deadline, conn.stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => drained += n as u64,
            _ => break,
        }
    }
}

/// Runs actix on the connection. For one request, returns the connection when actix has
/// answered and the connection may carry another.
async fn hand_over<S>(
    conn: Conn,
    mode: Mode,
    http: &Rc<S>,
    peer: Option<SocketAddr>,
) -> Result<Option<Conn>, ()>
where
    S: Service<(ActixIo, Option<SocketAddr>), Response = ()>,
    S::Error: Debug,
{
    let back = Rc::new(RefCell::new(None));
    let io = ActixIo {
        conn: Some(conn),
        mode,
        back: back.clone(),
    };
    let result = http.call((io, peer)).await;
    let returned = back.borrow_mut().take();
    let Some(Returned { conn, reusable }) = returned else {
        return Ok(None);
    };
    if let Err(e) = result {
        tracing::debug!(error = ?e, "connection ended by actix");
        return Ok(None);
    }
    if reusable {
        return Ok(Some(conn));
    }
    linger(conn).await;
    Ok(None)
}

/// The socket as actix sees it.
pub struct ActixIo {
    conn: Option<Conn>,
    mode: Mode,
    back: Rc<RefCell<Option<Returned>>>,
}

struct Returned {
    conn: Conn,
    reusable: bool,
}

enum Mode {
    /// The rest of the connection is actix's.
    Whole,
    /// One request, then the connection comes back.
    One(One),
}

struct One {
    /// Request bytes (head and body) not yet given to actix.
    unread: u64,
    /// What actix has written, until the end of its final (non-1xx) response head.
    written: Vec<u8>,
    answered: bool,
    closes: bool,
    client_gone: bool,
    waiting_reader: Option<Waker>,
}

impl One {
    fn new(request_len: u64) -> Self {
        One {
            unread: request_len,
            written: Vec::new(),
            answered: false,
            closes: false,
            client_gone: false,
            waiting_reader: None,
        }
    }

    /// Follows actix's output until its final response head has been written.
    fn watch(&mut self, out: &[u8]) {
        if self.answered {
            return;
        }
        self.written.extend_from_slice(out);
        while let Some(end) = self.written.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&self.written[..end]).to_ascii_lowercase();
            let interim = head.starts_with("http/1.1 1");
            if !interim {
                self.closes = head
                    .lines()
                    .any(|l| l.starts_with("connection:") && l.contains("close"));
                self.answer();
                return;
            }
            self.written.drain(..end + 4);
        }
        if self.written.len() > MAX_HEAD {
            // Not a head we can read: let actix finish, then close.
            self.closes = true;
            self.answer();
        }
    }

    fn answer(&mut self) {
        self.answered = true;
        self.written = Vec::new();
        if let Some(waker) = self.waiting_reader.take() {
            waker.wake();
        }
    }
}

impl Drop for ActixIo {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        let reusable = match &self.mode {
            Mode::Whole => false,
            Mode::One(one) => one.answered && !one.closes && !one.client_gone && one.unread == 0,
        };
        *self.back.borrow_mut() = Some(Returned { conn, reusable });
    }
}

fn gone() -> io::Error {
    io::ErrorKind::NotConnected.into()
}

impl AsyncRead for ActixIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(conn) = this.conn.as_mut() else {
            return Poll::Ready(Err(gone()));
        };
        let one = match &mut this.mode {
            Mode::Whole => {
                if !conn.buf.is_empty() {
                    let n = conn.buf.len().min(out.remaining());
                    out.put_slice(&conn.buf[..n]);
                    conn.buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                return Pin::new(&mut conn.stream).poll_read(cx, out);
            }
            Mode::One(one) => one,
        };
        if one.answered {
            return Poll::Ready(Ok(()));
        }
        if one.unread == 0 {
            one.waiting_reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let limit = usize::try_from(one.unread)
            .unwrap_or(usize::MAX)
            .min(out.remaining());
        if !conn.buf.is_empty() {
            let n = conn.buf.len().min(limit);
            out.put_slice(&conn.buf[..n]);
            conn.buf.advance(n);
            one.unread -= n as u64;
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(conn.stream.poll_read_ready(cx))?;
            match conn.stream.try_read(out.initialize_unfilled_to(limit)) {
                Ok(0) => {
                    one.client_gone = true;
                    return Poll::Ready(Ok(()));
                }
                Ok(n) => {
                    out.advance(n);
                    one.unread -= n as u64;
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for ActixIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(conn) = this.conn.as_mut() else {
            return Poll::Ready(Err(gone()));
        };
        let n = ready!(Pin::new(&mut conn.stream).poll_write(cx, data))?;
        if let Mode::One(one) = &mut this.mode {
            one.watch(&data[..n]);
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.conn.as_mut() {
            Some(conn) => Pin::new(&mut conn.stream).poll_flush(cx),
            None => Poll::Ready(Err(gone())),
        }
    }

    /// actix ends its connection; for one request, the socket stays open for the next.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match (this.conn.as_mut(), &this.mode) {
            (Some(conn), Mode::Whole) => Pin::new(&mut conn.stream).poll_shutdown(cx),
            (Some(_), Mode::One(_)) => Poll::Ready(Ok(())),
            (None, _) => Poll::Ready(Err(gone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_told_apart_from_lines_too_long_and_strangers() {
        assert!(examine(b"").is_none());
        assert!(examine(b"GET /s3/media/k HTTP/1.1\r\nHost: x\r\n").is_none());
        assert!(matches!(
            examine(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET"),
            Some(HeadRead::Complete(27))
        ));
        let long = format!("GET /s3/media/k?x={} HTTP/1.1", "a".repeat(MAX_LINE));
        assert!(matches!(
            examine(long.as_bytes()),
            Some(HeadRead::LineTooLong { s3: true })
        ));
        assert!(matches!(
            examine(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
            Some(HeadRead::NotOurs)
        ));
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "X-Filler: y\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(matches!(examine(many.as_bytes()), Some(HeadRead::NotOurs)));
    }

    #[test]
    fn the_final_head_is_found_past_interim_ones() {
        let mut one = One::new(10);
        one.watch(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncont");
        assert!(!one.answered);
        one.watch(b"ent-length: 2\r\n\r\nok");
        assert!(one.answered && !one.closes);

        let mut one = One::new(10);
        one.watch(b"HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\n\r\n");
        assert!(one.answered && one.closes);
    }
}
