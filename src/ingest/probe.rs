//! What ffprobe says about a source: duration, display size (after rotation), frame rate,
//! codecs and whether there is audio. Parsing is separate from running so golden ffprobe
//! outputs under tests/fixtures/ pin it down.

use std::path::Path;
use std::process::Command;

use serde::Deserialize;

/// Sources larger than this on either side are refused: no ladder rung needs them, and
/// decoding them is how a hostile upload eats all memory.
pub const MAX_SIDE: u32 = 8192;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProbeError {
    #[error("ffprobe could not read the file: {0}")]
    Unreadable(String),
    #[error("the file has no video stream")]
    NoVideo,
    #[error("the video's duration is unknown or zero")]
    NoDuration,
    #[error(
        "resolution {0}x{1} is outside what streamd transcodes (2x2 up to {MAX_SIDE}x{MAX_SIDE})"
    )]
    AbsurdResolution(u32, u32),
    #[error("cannot run ffprobe: {0}")]
    Run(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub duration_s: f64,
    /// Display size: coded size with a 90/270-degree rotation applied.
    pub width: u32,
    pub height: u32,
    pub frame_rate: f64,
    pub rotation: i32,
    pub video_codec: String,
    pub audio_codec: Option<String>,
}

impl Probe {
    pub fn has_audio(&self) -> bool {
        self.audio_codec.is_some()
    }
}

#[derive(Deserialize)]
struct Output {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Format {
    duration: Option<String>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    duration: Option<String>,
    #[serde(default)]
    side_data_list: Vec<SideData>,
    #[serde(default)]
    tags: std::collections::HashMap<String, String>,
    #[serde(default)]
    disposition: std::collections::HashMap<String, i64>,
}

#[derive(Deserialize)]
struct SideData {
    rotation: Option<f64>,
}

fn rational(text: Option<&str>) -> Option<f64> {
    let text = text?;
    let (n, d) = text.split_once('/').unwrap_or((text, "1"));
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (d > 0.0 && n > 0.0).then_some(n / d)
}

/// Parses `ffprobe -print_format json -show_format -show_streams` output.
pub fn parse(json: &str) -> Result<Probe, ProbeError> {
    let out: Output =
        serde_json::from_str(json).map_err(|e| ProbeError::Unreadable(e.to_string()))?;
    // Cover art is a "video" stream with attached_pic set; it is not the movie.
    let video = out
        .streams
        .iter()
        .find(|s| {
            s.codec_type.as_deref() == Some("video")
                && s.disposition.get("attached_pic").copied().unwrap_or(0) == 0
        })
        .ok_or(ProbeError::NoVideo)?;
    let audio = out
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("audio"));

    let (w, h) = (video.width.unwrap_or(0), video.height.unwrap_or(0));
    if !(2..=MAX_SIDE).contains(&w) || !(2..=MAX_SIDE).contains(&h) {
        return Err(ProbeError::AbsurdResolution(w, h));
    }
    let rotation = video
        .side_data_list
        .iter()
        .find_map(|s| s.rotation)
        .or_else(|| video.tags.get("rotate").and_then(|r| r.parse().ok()))
        .map(|r: f64| r.round() as i32)
        .unwrap_or(0);
    let quarter_turn = rotation.rem_euclid(180) == 90;
    let (width, height) = if quarter_turn { (h, w) } else { (w, h) };

    let duration_s = out
        .format
        .as_ref()
        .and_then(|f| f.duration.as_deref())
        .or(video.duration.as_deref())
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or(ProbeError::NoDuration)?;
    let frame_rate = rational(video.avg_frame_rate.as_deref())
        .or_else(|| rational(video.r_frame_rate.as_deref()))
        .filter(|f| (1.0..=240.0).contains(f))
        .unwrap_or(25.0);

    Ok(Probe {
        duration_s,
        width,
        height,
        frame_rate,
        rotation,
        video_codec: video.codec_name.clone().unwrap_or_default(),
        audio_codec: audio.map(|a| a.codec_name.clone().unwrap_or_default()),
    })
}

/// Runs ffprobe on a file and parses what it says.
pub fn probe(ffprobe: &Path, source: &Path) -> Result<Probe, ProbeError> {
    let out = Command::new(ffprobe)
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(source)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| ProbeError::Run(e.to_string()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        // ffprobe prefixes the input path; the reason is what follows it.
        let reason = last.rsplit_once(": ").map(|(_, r)| r).unwrap_or(last);
        return Err(ProbeError::Unreadable(if reason.is_empty() {
            format!("ffprobe exited with {}", out.status)
        } else {
            reason.to_string()
        }));
    }
    parse(&String::from_utf8_lossy(&out.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn landscape_1080p_with_audio() {
        let p = parse(&fixture("probe_1080p_audio.json")).expect("probe");
        assert_eq!((p.width, p.height), (1920, 1080));
        assert_eq!(p.frame_rate, 30.0);
        assert!((p.duration_s - 10.0).abs() < 0.1, "{}", p.duration_s);
        assert_eq!(p.video_codec, "h264");
        assert_eq!(p.audio_codec.as_deref(), Some("aac"));
        assert_eq!(p.rotation, 0);
    }

    #[test]
    fn rotated_phone_video_reports_its_display_size() {
        let p = parse(&fixture("probe_rotated_portrait.json")).expect("probe");
        assert_eq!(p.rotation.rem_euclid(180), 90);
        assert_eq!((p.width, p.height), (720, 1280), "portrait after rotation");
        assert!(!p.has_audio());
    }

    #[test]
    fn fractional_frame_rate_and_no_audio() {
        let p = parse(&fixture("probe_360p60_noaudio.json")).expect("probe");
        assert!((p.frame_rate - 59.94).abs() < 0.01, "{}", p.frame_rate);
        assert_eq!((p.width, p.height), (640, 360));
        assert!(p.audio_codec.is_none());
    }

    #[test]
    fn refuses_what_is_not_a_movie() {
        assert_eq!(
            parse("{\"streams\": [], \"format\": {}}"),
            Err(ProbeError::NoVideo)
        );
        let audio_only = r#"{"streams":[{"codec_type":"audio","codec_name":"mp3"}],"format":{"duration":"3.0"}}"#;
        assert_eq!(parse(audio_only), Err(ProbeError::NoVideo));
        let huge = r#"{"streams":[{"codec_type":"video","width":100000,"height":10}],"format":{"duration":"3.0"}}"#;
        assert_eq!(parse(huge), Err(ProbeError::AbsurdResolution(100000, 10)));
        let still = r#"{"streams":[{"codec_type":"video","width":640,"height":480}],"format":{}}"#;
        assert_eq!(parse(still), Err(ProbeError::NoDuration));
        assert!(matches!(parse("not json"), Err(ProbeError::Unreadable(_))));
    }
}
