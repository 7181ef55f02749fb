//! The ffmpeg command lines: one process for the whole ladder (decode once, deinterlace and
//! tone-map once, split, one x264 per rung, one AAC encode per source audio stream, the HLS
//! muxer writing fMP4 segments for every rendition), and a quick one for the poster frame.

use std::path::Path;

use super::ladder::{Rung, VideoRange};
use super::probe::{AudioStream, Hdr10, Probe};
use crate::config::VideoCodec;

pub struct LadderJob<'a> {
    pub source: &'a Path,
    pub out_dir: &'a Path,
    pub rungs: &'a [Rung],
    pub picture: Picture,
    pub preset: &'a str,
    pub segment_seconds: u32,
    /// Where an interrupted encode goes on from, `None` for a first run.
    pub resume: Option<Resume>,
    /// How long the source's audio starts before its picture: the video timeline is moved
    /// that far, as one process with the audio would, so the audio can keep its lead.
    pub audio_lead_s: f64,
}

/// A resumed encode starts at a published segment boundary: the first `segments_done`
/// segments exist, and the next begins `start_s` into the movie.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resume {
    pub segments_done: u32,
    pub start_s: f64,
}

/// The audio renditions: every source stream encoded once, in a process of its own (it runs far
/// ahead of the video and is cheap to redo, so a resumed job simply makes it again).
pub struct AudioJob<'a> {
    pub source: &'a Path,
    pub out_dir: &'a Path,
    /// The source audio streams to encode, in rendition order (`audio_1`, `audio_2`...).
    pub audio: &'a [AudioStream],
    pub segment_seconds: u32,
    /// How far the video's muxer moved the video's timeline (x264's reordering delay): the
    /// audio moves as far, as it would in one process with the video, so they stay in sync.
    pub offset_s: f64,
}

/// What the picture needs before it is scaled: from the probe, decided once.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    pub video_index: u32,
    pub source_frame_rate: f64,
    pub deinterlace: bool,
    /// The source's transfer (`smpte2084` or `arib-std-b67`) when it must be tone-mapped.
    pub hdr_transfer: Option<String>,
    /// HDR10 static metadata, passed on to rows that keep the source's HDR.
    pub hdr10: Option<Hdr10>,
}

impl Picture {
    pub fn of(probe: &Probe, interlaced: bool) -> Picture {
        Picture {
            video_index: probe.video_index,
            source_frame_rate: probe.frame_rate,
            deinterlace: interlaced,
            hdr_transfer: probe
                .colour
                .is_hdr()
                .then(|| probe.colour.transfer.clone())
                .flatten(),
            hdr10: probe.hdr10.clone(),
        }
    }

    /// Filters every frame goes through before any scaling: deinterlacing, and tone-mapping to
    /// SDR BT.709 at `size` (done once, at the largest size needed, since it is the costly
    /// part). Empty when there is nothing to do.
    fn prepare(&self, size: (u32, u32)) -> Vec<String> {
        let mut chain = self.deinterlace_filter();
        chain.extend(self.tone_map(size));
        chain
    }

    fn deinterlace_filter(&self) -> Vec<String> {
        // One frame per frame (25i -> 25p): smooth enough for films and half the encode of
        // field-rate output.
        self.deinterlace
            .then(|| "bwdif=mode=send_frame:parity=auto:deint=all".to_string())
            .into_iter()
            .collect()
    }

    /// x265's HDR10 static metadata, from the source's first frame when it has them.
    fn hdr10_x265_params(&self) -> Vec<String> {
        let Some(m) = &self.hdr10 else {
            return vec![];
        };
        let mut out = Vec::new();
        if let Some(display) = &m.mastering_display {
            out.push(format!("master-display={display}"));
        }
        if let Some((max_cll, max_fall)) = m.content_light {
            out.push(format!("max-cll={max_cll},{max_fall}"));
        }
        out
    }

