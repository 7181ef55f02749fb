//! streamd: a self-hosted video-on-demand server. A movie goes in (ffmpeg makes an HLS ladder),
//! an adaptive stream comes out, only to the people entitled to it.

pub mod auth;
pub mod backup;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod ids;
pub mod ingest;
pub mod library;
pub mod manage;
pub mod media;
pub mod playlist;
pub mod runtime;
pub mod secrets;
pub mod server;
pub mod store;
pub mod tls;
pub mod web;
pub mod webvtt;
