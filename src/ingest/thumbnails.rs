//! Seek-bar thumbnails ("trickplay"): one picture every 10 s, 320 px wide, tiled 10 x 10 into
//! JPEG sprites, made after the ladder by a pass that decodes only the source's keyframes: each
//! picture is the last keyframe at or before its slot (a few seconds early at most in usual
//! encodes). Measured on a 1080p source (BENCHMARKS.md): 0.5% of the ladder's time, where a
//! branch of the ladder's own ffmpeg (exact frames) cost ~7% and a full decode ~7%. A source
//! whose keyframes the decoder cannot pick out gets the full decode.

use std::path::Path;

use super::command::Picture;
use crate::store::Thumbnails;

/// One picture per this many seconds: Jellyfin's and Plex's default too.
pub const INTERVAL_S: u32 = 10;
/// The longer side of a picture, at most: 320 x 180 for 16:9.
const LONG_SIDE: u32 = 320;
const COLUMNS: u32 = 10;
const ROWS: u32 = 10;
/// The published part (`movies/{id}/thumbnails/`) and the staging folder.
pub const PART: &str = "thumbnails";
/// JPEG quality (ffmpeg's 2-31 scale): small pictures viewed for a moment.
const QUALITY: &str = "5";

/// The size of one picture for a picture of `display` (square pixels), even on both sides.
pub fn size(display: (u32, u32)) -> (u32, u32) {
    let (w, h) = (u64::from(display.0.max(2)), u64::from(display.1.max(2)));
    let even = |x: u64| (x as u32 & !1).max(2);
    if w >= h {
        let width = w.min(u64::from(LONG_SIDE));
        (even(width), even((width * h + w / 2) / w))
    } else {
        let height = h.min(u64::from(LONG_SIDE));
        (even((height * w + h / 2) / h), even(height))
    }
}

/// From frames on the movie's clock: one each `INTERVAL_S` (the frame at the slot's start,
/// `round=up`), scaled and tiled. The clock starts at 0 even when the picture starts later
/// (an MKV whose audio starts first): without `start_time=0` the first slot would be the one
/// at 10 s, and every picture would show the slot after its own.
fn select_and_tile(size: (u32, u32), prepare: Vec<String>) -> String {
    let mut chain = vec![format!("fps=1/{INTERVAL_S}:round=up:start_time=0")];
    chain.extend(prepare);
    chain.extend([
        format!("scale={}:{}:flags=bicubic", size.0, size.1),
        "setsar=1".to_string(),
        format!("tile={COLUMNS}x{ROWS}"),
    ]);
    chain.join(",")
}

/// The output options that write the sprites of filter output `label` into `dir`.
fn output_args(label: &str, dir: &Path) -> Vec<String> {
    [
        "-map",
        label,
        "-c:v",
        "mjpeg",
        "-q:v",
        QUALITY,
        "-f",
        "image2",
        "-start_number",
        "0",
    ]
    .into_iter()
    .map(String::from)
    .chain([dir.join("sprite_%03d.jpg").display().to_string()])
    .collect()
}

/// The pass over the whole source: with `keyframes_only`, only keyframes are decoded (a few
/// percent of the frames).
pub fn pass_args(
    source: &Path,
    picture: &Picture,
    size: (u32, u32),
    dir: &Path,
    keyframes_only: bool,
) -> Vec<String> {
    let mut prepare = picture.prepare_stills(size);
    let deinterlace = if picture.deinterlace {
        // Keyframes seconds apart are no neighbours for a temporal deinterlacer: one field,
        // line-doubled by the scaler, is plenty at this size.
        prepare.remove(0)
    } else {
        String::new()
    };
    let mut graph = format!("[0:{}]", picture.video_index);
    if !deinterlace.is_empty() {
        graph.push_str(&deinterlace);
        graph.push(',');
    }
    graph.push_str(&select_and_tile(size, prepare));
    graph.push_str("[th]");
    let mut args: Vec<String> = ["-nostdin", "-y"].map(String::from).to_vec();
    if keyframes_only {
        args.extend(["-skip_frame", "nokey"].map(String::from));
    }
    args.extend(["-i".to_string(), source.display().to_string()]);
    args.extend(["-filter_complex".to_string(), graph]);
    args.extend(output_args("[th]", dir));
    args
}

