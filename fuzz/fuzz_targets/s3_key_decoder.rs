//! The `/s3/{bucket}/{key}` path decoder of the built-in store (`bucket_and_key` in
//! src/web/s3.rs, compiled from its source text: see build.rs), on arbitrary raw paths.
//!
//! Properties: no panic; an accepted key is a plain relative path (no empty, `.` or `..`
//! segment, no NUL, no backslash; `Path::join`ing it under the bucket root cannot leave the
//! root); and re-encoding what was accepted decodes to the same bucket and key.

#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use streamd::media::sigv4::uri_encode;

mod s3 {
    use streamd::media::sigv4::{S3Error, percent_decode};
    include!(concat!(env!("OUT_DIR"), "/bucket_and_key.rs"));
}

fuzz_target!(|data: &[u8]| {
    // actix hands the handler a `&str` path: anything not UTF-8 never gets here.
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((bucket, key)) = s3::bucket_and_key(raw) else {
        return;
    };
    assert!(!key.is_empty(), "empty key from {raw:?}");
    for segment in key.split('/') {
        assert!(
            !segment.is_empty() && segment != "." && segment != "..",
            "segment {segment:?} in key {key:?} from {raw:?}"
        );
    }
    assert!(!key.contains('\0'), "NUL in key {key:?} from {raw:?}");
    assert!(!key.contains('\\'), "backslash in key {key:?} from {raw:?}");
    assert!(
        Path::new(&key)
            .components()
            .all(|c| matches!(c, Component::Normal(_))),
        "key {key:?} from {raw:?} is not a plain relative path"
    );
    let root = Path::new("/srv/streamd/media");
    assert!(root.join(&key).starts_with(root), "{key:?} leaves the root");

    // The same object, spelled canonically, decodes to the same bucket and key.
    let mut canonical = String::from("/s3/");
    uri_encode(bucket.as_bytes(), false, &mut canonical);
    canonical.push('/');
    uri_encode(key.as_bytes(), true, &mut canonical);
    assert_eq!(
        s3::bucket_and_key(&canonical),
        Ok((bucket, key)),
        "{canonical:?}, the canonical spelling of {raw:?}"
    );
});
