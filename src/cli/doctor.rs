//! `streamd doctor`: checks what a working install needs and says what to fix.

use std::net::TcpListener;
use std::path::Path;

use anyhow::bail;

use crate::config::Config;
use crate::ingest::tools::Tools;
use crate::runtime::{RunningServer, prepare_data_dir};
use crate::store::{Store, StoreError};

struct Report {
    failures: usize,
}

impl Report {
    fn ok(&mut self, what: &str, detail: impl std::fmt::Display) {
        println!("ok    {what:<10} {detail}");
    }
    fn warn(&mut self, what: &str, detail: impl std::fmt::Display) {
        println!("warn  {what:<10} {detail}");
    }
    fn fail(&mut self, what: &str, detail: impl std::fmt::Display) {
        self.failures += 1;
        println!("FAIL  {what:<10} {detail}");
    }
}

pub fn run(config: &Config, config_file: Option<&Path>) -> anyhow::Result<()> {
    let mut r = Report { failures: 0 };
    match config_file {
        Some(f) => r.ok("config", format!("{} is valid", f.display())),
        None => r.ok("config", "built-in defaults (no --config)"),
    }

    let data_dir = &config.server.data_dir;
    let running = RunningServer::read(data_dir);
    match prepare_data_dir(data_dir) {
        Ok(()) => r.ok("data dir", format!("{} is writable", data_dir.display())),
        Err(e) => r.fail("data dir", e),
    }
    match Store::open(data_dir) {
        Ok(store) => r.ok(
            "database",
            format!("schema version {}", store.schema_version().unwrap_or(0)),
        ),
        Err(StoreError::Locked { .. }) => match &running {
            Some(s) => r.ok(
                "database",
                format!("held by the running server (pid {})", s.pid),
            ),
            None => r.fail(
                "database",
                "locked by a process that is not a streamd server",
            ),
        },
        Err(e) => r.fail("database", e),
    }

    match Tools::locate(&config.transcode) {
        Ok(tools) => {
            for (name, path) in [("ffmpeg", &tools.ffmpeg), ("ffprobe", &tools.ffprobe)] {
                match Tools::version(path) {
                    Ok(v) => r.ok(name, format!("{} ({v})", path.display())),
                    Err(e) => r.fail(name, e),
                }
            }
            let video = config.transcode.codecs.iter().map(|c| c.encoder());
            for encoder in video.chain(["aac"]) {
                match tools.has_encoder(encoder) {
                    Ok(true) => r.ok("encoder", format!("{encoder} available")),
                    Ok(false) => r.fail(
                        "encoder",
                        format!("{encoder} missing from this ffmpeg build"),
                    ),
                    Err(e) => r.fail("encoder", e),
                }
            }
        }
        Err(e) => r.fail("ffmpeg", e),
    }

    let listen = config.server.listen;
    match TcpListener::bind(listen) {
        Ok(_) => r.ok("port", format!("{listen} is free")),
        Err(_)
            if running
                .as_ref()
                .is_some_and(|s| s.listen.port() == listen.port()) =>
        {
            r.ok(
                "port",
                format!("{listen} is in use by this data dir's server"),
            )
        }
        Err(e) => r.fail(
            "port",
            format!("{listen}: {e} (pick another with --listen)"),
        ),
    }
    if config.server.public_url.is_none() && listen.ip().is_unspecified() {
        r.warn(
            "public url",
            "listening on all interfaces without server.public_url: links will name 127.0.0.1",
        );
    }

    let own = crate::library::OwnFolders::of(data_dir, &config.library.folders);
    for folder in &config.library.folders {
        match own.inside(folder).first() {
            Some(inside) => r.warn(
                "library",
                format!(
                    "{} holds streamd's own data ({}): it is skipped; better keep the data dir outside library folders",
                    folder.display(),
                    inside.display()
                ),
            ),
            None if folder.is_dir() => r.ok("library", format!("{} is watched", folder.display())),
            None => r.warn("library", format!("{} does not exist (yet)", folder.display())),
        }
    }

    backups(&mut r, config);

    if r.failures > 0 {
        bail!("{} check(s) failed", r.failures);
    }
    Ok(())
}

/// Scheduled backups: their key, and the newest in the store.
fn backups(r: &mut Report, config: &Config) {
    let Some(every) = config.backup.every else {
        r.warn(
            "backups",
            "none scheduled: set [backup] every, or take them with `streamd backup FILE`",
        );
        return;
    };
    match crate::backup::BackupKey::find(config, None) {
        Ok(Some(key)) => r.ok("backup key", format!("from {}", key.source())),
        Ok(None) => r.fail(
            "backup key",
            "backup.every is set but there is no key: set backup.key or STREAMD_BACKUP_KEY",
        ),
        Err(e) => r.fail("backup key", e),
    }
    let newest = crate::media::Bucket::from_config(config, None)
        .map_err(|e| e.to_string())
        .and_then(|b| crate::backup::shelf::list(&b).map_err(|e| e.to_string()));
    let every = humantime::format_duration(every);
    match newest {
        Ok(all) => match all.last() {
            Some(b) => r.ok(
                "backups",
                format!(
                    "every {every}, {} kept; newest {} ({} bytes)",
                    all.len(),
                    b.taken_at,
                    b.bytes
                ),
            ),
            None => r.warn("backups", format!("every {every}; none in the store yet")),
        },
        Err(e) => r.fail("backups", format!("cannot list backups/ in the store: {e}")),
    }
}
