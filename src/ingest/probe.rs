//! What ffprobe says about a source: duration, display size (after aspect ratio and rotation),
//! frame rate, scan, colour, and every audio and subtitle stream. Parsing is separate from running so golden ffprobe
//! outputs under tests/fixtures/ pin it down.

use std::path::Path;
use std::process::Command;

use std::collections::HashMap;

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

/// How the source's frames are scanned, from the container's flag (or an `idet` pass when the
/// flag is missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    Progressive,
    Interlaced,
    /// No flag: [`detect_interlacing`] decides.
    Unknown,
}

/// The picture's colour as tagged: what decides whether it needs tone-mapping.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Colour {
    pub transfer: Option<String>,
    pub primaries: Option<String>,
    pub matrix: Option<String>,
    pub bit_depth: u32,
}

impl Colour {
    /// PQ (HDR10, Dolby Vision's base layer) or HLG: needs tone-mapping for SDR screens.
    pub fn is_hdr(&self) -> bool {
        matches!(self.transfer.as_deref(), Some("smpte2084" | "arib-std-b67"))
    }
}

/// One audio stream of the source.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioStream {
    /// ffmpeg's stream index in the file (`-map 0:{index}`).
    pub index: u32,
    /// `None` when ffmpeg does not know the codec and so cannot decode it.
    pub codec: Option<String>,
    pub channels: u32,
    pub layout: Option<String>,
    pub language: Option<String>,
    pub title: Option<String>,
    pub default: bool,
    pub forced: bool,
    /// When it starts on the container's clock.
    pub start_s: f64,
}

/// One subtitle stream of the source.
#[derive(Debug, Clone, PartialEq)]
pub struct SubtitleStream {
    pub index: u32,
    pub codec: String,
    pub language: Option<String>,
    pub title: Option<String>,
    pub forced: bool,
}

/// Text subtitle codecs ffmpeg converts to WebVTT; the rest (PGS, VobSub, DVB) are pictures.
const TEXT_SUBTITLES: &[&str] = &[
    "subrip",
    "srt",
    "ass",
    "ssa",
    "mov_text",
    "webvtt",
    "text",
    "microdvd",
    "subviewer",
    "subviewer1",
    "sami",
    "realtext",
    "jacosub",
    "mpl2",
    "pjs",
    "vplayer",
    "stl",
];

