//! The ffmpeg command lines: one process for the whole ladder (decode once, split, one x264 per
//! rung, HLS muxer writing every rung), and a quick one for the poster frame.

use std::path::Path;

use super::ladder::Rung;

pub struct LadderJob<'a> {
    pub source: &'a Path,
    pub out_dir: &'a Path,
    pub rungs: &'a [Rung],
    pub has_audio: bool,
    pub source_frame_rate: f64,
    pub preset: &'a str,
    pub segment_seconds: u32,
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

pub fn ladder_args(job: &LadderJob) -> Vec<String> {
    let n = job.rungs.len();
    let fps = job
        .rungs
        .first()
        .map(|r| r.frame_rate)
        .unwrap_or(job.source_frame_rate);
    let mut graph = String::from("[0:v]");
    if (fps - job.source_frame_rate).abs() > 0.01 {
        graph.push_str(&format!("fps={fps:.3},"));
    }
    graph.push_str(&format!("split={n}"));
    for i in 0..n {
        graph.push_str(&format!("[s{i}]"));
    }
    for (i, r) in job.rungs.iter().enumerate() {
        // setsar=1: without it, 854x480 from 16:9 comes out with SAR 1280:1281.
        graph.push_str(&format!(
            ";[s{i}]scale={}:{}:flags=bicubic,setsar=1[v{i}]",
            r.width, r.height
        ));
    }

    let kf = keyframe_interval(job.segment_seconds);
    let gop = (fps * f64::from(kf)).round().max(1.0) as u32;
    let mut a: Vec<String> = vec![
        s("-nostdin"),
        s("-y"),
        s("-i"),
        job.source.display().to_string(),
        s("-filter_complex"),
        graph,
    ];
    for i in 0..n {
        a.extend([s("-map"), format!("[v{i}]")]);
        if job.has_audio {
            a.extend([s("-map"), s("0:a:0")]);
        }
    }
    a.extend([
        s("-c:v"),
        s("libx264"),
        s("-preset"),
        job.preset.to_string(),
        s("-profile:v"),
        s("high"),
        s("-pix_fmt"),
        s("yuv420p"),
        s("-sc_threshold"),
        s("0"),
        s("-g"),
        s(gop),
        s("-keyint_min"),
        s(gop),
        s("-force_key_frames"),
        format!("expr:gte(t,n_forced*{kf})"),
    ]);
    for (i, r) in job.rungs.iter().enumerate() {
        a.extend([
            format!("-b:v:{i}"),
            format!("{}k", r.video_kbps),
            format!("-maxrate:v:{i}"),
            format!("{}k", r.maxrate_kbps),
            format!("-bufsize:v:{i}"),
            format!("{}k", r.bufsize_kbps),
            format!("-level:v:{i}"),
            r.level.to_string(),
        ]);
    }
    if job.has_audio {
        // Audio is muxed into every rung (one cheap AAC encode each) rather than a separate
        // group, whose segments drift against the video's in ffmpeg 5.
        a.extend(["-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"].map(String::from));
    }
    let stream_map = job
        .rungs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if job.has_audio {
                format!("v:{i},a:{i},name:{}", r.name)
            } else {
                format!("v:{i},name:{}", r.name)
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let out = job.out_dir.display();
    a.extend([
        s("-f"),
        s("hls"),
        s("-hls_time"),
        s(job.segment_seconds),
        s("-hls_playlist_type"),
        s("vod"),
        s("-hls_flags"),
        s("independent_segments"),
        s("-hls_segment_type"),
        s("mpegts"),
        s("-start_number"),
        s("1"),
        s("-hls_segment_filename"),
        format!("{out}/%v/seg_%05d.ts"),
        s("-master_pl_name"),
        s("master.m3u8"),
        s("-var_stream_map"),
        stream_map,
        format!("{out}/%v/index.m3u8"),
    ]);
    a
}

/// One JPEG from ~10% into the movie, at most 720 lines high.
pub fn poster_args(source: &Path, out: &Path, duration_s: f64) -> Vec<String> {
    vec![
        s("-nostdin"),
        s("-y"),
        s("-ss"),
        format!("{:.3}", duration_s * 0.1),
        s("-i"),
        source.display().to_string(),
        s("-frames:v"),
        s("1"),
        s("-vf"),
        s("scale=-2:'min(720,ih)':flags=bicubic,setsar=1"),
        s("-q:v"),
        s("3"),
        out.display().to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::ladder::plan;
    use crate::ingest::probe::Probe;

    fn rungs(fps: f64) -> Vec<Rung> {
        let p = Probe {
            duration_s: 10.0,
            width: 1920,
            height: 1080,
            frame_rate: fps,
            rotation: 0,
            video_codec: "h264".into(),
            audio_codec: None,
        };
        plan(&p, &["480p".into(), "720p".into(), "1080p".into()])
    }

    #[test]
    fn one_process_maps_every_rung_with_aligned_keyframes() {
        let r = rungs(30.0);
        let job = LadderJob {
            source: Path::new("/in/movie.mkv"),
            out_dir: Path::new("/stage/out"),
            rungs: &r,
            has_audio: true,
            source_frame_rate: 30.0,
            preset: "veryfast",
            segment_seconds: 4,
        };
        let a = ladder_args(&job);
        let joined = a.join(" ");
        assert!(
            joined.contains("[0:v]split=3[s0][s1][s2];[s0]scale=854:480"),
            "{joined}"
        );
        assert_eq!(a.iter().filter(|x| *x == "0:a:0").count(), 3);
        assert!(joined.contains("-force_key_frames expr:gte(t,n_forced*2)"));
        assert!(joined.contains("-g 60 -keyint_min 60"));
        assert!(joined.contains("-sc_threshold 0"));
        assert!(joined.contains("-hls_time 4"));
        assert!(joined.contains("v:0,a:0,name:480p v:1,a:1,name:720p v:2,a:2,name:1080p"));
        assert!(joined.contains("/stage/out/%v/seg_%05d.ts"));
        assert!(joined.contains("-level:v:2 4.0"));
    }

    #[test]
    fn no_audio_maps_none_and_fast_sources_are_slowed() {
        let r = rungs(120.0);
        let job = LadderJob {
            source: Path::new("s.mp4"),
            out_dir: Path::new("o"),
            rungs: &r,
            has_audio: false,
            source_frame_rate: 120.0,
            preset: "ultrafast",
            segment_seconds: 3,
        };
        let joined = ladder_args(&job).join(" ");
        assert!(!joined.contains("0:a:0") && !joined.contains("-c:a"));
        assert!(joined.contains("[0:v]fps=60.000,split=3"));
        assert!(
            joined.contains("n_forced*3"),
            "odd segment length: one keyframe per segment"
        );
        assert!(joined.contains("v:0,name:480p"));
    }
}
