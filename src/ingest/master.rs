//! The master playlist as players need it: ffmpeg's own lacks AVERAGE-BANDWIDTH and FRAME-RATE
//! and estimates BANDWIDTH, so it is rewritten from what was really written: the peak and mean
//! bitrate of each rung's segments.

use std::path::Path;

use m3u8_rs::{MasterPlaylist, MediaPlaylist, Playlist, Resolution, VariantStream};

use super::ladder::Rung;
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

/// What was measured of one rung.
#[derive(Debug, Clone)]
pub struct Measured {
    pub info: RenditionInfo,
    pub durations: Vec<f32>,
}

pub fn read_media_playlist(path: &Path) -> Result<MediaPlaylist, MasterError> {
    let bytes = std::fs::read(path).map_err(|source| MasterError::Io {
        path: path.display().to_string(),
        source,
    })?;
    match m3u8_rs::parse_playlist_res(&bytes) {
        Ok(Playlist::MediaPlaylist(p)) => Ok(p),
        _ => Err(MasterError::Parse(path.display().to_string())),
    }
}

/// Measures every rung from its playlist and segment files.
pub fn measure(
    out_dir: &Path,
    rungs: &[Rung],
    with_audio: bool,
) -> Result<Vec<Measured>, MasterError> {
    let mut measured = Vec::new();
    for r in rungs {
        let dir = out_dir.join(&r.name);
        let playlist = read_media_playlist(&dir.join("index.m3u8"))?;
        if playlist.segments.is_empty() {
            return Err(MasterError::Empty(r.name.clone()));
        }
        let (mut peak, mut bits, mut secs) = (0f64, 0f64, 0f64);
        for seg in &playlist.segments {
            let path = dir.join(&seg.uri);
            let size = std::fs::metadata(&path)
                .map_err(|source| MasterError::Io {
                    path: path.display().to_string(),
                    source,
                })?
                .len() as f64
                * 8.0;
            let d = f64::from(seg.duration).max(0.001);
            // A short tail segment says little about the peak; judge it as if it were full
            // length only when it is at least half a segment long.
            if d >= f64::from(playlist.target_duration as f32) / 2.0 || playlist.segments.len() == 1
            {
                peak = peak.max(size / d);
            }
            bits += size;
            secs += d;
        }
        let average = bits / secs.max(0.001);
        measured.push(Measured {
            info: RenditionInfo {
                name: r.name.clone(),
                width: r.width,
                height: r.height,
                bandwidth: peak.max(average).ceil() as u64,
                average_bandwidth: average.ceil() as u64,
                codecs: r.codecs(with_audio),
                frame_rate: (r.frame_rate * 1000.0).round() / 1000.0,
            },
            durations: playlist.segments.iter().map(|s| s.duration).collect(),
        });
    }
    check_alignment(&measured)?;
    Ok(measured)
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

/// The master playlist text: one row per rung, lowest bandwidth first, relative URIs.
pub fn render(renditions: &[RenditionInfo]) -> String {
    let mut rows: Vec<&RenditionInfo> = renditions.iter().collect();
    rows.sort_by_key(|r| r.bandwidth);
    let master = MasterPlaylist {
        version: Some(6),
        independent_segments: true,
        variants: rows
            .into_iter()
            .map(|r| VariantStream {
                uri: format!("{}/index.m3u8", r.name),
                bandwidth: r.bandwidth,
                average_bandwidth: Some(r.average_bandwidth),
                codecs: Some(r.codecs.clone()),
                resolution: Some(Resolution {
                    width: u64::from(r.width),
                    height: u64::from(r.height),
                }),
                frame_rate: Some(r.frame_rate),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = master.write_to(&mut out);
    String::from_utf8_lossy(&out).into_owned()
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
    fn master_has_every_attribute_on_every_row_lowest_first() {
        let text = render(&[info("720p", 3_000_000), info("480p", 1_500_000)]);
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
            .collect();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].contains("BANDWIDTH=1500000"));
        for row in rows {
            for attr in [
                "BANDWIDTH=",
                "AVERAGE-BANDWIDTH=",
                "RESOLUTION=",
                "CODECS=",
                "FRAME-RATE=",
            ] {
                assert!(row.contains(attr), "{row} lacks {attr}");
            }
        }
        assert!(text.contains("#EXT-X-INDEPENDENT-SEGMENTS"));
        assert!(text.contains("480p/index.m3u8"));
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