    /// The same for stills taken from keyframes seconds apart, which are no neighbours for a
    /// temporal deinterlacer: the top field alone, line-doubled by the scaler after.
    pub(super) fn prepare_stills(&self, size: (u32, u32)) -> Vec<String> {
        let mut chain = Vec::new();
        if self.deinterlace {
            chain.push("field=type=top".to_string());
        }
        chain.extend(self.tone_map(size));
        chain
    }

    fn tone_map(&self, size: (u32, u32)) -> Vec<String> {
        let Some(transfer) = &self.hdr_transfer else {
            return vec![];
        };
        vec![
            format!(
                "zscale=w={}:h={}:tin={transfer}:pin=bt2020:min=bt2020nc:rin=tv:t=linear:npl=100",
                size.0, size.1
            ),
            "format=gbrpf32le".into(),
            "zscale=p=bt709".into(),
            "tonemap=hable:desat=0".into(),
            "zscale=t=bt709:m=bt709:r=tv".into(),
            "format=yuv420p".into(),
        ]
    }
}

/// Keyframes every 2 s when that divides the segment length, else once per segment: either way
/// every segment of every rung starts with an IDR at the same instant.
pub fn keyframe_interval(segment_seconds: u32) -> u32 {
    if segment_seconds % 2 == 0 {
        2
    } else {
        segment_seconds
    }
}

fn s(x: impl ToString) -> String {
    x.to_string()
}

/// The rendition name of the `n`th (0-based) audio stream encoded.
pub fn audio_rendition(n: usize) -> String {
    format!("audio_{}", n + 1)
}

/// Audio renditions are stereo AAC-LC at this rate, whatever the source had.
pub const AUDIO_KBPS: u32 = 128;

/// The filter graph: decode once, deinterlace and fix the frame rate once, tone-map once for
/// the SDR rows (at the largest size needed), keep the source's range for HDR rows, then one
/// scaled output `[v{i}]` per rung.
fn ladder_graph(job: &LadderJob, fps: f64) -> String {
    let pic = &job.picture;
    // The filters of the SDR or the HDR rows after the common head, ending in one split output
    // `[s{i}]` per rung of that range; `None` when there is no such rung. Only SDR rows of an
    // HDR source are tone-mapped (once, at their largest size).
    let branch = |hdr: bool| {
        let rungs: Vec<(usize, &Rung)> = job
            .rungs
            .iter()
            .enumerate()
            .filter(|(_, r)| (r.range != VideoRange::Sdr) == hdr)
            .collect();
        let largest = rungs
            .iter()
            .map(|(_, r)| (r.width, r.height))
            .max_by_key(|(w, h)| w * h)?;
        let mut chain = if hdr { vec![] } else { pic.tone_map(largest) };
        chain.push(format!("split={}", rungs.len()));
        let labels: String = rungs.iter().map(|(i, _)| format!("[s{i}]")).collect();
        Some(format!("{}{labels}", chain.join(",")))
    };
    // Constant frame rate out, whatever the source's timing: `fps` drops or repeats frames
    // so every segment holds the same number of them.
    let mut head = pic.deinterlace_filter();
    head.push(format!("fps={fps:.3}"));
    let head = head.join(",");
    let mut graph = format!("[0:{}]{head},", pic.video_index);
    match (branch(false), branch(true)) {
        (Some(sdr), Some(hdr)) => {
            graph.push_str(&format!("split=2[sdr][hdr];[sdr]{sdr};[hdr]{hdr}"))
        }
        (Some(only), None) | (None, Some(only)) => graph.push_str(&only),
        (None, None) => {}
    }
    for (i, r) in job.rungs.iter().enumerate() {
        // setsar=1: square pixels out (without it, 854x480 from 16:9 comes out 1280:1281, and
        // an anamorphic source would keep its stretched pixels).
        let depth = if r.codec == VideoCodec::H264 {
            ""
        } else {
            ",format=yuv420p10le"
        };
        graph.push_str(&format!(
            ";[s{i}]scale={}:{}:flags=bicubic,setsar=1{depth}[v{i}]",
            r.width, r.height
        ));
    }
    graph
}

