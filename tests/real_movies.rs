//! Real movies, faithfully (CONTRACT.md section 6): sources shaped like the files people own
//! (anamorphic, PAL DVD, interlaced, HDR10, several audio languages, text and picture
//! subtitles) are generated with lavfi, ingested by the real binary, and the output checked from
//! outside: ffprobe on the published segments, the playlists as a player reads them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Server, cli_env, cli_ok, ffprobe, stderr, stdout};

const FAST: &[(&str, &str)] = &[("STREAMD_TRANSCODE_PRESET", "ultrafast")];
const PW: &str = "correct horse battery";
/// One AAC frame at 48 kHz: the A/V sync tolerance.
const AUDIO_FRAME_S: f64 = 1024.0 / 48000.0;

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg installed");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_srt(path: &Path, cues: &[(f64, f64, &str)]) {
    let mut text = String::new();
    let t = |s: f64| {
        let ms = (s * 1000.0).round() as u64;
        format!(
            "{:02}:{:02}:{:02},{:03}",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    };
    for (i, (a, b, line)) in cues.iter().enumerate() {
        text.push_str(&format!("{}\n{} --> {}\n{line}\n\n", i + 1, t(*a), t(*b)));
    }
    std::fs::write(path, text).expect("write srt");
}

/// The movie of the issue: an anamorphic 1440x1080 (SAR 4:3) MKV with English 5.1 and French
/// stereo audio, English and forced French subtitles.
fn multilingual_mkv(dir: &Path) -> PathBuf {
    let en = dir.join("en.srt");
    let fr = dir.join("fr.srt");
    write_srt(
        &en,
        &[(1.0, 3.0, "Hello there"), (5.0, 7.0, "General Kenobi")],
    );
    write_srt(&fr, &[(1.0, 3.0, "Bonjour"), (5.0, 7.0, "Général Kenobi")]);
    let out = dir.join("movie.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1440x1080:rate=25:duration=10",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=10",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=880:sample_rate=44100:duration=10",
        "-i",
        en.to_str().expect("utf8"),
        "-i",
        fr.to_str().expect("utf8"),
        "-filter_complex",
        "[1:a]pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0[a51];[2:a]pan=stereo|c0=c0|c1=c0[st]",
        "-map",
        "0:v",
        "-map",
        "[a51]",
        "-map",
        "[st]",
        "-map",
        "3",
        "-map",
        "4",
        "-vf",
        "setsar=4/3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-c:s",
        "srt",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:a:1",
        "language=fre",
        "-metadata:s:s:0",
        "language=eng",
        "-metadata:s:s:1",
        "language=fre",
        "-disposition:s:1",
        "forced",
        out.to_str().expect("utf8"),
    ]);
    out
}

fn ingest(dir: &Path, source: &Path, extra: &[&str]) -> serde_json::Value {
    ingest_with(dir, source, extra, FAST)
}

fn ingest_with(
    dir: &Path,
    source: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> serde_json::Value {
    let mut args = vec![
        "ingest",
        source.to_str().expect("utf8"),
        "--title",
        "Real movie",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = cli_env(dir, &args, env);
    assert!(out.status.success(), "ingest failed: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON value");
    assert_eq!(v["status"], "ready", "{v}");
    v
}

fn movie_dir(dir: &Path, id: &str) -> PathBuf {
    dir.join("objects/media/movies").join(id)
}

/// `KEY=value` or `KEY="value"` from an attribute list.
fn attr(line: &str, key: &str) -> Option<String> {
    let mut rest = line.split_once(':')?.1;
    while !rest.is_empty() {
        let (k, after) = rest.split_once('=')?;
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let (v, n) = q.split_once('"')?;
            (v, n.strip_prefix(',').unwrap_or(n))
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        if k == key {
            return Some(value.to_string());
        }
        rest = next;
    }
    None
}

fn media_rows<'a>(master: &'a str, kind: &str) -> Vec<&'a str> {
    master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-MEDIA:") && attr(l, "TYPE").as_deref() == Some(kind))
        .collect()
}

/// The init segment and the first media segment read as one file: what a player decodes.
fn first_segment(rendition: &Path) -> PathBuf {
    let joined = rendition.join("probe-first.mp4");
    let mut bytes = std::fs::read(rendition.join("init.mp4")).expect("init.mp4");
    bytes.extend(std::fs::read(rendition.join("seg_00001.m4s")).expect("seg_00001.m4s"));
    std::fs::write(&joined, bytes).expect("write");
    joined
}

fn stream_of(file: &Path, kind: &str) -> serde_json::Value {
    let v = ffprobe(file, &["-show_streams", "-select_streams", kind]);
    v["streams"][0].clone()
}

