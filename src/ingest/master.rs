//! After the encode: ffmpeg's playlists tidied (init names, the audio muxer's tiny tail segment,
//! INDEPENDENT-SEGMENTS) and every rendition measured (peak and mean bitrate of its segments,
//! alignment of the rungs), since ffmpeg's own master only estimates them.

use std::path::Path;

use super::ladder::Rung;
use crate::playlist::Variant;
use crate::store::RenditionInfo;

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("ffmpeg wrote an unreadable playlist {0}")]
    Parse(String),
    #[error("rung {0} has no segments")]
    Empty(String),
    #[error("rungs are not aligned: {0}")]
    Misaligned(String),
}

/// What was measured of one rendition's segments.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    pub peak: u64,
    pub average: u64,
    pub durations: Vec<f32>,
}

/// What was measured of one rung.
#[derive(Debug, Clone)]
pub struct Measured {
    pub info: RenditionInfo,
    pub durations: Vec<f32>,
}

pub fn read_media_playlist(path: &Path) -> Result<Variant, MasterError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    Variant::parse(&bytes).map_err(|_| MasterError::Parse(path.display().to_string()))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MasterError + '_ {
    move |source| MasterError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A tail segment shorter than this is folded into the one before it: the audio muxer cuts a
/// few AAC frames past the video's end into a segment of their own.
const TINY_TAIL_S: f32 = 0.5;

/// Tidies what ffmpeg's HLS muxer wrote for one rendition, in place: the init segment is
/// `init.mp4` (ffmpeg numbers it per variant), a tiny tail segment joins the one before it
/// (fMP4 fragments concatenate), and the playlist says `EXT-X-INDEPENDENT-SEGMENTS` (every
/// audio frame and every video segment's first frame is a sync point) with a fitting target
/// duration.
pub fn tidy_rendition(dir: &Path) -> Result<Variant, MasterError> {
    let index = dir.join("index.m3u8");
    let mut playlist = read_media_playlist(&index)?;
    if let Some(map) = playlist.map.take() {
        if map != "init.mp4" {
            std::fs::rename(dir.join(&map), dir.join("init.mp4")).map_err(io(dir))?;
        }
        playlist.map = Some("init.mp4".into());
    }
    let n = playlist.segments.len();
    if n >= 2 && playlist.segments[n - 1].0 < TINY_TAIL_S {
        let (tail_d, tail_uri) = playlist.segments.pop().unwrap_or_default();
        let tail_path = dir.join(&tail_uri);
        let bytes = std::fs::read(&tail_path).map_err(io(&tail_path))?;
        if let Some((d, uri)) = playlist.segments.last_mut() {
            use std::io::Write;
            let prev = dir.join(&*uri);
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&prev)
                .map_err(io(&prev))?;
            file.write_all(&bytes).map_err(io(&prev))?;
            *d += tail_d;
        }
        std::fs::remove_file(&tail_path).map_err(io(&tail_path))?;
    }
    playlist.independent_segments = true;
    playlist.version = playlist.version.max(7);
    playlist.target_duration = playlist.fitting_target_duration();
    std::fs::write(&index, playlist.to_stored_text()).map_err(io(&index))?;
    Ok(playlist)
}

/// Peak and mean bitrate of a rendition from its segment files.
pub fn rates(dir: &Path, playlist: &Variant, name: &str) -> Result<Rates, MasterError> {
    if playlist.segments.is_empty() {
        return Err(MasterError::Empty(name.to_string()));
    }
    let (mut peak, mut bits, mut secs) = (0f64, 0f64, 0f64);
    for (duration, uri) in &playlist.segments {
        let path = dir.join(uri);
        let size = std::fs::metadata(&path).map_err(io(&path))?.len() as f64 * 8.0;
        let d = f64::from(*duration).max(0.001);
        // A short tail segment says little about the peak; judge it as if it were full
        // length only when it is at least half a segment long.
        if d >= playlist.target_duration as f64 / 2.0 || playlist.segments.len() == 1 {
            peak = peak.max(size / d);
        }
        bits += size;
        secs += d;
    }
    let average = bits / secs.max(0.001);
    Ok(Rates {
        peak: peak.max(average).ceil() as u64,
        average: average.ceil() as u64,
        durations: playlist.segments.iter().map(|(d, _)| *d).collect(),
    })
}

/// Tidies and measures every rung.
pub fn measure(out_dir: &Path, rungs: &[Rung]) -> Result<Vec<Measured>, MasterError> {
    let mut measured = Vec::new();
    for r in rungs {
        let dir = out_dir.join(&r.name);
        let playlist = tidy_rendition(&dir)?;
        let rates = rates(&dir, &playlist, &r.name)?;
        measured.push(Measured {
            info: RenditionInfo {
                name: r.name.clone(),
                width: r.width,
                height: r.height,
                bandwidth: rates.peak,
                average_bandwidth: rates.average,
                codecs: r.codecs(false),
                frame_rate: (r.frame_rate * 1000.0).round() / 1000.0,
            },
            durations: rates.durations,
        });
    }
    check_alignment(&measured)?;
    Ok(measured)
}

/// The first presentation time of a rendition's first segment (init and segment read as one
/// file), in seconds: where the rendition's timeline starts.
pub fn first_pts(ffprobe: &Path, dir: &Path) -> Option<f64> {
    let input = format!(
        "concat:{}|{}",
        dir.join("init.mp4").display(),
        dir.join("seg_00001.m4s").display()
    );
    let out = std::process::Command::new(ffprobe)
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=start_time",
            "-of",
            "csv=p=0",
        ])
        .arg(input)
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok())
        .filter(|t| t.is_finite() && *t >= 0.0)
}

/// Every rung must have the same segment boundaries, or switching rungs skips or repeats video.
fn check_alignment(measured: &[Measured]) -> Result<(), MasterError> {
    let Some(first) = measured.first() else {
        return Ok(());
    };
    for m in &measured[1..] {
        if m.durations.len() != first.durations.len() {
            return Err(MasterError::Misaligned(format!(
                "{} has {} segments, {} has {}",
                first.info.name,
                first.durations.len(),
                m.info.name,
                m.durations.len()
            )));
        }
        for (i, (a, b)) in first.durations.iter().zip(&m.durations).enumerate() {
            if (a - b).abs() > 0.05 {
                return Err(MasterError::Misaligned(format!(
                    "segment {} lasts {a}s in {} but {b}s in {}",
                    i + 1,
                    first.info.name,
                    m.info.name
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, bw: u64) -> RenditionInfo {
        RenditionInfo {
            name: name.into(),
            width: 1280,
            height: 720,
            bandwidth: bw,
            average_bandwidth: bw - 100,
            codecs: "avc1.64001f,mp4a.40.2".into(),
            frame_rate: 29.97,
        }
    }

    #[test]
    fn misaligned_rungs_are_caught() {
        let m = |name: &str, d: Vec<f32>| Measured {
            info: info(name, 1_000_000),
            durations: d,
        };
        assert!(check_alignment(&[m("a", vec![4.0, 4.0]), m("b", vec![4.0, 4.0])]).is_ok());
        assert!(check_alignment(&[m("a", vec![4.0, 4.0]), m("b", vec![4.0])]).is_err());
        assert!(check_alignment(&[m("a", vec![4.0, 4.0]), m("b", vec![4.0, 3.5])]).is_err());
    }
}
