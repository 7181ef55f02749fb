//! Playlists as players get them: the master from the measured ladder with tokenised variant
//! URIs, and each variant read once from the store (parsed with m3u8-rs, kept in memory) and
//! re-rendered per request with a presigned URL for every segment.

pub mod thumbnails;

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

use crate::media::sigv4::{Batch, uri_encode};
use crate::store::{AudioRendition, MovieKeys, RenditionInfo, SubtitleRendition};

/// A variant playlist as ffmpeg wrote it, reduced to what is re-rendered.
#[derive(Debug)]
pub struct Variant {
    pub version: usize,
    pub target_duration: u64,
    pub media_sequence: u64,
    pub independent_segments: bool,
    /// fMP4's initialisation segment (`EXT-X-MAP`), relative to the rendition dir.
    pub map: Option<String>,
    /// `EXT-X-ENDLIST`: every segment is there (VOD). Without it the playlist is an EVENT
    /// playlist still growing while the movie transcodes.
    pub finished: bool,
    /// (EXTINF duration, segment file name relative to the rendition dir)
    pub segments: Vec<(f32, String)>,
}

#[derive(Debug, thiserror::Error)]
#[error("stored playlist is not a media playlist")]
pub struct NotAVariant;

impl Variant {
    pub fn parse(bytes: &[u8]) -> Result<Variant, NotAVariant> {
        let Ok(m3u8_rs::Playlist::MediaPlaylist(p)) = m3u8_rs::parse_playlist_res(bytes) else {
            return Err(NotAVariant);
        };
        // Our playlists name plain files beside them; anything else (m3u8-rs takes a stray
        // `#` line for a URI) could not be written back or signed as the same name.
        let plain = |uri: &str| {
            !uri.is_empty()
                && !uri.starts_with(['.', '/'])
                && uri
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
        };
        let map_ok = p
            .segments
            .first()
            .and_then(|s| s.map.as_ref())
            .is_none_or(|m| plain(&m.uri));
        if !map_ok || !p.segments.iter().all(|s| plain(&s.uri)) {
            return Err(NotAVariant);
        }
        Ok(Variant {
            version: p.version.unwrap_or(3),
            target_duration: p.target_duration,
            media_sequence: p.media_sequence,
            independent_segments: p.independent_segments,
            finished: p.end_list,
            map: p
                .segments
                .first()
                .and_then(|s| s.map.as_ref())
                .map(|m| m.uri.clone()),
            segments: p
                .segments
                .into_iter()
                .map(|s| (s.duration, s.uri))
                .collect(),
        })
    }

    /// The playlist with each segment as `{origin}{prefix}/{segment}?{signature}`.
    /// `prefix` is the canonical (encoded) object path of the rendition directory. For an
    /// encrypted movie, `keys` gives each key's URL: an `EXT-X-KEY` follows the map and comes
    /// again wherever the next key begins.
    pub fn render_signed(
        &self,
        origin: &str,
        prefix: &str,
        batch: &Batch,
        keys: Option<(&MovieKeys, &dyn Fn(usize) -> String)>,
    ) -> String {
        let mut out =
            String::with_capacity(200 + self.segments.len() * (origin.len() + prefix.len() + 360));
        self.write_header(&mut out);
        let mut path = String::with_capacity(prefix.len() + 32);
        let mut signed = |uri: &str, out: &mut String| {
            out.push_str(origin);
            path.clear();
            path.push_str(prefix);
            path.push('/');
            uri_encode(uri.as_bytes(), true, &mut path);
            batch.push_signed(&path, out);
        };
        if let Some(map) = &self.map {
            out.push_str("#EXT-X-MAP:URI=\"");
            signed(map, &mut out);
            out.push_str("\"\n");
        }
        let mut current_key = None;
        for (i, (duration, uri)) in self.segments.iter().enumerate() {
            if let Some((keys, key_url)) = keys {
                let n = keys.key_index(i);
                if current_key != Some(n) {
                    current_key = Some(n);
                    let _ = writeln!(
                        out,
                        "#EXT-X-KEY:METHOD=AES-128,URI=\"{}\",IV=0x{}",
                        key_url(n),
                        hex::encode(keys.keys[n].iv)
                    );
                }
            }
            let _ = writeln!(out, "#EXTINF:{duration:.6},");
            signed(uri, &mut out);
            out.push('\n');
        }
        self.write_end(&mut out);
        out
    }

    fn write_header(&self, out: &mut String) {
        let _ = write!(
            out,
            "#EXTM3U\n#EXT-X-VERSION:{}\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{}\n#EXT-X-PLAYLIST-TYPE:{}\n",
            self.version,
            self.target_duration,
            self.media_sequence,
            if self.finished { "VOD" } else { "EVENT" }
        );
        if self.independent_segments {
            out.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
        }
    }

