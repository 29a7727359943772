//! Raises `Microsoft.Storage.BlobCreated` events for the local blob folder, as Event Grid does for a storage
//! account. The folder is polled rather than watched through OS notifications: polling sees every change on every
//! file system (network mounts and container volumes included), and a file is announced only once it has stopped
//! changing between two scans, so a half-written upload is never reported.
//!
//! Delivered versions are remembered in the data directory, so nothing is lost or repeated across restarts: files
//! that arrived while the host was down are announced at start, and a failed delivery is retried with backoff.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    time::{Duration, Instant, UNIX_EPOCH},
};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    manifest::BlobPath,
    protocol::{BLOB_CREATED, BlobSubject},
};

const POLL_INTERVAL: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Size and modification time: a new stamp is a new blob version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    length: u64,
    modified_nanos: u128,
}

impl Stamp {
    /// An ETag in Azure's `0x…` form, stable for one version of the file.
    fn etag(self) -> String {
        format!("0x{:X}{:08X}", self.modified_nanos, self.length)
    }
}

/// Watches `<data-dir>/blobs/<container>` for one Event Grid function.
pub struct BlobWatch {
    invoker: super::Invoker,
    function: String,
    binding: String,
    container: String,
    root: PathBuf,
    ledger: PathBuf,
}

struct Retry {
    stamp: Stamp,
    not_before: Instant,
    backoff: Duration,
}

impl BlobWatch {
    /// A watch for the container of `path`.
    pub fn new(invoker: super::Invoker, function: String, binding: String, path: BlobPath, data_dir: &Path) -> Self {
        let container = path.container().to_owned();
        Self {
            root: data_dir.join("blobs").join(&container),
            ledger: data_dir.join(format!("delivered-{function}.json")),
            invoker,
            function,
            binding,
            container,
        }
    }

    /// Polls forever.
    pub async fn run(self) {
        if let Err(error) = tokio::fs::create_dir_all(&self.root).await {
            tracing::error!(function = self.function, %error, "cannot create the blob folder; no events will be raised");
            return;
        }
        let mut delivered: HashMap<String, Stamp> =
            std::fs::read(&self.ledger).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
        let mut previous_scan: HashMap<String, Stamp> = HashMap::new();
        let mut retries: HashMap<String, Retry> = HashMap::new();
        loop {
            let scan = scan(&self.root);
            let mut changed = false;
            for (name, stamp) in &scan {
                let stable = previous_scan.get(name) == Some(stamp);
                if !stable || delivered.get(name) == Some(stamp) {
                    continue;
                }
                if retries.get(name).is_some_and(|r| r.stamp == *stamp && Instant::now() < r.not_before) {
                    continue;
                }
                match self.deliver(name, *stamp).await {
                    Ok(()) => {
                        delivered.insert(name.clone(), *stamp);
                        retries.remove(name);
                        changed = true;
                    }
                    Err(error) => {
                        let backoff = retries
                            .get(name)
                            .filter(|r| r.stamp == *stamp)
                            .map_or(Duration::from_secs(1), |r| (r.backoff * 2).min(MAX_BACKOFF));
                        tracing::warn!(function = self.function, blob = name, error, retry_in = ?backoff, "event delivery failed");
                        retries.insert(
                            name.clone(),
                            Retry { stamp: *stamp, not_before: Instant::now() + backoff, backoff },
                        );
                    }
                }
            }
            let before = delivered.len();
            delivered.retain(|name, _| scan.contains_key(name));
            if changed || delivered.len() != before {
                self.save(&delivered);
            }
            previous_scan = scan;
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn deliver(&self, name: &str, stamp: Stamp) -> Result<(), String> {
        let subject = BlobSubject { container: self.container.clone(), name: name.to_owned() };
        let url = url_for(&self.root.join(name));
        let event = json!({
            "id": uuid::Uuid::new_v4(),
            "topic": "/subscriptions/local/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
            "subject": subject.to_subject(),
            "eventType": BLOB_CREATED,
            "eventTime": Utc::now(),
            "dataVersion": "",
            "metadataVersion": "1",
            "data": {
                "api": "PutBlob",
                "clientRequestId": uuid::Uuid::new_v4(),
                "requestId": uuid::Uuid::new_v4(),
                "eTag": stamp.etag(),
                "contentType": content_type(name),
                "contentLength": stamp.length,
                "blobType": "BlockBlob",
                "url": url,
                "sequencer": format!("{:032X}", stamp.modified_nanos),
            }
        });
        let data = serde_json::Map::from_iter([(self.binding.clone(), event)]);
        self.invoker.invoke(&self.function, data, serde_json::Map::new()).await.map(drop)
    }

    fn save(&self, delivered: &HashMap<String, Stamp>) {
        let write = || -> std::io::Result<()> {
            let temporary = self.ledger.with_extension("json.tmp");
            std::fs::write(&temporary, serde_json::to_vec(delivered)?)?;
            std::fs::rename(temporary, &self.ledger)
        };
        if let Err(error) = write() {
            tracing::warn!(function = self.function, %error, "cannot record delivered events; they may repeat after a restart");
        }
    }
}

/// Every regular file below `root`, by `/`-separated name. Hidden and partial files (`.name`, `*.tmp`, `*.part`)
/// are skipped: uploaders write those first and rename when complete.
fn scan(root: &Path) -> HashMap<String, Stamp> {
    let mut found = HashMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if file_name.starts_with('.') || file_name.ends_with(".tmp") || file_name.ends_with(".part") {
                continue;
            }
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            let path = entry.path();
            if metadata.is_dir() {
                pending.push(path);
            } else if metadata.is_file() {
                let Ok(relative) = path.strip_prefix(root) else {
                    continue;
                };
                let name = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                let modified_nanos = metadata
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                found.insert(name, Stamp { length: metadata.len(), modified_nanos });
            }
        }
    }
    found
}

fn url_for(path: &Path) -> String {
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    format!("file://{}", absolute.display())
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).as_deref() {
        Some("mp4") => "video/mp4",
        Some("m4v") => "video/x-m4v",
        Some("mov") => "video/quicktime",
        Some("3gp") => "video/3gpp",
        Some("webm") => "video/webm",
        Some("mkv") => "video/x-matroska",
        _ => "application/octet-stream",
    }
}
