//! The plan of one ingest, decided once from the source's facts and the config before anything
//! is encoded: the rungs, the audio renditions, the picture filters and the fingerprint of the
//! encoder settings. A value that can be printed and unit-tested without running ffmpeg.

use std::path::{Path, PathBuf};

use super::command::Picture;
use super::error::IngestError;
use super::ladder::{self, Rung, VideoRange};
use super::probe::{self, AudioStream, Probe, Scan};
use super::thumbnails;
use super::tools::Tools;
use super::tracks::plan_audio;
use crate::config::TranscodeConfig;
use crate::store::AudioRendition;

/// What the source is: ffprobe's facts, and whether its frames are interlaced (the container's
/// flag, or ffmpeg's `idet` when the flag is missing).
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub probe: Probe,
    pub interlaced: bool,
}

impl Source {
    pub fn read(tools: &Tools, path: &Path) -> Result<Source, IngestError> {
        if !path.is_file() {
            return Err(IngestError::SourceMissing(path.to_path_buf()));
        }
        let probe = probe::probe(&tools.ffprobe, path)?;
        let interlaced = match probe.scan {
            Scan::Interlaced => true,
            Scan::Progressive => false,
            // No flag (many MPEG-2 and AVI files): look at the fields themselves.
            Scan::Unknown => probe::detect_interlacing(&tools.ffmpeg, path, 300) == Some(true),
        };
        Ok(Source {
            path: path.to_path_buf(),
            probe,
            interlaced,
        })
    }
}

/// Everything the encodes and the publishing need to know, decided once.
#[derive(Debug, Clone)]
pub struct Plan {
    pub source: Source,
    pub rungs: Vec<Rung>,
    /// The audio renditions, one per source stream in `streams`, in the same order.
    pub audio: Vec<AudioRendition>,
    pub streams: Vec<AudioStream>,
    pub picture: Picture,
    pub segment_seconds: u32,
    pub preset: String,
    /// Publish segments as they are finished (viewers start before the end).
    pub progressive: bool,
    /// The encoder settings an unfinished ladder may only be resumed under: segments of another
    /// preset, rate or codec set-up do not decode with the init segment already published.
    pub encoder: String,
    /// One seek-bar picture's size: the shape of the top rung (square pixels).
    pub thumbnail_size: (u32, u32),
    /// What people should know about how the source was treated.
    pub notes: Vec<String>,
}

impl Plan {
    pub fn make(source: Source, t: &TranscodeConfig) -> Plan {
        let probe = &source.probe;
        let mut notes = Vec::new();
        if source.interlaced {
            notes.push("interlaced source: deinterlaced (bwdif)".to_string());
        }
        if probe.colour.is_hdr() {
            notes.push(format!(
                "HDR source ({}): tone-mapped to SDR BT.709",
                probe.colour.transfer.as_deref().unwrap_or("?")
            ));
        }
        let rungs = ladder::plan(
            probe,
            &ladder::Wanted {
                renditions: &t.renditions,
                quality: t.quality,
                codecs: &t.codecs,
            },
        );
        let kept_hdr: Vec<&str> = rungs
            .iter()
            .filter(|r| r.range != VideoRange::Sdr)
            .map(|r| r.name.as_str())
            .collect();
        if !kept_hdr.is_empty() {
            notes.push(format!("HDR kept in {}", kept_hdr.join(", ")));
        }
        let audio = plan_audio(probe, &mut notes);
        let streams = probe.playable_audio().cloned().collect();
        let segment_seconds = t.segment_seconds;
        let encoder = format!(
            "preset={} segment={segment_seconds}s rungs={rungs:?}",
            t.preset
        );
        let thumbnail_size = thumbnails::size(
            rungs
                .iter()
                .max_by_key(|r| r.width * r.height)
                .map_or((probe.width, probe.height), |r| (r.width, r.height)),
        );
        Plan {
            picture: Picture::of(probe, source.interlaced),
            rungs,
            audio,
            streams,
            segment_seconds,
            preset: t.preset.clone(),
            progressive: t.progressive,
            encoder,
            thumbnail_size,
            notes,
            source,
        }
    }

    pub fn duration_s(&self) -> f64 {
        self.source.probe.duration_s
    }

    /// Rows that keep a PQ source's HDR carry its HDR10 static metadata, read from its first
    /// frame: one more ffprobe, only when such a row is planned.
    pub fn needs_hdr10(&self) -> bool {
        self.source.probe.colour.transfer.as_deref() == Some("smpte2084")
            && self.rungs.iter().any(|r| r.range != VideoRange::Sdr)
    }

