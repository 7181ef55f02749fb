//! Subtitles as WebVTT renditions: ffmpeg converts a text stream or a sidecar file (SubRip,
//! ASS/SSA, mov_text, WebVTT) to WebVTT; this module then keeps only well-formed cues in time
//! order and adds the `X-TIMESTAMP-MAP` that lines them up with the video's timestamps.

use crate::webvtt::format_ms;
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use super::run::{Control, RunError, run_ffmpeg};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SubtitleError {
    #[error("the subtitle file has no usable cues")]
    NoCues,
    #[error("the subtitle file is larger than {0} MB")]
    TooLarge(usize),
    #[error("not a subtitle file: {0}")]
    Unreadable(String),
}

/// Subtitles of a whole movie are a few hundred KB; anything past this is not a subtitle.
pub const MAX_BYTES: usize = 20 * 1024 * 1024;

/// Sidecar file extensions streamd imports.
pub const SIDECAR_EXTENSIONS: &[&str] = &["srt", "vtt", "ass", "ssa"];

#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub start_ms: u64,
    pub end_ms: u64,
    /// Cue settings after the timing (`line:90% align:center`), kept as written.
    pub settings: String,
    pub text: String,
}

/// `01:02:03.456`, `02:03.456` or `01:02:03,456` (SubRip's comma) in milliseconds.
fn parse_time(text: &str) -> Option<u64> {
    let text = text.trim().replace(',', ".");
    let (clock, frac) = text.split_once('.').unwrap_or((&text, "0"));
    if frac.is_empty() || frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis: u64 = format!("{frac:0<3}").parse().ok()?;
    let parts: Vec<&str> = clock.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let mut seconds: u64 = 0;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() || part.len() > 6 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let value: u64 = part.parse().ok()?;
        // Minutes and seconds stay below 60; hours may be anything a film can last.
        if i > 0 && value >= 60 {
            return None;
        }
        seconds = seconds.checked_mul(60)?.checked_add(value)?;
    }
    seconds.checked_mul(1000)?.checked_add(millis)
}

/// Reads the cues of a WebVTT text (what ffmpeg's webvtt encoder writes): cues with a broken
/// timing line, an end before their start or no text are dropped; the rest come sorted.
pub fn parse_cues(vtt: &str) -> Vec<Cue> {
    // WebVTT ends lines with CRLF, LF or a lone CR: all three become LF.
    let text = vtt
        .trim_start_matches('\u{feff}')
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    let mut cues = Vec::new();
    for block in text.split("\n\n") {
        let mut lines = block.lines().skip_while(|l| l.trim().is_empty());
        let Some(mut first) = lines.next() else {
            continue;
        };
        if first.starts_with("WEBVTT") || first.starts_with("NOTE") || first.starts_with("STYLE") {
            continue;
        }
        // An optional cue identifier precedes the timing line.
        if !first.contains("-->") {
            match lines.next() {
                Some(next) => first = next,
                None => continue,
            }
        }
        let Some((start, rest)) = first.split_once("-->") else {
            continue;
        };
        let rest = rest.trim();
        let (end, settings) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let (Some(start_ms), Some(end_ms)) = (parse_time(start), parse_time(end)) else {
            continue;
        };
        // "-->" inside the text would end the cue for a parser; show it as an arrow.
        let body: Vec<String> = lines
            .map(|l| l.replace("-->", "→"))
            .filter(|l| !l.trim().is_empty())
            .collect();
        if end_ms <= start_ms || body.is_empty() {
            continue;
        }
        cues.push(Cue {
            start_ms,
            end_ms,
            settings: settings.trim().to_string(),
            text: body.join("\n"),
        });
    }
    cues.sort_by_key(|c| (c.start_ms, c.end_ms));
    cues
}

/// The WebVTT file streamd publishes: the cues, with `X-TIMESTAMP-MAP` saying that cue time 0
/// is at `offset_s` on the segments' clock (in the 90 kHz units HLS uses). A negative offset
/// (a source whose clock starts late) maps a later cue time to the segments' zero instead.
pub fn render(cues: &[Cue], offset_s: f64) -> String {
    let offset_ms = (offset_s * 1000.0).round() as i64;
    let (mpegts, local_ms) = if offset_ms >= 0 {
        (offset_ms as u64 * 90, 0)
    } else {
        (0, offset_ms.unsigned_abs())
    };
    let mut out = format!(
        "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:{mpegts},LOCAL:{}\n",
        format_ms(local_ms)
    );
    for cue in cues {
        let _ = write!(
            out,
            "\n{} --> {}",
            format_ms(cue.start_ms),
            format_ms(cue.end_ms)
        );
        if !cue.settings.is_empty() {
            out.push(' ');
            out.push_str(&cue.settings);
        }
        let _ = writeln!(out, "\n{}", cue.text);
    }
    out
}