impl SubtitleStream {
    pub fn is_text(&self) -> bool {
        TEXT_SUBTITLES.contains(&self.codec.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub duration_s: f64,
    /// ffmpeg's index of the movie's video stream (not a cover picture).
    pub video_index: u32,
    /// When the video stream starts on the container's clock (subtitle cues use that clock).
    pub video_start_s: f64,
    /// When the earliest stream starts: ffmpeg counts every output's time from there.
    pub input_start_s: f64,
    /// Display size: the coded size stretched by the sample aspect ratio (so an anamorphic
    /// 1440x1080 at 4:3 is 1920x1080), turned when the display matrix rotates it a quarter.
    pub width: u32,
    pub height: u32,
    pub coded_width: u32,
    pub coded_height: u32,
    /// Frames per second to encode at: the average rate, snapped to the broadcast rate it is
    /// within 2% of (a phone's 29.6 average of variable rate is 29.97).
    pub frame_rate: f64,
    /// The container's timing says the rate varies (average and real base rate disagree).
    pub variable_frame_rate: bool,
    pub rotation: i32,
    pub video_codec: String,
    pub scan: Scan,
    pub colour: Colour,
    /// HDR10 static metadata of a PQ source (read from its first frame: `hdr10`).
    pub hdr10: Option<Hdr10>,
    pub audio: Vec<AudioStream>,
    pub subtitles: Vec<SubtitleStream>,
}

/// HDR10 static metadata, in x265's syntax: what a row that keeps the HDR passes on, so a
/// display maps the picture as the source's mastering intended.
#[derive(Debug, Clone, PartialEq)]
pub struct Hdr10 {
    /// SMPTE ST 2086: `G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)`, chromaticities in 0.00002 and
    /// luminance in 0.0001 cd/m².
    pub mastering_display: Option<String>,
    /// MaxCLL and MaxFALL in cd/m².
    pub content_light: Option<(u32, u32)>,
}

impl Probe {
    /// How long the audio starts before the picture in the source (0 when it does not).
    pub fn audio_lead_s(&self) -> f64 {
        self.playable_audio()
            .map(|a| self.video_start_s - a.start_s)
            .fold(0.0, f64::max)
    }

    /// Audio streams ffmpeg can decode; the others are skipped with a note in the job's log.
    pub fn playable_audio(&self) -> impl Iterator<Item = &AudioStream> {
        self.audio.iter().filter(|a| a.codec.is_some())
    }

    pub fn has_audio(&self) -> bool {
        self.playable_audio().next().is_some()
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
    start_time: Option<String>,
}

#[derive(Deserialize)]
struct Stream {
    index: Option<u32>,
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    sample_aspect_ratio: Option<String>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    duration: Option<String>,
    start_time: Option<String>,
    field_order: Option<String>,
    color_transfer: Option<String>,
    color_primaries: Option<String>,
    color_space: Option<String>,
    pix_fmt: Option<String>,
    bits_per_raw_sample: Option<String>,
    channels: Option<u32>,
    channel_layout: Option<String>,
    #[serde(default)]
    side_data_list: Vec<SideData>,
    #[serde(default)]
    tags: HashMap<String, String>,
    #[serde(default)]
    disposition: HashMap<String, i64>,
}

impl Stream {
    fn flag(&self, name: &str) -> bool {
        self.disposition.get(name).copied().unwrap_or(0) != 0
    }

    /// Tags are matched case-insensitively: Matroska writes `LANGUAGE`/`title` as it likes.
    fn tag(&self, name: &str) -> Option<String> {
        self.tags
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn index(&self) -> u32 {
        self.index.unwrap_or(0)
    }

    fn start(&self) -> f64 {
        self.start_time
            .as_deref()
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|t| t.is_finite())
            .unwrap_or(0.0)
    }
}

#[derive(Deserialize)]
struct SideData {
    rotation: Option<f64>,
}

/// Matroska's `DURATION` tag: `01:02:03.456000000`.
fn parse_clock(text: &str) -> Option<f64> {
    let mut total = 0.0;
    for part in text.trim().split(':') {
        total = total * 60.0 + part.parse::<f64>().ok()?;
    }
    Some(total)
}

fn rational(text: Option<&str>) -> Option<f64> {
    let text = text?;
    let (n, d) = text.split_once(['/', ':']).unwrap_or((text, "1"));
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (d > 0.0 && n > 0.0).then_some(n / d)
}

/// Broadcast and film rates a measured average is snapped to.
const STANDARD_RATES: &[f64] = &[
    24000.0 / 1001.0,
    24.0,
    25.0,
    30000.0 / 1001.0,
    30.0,
    48.0,
    50.0,
    60000.0 / 1001.0,
    60.0,
];

fn snap_rate(rate: f64) -> f64 {
    STANDARD_RATES
        .iter()
        .copied()
        .min_by(|a, b| (a - rate).abs().total_cmp(&(b - rate).abs()))
        .filter(|s| (s - rate).abs() / s <= 0.02)
        .unwrap_or(rate)
}

fn bit_depth(video: &Stream) -> u32 {
    if let Some(bits) = video
        .bits_per_raw_sample
        .as_deref()
        .and_then(|b| b.parse().ok())
    {
        return bits;
    }
    // yuv420p10le, p010le, yuv422p12le...: the depth is in the pixel format's name.
    let fmt = video.pix_fmt.as_deref().unwrap_or("");
    if fmt.contains("p010") || fmt.contains("10") {
        10
    } else if fmt.contains("12") {
        12
    } else {
        8
    }
}

/// The picture as shown: the coded size stretched by the sample aspect ratio, turned when the
/// display matrix rotates it a quarter. (coded w, coded h, display w, display h, rotation).
fn display_size(video: &Stream) -> Result<(u32, u32, u32, u32, i32), ProbeError> {
    let (w, h) = (video.width.unwrap_or(0), video.height.unwrap_or(0));
    if !(2..=MAX_SIDE).contains(&w) || !(2..=MAX_SIDE).contains(&h) {
        return Err(ProbeError::AbsurdResolution(w, h));
    }
    // "0:1" means unknown; a ratio outside 1:4..4:1 is a broken tag, not a real lens.
    let sar = rational(video.sample_aspect_ratio.as_deref())
        .filter(|r| (0.25..=4.0).contains(r))
        .unwrap_or(1.0);
    let display_w = (f64::from(w) * sar).round().clamp(2.0, f64::from(MAX_SIDE)) as u32;
    let rotation = video
        .side_data_list
        .iter()
        .find_map(|s| s.rotation)
        .or_else(|| video.tag("rotate").and_then(|r| r.parse().ok()))
        .map(|r: f64| r.round() as i32)
        .unwrap_or(0);
    let quarter_turn = rotation.rem_euclid(180) == 90;
    let (width, height) = if quarter_turn {
        (h, display_w)
    } else {
        (display_w, h)
    };
    Ok((w, h, width, height, rotation))
}

/// The movie lasts as long as its picture. The container's duration is the fallback: a
/// subtitle cue with broken timing can make it absurd (Matroska then says 49 days).
fn duration(video: &Stream, format: Option<&Format>) -> Result<f64, ProbeError> {
    let positive = |d: &f64| d.is_finite() && *d > 0.0;
    let video_duration = video
        .duration
        .as_deref()
        .and_then(|d| d.parse::<f64>().ok())
        .or_else(|| video.tag("DURATION").as_deref().and_then(parse_clock))
        .filter(positive);
    video_duration
        .or_else(|| {
            format
                .and_then(|f| f.duration.as_deref())
                .and_then(|d| d.parse::<f64>().ok())
                .filter(positive)
        })
        .ok_or(ProbeError::NoDuration)
}

/// The rate to encode at (snapped to a broadcast rate), and whether the source's rate varies.
fn frame_rate(video: &Stream) -> (f64, bool) {
    let plausible = |f: &f64| (1.0..=240.0).contains(f);
    let average = rational(video.avg_frame_rate.as_deref()).filter(plausible);
    let base = rational(video.r_frame_rate.as_deref()).filter(plausible);
    let variable = matches!((average, base), (Some(a), Some(b)) if (a - b).abs() / b > 0.01);
    (snap_rate(average.or(base).unwrap_or(25.0)), variable)
}

fn audio_stream(s: &Stream) -> AudioStream {
    AudioStream {
        index: s.index(),
        codec: s.codec_name.clone().filter(|c| c != "none"),
        channels: s.channels.unwrap_or(2).max(1),
        layout: s.channel_layout.clone(),
        language: s.tag("language"),
        title: s.tag("title"),
        default: s.flag("default"),
        forced: s.flag("forced"),
        start_s: s.start(),
    }
}

fn subtitle_stream(s: &Stream) -> SubtitleStream {
    SubtitleStream {
        index: s.index(),
        codec: s.codec_name.clone().unwrap_or_default(),
        language: s.tag("language"),
        title: s.tag("title"),
        forced: s.flag("forced"),
    }
}

/// Parses `ffprobe -print_format json -show_format -show_streams` output.
pub fn parse(json: &str) -> Result<Probe, ProbeError> {
    let out: Output =
        serde_json::from_str(json).map_err(|e| ProbeError::Unreadable(e.to_string()))?;
    // Cover art is a "video" stream with attached_pic set; it is not the movie.
    let video = out
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video") && !s.flag("attached_pic"))
        .ok_or(ProbeError::NoVideo)?;
    let (coded_width, coded_height, width, height, rotation) = display_size(video)?;
    let (frame_rate, variable_frame_rate) = frame_rate(video);
    let scan = match video.field_order.as_deref() {
        Some("progressive") => Scan::Progressive,
        Some("tt" | "bb" | "tb" | "bt") => Scan::Interlaced,
        _ => Scan::Unknown,
    };
    let of_type = |t: &'static str| {
        out.streams
            .iter()
            .filter(move |s| s.codec_type.as_deref() == Some(t))
    };
    Ok(Probe {
        duration_s: duration(video, out.format.as_ref())?,
        video_index: video.index(),
        input_start_s: out
            .format
            .as_ref()
            .and_then(|f| f.start_time.as_deref())
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|t| t.is_finite())
            .unwrap_or(0.0),
        video_start_s: video.start(),
        width,
        height,
        coded_width,
        coded_height,
        frame_rate,
        variable_frame_rate,
        rotation,
        video_codec: video.codec_name.clone().unwrap_or_default(),
        scan,
        colour: Colour {
            transfer: video.color_transfer.clone(),
            primaries: video.color_primaries.clone(),
            matrix: video.color_space.clone(),
            bit_depth: bit_depth(video),
        },
        hdr10: None,
        audio: of_type("audio").map(audio_stream).collect(),
        subtitles: of_type("subtitle").map(subtitle_stream).collect(),
    })
}

/// A side-data fraction (`"34000/50000"`) in units of `1/unit`.
fn in_units(value: &serde_json::Value, unit: f64) -> Option<u64> {
    let text = value.as_str()?;
    let (num, den) = text.split_once('/').unwrap_or((text, "1"));
    let (num, den): (f64, f64) = (num.trim().parse().ok()?, den.trim().parse().ok()?);
    let v = (num / den * unit).round();
    (den > 0.0 && v.is_finite() && (0.0..=f64::from(u32::MAX)).contains(&v)).then_some(v as u64)
}

/// Parses `ffprobe -show_frames` of a PQ source's first frame: its mastering display and
/// content light side data, when it has them.
pub fn parse_hdr10(json: &str) -> Option<Hdr10> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let side = v["frames"].get(0)?["side_data_list"].as_array()?.clone();
    let of = |kind: &str| {
        side.iter()
            .find(|d| d["side_data_type"].as_str() == Some(kind))
    };
    let mastering_display = of("Mastering display metadata").and_then(|d| {
        let c = |k: &str| in_units(&d[k], 50_000.0);
        let l = |k: &str| in_units(&d[k], 10_000.0);
        Some(format!(
            "G({},{})B({},{})R({},{})WP({},{})L({},{})",
            c("green_x")?,
            c("green_y")?,
            c("blue_x")?,
            c("blue_y")?,
            c("red_x")?,
            c("red_y")?,
            c("white_point_x")?,
            c("white_point_y")?,
            l("max_luminance")?,
            l("min_luminance")?
        ))
    });
    let content_light = of("Content light level metadata").and_then(|d| {
        Some((
            u32::try_from(d["max_content"].as_u64()?).ok()?,
            u32::try_from(d["max_average"].as_u64()?).ok()?,
        ))
    });
    (mastering_display.is_some() || content_light.is_some()).then_some(Hdr10 {
        mastering_display,
        content_light,
    })
}

