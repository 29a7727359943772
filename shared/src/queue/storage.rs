//! Azure Storage Queues through the official `azure_storage_queue` client, on the Functions host's storage account.
//! Messages are base64-encoded JSON, the encoding the host's `queueTrigger` expects by default. With a connection
//! string each request carries a freshly signed account SAS (the client has no shared-key auth); in Azure, managed
//! identity.

use std::sync::Arc;

use azure_core::{
    credentials::TokenCredential,
    http::{ClientOptions, ExponentialRetryOptions, RetryOptions, StatusCode, Url},
};
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use azure_storage_queue::{QueueClient, QueueClientOptions, models::QueueMessage};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::{
    blob::{
        ConnectionString,
        sas::{AccountKey, queue_account_sas},
    },
    config::QueueSettings,
};

/// A queue failure.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The settings do not name a usable queue service.
    #[error("queue settings: {0}")]
    Config(String),
    /// The service refused or could not be reached.
    #[error("queue service: {0}")]
    Failed(String),
}

enum Auth {
    AccountKey { account: String, key: AccountKey },
    Token(Arc<dyn TokenCredential>),
}

/// The queues of one storage account.
pub struct StorageQueues {
    /// `scheme://host[/account]/`.
    endpoint: Url,
    auth: Auth,
}

impl std::fmt::Debug for StorageQueues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageQueues").field("endpoint", &self.endpoint.as_str()).finish_non_exhaustive()
    }
}

impl StorageQueues {
    /// The queues the settings name, or `None` when none are configured.
    pub fn from_settings(settings: &QueueSettings) -> Result<Option<Self>, QueueError> {
        match settings {
            QueueSettings::None => Ok(None),
            QueueSettings::ConnectionString(text) => {
                let parsed =
                    ConnectionString::parse(text.expose_secret()).map_err(|e| QueueError::Config(e.to_string()))?;
                let endpoint = parsed
                    .queue_endpoint
                    .ok_or_else(|| QueueError::Config("the connection string names no queue endpoint".into()))?;
                Self::new(&endpoint, Auth::AccountKey { account: parsed.account, key: parsed.key }).map(Some)
            }
            QueueSettings::ManagedIdentity { queue_url, client_id } => {
                let options = ManagedIdentityCredentialOptions {
                    user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                    ..Default::default()
                };
                let credential = ManagedIdentityCredential::new(Some(options))
                    .map_err(|e| QueueError::Config(format!("managed identity: {e}")))?;
                Self::new(queue_url, Auth::Token(credential)).map(Some)
            }
        }
    }

    /// The queues of a connection string's account (tests and Azurite).
    pub fn from_connection_string(text: &str) -> Result<Self, QueueError> {
        Self::from_settings(&QueueSettings::ConnectionString(text.to_owned().into()))?
            .ok_or_else(|| QueueError::Config("no queue endpoint".into()))
    }

    fn new(endpoint: &str, auth: Auth) -> Result<Self, QueueError> {
        let mut endpoint = Url::parse(endpoint).map_err(|e| QueueError::Config(format!("queue endpoint: {e}")))?;
        if !endpoint.path().ends_with('/') {
            endpoint.set_path(&format!("{}/", endpoint.path()));
        }
        Ok(Self { endpoint, auth })
    }

    /// A client of one queue, its URL signed afresh when a key signs.
    pub fn client(&self, queue: &str) -> Result<QueueClient, QueueError> {
        let mut url = self.endpoint.clone();
        url.path_segments_mut()
            .map_err(|()| QueueError::Config("queue endpoint URL".into()))?
            .pop_if_empty()
            .push(queue);
        let credential = match &self.auth {
            Auth::AccountKey { account, key } => {
                let now = Utc::now();
                let sas = queue_account_sas(
                    account,
                    key,
                    now - chrono::Duration::minutes(5),
                    now + chrono::Duration::minutes(30),
                );
                url.query_pairs_mut().extend_pairs(sas);
                None
            }
            Auth::Token(credential) => Some(credential.clone()),
        };
        // A short retry budget: the caller is an HTTP request, and the message is recorded for the sweep anyway.
        let retry = RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: azure_core::time::Duration::milliseconds(200),
            max_retries: 2,
            max_total_elapsed: azure_core::time::Duration::seconds(5),
            max_delay: azure_core::time::Duration::seconds(2),
        });
        let options =
            QueueClientOptions { client_options: ClientOptions { retry, ..Default::default() }, ..Default::default() };
        QueueClient::new(url, credential, Some(options)).map_err(|e| QueueError::Config(e.to_string()))
    }

    /// Sends one message: the JSON text, base64-encoded.
    pub async fn send(&self, queue: &str, message: &Value) -> Result<(), QueueError> {
        let text = STANDARD.encode(message.to_string());
        let body = QueueMessage { message_text: Some(text) };
        let content = body.try_into().map_err(|e: azure_core::Error| QueueError::Failed(e.to_string()))?;
        self.client(queue)?.send_message(content, None).await.map_err(|error| match error.http_status() {
            Some(StatusCode::NotFound) => QueueError::Failed(format!("queue `{queue}` does not exist")),
            _ => QueueError::Failed(error.to_string()),
        })?;
        Ok(())
    }

    /// Creates the queue if it does not exist (the Functions host creates its trigger queues; tests call this).
    pub async fn create(&self, queue: &str) -> Result<(), QueueError> {
        match self.client(queue)?.create(None).await {
            Ok(_) => Ok(()),
            Err(error) if error.http_status() == Some(StatusCode::Conflict) => Ok(()),
            Err(error) => Err(QueueError::Failed(error.to_string())),
        }
    }
}