/// A cue may run this far past the film's end (credits subtitles often do); one that ends
/// later than that has broken timing (a wrapped-around end time) and is dropped.
const OVERRUN_MS: u64 = 60_000;

/// Normalises ffmpeg's WebVTT output into what is published: well-formed cues within a film of
/// `duration_s`, the timestamp map at `video_start_s`.
pub fn normalise(
    vtt: &[u8],
    video_start_s: f64,
    duration_s: f64,
) -> Result<(String, usize), SubtitleError> {
    if vtt.len() > MAX_BYTES {
        return Err(SubtitleError::TooLarge(MAX_BYTES / (1024 * 1024)));
    }
    let text = String::from_utf8_lossy(vtt);
    let film_ms = (duration_s.max(0.0) * 1000.0).ceil() as u64;
    let cues: Vec<Cue> = parse_cues(&text)
        .into_iter()
        .filter(|c| c.start_ms < film_ms && c.end_ms <= film_ms + OVERRUN_MS)
        .collect();
    if cues.is_empty() {
        return Err(SubtitleError::NoCues);
    }
    Ok((render(&cues, video_start_s), cues.len()))
}

/// The media playlist of a subtitle rendition: the whole track as one WebVTT segment.
pub fn playlist(duration_s: f64, file: &str) -> String {
    let duration = duration_s.max(0.001);
    format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:{duration:.6},\n{file}\n#EXT-X-ENDLIST\n",
        duration.ceil() as u64
    )
}

/// ffmpeg arguments converting subtitle stream `stream` of `input` (a movie's stream index, or
/// the first subtitle stream of a sidecar file) to WebVTT. Sidecar files that are not UTF-8 are
/// read as Windows-1252, what most old .srt files are.
pub fn convert_args(input: &Path, stream: Option<u32>, out: &Path) -> Vec<String> {
    let mut a: Vec<String> = vec!["-nostdin".into(), "-y".into()];
    if stream.is_none()
        && std::fs::read(input).is_ok_and(|bytes| std::str::from_utf8(&bytes).is_err())
    {
        a.extend(["-sub_charenc".into(), "CP1252".into()]);
    }
    a.extend(["-i".into(), input.display().to_string(), "-map".into()]);
    a.push(match stream {
        Some(index) => format!("0:{index}"),
        None => "0:s:0".into(),
    });
    a.extend(
        ["-c:s", "webvtt", "-f", "webvtt"]
            .iter()
            .map(|s| s.to_string()),
    );
    a.push(out.display().to_string());
    a
}

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("ffmpeg could not read it: {0}")]
    Ffmpeg(String),
    #[error(transparent)]
    Bad(#[from] SubtitleError),
    #[error("{0}")]
    Io(String),
    #[error("cancelled")]
    Cancelled,
}

