//! Azure Blob Storage through the official `azure_storage_blob` client. Three ways to authenticate, chosen by
//! settings: a connection string with the account key (a fresh account SAS is signed for each request, since the
//! client has no shared-key auth; upload URLs are service SAS), a SAS URL (used as is), or managed identity with the
//! account URL (bearer tokens; https only). One HTTP transport is shared by every request.

use std::{ops::Range, sync::Arc, time::Duration};

use azure_core::{
    credentials::TokenCredential,
    http::{
        ClientOptions, ExponentialRetryOptions, RequestContent, RetryOptions, StatusCode, Transport, Url,
        new_http_client,
    },
};
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use azure_storage_blob::{
    BlobClient, BlobClientOptions, BlobContainerClient, BlobContainerClientOptions, BlobServiceClient,
    BlobServiceClientOptions,
    models::{
        BlobClientDownloadOptions, BlobClientGetPropertiesResultHeaders, BlobClientUploadOptions,
        BlobContainerClientListBlobsOptions, BlockBlobClientCommitBlockListOptions, BlockLookupList, KeyInfo,
    },
};
use azure_storage_common::models::UserDelegationKey;
use azure_storage_sas::{SasBuilder, SasProtocol};
use chrono::Utc;
use futures::TryStreamExt;
use secrecy::ExposeSecret;

use super::{
    BlobError, BlobItem, BlobProperties, SignedUpload, check_name,
    sas::{AccountKey, BlobSas, account_sas},
};
use crate::config::BlobStorageSettings;

/// How requests authenticate.
enum Auth {
    /// Sign an account SAS per request with this key.
    AccountKey { account: String, key: AccountKey },
    /// Append this SAS query to every URL.
    Sas(String),
    /// Bearer tokens from a credential.
    Token(Arc<dyn TokenCredential>),
}

/// The Azure adapter.
pub struct AzureBlobStore {
    /// `scheme://host[/account]/`: blobs are `<endpoint><container>/<name>`.
    endpoint: Url,
    auth: Auth,
    transport: Transport,
    /// With managed identity: the user delegation key that signs upload URLs, reused until near its expiry.
    delegation: tokio::sync::Mutex<Option<UserDelegationKey>>,
}

/// How long a user delegation key is requested for (the service allows up to 7 days).
const DELEGATION_KEY_LIFETIME: chrono::Duration = chrono::Duration::hours(24);

impl std::fmt::Debug for AzureBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match &self.auth {
            Auth::AccountKey { .. } => "account key",
            Auth::Sas(_) => "SAS",
            Auth::Token(_) => "managed identity",
        };
        f.debug_struct("AzureBlobStore").field("endpoint", &self.endpoint.as_str()).field("auth", &auth).finish()
    }
}

/// The parts of a storage connection string we use.
#[derive(Debug, Clone)]
pub struct ConnectionString {
    /// `AccountName`.
    pub account: String,
    /// `AccountKey`, decoded.
    pub key: AccountKey,
    /// `BlobEndpoint`, or the one derived from the protocol, account and endpoint suffix.
    pub blob_endpoint: String,
    /// `QueueEndpoint`, or the one derived like the blob endpoint's; none when only a blob endpoint is named.
    pub queue_endpoint: Option<String>,
}

/// Azurite's well-known development account and key (published by Microsoft; not a secret).
const DEV_ACCOUNT: &str = "devstoreaccount1";
const DEV_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