/// Reads the HDR10 static metadata of a PQ source's first video frame (`None` when it has
/// none or ffprobe cannot say).
pub fn hdr10(ffprobe: &Path, source: &Path, video_index: u32) -> Option<Hdr10> {
    let out = Command::new(ffprobe)
        .args(["-v", "error", "-select_streams"])
        .arg(video_index.to_string())
        .args(["-read_intervals", "%+#1", "-show_frames", "-of", "json"])
        .arg(source)
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    parse_hdr10(&String::from_utf8_lossy(&out.stdout))
}

/// A plain progressive SDR source of the given size, for the planning code's unit tests.
#[cfg(test)]
pub fn sample(width: u32, height: u32, fps: f64) -> Probe {
    Probe {
        duration_s: 60.0,
        video_index: 0,
        video_start_s: 0.0,
        input_start_s: 0.0,
        width,
        height,
        coded_width: width,
        coded_height: height,
        frame_rate: fps,
        variable_frame_rate: false,
        rotation: 0,
        video_codec: "h264".into(),
        scan: Scan::Progressive,
        colour: Colour::default(),
        hdr10: None,
        audio: vec![],
        subtitles: vec![],
    }
}

/// Counts from ffmpeg's `idet` filter: whether the frames look interlaced when the container
/// does not say. Decodes at most `frames` frames.
pub fn detect_interlacing(ffmpeg: &Path, source: &Path, frames: u32) -> Option<bool> {
    let out = Command::new(ffmpeg)
        .args(["-nostdin", "-hide_banner", "-i"])
        .arg(source)
        .args(["-map", "0:v:0", "-vf", "idet", "-frames:v"])
        .arg(frames.to_string())
        .args(["-an", "-sn", "-f", "null", "-"])
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    parse_idet(&String::from_utf8_lossy(&out.stderr))
}