/// SVT-AV1's preset (0 slowest .. 13 fastest) about as fast for its codec as an x264 preset.
fn svt_av1_preset(x264: &str) -> u8 {
    match x264 {
        "ultrafast" => 12,
        "superfast" => 11,
        "veryfast" => 10,
        "faster" => 9,
        "fast" => 8,
        "medium" => 7,
        "slow" => 6,
        "slower" => 5,
        _ => 4,
    }
}

/// The encoder of output stream `i` and everything it needs: codec, profile, bit depth, rate
/// control, colour tags, and for x265 and SVT-AV1 closed GOPs without scene cuts (every
/// segment of every row starts with an IDR at the same instant).
fn encoder_args(i: usize, r: &Rung, job: &LadderJob) -> Vec<String> {
    let o = |name: &str| format!("-{name}:v:{i}");
    let mut a = Vec::new();
    let mut params: Vec<String> = Vec::new();
    a.extend([o("c"), s(r.codec.encoder())]);
    match r.codec {
        VideoCodec::H264 => a.extend([
            o("preset"),
            job.preset.to_string(),
            o("profile"),
            s("high"),
            o("pix_fmt"),
            s("yuv420p"),
            o("level"),
            r.level.to_string(),
        ]),
        VideoCodec::Hevc => {
            a.extend([
                o("preset"),
                job.preset.to_string(),
                o("profile"),
                s("main10"),
                o("pix_fmt"),
                s("yuv420p10le"),
                // hvc1: parameter sets in the init segment, as Apple's players require.
                o("tag"),
                s("hvc1"),
                o("forced-idr"),
                s("1"),
            ]);
            params.extend(["log-level=error", "open-gop=0", "scenecut=0"].map(String::from));
            if r.range == VideoRange::Pq {
                params.extend(["hdr10=1", "hdr10-opt=1"].map(String::from));
                params.extend(job.picture.hdr10_x265_params());
            }
        }
        VideoCodec::Av1 => {
            a.extend([
                o("preset"),
                s(svt_av1_preset(job.preset)),
                o("pix_fmt"),
                s("yuv420p10le"),
            ]);
            params.extend(["scd=0", "irefresh-type=2"].map(String::from));
        }
    }
    match (r.crf, r.codec) {
        (Some(crf), VideoCodec::Av1) => {
            a.extend([o("crf"), s(crf)]);
            params.push(format!("mbr={}", r.maxrate_kbps));
        }
        (Some(crf), _) => a.extend([
            o("crf"),
            s(crf),
            o("maxrate"),
            format!("{}k", r.maxrate_kbps),
            o("bufsize"),
            format!("{}k", r.bufsize_kbps),
        ]),
        (None, VideoCodec::Av1) => a.extend([o("b"), format!("{}k", r.video_kbps)]),
        (None, _) => a.extend([
            o("b"),
            format!("{}k", r.video_kbps),
            o("maxrate"),
            format!("{}k", r.maxrate_kbps),
            o("bufsize"),
            format!("{}k", r.bufsize_kbps),
        ]),
    }
    let transfer = job.picture.hdr_transfer.as_deref();
    let tags = match (r.range, transfer) {
        // Tone-mapped pixels are BT.709: say so, or players apply the source's curve again.
        (VideoRange::Sdr, Some(_)) => Some(("bt709", "bt709", "bt709")),
        (VideoRange::Pq | VideoRange::Hlg, Some(t)) => Some(("bt2020", t, "bt2020nc")),
        _ => None,
    };
    if let Some((primaries, trc, matrix)) = tags {
        a.extend([
            o("color_primaries"),
            s(primaries),
            o("color_trc"),
            s(trc),
            o("colorspace"),
            s(matrix),
        ]);
    }
    match r.codec {
        VideoCodec::H264 => {}
        VideoCodec::Hevc => a.extend([o("x265-params"), params.join(":")]),
        VideoCodec::Av1 => a.extend([o("svtav1-params"), params.join(":")]),
    }
    a
}

