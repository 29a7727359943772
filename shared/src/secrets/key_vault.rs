//! Azure Key Vault behind the secrets port, through the official `azure_security_keyvault_secrets` client and the
//! app's managed identity (`azure_identity::ManagedIdentityCredential`, which in Azure Functions uses the
//! `IDENTITY_ENDPOINT`/`IDENTITY_HEADER` the platform sets).
//!
//! - **One HTTP client, bounded.** The SDK is handed our own reqwest client (its 0.13 major) as its transport, for
//!   the vault and the identity endpoint alike: every request has a connect timeout and a total timeout, and the
//!   SDK's retry policy is cut to two quick retries, so a vault that is down costs seconds, not the SDK's minute.
//! - **A TTL cache.** Values are served from memory for `KEY_VAULT_CACHE_SECS`; a `put` or `delete` through this
//!   adapter updates the cache at once, a change made elsewhere (a rotation) is seen when the entry expires, or at
//!   the next background refresh ([`super::startup`]).
//! - **Nothing leaks.** Values stay [`SecretString`]s; errors name the secret and the vault's status, never a value,
//!   and the SDK's own error text (which may quote a response body) stays out of them.

use std::{
    collections::HashMap,
    fmt,
    net::IpAddr,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use azure_core::{
    credentials::TokenCredential,
    http::{ClientOptions, ExponentialRetryOptions, RetryOptions, StatusCode, Transport},
};
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use azure_security_keyvault_secrets::{
    SecretClient, SecretClientOptions,
    models::{SecretClientGetSecretOptions, SetSecretParameters},
};
use secrecy::{ExposeSecret, SecretString};

use super::{SecretName, Secrets, SecretsError, SecretsFuture};
use crate::config::KeyVaultSettings;

/// The longest the TCP and TLS handshake with the vault or the identity endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Secrets in an Azure Key Vault.
pub struct KeyVaultSecrets {
    client: SecretClient,
    vault: String,
    ttl: Duration,
    /// A std lock: held only to copy a value in or out, never across an `.await`.
    cache: RwLock<HashMap<String, Cached>>,
}

struct Cached {
    value: SecretString,
    fetched_at: Instant,
}

impl fmt::Debug for KeyVaultSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVaultSecrets").field("vault", &self.vault).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl KeyVaultSecrets {
    /// The vault the settings name, reached with the app's managed identity.
    pub fn from_settings(settings: &KeyVaultSettings) -> Result<Self, SecretsError> {
        let setup = |reason: String| SecretsError::Setup { reason };
        let mut builder = azure_reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(settings.timeout)
            .redirect(azure_reqwest::redirect::Policy::none());
        if let Some(path) = &settings.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| setup(format!("KEY_VAULT_CA_FILE {} cannot be read: {e}", path.display())))?;
            let roots = azure_reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| setup(format!("KEY_VAULT_CA_FILE {} holds no PEM certificate: {e}", path.display())))?;
            builder = builder.tls_certs_merge(roots);
        }
        let http = builder.build().map_err(|e| setup(format!("vault HTTP client: {e}")))?;
        let client_options = ClientOptions {
            transport: Some(Transport::new(Arc::new(http))),
            retry: RetryOptions::exponential(ExponentialRetryOptions {
                initial_delay: azure_core::time::Duration::milliseconds(200),
                max_retries: 2,
                max_total_elapsed: azure_core::time::Duration::try_from(settings.timeout.saturating_mul(3))
                    .unwrap_or(azure_core::time::Duration::seconds(30)),
                max_delay: azure_core::time::Duration::seconds(2),
            }),
            ..ClientOptions::default()
        };
        let credential = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
            user_assigned_id: settings.client_id.clone().map(UserAssignedId::ClientId),
            client_options: client_options.clone(),
        }))
        .map_err(|e| setup(format!("managed identity: {e}")))?;
        Self::new(&settings.url, credential, client_options, settings.cache_ttl)
    }

    /// A client of the vault at `url` authorized by `credential`.
    pub fn new(
        url: &str,
        credential: Arc<dyn TokenCredential>,
        client_options: ClientOptions,
        ttl: Duration,
    ) -> Result<Self, SecretsError> {
        let options = SecretClientOptions {
            client_options,
            // The client checks that the vault's host lies under the resource its 401 challenge names
            // (`*.vault.azure.net`), so a wrong URL cannot collect a token for another service. A vault on a loopback
            // address can only be a local emulator or fake, which no such name can cover.
            verify_challenge_resource: Some(!is_loopback_url(url)),
            ..SecretClientOptions::default()
        };
        let client = SecretClient::new(url, credential, Some(options))
            .map_err(|e| SecretsError::Setup { reason: format!("Key Vault client: {e}") })?;
        Ok(Self { client, vault: url.to_owned(), ttl, cache: RwLock::new(HashMap::new()) })
    }

    /// Reads `name` from the vault, bypassing (and then refreshing) the cache: what the background refresh calls.
    pub async fn fetch(&self, name: &SecretName) -> Result<Option<SecretString>, SecretsError> {
        let mut answer = self.client.get_secret(name.as_ref(), Some(SecretClientGetSecretOptions::default())).await;
        if answer.as_ref().is_err_and(|e| e.http_status() == Some(StatusCode::Unauthorized)) {
            // A 401 after the SDK's own challenge round means the token went stale on the way (expired, revoked).
            // The SDK has dropped it by now, so one more try asks the identity endpoint for a fresh one.
            answer = self.client.get_secret(name.as_ref(), Some(SecretClientGetSecretOptions::default())).await;
        }
        let value = match answer {
            Ok(response) => {
                let secret = response.into_model().map_err(|e| self.failure(name, &e))?;
                secret.value.map(SecretString::from)
            }
            Err(error) if error.http_status() == Some(StatusCode::NotFound) => None,
            Err(error) => return Err(self.failure(name, &error)),
        };
        let mut cache = self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &value {
            Some(value) => {
                cache.insert(name.to_string(), Cached { value: value.clone(), fetched_at: Instant::now() });
            }
            None => {
                cache.remove(name.as_ref());
            }
        }
        Ok(value)
    }

    /// The cached value of `name` if it is younger than the TTL.
    fn fresh(&self, name: &SecretName) -> Option<SecretString> {
        let cache = self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(name.as_ref()).filter(|entry| entry.fetched_at.elapsed() < self.ttl).map(|entry| entry.value.clone())
    }

    fn failure(&self, name: &SecretName, error: &azure_core::Error) -> SecretsError {
        let name = name.to_string();
        match error.http_status() {
            Some(StatusCode::Unauthorized | StatusCode::Forbidden) => {
                SecretsError::Denied { name, status: error.http_status().map_or(0, u16::from) }
            }
            Some(status) => {
                SecretsError::Unavailable { name, reason: format!("the vault answered {}", u16::from(status)) }
            }
            // Transport and credential errors carry no response body: their text is safe to log.
            None => SecretsError::Unavailable { name, reason: error.to_string() },
        }
    }
}