impl ConnectionString {
    /// Parses `Key=Value;…` as the portal and Azurite document it (`UseDevelopmentStorage=true` included).
    pub fn parse(text: &str) -> Result<Self, BlobError> {
        let pairs: Vec<(&str, &str)> =
            text.split(';').filter_map(|part| part.split_once('=')).map(|(k, v)| (k.trim(), v.trim())).collect();
        let get = |name: &str| pairs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v);
        if get("UseDevelopmentStorage").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            let mut azurite = Self::azurite("http://127.0.0.1:10000/devstoreaccount1")?;
            azurite.queue_endpoint = Some("http://127.0.0.1:10001/devstoreaccount1".into());
            return Ok(azurite);
        }
        let invalid = |what: &str| BlobError::Config(format!("the connection string has no {what}"));
        let account = get("AccountName").ok_or_else(|| invalid("AccountName"))?.to_owned();
        let key =
            AccountKey::parse(get("AccountKey").ok_or_else(|| invalid("AccountKey"))?).map_err(BlobError::Config)?;
        let derived = |service: &str| {
            format!(
                "{}://{account}.{service}.{}",
                get("DefaultEndpointsProtocol").unwrap_or("https"),
                get("EndpointSuffix").unwrap_or("core.windows.net")
            )
        };
        let blob_endpoint = get("BlobEndpoint").map_or_else(|| derived("blob"), str::to_owned);
        let queue_endpoint = match (get("QueueEndpoint"), get("BlobEndpoint")) {
            (Some(endpoint), _) => Some(endpoint.to_owned()),
            (None, Some(_)) => None,
            (None, None) => Some(derived("queue")),
        };
        Ok(Self { account, key, blob_endpoint, queue_endpoint })
    }

    /// Azurite's development account at `blob_endpoint` (e.g. `http://127.0.0.1:10000/devstoreaccount1`).
    pub fn azurite(blob_endpoint: &str) -> Result<Self, BlobError> {
        let key = AccountKey::parse(DEV_KEY).map_err(BlobError::Config)?;
        Ok(Self { account: DEV_ACCOUNT.to_owned(), key, blob_endpoint: blob_endpoint.to_owned(), queue_endpoint: None })
    }

    /// The connection string for Azurite's development account at `blob_endpoint`.
    pub fn azurite_text(blob_endpoint: &str) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};BlobEndpoint={blob_endpoint};"
        )
    }
}

impl AzureBlobStore {
    pub(super) fn from_settings(settings: &BlobStorageSettings) -> Result<Self, BlobError> {
        match settings {
            BlobStorageSettings::ConnectionString(text) => {
                let parsed = ConnectionString::parse(text.expose_secret())?;
                Self::with_auth(&parsed.blob_endpoint, Auth::AccountKey { account: parsed.account, key: parsed.key })
            }
            BlobStorageSettings::SasUrl(url) => {
                let url = Url::parse(url.expose_secret()).map_err(|e| BlobError::Config(format!("SAS URL: {e}")))?;
                let query = url.query().filter(|q| q.contains("sig=")).ok_or_else(|| {
                    BlobError::Config("the SAS URL carries no signature (`sig=`) in its query".into())
                })?;
                let mut endpoint = url.clone();
                endpoint.set_query(None);
                Self::with_auth(endpoint.as_str(), Auth::Sas(query.to_owned()))
            }
            BlobStorageSettings::ManagedIdentity { account_url, client_id } => {
                let options = ManagedIdentityCredentialOptions {
                    user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                    ..Default::default()
                };
                let credential = ManagedIdentityCredential::new(Some(options))
                    .map_err(|e| BlobError::Config(format!("managed identity: {e}")))?;
                if !account_url.starts_with("https://") {
                    return Err(BlobError::Config(
                        "VIDEO_STORAGE_ACCOUNT_URL must be https for managed identity".into(),
                    ));
                }
                Self::with_auth(account_url, Auth::Token(credential))
            }
            BlobStorageSettings::None | BlobStorageSettings::Folder(_) => {
                Err(BlobError::Config("not an Azure Storage setting".into()))
            }
        }
    }

    /// A store on a connection string's account (tests and Azurite).
    pub fn from_connection_string(connection: ConnectionString) -> Result<Self, BlobError> {
        Self::with_auth(
            &connection.blob_endpoint,
            Auth::AccountKey { account: connection.account, key: connection.key },
        )
    }

    fn with_auth(endpoint: &str, auth: Auth) -> Result<Self, BlobError> {
        let mut endpoint = Url::parse(endpoint).map_err(|e| BlobError::Config(format!("blob endpoint: {e}")))?;
        if !endpoint.path().ends_with('/') {
            endpoint.set_path(&format!("{}/", endpoint.path()));
        }
        // The storage clients turn automatic decompression off for ranged reads; so do we.
        let http = azure_core::http::HttpClientOptions { automatic_decompression: false };
        let transport = Transport::new(new_http_client(Some(http)));
        Ok(Self { endpoint, auth, transport, delegation: tokio::sync::Mutex::new(None) })
    }

