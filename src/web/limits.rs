//! Requests too large to read: a URI over [`MAX_URI_BYTES`] gets 414 and headers over
//! [`MAX_HEADER_BYTES`] get 431, before any handler runs, with S3's XML under `/s3/` (S3
//! clients parse it) and the API's JSON elsewhere. nginx draws the same lines (8 KB for a
//! request line by default); our own URLs, presigned ones included, stay under 1 KB.
//!
//! actix refuses larger heads itself, before this code sees them: a URI over 64 KiB (the `http`
//! crate's limit) with 400 and a head over 128 KiB with 431; `connection` reads every request
//! line first and answers 414 for those instead.

use actix_web::HttpResponse;
use actix_web::dev::ServiceRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};

pub const MAX_URI_BYTES: usize = 8 * 1024;
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The answer for a request whose URI or headers are too large, if it is one.
pub fn refuse_oversized(req: &ServiceRequest) -> Option<HttpResponse> {
    let uri = req.uri();
    let uri_len = uri.path().len() + uri.query().map_or(0, |q| q.len() + 1);
    let header_len: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let (status, code, message) = if uri_len > MAX_URI_BYTES {
        (
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request URI is longer than {MAX_URI_BYTES} bytes"),
        )
    } else if header_len > MAX_HEADER_BYTES {
        (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!("the request headers are larger than {MAX_HEADER_BYTES} bytes"),
        )
    } else {
        return None;
    };
    let (content_type, body) = refusal_body(status, code, &message, uri.path().starts_with("/s3/"));
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(content_type);
    // What follows an oversized head is not worth reading.
    res.force_close();
    Some(res.body(body))
}

/// S3's XML under `/s3/` (S3 clients parse it), the API's JSON elsewhere.
fn refusal_body(status: StatusCode, code: &str, message: &str, s3: bool) -> (&'static str, String) {
    if s3 {
        let s3_code = if status == StatusCode::URI_TOO_LONG {
            "RequestURITooLong"
        } else {
            "RequestHeaderSectionTooLarge"
        };
        (
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{s3_code}</Code><Message>{message}</Message></Error>"
            ),
        )
    } else {
        (
            "application/json",
            serde_json::json!({ "error": { "code": code, "message": message } }).to_string(),
        )
    }
}

/// The whole 414 response, as bytes for the socket: for a first request line too long for
/// actix to parse at all (see `connection`).
pub fn uri_too_long_response(s3: bool) -> Vec<u8> {
    let (content_type, body) = refusal_body(
        StatusCode::URI_TOO_LONG,
        "uri_too_long",
        &format!("the request URI is longer than {MAX_URI_BYTES} bytes"),
        s3,
    );
    format!(
        "HTTP/1.1 414 URI Too Long\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Whether the client sent (or is sending) a request body.
pub fn declares_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}