pub fn ladder_args(job: &LadderJob) -> Vec<String> {
    let n = job.rungs.len();
    let pic = &job.picture;
    let fps = job
        .rungs
        .first()
        .map(|r| r.frame_rate)
        .unwrap_or(pic.source_frame_rate);
    let graph = ladder_graph(job, fps);
    let kf = keyframe_interval(job.segment_seconds);
    let gop = (fps * f64::from(kf)).round().max(1.0) as u32;
    let mut a: Vec<String> = vec![s("-nostdin"), s("-y")];
    if let Some(r) = job.resume {
        // Accurate input seeking: decoding starts at the keyframe before and frames before
        // `start_s` are dropped, so the first frame out is the next segment's first frame.
        a.extend([s("-ss"), format!("{:.6}", r.start_s)]);
    }
    a.extend([
        s("-i"),
        job.source.display().to_string(),
        s("-filter_complex"),
        graph,
    ]);
    for i in 0..n {
        a.extend([s("-map"), format!("[v{i}]")]);
    }
    // Keyframes at the same instants as an uninterrupted run: `t` restarts at 0 after a seek,
    // so the expression counts on the movie's own clock and from the keyframes already made.
    let (offset, forced_before) = match job.resume {
        Some(r) => (
            format!("+{:.6}", r.start_s),
            r.segments_done * (job.segment_seconds / kf),
        ),
        None => (String::new(), 0),
    };
    let key_frames = if forced_before == 0 && offset.is_empty() {
        format!("expr:gte(t,n_forced*{kf})")
    } else {
        format!("expr:gte(t{offset},(n_forced+{forced_before})*{kf})")
    };
    a.extend([
        s("-sc_threshold"),
        s("0"),
        s("-g"),
        s(gop),
        s("-keyint_min"),
        s(gop),
        s("-force_key_frames"),
        key_frames,
    ]);
    for (i, r) in job.rungs.iter().enumerate() {
        a.extend(encoder_args(i, r, job));
    }
    let stream_map: Vec<String> = job
        .rungs
        .iter()
        .enumerate()
        .map(|(i, r)| format!("v:{i},name:{}", r.name))
        .collect();
    if job.audio_lead_s > 0.0 {
        a.extend([s("-output_ts_offset"), format!("{:.6}", job.audio_lead_s)]);
    }
    let first = job.resume.map_or(1, |r| r.segments_done + 1);
    a.extend(hls_output(
        job.out_dir,
        job.segment_seconds,
        first,
        &stream_map,
    ));
    a
}

/// The HLS muxer writing fMP4 segments for each variant under `out/{name}/`, and an EVENT
/// playlist it rewrites (atomically) after each finished segment: what the publisher reads.
fn hls_output(out: &Path, segment_seconds: u32, first: u32, stream_map: &[String]) -> Vec<String> {
    let out = out.display();
    vec![
        s("-f"),
        s("hls"),
        s("-hls_time"),
        s(segment_seconds),
        s("-hls_playlist_type"),
        s("event"),
        s("-hls_flags"),
        s("independent_segments"),
        s("-hls_segment_type"),
        s("fmp4"),
        s("-hls_fmp4_init_filename"),
        s("init.mp4"),
        s("-start_number"),
        s(first),
        s("-hls_segment_filename"),
        format!("{out}/%v/seg_%05d.m4s"),
        s("-var_stream_map"),
        stream_map.join(" "),
        format!("{out}/%v/index.m3u8"),
    ]
}