    /// A short retry budget: the Functions host retries a failed invocation itself, and an HTTP caller should get
    /// its 503 in seconds, not minutes.
    fn client_options(&self) -> ClientOptions {
        let retry = RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: azure_core::time::Duration::milliseconds(200),
            max_retries: 2,
            max_total_elapsed: azure_core::time::Duration::seconds(5),
            max_delay: azure_core::time::Duration::seconds(2),
        });
        ClientOptions { transport: Some(self.transport.clone()), retry, ..Default::default() }
    }

    /// `<endpoint><container>[/<name>]` with this store's SAS query, if any.
    fn url(&self, container: &str, name: Option<&str>) -> Result<Url, BlobError> {
        check_name(container)?;
        let mut url = self.endpoint.clone();
        {
            let mut segments = url.path_segments_mut().map_err(|()| BlobError::Config("endpoint URL".into()))?;
            segments.pop_if_empty().push(container);
            if let Some(name) = name {
                check_name(name)?;
                segments.extend(name.split('/'));
            }
        }
        match &self.auth {
            Auth::AccountKey { account, key } => {
                let now = Utc::now();
                let sas =
                    account_sas(account, key, now - chrono::Duration::minutes(5), now + chrono::Duration::minutes(30));
                url.query_pairs_mut().extend_pairs(sas);
            }
            Auth::Sas(query) => url.set_query(Some(query)),
            Auth::Token(_) => {}
        }
        Ok(url)
    }

    fn credential(&self) -> Option<Arc<dyn TokenCredential>> {
        match &self.auth {
            Auth::Token(credential) => Some(credential.clone()),
            _ => None,
        }
    }

    fn blob(&self, container: &str, name: &str) -> Result<BlobClient, BlobError> {
        let options = BlobClientOptions { client_options: self.client_options(), ..Default::default() };
        BlobClient::new(self.url(container, Some(name))?, self.credential(), Some(options)).map_err(azure_error)
    }

    fn container(&self, container: &str) -> Result<BlobContainerClient, BlobError> {
        let options = BlobContainerClientOptions { client_options: self.client_options(), ..Default::default() };
        BlobContainerClient::new(self.url(container, None)?, self.credential(), Some(options)).map_err(azure_error)
    }

    pub(super) async fn properties(&self, container: &str, name: &str) -> Result<BlobProperties, BlobError> {
        let response = self.blob(container, name)?.get_properties(None).await.map_err(azure_error)?;
        let etag = response.etag().map_err(azure_error)?.map(|e| e.to_string()).unwrap_or_default();
        let length = response.content_length().map_err(azure_error)?.unwrap_or(0);
        let content_type = response.content_type().map_err(azure_error)?;
        Ok(BlobProperties { etag, length, content_type })
    }

    pub(super) async fn read_range(
        &self,
        container: &str,
        name: &str,
        range: Range<u64>,
        if_match: Option<&str>,
    ) -> Result<Vec<u8>, BlobError> {
        let length =
            usize::try_from(range.end - range.start).map_err(|_| BlobError::Failed("range too large".into()))?;
        let mut buffer = vec![0u8; length];
        let options = BlobClientDownloadOptions {
            range: Some(range.into()),
            if_match: if_match.map(|etag| etag.to_owned().into()),
            ..Default::default()
        };
        let result = self.blob(container, name)?.download_into(&mut buffer, Some(options)).await;
        match result {
            Ok(downloaded) => {
                buffer.truncate(downloaded.len);
                Ok(buffer)
            }
            // Reading at or past the end of a blob.
            Err(error) if error.http_status() == Some(StatusCode::RequestedRangeNotSatisfiable) => Ok(Vec::new()),
            Err(error) => Err(azure_error(error)),
        }
    }

    pub(super) async fn write(
        &self,
        container: &str,
        name: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<BlobProperties, BlobError> {
        let length = bytes.len() as u64;
        let options =
            BlobClientUploadOptions { blob_content_type: Some(content_type.to_owned()), ..Default::default() };
        self.blob(container, name)?.upload(RequestContent::from(bytes), Some(options)).await.map_err(azure_error)?;
        // The upload's own ETag header is not exposed uniformly across upload paths; ask once.
        let properties = self.properties(container, name).await?;
        debug_assert_eq!(properties.length, length);
        Ok(properties)
    }

    pub(super) async fn list(&self, container: &str, prefix: &str) -> Result<Vec<BlobItem>, BlobError> {
        let options = BlobContainerClientListBlobsOptions {
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            ..Default::default()
        };
        let mut pager = self.container(container)?.list_blobs(Some(options)).map_err(azure_error)?;
        let mut items = Vec::new();
        while let Some(blob) = pager.try_next().await.map_err(azure_error)? {
            let properties = blob.properties.unwrap_or_default();
            items.push(BlobItem {
                name: blob.name.unwrap_or_default(),
                properties: BlobProperties {
                    etag: properties.etag.map(|e| e.to_string()).unwrap_or_default(),
                    length: properties.content_length.unwrap_or(0),
                    content_type: properties.content_type,
                },
            });
        }
        Ok(items)
    }

    /// Stages one block of a blob being written in blocks; [`Self::commit_blocks`] makes them the blob. A fresh
    /// client per block: with an account key each request carries a newly signed SAS, so a long export never
    /// outlives its signature.
    pub(super) async fn stage_block(
        &self,
        container: &str,
        name: &str,
        block_id: &[u8],
        bytes: Vec<u8>,
    ) -> Result<(), BlobError> {
        let length = bytes.len() as u64;
        self.blob(container, name)?
            .block_blob_client()
            .stage_block(block_id, length, RequestContent::from(bytes), None)
            .await
            .map_err(azure_error)?;
        Ok(())
    }

    /// Commits the staged blocks, in order, as the blob's content.
    pub(super) async fn commit_blocks(
        &self,
        container: &str,
        name: &str,
        blocks: Vec<Vec<u8>>,
        content_type: &str,
    ) -> Result<BlobProperties, BlobError> {
        let list = BlockLookupList { latest: Some(blocks), ..Default::default() };
        let options = BlockBlobClientCommitBlockListOptions {
            blob_content_type: Some(content_type.to_owned()),
            ..Default::default()
        };
        self.blob(container, name)?
            .block_blob_client()
            .commit_block_list(list.try_into().map_err(azure_error)?, Some(options))
            .await
            .map_err(azure_error)?;
        self.properties(container, name).await
    }

    pub(super) async fn delete(&self, container: &str, name: &str) -> Result<(), BlobError> {
        self.blob(container, name)?.delete(None).await.map_err(azure_error)?;
        Ok(())
    }

    pub(super) async fn upload_url(
        &self,
        container: &str,
        name: &str,
        content_type: &str,
        ttl: Duration,
    ) -> Result<SignedUpload, BlobError> {
        let url = self.signed_url(container, name, Access::Upload, ttl).await?;
        Ok(SignedUpload {
            url: url.to_string(),
            method: "PUT",
            headers: vec![("x-ms-blob-type", "BlockBlob".to_owned()), ("content-type", content_type.to_owned())],
        })
    }

    pub(super) async fn download_url(&self, container: &str, name: &str, ttl: Duration) -> Result<String, BlobError> {
        Ok(self.signed_url(container, name, Access::Download, ttl).await?.to_string())
    }

    /// A URL that grants `access` to exactly one blob until `ttl` from now, signed with the account key or, with
    /// managed identity, a user delegation key.
    async fn signed_url(&self, container: &str, name: &str, access: Access, ttl: Duration) -> Result<Url, BlobError> {
        check_name(container)?;
        check_name(name)?;
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| BlobError::Config("endpoint URL".into()))?
            .pop_if_empty()
            .push(container)
            .extend(name.split('/'));
        let now = Utc::now();
        let start = now - chrono::Duration::minutes(5);
        let expiry = now + chrono::Duration::from_std(ttl).map_err(|e| BlobError::Config(e.to_string()))?;
        let https_only = url.scheme() == "https";
        match &self.auth {
            Auth::AccountKey { account, key } => {
                let permissions = access.permissions();
                let sas = BlobSas { account, container, blob: name, permissions, start, expiry, https_only }.sign(key);
                url.query_pairs_mut().extend_pairs(sas);
            }
            Auth::Token(_) => {
                // A user delegation SAS, built by the SDK's own `azure_storage_sas` from a key our identity obtains.
                let key = self.delegation_key(expiry).await?;
                let sas = user_delegation_sas(&key, &self.account_name()?, container, name, access, start, expiry)?;
                url.set_query(Some(&sas));
            }
            Auth::Sas(_) => {
                return Err(BlobError::Unsupported(
                    "signed URLs need the storage account key (VIDEO_STORAGE_CONNECTION_STRING) or managed identity \
                     (VIDEO_STORAGE_ACCOUNT_URL); a SAS URL cannot sign others"
                        .into(),
                ));
            }
        }
        Ok(url)
    }

    /// The account's name: the first label of `<account>.blob.core.windows.net`.
    fn account_name(&self) -> Result<String, BlobError> {
        self.endpoint
            .host_str()
            .and_then(|host| host.split('.').next())
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| BlobError::Config("cannot tell the account name from the endpoint".into()))
    }

    /// A user delegation key valid past `until`: the cached one, or a fresh one from Storage.
    async fn delegation_key(&self, until: chrono::DateTime<Utc>) -> Result<UserDelegationKey, BlobError> {
        let mut cached = self.delegation.lock().await;
        let fresh_enough = cached
            .as_ref()
            .and_then(|key| key.signed_expiry)
            .is_some_and(|expiry| expiry.unix_timestamp() > (until + chrono::Duration::minutes(5)).timestamp());
        if !fresh_enough {
            let now = Utc::now();
            let info = KeyInfo {
                start: Some(offset_time(now - chrono::Duration::minutes(5))?),
                expiry: Some(offset_time(now + DELEGATION_KEY_LIFETIME)?),
                ..Default::default()
            };
            let options = BlobServiceClientOptions { client_options: self.client_options(), ..Default::default() };
            let service =
                BlobServiceClient::new(self.endpoint.clone(), self.credential(), Some(options)).map_err(azure_error)?;
            let request = info.try_into().map_err(azure_error)?;
            let key = service
                .get_user_delegation_key(request, None)
                .await
                .map_err(azure_error)?
                .into_model()
                .map_err(azure_error)?;
            *cached = Some(key);
        }
        cached.clone().ok_or_else(|| BlobError::Failed("no user delegation key".into()))
    }

    pub(super) async fn create_container(&self, container: &str) -> Result<(), BlobError> {
        match self.container(container)?.create(None).await {
            Ok(_) => Ok(()),
            Err(error) if error.http_status() == Some(StatusCode::Conflict) => Ok(()),
            Err(error) => Err(azure_error(error)),
        }
    }

    pub(super) async fn check(&self, container: &str) -> Result<String, BlobError> {
        self.container(container)?.get_properties(None).await.map_err(azure_error)?;
        let host = self.endpoint.host_str().unwrap_or_default();
        Ok(format!("azure blob storage at {host}, container {container}"))
    }
}