fn start_time(stream: &serde_json::Value) -> f64 {
    stream["start_time"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("start_time")
}

#[test]
fn an_mkv_with_two_languages_and_subtitles_keeps_every_track_in_sync() {
    let dir = Server::temp_dir();
    let src = multilingual_mkv(dir.path());
    let side = dir.path().join("Movie.de.srt");
    write_srt(&side, &[(2.0, 4.0, "Guten Tag")]);
    let v = ingest(
        dir.path(),
        &src,
        &["--subtitle", &format!("{}:de", side.display())],
    );
    let id = v["id"].as_str().expect("id");
    let out = movie_dir(dir.path(), id);

    // The picture: square pixels at the display shape, 16:9.
    assert_eq!(
        v["renditions"],
        serde_json::json!(["480p", "720p", "1080p"])
    );
    for (rung, w, h) in [
        ("480p", 854, 480),
        ("720p", 1280, 720),
        ("1080p", 1920, 1080),
    ] {
        let s = stream_of(&first_segment(&out.join(rung)), "v:0");
        assert_eq!(
            (s["width"].as_u64(), s["height"].as_u64()),
            (Some(w), Some(h)),
            "{rung}"
        );
        assert_eq!(s["sample_aspect_ratio"], "1:1", "{rung}");
        assert_eq!(s["pix_fmt"], "yuv420p");
    }

    // Audio: one rendition per source stream, stereo AAC 48 kHz, one DEFAULT, named for people.
    let master = std::fs::read_to_string(out.join("master.m3u8")).expect("master");
    let audio = media_rows(&master, "AUDIO");
    assert_eq!(audio.len(), 2, "{master}");
    let langs: Vec<_> = audio
        .iter()
        .map(|l| attr(l, "LANGUAGE").unwrap_or_default())
        .collect();
    assert_eq!(langs, ["en", "fr"]);
    let names: Vec<_> = audio
        .iter()
        .map(|l| attr(l, "NAME").unwrap_or_default())
        .collect();
    assert_eq!(names, ["English 5.1", "Français"]);
    assert_eq!(
        audio
            .iter()
            .filter(|l| attr(l, "DEFAULT").as_deref() == Some("YES"))
            .count(),
        1
    );
    assert!(
        audio
            .iter()
            .all(|l| attr(l, "CHANNELS").as_deref() == Some("2"))
    );
    assert!(
        audio
            .iter()
            .all(|l| attr(l, "AUTOSELECT").as_deref() == Some("YES"))
    );
    let source_video = stream_of(&src, "v:0");
    for (n, source_audio) in ["a:0", "a:1"].iter().enumerate() {
        let rendition = out.join(format!("audio_{}", n + 1));
        let a = stream_of(&first_segment(&rendition), "a:0");
        assert_eq!(a["codec_name"], "aac");
        assert_eq!(a["profile"], "LC");
        assert_eq!(a["channels"], 2);
        assert_eq!(a["sample_rate"], "48000");
        // A/V sync: the audio keeps its offset to the video, within one audio frame, against
        // every rung.
        let source_offset = start_time(&stream_of(&src, source_audio)) - start_time(&source_video);
        for rung in ["480p", "720p", "1080p"] {
            let video = stream_of(&first_segment(&out.join(rung)), "v:0");
            let offset = start_time(&a) - start_time(&video);
            assert!(
                (offset - source_offset).abs() <= AUDIO_FRAME_S,
                "audio_{} vs {rung}: offset {offset:.4} s, source {source_offset:.4} s",
                n + 1
            );
        }
        // The audio playlist was tidied: no tiny tail segment, INDEPENDENT-SEGMENTS.
        let playlist = std::fs::read_to_string(rendition.join("index.m3u8")).expect("playlist");
        assert!(playlist.contains("#EXT-X-INDEPENDENT-SEGMENTS"));
        let durations: Vec<f64> = playlist
            .lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .map(|d| d.trim_end_matches(',').parse().expect("duration"))
            .collect();
        assert!(durations.iter().all(|d| *d > 0.5), "{durations:?}");
        assert!(
            (durations.iter().sum::<f64>() - 10.0).abs() < 0.2,
            "{durations:?}"
        );
    }
    // Audio is not muxed into the rungs any more.
    let rung = ffprobe(&first_segment(&out.join("720p")), &["-show_streams"]);
    assert_eq!(rung["streams"].as_array().map(Vec::len), Some(1));

    // Subtitles: every text stream and the sidecar, as WebVTT lined up with the video.
    let subs = media_rows(&master, "SUBTITLES");
    let sub_langs: Vec<_> = subs
        .iter()
        .map(|l| attr(l, "LANGUAGE").unwrap_or_default())
        .collect();
    assert_eq!(sub_langs, ["en", "fr", "de"]);
    let forced: Vec<_> = subs
        .iter()
        .map(|l| attr(l, "FORCED").unwrap_or_default())
        .collect();
    assert_eq!(forced, ["NO", "YES", "NO"]);
    assert!(
        subs.iter()
            .all(|l| attr(l, "DEFAULT").as_deref() == Some("NO"))
    );
    for row in master
        .lines()
        .filter(|l| l.starts_with("#EXT-X-STREAM-INF"))
    {
        assert_eq!(attr(row, "AUDIO").as_deref(), Some("aud"), "{row}");
        assert_eq!(attr(row, "SUBTITLES").as_deref(), Some("subs"), "{row}");
        assert!(
            attr(row, "CODECS").is_some_and(|c| c.ends_with(",mp4a.40.2")),
            "{row}"
        );
    }
    let video_start = start_time(&stream_of(&first_segment(&out.join("480p")), "v:0"));
    for (uri, text, at) in [
        ("subs_en", "Hello there", 1.0),
        ("subs_fr", "Général Kenobi", 5.0),
        ("subs_de", "Guten Tag", 2.0),
    ] {
        let vtt = std::fs::read_to_string(out.join(uri).join("subs.vtt")).expect("vtt");
        let map = vtt.lines().nth(1).expect("second line");
        let mpegts: f64 = map
            .strip_prefix("X-TIMESTAMP-MAP=MPEGTS:")
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{uri}: {map}"));
        let mut lines = vtt.lines();
        let cue_start = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("{text} not in {uri}"));
            if let Some((start, _)) = line.split_once(" --> ") {
                let body = lines.next().unwrap_or("");
                if body == text {
                    break common_seconds(start);
                }
            }
        };
        // Where a player shows the cue, relative to the first frame it shows.
        let shown = cue_start + mpegts / 90000.0 - video_start;
        let source_video_start = if uri == "subs_de" {
            0.0
        } else {
            start_time(&source_video)
        };
        assert!(
            (shown - (at - source_video_start)).abs() < 0.05,
            "{uri}: {text} shown at {shown:.3} s, wanted {at}"
        );
    }
    let api_audio = &v["audio"];
    assert_eq!(api_audio[0]["lang"], "en");
    assert_eq!(api_audio[0]["name"], "English 5.1");
    assert_eq!(api_audio[0]["default"], true);
    assert_eq!(api_audio[1]["default"], false);
    assert_eq!(v["subtitles"][1]["forced"], true);
}

