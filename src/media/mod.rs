//! The object store that holds published ladders (CONTRACT.md section 4 keys), and how players
//! reach it: the built-in store on local disk (served under `/s3/` of streamd itself), or an
//! external S3-compatible service. Segment URLs are presigned the same way for both.

pub mod bucket;
pub mod inventory;
pub mod local;
pub mod s3;
pub mod segment_keys;
pub mod sigv4;

use std::path::Path;
use std::time::{Duration, SystemTime};

pub use bucket::Bucket;
pub use local::LocalMedia;

use crate::config::{Config, StorageBackend};
use crate::ids::MovieId;
use crate::secrets::Secrets;
use sigv4::{Batch, Signer, uri_encode};

/// `movies/{id}`: the prefix every object of a movie lives under.
pub fn movie_prefix(id: &MovieId) -> String {
    format!("movies/{id}")
}

/// What HLS playlists are served as (RFC 8216 section 4).
pub const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";
/// What WebVTT files (subtitles, the thumbnails track) are served as.
pub const WEBVTT_TYPE: &str = "text/vtt; charset=utf-8";

/// The media type of each kind of object a ladder holds, by file extension: what the built-in
/// store answers with, and what uploads to an S3 service declare (S3 answers a GET with the type
/// given at upload, `binary/octet-stream` when none was).
pub const CONTENT_TYPES: &[(&str, &str)] = &[
    ("ts", "video/mp2t"),
    ("m3u8", PLAYLIST_TYPE),
    ("m4s", "video/iso.segment"),
    ("mp4", "video/mp4"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("vtt", WEBVTT_TYPE),
];

pub fn content_type(key: &str) -> &'static str {
    let extension = key.rsplit_once('.').map_or("", |(_, e)| e);
    CONTENT_TYPES
        .iter()
        .find(|(e, _)| *e == extension)
        .map_or("application/octet-stream", |(_, mime)| mime)
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("object {0} not found")]
    NotFound(String),
    #[error("object store: {0}")]
    Io(String),
}

/// Where players fetch objects from: scheme and authority, and the path before `/{bucket}`.
#[derive(Debug, Clone)]
struct Endpoint {
    origin: String,
    host: String,
    path_prefix: String,
}

impl Endpoint {
    fn parse(url: &str, extra_path: &str) -> Endpoint {
        let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
        let (host, path) = rest
            .split_once('/')
            .map(|(h, p)| (h, format!("/{p}")))
            .unwrap_or((rest, String::new()));
        Endpoint {
            origin: format!("{scheme}://{host}"),
            host: host.to_string(),
            path_prefix: format!("{}{extra_path}", path.trim_end_matches('/')),
        }
    }
}

/// The signing time and `X-Amz-Expires` for a link handed out at `now`: signed at the start of
/// the `window` it falls in, valid for the window plus `lifetime`, so a link handed out at the
/// window's last second still lives `lifetime`, and every link to one object within a window
/// is the same string: a CDN keyed by the URL fetches the object once per window, not once per
/// viewer (S3 accepts a signing time in the past while within the expiry).
pub fn shared_window(
    now: SystemTime,
    window: Duration,
    lifetime: Duration,
) -> (SystemTime, Duration) {
    let step = window.as_secs().max(1);
    let t = sigv4::unix(now);
    let start = std::time::UNIX_EPOCH + Duration::from_secs(t - t % step);
    (start, Duration::from_secs(step) + lifetime)
}

pub struct Media {
    pub local: LocalMedia,
    /// Set when `storage.backend = "s3"`: published ladders live there, not on local disk.
    external: Option<s3::S3Media>,
    signer: Signer,
    endpoint: Endpoint,
    bucket: String,
    url_window: Duration,
}

impl Media {
    pub fn new(config: &Config, secrets: &Secrets) -> Result<Media, MediaError> {
        let endpoint = match config.storage.backend {
            StorageBackend::Local => Endpoint::parse(&config.public_base(), "/s3"),
            StorageBackend::S3 => {
                let url = config
                    .storage
                    .public_endpoint
                    .as_deref()
                    .or(config.storage.endpoint.as_deref())
                    .unwrap_or_default();
                Endpoint::parse(url, "")
            }
        };
        let external = match config.storage.backend {
            StorageBackend::Local => None,
            StorageBackend::S3 => Some(s3::S3Media::new(
                &config.storage,
                &secrets.storage_access_key,
                &secrets.storage_secret_key,
            )?),
        };
        Ok(Media {
            local: LocalMedia::new(&config.server.data_dir, &config.storage.bucket),
            external,
            signer: Signer::new(
                &secrets.storage_access_key,
                &secrets.storage_secret_key,
                &config.storage.region,
            ),
            endpoint,
            bucket: config.storage.bucket.clone(),
            url_window: config.tokens.url_window,
        })
    }

