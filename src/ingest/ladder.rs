//! Planning the ladder: which rungs a source gets (never above it), their exact sizes, the
//! rate each is encoded at (a target quality capped at Apple's HLS authoring rates, or those
//! rates fixed), the H.264 level each one needs (so CODECS is exact), and the rows in more
//! efficient codecs beside the H.264 ones.

use super::probe::Probe;
use crate::config::{Quality, VideoCodec};

/// One row of the ladder, as it will be encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Rung {
    /// `480p` etc.: named by the short side, which is the height of a landscape movie; rows in
    /// another codec than H.264 add it (`2160p_hevc`).
    pub name: String,
    pub codec: VideoCodec,
    pub width: u32,
    pub height: u32,
    /// The target quality (the encoder's CRF), `None` for a fixed rate.
    pub crf: Option<u8>,
    /// The fixed average rate, or with a CRF the average a rung costs at most (the cap).
    pub video_kbps: u32,
    pub maxrate_kbps: u32,
    pub bufsize_kbps: u32,
    /// H.264 level as ffmpeg takes it (`4.0`) and as CODECS spells it (level_idc 40); the other
    /// encoders pick theirs, read back from the init segment.
    pub level: &'static str,
    pub level_idc: u8,
    pub frame_rate: f64,
    /// What the row's pixels are: SDR BT.709, or the source's HDR kept (only in a row of an
    /// efficient codec: H.264 rows are always tone-mapped SDR).
    pub range: VideoRange,
}

/// HLS VIDEO-RANGE of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoRange {
    Sdr,
    /// SMPTE ST 2084 (HDR10).
    Pq,
    /// ARIB STD-B67.
    Hlg,
}

impl VideoRange {
    pub fn as_str(self) -> &'static str {
        match self {
            VideoRange::Sdr => "SDR",
            VideoRange::Pq => "PQ",
            VideoRange::Hlg => "HLG",
        }
    }

    fn of(probe: &Probe) -> VideoRange {
        match probe.colour.transfer.as_deref() {
            Some("smpte2084") => VideoRange::Pq,
            Some("arib-std-b67") => VideoRange::Hlg,
            _ => VideoRange::Sdr,
        }
    }
}

impl Rung {
    /// RFC 6381 codec string as planned: exact for H.264 (its level is ours); the other codecs'
    /// strings are read from their init segments once written (`fmp4::codecs`).
    pub fn codecs(&self, with_audio: bool) -> String {
        let video = match self.codec {
            VideoCodec::H264 => format!("avc1.6400{:02x}", self.level_idc),
            // Main 10, level picked by x265 (the init segment says which).
            VideoCodec::Hevc => "hvc1.2.4.L150.B0".to_string(),
            VideoCodec::Av1 => "av01.0.08M.10".to_string(),
        };
        if with_audio {
            format!("{video},mp4a.40.2")
        } else {
            video
        }
    }
}

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct Wanted<'a> {
    pub renditions: &'a [String],
    pub quality: Quality,
    pub codecs: &'a [VideoCodec],
}

/// (short side, 30 fps average kbit/s) after Apple's HLS authoring spec for H.264.
const LADDER: &[(u32, u32)] = &[(480, 1400), (720, 3000), (1080, 6000), (2160, 16000)];

/// Rows in another codec than H.264 are made for sources whose top rung is at least this tall.
pub const EFFICIENT_CODEC_MIN_SHORT_SIDE: u32 = 1080;

/// The fastest frame rate a rung is encoded at; faster sources are halved or capped.
pub const MAX_FRAME_RATE: f64 = 60.0;