/// GET with no cookie, through curl (an external client, as VLC would be).
fn reqwest_like_get(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-sf", "--compressed", url])
        .output()
        .expect("curl");
    assert!(out.status.success(), "GET {url} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn common_seconds(t: &str) -> f64 {
    let mut total = 0.0;
    for part in t.trim().split(':') {
        total = total * 60.0 + part.parse::<f64>().expect("time");
    }
    total
}

#[test]
fn every_track_reaches_an_external_player_and_subtitles_change_without_a_re_encode() {
    let dir = Server::temp_dir();
    let src = multilingual_mkv(dir.path());
    let id = ingest(dir.path(), &src, &[])["id"]
        .as_str()
        .expect("id")
        .to_string();
    common::add_user(dir.path(), "viewer", PW, &[]);
    let mut server = Server::start_in(dir.path(), &[]);
    let mut c = server.client();
    assert_eq!(c.login("viewer", PW).status, 200);

    let movie = c.get(&format!("/api/v1/movies/{id}")).json();
    assert_eq!(
        movie["audio"],
        serde_json::json!([
            {"lang": "en", "name": "English 5.1", "channels": 2, "default": true},
            {"lang": "fr", "name": "Français", "channels": 2, "default": false}
        ])
    );
    assert_eq!(
        movie["subtitles"],
        serde_json::json!([
            {"lang": "en", "name": "English", "forced": false},
            {"lang": "fr", "name": "Français (forced)", "forced": true}
        ])
    );

    // The playback link gives ffmpeg every audio and subtitle rendition, and it decodes them.
    let link = c.get(&format!("/api/v1/movies/{id}/playback")).json();
    let url = link["master_url"].as_str().expect("url").to_string();
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            &url,
        ])
        .output()
        .expect("ffprobe");
    let streams: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("json");
    let streams = streams["streams"].as_array().expect("streams").clone();
    let langs = |kind: &str| -> Vec<String> {
        let mut l: Vec<String> = streams
            .iter()
            .filter(|s| s["codec_type"] == kind)
            .filter_map(|s| s["tags"]["language"].as_str().map(String::from))
            .collect();
        l.sort();
        l.dedup();
        l
    };
    assert_eq!(langs("audio"), ["en", "fr"], "{streams:?}");
    // ffmpeg 5.1 does not read WebVTT renditions; the master it was given lists them, each
    // behind a URI that works without a cookie.
    let master = reqwest_like_get(&url);
    let subtitle_uris: Vec<String> = media_rows(&master, "SUBTITLES")
        .iter()
        .filter_map(|r| attr(r, "URI"))
        .collect();
    assert_eq!(subtitle_uris.len(), 2, "{master}");
    for uri in subtitle_uris {
        let origin = url.split("/stream/").next().expect("origin");
        let playlist = reqwest_like_get(&format!("{origin}{uri}"));
        assert!(playlist.contains("subs.vtt?X-Amz-"), "{playlist}");
    }
    let decode = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-xerror", "-i", &url])
        .args(["-map", "0:a", "-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        decode.status.success(),
        "decoding every audio rendition: {}",
        String::from_utf8_lossy(&decode.stderr)
    );

    // A subtitle added to the ready movie: through the running server, nothing re-encoded.
    let before: Vec<_> = std::fs::read_dir(movie_dir(dir.path(), &id).join("720p"))
        .expect("rung")
        .flatten()
        .map(|e| {
            (
                e.file_name(),
                e.metadata().expect("meta").modified().expect("mtime"),
            )
        })
        .collect();
    let es = dir.path().join("spanish.vtt");
    std::fs::write(&es, "WEBVTT\n\n00:00:02.000 --> 00:00:04.000\nHola\n").expect("vtt");
    let added = cli_ok(
        dir.path(),
        &[
            "subtitle",
            "add",
            &id,
            es.to_str().expect("utf8"),
            "--lang",
            "spa",
            "--forced",
        ],
    );
    assert!(stdout(&added).contains(&id));
    let master = c.get(&format!("/stream/{id}")).body;
    let rows = media_rows(&master, "SUBTITLES");
    assert_eq!(rows.len(), 3, "{master}");
    let spanish = rows
        .iter()
        .find(|r| attr(r, "LANGUAGE").as_deref() == Some("es"))
        .expect("es");
    assert_eq!(attr(spanish, "NAME").as_deref(), Some("Español (forced)"));
    assert_eq!(attr(spanish, "FORCED").as_deref(), Some("YES"));
    // Its playlist is signed like a variant, and its WebVTT is a presigned store URL.
    let uri = attr(spanish, "URI").expect("uri");
    assert!(
        uri.starts_with(&format!("/stream/{id}/subs_es.m3u8?token=")),
        "{uri}"
    );
    let playlist = c.get(&uri);
    assert_eq!(playlist.status, 200);
    let vtt_url = playlist
        .body
        .lines()
        .find(|l| l.contains("subs.vtt"))
        .expect("vtt line")
        .to_string();
    assert!(vtt_url.contains("X-Amz-Signature="), "{vtt_url}");
    let path = vtt_url
        .split_once("127.0.0.1")
        .map(|(_, r)| r)
        .expect("local url");
    let path = path
        .split_once('/')
        .map(|(_, p)| format!("/{p}"))
        .expect("path");
    let vtt = c.get(&path);
    assert_eq!(vtt.status, 200);
    assert!(vtt.body.contains("Hola") && vtt.body.contains("X-TIMESTAMP-MAP"));
    let after: Vec<_> = std::fs::read_dir(movie_dir(dir.path(), &id).join("720p"))
        .expect("rung")
        .flatten()
        .map(|e| {
            (
                e.file_name(),
                e.metadata().expect("meta").modified().expect("mtime"),
            )
        })
        .collect();
    assert_eq!(before, after, "the ladder was not touched");

    // A file that is not subtitles: a clear error, nothing changed.
    let junk = dir.path().join("junk.srt");
    std::fs::write(&junk, [0u8, 159, 146, 150, 1, 2, 3]).expect("junk");
    let refused = cli_env(
        dir.path(),
        &[
            "subtitle",
            "add",
            &id,
            junk.to_str().expect("utf8"),
            "--lang",
            "it",
        ],
        &[],
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("subtitle"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        media_rows(&c.get(&format!("/stream/{id}")).body, "SUBTITLES").len(),
        3
    );

    // Removed by language: gone from the master and from the store.
    cli_ok(dir.path(), &["subtitle", "remove", &id, "es"]);
    let master = c.get(&format!("/stream/{id}")).body;
    assert_eq!(media_rows(&master, "SUBTITLES").len(), 2);
    assert!(!movie_dir(dir.path(), &id).join("subs_es").exists());
    assert_eq!(
        c.get(&uri).status,
        404,
        "a removed rendition's playlist is gone"
    );
    let missing = cli_env(dir.path(), &["subtitle", "remove", &id, "es"], &[]);
    assert!(!missing.status.success());
    server.stop();
}

/// An interlaced PAL DVD: 720x576, SAR 64:45 (16:9), top field first.
#[test]
fn a_pal_dvd_comes_out_progressive_at_16_9() {
    let dir = Server::temp_dir();
    let src = dir.path().join("dvd.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=720x576:rate=50:duration=6",
        "-vf",
        "tinterlace=interleave_top,setfield=tff,setsar=64/45",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-flags",
        "+ildct+ilme",
        "-x264opts",
        "tff=1",
        "-pix_fmt",
        "yuv420p",
        src.to_str().expect("utf8"),
    ]);
    let order = stream_of(&src, "v:0")["field_order"].clone();
    assert!(
        ["tt", "tb", "bb", "bt"].iter().any(|o| order == *o),
        "the source says interlaced: {order}"
    );
    let v = ingest(dir.path(), &src, &[]);
    let id = v["id"].as_str().expect("id");
    assert_eq!(v["renditions"], serde_json::json!(["480p"]));
    assert!(
        v["notes"].to_string().contains("deinterlaced"),
        "the job says what it did: {v}"
    );
    let seg = first_segment(&movie_dir(dir.path(), id).join("480p"));
    let s = stream_of(&seg, "v:0");
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(854), Some(480))
    );
    assert_eq!(s["sample_aspect_ratio"], "1:1");
    assert_eq!(s["field_order"], "progressive");
    // idet on the output: progressive frames, not combed ones.
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-i"])
        .arg(&seg)
        .args(["-vf", "idet", "-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    let log = String::from_utf8_lossy(&out.stderr);
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("Multi frame detection"))
        .expect("idet line");
    let count = |k: &str| -> u64 {
        line.split(k)
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .expect("count")
    };
    assert!(
        count("Progressive:") > 5 * (count("TFF:") + count("BFF:")),
        "combing left: {line}"
    );
}