pub fn audio_args(job: &AudioJob) -> Vec<String> {
    let graph = job
        .audio
        .iter()
        .enumerate()
        .map(|(i, a)| {
            // Downmixed once per source stream (5.1 and 7.1 by the standard matrix), shared
            // by every rung.
            format!(
                "[0:{}]aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[a{i}]",
                a.index
            )
        })
        .collect::<Vec<_>>()
        .join(";");
    let mut a = vec![
        s("-nostdin"),
        s("-y"),
        s("-i"),
        job.source.display().to_string(),
        s("-filter_complex"),
        graph,
    ];
    for i in 0..job.audio.len() {
        a.extend([s("-map"), format!("[a{i}]")]);
    }
    a.extend([s("-c:a"), s("aac"), s("-b:a"), format!("{AUDIO_KBPS}k")]);
    if job.offset_s > 0.0 {
        a.extend([s("-output_ts_offset"), format!("{:.6}", job.offset_s)]);
    }
    let stream_map: Vec<String> = (0..job.audio.len())
        .map(|i| format!("a:{i},name:{}", audio_rendition(i)))
        .collect();
    a.extend(hls_output(job.out_dir, job.segment_seconds, 1, &stream_map));
    a
}

/// One JPEG from ~10% into the movie, at its display shape and at most 720 lines high, through
/// the same tone-mapping as the ladder.
pub fn poster_args(source: &Path, out: &Path, probe: &Probe, picture: &Picture) -> Vec<String> {
    let height = probe.height.min(720);
    let width =
        (u64::from(probe.width) * u64::from(height) / u64::from(probe.height.max(1))) as u32 & !1;
    let mut chain = picture.prepare((width.max(2), height & !1));
    chain.push(format!(
        "scale={}:{}:flags=bicubic",
        width.max(2),
        height & !1
    ));
    chain.push("setsar=1".into());
    vec![
        s("-nostdin"),
        s("-y"),
        s("-ss"),
        format!("{:.3}", probe.duration_s * 0.1),
        s("-i"),
        source.display().to_string(),
        s("-map"),
        format!("0:{}", picture.video_index),
        s("-frames:v"),
        s("1"),
        s("-vf"),
        chain.join(","),
        s("-q:v"),
        s("3"),
        out.display().to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Quality;
    use crate::ingest::ladder::Wanted;

    fn plan_with(
        p: &Probe,
        renditions: &[String],
        quality: Quality,
        codecs: &[VideoCodec],
    ) -> Vec<Rung> {
        crate::ingest::ladder::plan(
            p,
            &Wanted {
                renditions,
                quality,
                codecs,
            },
        )
    }

    fn plan(p: &Probe, renditions: &[String]) -> Vec<Rung> {
        plan_with(p, renditions, Quality::Standard, &[VideoCodec::H264])
    }

    fn probe(fps: f64) -> Probe {
        crate::ingest::probe::sample(1920, 1080, fps)
    }

    fn stream(index: u32) -> AudioStream {
        AudioStream {
            index,
            codec: Some("aac".into()),
            channels: 6,
            layout: Some("5.1".into()),
            language: Some("eng".into()),
            title: None,
            default: index == 1,
            forced: false,
            start_s: 0.0,
        }
    }

    fn job(r: &[Rung], picture: Picture) -> LadderJob<'_> {
        LadderJob {
            source: Path::new("/in/movie.mkv"),
            out_dir: Path::new("/stage/out"),
            rungs: r,
            picture,
            preset: "veryfast",
            segment_seconds: 4,
            resume: None,
            audio_lead_s: 0.0,
        }
    }

    #[test]
    fn one_process_maps_every_rung_with_aligned_keyframes() {
        let p = probe(30.0);
        let r = plan(&p, &["480p".into(), "720p".into(), "1080p".into()]);
        let a = ladder_args(&job(&r, Picture::of(&p, false)));
        let joined = a.join(" ");
        assert!(
            joined.contains("[0:0]fps=30.000,split=3[s0][s1][s2];[s0]scale=854:480"),
            "{joined}"
        );
        assert!(!joined.contains("-c:a") && !joined.contains("-ss"));
        assert!(joined.contains("-force_key_frames expr:gte(t,n_forced*2)"));
        assert!(joined.contains("-g 60 -keyint_min 60"));
        assert!(joined.contains("-hls_segment_type fmp4"));
        assert!(
            joined.contains("-hls_playlist_type event"),
            "a playlist that grows"
        );
        assert!(joined.contains("v:0,name:480p v:1,name:720p v:2,name:1080p"));
        assert!(joined.contains("/stage/out/%v/seg_%05d.m4s"));
        assert!(joined.contains("-start_number 1 "));
        assert!(joined.contains("-level:v:2 4.0"));
        assert!(!joined.contains("zscale") && !joined.contains("bwdif"));
    }

    #[test]
    fn a_resumed_encode_seeks_to_the_boundary_and_keeps_the_keyframe_grid() {
        let p = probe(30.0);
        let r = plan(&p, &["480p".into()]);
        let mut j = job(&r, Picture::of(&p, false));
        j.resume = Some(Resume {
            segments_done: 5,
            start_s: 20.0,
        });
        let joined = ladder_args(&j).join(" ");
        assert!(
            joined.starts_with("-nostdin -y -ss 20.000000 -i /in/movie.mkv"),
            "{joined}"
        );
        assert!(joined.contains("-force_key_frames expr:gte(t+20.000000,(n_forced+10)*2)"));
        assert!(joined.contains("-start_number 6 "));
    }

    #[test]
    fn each_audio_stream_is_encoded_once_in_its_own_process() {
        let audio = [stream(1), stream(2)];
        let joined = audio_args(&AudioJob {
            source: Path::new("/in/movie.mkv"),
            out_dir: Path::new("/stage/audio"),
            audio: &audio,
            segment_seconds: 4,
            offset_s: 0.059,
        })
        .join(" ");
        assert!(joined.contains("[0:1]aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[a0];[0:2]aformat"));
        assert!(joined.contains("-map [a0] -map [a1] -c:a aac -b:a 128k"));
        assert!(joined.contains("a:0,name:audio_1 a:1,name:audio_2"));
        assert!(!joined.contains("libx264"));
        assert!(joined.contains("-output_ts_offset 0.059000"));
    }

    #[test]
    fn interlaced_and_hdr_sources_are_deinterlaced_and_tone_mapped_once() {
        let mut p = probe(25.0);
        p.colour.transfer = Some("smpte2084".into());
        let r = plan(&p, &["480p".into(), "720p".into(), "1080p".into()]);
        let joined = ladder_args(&job(&r, Picture::of(&p, true))).join(" ");
        assert!(
            joined.contains("[0:0]bwdif=mode=send_frame:parity=auto:deint=all,fps=25.000,zscale=w=1920:h=1080:tin=smpte2084"),
            "{joined}"
        );
        assert_eq!(joined.matches("tonemap=hable").count(), 1);
        assert!(
            joined
                .contains("-color_primaries:v:2 bt709 -color_trc:v:2 bt709 -colorspace:v:2 bt709")
        );
        assert!(!joined.contains("-c:a"));
    }

    #[test]
    fn fast_sources_are_slowed_and_odd_segments_get_one_keyframe_each() {
        let p = probe(120.0);
        let r = plan(&p, &["480p".into()]);
        let mut j = job(&r, Picture::of(&p, false));
        j.segment_seconds = 3;
        let joined = ladder_args(&j).join(" ");
        assert!(joined.contains("[0:0]fps=60.000,split=1"));
        assert!(joined.contains("n_forced*3"));
    }

    #[test]
    fn the_poster_keeps_the_display_shape() {
        let mut p = probe(25.0);
        (p.width, p.height) = (1024, 576);
        let joined = poster_args(
            Path::new("s"),
            Path::new("p.jpg"),
            &p,
            &Picture::of(&p, false),
        )
        .join(" ");
        assert!(
            joined.contains("scale=1024:576:flags=bicubic,setsar=1"),
            "{joined}"
        );
    }

    #[test]
    fn a_quality_is_a_capped_crf_and_fixed_is_a_bitrate() {
        let p = probe(30.0);
        let r = plan(&p, &["1080p".into()]);
        let joined = ladder_args(&job(&r, Picture::of(&p, false))).join(" ");
        assert!(
            joined.contains("-crf:v:0 23 -maxrate:v:0 6000k -bufsize:v:0 12000k"),
            "{joined}"
        );
        assert!(!joined.contains("-b:v"));
        let r = plan_with(&p, &["1080p".into()], Quality::Fixed, &[VideoCodec::H264]);
        let joined = ladder_args(&job(&r, Picture::of(&p, false))).join(" ");
        assert!(joined.contains("-b:v:0 6000k -maxrate:v:0 6420k -bufsize:v:0 12840k"));
        assert!(!joined.contains("-crf"));
    }

    #[test]
    fn an_hdr_source_gets_sdr_h264_rows_and_hdr10_rows_in_efficient_codecs() {
        let mut p = crate::ingest::probe::sample(3840, 2160, 24.0);
        p.colour.transfer = Some("smpte2084".into());
        p.hdr10 = Some(Hdr10 {
            mastering_display: Some("G(1,2)B(3,4)R(5,6)WP(7,8)L(9,10)".into()),
            content_light: Some((1000, 400)),
        });
        let codecs = [VideoCodec::H264, VideoCodec::Hevc, VideoCodec::Av1];
        let r = plan_with(
            &p,
            &["1080p".into(), "2160p".into()],
            Quality::Standard,
            &codecs,
        );
        let joined = ladder_args(&job(&r, Picture::of(&p, false))).join(" ");
        // Decoded and paced once; tone-mapped once for the H.264 rows; HDR rows untouched.
        assert!(
            joined.contains(
                "[0:0]fps=24.000,split=2[sdr][hdr];[sdr]zscale=w=3840:h=2160:tin=smpte2084"
            ),
            "{joined}"
        );
        assert!(joined.contains("format=yuv420p,split=2[s0][s1];[hdr]split=2[s2][s3];"));
        assert!(
            joined.contains("[s2]scale=3840:2160:flags=bicubic,setsar=1,format=yuv420p10le[v2]")
        );
        assert_eq!(joined.matches("tonemap=hable").count(), 1);
        assert!(joined.contains("-c:v:1 libx264 -preset:v:1 veryfast -profile:v:1 high -pix_fmt:v:1 yuv420p -level:v:1 5.1"));
        assert!(
            joined
                .contains("-color_primaries:v:1 bt709 -color_trc:v:1 bt709 -colorspace:v:1 bt709")
        );
        assert!(joined.contains("-c:v:2 libx265 -preset:v:2 veryfast -profile:v:2 main10 -pix_fmt:v:2 yuv420p10le -tag:v:2 hvc1 -forced-idr:v:2 1 -crf:v:2 25 -maxrate:v:2 9600k"));
        assert!(joined.contains(
            "-color_primaries:v:2 bt2020 -color_trc:v:2 smpte2084 -colorspace:v:2 bt2020nc"
        ));
        assert!(joined.contains("-x265-params:v:2 log-level=error:open-gop=0:scenecut=0:hdr10=1:hdr10-opt=1:master-display=G(1,2)B(3,4)R(5,6)WP(7,8)L(9,10):max-cll=1000,400"), "{joined}");
        assert!(
            joined.contains("-c:v:3 libsvtav1 -preset:v:3 10 -pix_fmt:v:3 yuv420p10le -crf:v:3 34")
        );
        assert!(joined.contains("-svtav1-params:v:3 scd=0:irefresh-type=2:mbr=8000"));
        assert!(
            joined.contains("v:0,name:1080p v:1,name:2160p v:2,name:2160p_hevc v:3,name:2160p_av1")
        );
    }
}
