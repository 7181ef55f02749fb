//! The validated runtime configuration: built-in defaults, then a TOML file, then `STREAMD_*`
//! environment variables, then command-line flags, checked once into one [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Every key the config file understands, by section. `example.toml` must document each one
/// (a unit test holds it to that), and `STREAMD_<SECTION>_<KEY>` overrides each one.
pub const KEYS: &[(&str, &[&str])] = &[
    (
        "server",
        &[
            "listen",
            "public_url",
            "data_dir",
            "request_timeout",
            "keep_alive",
        ],
    ),
    (
        "storage",
        &[
            "backend",
            "bucket",
            "region",
            "access_key",
            "secret_key",
            "endpoint",
            "public_endpoint",
        ],
    ),
    ("tokens", &["playback_ttl", "segment_grace", "url_window"]),
    (
        "transcode",
        &[
            "ffmpeg",
            "auto_download",
            "segment_seconds",
            "renditions",
            "preset",
            "quality",
            "codecs",
            "workers",
            "max_upload",
            "progressive",
        ],
    ),
    (
        "auth",
        &["session_ttl", "login_attempts_per_minute", "secure_cookies"],
    ),
    ("library", &["folders", "settle"]),
    ("backup", &["every", "keep", "key"]),
    ("protection", &["encrypt", "key_period", "session_idle"]),
    ("plans", &["free_screens", "premium_screens"]),
    (
        "tls",
        &[
            "domains",
            "acme_directory",
            "email",
            "ca_root",
            "cert",
            "key",
            "listen",
        ],
    ),
];

/// Let's Encrypt's production directory, the CA `tls.domains` gets certificates from unless
/// `tls.acme_directory` names another.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// Environment variables that are not config keys but are still ours (so they draw no warning).
const OTHER_ENV: &[&str] = &[
    "STREAMD_CONFIG",
    "STREAMD_DATA_DIR",
    "STREAMD_LISTEN",
    "STREAMD_FFMPEG",
    "STREAMD_LOG",
];

pub const RENDITION_LADDER: &[&str] = &["480p", "720p", "1080p", "2160p"];

/// How rungs spend bits (`transcode.quality`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    /// Every rung at its fixed bitrate, whatever the film shows (streamd before per-title
    /// rates; a predictable bill for bandwidth, and a reference to compare with).
    Fixed,
    /// A target quality per rung, capped at the fixed rates: easy films cost far less, hard
    /// ones never more. `Standard` looks like the fixed ladder at its best; `High` and
    /// `Archive` spend more for fewer visible artefacts on big screens.
    Standard,
    High,
    Archive,
}

impl Quality {
    pub const NAMES: &[(&str, Quality)] = &[
        ("fixed", Quality::Fixed),
        ("standard", Quality::Standard),
        ("high", Quality::High),
        ("archive", Quality::Archive),
    ];
}

/// The video codecs rows are made in (`transcode.codecs`). H.264 always: every browser plays
/// it; the others add a row for the players that decode them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    H264,
    Hevc,
    Av1,
}

impl VideoCodec {
    pub const NAMES: &[(&str, VideoCodec)] = &[
        ("h264", VideoCodec::H264),
        ("hevc", VideoCodec::Hevc),
        ("av1", VideoCodec::Av1),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("h264", |(n, _)| n)
    }

    /// The ffmpeg encoder its rows are made with.
    pub fn encoder(self) -> &'static str {
        match self {
            VideoCodec::H264 => "libx264",
            VideoCodec::Hevc => "libx265",
            VideoCodec::Av1 => "libsvtav1",
        }
    }
}

fn named<T: Copy>(key: &'static str, names: &[(&str, T)], value: &str) -> Result<T, ConfigError> {
    names
        .iter()
        .find(|(n, _)| *n == value)
        .map(|(_, v)| *v)
        .ok_or_else(|| ConfigError::Invalid {
            key,
            message: format!(
                "{value:?} is not one of {}",
                names.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ),
        })
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("config key {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    Local,
    S3,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub tokens: TokensConfig,
    pub transcode: TranscodeConfig,
    pub auth: AuthConfig,
    pub library: LibraryConfig,
    pub backup: BackupConfig,
    pub protection: ProtectionConfig,
    pub plans: PlansConfig,
    pub tls: TlsConfig,
}

/// HTTPS served by streamd itself (contract section 12).
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// Where certificates come from; `None`: no HTTPS (plain HTTP on `server.listen` only).
    pub certificates: Option<Certificates>,
    /// Where HTTPS is served (the bound address once serving).
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Certificates {
    /// Obtained from an ACME CA (HTTP-01 on `server.listen`) and renewed by streamd.
    Acme {
        domains: Vec<String>,
        directory: String,
        email: Option<String>,
        /// The root streamd trusts for the ACME server's own HTTPS (a private CA).
        ca_root: Option<PathBuf>,
    },
    /// PEM files the owner renews; read again when they change.
    Files { cert: PathBuf, key: PathBuf },
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        self.certificates.is_some()
    }

    /// The names certificates are asked for (none for files: they name what they name).
    pub fn domains(&self) -> &[String] {
        match &self.certificates {
            Some(Certificates::Acme { domains, .. }) => domains,
            _ => &[],
        }
    }
}

