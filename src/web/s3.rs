//! The built-in object store's S3-compatible face: `GET`/`HEAD /s3/{bucket}/{key}` with SigV4
//! query authentication verified exactly as S3 does, then the file served with Range, ETag and
//! Last-Modified from a memory map. Errors are S3's XML. No listing, no way out of the bucket.

use std::time::SystemTime;

use actix_web::body::MessageBody;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, guard, web};

use super::AppState;
use super::object_file::{self, Opened};
use crate::config::StorageBackend;
use crate::media::sigv4::{S3Error, percent_decode};

/// The route pattern, as metrics and the access log name it.
pub(super) const ROUTE: &str = "/s3/{tail:.*}";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        ROUTE,
        web::route()
            .guard(guard::Any(guard::Get()).or(guard::Head()))
            .to(get_object),
    );
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn error_response(req: &HttpRequest, e: &S3Error) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::FORBIDDEN);
    let mut res = HttpResponse::build(status);
    res.content_type("application/xml")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if req.method() == Method::HEAD {
        return res.finish();
    }
    res.body(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><Resource>{}</Resource></Error>",
        e.code(),
        xml_escape(&e.to_string()),
        xml_escape(req.path())
    ))
}

/// Playlists are private. Everything else never changes (a new ingest is a new movie id), but
/// a cache (a CDN, the browser) may keep an answer only while the URL that fetched it is valid:
/// a week's `max-age` on a link that expires in two hours would let anyone holding it go on
/// fetching from the cache after the link (and perhaps the viewer's entitlement) is gone.
pub(super) fn cache_control(mime: &str, valid_until: SystemTime, now: SystemTime) -> String {
    if mime == "application/vnd.apple.mpegurl" {
        return "private, no-store".to_string();
    }
    let left = valid_until
        .duration_since(now)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("public, max-age={left}, immutable")
}

/// Splits `/s3/{bucket}/{key}` (raw, as received) into a bucket name and a safe relative key.
/// Anything that could step outside the bucket is refused before any file is touched.
fn bucket_and_key(raw_path: &str) -> Result<(String, String), S3Error> {
    let tail = raw_path
        .strip_prefix("/s3/")
        .ok_or(S3Error::InvalidUri("not an object path"))?;
    let (raw_bucket, raw_key) = tail
        .split_once('/')
        .ok_or(S3Error::InvalidUri("no object key"))?;
    let lower = raw_key.to_ascii_lowercase();
    // Encoded separators and NUL would let one "segment" hide a path; S3 keys here never need them.
    if ["%2f", "%5c", "%00"].iter().any(|bad| lower.contains(bad)) || raw_key.contains('\\') {
        return Err(S3Error::InvalidUri("the key holds an encoded separator"));
    }
    let decode = |s: &str| {
        percent_decode(s)
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(S3Error::InvalidUri(
                "the path is not valid percent-encoded UTF-8",
            ))
    };
    let (bucket, key) = (decode(raw_bucket)?, decode(raw_key)?);
    let bad_segment = key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..");
    if key.is_empty() || bad_segment || key.contains('\0') {
        return Err(S3Error::InvalidUri("the key is not a plain relative path"));
    }
    Ok((bucket, key))
}

async fn get_object(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match serve(&req, &state).await {
        Ok(res) => res,
        Err(e) => {
            state
                .metrics
                .s3_refusals
                .with_label_values(&[e.code()])
                .inc();
            error_response(&req, &e)
        }
    }
}

/// A presigned request checked and its file found: what both this handler and the connection
/// layer's `sendfile` path (`super::connection`) run first, so both refuse alike.
pub(super) struct Located {
    pub path: std::path::PathBuf,
    pub mime: &'static str,
    pub valid_until: SystemTime,
}

pub(super) fn locate(
    state: &AppState,
    method: &str,
    raw_path: &str,
    raw_query: &str,
    host: Option<&str>,
    now: SystemTime,
) -> Result<Located, S3Error> {
    if state.config.storage.backend != StorageBackend::Local {
        // With an external store, streamd serves no media at all.
        return Err(S3Error::NoSuchBucket);
    }
    let (bucket, key) = bucket_and_key(raw_path)?;
    if bucket != state.media.bucket() {
        return Err(S3Error::NoSuchBucket);
    }
    let host = host.ok_or(S3Error::AuthorizationQueryParametersError("no Host header"))?;
    let valid_until = state
        .media
        .signer()
        .verify_until(method, raw_path, raw_query, host, now)?;
    Ok(Located {
        path: state.media.local.bucket_root().join(&key),
        mime: crate::media::content_type(&key),
        valid_until,
    })
}

/// Segments are what `streamd_segment_bytes_total` counts.
pub(super) fn is_segment(mime: &str) -> bool {
    mime == "video/mp2t" || mime == "video/iso.segment"
}

async fn serve(req: &HttpRequest, state: &AppState) -> Result<HttpResponse, S3Error> {
    let now = SystemTime::now();
    // HTTP/2 names the host in `:authority`, which actix keeps in the URI, not in a header.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let located = locate(
        state,
        req.method().as_str(),
        req.uri().path(),
        req.uri().query().unwrap_or(""),
        host,
        now,
    )?;
    let path = located.path;
    // Open and map inline, as the plain listener's sendfile path and nginx do: microseconds
    // for a published object whose directory entries are cached, where a round trip through
    // the blocking pool cost every HTTPS segment ~1.4 ms of time to first byte (BENCHMARKS.md,
    // "HTTPS").
    let (body, etag, modified) = match object_file::open(&path) {
        Ok(Opened::File {
            body,
            etag,
            modified,
        }) => (body, etag, modified),
        Ok(Opened::Missing) => return Err(S3Error::NoSuchKey),
        Err(e) => {
            tracing::error!(error = %e, "cannot read an object");
            return Err(S3Error::NoSuchKey);
        }
    };
    let mime = located.mime;
    let cache = cache_control(mime, located.valid_until, now);
    let res = object_file::respond(req, body, &etag, modified, mime, &cache);
    if req.method() == Method::GET && is_segment(mime) {
        let sent = match res.body().size() {
            actix_web::body::BodySize::Sized(n) => n,
            _ => 0,
        };
        state.metrics.segment_bytes.inc_by(sent);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_no_longer_than_the_link_lives() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        let later = now + std::time::Duration::from_secs(7200);
        assert_eq!(
            cache_control("video/iso.segment", later, now),
            "public, max-age=7200, immutable"
        );
        assert_eq!(
            cache_control("video/iso.segment", now, later),
            "public, max-age=0, immutable"
        );
        assert_eq!(
            cache_control("application/vnd.apple.mpegurl", later, now),
            "private, no-store"
        );
    }

    #[test]
    fn keys_that_leave_the_bucket_are_refused() {
        assert_eq!(
            bucket_and_key("/s3/media/movies/m1/480p/seg_00001.ts"),
            Ok(("media".into(), "movies/m1/480p/seg_00001.ts".into()))
        );
        for bad in [
            "/s3/media/../secrets/admin.secret",
            "/s3/media/movies/%2e%2e/%2e%2e/secrets/admin.secret",
            "/s3/media/movies%2F..%2F..%2Fsecrets",
            "/s3/media//etc/passwd",
            "/s3/media/movies/./m1",
            "/s3/media/a%00b",
            "/s3/media/a\\..\\b",
            "/s3/media/",
            "/s3/media",
            "/s3/media/%zz",
        ] {
            assert!(bucket_and_key(bad).is_err(), "{bad}");
        }
    }
}
