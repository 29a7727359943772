//! Settings whose values live in Key Vault (`SECRETS_FROM_VAULT`), read before the app's settings are loaded.
//!
//! At cold start every listed secret is read **concurrently** (one round trip of latency, not one per secret), and
//! the values are laid over the environment for [`crate::config::Settings::load`]. A secret the vault does not hold
//! stops the start with an error naming the setting and the secret, all missing ones at once; a value never appears.
//! Afterwards [`StartupSecrets::spawn_refresh`] re-reads them every `KEY_VAULT_CACHE_SECS` in the background and
//! reports each rotated value, so a rotation is picked up without a restart by whoever subscribes.
//!
//! In Azure the same settings may instead be Key Vault references (`@Microsoft.KeyVault(...)`) resolved by the
//! platform; `SECRETS_FROM_VAULT` works on every host (Lambda included) and refreshes on our own schedule.

use std::{collections::HashMap, sync::Arc, time::Duration};

use secrecy::{ExposeSecret, SecretString};

use super::{KeyVaultSecrets, SecretsError};
use crate::config::{ConfigError, Lookup, SecretsSettings, VaultSetting};

/// Why the vault-sourced settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StartupSecretsError {
    /// `KEY_VAULT_*` or `SECRETS_FROM_VAULT` is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The vault client could not be built.
    #[error(transparent)]
    Setup(SecretsError),
    /// Some listed secrets are missing or unreadable; each line names a setting and its secret, never a value.
    #[error("settings from Key Vault {vault} could not be read: {}", problems.join("; "))]
    Unreadable {
        /// The vault's URL.
        vault: String,
        /// One line per failed setting.
        problems: Vec<String>,
    },
}

/// The vault-sourced settings as read at cold start, and the vault they came from.
#[derive(Debug)]
pub struct StartupSecrets {
    vault: Arc<KeyVaultSecrets>,
    settings: Vec<VaultSetting>,
    values: HashMap<String, SecretString>,
    refresh_every: Duration,
}

impl StartupSecrets {
    /// Reads every setting `SECRETS_FROM_VAULT` lists from the vault `KEY_VAULT_URL` names, concurrently. `None` when
    /// no vault is configured.
    pub async fn load(lookup: &impl Lookup) -> Result<Option<Self>, StartupSecretsError> {
        let settings = SecretsSettings::load(lookup)?;
        let Some(vault_settings) = &settings.key_vault else { return Ok(None) };
        let vault = Arc::new(KeyVaultSecrets::from_settings(vault_settings).map_err(StartupSecretsError::Setup)?);
        let reads = settings.from_vault.iter().map(|wanted| vault.fetch(&wanted.secret));
        let results = futures::future::join_all(reads).await;
        let mut values = HashMap::new();
        let mut problems = Vec::new();
        for (wanted, result) in settings.from_vault.iter().zip(results) {
            match result {
                Ok(Some(value)) => {
                    values.insert(wanted.setting.clone(), value);
                }
                Ok(None) => problems.push(format!("{}: secret `{}` does not exist", wanted.setting, wanted.secret)),
                Err(error) => problems.push(format!("{}: {error}", wanted.setting)),
            }
        }
        if !problems.is_empty() {
            return Err(StartupSecretsError::Unreadable { vault: vault_settings.url.clone(), problems });
        }
        tracing::info!(
            vault = %vault_settings.url,
            settings = ?settings.from_vault.iter().map(|s| s.setting.as_str()).collect::<Vec<_>>(),
            "settings read from Key Vault"
        );
        Ok(Some(Self { vault, settings: settings.from_vault, values, refresh_every: vault_settings.cache_ttl }))
    }

    /// The vault, to serve as the app's secrets port too (one client, one cache).
    pub fn vault(&self) -> Arc<KeyVaultSecrets> {
        Arc::clone(&self.vault)
    }

    /// `base` with the vault's values laid over it: a vault-sourced setting never resolves from the environment.
    pub fn over<'a, L: Lookup>(&'a self, base: &'a L) -> impl Lookup + 'a {
        move |name: &str| match self.values.get(name) {
            Some(value) => Some(value.expose_secret().to_owned()),
            None => base.get(name),
        }
    }

    /// Re-reads the settings every `KEY_VAULT_CACHE_SECS` and calls `on_change(setting, value)` for each one whose
    /// value changed. A failed read keeps the last value and is logged (name and reason only). The task runs until
    /// the runtime stops.
    pub fn spawn_refresh<F>(&self, on_change: F) -> tokio::task::JoinHandle<()>
    where
        F: Fn(&str, &SecretString) + Send + Sync + 'static,
    {
        let vault = Arc::clone(&self.vault);
        let settings = self.settings.clone();
        let mut known = self.values.clone();
        // A zero cache TTL means "always read through", not "poll the vault in a tight loop".
        let every = self.refresh_every.max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let results = futures::future::join_all(settings.iter().map(|s| vault.fetch(&s.secret))).await;
                for (wanted, result) in settings.iter().zip(results) {
                    match result {
                        Ok(Some(value)) => {
                            let changed = known
                                .get(&wanted.setting)
                                .is_none_or(|old| old.expose_secret() != value.expose_secret());
                            if changed {
                                tracing::info!(target: "audit", event = "secret_rotated", setting = %wanted.setting, secret = %wanted.secret, "a vault-sourced setting changed");
                                on_change(&wanted.setting, &value);
                                known.insert(wanted.setting.clone(), value);
                            }
                        }
                        Ok(None) => {
                            tracing::warn!(setting = %wanted.setting, secret = %wanted.secret, "secret vanished from the vault; keeping the last value");
                        }
                        Err(error) => {
                            tracing::warn!(setting = %wanted.setting, error = %error, "secret refresh failed; keeping the last value");
                        }
                    }
                }
            }
        })
    }
}
