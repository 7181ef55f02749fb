//! The SigV4 query verifier of the built-in store (`Signer::verify`), on arbitrary requests.
//!
//! Input: lines `METHOD\nRAW_PATH\nRAW_QUERY\nHOST\nCONTROL`, all optional. The seeds are real
//! presigned URLs signed at `NOW` by `signer()`, so mutations reach the signature check.
//!
//! Properties:
//! - `verify` never panics, agrees with `verify_until`, and a URL it accepts stays valid for
//!   no longer than S3 allows (`X-Amz-Expires` <= 7 days from a date <= 15 min ahead).
//! - A URL produced by `Signer::batch(..).signed(path)` (for the input's path bytes as the key,
//!   its host, method, lifetime and signing time from CONTROL) verifies at its signing time.
//! - Flipping one byte of that URL's query (or path) never verifies, unless the flipped URL
//!   decodes to the same parameters (or path): a second spelling of the same request, which
//!   S3 accepts too (`%2F` vs `%2f`).

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use streamd::media::sigv4::{CLOCK_SKEW, MAX_EXPIRES, Signer, percent_decode, uri_encode};

/// 2027-01-15T08:00:00Z, when the seeds were signed.
const NOW: u64 = 1_800_000_000;
/// Last second humantime (and SigV4's 4-digit year) can write: 9999-12-31T23:59:59Z.
const LAST_SECOND: u64 = 253_402_300_799;

fn signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(|| Signer::new("AK", "SECRET", "us-east-1"))
}

/// The query as `verify` reads it: `&`-separated, empty pairs skipped, percent-decoded.
fn decoded_params(query: &str) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn flipped(text: &str, at: usize, xor: u8) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    bytes[at] ^= xor;
    String::from_utf8(bytes).ok()
}

fn control_u64(control: &[u8], from: usize, len: usize) -> u64 {
    let mut v = 0u64;
    for i in 0..len {
        v = (v << 8) | u64::from(control.get(from + i).copied().unwrap_or(0));
    }
    v
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut fields = text.splitn(5, '\n');
    let method = fields.next().unwrap_or("");
    let path = fields.next().unwrap_or("");
    let query = fields.next().unwrap_or("");
    let host = fields.next().unwrap_or("");
    let control = fields.next().unwrap_or("").as_bytes();
    let signer = signer();

    // Arbitrary requests.
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    let verdict = signer.verify(method, path, query, host, now);
    let until = signer.verify_until(method, path, query, host, now);
    assert_eq!(
        verdict,
        until.as_ref().map(|_| ()).map_err(Clone::clone),
        "verify and verify_until disagree"
    );
    if let Ok(until) = until {
        assert!(until > now, "accepted an expired URL");
        assert!(
            until <= now + CLOCK_SKEW + Duration::from_secs(MAX_EXPIRES),
            "accepted a URL valid for longer than S3 allows"
        );
    }

    // What we sign verifies.
    let sign_method = if control_u64(control, 0, 1) % 2 == 0 {
        "GET"
    } else {
        "HEAD"
    };
    let expires = Duration::from_secs(control_u64(control, 1, 4));
    let signed_at = UNIX_EPOCH
        + Duration::new(
            control_u64(control, 5, 5) % (LAST_SECOND + 1),
            (control_u64(control, 10, 4) % 1_000_000_000) as u32,
        );
    let sign_host = host.trim();
    let mut canonical = String::new();
    uri_encode(path.as_bytes(), true, &mut canonical);
    let url = signer
        .batch(sign_method, sign_host, signed_at, expires)
        .signed(&canonical);
    let (url_path, url_query) = url.split_once('?').expect("a signed URL has a query");
    assert_eq!(url_path, canonical);
    let ours =
        |path: &str, query: &str| signer.verify(sign_method, path, query, sign_host, signed_at);
    assert_eq!(
        ours(url_path, url_query),
        Ok(()),
        "a URL we signed does not verify: {url}"
    );

    // One flipped byte is another URL, unless it means the same.
    let xor = match control_u64(control, 14, 1) as u8 {
        0 => 1,
        x => x,
    };
    let at = control_u64(control, 15, 2) as usize;
    if let Some(q) = flipped(url_query, at % url_query.len(), xor)
        && ours(url_path, &q).is_ok()
    {
        assert_eq!(
            decoded_params(&q),
            decoded_params(url_query),
            "a mutated query verifies: {q:?} (signed: {url_query:?})"
        );
    }
    if !url_path.is_empty()
        && let Some(p) = flipped(url_path, at % url_path.len(), xor)
        && ours(&p, url_query).is_ok()
    {
        assert_eq!(
            percent_decode(&p),
            percent_decode(url_path),
            "a mutated path verifies: {p:?} (signed: {url_path:?})"
        );
    }
});