/// Mean luma of the first frame of a file, after `filters`.
fn mean_luma(file: &Path, filters: &str) -> f64 {
    let vf = format!("{filters}signalstats,metadata=print:key=lavfi.signalstats.YAVG");
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-i"])
        .arg(file)
        .args(["-frames:v", "1", "-vf", &vf, "-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    let log = String::from_utf8_lossy(&out.stderr);
    log.lines()
        .find_map(|l| l.split("YAVG=").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no YAVG: {log}"))
}

/// An HEVC Main 10 PQ/BT.2020 source of `video` (a lavfi graph), with `audio_s` seconds of a
/// tone when given; `x265_extra` adds x265 parameters (HDR10 metadata).
fn hdr10_source(out: &Path, video: &str, audio_s: Option<u32>, x265_extra: &str) {
    let params = format!(
        "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc{x265_extra}"
    );
    let sine = audio_s.map(|d| format!("sine=frequency=440:sample_rate=48000:duration={d}"));
    let mut args = vec!["-f", "lavfi", "-i", video];
    if let Some(sine) = &sine {
        args.extend(["-f", "lavfi", "-i", sine]);
    }
    args.extend([
        "-vf",
        "format=yuv420p10le",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        &params,
        "-color_primaries",
        "bt2020",
        "-color_trc",
        "smpte2084",
        "-colorspace",
        "bt2020nc",
        "-pix_fmt",
        "yuv420p10le",
    ]);
    if sine.is_some() {
        args.extend(["-c:a", "aac"]);
    }
    args.push(out.to_str().expect("utf8"));
    ffmpeg(&args);
}

#[test]
fn hdr10_is_tone_mapped_to_an_sdr_bt709_ladder() {
    let dir = Server::temp_dir();
    let src = dir.path().join("hdr.mkv");
    hdr10_source(&src, "testsrc2=size=1280x720:rate=25:duration=4", None, "");
    let s = stream_of(&src, "v:0");
    assert_eq!(s["color_transfer"], "smpte2084");
    let v = ingest(dir.path(), &src, &[]);
    let id = v["id"].as_str().expect("id");
    let seg = first_segment(&movie_dir(dir.path(), id).join("720p"));
    let out = stream_of(&seg, "v:0");
    assert_eq!(out["pix_fmt"], "yuv420p", "8-bit");
    assert_ne!(out["profile"], "High 10", "browsers do not decode High 10");
    assert_eq!(out["color_transfer"], "bt709");
    assert_eq!(out["color_primaries"], "bt709");
    // Tone-mapped, not merely converted: the picture's brightness is the reference
    // zscale+tonemap's, not the naive conversion's.
    let ours = mean_luma(&seg, "");
    let reference = mean_luma(
        &src,
        "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p,",
    );
    let naive = mean_luma(&src, "format=yuv420p,");
    assert!(
        (ours - reference).abs() < (ours - naive).abs(),
        "luma {ours:.1}: reference {reference:.1}, naive {naive:.1}"
    );
}

#[test]
fn variable_frame_rate_becomes_constant_with_aligned_segments() {
    let dir = Server::temp_dir();
    let src = dir.path().join("phone.mkv");
    // Frames land at irregular times, as a phone records them.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=30:duration=10",
        "-vf",
        "setpts='(N/30+0.012*sin(N))/TB'",
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        src.to_str().expect("utf8"),
    ]);
    let v = ingest(dir.path(), &src, &[]);
    let id = v["id"].as_str().expect("id");
    for rung in ["480p", "720p"] {
        let playlist =
            std::fs::read_to_string(movie_dir(dir.path(), id).join(rung).join("index.m3u8"))
                .expect("playlist");
        let durations: Vec<f64> = playlist
            .lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .map(|d| d.trim_end_matches(',').parse().expect("duration"))
            .collect();
        assert!(durations.len() >= 2);
        for d in &durations[..durations.len() - 1] {
            assert!((d - 4.0).abs() < 0.05, "{rung}: {durations:?}");
        }
        let s = stream_of(&first_segment(&movie_dir(dir.path(), id).join(rung)), "v:0");
        assert_eq!(s["avg_frame_rate"], s["r_frame_rate"], "constant rate: {s}");
    }
}

/// Audio layouts and streams people meet: 7.1 and 16 channels are downmixed, a stream this
/// ffmpeg cannot decode is skipped with a note; the movie ingests either way.
#[test]
fn unusual_audio_is_downmixed_or_skipped_with_a_note() {
    let dir = Server::temp_dir();
    let src = dir.path().join("many.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25:duration=5",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=300:sample_rate=48000:duration=5",
        "-filter_complex",
        "[1:a]asplit=3[x][y][z];[x]pan=7.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0|c6=c0|c7=c0[a71];[y]pan=hexadecagonal|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0|c6=c0|c7=c0|c8=c0|c9=c0|c10=c0|c11=c0|c12=c0|c13=c0|c14=c0|c15=c0[a16];[z]anull[vorbis]",
        "-map",
        "0:v",
        "-map",
        "[a71]",
        "-map",
        "[a16]",
        "-map",
        "[vorbis]",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a:0",
        "aac",
        "-c:a:1",
        "pcm_s16le",
        "-c:a:2",
        "libvorbis",
        "-metadata:s:a:0",
        "language=deu",
        src.to_str().expect("utf8"),
    ]);
    // Make the third stream undecodable: rename its Matroska codec id (same length).
    let mut bytes = std::fs::read(&src).expect("read");
    let at = bytes
        .windows(8)
        .position(|w| w == b"A_VORBIS")
        .expect("vorbis codec id");
    bytes[at..at + 8].copy_from_slice(b"A_VORBIX");
    std::fs::write(&src, bytes).expect("write");

    let v = ingest(dir.path(), &src, &[]);
    let audio = v["audio"].as_array().expect("audio");
    assert_eq!(audio.len(), 2, "{v}");
    assert_eq!(audio[0]["name"], "Deutsch 7.1");
    assert!(audio.iter().all(|a| a["channels"] == 2));
    let notes = v["notes"].to_string();
    assert!(notes.contains("cannot decode"), "{notes}");
    assert!(notes.contains("16 channels downmixed"), "{notes}");
    let id = v["id"].as_str().expect("id");
    for n in 1..=2 {
        let a = stream_of(
            &first_segment(&movie_dir(dir.path(), id).join(format!("audio_{n}"))),
            "a:0",
        );
        assert_eq!(a["channels"], 2);
    }
}

