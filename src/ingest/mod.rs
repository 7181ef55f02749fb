//! Turning a movie into a segment-aligned HLS ladder with ffmpeg, as a durable job. A job runs
//! as steps (`pipeline`): source facts and `plan`, what is already published (`resume`), the
//! `encode`s, then `finish`; the rest are the pieces those steps use.

pub mod command;
pub mod encode;
pub mod encrypt;
pub mod error;
pub mod fingerprint;
pub mod finish;
pub mod fmp4;
pub mod ladder;
pub mod master;
pub mod pipeline;
pub mod plan;
pub mod poster;
pub mod probe;
pub mod progress;
pub mod publish;
pub mod queue;
pub mod resume;
pub mod run;
pub mod subtitle_tracks;
pub mod subtitles;
pub mod thumbnails;
pub mod tools;
pub mod tracks;
pub mod worker;

pub use error::IngestError;
pub use pipeline::{Ingester, Outcome};
pub use queue::{NewMovie, enqueue};
pub use worker::Workers;