    /// Publishes one more rendition directory of an already published movie (a subtitle
    /// added later) as `movies/{id}/{part}/`. Blocking.
    pub fn publish_part(&self, staged: &Path, id: &MovieId, part: &str) -> Result<(), MediaError> {
        match &self.external {
            None => self
                .local
                .publish_part(staged, id, part)
                .map_err(|e| MediaError::Io(e.to_string())),
            Some(s3) => {
                let prefix = format!("{}/{part}", movie_prefix(id));
                let uploaded = on_own_runtime(s3.upload_dir(staged, &prefix));
                if uploaded.is_err() {
                    let _ = on_own_runtime(s3.delete_prefix(&prefix));
                }
                uploaded?;
                let _ = std::fs::remove_dir_all(staged);
                Ok(())
            }
        }
    }

    /// Removes one rendition directory of a movie. Blocking.
    pub fn delete_part(&self, id: &MovieId, part: &str) -> Result<(), MediaError> {
        self.local
            .delete_part(id, part)
            .map_err(|e| MediaError::Io(e.to_string()))?;
        if let Some(s3) = &self.external {
            on_own_runtime(s3.delete_prefix(&format!("{}/{part}", movie_prefix(id))))?;
        }
        Ok(())
    }

    /// Replaces one small object of a published movie (its stored master). Blocking.
    pub fn replace_object(&self, id: &MovieId, name: &str, bytes: &[u8]) -> Result<(), MediaError> {
        match &self.external {
            None => self
                .local
                .replace_object(id, name, bytes)
                .map_err(|e| MediaError::Io(e.to_string())),
            Some(s3) => on_own_runtime(
                s3.put_bytes(&format!("{}/{name}", movie_prefix(id)), bytes.to_vec()),
            ),
        }
    }

    /// Publishes one finished file as object `name` of a movie (a segment made while the
    /// encode goes on); the file is moved away. Blocking.
    pub fn put_file(&self, id: &MovieId, name: &str, file: &Path) -> Result<(), MediaError> {
        match &self.external {
            None => self
                .local
                .move_in(id, name, file)
                .map_err(|e| MediaError::Io(e.to_string())),
            Some(s3) => {
                on_own_runtime(s3.put_file(file, &format!("{}/{name}", movie_prefix(id))))?;
                let _ = std::fs::remove_file(file);
                Ok(())
            }
        }
    }

