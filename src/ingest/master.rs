//! The master's figures: every rendition measured from its published segments (peak and mean
//! bitrate, alignment of the rungs), since ffmpeg's own master only estimates them, and an
//! estimate from the plan for the master of a movie still transcoding.

use std::path::Path;

use super::ladder::{Rung, VideoRange};
use crate::store::RenditionInfo;

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
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

/// Peak and mean bitrate of a rendition from its segments' (duration, size in bytes).
pub fn rates(segments: &[(f32, u64)], target_s: u64, name: &str) -> Result<Rates, MasterError> {
    if segments.is_empty() {
        return Err(MasterError::Empty(name.to_string()));
    }
    let (mut peak, mut bits, mut secs) = (0f64, 0f64, 0f64);
    for (duration, size) in segments {
        let size = *size as f64 * 8.0;
        let d = f64::from(*duration).max(0.001);
        // A short tail segment says little about the peak; judge it as if it were full
        // length only when it is at least half a segment long.
        if d >= target_s as f64 / 2.0 || segments.len() == 1 {
            peak = peak.max(size / d);
        }
        bits += size;
        secs += d;
    }
    let average = bits / secs.max(0.001);
    Ok(Rates {
        peak: peak.max(average).ceil() as u64,
        average: average.ceil() as u64,
        durations: segments.iter().map(|(d, _)| *d).collect(),
    })
}

/// A rendition's published segments, (duration, bytes) each, and the codec string its init
/// segment says.
pub type Published = (Vec<(f32, u64)>, Option<String>);

/// Every rung's measured row, from its published segments (and the codec string its init
/// segment says, when read), checked for alignment.
pub fn measure(
    rungs: &[Rung],
    segments: &[Published],
    target_s: u64,
) -> Result<Vec<Measured>, MasterError> {
    let mut measured = Vec::new();
    for (r, (segs, codecs)) in rungs.iter().zip(segments) {
        let rates = rates(segs, target_s, &r.name)?;
        measured.push(Measured {
            info: RenditionInfo {
                bandwidth: rates.peak,
                average_bandwidth: rates.average,
                ..estimate(r, codecs.as_deref())
            },
            durations: rates.durations,
        });
    }
    check_alignment(&measured)?;
    Ok(measured)
}

/// What a rung is expected to cost before anything is measured: the master a viewer gets
/// while the movie transcodes (the final one replaces these with measured figures). Its cap,
/// since a rung with a target quality costs anything up to it. `codecs` is what its init
/// segment says, when it has been written.
pub fn estimate(r: &Rung, codecs: Option<&str>) -> RenditionInfo {
    RenditionInfo {
        name: r.name.clone(),
        width: r.width,
        height: r.height,
        bandwidth: u64::from(r.maxrate_kbps) * 1000,
        average_bandwidth: u64::from(r.video_kbps) * 1000,
        codecs: codecs.map_or_else(|| r.codecs(false), str::to_string),
        frame_rate: (r.frame_rate * 1000.0).round() / 1000.0,
        video_range: (r.range != VideoRange::Sdr).then(|| r.range.as_str().to_string()),
    }
}

/// The first presentation time of a rendition's first segment (init and segment read as one
/// file), in seconds: where the rendition's timeline starts.
pub fn first_pts(ffprobe: &Path, init: &Path, segment: &Path) -> Option<f64> {
    let input = format!("concat:{}|{}", init.display(), segment.display());
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
            video_range: None,
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
