//! The blob store port: Azure Blob Storage in production (the official `azure_storage_blob` crate), a folder on
//! embedded defaults (`handler dev`). Both offer the same operations — ranged read, properties with ETag and length,
//! write (whole, or streamed in pieces through a [`BlobWriter`]), list, delete — and a conformance test runs one
//! body against both (Azure through Azurite).
//!
//! Uploads and downloads never pass through the function app in Azure: [`BlobStore::upload_url`] and
//! [`BlobStore::download_url`] sign a short-lived SAS URL for exactly one blob (write-only, or read-only), and the
//! client talks to Storage directly. The folder store has no such URLs; the HTTP layer offers its own signed routes
//! for it instead.

use std::{ops::Range, path::PathBuf, sync::Arc, time::Duration};

use serde::Serialize;

use crate::{config::BlobStorageSettings, video::probe::RangeSource};

mod azure;
mod local;
pub mod sas;

pub use azure::{AzureBlobStore, ConnectionString};
pub use local::{LocalBlobStore, StagedBlob};

/// What Storage says about a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlobProperties {
    /// The version's ETag, quoted or not as the store gives it (compare with [`same_etag`]).
    pub etag: String,
    /// Length in bytes.
    pub length: u64,
    /// The stored media type.
    pub content_type: Option<String>,
}

/// One blob in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlobItem {
    /// The blob's name within its container.
    pub name: String,
    /// Its properties.
    pub properties: BlobProperties,
}

/// A pre-signed request that uploads one blob without further credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedUpload {
    /// Where to send it.
    pub url: String,
    /// Always `PUT`.
    pub method: &'static str,
    /// Headers the request must carry.
    pub headers: Vec<(&'static str, String)>,
}

/// A blob store failure.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// No such blob (or container).
    #[error("blob not found")]
    NotFound,
    /// The blob changed since the ETag the caller holds.
    #[error("the blob changed (ETag mismatch)")]
    Changed,
    /// The store could not be reached or failed; a retry may succeed.
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
    /// The store refused the request (credentials, permissions, bad request): retrying will not help.
    #[error("blob store error: {0}")]
    Failed(String),
    /// The store cannot be built from its settings.
    #[error("blob store settings: {0}")]
    Config(String),
    /// This store cannot do that (e.g. sign upload URLs without a key).
    #[error("{0}")]
    Unsupported(String),
}

impl BlobError {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Compares ETags ignoring the quotes some APIs keep and others drop.
pub fn same_etag(a: &str, b: &str) -> bool {
    a.trim_matches('"') == b.trim_matches('"')
}

/// A blob store. Cheap to clone.
#[derive(Debug, Clone)]
pub enum BlobStore {
    /// Azure Blob Storage (or Azurite).
    Azure(Arc<AzureBlobStore>),
    /// A folder: `<root>/<container>/<blob name>`.
    Local(LocalBlobStore),
}

impl BlobStore {
    /// Builds the store the settings name, or `None` when none is configured.
    pub fn from_settings(settings: &BlobStorageSettings) -> Result<Option<Self>, BlobError> {
        Ok(match settings {
            BlobStorageSettings::None => None,
            BlobStorageSettings::Folder(root) => Some(Self::Local(LocalBlobStore::new(root.clone()))),
            other => Some(Self::Azure(Arc::new(AzureBlobStore::from_settings(other)?))),
        })
    }

    /// A folder store rooted at `root`.
    pub fn local(root: PathBuf) -> Self {
        Self::Local(LocalBlobStore::new(root))
    }

