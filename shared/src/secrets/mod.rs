//! The secrets port: named secret values (store credentials, webhook secrets) kept outside the database, which holds
//! only their names. Azure Key Vault in production ([`KeyVaultSecrets`]), a private folder on embedded defaults
//! ([`LocalSecrets`]). Values are [`SecretString`]s end to end, so they never reach a log line or a `Debug` dump.
//!
//! The interface is deliberately Key Vault's shape: get, put (a new version replaces the old one atomically) and
//! delete by name, names limited to what Key Vault accepts.

use std::{fmt, future::Future, pin::Pin, sync::Arc};

use secrecy::SecretString;

use crate::config::SecretsSettings;

mod key_vault;
mod local;
pub mod startup;

pub use crate::domain::SecretName;
pub use key_vault::KeyVaultSecrets;
pub use local::LocalSecrets;

/// A failure of the secrets port. Never carries a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// No secret store is configured for this instance.
    #[error("no secret store is configured (set SECRETS_DIR)")]
    NotConfigured,
    /// The store could not be read or written.
    #[error("secret store I/O failed for `{name}`: {source}")]
    Io {
        /// The secret concerned.
        name: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The vault refused this identity access to the secret (401/403): a missing role assignment.
    #[error(
        "the vault refused access to secret `{name}` ({status}); does the app's identity hold Key Vault Secrets User?"
    )]
    Denied {
        /// The secret concerned.
        name: String,
        /// The vault's status code.
        status: u16,
    },
    /// The vault or the identity endpoint could not be reached or failed; a later try may succeed.
    #[error("secret `{name}` could not be read from the vault: {reason}")]
    Unavailable {
        /// The secret concerned.
        name: String,
        /// What went wrong (never a value).
        reason: String,
    },
    /// The adapter could not be built from its settings.
    #[error("the secret store cannot start: {reason}")]
    Setup {
        /// What is wrong.
        reason: String,
    },
}

/// The future a [`Secrets`] method returns.
pub type SecretsFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SecretsError>> + Send + 'a>>;

/// Where named secrets live. Object-safe, so the adapter is chosen by configuration at startup.
pub trait Secrets: Send + Sync + fmt::Debug {
    /// The current value of `name`, if it exists.
    fn get<'a>(&'a self, name: &'a SecretName) -> SecretsFuture<'a, Option<SecretString>>;
    /// Stores `value` as the current value of `name`, replacing any previous one in a single step.
    fn put<'a>(&'a self, name: &'a SecretName, value: SecretString) -> SecretsFuture<'a, ()>;
    /// Removes `name`; removing a missing secret succeeds.
    fn delete<'a>(&'a self, name: &'a SecretName) -> SecretsFuture<'a, ()>;
}

/// A port with nothing behind it: every call says so. Lets an instance without a secret store still start and serve
/// everything that needs none.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSecrets;

impl Secrets for NoSecrets {
    fn get<'a>(&'a self, _: &'a SecretName) -> SecretsFuture<'a, Option<SecretString>> {
        Box::pin(async { Err(SecretsError::NotConfigured) })
    }

    fn put<'a>(&'a self, _: &'a SecretName, _: SecretString) -> SecretsFuture<'a, ()> {
        Box::pin(async { Err(SecretsError::NotConfigured) })
    }

    fn delete<'a>(&'a self, _: &'a SecretName) -> SecretsFuture<'a, ()> {
        Box::pin(async { Err(SecretsError::NotConfigured) })
    }
}

/// Builds the adapter the settings name: Key Vault when `KEY_VAULT_URL` is set, else the `SECRETS_DIR` folder.
pub fn from_settings(settings: &SecretsSettings) -> Result<Arc<dyn Secrets>, SecretsError> {
    Ok(match (&settings.key_vault, &settings.dir) {
        (Some(vault), _) => Arc::new(KeyVaultSecrets::from_settings(vault)?),
        (None, Some(dir)) => Arc::new(LocalSecrets::new(dir.clone())),
        (None, None) => Arc::new(NoSecrets),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_key_vault_rules() {
        assert!(SecretName::parse("store-6f1c2e1a-0000-4000-8000-000000000000").is_ok());
        for bad in ["", "has space", "dots.are.out", "../escape", &"x".repeat(128)] {
            assert!(SecretName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
