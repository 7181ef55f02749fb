//! A movie's subtitle renditions: made from the source's text streams and sidecar files at
//! ingest, and added or removed later on a ready movie without re-encoding anything.

use std::path::Path;

use super::error::IngestError;
use super::pipeline::Ingester;
use super::probe::Probe;
use super::queue::check_sidecar;
use super::run::{Control, RunError};
use super::subtitles;
use super::tools::Tools;
use super::tracks;
use crate::playlist::{Ladder, render_master};
use crate::store::{Job, Movie, MovieId, MovieStatus, Sidecar, SubtitleRendition};

impl Ingester {
    /// Every text subtitle stream of the source, then the sidecar files, as published WebVTT
    /// renditions; a subtitle that fails is skipped with a note: the movie is still worth
    /// watching.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn make_subtitles(
        &self,
        tools: &Tools,
        probe: &Probe,
        job: &Job,
        staging: &Path,
        video_start_s: f64,
        notes: &mut Vec<String>,
        control: &Control,
    ) -> Result<Vec<SubtitleRendition>, IngestError> {
        let mut wanted: Vec<(&Path, Option<u32>, String, String, bool)> = Vec::new();
        for s in &probe.subtitles {
            let lang = tracks::bcp47(s.language.as_deref());
            if !s.is_text() {
                notes.push(format!(
                    "subtitle stream {} ({}, {lang}) is a picture format that cannot become WebVTT: skipped",
                    s.index, s.codec
                ));
                continue;
            }
            let label = tracks::subtitle_name(&lang, s.title.as_deref(), s.forced);
            wanted.push((&job.source, Some(s.index), lang, label, s.forced));
        }
        let embedded: Vec<(String, bool)> = probe
            .subtitles
            .iter()
            .filter(|s| s.is_text())
            .map(|s| (tracks::bcp47(s.language.as_deref()), s.forced))
            .collect();
        for s in &job.sidecars {
            let lang = tracks::bcp47(s.lang.as_deref());
            if s.found_beside && embedded.contains(&(lang.clone(), s.forced)) {
                notes.push(format!(
                    "{} beside the file repeats its embedded {lang} subtitles: skipped",
                    s.path.file_name().unwrap_or_default().to_string_lossy()
                ));
                continue;
            }
            let label = tracks::subtitle_name(&lang, s.name.as_deref(), s.forced);
            wanted.push((&s.path, None, lang, label, s.forced));
        }
        let mut subs: Vec<SubtitleRendition> = Vec::new();
        for (input, stream, lang, label, forced) in wanted {
            let taken: Vec<String> = subs.iter().map(|s| s.name.clone()).collect();
            let labels: Vec<String> = subs.iter().map(|s| s.label.clone()).collect();
            let name = tracks::subtitle_rendition(&lang, &taken);
            let dir = staging.join("subtitles").join(&name);
            let converted = subtitles::convert(
                &tools.ffmpeg,
                input,
                stream,
                &dir,
                video_start_s,
                probe.duration_s,
                control,
            );
            match converted {
                Ok(_) => {
                    self.media.publish_part(&dir, &job.movie, &name)?;
                    subs.push(SubtitleRendition {
                        name,
                        lang,
                        label: tracks::unique(label, &labels),
                        forced,
                    });
                }
                Err(subtitles::ConvertError::Cancelled) => return Err(RunError::Cancelled.into()),
                Err(e) => notes.push(format!("subtitles {label}: skipped ({e})")),
            }
        }
        Ok(subs)
    }

    /// Adds a subtitle file to a ready movie as one more WebVTT rendition, re-encoding nothing.
    /// A file that is not a readable subtitle changes nothing and says why.
    pub fn add_subtitle(&self, id: &MovieId, sidecar: Sidecar) -> Result<Movie, IngestError> {
        let movie = self.ready_movie(id)?;
        let sidecar = check_sidecar(sidecar)?;
        let tools = Tools::locate(&self.config.transcode)?;
        let lang = tracks::bcp47(sidecar.lang.as_deref());
        let taken: Vec<String> = movie.subtitles.iter().map(|s| s.name.clone()).collect();
        let labels: Vec<String> = movie.subtitles.iter().map(|s| s.label.clone()).collect();
        let name = tracks::subtitle_rendition(&lang, &taken);
        let label = tracks::subtitle_name(&lang, sidecar.name.as_deref(), sidecar.forced);
        let staged = self
            .staging_root
            .join(format!("{}-{name}-{}", movie.id, MovieId::generate()));
        let result = subtitles::convert(
            &tools.ffmpeg,
            &sidecar.path,
            None,
            &staged,
            movie.video_start_s,
            movie.duration_s.unwrap_or(0.0),
            &Control::default(),
        )
        .map_err(|e| IngestError::BadSubtitle(e.to_string()))
        .and_then(|_| Ok(self.media.publish_part(&staged, id, &name)?));
        let _ = std::fs::remove_dir_all(&staged);
        result?;
        let mut subs = movie.subtitles.clone();
        subs.push(SubtitleRendition {
            name,
            lang,
            label: tracks::unique(label, &labels),
            forced: sidecar.forced,
        });
        let movie = self.save_subtitles(id, subs)?;
        self.record_inventory(id);
        Ok(movie)
    }

    /// Removes a movie's subtitle renditions in a language (`fr`, `fre`) or by rendition name.
    pub fn remove_subtitle(&self, id: &MovieId, lang: &str) -> Result<Movie, IngestError> {
        let movie = self.ready_movie(id)?;
        let wanted = tracks::bcp47(Some(lang));
        let (gone, kept): (Vec<_>, Vec<_>) = movie.subtitles.iter().cloned().partition(|s| {
            s.name == lang || (wanted != "und" && s.lang == wanted) || s.lang == lang
        });
        if gone.is_empty() {
            return Err(IngestError::NoSuchSubtitle(lang.to_string()));
        }
        // The record first: no playlist may name objects that are going.
        let movie = self.save_subtitles(id, kept)?;
        for s in gone {
            self.media.delete_part(id, &s.name)?;
        }
        self.record_inventory(id);
        Ok(movie)
    }

    pub(crate) fn ready_movie(&self, id: &MovieId) -> Result<Movie, IngestError> {
        self.store
            .movie(id)?
            .filter(|m| m.status == MovieStatus::Ready)
            .ok_or_else(|| IngestError::NotReady(id.clone()))
    }

    /// Records the new subtitle list and rewrites the stored master to match it.
    fn save_subtitles(
        &self,
        id: &MovieId,
        subs: Vec<SubtitleRendition>,
    ) -> Result<Movie, IngestError> {
        let movie = self
            .store
            .set_subtitles(id, subs)?
            .ok_or_else(|| IngestError::NotReady(id.clone()))?;
        let master = render_master(
            &Ladder {
                video: &movie.renditions,
                audio: &movie.audio,
                subtitles: &movie.subtitles,
            },
            |name| format!("{name}/index.m3u8"),
        );
        if let Err(e) = self
            .media
            .replace_object(id, "master.m3u8", master.as_bytes())
        {
            // Players never read the stored master (it is rendered from the record); it is
            // kept for people browsing the bucket, so a failure here is only logged.
            tracing::warn!(movie_id = %id, error = %e, "could not rewrite the stored master");
        }
        Ok(movie)
    }
}
