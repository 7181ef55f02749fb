//! Turning a movie into a segment-aligned HLS ladder with ffmpeg, as a durable job: probe the
//! source, plan the rungs, run one ffmpeg for all of them, measure, publish atomically.

pub mod command;
pub mod fmp4;
pub mod ladder;
pub mod master;
pub mod pipeline;
pub mod poster;
pub mod probe;
pub mod progress;
pub mod publish;
pub mod run;
pub mod subtitles;
pub mod thumbnails;
pub mod tools;
pub mod tracks;
pub mod worker;

pub use pipeline::{IngestError, Ingester, NewMovie, Outcome, enqueue};
pub use worker::Workers;