    /// Removes one object of a movie (a replaced poster). Blocking.
    pub fn delete_object(&self, id: &MovieId, name: &str) -> Result<(), MediaError> {
        match &self.external {
            None => match std::fs::remove_file(self.local.movie_dir(id).join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(MediaError::Io(e.to_string()))
                }
                _ => Ok(()),
            },
            Some(s3) => on_own_runtime(s3.delete_prefix(&format!("{}/{name}", movie_prefix(id)))),
        }
    }

    /// The size of one object of a movie. Blocking.
    pub fn object_size(&self, id: &MovieId, name: &str) -> Result<u64, MediaError> {
        match &self.external {
            None => std::fs::metadata(self.local.movie_dir(id).join(name))
                .map(|m| m.len())
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => {
                        MediaError::NotFound(format!("{}/{name}", movie_prefix(id)))
                    }
                    _ => MediaError::Io(e.to_string()),
                }),
            Some(s3) => on_own_runtime(s3.size(&format!("{}/{name}", movie_prefix(id)))),
        }
    }

    /// Reads a small object of a movie from blocking code.
    pub fn read_blocking(&self, id: &MovieId, name: &str) -> Result<Vec<u8>, MediaError> {
        match &self.external {
            None => match std::fs::read(self.local.movie_dir(id).join(name)) {
                Ok(bytes) => Ok(bytes),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(MediaError::NotFound(format!("{}/{name}", movie_prefix(id))))
                }
                Err(e) => Err(MediaError::Io(e.to_string())),
            },
            Some(s3) => on_own_runtime(s3.read(&format!("{}/{name}", movie_prefix(id)))),
        }
    }

    /// Removes every object of a movie. Blocking.
    pub fn delete_movie(&self, id: &MovieId) -> Result<(), MediaError> {
        self.local
            .delete_movie(id)
            .map_err(|e| MediaError::Io(e.to_string()))?;
        if let Some(s3) = &self.external {
            on_own_runtime(s3.delete_prefix(&movie_prefix(id)))?;
        }
        Ok(())
    }

    /// The same bucket as keys and bytes (backups, listings).
    pub fn objects(&self) -> Bucket {
        match &self.external {
            None => Bucket::Local(self.local.bucket_root().to_path_buf()),
            Some(s3) => Bucket::S3(s3.clone()),
        }
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The path (as the built-in store sees it) under which the bucket's objects are served.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `http://host:port` that segment URLs start with.
    pub fn origin(&self) -> &str {
        &self.endpoint.origin
    }

    /// Presigner for GETs valid at least `lifetime` from now. Every URL it signs within one
    /// `tokens.url_window` is byte-identical for every viewer (see [`shared_window`]).
    pub fn get_batch(&self, lifetime: Duration) -> Batch {
        let (signed_at, expires) = shared_window(SystemTime::now(), self.url_window, lifetime);
        self.signer
            .batch("GET", &self.endpoint.host, signed_at, expires)
    }

    /// When the current window began: URLs (and playlists made of them) signed since are the
    /// same for everyone.
    pub fn window_start(&self) -> u64 {
        sigv4::unix(shared_window(SystemTime::now(), self.url_window, Duration::ZERO).0)
    }

    /// Canonical (encoded) URL path of a rendition's directory: `{prefix}/{bucket}/movies/{id}/{rendition}`.
    pub fn rendition_path(&self, id: &MovieId, rendition: &str) -> String {
        let mut out = self.endpoint.path_prefix.clone();
        out.push('/');
        uri_encode(
            format!("{}/{}/{rendition}", self.bucket, movie_prefix(id)).as_bytes(),
            true,
            &mut out,
        );
        out
    }

    /// An absolute presigned URL for one object of a movie (the poster).
    pub fn object_url(&self, batch: &Batch, id: &MovieId, name: &str) -> String {
        format!(
            "{}{}",
            self.endpoint.origin,
            batch.signed(&self.rendition_path(id, name))
        )
    }

    /// Reads a small object (a playlist) of a published movie.
    pub async fn read(&self, id: &MovieId, name: &str) -> Result<Vec<u8>, MediaError> {
        if let Some(s3) = &self.external {
            return s3.read(&format!("{}/{name}", movie_prefix(id))).await;
        }
        let path = self.local.movie_dir(id).join(name);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(MediaError::NotFound(format!("{}/{name}", movie_prefix(id))))
            }
            Err(e) => Err(MediaError::Io(e.to_string())),
        }
    }
}

/// Runs an object-store future to completion from blocking code (ingest workers, the blocking
/// pool), on a thread of its own so it never nests inside another runtime.
fn on_own_runtime<T: Send>(
    future: impl std::future::Future<Output = Result<T, MediaError>> + Send,
) -> Result<T, MediaError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| MediaError::Io(e.to_string()))?
                    .block_on(future)
            })
            .join()
            .unwrap_or_else(|_| Err(MediaError::Io("object store task panicked".into())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_split_into_origin_host_and_path() {
        let e = Endpoint::parse("http://127.0.0.1:8080", "/s3");
        assert_eq!(
            (e.origin.as_str(), e.host.as_str(), e.path_prefix.as_str()),
            ("http://127.0.0.1:8080", "127.0.0.1:8080", "/s3")
        );
        let e = Endpoint::parse("https://cdn.example.org/media-proxy/", "");
        assert_eq!(
            (e.origin.as_str(), e.host.as_str(), e.path_prefix.as_str()),
            ("https://cdn.example.org", "cdn.example.org", "/media-proxy")
        );
    }

    #[test]
    fn links_within_a_window_are_identical_and_never_live_less_than_the_lifetime() {
        let signer = Signer::new("AK", "SK", "us-east-1");
        let window = Duration::from_secs(900);
        let lifetime = Duration::from_secs(7200);
        let base = 1_800_000_000; // a multiple of 900: a window's first second
        let url_at = |offset: u64| {
            let now = std::time::UNIX_EPOCH + Duration::from_secs(base + offset);
            let (signed_at, expires) = shared_window(now, window, lifetime);
            let url = signer
                .batch("GET", "h", signed_at, expires)
                .signed("/s3/media/movies/m/720p/seg_00001.m4s");
            (now, url, signed_at + expires)
        };
        let (_, first, _) = url_at(0);
        for offset in [1, 450, 899] {
            let (now, url, valid_until) = url_at(offset);
            assert_eq!(url, first, "{offset} s into the window");
            assert!(valid_until.duration_since(now).expect("future") >= lifetime);
        }
        let (_, next_window, _) = url_at(900);
        assert_ne!(next_window, first);
        assert!(first.contains("X-Amz-Expires=8100"), "{first}");
    }
}
