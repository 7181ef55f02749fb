//! Finding ffmpeg and ffprobe (never re-implemented, never downloaded unless asked): the
//! configured path, `STREAMD_FFMPEG` (mapped into the same key), a copy next to the streamd
//! executable (a release archive's bundled one), then `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::TranscodeConfig;

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(
        "ffmpeg not found (looked at transcode.ffmpeg, STREAMD_FFMPEG, next to streamd, and PATH); \
         install it (Debian: apt-get install ffmpeg) or set transcode.ffmpeg"
    )]
    NotFound,
    #[error("configured ffmpeg {0} does not exist or is not executable")]
    Configured(PathBuf),
    #[error("cannot run {path}: {source}")]
    Run {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
pub struct Tools {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| is_executable(p))
    })
}

/// ffprobe is looked for beside the ffmpeg found, then on PATH.
fn sibling_ffprobe(ffmpeg: &Path) -> Option<PathBuf> {
    let candidate = ffmpeg.with_file_name("ffprobe");
    is_executable(&candidate)
        .then_some(candidate)
        .or_else(|| on_path("ffprobe"))
}

impl Tools {
    pub fn locate(config: &TranscodeConfig) -> Result<Self, ToolError> {
        let ffmpeg = if let Some(configured) = &config.ffmpeg {
            if !is_executable(configured) {
                return Err(ToolError::Configured(configured.clone()));
            }
            configured.clone()
        } else {
            let beside_exe = std::env::current_exe()
                .ok()
                .map(|exe| exe.with_file_name("ffmpeg"))
                .filter(|p| is_executable(p));
            beside_exe
                .or_else(|| on_path("ffmpeg"))
                .ok_or(ToolError::NotFound)?
        };
        let ffprobe = sibling_ffprobe(&ffmpeg).ok_or(ToolError::NotFound)?;
        Ok(Tools { ffmpeg, ffprobe })
    }

    /// The first line of `-version`, e.g. `ffmpeg version 5.1.8-0+deb12u1 ...`.
    pub fn version(path: &Path) -> Result<String, ToolError> {
        let out = Command::new(path)
            .arg("-version")
            .output()
            .map_err(|source| ToolError::Run {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string())
    }

    /// Whether ffmpeg has the encoders a ladder needs.
    pub fn has_encoder(&self, name: &str) -> Result<bool, ToolError> {
        let out = Command::new(&self.ffmpeg)
            .args(["-hide_banner", "-encoders"])
            .output()
            .map_err(|source| ToolError::Run {
                path: self.ffmpeg.clone(),
                source,
            })?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(name)))
    }
}