    /// `azure` or `local`, for health reports and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Azure(_) => "azure",
            Self::Local(_) => "local",
        }
    }

    /// The blob's current properties.
    pub async fn properties(&self, container: &str, name: &str) -> Result<BlobProperties, BlobError> {
        match self {
            Self::Azure(store) => store.properties(container, name).await,
            Self::Local(store) => store.properties(container, name).await,
        }
    }

    /// Bytes `range` of the blob (fewer only at its end). With `if_match`, fails with [`BlobError::Changed`] when the
    /// blob is no longer that version.
    pub async fn read_range(
        &self,
        container: &str,
        name: &str,
        range: Range<u64>,
        if_match: Option<&str>,
    ) -> Result<Vec<u8>, BlobError> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Self::Azure(store) => store.read_range(container, name, range, if_match).await,
            Self::Local(store) => store.read_range(container, name, range, if_match).await,
        }
    }

    /// Creates or replaces a blob.
    pub async fn write(
        &self,
        container: &str,
        name: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<BlobProperties, BlobError> {
        match self {
            Self::Azure(store) => store.write(container, name, bytes, content_type).await,
            Self::Local(store) => store.write(container, name, &bytes).await,
        }
    }

    /// Blobs whose names start with `prefix`, sorted by name.
    pub async fn list(&self, container: &str, prefix: &str) -> Result<Vec<BlobItem>, BlobError> {
        let mut items = match self {
            Self::Azure(store) => store.list(container, prefix).await?,
            Self::Local(store) => store.list(container, prefix).await?,
        };
        items.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(items)
    }

    /// A write-only URL valid for `ttl` that uploads exactly this blob; `None` for the folder store, whose uploads
    /// go through the app.
    pub async fn upload_url(
        &self,
        container: &str,
        name: &str,
        content_type: &str,
        ttl: Duration,
    ) -> Result<Option<SignedUpload>, BlobError> {
        match self {
            Self::Azure(store) => store.upload_url(container, name, content_type, ttl).await.map(Some),
            Self::Local(_) => Ok(None),
        }
    }

    /// A URL valid for `ttl` that reads exactly this blob; `None` for the folder store, whose downloads go through
    /// the app.
    pub async fn download_url(&self, container: &str, name: &str, ttl: Duration) -> Result<Option<String>, BlobError> {
        match self {
            Self::Azure(store) => store.download_url(container, name, ttl).await.map(Some),
            Self::Local(_) => Ok(None),
        }
    }

    /// Deletes a blob; one already gone is not an error.
    pub async fn delete(&self, container: &str, name: &str) -> Result<(), BlobError> {
        let deleted = match self {
            Self::Azure(store) => store.delete(container, name).await,
            Self::Local(store) => store.delete(container, name).await,
        };
        match deleted {
            Err(BlobError::NotFound) => Ok(()),
            other => other,
        }
    }

    /// Starts writing a blob piece by piece, for content too large to hold in memory. Nothing is visible under
    /// `name` until [`BlobWriter::commit`]; a writer dropped uncommitted leaves the previous version, if any.
    pub async fn writer(&self, container: &str, name: &str, content_type: &str) -> Result<BlobWriter, BlobError> {
        check_name(container)?;
        check_name(name)?;
        Ok(match self {
            Self::Azure(store) => BlobWriter::Blocks(BlockWriter {
                store: store.clone(),
                container: container.to_owned(),
                name: name.to_owned(),
                content_type: content_type.to_owned(),
                pending: Vec::with_capacity(BLOCK_BYTES),
                blocks: Vec::new(),
            }),
            Self::Local(store) => BlobWriter::Staged(store.stage(container, name).await?),
        })
    }

    /// Creates the container if it does not exist. Deployments create it with the storage account (infra); `dev`, the
    /// tests and the benchmark call this.
    pub async fn create_container(&self, container: &str) -> Result<(), BlobError> {
        match self {
            Self::Azure(store) => store.create_container(container).await,
            Self::Local(store) => store.check(container).await.map(drop),
        }
    }

    /// Reaches the store (the container for Azure, the folder locally) and describes it, for health checks.
    pub async fn check(&self, container: &str) -> Result<String, BlobError> {
        match self {
            Self::Azure(store) => store.check(container).await,
            Self::Local(store) => store.check(container).await,
        }
    }
}