/// Picture subtitles and broken subtitle timing are skipped or cleaned with a note; a file
/// whose only picture is cover art is refused.
#[test]
fn picture_subtitles_and_broken_cues_do_not_stop_an_ingest() {
    let dir = Server::temp_dir();
    let broken = dir.path().join("broken.srt");
    std::fs::write(
        &broken,
        "1\n00:00:03,000 --> 00:00:01,000\nbackwards\n\n2\n00:00:01,000 --> 00:00:02,000\nfine\n\n",
    )
    .expect("srt");
    let with_dvd = dir.path().join("subs.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25:duration=4",
        "-i",
        broken.to_str().expect("utf8"),
        "-map",
        "0:v",
        "-map",
        "1",
        "-map",
        "1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:s:0",
        "srt",
        "-c:s:1",
        "ass",
        "-metadata:s:s:0",
        "language=ita",
        "-metadata:s:s:1",
        "language=fre",
        with_dvd.to_str().expect("utf8"),
    ]);
    // Blu-ray subtitles are pictures (PGS): make the second stream one by its Matroska codec
    // id (same length, so the file stays valid).
    let mut bytes = std::fs::read(&with_dvd).expect("read");
    let at = bytes
        .windows(10)
        .position(|w| w == b"S_TEXT/ASS")
        .expect("ASS codec id");
    bytes[at..at + 10].copy_from_slice(b"S_HDMV/PGS");
    std::fs::write(&with_dvd, bytes).expect("write");
    let v = ingest(dir.path(), &with_dvd, &[]);
    let subs = v["subtitles"].as_array().expect("subtitles");
    assert_eq!(subs.len(), 1, "{v}");
    assert_eq!(subs[0]["lang"], "it");
    assert!(v["notes"].to_string().contains("picture format"), "{v}");
    let id = v["id"].as_str().expect("id");
    let vtt =
        std::fs::read_to_string(movie_dir(dir.path(), id).join("subs_it/subs.vtt")).expect("vtt");
    assert!(vtt.contains("fine") && !vtt.contains("backwards"), "{vtt}");

    // Cover art only: an audio file whose one picture is its sleeve is not a movie.
    let art = dir.path().join("song.m4a");
    let jpg = dir.path().join("cover.jpg");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=red:size=300x300",
        "-frames:v",
        "1",
        jpg.to_str().expect("utf8"),
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=duration=3",
        "-i",
        jpg.to_str().expect("utf8"),
        "-map",
        "0",
        "-map",
        "1",
        "-c:a",
        "aac",
        "-c:v",
        "copy",
        "-disposition:v",
        "attached_pic",
        art.to_str().expect("utf8"),
    ]);
    let refused = cli_env(
        dir.path(),
        &[
            "ingest",
            art.to_str().expect("utf8"),
            "--title",
            "Cover",
            "--json",
        ],
        FAST,
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("no video"),
        "{}",
        stderr(&refused)
    );
}

