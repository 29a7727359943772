//! Where an HTTP function sends messages for queue functions in Azure: the Functions host's own storage account,
//! named by the host's settings (`AzureWebJobsStorage`), so messages land on the queues its `queueTrigger`s read.

use super::*;

/// The host storage account's queue service, as the Functions host's settings name it.
#[derive(Debug, Clone)]
pub enum QueueSettings {
    /// `AzureWebJobsStorage`: a connection string (`UseDevelopmentStorage=true` for Azurite).
    ConnectionString(SecretString),
    /// Identity-based: `AzureWebJobsStorage__queueServiceUri`, or `https://<AzureWebJobsStorage__accountName>.queue.
    /// core.windows.net`, with managed identity (`AzureWebJobsStorage__clientId` for a user-assigned one).
    ManagedIdentity {
        /// The queue service endpoint.
        queue_url: String,
        /// A user-assigned identity's client id.
        client_id: Option<String>,
    },
    /// Not configured (`handler dev`, Lambda, tests): messages go to the local host's queue, or wait for the timer.
    None,
}

impl QueueSettings {
    pub(super) fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
        let client_id = lookup.get("AzureWebJobsStorage__clientId");
        if let Some(url) = lookup.get("AzureWebJobsStorage__queueServiceUri") {
            if !url.starts_with("https://") {
                let reason = "managed identity needs an https queue service URI".to_owned();
                return Err(ConfigError::Invalid { name: "AzureWebJobsStorage__queueServiceUri", reason });
            }
            return Ok(Self::ManagedIdentity { queue_url: url, client_id });
        }
        if let Some(account) = lookup.get("AzureWebJobsStorage__accountName") {
            return Ok(Self::ManagedIdentity {
                queue_url: format!("https://{account}.queue.core.windows.net"),
                client_id,
            });
        }
        Ok(lookup
            .get("AzureWebJobsStorage")
            .filter(|text| !text.trim().is_empty())
            .map_or(Self::None, |text| Self::ConnectionString(SecretString::from(text))))
    }
}