/// Bytes gathered before an Azure writer stages them as one block: a blob holds at most 50,000 blocks, so 4 MiB
/// blocks allow files up to about 195 GiB while bounding the writer's memory.
const BLOCK_BYTES: usize = 4 * 1024 * 1024;

/// A blob being written; see [`BlobStore::writer`].
#[derive(Debug)]
pub enum BlobWriter {
    /// Azure: uncommitted blocks, committed as a block list at the end.
    Blocks(BlockWriter),
    /// The folder store: a hidden temporary file, renamed into place at the end.
    Staged(StagedBlob),
}

/// The Azure side of a [`BlobWriter`].
#[derive(Debug)]
pub struct BlockWriter {
    store: Arc<AzureBlobStore>,
    container: String,
    name: String,
    content_type: String,
    pending: Vec<u8>,
    blocks: Vec<Vec<u8>>,
}

impl BlockWriter {
    async fn stage_pending(&mut self) -> Result<(), BlobError> {
        // Block ids must all have the same length within a blob.
        let id = format!("{:08}", self.blocks.len()).into_bytes();
        let bytes = std::mem::replace(&mut self.pending, Vec::with_capacity(BLOCK_BYTES));
        self.store.stage_block(&self.container, &self.name, &id, bytes).await?;
        self.blocks.push(id);
        Ok(())
    }
}

impl BlobWriter {
    /// Appends bytes.
    pub async fn append(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        match self {
            Self::Blocks(writer) => {
                writer.pending.extend_from_slice(bytes);
                if writer.pending.len() >= BLOCK_BYTES {
                    writer.stage_pending().await?;
                }
                Ok(())
            }
            Self::Staged(staged) => staged.append(bytes).await,
        }
    }

    /// Makes what was appended the blob's content.
    pub async fn commit(self) -> Result<BlobProperties, BlobError> {
        match self {
            Self::Blocks(mut writer) => {
                if !writer.pending.is_empty() || writer.blocks.is_empty() {
                    writer.stage_pending().await?;
                }
                let blocks = std::mem::take(&mut writer.blocks);
                writer.store.commit_blocks(&writer.container, &writer.name, blocks, &writer.content_type).await
            }
            Self::Staged(staged) => staged.commit().await,
        }
    }
}

/// One version of one blob as a [`RangeSource`] for the probe: every read is conditional on the ETag, so a blob
/// replaced mid-probe fails with [`BlobError::Changed`] instead of mixing two versions.
#[derive(Debug, Clone)]
pub struct BlobVersion<'a> {
    /// The store.
    pub store: &'a BlobStore,
    /// Its container.
    pub container: &'a str,
    /// The blob's name.
    pub name: &'a str,
    /// The version being read.
    pub etag: &'a str,
}

impl RangeSource for BlobVersion<'_> {
    type Error = BlobError;

    async fn read_range(&self, offset: u64, length: u64) -> Result<Vec<u8>, BlobError> {
        let end = offset.saturating_add(length);
        self.store.read_range(self.container, self.name, offset..end, Some(self.etag)).await
    }
}

/// Checks a blob name: `/`-separated segments of letters, digits, `.`, `-` and `_`, none empty or dot-only. The
/// names this app writes always pass; anything else (a path escape in the folder store) is refused.
pub fn check_name(name: &str) -> Result<(), BlobError> {
    let valid = !name.is_empty()
        && name.len() <= 1024
        && name.split('/').all(|segment| {
            !segment.is_empty()
                && !segment.chars().all(|c| c == '.')
                && segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        });
    if valid { Ok(()) } else { Err(BlobError::Failed(format!("invalid blob name `{name}`"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_names_refuse_path_escapes_and_empty_segments() {
        assert!(check_name("3f2c/clip.mp4").is_ok());
        for bad in ["", "../x", "a//b", "/a", "a/..", "a b", "a\\b", "a/./b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn etags_compare_without_quotes() {
        assert!(same_etag("\"0x8D4\"", "0x8D4"));
        assert!(!same_etag("0x8D4", "0x8D5"));
    }
}
