//! Planning the ladder: which rungs a source gets (never above it), their exact sizes, bitrates
//! after Apple's HLS authoring table, and the H.264 level each one needs (so CODECS is exact).

use super::probe::Probe;

/// One row of the ladder, as it will be encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Rung {
    /// `480p` etc.: named by the short side, which is the height of a landscape movie.
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub video_kbps: u32,
    pub maxrate_kbps: u32,
    pub bufsize_kbps: u32,
    /// H.264 level as ffmpeg takes it (`4.0`) and as CODECS spells it (level_idc 40).
    pub level: &'static str,
    pub level_idc: u8,
    pub frame_rate: f64,
}

impl Rung {
    /// RFC 6381 codec string: H.264 High profile at this level, plus AAC-LC when there is audio.
    pub fn codecs(&self, with_audio: bool) -> String {
        let video = format!("avc1.6400{:02x}", self.level_idc);
        if with_audio {
            format!("{video},mp4a.40.2")
        } else {
            video
        }
    }
}

/// (short side, 30 fps average kbit/s) after Apple's HLS authoring spec for H.264.
const LADDER: &[(u32, u32)] = &[(480, 1400), (720, 3000), (1080, 6000), (2160, 16000)];

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

fn rung(name: String, width: u32, height: u32, box_kbps: f64, box_pixels: f64, fps: f64) -> Rung {
    // Scale the box's bitrate by how much of the box the picture fills (letterboxed films need
    // fewer bits), and by 1.5 for high frame rates, as Apple's table does for 60 fps rows.
    let fill = (f64::from(width) * f64::from(height) / box_pixels).clamp(0.25, 1.0);
    let fps_factor = if fps > 31.0 { 1.5 } else { 1.0 };
    let video_kbps = (box_kbps * fill * fps_factor).round() as u32;
    // Peak held near the average: a player's bandwidth estimate then holds for every segment.
    let maxrate_kbps = video_kbps * 107 / 100;
    let bufsize_kbps = maxrate_kbps * 2;
    let (level, level_idc) = level_for(width, height, fps, maxrate_kbps);
    Rung {
        name,
        width,
        height,
        video_kbps,
        maxrate_kbps,
        bufsize_kbps,
        level,
        level_idc,
        frame_rate: fps,
    }
}

/// Plans the rungs for a source. A rung is a 16:9 box (turned for portrait sources); it is made
/// when the source fills the box in at least one dimension, scaled to fit inside it and never
/// enlarged. A source smaller than the smallest box gets one rung at its own size.
pub fn plan(probe: &Probe, wanted: &[String]) -> Vec<Rung> {
    let (sw, sh) = (f64::from(probe.width), f64::from(probe.height));
    let portrait = sh > sw;
    let fps = output_frame_rate(probe.frame_rate);
    let mut rungs = Vec::new();
    for &(short, kbps) in LADDER {
        let name = format!("{short}p");
        if !wanted.contains(&name) {
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
        let (w, h) = (even(sw * scale), even(sh * scale));
        rungs.push(rung(name, w, h, f64::from(kbps), bw * bh, fps));
    }
    if rungs.is_empty() {
        // Below the smallest rung (or none of the wanted ones fit): one rung at its own size.
        let (w, h) = ((probe.width & !1).max(2), (probe.height & !1).max(2));
        let short = w.min(h);
        let (base_short, base_kbps) = LADDER[0];
        let box_long = (f64::from(base_short) * 16.0 / 9.0).round();
        rungs.push(rung(
            format!("{short}p"),
            w,
            h,
            f64::from(base_kbps),
            box_long * f64::from(base_short),
            fps,
        ));
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
