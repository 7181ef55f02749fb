//! The subtitle converter's input side (`parse_cues`, `normalise`, `render`), on arbitrary
//! text: what ffmpeg makes of a sidecar file or a subtitle stream is the uploader's to choose.
//! Seeds: WebVTT as ffmpeg writes it, SubRip, messy and broken files.
//!
//! Properties:
//! - no panic;
//! - `parse_cues` keeps only well-formed cues (end after start, some text, no `-->` in the
//!   text, no blank line in the text), sorted by time;
//! - what streamd publishes reads back as the same cues: `parse_cues(render(cues))` is
//!   `cues`, and `normalise` finds in its own output exactly what it published.

#![no_main]

use libfuzzer_sys::fuzz_target;
use streamd::ingest::subtitles::{Cue, normalise, parse_cues, render};

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn check_cues(cues: &[Cue]) {
    for c in cues {
        assert!(c.end_ms > c.start_ms, "{c:?}");
        assert!(!c.text.is_empty() && !c.text.contains("-->"), "{c:?}");
        assert!(c.text.lines().all(|l| !l.trim().is_empty()), "{c:?}");
        assert!(!c.settings.contains('\n'), "{c:?}");
    }
    assert!(
        cues.windows(2)
            .all(|w| (w[0].start_ms, w[0].end_ms) <= (w[1].start_ms, w[1].end_ms)),
        "cues out of order"
    );
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let cues = parse_cues(&text);
    check_cues(&cues);
    let rendered = render(&cues, 0.0);
    assert_eq!(
        parse_cues(&rendered),
        cues,
        "render does not read back:\n{rendered}"
    );

    // The film's timeline: where the video starts (a few seconds either way) and how long it
    // is (up to a day), as ffprobe and the segments report them.
    let h = fnv(data);
    let start_s = ((h % 20_001) as f64 - 10_000.0) / 1000.0;
    let duration_s = ((h >> 16) % 86_400_000) as f64 / 1000.0;
    for (start_s, duration_s) in [(0.0, 7200.0), (start_s, duration_s)] {
        let Ok((published, n)) = normalise(data, start_s, duration_s) else {
            continue;
        };
        let back = parse_cues(&published);
        assert_eq!(back.len(), n, "{published}");
        check_cues(&back);
        let (republished, m) =
            normalise(published.as_bytes(), start_s, duration_s).expect("its own output");
        assert_eq!((republished.as_str(), m), (published.as_str(), n));
    }
});
