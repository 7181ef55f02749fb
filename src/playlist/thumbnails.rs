//! The WebVTT thumbnails track players read for seek-bar previews (the format JW Player,
//! Video.js, Plyr and Jellyfin's web client use): one cue per picture, whose text is the
//! sprite's URL with a `#xywh=x,y,w,h` fragment saying where in the sprite the picture is.

use std::fmt::Write;

use crate::store::Thumbnails;

/// The track for a movie of `duration_s`, `url` giving each sprite's absolute URL (presigned:
/// the browser fetches sprites straight from the store, like segments).
pub fn render(thumbs: &Thumbnails, duration_s: f64, mut url: impl FnMut(&str) -> String) -> String {
    let mut out = String::from("WEBVTT\n");
    let mut sprite_urls: Vec<String> = Vec::new();
    let step = f64::from(thumbs.interval_s.max(1));
    for n in 0..thumbs.count {
        let start = f64::from(n) * step;
        if n > 0 && start >= duration_s {
            break;
        }
        let end = if n + 1 == thumbs.count {
            duration_s.max(start + 0.001)
        } else {
            (start + step).min(duration_s.max(start + 0.001))
        };
        let (sprite, x, y) = thumbs.locate(n);
        let index = (n / (thumbs.columns * thumbs.rows).max(1)) as usize;
        if sprite_urls.len() <= index {
            sprite_urls.push(url(&sprite));
        }
        let _ = write!(
            out,
            "\n{} --> {}\n{}#xywh={x},{y},{},{}\n",
            crate::webvtt::format_seconds(start),
            crate::webvtt::format_seconds(end),
            sprite_urls[index],
            thumbs.width,
            thumbs.height
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thumbs(count: u32) -> Thumbnails {
        Thumbnails {
            interval_s: 10,
            width: 320,
            height: 180,
            columns: 10,
            rows: 10,
            count,
        }
    }

    #[test]
    fn one_cue_per_picture_pointing_into_its_sprite() {
        let vtt = render(&thumbs(105), 1045.2, |name| format!("https://s/{name}?sig"));
        assert!(vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:10.000\nhttps://s/thumbnails/sprite_000.jpg?sig#xywh=0,0,320,180\n"));
        assert!(vtt.contains("\n00:16:30.000 --> 00:16:40.000\nhttps://s/thumbnails/sprite_000.jpg?sig#xywh=2880,1620,320,180\n"));
        assert!(vtt.contains("\n00:16:40.000 --> 00:16:50.000\nhttps://s/thumbnails/sprite_001.jpg?sig#xywh=0,0,320,180\n"));
        // The last cue ends with the film.
        assert!(vtt.ends_with("00:17:20.000 --> 00:17:25.200\nhttps://s/thumbnails/sprite_001.jpg?sig#xywh=1280,0,320,180\n"), "{vtt}");
        assert_eq!(vtt.matches(" --> ").count(), 105);
    }

    #[test]
    fn each_sprite_is_signed_once() {
        let mut signed = 0;
        render(&thumbs(250), 2500.0, |name| {
            signed += 1;
            name.to_string()
        });
        assert_eq!(signed, 3);
    }

    #[test]
    fn a_clip_shorter_than_one_interval_still_has_its_picture() {
        let vtt = render(&thumbs(1), 3.5, |n| n.to_string());
        assert!(vtt.ends_with(
            "00:00:00.000 --> 00:00:03.500\nthumbnails/sprite_000.jpg#xywh=0,0,320,180\n"
        ));
    }
}