/// Converts one subtitle stream (or a sidecar file) into a WebVTT rendition in `dir`:
/// `subs.vtt` and its one-segment `index.m3u8`. On failure `dir` is removed, so nothing
/// half-made is ever published. Returns the number of cues.
pub fn convert(
    ffmpeg: &Path,
    input: &Path,
    stream: Option<u32>,
    dir: &Path,
    video_start_s: f64,
    duration_s: f64,
    control: &Control,
) -> Result<usize, ConvertError> {
    let result = (|| {
        std::fs::create_dir_all(dir).map_err(|e| ConvertError::Io(e.to_string()))?;
        let raw = dir.join("source.vtt");
        run_ffmpeg(
            ffmpeg,
            &convert_args(input, stream, &raw),
            control,
            Duration::from_secs(300),
            |_| {},
        )
        .map_err(|e| match e {
            RunError::Cancelled => ConvertError::Cancelled,
            other => ConvertError::Ffmpeg(other.to_string()),
        })?;
        let bytes = std::fs::read(&raw).map_err(|e| ConvertError::Io(e.to_string()))?;
        let _ = std::fs::remove_file(&raw);
        let (text, cues) = normalise(&bytes, video_start_s, duration_s)?;
        std::fs::write(dir.join(VTT_FILE), text).map_err(|e| ConvertError::Io(e.to_string()))?;
        std::fs::write(dir.join("index.m3u8"), playlist(duration_s, VTT_FILE))
            .map_err(|e| ConvertError::Io(e.to_string()))?;
        Ok(cues)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

/// The WebVTT file of a subtitle rendition.
pub const VTT_FILE: &str = "subs.vtt";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_carriage_return_ends_a_line_and_what_is_rendered_reads_back() {
        // Found by fuzz/fuzz_targets/subtitles.rs: a CR kept in the text broke the round trip.
        let cues = parse_cues("WEBVTT\r\r00:01.000 --> 00:02.000\rone\rtwo\r\r");
        assert_eq!(cues.len(), 1);
        assert_eq!(cues[0].text, "one\ntwo");
        assert_eq!(parse_cues(&render(&cues, 0.0)), cues);
    }

    const FFMPEG_OUT: &str = "WEBVTT\n\n00:01.000 --> 00:03.000\nHello there\n\n00:05.000 --> 00:07.000 align:start\nGeneral <i>Kenobi</i>\n";

    #[test]
    fn cues_keep_their_times_and_get_a_timestamp_map() {
        let (text, n) = normalise(FFMPEG_OUT.as_bytes(), 0.021, 60.0).expect("cues");
        assert_eq!(n, 2);
        assert!(text.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:1890,LOCAL:00:00:00.000\n"));
        assert!(text.contains("\n00:00:01.000 --> 00:00:03.000\nHello there\n"));
        assert!(text.contains("00:00:05.000 --> 00:00:07.000 align:start\nGeneral <i>Kenobi</i>"));
    }

    #[test]
    fn a_late_starting_source_maps_its_later_time_to_zero() {
        let (text, _) = normalise(FFMPEG_OUT.as_bytes(), -1.32, 60.0).expect("cues");
        assert!(text.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:01.320\n"));
    }

    #[test]
    fn broken_timing_is_dropped_and_the_rest_sorted() {
        let messy = "WEBVTT\n\n1\n00:00:09.000 --> 00:00:10.000\nlast\n\n00:00:05.000 --> 00:00:04.000\nends before it starts\n\n00:00:xx.000 --> 00:00:02.000\nnot a time\n\n00:00:01.000 --> 00:00:02.000\nfirst --> arrow\n\n00:00:03.000 --> 00:00:04.000\n\n";
        let cues = parse_cues(messy);
        assert_eq!(cues.len(), 2);
        assert_eq!(cues[0].text, "first → arrow");
        assert_eq!(cues[1].start_ms, 9000);
        assert_eq!(
            normalise(b"WEBVTT\n\n00:00:05.000 --> 00:00:01.000\nx\n", 0.0, 60.0),
            Err(SubtitleError::NoCues)
        );
        assert_eq!(
            normalise(b"\x00\x01garbage", 0.0, 60.0),
            Err(SubtitleError::NoCues)
        );
        // A wrapped-around end time (Matroska's answer to a backwards cue), a cue after the end.
        let wrapped = "WEBVTT\n\n00:01.000 --> 00:02.000\nfine\n\n00:03.000 --> 1193:02:48.296\nbackwards\n\n01:00.000 --> 01:01.000\nlate\n";
        let (text, n) = normalise(wrapped.as_bytes(), 0.0, 4.0).expect("cues");
        assert_eq!(n, 1);
        assert!(text.contains("fine") && !text.contains("backwards") && !text.contains("late"));
    }

    #[test]
    fn times_parse_strictly() {
        assert_eq!(parse_time("01:02:03.456"), Some(3_723_456));
        assert_eq!(parse_time("02:03.4"), Some(123_400));
        assert_eq!(parse_time("00:00:01,500"), Some(1500));
        for bad in ["", "1", "00:61.000", "aa:00.000", "00:00.1234", "-1:00.000"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_playlist_is_one_segment_covering_the_film() {
        let p = playlist(62.5, "subs.vtt");
        let parsed = m3u8_rs::parse_media_playlist_res(p.as_bytes()).expect("valid");
        assert_eq!(parsed.target_duration, 63);
        assert_eq!(parsed.segments.len(), 1);
        assert!(parsed.end_list);
    }
}
