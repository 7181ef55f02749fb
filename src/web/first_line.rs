//! A guard on each connection's first request line, below actix.
//!
//! actix answers a request target over 64 KiB (the `http` crate's limit) with a bare 400 and a
//! head over 128 KiB with 431, before any middleware runs, so [`super::limits`] cannot give
//! those the 414 (and S3's XML) that a URI over [`MAX_URI_BYTES`] deserves. This wrapper watches
//! the bytes of a connection's first line as actix reads them: past the limit, it writes the
//! 414 itself, closes, and hands actix an end of stream. Once a line has ended it steps aside
//! for the life of the connection, so it costs one scan of the first line and a branch per read.
//! (A later request on a kept-alive connection with a URI over 64 KiB still gets actix's 400.)

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::limits::{MAX_URI_BYTES, uri_too_long_response};

/// Method, spaces and version around the target.
const MAX_LINE: usize = MAX_URI_BYTES + 64;
/// Enough of the line to tell a `/s3/` target (S3 clients want XML).
const HEAD_KEPT: usize = 32;

pub struct FirstLineGuard<T> {
    inner: T,
    state: State,
}

enum State {
    Reading { seen: usize, head: Vec<u8> },
    Refusing { response: Vec<u8>, written: usize },
    Closed,
    Passing,
}

impl<T> FirstLineGuard<T> {
    pub fn new(inner: T) -> Self {
        FirstLineGuard {
            inner,
            state: State::Reading {
                seen: 0,
                head: Vec::with_capacity(HEAD_KEPT),
            },
        }
    }
}

fn targets_s3(head: &[u8]) -> bool {
    let line = String::from_utf8_lossy(head);
    line.split(' ')
        .nth(1)
        .is_some_and(|t| t.starts_with("/s3/"))
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for FirstLineGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Passing => return Pin::new(&mut this.inner).poll_read(cx, buf),
                State::Closed => return Poll::Ready(Ok(())),
                State::Refusing { response, written } => {
                    while *written < response.len() {
                        match ready!(
                            Pin::new(&mut this.inner).poll_write(cx, &response[*written..])
                        ) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => *written += n,
                        }
                    }
                    let _ = Pin::new(&mut this.inner).poll_shutdown(cx);
                    this.state = State::Closed;
                }
                State::Reading { seen, head } => {
                    let before = buf.filled().len();
                    ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
                    let fresh = &buf.filled()[before..];
                    let room = HEAD_KEPT.saturating_sub(head.len()).min(fresh.len());
                    head.extend_from_slice(&fresh[..room]);
                    let line_end = fresh.iter().position(|&b| b == b'\n');
                    match line_end {
                        Some(i) if *seen + i <= MAX_LINE => this.state = State::Passing,
                        _ if *seen + fresh.len() > MAX_LINE => {
                            // What actix has of this line stays incomplete: it sees the end of
                            // the stream and answers nothing; the 414 is ours.
                            buf.set_filled(before);
                            this.state = State::Refusing {
                                response: uri_too_long_response(targets_s3(head)),
                                written: 0,
                            };
                            continue;
                        }
                        _ => *seen += fresh.len(),
                    }
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for FirstLineGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn through_guard(request: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
        let (client, server) = tokio::io::duplex(1 << 20);
        let mut guard = FirstLineGuard::new(server);
        let (mut client_read, mut client_write) = tokio::io::split(client);
        let writer = tokio::spawn(async move {
            let _ = client_write.write_all(&request).await;
            let _ = client_write.shutdown().await;
        });
        let mut seen_by_server = Vec::new();
        let _ = guard.read_to_end(&mut seen_by_server).await;
        drop(guard);
        let _ = writer.await;
        let mut answer = Vec::new();
        let _ = client_read.read_to_end(&mut answer).await;
        (seen_by_server, answer)
    }

    #[tokio::test]
    async fn a_normal_connection_passes_untouched() {
        let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n".to_vec();
        let (seen, answer) = through_guard(request.clone()).await;
        assert_eq!(seen, request);
        assert!(answer.is_empty());
    }

    #[tokio::test]
    async fn an_over_long_first_line_gets_414_and_an_end_of_stream() {
        let target = format!("/s3/media/k?x={}", "a".repeat(100 * 1024));
        let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes();
        let (seen, answer) = through_guard(request).await;
        assert!(seen.len() <= MAX_LINE, "actix saw {} bytes", seen.len());
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 414 "), "{answer}");
        assert!(answer.contains("RequestURITooLong"), "{answer}");
        assert!(answer.to_ascii_lowercase().contains("connection: close"));
    }

    #[tokio::test]
    async fn a_long_line_after_the_first_is_not_ours() {
        let request = format!(
            "GET / HTTP/1.1\r\nX-Long: {}\r\n\r\n",
            "b".repeat(MAX_LINE * 2)
        )
        .into_bytes();
        let (seen, answer) = through_guard(request.clone()).await;
        assert_eq!(seen, request);
        assert!(answer.is_empty());
    }
}