impl Secrets for KeyVaultSecrets {
    fn get<'a>(&'a self, name: &'a SecretName) -> SecretsFuture<'a, Option<SecretString>> {
        Box::pin(async move {
            match self.fresh(name) {
                Some(value) => Ok(Some(value)),
                None => self.fetch(name).await,
            }
        })
    }

    fn put<'a>(&'a self, name: &'a SecretName, value: SecretString) -> SecretsFuture<'a, ()> {
        Box::pin(async move {
            let parameters = SetSecretParameters {
                value: Some(value.expose_secret().to_owned()),
                content_type: Some("text/plain".to_owned()),
                ..SetSecretParameters::default()
            };
            let body = parameters.try_into().map_err(|e: azure_core::Error| self.failure(name, &e))?;
            self.client.set_secret(name.as_ref(), body, None).await.map_err(|e| self.failure(name, &e))?;
            let mut cache = self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            cache.insert(name.to_string(), Cached { value, fetched_at: Instant::now() });
            Ok(())
        })
    }

    fn delete<'a>(&'a self, name: &'a SecretName) -> SecretsFuture<'a, ()> {
        Box::pin(async move {
            match self.client.delete_secret(name.as_ref(), None).await {
                Ok(_) => {}
                Err(error) if error.http_status() == Some(StatusCode::NotFound) => {}
                Err(error) => return Err(self.failure(name, &error)),
            }
            self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(name.as_ref());
            Ok(())
        })
    }
}

fn is_loopback_url(url: &str) -> bool {
    reqwest::Url::parse(url).ok().and_then(|url| url.host_str().map(str::to_owned)).is_some_and(|host| {
        host == "localhost" || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_vaults_skip_the_challenge_resource_check() {
        assert!(is_loopback_url("https://127.0.0.1:8443/"));
        assert!(is_loopback_url("https://[::1]:8443/"));
        assert!(is_loopback_url("https://localhost:8443"));
        assert!(!is_loopback_url("https://advisor.vault.azure.net/"));
        assert!(!is_loopback_url("https://127.0.0.1.evil.example/"));
    }
}