    pub fn with_hdr10(mut self, hdr10: Option<probe::Hdr10>) -> Plan {
        self.source.probe.hdr10 = hdr10.clone();
        self.picture.hdr10 = hdr10;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::VideoCodec;
    use crate::config::{Config, Overrides};

    fn fixture(name: &str) -> Probe {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let json = std::fs::read_to_string(&path).expect("fixture");
        probe::parse(&json).expect("parses")
    }

    fn source(probe: Probe, interlaced: bool) -> Source {
        Source {
            path: PathBuf::from("/films/movie.mkv"),
            probe,
            interlaced,
        }
    }

    fn transcode() -> TranscodeConfig {
        Config::load_from(&Overrides::default(), std::iter::empty())
            .expect("defaults")
            .transcode
    }

    fn names(plan: &Plan) -> Vec<&str> {
        plan.rungs.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn an_anamorphic_multilingual_source_gets_its_display_shape_and_every_language() {
        let plan = Plan::make(
            source(fixture("probe_anamorphic_multilingual.json"), false),
            &transcode(),
        );
        assert_eq!(names(&plan), ["480p", "720p", "1080p"]);
        let top = plan.rungs.last().expect("a rung");
        assert_eq!((top.width, top.height), (1920, 1080));
        assert_eq!(plan.audio.len(), plan.streams.len());
        assert!(plan.audio.len() >= 2, "{:?}", plan.audio);
        assert_eq!(plan.audio.iter().filter(|a| a.default).count(), 1);
        assert_eq!(plan.thumbnail_size.0 % 2, 0);
        assert!(!plan.picture.deinterlace);
    }

    #[test]
    fn an_interlaced_dvd_is_deinterlaced_and_says_so() {
        let plan = Plan::make(
            source(fixture("probe_pal_dvd_interlaced.json"), true),
            &transcode(),
        );
        assert!(plan.picture.deinterlace);
        assert!(
            plan.notes.iter().any(|n| n.contains("deinterlaced")),
            "{:?}",
            plan.notes
        );
        assert_eq!(names(&plan), ["480p"]);
    }

    #[test]
    fn an_hdr10_source_is_tone_mapped_and_keeps_hdr_only_in_extra_codec_rows() {
        let mut probe = fixture("probe_hdr10_hevc.json");
        // Extra-codec rows come at 1080p and above; the fixture's clip is 720p.
        (probe.width, probe.height) = (3840, 2160);
        let plan = Plan::make(source(probe.clone(), false), &transcode());
        assert!(
            plan.notes.iter().any(|n| n.contains("tone-mapped")),
            "{:?}",
            plan.notes
        );
        assert!(
            !plan.needs_hdr10(),
            "H.264 rows only: no HDR10 metadata needed"
        );
        assert!(plan.picture.hdr_transfer.is_some());

        let mut t = transcode();
        t.codecs = vec![VideoCodec::H264, VideoCodec::Hevc];
        let plan = Plan::make(source(probe, false), &t);
        assert!(plan.needs_hdr10());
        assert!(
            plan.notes.iter().any(|n| n.starts_with("HDR kept in")),
            "{:?}",
            plan.notes
        );
        let metadata = probe::Hdr10 {
            mastering_display: Some("G(1,2)B(3,4)R(5,6)WP(7,8)L(9,10)".into()),
            content_light: Some((1000, 400)),
        };
        let plan = plan.with_hdr10(Some(metadata.clone()));
        assert_eq!(plan.picture.hdr10, Some(metadata));
    }

    #[test]
    fn a_source_without_audio_plans_no_audio_and_a_small_one_a_rung_of_its_own() {
        let plan = Plan::make(
            source(fixture("probe_360p60_noaudio.json"), false),
            &transcode(),
        );
        assert!(plan.audio.is_empty() && plan.streams.is_empty());
        assert_eq!(names(&plan), ["360p"]);
    }

    #[test]
    fn the_encoder_fingerprint_changes_with_every_setting_that_changes_the_bitstream() {
        let a = Plan::make(source(probe::sample(1920, 1080, 25.0), false), &transcode());
        let mut t = transcode();
        t.preset = "slow".into();
        let b = Plan::make(source(probe::sample(1920, 1080, 25.0), false), &t);
        let mut t = transcode();
        t.segment_seconds = 6;
        let c = Plan::make(source(probe::sample(1920, 1080, 25.0), false), &t);
        let mut t = transcode();
        t.renditions = vec!["480p".into(), "720p".into()];
        let d = Plan::make(source(probe::sample(1920, 1080, 25.0), false), &t);
        let again = Plan::make(source(probe::sample(1920, 1080, 25.0), false), &transcode());
        assert_eq!(a.encoder, again.encoder);
        for other in [&b, &c, &d] {
            assert_ne!(a.encoder, other.encoder);
        }
    }
}
