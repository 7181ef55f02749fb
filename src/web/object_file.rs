//! Serving one published object file fast: the file is memory-mapped and its pages handed to
//! the response as zero-copy `Bytes` slices (no per-request file buffer, no blocking-pool round trip
//! per 64 KB chunk), with the HTTP semantics players rely on: Range/206/416, ETag,
//! Last-Modified and conditional requests (304), HEAD.
//!
//! Mapping is safe here because published objects are immutable: a movie is never rewritten
//! in place (re-ingest makes a new id) and deletion unlinks, which keeps existing maps valid.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use actix_files::HttpRange;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;

pub enum Opened {
    File {
        body: Bytes,
        etag: String,
        modified: std::time::SystemTime,
    },
    Missing,
}

/// Opens and maps a file: an open, a stat and an mmap, microseconds for a published object.
pub fn open(path: &Path) -> std::io::Result<Opened> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Opened::Missing),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Opened::Missing);
    }
    let body = if meta.len() == 0 {
        Bytes::new()
    } else {
        // SAFETY: see the module comment: the file is never modified while mapped.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Bytes::from_owner(map)
    };
    let (etag, modified) = validators(&meta);
    Ok(Opened::File {
        etag,
        body,
        modified,
    })
}

/// The ETag and Last-Modified of a file, the same on every path that serves it.
pub fn validators(meta: &std::fs::Metadata) -> (String, std::time::SystemTime) {
    let modified = UNIX_EPOCH + Duration::from_secs(u64::try_from(meta.mtime()).unwrap_or(0));
    let etag = format!("\"{:x}-{:x}-{:x}\"", meta.ino(), meta.mtime(), meta.len());
    (etag, modified)
}

fn header_str(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The response for a mapped file: 200, 206, 304 or 416.
pub fn respond(
    req: &HttpRequest,
    body: Bytes,
    etag: &str,
    modified: std::time::SystemTime,
    content_type: &str,
    cache_control: &str,
) -> HttpResponse {
    let last_modified = httpdate::fmt_http_date(modified);
    let not_modified = match header_str(req, header::IF_NONE_MATCH) {
        Some(tags) => tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        None => header_str(req, header::IF_MODIFIED_SINCE)
            .and_then(|s| httpdate::parse_http_date(s).ok())
            .is_some_and(|since| modified <= since),
    };
    let mut res = HttpResponse::build(StatusCode::OK);
    res.insert_header((header::ETAG, etag))
        .insert_header((header::LAST_MODIFIED, last_modified))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::ACCEPT_RANGES, "bytes"));
    if not_modified {
        return res.status(StatusCode::NOT_MODIFIED).finish();
    }
    res.content_type(content_type);
    let size = body.len() as u64;
    // If-Range with another validator means "send it all".
    let range_applies = header_str(req, header::IF_RANGE).is_none_or(|v| v.trim() == etag);
    let mut body = body;
    if let (Some(range), true) = (header_str(req, header::RANGE), range_applies) {
        match HttpRange::parse(range, size) {
            Ok(ranges) if ranges.len() == 1 => {
                let r = ranges[0];
                let (start, end) = (r.start as usize, (r.start + r.length) as usize);
                res.status(StatusCode::PARTIAL_CONTENT).insert_header((
                    header::CONTENT_RANGE,
                    format!(
                        "bytes {}-{}/{size}",
                        r.start,
                        r.start + r.length.saturating_sub(1)
                    ),
                ));
                body = body.slice(start..end.min(body.len()));
            }
            // Several ranges (multipart/byteranges) are rare for media: send the whole object.
            Ok(_) => {}
            Err(_) => {
                return res
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                    .finish();
            }
        }
    }
    if req.method() == Method::HEAD {
        return res.body(HeadOnly(body.len() as u64));
    }
    res.body(Slices(body))
}

/// The answer to a HEAD: the length GET would send and no bytes. actix writes `Content-Length`
/// from the body's size and drops any header set by hand on an empty body, so S3 clients
/// (boto3's `head_object`) would see no length at all.
struct HeadOnly(u64);

impl actix_web::body::MessageBody for HeadOnly {
    type Error = std::convert::Infallible;

    fn size(&self) -> actix_web::body::BodySize {
        actix_web::body::BodySize::Sized(self.0)
    }

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Bytes, Self::Error>>> {
        std::task::Poll::Ready(None)
    }
}

/// A mapped object handed to actix in slices rather than as one piece. actix copies whatever a
/// body yields into the connection's write buffer and keeps it there until the socket takes it,
/// so one piece means every connection holds a whole segment (3 MB at 1080p, more at 2160p) for
/// as long as its viewer takes to download it. Slices bound that to `SLICE` per connection:
/// with 64 connections, peak RSS fell from 216 MB to 35 MB (benches/serve.sh, BENCHMARKS.md).
struct Slices(Bytes);

/// One TLS record's worth of plaintext. actix copies each slice into the connection's write
/// buffer, keeps that buffer's capacity for the connection's life, and reads the next slice
/// only when the buffer is under 32 KB: 16 KB slices bound it near 48 KB per connection. With
/// 256 KB slices (the plain path's choice, when segments went through actix) every HTTPS
/// viewer kept ~280 KB: 280 MB of anonymous memory at 1,000 (BENCHMARKS.md, "HTTPS").
const SLICE: usize = 16 * 1024;

impl actix_web::body::MessageBody for Slices {
    type Error = std::convert::Infallible;

    fn size(&self) -> actix_web::body::BodySize {
        actix_web::body::BodySize::Sized(self.0.len() as u64)
    }

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Bytes, Self::Error>>> {
        if self.0.is_empty() {
            return std::task::Poll::Ready(None);
        }
        let n = self.0.len().min(SLICE);
        std::task::Poll::Ready(Some(Ok(self.0.split_to(n))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn slices_are_bounded_and_add_up_to_the_object() {
        let object = Bytes::from((0..(SLICE * 3 + 17)).map(|i| i as u8).collect::<Vec<_>>());
        let body = Slices(object.clone());
        assert_eq!(
            actix_web::body::MessageBody::size(&body),
            actix_web::body::BodySize::Sized(object.len() as u64)
        );
        let mut body = std::pin::pin!(body);
        let mut joined = Vec::new();
        let mut pieces = 0;
        while let Some(piece) = futures_util::future::poll_fn(|cx| {
            actix_web::body::MessageBody::poll_next(body.as_mut(), cx)
        })
        .await
        {
            let piece = piece.expect("infallible");
            assert!(!piece.is_empty() && piece.len() <= SLICE);
            joined.extend_from_slice(&piece);
            pieces += 1;
        }
        assert_eq!(pieces, 4);
        assert_eq!(joined, object);
    }
}