/// Subtitles through the API and the admin page: admins only, a clear 400 for a file that is
/// not subtitles, 404 for a movie that is not there.
#[test]
fn admins_add_and_remove_subtitles_over_http_and_on_the_admin_page() {
    let dir = Server::temp_dir();
    let src = common::make_source(
        dir.path(),
        "in.mp4",
        "testsrc2=size=640x360:rate=25",
        4,
        true,
        &[],
    );
    let id = ingest(dir.path(), &src, &[])["id"]
        .as_str()
        .expect("id")
        .to_string();
    common::add_user(dir.path(), "boss", PW, &["--admin"]);
    common::add_user(dir.path(), "viewer", PW, &[]);
    let mut server = Server::start_in(dir.path(), &[]);
    let mut admin = server.client();
    assert_eq!(admin.login("boss", PW).status, 200);
    let srt = b"1\n00:00:01,000 --> 00:00:02,500\nCiao\n\n";
    let (ct, body) = common::multipart(&[
        ("file", Some("it.srt"), srt),
        ("lang", None, b"ita"),
        ("name", None, b"Italiano (SDH)"),
    ]);
    let path = format!("/api/v1/movies/{id}/subtitles");

    let mut viewer = server.client();
    assert_eq!(viewer.login("viewer", PW).status, 200);
    assert_eq!(viewer.post_raw(&path, &ct, &body).status, 403);

    let added = admin.post_raw(&path, &ct, &body);
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(
        added.json()["subtitles"],
        serde_json::json!([{"lang": "it", "name": "Italiano (SDH)", "forced": false}])
    );
    let master = admin.get(&format!("/stream/{id}")).body;
    assert_eq!(media_rows(&master, "SUBTITLES").len(), 1, "{master}");

    let (ct_bad, bad) = common::multipart(&[
        ("file", Some("it.srt"), b"\x00\x01\x02 not subtitles"),
        ("lang", None, b"it"),
    ]);
    let refused = admin.post_raw(&path, &ct_bad, &bad);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("subtitle"), "{}", refused.body);
    let (ct_exe, exe) = common::multipart(&[("file", Some("it.exe"), srt), ("lang", None, b"it")]);
    assert_eq!(admin.post_raw(&path, &ct_exe, &exe).status, 400);
    assert_eq!(
        admin
            .post_raw("/api/v1/movies/nosuchmovie/subtitles", &ct, &body)
            .status,
        404
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("uploads"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "no upload left behind"
    );

    // The admin page lists the track, and its form adds and removes them.
    let page = admin.get("/admin").body;
    assert!(page.contains("Italiano (SDH)"), "listed on the admin page");
    let csrf = admin.csrf_from(&page);
    let vtt = b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHallo\n";
    let (ct_form, form) = common::multipart(&[
        ("csrf", None, csrf.as_bytes()),
        ("movie", None, id.as_bytes()),
        ("lang", None, b"de"),
        ("forced", None, b"1"),
        ("file", Some("de.vtt"), vtt),
    ]);
    let posted = admin.post_raw("/admin/subtitles", &ct_form, &form);
    assert_eq!(posted.status, 303, "{}", posted.body);
    let movie = admin.get(&format!("/api/v1/movies/{id}")).json();
    assert_eq!(movie["subtitles"][1]["lang"], "de");
    assert_eq!(movie["subtitles"][1]["forced"], true);
    let removed = admin.post_form(
        &format!("/admin/movies/{id}/subtitles/de/remove"),
        &[("csrf", &csrf)],
    );
    assert_eq!(removed.status, 303);
    assert_eq!(admin.delete(&format!("{path}/it")).status, 204);
    assert_eq!(admin.delete(&format!("{path}/it")).status, 404);
    let movie = admin.get(&format!("/api/v1/movies/{id}")).json();
    assert_eq!(movie["subtitles"], serde_json::json!([]));
    server.stop();
}

