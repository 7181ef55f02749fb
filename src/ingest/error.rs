//! Why an ingest (or an edit of a published movie) did not happen, in words an owner can act on.

use std::path::PathBuf;

use super::master::MasterError;
use super::probe::ProbeError;
use super::publish::PublishError;
use super::run::RunError;
use super::tools::ToolError;
use crate::media::MediaError;
use crate::store::{MovieId, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the source file {0} does not exist or cannot be read")]
    SourceMissing(PathBuf),
    #[error("the source file {0} is empty")]
    SourceEmpty(PathBuf),
    #[error("a title is needed (1-200 characters)")]
    BadTitle,
    #[error(transparent)]
    Tools(#[from] ToolError),
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Master(#[from] MasterError),
    #[error("publishing the ladder: {0}")]
    Publish(#[from] MediaError),
    #[error("publishing the ladder: {0}")]
    Publishing(#[from] PublishError),
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("subtitle: {0}")]
    BadSubtitle(String),
    #[error("no movie {0} that is ready")]
    NotReady(MovieId),
    #[error("the movie has no subtitles in {0:?}")]
    NoSuchSubtitle(String),
    #[error("{0}")]
    BadPoster(String),
    #[error("the playlist of {0} cannot be read; nothing was changed")]
    BadPlaylist(String),
    #[error("already in the library as {id} ({title:?})")]
    Duplicate { id: MovieId, title: String },
}

impl IngestError {
    pub(super) fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> IngestError {
        move |source| IngestError::Io { what, source }
    }
}
