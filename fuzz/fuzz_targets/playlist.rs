//! The variant-playlist parser and rewriter (`Variant::parse`, `render_signed`,
//! `to_stored_text`), on arbitrary bytes. Seeds: playlists as ffmpeg writes them (MPEG-TS and
//! fMP4, finished and still growing) and as streamd stores them.
//!
//! Properties:
//! - no panic;
//! - `to_stored_text` re-parses, and from then on is a fixed point: same header, same init
//!   segment, the same segments with the same URIs and the same durations as written (`{:.6}`);
//! - `render_signed` is a valid media playlist with one presigned URL per segment (and the
//!   init segment), each of which verifies.

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use streamd::media::sigv4::Signer;
use streamd::playlist::Variant;

const ORIGIN: &str = "http://127.0.0.1:8080";
const PREFIX: &str = "/s3/media/movies/m1/480p";
const HOST: &str = "127.0.0.1:8080";

fn signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(|| Signer::new("AK", "SK", "us-east-1"))
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// A duration as the playlists write it.
fn written(d: f32) -> String {
    format!("{d:.6}")
}

fn check_signed(url: &str, text: &str) {
    let (path, query) = url
        .strip_prefix(ORIGIN)
        .and_then(|u| u.split_once('?'))
        .unwrap_or_else(|| panic!("{url:?} is not an absolute presigned URL\n{text}"));
    assert!(path.starts_with(PREFIX), "{url:?}");
    assert_eq!(
        signer().verify("GET", path, query, HOST, now()),
        Ok(()),
        "{url:?} does not verify"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = Variant::parse(data) else {
        return;
    };
    let _ = v.fitting_target_duration();
    let _ = v.duration_s();

    // m3u8-rs reads some malformed input loosely (a title after a bare comma, a tag it does not
    // know); our writer normalises that once. From its output on, the text must be a fixed
    // point: what is stored re-parses to exactly itself.
    let normalised = v.to_stored_text();
    let v = Variant::parse(normalised.as_bytes())
        .unwrap_or_else(|_| panic!("to_stored_text does not re-parse:\n{normalised}"));

    let stored = v.to_stored_text();
    let again = Variant::parse(stored.as_bytes())
        .unwrap_or_else(|_| panic!("to_stored_text does not re-parse:\n{stored}"));
    assert_eq!(again.segments.len(), v.segments.len(), "{stored}");
    for ((d1, u1), (d2, u2)) in v.segments.iter().zip(&again.segments) {
        assert_eq!(u1, u2, "{stored}");
        assert_eq!(written(*d1), written(*d2), "{stored}");
    }
    assert_eq!(again.map, v.map, "{stored}");
    assert_eq!(
        (
            again.version,
            again.target_duration,
            again.media_sequence,
            again.independent_segments,
            again.finished
        ),
        (
            v.version,
            v.target_duration,
            v.media_sequence,
            v.independent_segments,
            v.finished
        ),
        "{stored}"
    );

    let batch = signer().batch("GET", HOST, now(), Duration::from_secs(3600));
    let text = v.render_signed(ORIGIN, PREFIX, &batch, None);
    let Ok(m3u8_rs::Playlist::MediaPlaylist(p)) = m3u8_rs::parse_playlist_res(text.as_bytes())
    else {
        panic!("render_signed is not a media playlist:\n{text}");
    };
    assert_eq!(p.segments.len(), v.segments.len(), "{text}");
    for s in &p.segments {
        check_signed(&s.uri, &text);
    }
    if v.map.is_some() {
        let map = p.segments.first().and_then(|s| s.map.as_ref());
        let map = map.unwrap_or_else(|| panic!("the init segment is lost:\n{text}"));
        check_signed(&map.uri, &text);
    }
});
