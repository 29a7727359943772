//! The folder store of `handler dev`: `<root>/<container>/<blob name>`, the layout the dev host watches to raise
//! `BlobCreated` events. Writes go to a hidden temporary file that is renamed into place when complete, so the
//! watcher (which skips dot files, `.tmp` and `.part`) never sees half a file. ETags are derived from the modified
//! time and length exactly as the watcher derives the ETags it puts in events, so the two always agree.

use std::{
    ops::Range,
    path::{Path, PathBuf},
    time::UNIX_EPOCH,
};

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{BlobError, BlobItem, BlobProperties, check_name, same_etag};

/// A blob folder.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The folder holding every container.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, container: &str, name: &str) -> Result<PathBuf, BlobError> {
        check_name(container)?;
        check_name(name)?;
        Ok(self.root.join(container).join(name))
    }

    pub(super) async fn properties(&self, container: &str, name: &str) -> Result<BlobProperties, BlobError> {
        let path = self.path(container, name)?;
        let metadata = tokio::fs::metadata(&path).await.map_err(io_error)?;
        if !metadata.is_file() {
            return Err(BlobError::NotFound);
        }
        Ok(properties_of(&metadata, name))
    }

    pub(super) async fn read_range(
        &self,
        container: &str,
        name: &str,
        range: Range<u64>,
        if_match: Option<&str>,
    ) -> Result<Vec<u8>, BlobError> {
        let path = self.path(container, name)?;
        let mut file = tokio::fs::File::open(&path).await.map_err(io_error)?;
        let metadata = file.metadata().await.map_err(io_error)?;
        if let Some(expected) = if_match
            && !same_etag(&etag_of(&metadata), expected)
        {
            return Err(BlobError::Changed);
        }
        let end = range.end.min(metadata.len());
        if range.start >= end {
            return Ok(Vec::new());
        }
        file.seek(std::io::SeekFrom::Start(range.start)).await.map_err(io_error)?;
        let length = usize::try_from(end - range.start).map_err(|_| BlobError::Failed("range too large".into()))?;
        let mut bytes = Vec::with_capacity(length);
        file.take(end - range.start).read_to_end(&mut bytes).await.map_err(io_error)?;
        Ok(bytes)
    }

    pub(super) async fn write(&self, container: &str, name: &str, bytes: &[u8]) -> Result<BlobProperties, BlobError> {
        let mut staged = self.stage(container, name).await?;
        staged.append(bytes).await?;
        staged.commit().await
    }

    /// Starts writing a blob: bytes go to a hidden temporary file next to the target, which [`StagedBlob::commit`]
    /// renames into place. Dropped uncommitted, the temporary file is removed.
    pub async fn stage(&self, container: &str, name: &str) -> Result<StagedBlob, BlobError> {
        let target = self.path(container, name)?;
        let parent = target.parent().ok_or_else(|| BlobError::Failed("blob path has no folder".into()))?;
        tokio::fs::create_dir_all(parent).await.map_err(io_error)?;
        let file_name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temporary = parent.join(format!(".{file_name}.{}.part", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::File::create(&temporary).await.map_err(io_error)?;
        Ok(StagedBlob { file: Some(file), temporary, target, name: name.to_owned(), written: 0 })
    }

    /// Opens a blob for reading from its start (the dev host's downloads stream it).
    pub async fn open(&self, container: &str, name: &str) -> Result<tokio::fs::File, BlobError> {
        tokio::fs::File::open(self.path(container, name)?).await.map_err(io_error)
    }

    pub(super) async fn delete(&self, container: &str, name: &str) -> Result<(), BlobError> {
        tokio::fs::remove_file(self.path(container, name)?).await.map_err(io_error)
    }

    pub(super) async fn list(&self, container: &str, prefix: &str) -> Result<Vec<BlobItem>, BlobError> {
        check_name(container)?;
        let root = self.root.join(container);
        let mut items = Vec::new();
        let mut pending = vec![root.clone()];
        while let Some(dir) = pending.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(io_error(error)),
            };
            while let Some(entry) = entries.next_entry().await.map_err(io_error)? {
                let file_name = entry.file_name().to_string_lossy().into_owned();
                if file_name.starts_with('.') || file_name.ends_with(".tmp") || file_name.ends_with(".part") {
                    continue;
                }
                let metadata = entry.metadata().await.map_err(io_error)?;
                let path = entry.path();
                if metadata.is_dir() {
                    pending.push(path);
                    continue;
                }
                let Ok(relative) = path.strip_prefix(&root) else { continue };
                let name = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                if name.starts_with(prefix) {
                    items.push(BlobItem { properties: properties_of(&metadata, &name), name });
                }
            }
        }
        Ok(items)
    }

    pub(super) async fn check(&self, container: &str) -> Result<String, BlobError> {
        let folder = self.root.join(container);
        tokio::fs::create_dir_all(&folder).await.map_err(io_error)?;
        Ok(format!("folder {}", folder.display()))
    }
}

/// A blob being written; see [`LocalBlobStore::stage`].
#[derive(Debug)]
pub struct StagedBlob {
    file: Option<tokio::fs::File>,
    temporary: PathBuf,
    target: PathBuf,
    name: String,
    written: u64,
}

impl StagedBlob {
    /// Appends bytes.
    pub async fn append(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        let file = self.file.as_mut().ok_or_else(|| BlobError::Failed("already committed".into()))?;
        file.write_all(bytes).await.map_err(io_error)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Bytes appended so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes to disk and moves the file into place, replacing any previous version.
    pub async fn commit(mut self) -> Result<BlobProperties, BlobError> {
        let mut file = self.file.take().ok_or_else(|| BlobError::Failed("already committed".into()))?;
        file.flush().await.map_err(io_error)?;
        file.sync_all().await.map_err(io_error)?;
        drop(file);
        tokio::fs::rename(&self.temporary, &self.target).await.map_err(io_error)?;
        let metadata = tokio::fs::metadata(&self.target).await.map_err(io_error)?;
        Ok(properties_of(&metadata, &self.name))
    }
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

fn properties_of(metadata: &std::fs::Metadata, name: &str) -> BlobProperties {
    let content_type = name
        .rsplit_once('.')
        .and_then(|(_, extension)| crate::video::UploadFormat::from_extension(extension))
        .map(|format| format.content_type().to_owned());
    BlobProperties { etag: etag_of(metadata), length: metadata.len(), content_type }
}

/// The same `0x…` ETag the dev host's blob watcher puts in its events: modified time in nanoseconds, then length.
pub fn etag_of(metadata: &std::fs::Metadata) -> String {
    let modified_nanos =
        metadata.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    format!("0x{:X}{:08X}", modified_nanos, metadata.len())
}

fn io_error(error: std::io::Error) -> BlobError {
    match error.kind() {
        std::io::ErrorKind::NotFound => BlobError::NotFound,
        _ => BlobError::Unavailable(error.to_string()),
    }
}
