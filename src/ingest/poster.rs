//! A poster chosen by hand (`POST /api/v1/movies/{id}/poster`, the admin page): a JPEG or PNG,
//! decoded and encoded again by ffmpeg (at most 1280 x 720, no metadata kept) and published
//! under a new object name, so no browser or CDN cache goes on showing the old one.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use super::error::IngestError;
use super::pipeline::Ingester;
use super::run::{Control, RunError, run_ffmpeg};
use super::tools::Tools;
use crate::store::{Movie, MovieId, Series, SeriesId};

/// A picture larger than this (pixels) is refused before it is decoded: a 30000 x 30000 PNG
/// of a few kilobytes would otherwise take gigabytes to decode.
const MAX_PIXELS: &str = "50000000";

/// Which decoder reads it, from its first bytes: the name or type a browser sent is not
/// trusted, and ffmpeg is never left to guess (it would read a playlist naming local files).
fn image_format(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpeg_pipe")
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png_pipe")
    } else {
        None
    }
}

fn args(format: &str, input: &Path, output: &Path) -> Vec<String> {
    [
        "-nostdin",
        "-y",
        "-max_pixels",
        MAX_PIXELS,
        "-f",
        format,
        "-i",
    ]
    .into_iter()
    .map(String::from)
    .chain([input.display().to_string()])
    .chain(
        [
            "-frames:v",
            "1",
            "-map_metadata",
            "-1",
            "-vf",
            "scale=w='min(1280,iw)':h='min(720,ih)':force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1",
            "-q:v",
            "3",
            "-f",
            "image2",
        ]
        .map(String::from),
    )
    .chain([output.display().to_string()])
    .collect()
}

impl Ingester {
    /// Makes `upload` the poster of a ready movie. Nothing changes unless it is a picture
    /// ffmpeg can read; the previous hand-picked poster's object is removed.
    pub fn set_poster(&self, id: &MovieId, upload: &Path) -> Result<Movie, IngestError> {
        self.ready_movie(id)?;
        let name = self.publish_poster(id, upload)?;
        let Some((movie, old)) = self.store.set_poster(id, Some(name.clone()))? else {
            // Deleted meanwhile: its objects went with it, but not this one.
            let _ = self.media.delete_object(id, &name);
            return Err(IngestError::NotReady(id.clone()));
        };
        if let Some(old) = old
            && let Err(e) = self.media.delete_object(id, &old)
        {
            tracing::warn!(movie_id = %id, error = %e, "could not remove the previous poster");
        }
        self.record_inventory(id);
        Ok(movie)
    }

    /// Makes `upload` a series' poster. Its object lives under the series id in the movies'
    /// namespace (`movies/{series id}/poster-*.jpg`: ids are drawn from one space), so it is
    /// signed and served like any poster.
    pub fn set_series_poster(&self, id: &SeriesId, upload: &Path) -> Result<Series, IngestError> {
        if self.store.series(id)?.is_none() {
            return Err(crate::store::StoreError::SeriesNotFound(id.clone()).into());
        }
        let name = self.publish_poster(id, upload)?;
        let (series, old) = match self.store.set_series_poster(id, &name) {
            Ok(done) => done,
            Err(e) => {
                let _ = self.media.delete_object(id, &name);
                return Err(e.into());
            }
        };
        if let Some(old) = old
            && let Err(e) = self.media.delete_object(id, &old)
        {
            tracing::warn!(series_id = %id, error = %e, "could not remove the previous poster");
        }
        Ok(series)
    }

    /// Re-encodes a JPEG or PNG upload and publishes it under `id` with a new name; nothing is
    /// published unless ffmpeg reads it as a picture.
    fn publish_poster(&self, id: &MovieId, upload: &Path) -> Result<String, IngestError> {
        let mut head = [0u8; 8];
        let read = std::fs::File::open(upload)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|source| IngestError::Io {
                what: "reading the poster",
                source,
            })?;
        let format = image_format(&head[..read]).ok_or_else(|| {
            IngestError::BadPoster("the poster must be a JPEG or PNG image".into())
        })?;
        let tools = Tools::locate(&self.config.transcode)?;
        // Beside the other work in progress: the picture may sit in a folder the server cannot
        // write to (`streamd movie edit --poster ~/cover.png`).
        let staging = self.config.server.data_dir.join("staging");
        std::fs::create_dir_all(&staging).map_err(|source| IngestError::Io {
            what: "creating the staging dir",
            source,
        })?;
        let out = staging.join(format!("poster-{}.jpg", MovieId::generate()));
        let made = run_ffmpeg(
            &tools.ffmpeg,
            &args(format, upload, &out),
            &Control::default(),
            Duration::from_secs(60),
            |_| {},
        );
        let published = made
            .map_err(|e| match e {
                RunError::Failed(reason) => {
                    IngestError::BadPoster(format!("not a readable picture: {reason}"))
                }
                other => other.into(),
            })
            .and_then(|()| {
                if !out.is_file() {
                    return Err(IngestError::BadPoster(
                        "ffmpeg made no picture of it".into(),
                    ));
                }
                let name = format!("poster-{}.jpg", MovieId::generate());
                self.media.put_file(id, &name, &out)?;
                Ok(name)
            });
        let _ = std::fs::remove_file(&out);
        published
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_jpeg_and_png_by_their_first_bytes() {
        assert_eq!(image_format(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("jpeg_pipe"));
        assert_eq!(image_format(b"\x89PNG\r\n\x1a\n"), Some("png_pipe"));
        assert_eq!(image_format(b"#EXTM3U\n"), None);
        assert_eq!(image_format(b"GIF89a"), None);
        assert_eq!(image_format(&[]), None);
    }

    #[test]
    fn the_decoder_is_forced_and_bounded() {
        let a = args("png_pipe", Path::new("/u/x.upload"), Path::new("/u/x.jpg")).join(" ");
        assert!(a.starts_with("-nostdin -y -max_pixels 50000000 -f png_pipe -i /u/x.upload"));
        assert!(a.contains("force_original_aspect_ratio=decrease"));
        assert!(a.ends_with("-f image2 /u/x.jpg"));
    }
}
