//! The external object store (`storage.backend = "s3"`): ingest uploads a finished ladder with
//! object_store (multipart above 10 MB), playlists are read back from it, and players fetch
//! segments from it directly with URLs presigned by our SigV4 code.

use std::path::Path;
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt};
use tokio::io::AsyncWriteExt;

use super::MediaError;
use crate::config::StorageConfig;

#[derive(Debug, Clone)]
pub struct S3Media {
    store: Arc<AmazonS3>,
}

fn err(e: impl std::fmt::Display) -> MediaError {
    MediaError::Io(e.to_string())
}

impl S3Media {
    pub fn new(
        config: &StorageConfig,
        access_key: &str,
        secret_key: &str,
    ) -> Result<S3Media, MediaError> {
        let endpoint = config.endpoint.clone().unwrap_or_default();
        let types = super::CONTENT_TYPES
            .iter()
            .fold(ClientOptions::new(), |options, (extension, mime)| {
                options.with_content_type_for_suffix(*extension, *mime)
            });
        let store = AmazonS3Builder::new()
            .with_client_options(types)
            .with_endpoint(&endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(access_key)
            .with_secret_access_key(secret_key)
            .with_virtual_hosted_style_request(false)
            .build()
            .map_err(err)?;
        Ok(S3Media {
            store: Arc::new(store),
        })
    }

    /// Uploads every file under `dir` to `{prefix}/...`, the master playlist last, so a listing
    /// never shows a master whose rungs are missing.
    pub async fn upload_dir(&self, dir: &Path, prefix: &str) -> Result<(), MediaError> {
        let mut files = Vec::new();
        collect(dir, dir, &mut files).map_err(err)?;
        files.sort_by_key(|rel| rel == "master.m3u8");
        for rel in files {
            let key = ObjectPath::from(format!("{prefix}/{rel}"));
            let mut source = tokio::fs::File::open(dir.join(&rel)).await.map_err(err)?;
            let mut writer = BufWriter::new(self.store.clone() as Arc<dyn ObjectStore>, key);
            let copied = tokio::io::copy(&mut source, &mut writer).await;
            match copied {
                Ok(_) => writer.shutdown().await.map_err(err)?,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(err(e));
                }
            }
        }
        Ok(())
    }

    /// Uploads one file as `key` (one PUT: segments and playlists are small).
    pub async fn put_file(&self, path: &Path, key: &str) -> Result<(), MediaError> {
        let bytes = tokio::fs::read(path).await.map_err(err)?;
        self.put_bytes(key, bytes).await
    }

    pub async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), MediaError> {
        self.store
            .put(&ObjectPath::from(key), bytes.into())
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn size(&self, key: &str) -> Result<u64, MediaError> {
        let meta = self
            .store
            .head(&ObjectPath::from(key))
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => MediaError::NotFound(key.to_string()),
                other => err(other),
            })?;
        Ok(meta.size)
    }

    pub async fn read(&self, key: &str) -> Result<Vec<u8>, MediaError> {
        let got = self
            .store
            .get(&ObjectPath::from(key))
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => MediaError::NotFound(key.to_string()),
                other => err(other),
            })?;
        Ok(got.bytes().await.map_err(err)?.to_vec())
    }

    /// Every object under `prefix/`: its key below the prefix and its size.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, MediaError> {
        let base = ObjectPath::from(prefix);
        let mut listing = self.store.list(Some(&base));
        let mut out = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(err)?;
            let key = meta.location.as_ref();
            let below = key.strip_prefix(base.as_ref()).unwrap_or(key);
            out.push((below.trim_start_matches('/').to_string(), meta.size));
        }
        Ok(out)
    }

    pub async fn delete(&self, key: &str) -> Result<(), MediaError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), MediaError> {
        let prefix = ObjectPath::from(prefix);
        let mut listing = self.store.list(Some(&prefix));
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(err)?;
            self.store.delete(&meta.location).await.map_err(err)?;
        }
        Ok(())
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}