/// What ffmpeg left in `dir`: the sprites, numbered from 000 without a gap, and how many
/// pictures they hold for a movie of `duration_s`. `None` when there are none.
pub fn collect(dir: &Path, size: (u32, u32), duration_s: f64) -> Option<Thumbnails> {
    let mut sprites = 0u32;
    while dir.join(format!("sprite_{sprites:03}.jpg")).is_file() {
        sprites += 1;
    }
    if sprites == 0 {
        return None;
    }
    let wanted = (duration_s.max(0.0) / f64::from(INTERVAL_S))
        .ceil()
        .max(1.0) as u32;
    Some(Thumbnails {
        interval_s: INTERVAL_S,
        width: size.0,
        height: size.1,
        columns: COLUMNS,
        rows: ROWS,
        // The last sprite's unused cells are black: never point a cue at them.
        count: wanted.min(sprites * COLUMNS * ROWS),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_keep_the_shape_and_stay_small() {
        assert_eq!(size((1920, 1080)), (320, 180));
        assert_eq!(size((854, 480)), (320, 180));
        assert_eq!(size((640, 480)), (320, 240));
        assert_eq!(size((1920, 804)), (320, 134));
        assert_eq!(size((1080, 1920)), (180, 320));
        // A source smaller than a thumbnail is not blown up.
        assert_eq!(size((160, 120)), (160, 120));
        assert_eq!(size((0, 0)), (2, 2));
    }

    #[test]
    fn the_pass_takes_the_frame_at_each_slot_start() {
        let picture = Picture {
            video_index: 1,
            source_frame_rate: 24.0,
            deinterlace: false,
            hdr10: None,
            hdr_transfer: None,
        };
        let args = pass_args(
            Path::new("/in.mkv"),
            &picture,
            (320, 180),
            Path::new("/t"),
            false,
        );
        assert_eq!(
            args.join(" "),
            "-nostdin -y -i /in.mkv -filter_complex \
             [0:1]fps=1/10:round=up:start_time=0,scale=320:180:flags=bicubic,setsar=1,tile=10x10[th] \
             -map [th] -c:v mjpeg -q:v 5 -f image2 -start_number 0 /t/sprite_%03d.jpg"
        );
    }

    #[test]
    fn an_interlaced_source_is_read_one_field_at_a_time_when_only_keyframes_are_decoded() {
        let picture = Picture {
            video_index: 0,
            source_frame_rate: 25.0,
            deinterlace: true,
            hdr10: None,
            hdr_transfer: Some("smpte2084".into()),
        };
        let args = pass_args(
            Path::new("/in.mkv"),
            &picture,
            (320, 180),
            Path::new("/t"),
            true,
        );
        let graph = &args[args.iter().position(|a| a == "-filter_complex").unwrap() + 1];
        assert!(
            graph.starts_with(
                "[0:0]field=type=top,fps=1/10:round=up:start_time=0,zscale=w=320:h=180"
            )
        );
        assert!(graph.ends_with("tile=10x10[th]"));
        assert!(!graph.contains("bwdif"));
        assert_eq!(args[2..4], ["-skip_frame", "nokey"]);
        assert_eq!(args.last().map(String::as_str), Some("/t/sprite_%03d.jpg"));
    }

    #[test]
    fn counting_stops_at_the_movie_end_and_at_the_last_sprite() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(collect(dir.path(), (320, 180), 100.0), None);
        for n in 0..2 {
            std::fs::write(dir.path().join(format!("sprite_{n:03}.jpg")), b"x").unwrap();
        }
        let t = collect(dir.path(), (320, 180), 1234.5).unwrap();
        assert_eq!(t.count, 124);
        assert_eq!(t.sprites(), 2);
        assert_eq!(
            t.locate(123),
            ("thumbnails/sprite_001.jpg".to_string(), 3 * 320, 2 * 180)
        );
        // ffmpeg made fewer pictures than the container's length promised.
        assert_eq!(collect(dir.path(), (320, 180), 5000.0).unwrap().count, 200);
    }
}