/// Which movies get encrypted segments (`protection.encrypt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encrypt {
    Off,
    Premium,
    All,
}

impl Encrypt {
    pub const NAMES: &[(&str, Encrypt)] = &[
        ("off", Encrypt::Off),
        ("premium", Encrypt::Premium),
        ("all", Encrypt::All),
    ];
}

/// Segment keys handed out per viewer (contract section 10).
#[derive(Debug, Clone)]
pub struct ProtectionConfig {
    pub encrypt: Encrypt,
    /// How much content one key covers.
    pub key_period: Duration,
    /// A playback session with no sign of life (a playlist, a key, a saved position) for this
    /// long no longer takes a screen.
    pub session_idle: Duration,
}

/// How many screens (playback sessions at once) each plan allows; 0 is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlansConfig {
    pub free_screens: u32,
    pub premium_screens: u32,
}

/// Scheduled backups into the object store (`backups/`), and the key they are encrypted with.
#[derive(Debug, Clone)]
pub struct BackupConfig {
    /// `None`: no scheduled backups.
    pub every: Option<Duration>,
    /// How many scheduled backups are kept; older ones are deleted.
    pub keep: usize,
    /// A file outside the data dir holding the backup secret (`STREAMD_BACKUP_KEY` wins).
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The base URL browsers and external players use, without a trailing slash.
    pub public_url: Option<String>,
    pub data_dir: PathBuf,
    /// How long a client may take to send a request's head: a slow (or Slowloris) client is
    /// answered 408 and dropped after it.
    pub request_timeout: Duration,
    /// How long an idle connection stays open for its next request. Players fetch a segment
    /// every few seconds, and a reader still draining a big socket buffer must find its
    /// connection open (over TLS, a new one costs a handshake).
    pub keep_alive: Duration,
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    pub bucket: String,
    pub region: String,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub endpoint: Option<String>,
    pub public_endpoint: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TokensConfig {
    pub playback_ttl: Duration,
    pub segment_grace: Duration,
    /// Segment (and poster, subtitle) URLs signed within one window are identical for every
    /// viewer, so a CDN keyed by the URL fetches each object once per window.
    pub url_window: Duration,
}

#[derive(Debug, Clone)]
pub struct TranscodeConfig {
    /// Largest upload accepted over HTTP, in bytes.
    pub max_upload: u64,
    pub ffmpeg: Option<PathBuf>,
    pub auto_download: bool,
    pub segment_seconds: u32,
    pub renditions: Vec<String>,
    pub preset: String,
    pub quality: Quality,
    /// H.264 first, then the extra codecs in the order given.
    pub codecs: Vec<VideoCodec>,
    pub workers: usize,
    /// Publish segments as they are encoded, so viewers can start before the end.
    pub progressive: bool,
}

/// Watched folders: scanned at start and watched; a new file is imported once its size and
/// time have not changed for `settle` (a copy in progress is never picked up half-written).
#[derive(Debug, Clone)]
pub struct LibraryConfig {
    pub folders: Vec<PathBuf>,
    pub settle: Duration,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub session_ttl: Duration,
    pub login_attempts_per_minute: u32,
    pub secure_cookies: bool,
}

/// What the command line adds on top of file and environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
}

// The file's shape: every field optional with a default, unknown keys refused by name.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    server: RawServer,
    storage: RawStorage,
    tokens: RawTokens,
    transcode: RawTranscode,
    auth: RawAuth,
    library: RawLibrary,
    backup: RawBackup,
    protection: RawProtection,
    plans: RawPlans,
    tls: RawTls,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTls {
    domains: Vec<String>,
    acme_directory: String,
    email: Option<String>,
    ca_root: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    listen: String,
}

impl Default for RawTls {
    fn default() -> Self {
        Self {
            domains: Vec::new(),
            acme_directory: LETS_ENCRYPT.into(),
            email: None,
            ca_root: None,
            cert: None,
            key: None,
            listen: "0.0.0.0:443".into(),
        }
    }
}