/// What a signed URL lets its holder do with its one blob.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// Create and write, no read.
    Upload,
    /// Read only.
    Download,
}

impl Access {
    /// The service SAS `sp`.
    fn permissions(self) -> &'static str {
        match self {
            Self::Upload => "cw",
            Self::Download => "r",
        }
    }
}

/// An https-only user delegation SAS query granting `access` to one blob.
fn user_delegation_sas(
    key: &UserDelegationKey,
    account: &str,
    container: &str,
    name: &str,
    access: Access,
    start: chrono::DateTime<Utc>,
    expiry: chrono::DateTime<Utc>,
) -> Result<String, BlobError> {
    let builder = SasBuilder::new(account, key, offset_time(expiry)?)
        .map_err(|e| BlobError::Failed(format!("user delegation key: {e}")))?
        .start(offset_time(start)?)
        .protocol(SasProtocol::Https)
        .blob(container, name);
    Ok(match access {
        Access::Upload => builder.create().write().build(),
        Access::Download => builder.read().build(),
    })
}

fn offset_time(t: chrono::DateTime<Utc>) -> Result<time::OffsetDateTime, BlobError> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|e| BlobError::Config(e.to_string()))
}

fn azure_error(error: azure_core::Error) -> BlobError {
    match error.http_status() {
        Some(StatusCode::NotFound) => BlobError::NotFound,
        Some(StatusCode::PreconditionFailed) => BlobError::Changed,
        Some(status) if status == StatusCode::TooManyRequests || u16::from(status) >= 500 => {
            BlobError::Unavailable(format!("HTTP {status}"))
        }
        Some(status) => BlobError::Failed(format!("HTTP {status}: {error}")),
        None => match error.kind() {
            azure_core::error::ErrorKind::Io | azure_core::error::ErrorKind::Connection => {
                BlobError::Unavailable(error.to_string())
            }
            _ => BlobError::Failed(error.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_parse_with_an_endpoint_or_a_derived_one() {
        let azurite = ConnectionString::parse(&ConnectionString::azurite_text("http://127.0.0.1:1/devstoreaccount1"))
            .expect("valid");
        assert_eq!(
            (azurite.account.as_str(), azurite.blob_endpoint.as_str()),
            (DEV_ACCOUNT, "http://127.0.0.1:1/devstoreaccount1")
        );
        let azure = ConnectionString::parse(&format!(
            "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={DEV_KEY};EndpointSuffix=core.windows.net"
        ))
        .expect("valid");
        assert_eq!(azure.blob_endpoint, "https://acme.blob.core.windows.net");
        assert_eq!(azure.queue_endpoint.as_deref(), Some("https://acme.queue.core.windows.net"));
        assert_eq!(azurite.queue_endpoint, None, "only a blob endpoint named");
        let development = ConnectionString::parse("UseDevelopmentStorage=true").expect("valid");
        assert_eq!(development.queue_endpoint.as_deref(), Some("http://127.0.0.1:10001/devstoreaccount1"));
        assert!(ConnectionString::parse("AccountName=acme").is_err(), "no key");
        assert!(!format!("{azure:?}").contains(DEV_KEY), "the key never prints");
    }

    #[test]
    fn user_delegation_sas_uploads_are_write_only_downloads_read_only_https_only_and_name_the_key() {
        let now = Utc::now();
        let key = UserDelegationKey {
            signed_oid: Some("11111111-1111-1111-1111-111111111111".into()),
            signed_tid: Some("22222222-2222-2222-2222-222222222222".into()),
            signed_start: offset_time(now).ok(),
            signed_expiry: offset_time(now + chrono::Duration::hours(1)).ok(),
            signed_service: Some("b".into()),
            signed_version: Some("2025-11-05".into()),
            value: Some(b"0123456789abcdef0123456789abcdef".to_vec()),
            ..Default::default()
        };

        let expiry = now + chrono::Duration::minutes(15);
        let sas =
            user_delegation_sas(&key, "acme", "videos", "org/video.mp4", Access::Upload, now, expiry).expect("signs");
        let download =
            user_delegation_sas(&key, "acme", "exports", "org/e.csv", Access::Download, now, expiry).expect("signs");

        let pairs = |sas: &str| -> Vec<(String, String)> {
            Url::parse(&format!("https://x/?{sas}"))
                .expect("query")
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        };
        let (pairs, download) = (pairs(&sas), pairs(&download));
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(get("sp"), Some("cw"), "{sas}");
        assert_eq!(download.iter().find(|(k, _)| k == "sp").map(|(_, v)| v.as_str()), Some("r"), "read only");
        assert_eq!(get("sr"), Some("b"));
        assert_eq!(get("spr"), Some("https"));
        assert_eq!(get("skoid"), Some("11111111-1111-1111-1111-111111111111"));
        assert!(get("sig").is_some_and(|s| !s.is_empty()));
    }

    #[test]
    fn managed_identity_needs_an_https_account_url_and_names_the_account_from_it() {
        let settings = BlobStorageSettings::ManagedIdentity {
            account_url: "https://acme.blob.core.windows.net".into(),
            client_id: None,
        };
        let store = AzureBlobStore::from_settings(&settings).expect("builds without I/O");
        assert_eq!(store.account_name().expect("name"), "acme");
        let plain = BlobStorageSettings::ManagedIdentity { account_url: "http://acme".into(), client_id: None };
        assert!(AzureBlobStore::from_settings(&plain).is_err());
    }
}
