//! The config parser: `Config::load_from` on an arbitrary config file and arbitrary
//! `STREAMD_*` environment variables (there is no parser taking a string, so the file is
//! written to a scratch path first, as `--config` would name it).
//!
//! Input: the TOML file, then optionally a NUL byte and `NAME=VALUE` lines, each becoming the
//! environment variable `STREAMD_NAME`. Seeds: example.toml, small files, environment-only.
//!
//! Properties: no panic (a bad file or variable is an error that names it); an accepted
//! configuration holds what validation promises.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use streamd::config::{Config, Overrides, RENDITION_LADDER, VideoCodec};

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("streamd-fuzz-config-{}.toml", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let (file, env) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let env: Vec<(String, String)> = String::from_utf8_lossy(env)
        .lines()
        .map(|line| {
            let (k, v) = line.split_once('=').unwrap_or((line, ""));
            (format!("STREAMD_{k}"), v.to_string())
        })
        .collect();
    let path = scratch();
    std::fs::write(path, file).expect("write the scratch config");
    let overrides = Overrides {
        config_file: Some(path.clone()),
        ..Default::default()
    };
    let config = match Config::load_from(&overrides, env) {
        Ok(config) => config,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let s = &config.server;
    assert!((Duration::from_secs(1)..=Duration::from_secs(300)).contains(&s.request_timeout));
    assert!((Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&s.keep_alive));
    let urls = [
        ("server.public_url", &s.public_url),
        ("storage.endpoint", &config.storage.endpoint),
        ("storage.public_endpoint", &config.storage.public_endpoint),
    ];
    for (key, url) in urls {
        if let Some(url) = url {
            assert!(
                url.starts_with("http://") || url.starts_with("https://"),
                "{key} accepted as {url:?}"
            );
            assert!(!url.ends_with('/'), "{key} accepted as {url:?}");
        }
    }
    let b = &config.storage.bucket;
    assert!((3..=63).contains(&b.len()), "{b:?}");
    let t = &config.transcode;
    assert!((1..=30).contains(&t.segment_seconds));
    assert!((1..=16).contains(&t.workers));
    assert!(!t.renditions.is_empty());
    assert!(
        t.renditions
            .iter()
            .all(|r| RENDITION_LADDER.contains(&r.as_str()))
    );
    // Every browser plays H.264, so those rows are always made, first; an extra codec at most once.
    assert_eq!(t.codecs.first(), Some(&VideoCodec::H264), "{:?}", t.codecs);
    assert!(
        t.codecs
            .iter()
            .enumerate()
            .all(|(i, c)| !t.codecs[..i].contains(c)),
        "{:?}",
        t.codecs
    );
    assert!(!config.tokens.playback_ttl.is_zero() && !config.tokens.segment_grace.is_zero());
    assert!(!config.auth.session_ttl.is_zero());
    assert!(config.auth.login_attempts_per_minute >= 1);
    let base = config.public_base();
    assert!(
        base.starts_with("http://") || base.starts_with("https://"),
        "{base:?}"
    );
    let _ = config.secure_cookies();
});
