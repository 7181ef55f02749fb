//! Turning a movie into an HLS ladder with ffmpeg. For now: finding ffmpeg and ffprobe.

pub mod tools;