    fn write_end(&self, out: &mut String) {
        if self.finished {
            out.push_str("#EXT-X-ENDLIST\n");
        }
    }

    /// The playlist as stored beside its segments (relative URIs).
    pub fn to_stored_text(&self) -> String {
        let mut out = String::new();
        self.write_header(&mut out);
        if let Some(map) = &self.map {
            let _ = writeln!(out, "#EXT-X-MAP:URI=\"{map}\"");
        }
        for (duration, uri) in &self.segments {
            let _ = writeln!(out, "#EXTINF:{duration:.6},\n{uri}");
        }
        self.write_end(&mut out);
        out
    }

    /// EXT-X-TARGETDURATION for these segments: every EXTINF rounded to the nearest second
    /// must fit (RFC 8216 4.3.3.1).
    pub fn fitting_target_duration(&self) -> u64 {
        self.segments
            .iter()
            .map(|(d, _)| f64::from(*d).round() as u64)
            .max()
            .unwrap_or(1)
            .max(1)
    }

    pub fn duration_s(&self) -> f64 {
        self.segments.iter().map(|(d, _)| f64::from(*d)).sum()
    }
}

/// Group ids the master uses for the audio and subtitle renditions.
pub const AUDIO_GROUP: &str = "aud";
pub const SUBTITLE_GROUP: &str = "subs";
/// AAC-LC, what every audio rendition is.
const AUDIO_CODEC: &str = "mp4a.40.2";

/// Everything a master playlist lists.
pub struct Ladder<'a> {
    pub video: &'a [RenditionInfo],
    pub audio: &'a [AudioRendition],
    pub subtitles: &'a [SubtitleRendition],
}

/// Quoted-string attribute values may not hold `"` or line breaks (RFC 8216 4.2).
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect()
}

/// The master playlist: the audio and subtitle groups, then one row per video rendition,
/// lowest first, every attribute the ingest measured; `uri` gives each rendition's (relative
/// or tokenised) URI from its name. A row's BANDWIDTH and CODECS include the audio heard with it.
pub fn render_master(ladder: &Ladder, mut uri: impl FnMut(&str) -> String) -> String {
    let mut rows: Vec<&RenditionInfo> = ladder.video.iter().collect();
    rows.sort_by_key(|r| r.bandwidth);
    let version = if ladder.audio.is_empty() && ladder.subtitles.is_empty() {
        6
    } else {
        7
    };
    let mut out = format!("#EXTM3U\n#EXT-X-VERSION:{version}\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for a in ladder.audio {
        let _ = writeln!(
            out,
            "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{AUDIO_GROUP}\",LANGUAGE=\"{}\",NAME=\"{}\",DEFAULT={},AUTOSELECT=YES,CHANNELS=\"{}\",URI=\"{}\"",
            quoted(&a.lang),
            quoted(&a.label),
            if a.default { "YES" } else { "NO" },
            a.channels,
            uri(&a.name)
        );
    }
    for s in ladder.subtitles {
        let _ = writeln!(
            out,
            "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"{SUBTITLE_GROUP}\",LANGUAGE=\"{}\",NAME=\"{}\",DEFAULT=NO,AUTOSELECT=YES,FORCED={},URI=\"{}\"",
            quoted(&s.lang),
            quoted(&s.label),
            if s.forced { "YES" } else { "NO" },
            uri(&s.name)
        );
    }
    // VIDEO-RANGE on every row once one is HDR (players then pick by it); absent otherwise, as
    // SDR is what a row without it means.
    let ranged = rows.iter().any(|r| r.video_range.is_some());
    let audio_peak = ladder.audio.iter().map(|a| a.bandwidth).max();
    let audio_average = ladder.audio.iter().map(|a| a.average_bandwidth).max();
    for r in rows {
        // Ladders made before audio became a group carry their audio inside each rung.
        let codecs = match audio_peak {
            Some(_) if !r.codecs.contains(AUDIO_CODEC) => format!("{},{AUDIO_CODEC}", r.codecs),
            _ => r.codecs.clone(),
        };
        let _ = write!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},CODECS=\"{codecs}\",FRAME-RATE={:.3}",
            r.bandwidth + audio_peak.unwrap_or(0),
            r.average_bandwidth + audio_average.unwrap_or(0),
            r.width,
            r.height,
            r.frame_rate,
        );
        if ranged {
            let range = quoted(r.video_range.as_deref().unwrap_or("SDR"));
            let _ = write!(out, ",VIDEO-RANGE={range}");
        }
        if audio_peak.is_some() {
            let _ = write!(out, ",AUDIO=\"{AUDIO_GROUP}\"");
        }
        if !ladder.subtitles.is_empty() {
            let _ = write!(out, ",SUBTITLES=\"{SUBTITLE_GROUP}\"");
        }
        let _ = writeln!(out, "\n{}", uri(&r.name));
    }
    out
}

