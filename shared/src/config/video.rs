//! Video upload settings: the blob store and the limits on uploads and probes.

use super::*;

/// Where uploaded videos are stored, and the limits on them.
#[derive(Debug, Clone)]
pub struct VideoSettings {
    /// The blob store.
    pub storage: BlobStorageSettings,
    /// `MAX_VIDEO_BYTES` (default 2 GiB): larger uploads are refused up front, and a larger blob fails analysis.
    pub max_bytes: u64,
    /// `VIDEO_UPLOAD_URL_TTL_SECS` (default 900): how long an upload URL stays valid.
    pub upload_url_ttl: Duration,
    /// `VIDEO_PROBE_MAX_BYTES` (default 1 MiB): the most a probe may read of one file (its metadata, not its media).
    pub probe_max_bytes: u64,
}

/// Which blob store holds videos. The first setting present wins, in this order.
#[derive(Debug, Clone)]
pub enum BlobStorageSettings {
    /// `VIDEO_STORAGE_CONNECTION_STRING`: account name, key and endpoint (Azurite, or Azure with a key). Upload URLs
    /// are service SAS signed with the key.
    ConnectionString(SecretString),
    /// `VIDEO_STORAGE_SAS_URL`: the account's blob endpoint with an account SAS in its query. Reads and writes only:
    /// without a key no upload URL can be signed.
    SasUrl(SecretString),
    /// `VIDEO_STORAGE_ACCOUNT_URL` (`https://<account>.blob.core.windows.net`) with managed identity; the optional
    /// `VIDEO_STORAGE_CLIENT_ID` picks a user-assigned identity.
    ManagedIdentity {
        /// The account's blob endpoint.
        account_url: String,
        /// A user-assigned identity's client id.
        client_id: Option<String>,
    },
    /// `VIDEO_STORAGE_DIR`: a folder (`<dir>/<container>/<blob>`), the embedded default of `handler dev`.
    Folder(PathBuf),
    /// Nothing configured: video endpoints answer 503.
    None,
}

impl VideoSettings {
    pub(super) fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
        let storage = if let Some(text) = lookup.get("VIDEO_STORAGE_CONNECTION_STRING") {
            BlobStorageSettings::ConnectionString(SecretString::from(text))
        } else if let Some(url) = lookup.get("VIDEO_STORAGE_SAS_URL") {
            BlobStorageSettings::SasUrl(SecretString::from(url))
        } else if let Some(account_url) = lookup.get("VIDEO_STORAGE_ACCOUNT_URL") {
            if !account_url.starts_with("https://") {
                let reason = "managed identity needs an https account URL".to_owned();
                return Err(ConfigError::Invalid { name: "VIDEO_STORAGE_ACCOUNT_URL", reason });
            }
            BlobStorageSettings::ManagedIdentity { account_url, client_id: lookup.get("VIDEO_STORAGE_CLIENT_ID") }
        } else if let Some(dir) = lookup.get("VIDEO_STORAGE_DIR") {
            BlobStorageSettings::Folder(PathBuf::from(dir))
        } else {
            BlobStorageSettings::None
        };
        let max_bytes = parse_or(lookup, "MAX_VIDEO_BYTES", 2 * 1024 * 1024 * 1024)?;
        if max_bytes == 0 {
            return Err(ConfigError::Invalid { name: "MAX_VIDEO_BYTES", reason: "must be positive".into() });
        }
        let upload_url_ttl = Duration::from_secs(parse_or(lookup, "VIDEO_UPLOAD_URL_TTL_SECS", 900)?);
        if upload_url_ttl.is_zero() || upload_url_ttl > Duration::from_secs(7 * 24 * 3600) {
            let reason = "between 1 second and 7 days".to_owned();
            return Err(ConfigError::Invalid { name: "VIDEO_UPLOAD_URL_TTL_SECS", reason });
        }
        let probe_max_bytes = parse_or(lookup, "VIDEO_PROBE_MAX_BYTES", 1024 * 1024)?;
        Ok(Self { storage, max_bytes, upload_url_ttl, probe_max_bytes })
    }
}