/// The EXT-X-STREAM-INF rows of a master: (attribute line, URI).
fn variant_rows(master: &str) -> Vec<(&str, &str)> {
    let lines: Vec<&str> = master.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].starts_with("#EXT-X-STREAM-INF:"))
        .map(|w| (w[0], w[1]))
        .collect()
}

fn extinf(playlist: &Path) -> Vec<String> {
    std::fs::read_to_string(playlist)
        .expect("playlist")
        .lines()
        .filter(|l| l.starts_with("#EXTINF:"))
        .map(String::from)
        .collect()
}

#[test]
fn a_2160p_hdr10_source_gets_sdr_h264_rows_and_hdr10_rows_in_hevc_and_av1() {
    let dir = Server::temp_dir();
    let src = dir.path().join("uhd-hdr10.mkv");
    let display = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)";
    hdr10_source(
        &src,
        "testsrc2=size=3840x2160:rate=24:duration=2",
        Some(2),
        &format!(":hdr10=1:master-display={display}:max-cll=1000,400"),
    );
    let v = ingest_with(
        dir.path(),
        &src,
        &[],
        &[
            ("STREAMD_TRANSCODE_PRESET", "ultrafast"),
            ("STREAMD_TRANSCODE_RENDITIONS", r#"["480p", "2160p"]"#),
            ("STREAMD_TRANSCODE_CODECS", r#"["h264", "hevc", "av1"]"#),
            // Two segments in two seconds of 2160p (an expensive picture to encode thrice).
            ("STREAMD_TRANSCODE_SEGMENT_SECONDS", "1"),
        ],
    );
    let id = v["id"].as_str().expect("id");
    let root = movie_dir(dir.path(), id);
    let master = std::fs::read_to_string(root.join("master.m3u8")).expect("master");
    let rows = variant_rows(&master);
    let names: Vec<&str> = rows.iter().map(|(_, uri)| *uri).collect();
    for want in ["480p", "2160p", "2160p_hevc", "2160p_av1"] {
        assert!(
            names.contains(&format!("{want}/index.m3u8").as_str()),
            "{master}"
        );
    }
    assert_eq!(rows.len(), 4, "{master}");
    let segments = extinf(&root.join("480p/index.m3u8"));
    for (line, uri) in &rows {
        let name = uri.trim_end_matches("/index.m3u8");
        assert_eq!(
            extinf(&root.join(uri)),
            segments,
            "{name}: segments aligned with every other row"
        );
        let codecs = attr(line, "CODECS").expect("CODECS");
        let range = attr(line, "VIDEO-RANGE").expect("VIDEO-RANGE on every row");
        let seg = first_segment(&root.join(name));
        let s = stream_of(&seg, "v:0");
        let first_frame = ffprobe(
            &seg,
            &[
                "-read_intervals",
                "%+#1",
                "-show_frames",
                "-select_streams",
                "v:0",
            ],
        );
        let side = first_frame["frames"][0]["side_data_list"].clone();
        let side_of = |kind: &str| {
            side.as_array()
                .and_then(|l| l.iter().find(|d| d["side_data_type"] == kind).cloned())
        };
        match name {
            "480p" | "2160p" => {
                assert_eq!(range, "SDR", "{line}");
                assert_eq!(
                    codecs,
                    format!("{},mp4a.40.2", common::avc1_codecs(&s)),
                    "{line}"
                );
                assert_eq!(s["pix_fmt"], "yuv420p", "{name}: 8-bit");
                assert_eq!(s["color_transfer"], "bt709", "{name}: tone-mapped");
                assert_eq!(s["color_primaries"], "bt709");
            }
            "2160p_hevc" => {
                assert_eq!(range, "PQ", "{line}");
                assert_eq!(
                    s["codec_tag_string"], "hvc1",
                    "parameter sets in the init segment"
                );
                assert_eq!(s["profile"], "Main 10");
                let level = s["level"].as_u64().expect("level");
                assert!(
                    codecs.starts_with(&format!("hvc1.2.4.L{level}."))
                        && codecs.ends_with(",mp4a.40.2"),
                    "{codecs} vs Main 10 at level {level}"
                );
            }
            "2160p_av1" => {
                assert_eq!(range, "PQ", "{line}");
                assert_eq!(s["codec_name"], "av1");
                assert!(
                    codecs.starts_with("av01.0.") && codecs.ends_with("M.10,mp4a.40.2"),
                    "{codecs}: Main profile, 10-bit"
                );
            }
            other => panic!("unexpected row {other}"),
        }
        if name.contains('_') {
            assert_eq!(s["pix_fmt"], "yuv420p10le", "{name}: 10-bit");
            assert_eq!(s["color_transfer"], "smpte2084", "{name}: HDR kept");
            assert_eq!(s["color_primaries"], "bt2020");
            assert_eq!(s["width"], 3840);
        }
        if name == "2160p_hevc" {
            // HDR10's static metadata goes with the picture, as the source had it.
            let display = side_of("Mastering display metadata").expect("mastering display");
            assert_eq!(display["max_luminance"], "10000000/10000", "{display}");
            assert_eq!(display["red_x"], "34000/50000", "{display}");
            let light = side_of("Content light level metadata").expect("content light");
            assert_eq!(
                (light["max_content"].as_u64(), light["max_average"].as_u64()),
                (Some(1000), Some(400))
            );
        }
    }
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("HDR kept in 2160p_hevc, 2160p_av1"),
        "{notes}"
    );
}