/// H.264 levels (Table A-1): (level, level_idc, MaxMBPS, MaxFS, MaxBR kbit/s for High).
const LEVELS: &[(&str, u8, u64, u64, u64)] = &[
    ("3.0", 30, 40_500, 1_620, 12_500),
    ("3.1", 31, 108_000, 3_600, 17_500),
    ("3.2", 32, 216_000, 5_120, 25_000),
    ("4.0", 40, 245_760, 8_192, 25_000),
    ("4.1", 41, 245_760, 8_192, 62_500),
    ("4.2", 42, 522_240, 8_704, 62_500),
    ("5.0", 50, 589_824, 22_080, 168_750),
    ("5.1", 51, 983_040, 36_864, 300_000),
    ("5.2", 52, 2_073_600, 36_864, 300_000),
];

/// The encoder's CRF for a quality: x264's scale, and x265's and SVT-AV1's points that
/// measured the same SSIM as x264's on the quality corpus (`benches/quality.sh`).
pub fn crf(quality: Quality, codec: VideoCodec) -> Option<u8> {
    let h264 = match quality {
        Quality::Fixed => return None,
        Quality::Standard => 23,
        Quality::High => 20,
        Quality::Archive => 17,
    };
    Some(match codec {
        VideoCodec::H264 => h264,
        VideoCodec::Hevc => h264 + 2,
        VideoCodec::Av1 => h264 + 11,
    })
}

/// The share of H.264's rate a codec needs for the same picture: its ceiling.
fn rate_share(codec: VideoCodec) -> f64 {
    match codec {
        VideoCodec::H264 => 1.0,
        VideoCodec::Hevc => 0.6,
        VideoCodec::Av1 => 0.5,
    }
}

fn even(x: f64) -> u32 {
    ((x / 2.0).round() as u32 * 2).max(2)
}

/// The smallest level that fits a frame size, rate and peak bitrate.
fn level_for(width: u32, height: u32, fps: f64, maxrate_kbps: u32) -> (&'static str, u8) {
    let mbs = u64::from(width.div_ceil(16)) * u64::from(height.div_ceil(16));
    let mbps = (mbs as f64 * fps).ceil() as u64;
    LEVELS
        .iter()
        .find(|(_, _, max_mbps, max_fs, max_br)| {
            mbs <= *max_fs && mbps <= *max_mbps && u64::from(maxrate_kbps) <= *max_br
        })
        .map(|(l, idc, ..)| (*l, *idc))
        .unwrap_or(("5.2", 52))
}

/// The frame rate rungs are encoded at: the source's, with anything above 60 halved (or capped).
pub fn output_frame_rate(source: f64) -> f64 {
    if source <= MAX_FRAME_RATE + 0.01 {
        source
    } else if source / 2.0 <= MAX_FRAME_RATE + 0.01 {
        source / 2.0
    } else {
        MAX_FRAME_RATE
    }
}

fn rung(
    name: String,
    (width, height): (u32, u32),
    box_kbps: f64,
    box_pixels: f64,
    fps: f64,
    quality: Quality,
) -> Rung {
    // Scale the box's bitrate by how much of the box the picture fills (letterboxed films need
    // fewer bits), and by 1.5 for high frame rates, as Apple's table does for 60 fps rows.
    let fill = (f64::from(width) * f64::from(height) / box_pixels).clamp(0.25, 1.0);
    let fps_factor = if fps > 31.0 { 1.5 } else { 1.0 };
    let video_kbps = (box_kbps * fill * fps_factor).round() as u32;
    let crf = crf(quality, VideoCodec::H264);
    // A fixed rate's peak is held near its average: a player's bandwidth estimate then holds
    // for every segment. A target quality is capped at the fixed average itself, so hard
    // content costs no more than the fixed ladder did over a film.
    let maxrate_kbps = match crf {
        None => video_kbps * 107 / 100,
        Some(_) => video_kbps,
    };
    let bufsize_kbps = maxrate_kbps * 2;
    let (level, level_idc) = level_for(width, height, fps, maxrate_kbps);
    Rung {
        name,
        codec: VideoCodec::H264,
        width,
        height,
        crf,
        video_kbps,
        maxrate_kbps,
        bufsize_kbps,
        level,
        level_idc,
        frame_rate: fps,
        range: VideoRange::Sdr,
    }
}

