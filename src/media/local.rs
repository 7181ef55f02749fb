//! The local-disk object store: objects are files under `<data_dir>/objects/<bucket>/<key>`.
//! Every object appears by a rename of a flushed file, so a reader sees it whole or not at all.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::movie_prefix;
use crate::ids::MovieId;

#[derive(Debug, Clone)]
pub struct LocalMedia {
    bucket_root: PathBuf,
}

impl LocalMedia {
    pub fn new(data_dir: &Path, bucket: &str) -> Self {
        LocalMedia {
            bucket_root: data_dir.join("objects").join(bucket),
        }
    }

    pub fn bucket_root(&self) -> &Path {
        &self.bucket_root
    }

    pub fn movie_dir(&self, id: &MovieId) -> PathBuf {
        self.bucket_root.join(movie_prefix(id))
    }

    /// Moves a staged rendition directory into place as `movies/{id}/{part}/` (a subtitle
    /// added to a published movie), replacing an older one of the same name.
    pub fn publish_part(&self, staged: &Path, id: &MovieId, part: &str) -> io::Result<()> {
        sync_tree(staged)?;
        let movie = self.movie_dir(id);
        if !movie.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("movie {id} is not published"),
            ));
        }
        let target = movie.join(part);
        if target.exists() {
            fs::remove_dir_all(&target)?;
        }
        fs::rename(staged, &target)?;
        fs::File::open(&movie)?.sync_all()
    }

    pub fn delete_part(&self, id: &MovieId, part: &str) -> io::Result<()> {
        match fs::remove_dir_all(self.movie_dir(id).join(part)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// Replaces one object of a movie atomically (write aside, flush, rename), creating its
    /// directories: a reader sees the old object or the new one, never a part.
    pub fn replace_object(&self, id: &MovieId, name: &str, bytes: &[u8]) -> io::Result<()> {
        let target = self.movie_dir(id).join(name);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        let aside = target.with_extension("part");
        fs::write(&aside, bytes)?;
        fs::File::open(&aside)?.sync_all()?;
        fs::rename(&aside, &target)
    }

    /// Moves a finished file into place as object `name` of a movie (a rename on the same
    /// disk, a copy otherwise), flushed first so a crash cannot publish a name without data.
    pub fn move_in(&self, id: &MovieId, name: &str, file: &Path) -> io::Result<()> {
        let target = self.movie_dir(id).join(name);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::File::open(file)?.sync_all()?;
        if fs::rename(file, &target).is_err() {
            let aside = target.with_extension("part");
            fs::copy(file, &aside)?;
            fs::File::open(&aside)?.sync_all()?;
            fs::rename(&aside, &target)?;
            let _ = fs::remove_file(file);
        }
        Ok(())
    }

    pub fn delete_movie(&self, id: &MovieId) -> io::Result<()> {
        match fs::remove_dir_all(self.movie_dir(id)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

fn sync_tree(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            sync_tree(&path)?;
        } else {
            fs::File::open(&path)?.sync_all()?;
        }
    }
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_appear_whole_and_go_with_their_movie() {
        let data = tempfile::tempdir().expect("tempdir");
        let media = LocalMedia::new(data.path(), "media");
        let id = MovieId::parse("m1").expect("id");
        for round in 0..2 {
            let staged = data.path().join(format!("seg{round}"));
            fs::write(&staged, format!("round {round}")).expect("write");
            media
                .move_in(&id, "480p/seg_00001.m4s", &staged)
                .expect("move in");
            assert!(!staged.exists());
            let text =
                fs::read_to_string(media.movie_dir(&id).join("480p/seg_00001.m4s")).expect("read");
            assert_eq!(text, format!("round {round}"), "a leftover is replaced");
        }
        media
            .replace_object(&id, "480p/index.m3u8", b"#EXTM3U\n")
            .expect("replace");
        assert!(
            media
                .movie_dir(&id)
                .starts_with(data.path().join("objects/media/movies"))
        );
        media.delete_movie(&id).expect("delete");
        assert!(!media.movie_dir(&id).exists());
        media.delete_movie(&id).expect("deleting twice is fine");
    }
}
