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

    https(&mut r, config, running.as_ref());
    backups(&mut r, config);

    if r.failures > 0 {
        bail!("{} check(s) failed", r.failures);
    }
    Ok(())
}

/// Built-in HTTPS: its port, and the certificate being served (from the files, or what the
/// server's certificate manager last recorded).
fn https(r: &mut Report, config: &Config, running: Option<&RunningServer>) {
    use crate::config::Certificates;
    use crate::tls::{acme::Paths, certs, status::StatusFile};
    let Some(certificates) = &config.tls.certificates else {
        if !config.public_base().starts_with("https://") {
            r.warn(
                "https",
                "off: set [tls] domains for certificates from Let's Encrypt, or put a TLS proxy in front",
            );
        }
        return;
    };
    let listen = config.tls.listen;
    match TcpListener::bind(listen) {
        Ok(_) => r.ok("https", format!("{listen} is free")),
        Err(_) if running.is_some() => r.ok("https", format!("{listen} (the running server's)")),
        Err(e) => r.fail("https", format!("{listen}: {e} (set tls.listen)")),
    }
    let describe = |info: &certs::CertInfo| {
        format!(
            "{} from {}, valid until {} ({})",
            info.names.join(", "),
            info.issuer,
            when(info.not_after),
            from_now(info.not_after)
        )
    };
    match certificates {
        Certificates::Files { cert, key } => match certs::read_files(cert, key) {
            Ok(loaded) if loaded.info.not_after <= now() => {
                r.fail("cert", format!("expired: {}", describe(&loaded.info)))
            }
            Ok(loaded) => r.ok("cert", describe(&loaded.info)),
            Err(e) => r.fail("cert", e),
        },
        Certificates::Acme {
            domains, directory, ..
        } => {
            let paths = Paths::new(&config.server.data_dir);
            let status = StatusFile::read(&paths.status());
            match paths.stored() {
                Some(stored) if stored.info.covers(domains) => r.ok(
                    "cert",
                    format!(
                        "{}; renewal from {directory} due {} ({})",
                        describe(&stored.info),
                        when(stored.info.renew_at()),
                        from_now(stored.info.renew_at())
                    ),
                ),
                Some(stored) => r.warn(
                    "cert",
                    format!(
                        "the stored one ({}) does not cover {}: the server orders a new one",
                        describe(&stored.info),
                        domains.join(", ")
                    ),
                ),
                None => r.warn(
                    "cert",
                    format!("none yet: the server orders one from {directory} when it runs"),
                ),
            }
            if let Some(status) = status
                && let Some(error) = &status.last_error
            {
                let next = status
                    .next_attempt
                    .map(|t| format!("; next attempt {}", from_now(t)))
                    .unwrap_or_default();
                r.warn("renewal", format!("the last attempt failed: {error}{next}"));
            }
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn when(unix: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// "in 2days 3h", "4m ago".
fn from_now(unix: i64) -> String {
    let d = |s: i64| humantime::format_duration(std::time::Duration::from_secs(s as u64));
    match unix - now() {
        s if s >= 0 => format!("in {}", d(s)),
        s => format!("{} ago", d(-s)),
    }
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