/// Parsed variants by (movie id, playlist object under it). Published ladders never change (a re-ingest is a
/// new movie id), so entries only go when a movie is deleted or the cache is full.
#[derive(Default)]
pub struct VariantCache {
    entries: Mutex<HashMap<(String, String), Arc<Variant>>>,
}

/// Enough for the variants of a few hundred movies being watched at once (a 2-hour rendition
/// is ~100 KB parsed).
const CACHE_LIMIT: usize = 1024;

impl VariantCache {
    pub fn get(&self, movie: &str, rendition: &str) -> Option<Arc<Variant>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&(movie.to_string(), rendition.to_string()))
            .cloned()
    }

    pub fn insert(&self, movie: &str, rendition: &str, variant: Arc<Variant>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_LIMIT {
            entries.clear();
        }
        entries.insert((movie.to_string(), rendition.to_string()), variant);
    }

    pub fn forget_movie(&self, movie: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|(m, _), _| m != movie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_playlist_naming_something_other_than_a_plain_file_is_refused() {
        // Found by fuzz/fuzz_targets/playlist.rs: m3u8-rs takes a stray tag line for a URI,
        // which could not be written back as the same playlist.
        let found = b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLA#EXTM3U\n#YLIST-TYEXT-X-VERSION:6\n#EXT-X-TARGETDURAPETION::V4O";
        assert!(Variant::parse(found).is_err());
        let head = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n";
        for uri in ["seg 1.m4s", "seg\"1.m4s", ",,#E,XT,", "../x.m4s"] {
            assert!(
                Variant::parse(format!("{head}{uri}\n").as_bytes()).is_err(),
                "{uri}"
            );
        }
        assert!(Variant::parse(format!("{head}seg_00001.m4s\n").as_bytes()).is_ok());
    }
    use crate::media::sigv4::Signer;
    use std::time::{Duration, UNIX_EPOCH};

    const STORED: &str = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXTINF:4.000000,\nseg_00001.ts\n#EXTINF:2.500000,\nseg_00002.ts\n#EXT-X-ENDLIST\n";

    #[test]
    fn every_segment_becomes_an_absolute_presigned_url() {
        let v = Variant::parse(STORED.as_bytes()).expect("parse");
        assert_eq!(v.segments.len(), 2);
        assert!((v.duration_s() - 6.5).abs() < 1e-6);
        let signer = Signer::new("AK", "SK", "us-east-1");
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let batch = signer.batch("GET", "127.0.0.1:8080", now, Duration::from_secs(3600));
        let text = v.render_signed(
            "http://127.0.0.1:8080",
            "/s3/media/movies/m1/480p",
            &batch,
            None,
        );
        let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).expect("valid playlist");
        assert_eq!(parsed.segments.len(), 2);
        assert!(parsed.end_list);
        for (i, s) in parsed.segments.iter().enumerate() {
            let (path, query) = s
                .uri
                .strip_prefix("http://127.0.0.1:8080")
                .expect("absolute")
                .split_once('?')
                .expect("query");
            assert_eq!(
                path,
                format!("/s3/media/movies/m1/480p/seg_{:05}.ts", i + 1)
            );
            assert_eq!(
                signer.verify("GET", path, query, "127.0.0.1:8080", now),
                Ok(())
            );
        }
        assert_eq!(parsed.segments[1].duration, 2.5);
    }

    #[test]
    fn the_fmp4_init_segment_is_presigned_too() {
        let stored = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.000000,\nseg_00001.m4s\n#EXT-X-ENDLIST\n";
        let v = Variant::parse(stored.as_bytes()).expect("parse");
        assert_eq!(v.map.as_deref(), Some("init.mp4"));
        assert_eq!(
            Variant::parse(v.to_stored_text().as_bytes())
                .expect("again")
                .map,
            v.map
        );
        let signer = Signer::new("AK", "SK", "us-east-1");
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let batch = signer.batch("GET", "h:1", now, Duration::from_secs(60));
        let text = v.render_signed("http://h:1", "/s3/media/movies/m1/audio_1", &batch, None);
        let parsed = m3u8_rs::parse_media_playlist_res(text.as_bytes()).expect("valid");
        let map = parsed.segments[0].map.as_ref().expect("map").uri.clone();
        let (path, query) = map
            .strip_prefix("http://h:1")
            .and_then(|u| u.split_once('?'))
            .expect("absolute, signed");
        assert_eq!(path, "/s3/media/movies/m1/audio_1/init.mp4");
        assert_eq!(signer.verify("GET", path, query, "h:1", now), Ok(()));
    }

    #[test]
    fn master_rows_carry_every_attribute() {
        let r = |name: &str, bw: u64| RenditionInfo {
            name: name.into(),
            width: 1280,
            height: 720,
            bandwidth: bw,
            average_bandwidth: bw / 2,
            codecs: "avc1.64001f,mp4a.40.2".into(),
            frame_rate: 29.97,
            video_range: None,
        };
        let video = [r("720p", 3_000_000), r("480p", 1_000_000)];
        let ladder = Ladder {
            video: &video,
            audio: &[],
            subtitles: &[],
        };
        let text = render_master(&ladder, |n| format!("/stream/m/{n}.m3u8?token=t"));
        let m = m3u8_rs::parse_master_playlist_res(text.as_bytes()).expect("valid master");
        assert_eq!(m.variants.len(), 2);
        assert_eq!(m.variants[0].uri, "/stream/m/480p.m3u8?token=t");
        for v in &m.variants {
            assert!(
                v.average_bandwidth.is_some()
                    && v.codecs.is_some()
                    && v.resolution.is_some()
                    && v.frame_rate.is_some()
            );
        }
    }

    #[test]
    fn an_hdr_row_puts_video_range_on_every_row() {
        let row = |name: &str, bw: u64, codecs: &str, range: Option<&str>| RenditionInfo {
            name: name.into(),
            width: 3840,
            height: 2160,
            bandwidth: bw,
            average_bandwidth: bw / 2,
            codecs: codecs.into(),
            frame_rate: 24.0,
            video_range: range.map(String::from),
        };
        let sdr_only = [row("2160p", 16_000_000, "avc1.640033", None)];
        let ladder = |video| Ladder {
            video,
            audio: &[],
            subtitles: &[],
        };
        assert!(!render_master(&ladder(&sdr_only), |n| n.to_string()).contains("VIDEO-RANGE"));
        let video = [
            row("2160p", 16_000_000, "avc1.640033", None),
            row("2160p_hevc", 9_000_000, "hvc1.2.4.L153.B0", Some("PQ")),
        ];
        let text = render_master(&ladder(&video), |n| n.to_string());
        assert!(
            text.contains(
                "CODECS=\"hvc1.2.4.L153.B0\",FRAME-RATE=24.000,VIDEO-RANGE=PQ\n2160p_hevc"
            ),
            "{text}"
        );
        assert!(
            text.contains("CODECS=\"avc1.640033\",FRAME-RATE=24.000,VIDEO-RANGE=SDR\n2160p\n"),
            "{text}"
        );
        let m = m3u8_rs::parse_master_playlist_res(text.as_bytes()).expect("valid master");
        assert_eq!(m.variants.len(), 2);
    }

    #[test]
    fn audio_and_subtitle_groups_are_listed_and_named_by_every_row() {
        let video = [RenditionInfo {
            name: "720p".into(),
            width: 1280,
            height: 720,
            bandwidth: 3_000_000,
            average_bandwidth: 2_800_000,
            codecs: "avc1.64001f".into(),
            frame_rate: 25.0,
            video_range: None,
        }];
        let audio = |name: &str, lang: &str, label: &str, default: bool| AudioRendition {
            name: name.into(),
            lang: lang.into(),
            label: label.into(),
            channels: 2,
            source_channels: 6,
            default,
            bandwidth: 130_000,
            average_bandwidth: 128_000,
        };
        let audio = [
            audio("audio_1", "en", "English 5.1", true),
            audio("audio_2", "fr", "Fran\"çais", false),
        ];
        let subtitles = [SubtitleRendition {
            name: "subs_fr".into(),
            lang: "fr".into(),
            label: "Français (forced)".into(),
            forced: true,
        }];
        let ladder = Ladder {
            video: &video,
            audio: &audio,
            subtitles: &subtitles,
        };
        let text = render_master(&ladder, |n| format!("{n}/index.m3u8"));
        let m = m3u8_rs::parse_master_playlist_res(text.as_bytes()).expect("valid master");
        assert_eq!(m.alternatives.len(), 3);
        let fr = &m.alternatives[1];
        assert_eq!(
            fr.name, "Français",
            "quotes cannot be inside a quoted string"
        );
        assert_eq!(fr.language.as_deref(), Some("fr"));
        assert!(!fr.default && m.alternatives[0].default);
        assert!(m.alternatives[2].forced);
        let row = &m.variants[0];
        assert_eq!(row.audio.as_deref(), Some("aud"));
        assert_eq!(row.subtitles.as_deref(), Some("subs"));
        assert_eq!(row.codecs.as_deref(), Some("avc1.64001f,mp4a.40.2"));
        assert_eq!(
            row.bandwidth, 3_130_000,
            "the audio heard with the row counts"
        );
        assert_eq!(row.average_bandwidth, Some(2_928_000));
        assert!(text.contains("CHANNELS=\"2\""));
    }

    #[test]
    fn rejects_a_master_where_a_variant_belongs() {
        assert!(Variant::parse(b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n").is_err());
        assert!(Variant::parse(b"garbage").is_err());
    }
}