impl RawTls {
    fn validate(self) -> Result<TlsConfig, ConfigError> {
        let invalid = |key: &'static str, message: String| ConfigError::Invalid { key, message };
        let listen = self
            .listen
            .parse::<SocketAddr>()
            .map_err(|e| invalid("tls.listen", format!("{:?}: {e}", self.listen)))?;
        let path = |p: Option<PathBuf>| p.filter(|p| !p.as_os_str().is_empty());
        let (cert, key) = (path(self.cert), path(self.key));
        let domains: Vec<String> = self
            .domains
            .iter()
            .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        for d in &domains {
            // HTTP-01 proves one host name at a time: no wildcards, ports, schemes or paths.
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            };
            if d.parse::<std::net::IpAddr>().is_ok() {
                return Err(invalid(
                    "tls.domains",
                    format!(
                        "{d:?} is an IP address: certificates are for host names here (use tls.cert and tls.key for an address)"
                    ),
                ));
            }
            if d.len() > 253 || !d.split('.').all(label_ok) {
                return Err(invalid(
                    "tls.domains",
                    format!(
                        "{d:?} is not a host name (write it like \"tv.example.org\"; no wildcards, scheme or port)"
                    ),
                ));
            }
        }
        let certificates = match (domains.is_empty(), cert, key) {
            (true, None, None) => None,
            (false, None, None) => Some(Certificates::Acme {
                domains,
                directory: http_url("tls.acme_directory", Some(self.acme_directory))?
                    .ok_or_else(|| invalid("tls.acme_directory", "is empty".into()))?,
                email: non_empty(self.email).map(|e| e.trim().to_string()),
                ca_root: path(self.ca_root),
            }),
            (true, Some(cert), Some(key)) => Some(Certificates::Files { cert, key }),
            (true, Some(_), None) => {
                return Err(invalid("tls.key", "tls.cert is set without its key".into()));
            }
            (true, None, Some(_)) => {
                return Err(invalid(
                    "tls.cert",
                    "tls.key is set without a certificate".into(),
                ));
            }
            (false, _, _) => {
                return Err(invalid(
                    "tls.domains",
                    "set either tls.domains (certificates from an ACME CA) or tls.cert and \
                     tls.key (your own files), not both"
                        .into(),
                ));
            }
        };
        Ok(TlsConfig {
            certificates,
            listen,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPlans {
    free_screens: u32,
    premium_screens: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawProtection {
    encrypt: String,
    key_period: String,
    session_idle: String,
}

impl Default for RawProtection {
    fn default() -> Self {
        Self {
            encrypt: "off".into(),
            key_period: "10m".into(),
            session_idle: "2m".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawBackup {
    every: String,
    keep: usize,
    key: Option<PathBuf>,
}

impl Default for RawBackup {
    fn default() -> Self {
        Self {
            every: String::new(),
            keep: 7,
            key: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawLibrary {
    folders: Vec<PathBuf>,
    settle: String,
}

impl Default for RawLibrary {
    fn default() -> Self {
        Self {
            folders: Vec::new(),
            settle: "30s".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawServer {
    listen: String,
    public_url: Option<String>,
    data_dir: PathBuf,
    request_timeout: String,
    keep_alive: String,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            data_dir: PathBuf::from("./streamd-data"),
            request_timeout: "10s".into(),
            keep_alive: "60s".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStorage {
    backend: StorageBackend,
    bucket: String,
    region: String,
    access_key: Option<String>,
    secret_key: Option<String>,
    endpoint: Option<String>,
    public_endpoint: Option<String>,
}

impl Default for RawStorage {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Local,
            bucket: "media".into(),
            region: "us-east-1".into(),
            access_key: None,
            secret_key: None,
            endpoint: None,
            public_endpoint: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTokens {
    playback_ttl: String,
    segment_grace: String,
    url_window: String,
}

impl Default for RawTokens {
    fn default() -> Self {
        Self {
            playback_ttl: "6h".into(),
            segment_grace: "2h".into(),
            url_window: "15m".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTranscode {
    ffmpeg: Option<PathBuf>,
    auto_download: bool,
    segment_seconds: u32,
    renditions: Vec<String>,
    preset: String,
    quality: String,
    codecs: Vec<String>,
    workers: usize,
    max_upload: String,
    progressive: bool,
}

impl Default for RawTranscode {
    fn default() -> Self {
        Self {
            ffmpeg: None,
            auto_download: false,
            segment_seconds: 4,
            renditions: RENDITION_LADDER.iter().map(|r| r.to_string()).collect(),
            preset: "veryfast".into(),
            quality: "standard".into(),
            codecs: vec!["h264".into()],
            workers: 1,
            max_upload: "50GiB".into(),
            progressive: true,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAuth {
    session_ttl: String,
    login_attempts_per_minute: u32,
    secure_cookies: bool,
}

impl Default for RawAuth {
    fn default() -> Self {
        Self {
            session_ttl: "30d".into(),
            login_attempts_per_minute: 5,
            secure_cookies: false,
        }
    }
}

impl Config {
    /// Loads the configuration from the process environment.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_from(overrides, std::env::vars())
    }

    /// Loads from an explicit environment, so layering is testable without touching the process.
    pub fn load_from(
        overrides: &Overrides,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match &overrides.config_file {
            Some(path) => read_file(path)?,
            None => toml::Table::new(),
        };
        apply_env(&mut table, env)?;
        if let Some(dir) = &overrides.data_dir {
            set(
                &mut table,
                "server",
                "data_dir",
                dir.display().to_string().into(),
            );
        }
        if let Some(listen) = &overrides.listen {
            set(&mut table, "server", "listen", listen.clone().into());
        }
        let raw: RawConfig =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: overrides
                        .config_file
                        .clone()
                        .unwrap_or_else(|| PathBuf::from("(environment)")),
                    message: e.message().to_string(),
                })?;
        raw.validate()
    }

    /// The URL prefix that pages, playlists and the playback API hand out.
    pub fn public_base(&self) -> String {
        if let Some(url) = &self.server.public_url {
            return url.clone();
        }
        if let Some(domain) = self.tls.domains().first() {
            return format!("https://{domain}");
        }
        match self.tls.enabled() {
            true => origin("https", self.tls.listen, 443),
            false => origin("http", self.server.listen, 0),
        }
    }

    /// Cookies get `Secure` when asked for, or when the public URL is https anyway.
    pub fn secure_cookies(&self) -> bool {
        self.auth.secure_cookies || self.public_base().starts_with("https://")
    }
}

/// `scheme://host:port` for a bound address, without the port when it is the scheme's own.
/// A wildcard bind is reachable at loopback from this machine; a real deployment sets
/// public_url.
fn origin(scheme: &str, addr: SocketAddr, default_port: u16) -> String {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    match addr.port() == default_port {
        true => format!("{scheme}://{host}"),
        false => format!("{scheme}://{host}:{}", addr.port()),
    }
}

fn read_file(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let parse_error = |message: String| ConfigError::Parse {
        path: path.to_path_buf(),
        message,
    };
    // Parse once into the typed shape for messages with line numbers and the unknown key's name.
    toml::from_str::<RawConfig>(&text).map_err(|e| parse_error(e.to_string()))?;
    toml::from_str::<toml::Table>(&text).map_err(|e| parse_error(e.to_string()))
}

fn set(table: &mut toml::Table, section: &str, key: &str, value: toml::Value) {
    let entry = table
        .entry(section.to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(inner) = entry {
        inner.insert(key.to_string(), value);
    }
}

fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (var, value) in env {
        let Some(rest) = var.strip_prefix("STREAMD_") else {
            continue;
        };
        let (section, key) = match var.as_str() {
            "STREAMD_DATA_DIR" => ("server", "data_dir"),
            "STREAMD_LISTEN" => ("server", "listen"),
            "STREAMD_FFMPEG" => ("transcode", "ffmpeg"),
            // The backup secret itself, not a path for `backup.key`: read where it is used.
            "STREAMD_BACKUP_KEY" => continue,
            _ => match env_key(rest) {
                Some(found) => found,
                None => {
                    if !OTHER_ENV.contains(&var.as_str()) {
                        tracing::warn!(variable = %var, "unknown STREAMD_ variable ignored");
                    }
                    continue;
                }
            },
        };
        set(table, section, key, env_value(&var, &value)?);
    }
    Ok(())
}

fn env_key(rest: &str) -> Option<(&'static str, &'static str)> {
    let lower = rest.to_ascii_lowercase();
    KEYS.iter().find_map(|(section, keys)| {
        let key = lower.strip_prefix(section)?.strip_prefix('_')?;
        keys.iter().find(|k| **k == key).map(|k| (*section, *k))
    })
}

/// An env value is read as a TOML value when it is one (`10`, `true`, `["480p"]`), else as a
/// plain string, so `STREAMD_SERVER_LISTEN=0.0.0.0:80` needs no quotes.
fn env_value(var: &str, value: &str) -> Result<toml::Value, ConfigError> {
    let looks_structured = value.starts_with('[') || value.starts_with('"');
    match toml::from_str::<toml::Table>(&format!("v = {value}")) {
        Ok(mut t) => Ok(t.remove("v").unwrap_or_else(|| value.into())),
        Err(e) if looks_structured => Err(ConfigError::Env {
            var: var.to_string(),
            message: e.message().to_string(),
        }),
        Err(_) => Ok(toml::Value::String(value.to_string())),
    }
}

fn bounded_duration(
    key: &'static str,
    text: &str,
    range: std::ops::RangeInclusive<Duration>,
) -> Result<Duration, ConfigError> {
    let d = duration(key, text)?;
    if !range.contains(&d) {
        return Err(ConfigError::Invalid {
            key,
            message: format!(
                "{text:?} is outside {}..={}",
                humantime::format_duration(*range.start()),
                humantime::format_duration(*range.end())
            ),
        });
    }
    Ok(d)
}

fn duration(key: &'static str, text: &str) -> Result<Duration, ConfigError> {
    let d = humantime::parse_duration(text).map_err(|e| ConfigError::Invalid {
        key,
        message: format!("{e} (write it like \"90s\", \"10m\", \"6h\" or \"30d\")"),
    })?;
    if d.is_zero() {
        return Err(ConfigError::Invalid {
            key,
            message: "must be longer than zero".into(),
        });
    }
    Ok(d)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn http_url(key: &'static str, value: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(text) = non_empty(value).map(|v| v.trim().to_string()) else {
        return Ok(None);
    };
    let invalid = |why: &str| ConfigError::Invalid {
        key,
        message: format!("{text:?} {why}"),
    };
    // The URL is glued in front of paths and signed into S3 requests, so it must be a plain
    // base: a scheme we speak, a host, nothing after the path.
    if !(text.starts_with("http://") || text.starts_with("https://")) {
        return Err(invalid("must start with http:// or https://"));
    }
    let url = url::Url::parse(&text).map_err(|e| match e {
        url::ParseError::EmptyHost => invalid("has no host name"),
        e => invalid(&format!("is not a URL: {e}")),
    })?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a ?query or #fragment"));
    }
    // The parsed form: "http://TV.example.org:80/" and "http://tv.example.org" sign alike.
    Ok(Some(url.as_str().trim_end_matches('/').to_string()))
}

impl RawConfig {
    fn validate(self) -> Result<Config, ConfigError> {
        let listen =
            self.server
                .listen
                .parse::<SocketAddr>()
                .map_err(|e| ConfigError::Invalid {
                    key: "server.listen",
                    message: format!("{:?}: {e} (expected IP:PORT)", self.server.listen),
                })?;
        let public_url = http_url("server.public_url", self.server.public_url)?;

        let s = self.storage;
        let endpoint = http_url("storage.endpoint", s.endpoint)?;
        let public_endpoint = http_url("storage.public_endpoint", s.public_endpoint)?;
        if s.backend == StorageBackend::S3 && endpoint.is_none() {
            return Err(ConfigError::Invalid {
                key: "storage.endpoint",
                message: "backend \"s3\" needs the service's endpoint URL".into(),
            });
        }
        let bucket_ok = (3..=63).contains(&s.bucket.len())
            && s.bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(ConfigError::Invalid {
                key: "storage.bucket",
                message: format!(
                    "{:?} is not an S3 bucket name (3-63 of a-z 0-9 . -)",
                    s.bucket
                ),
            });
        }

        let t = self.transcode;
        if !(1..=30).contains(&t.segment_seconds) {
            return Err(ConfigError::Invalid {
                key: "transcode.segment_seconds",
                message: format!("{} is outside 1..=30", t.segment_seconds),
            });
        }
        if t.renditions.is_empty() {
            return Err(ConfigError::Invalid {
                key: "transcode.renditions",
                message: "name at least one of 480p, 720p, 1080p, 2160p".into(),
            });
        }
        if let Some(bad) = t
            .renditions
            .iter()
            .find(|r| !RENDITION_LADDER.contains(&r.as_str()))
        {
            return Err(ConfigError::Invalid {
                key: "transcode.renditions",
                message: format!("{bad:?} is not one of 480p, 720p, 1080p, 2160p"),
            });
        }
        if !(1..=16).contains(&t.workers) {
            return Err(ConfigError::Invalid {
                key: "transcode.workers",
                message: format!("{} is outside 1..=16", t.workers),
            });
        }
        if t.auto_download {
            return Err(ConfigError::Invalid {
                key: "transcode.auto_download",
                message: "this streamd is built without ffmpeg-sidecar's downloader (it never \
                          downloads anything); install ffmpeg (Debian: apt-get install ffmpeg) \
                          or set transcode.ffmpeg"
                    .into(),
            });
        }
        let max_upload = t
            .max_upload
            .parse::<bytesize::ByteSize>()
            .map_err(|e| ConfigError::Invalid {
                key: "transcode.max_upload",
                message: format!(
                    "{:?}: {e} (write it like \"500MB\" or \"20GiB\")",
                    t.max_upload
                ),
            })?
            .as_u64();
        const PRESETS: &[&str] = &[
            "ultrafast",
            "superfast",
            "veryfast",
            "faster",
            "fast",
            "medium",
            "slow",
            "slower",
            "veryslow",
            "placebo",
        ];
        if !PRESETS.contains(&t.preset.as_str()) {
            return Err(ConfigError::Invalid {
                key: "transcode.preset",
                message: format!(
                    "{:?} is not an x264 preset ({})",
                    t.preset,
                    PRESETS.join(", ")
                ),
            });
        }
        let quality = named("transcode.quality", Quality::NAMES, &t.quality)?;
        let mut codecs = vec![VideoCodec::H264];
        for name in &t.codecs {
            let codec = named("transcode.codecs", VideoCodec::NAMES, name)?;
            if !codecs.contains(&codec) {
                codecs.push(codec);
            }
        }
        if !t.codecs.iter().any(|c| c == "h264") {
            return Err(ConfigError::Invalid {
                key: "transcode.codecs",
                message: "must include \"h264\": it is the only codec every browser plays".into(),
            });
        }
        let backup_every = match self.backup.every.trim() {
            "" | "off" => None,
            text => Some(bounded_duration(
                "backup.every",
                text,
                Duration::from_secs(1)..=Duration::from_secs(366 * 86400),
            )?),
        };
        if !(1..=1000).contains(&self.backup.keep) {
            return Err(ConfigError::Invalid {
                key: "backup.keep",
                message: format!("{} is outside 1..=1000", self.backup.keep),
            });
        }
        if self.auth.login_attempts_per_minute == 0 {
            return Err(ConfigError::Invalid {
                key: "auth.login_attempts_per_minute",
                message: "must be at least 1".into(),
            });
        }

        Ok(Config {
            server: ServerConfig {
                listen,
                public_url,
                data_dir: self.server.data_dir,
                request_timeout: bounded_duration(
                    "server.request_timeout",
                    &self.server.request_timeout,
                    Duration::from_secs(1)..=Duration::from_secs(300),
                )?,
                keep_alive: bounded_duration(
                    "server.keep_alive",
                    &self.server.keep_alive,
                    Duration::from_secs(1)..=Duration::from_secs(3600),
                )?,
            },
            storage: StorageConfig {
                backend: s.backend,
                bucket: s.bucket,
                region: s.region,
                access_key: non_empty(s.access_key),
                secret_key: non_empty(s.secret_key),
                endpoint,
                public_endpoint,
            },
            tokens: TokensConfig {
                playback_ttl: duration("tokens.playback_ttl", &self.tokens.playback_ttl)?,
                segment_grace: duration("tokens.segment_grace", &self.tokens.segment_grace)?,
                url_window: bounded_duration(
                    "tokens.url_window",
                    &self.tokens.url_window,
                    Duration::from_secs(1)..=Duration::from_secs(24 * 3600),
                )?,
            },
            transcode: TranscodeConfig {
                max_upload,
                ffmpeg: t.ffmpeg.filter(|p| !p.as_os_str().is_empty()),
                auto_download: t.auto_download,
                segment_seconds: t.segment_seconds,
                renditions: t.renditions,
                preset: t.preset,
                quality,
                codecs,
                workers: t.workers,
                progressive: t.progressive,
            },
            auth: AuthConfig {
                session_ttl: duration("auth.session_ttl", &self.auth.session_ttl)?,
                login_attempts_per_minute: self.auth.login_attempts_per_minute,
                secure_cookies: self.auth.secure_cookies,
            },
            library: LibraryConfig {
                folders: self.library.folders,
                settle: duration("library.settle", &self.library.settle)?,
            },
            protection: ProtectionConfig {
                encrypt: named(
                    "protection.encrypt",
                    Encrypt::NAMES,
                    &self.protection.encrypt,
                )?,
                key_period: bounded_duration(
                    "protection.key_period",
                    &self.protection.key_period,
                    Duration::from_secs(1)..=Duration::from_secs(24 * 3600),
                )?,
                session_idle: bounded_duration(
                    "protection.session_idle",
                    &self.protection.session_idle,
                    Duration::from_secs(1)..=Duration::from_secs(24 * 3600),
                )?,
            },
            plans: PlansConfig {
                free_screens: self.plans.free_screens,
                premium_screens: self.plans.premium_screens,
            },
            tls: self.tls.validate()?,
            backup: BackupConfig {
                every: backup_every,
                keep: self.backup.keep,
                key: self.backup.key.filter(|p| !p.as_os_str().is_empty()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn file(text: &str) -> (tempfile::NamedTempFile, Overrides) {
        let f = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(f.path(), text).expect("write");
        let o = Overrides {
            config_file: Some(f.path().to_path_buf()),
            ..Default::default()
        };
        (f, o)
    }

    #[test]
    fn defaults_need_no_file() {
        let c = Config::load_from(&Overrides::default(), env(&[])).expect("defaults");
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.server.data_dir, PathBuf::from("./streamd-data"));
        assert_eq!(c.storage.bucket, "media");
        assert_eq!(c.storage.region, "us-east-1");
        assert_eq!(c.transcode.segment_seconds, 4);
        assert_eq!(c.transcode.renditions, RENDITION_LADDER);
        assert_eq!(c.auth.login_attempts_per_minute, 5);
        assert_eq!(c.transcode.max_upload, 50 * 1024 * 1024 * 1024);
        assert_eq!(c.auth.session_ttl, Duration::from_secs(30 * 86400));
        assert_eq!(c.public_base(), "http://127.0.0.1:8080");
    }

    #[test]
    fn file_then_env_then_flags_each_win_over_the_one_before() {
        let (_f, mut o) = file(
            "[server]\nlisten = \"127.0.0.1:9000\"\ndata_dir = \"/from/file\"\n\
             [auth]\nsession_ttl = \"1h\"\nlogin_attempts_per_minute = 7\n",
        );
        let c = Config::load_from(&o, env(&[])).expect("file");
        assert_eq!(c.server.listen.port(), 9000);
        assert_eq!(c.auth.session_ttl, Duration::from_secs(3600));
        assert_eq!(c.auth.login_attempts_per_minute, 7);

        let e = env(&[
            ("STREAMD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE", "9"),
            ("STREAMD_LISTEN", "127.0.0.1:9100"),
            ("STREAMD_TRANSCODE_RENDITIONS", "[\"480p\", \"720p\"]"),
            ("STREAMD_DATA_DIR", "/from/env"),
        ]);
        let c = Config::load_from(&o, e.clone()).expect("env");
        assert_eq!(c.auth.login_attempts_per_minute, 9);
        assert_eq!(c.server.listen.port(), 9100);
        assert_eq!(c.transcode.renditions, vec!["480p", "720p"]);
        assert_eq!(c.server.data_dir, PathBuf::from("/from/env"));
        assert_eq!(c.auth.session_ttl, Duration::from_secs(3600), "file kept");

        o.listen = Some("127.0.0.1:9200".into());
        o.data_dir = Some(PathBuf::from("/from/flag"));
        let c = Config::load_from(&o, e).expect("flags");
        assert_eq!(c.server.listen.port(), 9200);
        assert_eq!(c.server.data_dir, PathBuf::from("/from/flag"));
    }

    #[test]
    fn unknown_key_is_an_error_that_names_it() {
        let (_f, o) = file("[auth]\nsesion_ttl = \"1h\"\n");
        let err = Config::load_from(&o, env(&[])).expect_err("typo refused");
        assert!(err.to_string().contains("sesion_ttl"), "{err}");
        let (_f, o) = file("[nosuch]\nx = 1\n");
        let err = Config::load_from(&o, env(&[])).expect_err("section refused");
        assert!(err.to_string().contains("nosuch"), "{err}");
    }

    #[test]
    fn malformed_values_are_explained() {
        for (text, key) in [
            ("[server]\nlisten = \"localhost\"\n", "server.listen"),
            ("[auth]\nsession_ttl = \"forever\"\n", "auth.session_ttl"),
            (
                "[transcode]\nrenditions = [\"4k\"]\n",
                "transcode.renditions",
            ),
            (
                "[transcode]\nsegment_seconds = 0\n",
                "transcode.segment_seconds",
            ),
            ("[storage]\nbackend = \"s3\"\n", "storage.endpoint"),
            ("[storage]\nbucket = \"Bad_Bucket\"\n", "storage.bucket"),
            (
                "[transcode]\nmax_upload = \"lots\"\n",
                "transcode.max_upload",
            ),
            ("[transcode]\npreset = \"warp\"\n", "transcode.preset"),
            ("[transcode]\nquality = \"best\"\n", "transcode.quality"),
            ("[transcode]\ncodecs = [\"vp9\"]\n", "transcode.codecs"),
            ("[transcode]\ncodecs = [\"hevc\"]\n", "transcode.codecs"),
            (
                "[transcode]\nauto_download = true\n",
                "transcode.auto_download",
            ),
        ] {
            let (_f, o) = file(text);
            let err = Config::load_from(&o, env(&[])).expect_err(text);
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
        let (_f, o) = file("[server\nlisten=");
        let err = Config::load_from(&o, env(&[])).expect_err("broken toml");
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
    }

    #[test]
    fn https_public_url_forces_secure_cookies() {
        let (_f, o) = file("[server]\npublic_url = \"https://tv.example.org/\"\n");
        let c = Config::load_from(&o, env(&[])).expect("config");
        assert!(c.secure_cookies());
        assert_eq!(c.public_base(), "https://tv.example.org");
    }

    #[test]
    fn tls_domains_make_the_public_url_https_on_the_first_domain() {
        let (_f, o) = file("[tls]\ndomains = [\"TV.example.org.\", \"www.example.org\"]\n");
        let c = Config::load_from(&o, env(&[])).expect("config");
        assert!(c.tls.enabled() && c.secure_cookies());
        assert_eq!(c.tls.domains(), ["tv.example.org", "www.example.org"]);
        assert_eq!(c.public_base(), "https://tv.example.org");
        assert_eq!(c.tls.listen.to_string(), "0.0.0.0:443");
        match &c.tls.certificates {
            Some(Certificates::Acme { directory, .. }) => assert_eq!(directory, LETS_ENCRYPT),
            other => panic!("{other:?}"),
        }
        // public_url wins; files name no domain, so the TLS listener's address stands in.
        let (_f, o) = file(
            "[server]\npublic_url = \"https://tv.example.org:8443\"\n[tls]\ndomains = [\"tv.example.org\"]\n",
        );
        let c = Config::load_from(&o, env(&[])).expect("config");
        assert_eq!(c.public_base(), "https://tv.example.org:8443");
        let (_f, o) =
            file("[tls]\ncert = \"/c.pem\"\nkey = \"/k.pem\"\nlisten = \"127.0.0.1:8443\"\n");
        let c = Config::load_from(&o, env(&[])).expect("config");
        assert_eq!(c.public_base(), "https://127.0.0.1:8443");
        assert!(c.secure_cookies());
        let c = Config::load_from(&Overrides::default(), env(&[])).expect("defaults");
        assert!(!c.tls.enabled() && !c.secure_cookies());
    }

    #[test]
    fn tls_settings_that_cannot_work_are_refused_by_name() {
        for (text, key, why) in [
            (
                "domains = [\"*.example.org\"]",
                "tls.domains",
                "not a host name",
            ),
            (
                "domains = [\"https://tv.example.org\"]",
                "tls.domains",
                "not a host name",
            ),
            (
                "domains = [\"tv.example.org:443\"]",
                "tls.domains",
                "not a host name",
            ),
            ("domains = [\"192.0.2.7\"]", "tls.domains", "IP address"),
            (
                "domains = [\"a\"]\ncert = \"/c\"\nkey = \"/k\"",
                "tls.domains",
                "not both",
            ),
            ("cert = \"/c\"", "tls.key", "without its key"),
            ("key = \"/k\"", "tls.cert", "without a certificate"),
            (
                "domains = [\"a\"]\nacme_directory = \"ftp://x\"",
                "tls.acme_directory",
                "http",
            ),
            ("listen = \"443\"", "tls.listen", "443"),
        ] {
            let (_f, o) = file(&format!("[tls]\n{text}\n"));
            let e = Config::load_from(&o, env(&[])).expect_err(text).to_string();
            assert!(e.contains(key) && e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn urls_without_a_host_or_with_a_query_are_refused() {
        // Found by fuzzing: "http://" was accepted and trimmed to "http:".
        for (url, why) in [
            ("http://", "no host"),
            ("http://:8080/movies", "no host"),
            ("http://tv.example.org/?a=b", "query"),
            ("http://tv.example.org/#top", "fragment"),
            ("http://tv example.org", "not a URL"),
            ("ftp://tv.example.org", "http://"),
        ] {
            let e = Config::load_from(
                &Overrides::default(),
                env(&[("STREAMD_SERVER_PUBLIC_URL", url)]),
            )
            .expect_err(url)
            .to_string();
            assert!(
                e.contains("server.public_url") && e.contains(why),
                "{url}: {e}"
            );
        }
        let c = Config::load_from(
            &Overrides::default(),
            env(&[(
                "STREAMD_STORAGE_PUBLIC_ENDPOINT",
                " https://cdn.example.org:8443/media/ ",
            )]),
        )
        .expect("a base with a port and a path is fine");
        assert_eq!(
            c.storage.public_endpoint.as_deref(),
            Some("https://cdn.example.org:8443/media")
        );
    }

    #[test]
    fn example_toml_documents_every_key() {
        let text = include_str!("../example.toml");
        // Optional keys stand commented out as `# key = value`: switch them on to parse.
        let switched_on: String = text
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if KEYS
                        .iter()
                        .any(|(_, ks)| ks.iter().any(|k| rest.starts_with(&format!("{k} =")))) =>
                {
                    rest
                }
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let table: toml::Table = toml::from_str(&switched_on).expect("example parses");
        for (section, keys) in KEYS {
            for key in *keys {
                assert!(
                    text.contains(&format!("[{section}]")) && text.contains(&format!("{key} =")),
                    "example.toml lacks {section}.{key}"
                );
            }
        }
        // And the example itself, with every commented key switched on, is a valid config.
        let f = tempfile::NamedTempFile::new().expect("temp");
        let mut table = table;
        if let Some(toml::Value::Table(storage)) = table.get_mut("storage") {
            storage.insert("backend".into(), "local".into());
        }
        std::fs::write(f.path(), toml::to_string(&table).expect("toml")).expect("write");
        let o = Overrides {
            config_file: Some(f.path().to_path_buf()),
            ..Default::default()
        };
        Config::load_from(&o, env(&[])).expect("example.toml is valid");
    }
}