/// Reads `Multi frame detection: TFF: 12 BFF: 0 Progressive: 280 Undetermined: 8`.
pub fn parse_idet(log: &str) -> Option<bool> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("Multi frame detection"))?;
    let count = |name: &str| -> Option<u64> {
        let rest = line.split(name).nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    };
    let (tff, bff, progressive) = (count("TFF:")?, count("BFF:")?, count("Progressive:")?);
    let interlaced = tff + bff;
    Some(interlaced > progressive && interlaced >= 10)
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
        assert_eq!(p.audio.len(), 1);
        assert_eq!(p.audio[0].codec.as_deref(), Some("aac"));
        assert_eq!(p.scan, Scan::Progressive);
        assert!(!p.colour.is_hdr());
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
        assert!(!p.has_audio());
    }

    #[test]
    fn an_anamorphic_mkv_with_every_track() {
        let p = parse(&fixture("probe_anamorphic_multilingual.json")).expect("probe");
        assert_eq!((p.coded_width, p.coded_height), (1440, 1080));
        assert_eq!((p.width, p.height), (1920, 1080), "SAR 4:3 displays 16:9");
        assert_eq!(p.audio.len(), 2);
        assert_eq!(p.audio[0].channels, 6);
        assert_eq!(p.audio[0].layout.as_deref(), Some("5.1"));
        assert_eq!(p.audio[0].language.as_deref(), Some("eng"));
        assert_eq!(p.audio[1].language.as_deref(), Some("fre"));
        assert_eq!(p.audio[1].index, 2);
        assert_eq!(p.subtitles.len(), 2);
        assert!(p.subtitles.iter().all(SubtitleStream::is_text));
        assert!(!p.subtitles[0].forced && p.subtitles[1].forced);
        assert_eq!(p.subtitles[1].language.as_deref(), Some("fre"));
        assert!(p.video_start_s > 0.0 && p.video_start_s < 0.1);
    }

    #[test]
    fn an_interlaced_pal_dvd() {
        let p = parse(&fixture("probe_pal_dvd_interlaced.json")).expect("probe");
        assert_eq!((p.width, p.height), (1024, 576), "SAR 64:45");
        assert_eq!(p.scan, Scan::Interlaced);
        assert_eq!(p.audio[0].codec.as_deref(), Some("ac3"));
    }

    #[test]
    fn an_hdr10_hevc_source() {
        let p = parse(&fixture("probe_hdr10_hevc.json")).expect("probe");
        assert!(p.colour.is_hdr());
        assert_eq!(p.colour.bit_depth, 10);
        assert_eq!(p.colour.primaries.as_deref(), Some("bt2020"));
        assert_eq!(p.colour.matrix.as_deref(), Some("bt2020nc"));
        assert_eq!(p.video_codec, "hevc");
    }

    #[test]
    fn picture_subtitles_are_told_from_text_ones() {
        let p = parse(&fixture("probe_text_and_picture_subtitles.json")).expect("probe");
        let kinds: Vec<bool> = p.subtitles.iter().map(SubtitleStream::is_text).collect();
        assert_eq!(kinds, [true, false]);
        assert_eq!(p.subtitles[1].codec, "hdmv_pgs_subtitle");
    }

    #[test]
    fn unknown_codecs_and_odd_rates_are_read_safely() {
        let json = r#"{"streams":[
            {"index":0,"codec_type":"video","codec_name":"h264","width":1280,"height":720,
             "avg_frame_rate":"2997/100","r_frame_rate":"90000/1","sample_aspect_ratio":"0:1"},
            {"index":1,"codec_type":"audio","channels":2},
            {"index":2,"codec_type":"audio","codec_name":"opus","channels":8,"tags":{"LANGUAGE":"ger","TITLE":"Kommentar"}}
        ],"format":{"duration":"5.0"}}"#;
        let p = parse(json).expect("probe");
        assert_eq!((p.width, p.height), (1280, 720), "0:1 means square");
        assert!(
            (p.frame_rate - 30000.0 / 1001.0).abs() < 1e-9,
            "snapped to 29.97"
        );
        assert_eq!(p.scan, Scan::Unknown);
        assert_eq!(p.playable_audio().count(), 1);
        assert_eq!(p.audio[1].language.as_deref(), Some("ger"));
        assert_eq!(p.audio[1].title.as_deref(), Some("Kommentar"));
    }

    #[test]
    fn the_picture_decides_how_long_a_movie_is() {
        // A backwards subtitle cue made Matroska's container duration wrap around.
        let json = r#"{"streams":[
            {"index":0,"codec_type":"video","width":640,"height":360,"tags":{"DURATION":"00:00:04.000000000"}},
            {"index":1,"codec_type":"subtitle","codec_name":"subrip"}
        ],"format":{"duration":"4294968.296000"}}"#;
        assert_eq!(parse(json).expect("probe").duration_s, 4.0);
    }

    #[test]
    fn idet_counts_decide_interlacing() {
        let log = "[Parsed_idet_0 @ 0x1] Single frame detection: TFF: 1 BFF: 0 Progressive: 2\n[Parsed_idet_0 @ 0x1] Multi frame detection: TFF:   140 BFF:     0 Progressive:    10 Undetermined:     0";
        assert_eq!(parse_idet(log), Some(true));
        let log = "Multi frame detection: TFF: 3 BFF: 0 Progressive: 290 Undetermined: 7";
        assert_eq!(parse_idet(log), Some(false));
        assert_eq!(parse_idet("nothing"), None);
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

    #[test]
    fn hdr10_metadata_is_read_in_x265_units() {
        let json = r#"{"frames":[{"side_data_list":[
            {"side_data_type":"Mastering display metadata","red_x":"34000/50000","red_y":"16000/50000",
             "green_x":"13250/50000","green_y":"34500/50000","blue_x":"7500/50000","blue_y":"3000/50000",
             "white_point_x":"15635/50000","white_point_y":"16450/50000",
             "min_luminance":"50/10000","max_luminance":"10000000/10000"},
            {"side_data_type":"Content light level metadata","max_content":1000,"max_average":400},
            {"side_data_type":"H.26[45] User Data Unregistered SEI message"}]}]}"#;
        let m = parse_hdr10(json).expect("metadata");
        assert_eq!(
            m.mastering_display.as_deref(),
            Some("G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)")
        );
        assert_eq!(m.content_light, Some((1000, 400)));
        assert_eq!(parse_hdr10(r#"{"frames":[{"side_data_list":[]}]}"#), None);
        assert_eq!(parse_hdr10(r#"{"frames":[]}"#), None);
        let odd = r#"{"frames":[{"side_data_list":[{"side_data_type":"Mastering display metadata","red_x":"1/0"}]}]}"#;
        assert_eq!(
            parse_hdr10(odd),
            None,
            "a broken fraction is no metadata, not a panic"
        );
    }
}