/// The same picture as an H.264 rung in another codec: its share of the rate, the source's
/// dynamic range kept.
fn in_codec(h264: &Rung, codec: VideoCodec, quality: Quality, range: VideoRange) -> Rung {
    let share = |kbps: u32| (f64::from(kbps) * rate_share(codec)).round() as u32;
    Rung {
        name: format!("{}_{}", h264.name, codec.name()),
        codec,
        crf: crf(quality, codec),
        video_kbps: share(h264.video_kbps),
        maxrate_kbps: share(h264.maxrate_kbps),
        bufsize_kbps: share(h264.bufsize_kbps),
        range,
        ..h264.clone()
    }
}

/// Plans the rungs for a source. A rung is a 16:9 box (turned for portrait sources); it is made
/// when the source fills the box in at least one dimension, scaled to fit inside it and never
/// enlarged. A source smaller than the smallest box gets one rung at its own size. Then one row
/// per extra codec at the top rung's size, when that is 1080p or more.
pub fn plan(probe: &Probe, wanted: &Wanted) -> Vec<Rung> {
    let (sw, sh) = (f64::from(probe.width), f64::from(probe.height));
    let portrait = sh > sw;
    let fps = output_frame_rate(probe.frame_rate);
    let mut rungs = Vec::new();
    for &(short, kbps) in LADDER {
        let name = format!("{short}p");
        if !wanted.renditions.contains(&name) {
            continue;
        }
        let long = (f64::from(short) * 16.0 / 9.0).round();
        let (bw, bh) = if portrait {
            (f64::from(short), long)
        } else {
            (long, f64::from(short))
        };
        if sw < bw && sh < bh {
            continue; // would be an upscale
        }
        let scale = (bw / sw).min(bh / sh).min(1.0);
        let size = (even(sw * scale), even(sh * scale));
        rungs.push(rung(
            name,
            size,
            f64::from(kbps),
            bw * bh,
            fps,
            wanted.quality,
        ));
    }
    if rungs.is_empty() {
        // Below the smallest rung (or none of the wanted ones fit): one rung at its own size.
        let (w, h) = ((probe.width & !1).max(2), (probe.height & !1).max(2));
        let short = w.min(h);
        let (base_short, base_kbps) = LADDER[0];
        let box_long = (f64::from(base_short) * 16.0 / 9.0).round();
        rungs.push(rung(
            format!("{short}p"),
            (w, h),
            f64::from(base_kbps),
            box_long * f64::from(base_short),
            fps,
            wanted.quality,
        ));
    }
    let top = rungs
        .iter()
        .max_by_key(|r| r.width * r.height)
        .filter(|r| r.width.min(r.height) >= EFFICIENT_CODEC_MIN_SHORT_SIDE)
        .cloned();
    if let Some(top) = top {
        for &codec in wanted.codecs.iter().filter(|c| **c != VideoCodec::H264) {
            rungs.push(in_codec(&top, codec, wanted.quality, VideoRange::of(probe)));
        }
    }
    rungs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(width: u32, height: u32, fps: f64) -> Probe {
        crate::ingest::probe::sample(width, height, fps)
    }

    #[test]
    fn anamorphic_sources_are_laddered_by_their_display_shape() {
        // 1440x1080 at SAR 4:3 and a PAL DVD at SAR 64:45, as the probe reports them.
        let r = plan(&probe(1920, 1080, 25.0), &all());
        assert_eq!((r[0].width, r[0].height), (854, 480));
        let r = plan(&probe(1024, 576, 25.0), &all());
        assert_eq!(names(&r), ["480p"]);
        assert_eq!((r[0].width, r[0].height), (854, 480));
    }

    fn all() -> Vec<String> {
        ["480p", "720p", "1080p", "2160p"]
            .map(String::from)
            .to_vec()
    }

    const H264: &[VideoCodec] = &[VideoCodec::H264];

    /// The fixed ladder of the H.264 rows: what the sizes and rates below are checked against.
    fn plan(probe: &Probe, renditions: &[String]) -> Vec<Rung> {
        super::plan(
            probe,
            &Wanted {
                renditions,
                quality: Quality::Fixed,
                codecs: H264,
            },
        )
    }

    fn names(r: &[Rung]) -> Vec<&str> {
        r.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn full_hd_source_gets_three_rungs_and_no_upscale() {
        let r = plan(&probe(1920, 1080, 30.0), &all());
        assert_eq!(names(&r), ["480p", "720p", "1080p"]);
        assert_eq!((r[0].width, r[0].height), (854, 480));
        assert_eq!((r[2].width, r[2].height), (1920, 1080));
        assert_eq!(r[0].video_kbps, 1400);
        assert_eq!(r[1].video_kbps, 3000);
        assert_eq!(r[2].video_kbps, 6000);
        assert!(r.windows(2).all(|w| w[0].video_kbps < w[1].video_kbps));
        assert!(
            r.iter()
                .all(|r| r.maxrate_kbps > r.video_kbps && r.bufsize_kbps >= r.maxrate_kbps)
        );
        assert_eq!(r[0].codecs(true), "avc1.64001f,mp4a.40.2");
        assert_eq!(r[2].codecs(false), "avc1.640028");
    }

    #[test]
    fn uhd_source_gets_four_rungs_at_level_5_1() {
        let r = plan(&probe(3840, 2160, 30.0), &all());
        assert_eq!(names(&r), ["480p", "720p", "1080p", "2160p"]);
        assert_eq!(r[3].level, "5.1");
    }

    #[test]
    fn small_source_gets_one_rung_at_its_own_size() {
        let r = plan(&probe(640, 360, 30.0), &all());
        assert_eq!(names(&r), ["360p"]);
        assert_eq!((r[0].width, r[0].height), (640, 360));
        let r = plan(&probe(321, 241, 25.0), &all());
        assert_eq!((r[0].width, r[0].height), (320, 240), "even dimensions");
        assert_eq!(r[0].name, "240p");
    }

    #[test]
    fn letterboxed_film_keeps_its_aspect_and_needs_fewer_bits() {
        let r = plan(&probe(1920, 800, 24.0), &all());
        assert_eq!(names(&r), ["480p", "720p", "1080p"]);
        assert_eq!((r[2].width, r[2].height), (1920, 800));
        assert_eq!((r[1].width, r[1].height), (1280, 534));
        assert!(r[2].video_kbps < 6000);
    }

    #[test]
    fn portrait_source_is_laddered_by_its_short_side() {
        let r = plan(&probe(720, 1280, 30.0), &all());
        assert_eq!(names(&r), ["480p", "720p"]);
        assert_eq!((r[0].width, r[0].height), (480, 854));
        assert_eq!((r[1].width, r[1].height), (720, 1280));
    }

    #[test]
    fn odd_dimensions_become_even() {
        let r = plan(&probe(1279, 719, 30.0), &all());
        assert_eq!(
            names(&r),
            ["480p"],
            "719 lines is below the 720p box in both dimensions"
        );
        assert!(r.iter().all(|r| r.width % 2 == 0 && r.height % 2 == 0));
    }

    #[test]
    fn high_frame_rates_cost_more_bits_and_a_higher_level() {
        let r30 = plan(&probe(1920, 1080, 30.0), &all());
        let r60 = plan(&probe(1920, 1080, 60.0), &all());
        assert_eq!(r60[2].video_kbps, 9000);
        assert_eq!(r60[2].level, "4.2");
        assert_eq!(r30[2].level, "4.0");
        assert_eq!(output_frame_rate(120.0), 60.0);
        assert_eq!(output_frame_rate(59.94), 59.94);
    }

    #[test]
    fn configured_renditions_limit_the_ladder() {
        let r = plan(&probe(1920, 1080, 30.0), &["720p".to_string()]);
        assert_eq!(names(&r), ["720p"]);
    }
}

#[cfg(test)]
mod rate_and_codec_tests {
    use super::*;

    fn wanted<'a>(
        renditions: &'a [String],
        quality: Quality,
        codecs: &'a [VideoCodec],
    ) -> Wanted<'a> {
        Wanted {
            renditions,
            quality,
            codecs,
        }
    }

    fn all() -> Vec<String> {
        ["480p", "720p", "1080p", "2160p"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn a_quality_is_a_crf_capped_at_the_fixed_rates() {
        let p = crate::ingest::probe::sample(1920, 1080, 30.0);
        let r = all();
        let fixed = plan(&p, &wanted(&r, Quality::Fixed, &[VideoCodec::H264]));
        let standard = plan(&p, &wanted(&r, Quality::Standard, &[VideoCodec::H264]));
        assert!(fixed.iter().all(|r| r.crf.is_none()));
        assert!(standard.iter().all(|r| r.crf == Some(23)));
        for (f, s) in fixed.iter().zip(&standard) {
            assert_eq!(
                (s.maxrate_kbps, s.bufsize_kbps),
                (f.video_kbps, f.video_kbps * 2),
                "capped at the fixed ladder's average, so nothing costs more than it did"
            );
            assert_eq!(f.level, s.level);
        }
        let crf = |q| crf(q, VideoCodec::H264).unwrap_or(0);
        assert!(
            crf(Quality::Archive) < crf(Quality::High)
                && crf(Quality::High) < crf(Quality::Standard)
        );
    }

    #[test]
    fn efficient_codecs_add_one_row_at_the_top_of_a_big_source() {
        let r = all();
        let codecs = [VideoCodec::H264, VideoCodec::Hevc, VideoCodec::Av1];
        let mut p = crate::ingest::probe::sample(3840, 2160, 24.0);
        p.colour.transfer = Some("smpte2084".into());
        let rows = plan(&p, &wanted(&r, Quality::Standard, &codecs));
        let names: Vec<_> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["480p", "720p", "1080p", "2160p", "2160p_hevc", "2160p_av1"]
        );
        let (h264, hevc, av1) = (&rows[3], &rows[4], &rows[5]);
        assert!(
            rows[..4]
                .iter()
                .all(|r| r.codec == VideoCodec::H264 && r.range == VideoRange::Sdr)
        );
        assert_eq!((hevc.codec, hevc.range), (VideoCodec::Hevc, VideoRange::Pq));
        assert_eq!((av1.codec, av1.range), (VideoCodec::Av1, VideoRange::Pq));
        assert_eq!((hevc.width, hevc.height), (h264.width, h264.height));
        assert!(hevc.maxrate_kbps * 100 <= h264.maxrate_kbps * 60);
        assert!(av1.maxrate_kbps < hevc.maxrate_kbps);
        assert_eq!(hevc.crf, Some(25));

        // An SDR 1080p film: an SDR row; a 720p one: none (the saving is too small there).
        let p = crate::ingest::probe::sample(1920, 1080, 24.0);
        let rows = plan(&p, &wanted(&r, Quality::High, &codecs[..2]));
        assert_eq!(
            rows.last().map(|r| (r.name.as_str(), r.range)),
            Some(("1080p_hevc", VideoRange::Sdr))
        );
        let p = crate::ingest::probe::sample(1280, 720, 24.0);
        assert_eq!(plan(&p, &wanted(&r, Quality::High, &codecs)).len(), 2);
        // HLG is kept as HLG.
        let mut p = crate::ingest::probe::sample(3840, 2160, 50.0);
        p.colour.transfer = Some("arib-std-b67".into());
        let rows = plan(&p, &wanted(&r, Quality::Fixed, &codecs[..2]));
        assert_eq!(
            rows.last().map(|r| (r.range, r.crf)),
            Some((VideoRange::Hlg, None))
        );
    }
}
