//! Where named secrets live: a folder or Azure Key Vault, and settings read from the vault.

use super::*;

/// Where named secrets live.
#[derive(Debug, Clone, Default)]
pub struct SecretsSettings {
    /// `SECRETS_DIR`: a private folder holding one file per secret (`dev`: `<data-dir>/secrets`). Unset, and with no
    /// Key Vault configured, connecting a store answers 503.
    pub dir: Option<PathBuf>,
    /// Azure Key Vault (`KEY_VAULT_URL` and friends). When set it is the secret store, and it wins over `SECRETS_DIR`.
    pub key_vault: Option<KeyVaultSettings>,
    /// `SECRETS_FROM_VAULT`: settings whose values are read from the vault at cold start instead of the environment,
    /// as a comma-separated list of `SETTING` or `SETTING=secret-name` (default secret name: the setting in lower case
    /// with dashes, `SUPABASE_JWT_SECRET` → `supabase-jwt-secret`). Needs `KEY_VAULT_URL`.
    pub from_vault: Vec<VaultSetting>,
}

/// A setting whose value is a Key Vault secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultSetting {
    /// The setting's name, e.g. `SUPABASE_JWT_SECRET`.
    pub setting: String,
    /// The vault secret holding its value.
    pub secret: crate::domain::SecretName,
}

/// How Azure Key Vault is reached.
#[derive(Debug, Clone)]
pub struct KeyVaultSettings {
    /// `KEY_VAULT_URL`: `https://<vault>.vault.azure.net/`. Requests are authorized with the app's managed identity
    /// (`IDENTITY_ENDPOINT`/`IDENTITY_HEADER`, which Azure Functions sets).
    pub url: String,
    /// `KEY_VAULT_CLIENT_ID`: the client id of a user-assigned identity; unset means the system-assigned one.
    pub client_id: Option<String>,
    /// `KEY_VAULT_CA_FILE`: a PEM file of extra root certificates trusted for the vault, added to the system roots
    /// (never replacing them). For a TLS-inspecting proxy in front of a private endpoint, and for tests.
    pub ca_file: Option<PathBuf>,
    /// `KEY_VAULT_CACHE_SECS` (default 300, fractions allowed): how long a value read from the vault is served from
    /// memory; vault-sourced settings are also re-read in the background this often, so a rotation is picked up
    /// within one period.
    pub cache_ttl: Duration,
    /// `KEY_VAULT_TIMEOUT_SECS` (default 10, fractions allowed): the longest one vault or identity request may take.
    pub timeout: Duration,
}

impl SecretsSettings {
    /// Reads `SECRETS_DIR`, `KEY_VAULT_*` and `SECRETS_FROM_VAULT`.
    pub fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
        let key_vault = match lookup.get("KEY_VAULT_URL") {
            None => None,
            Some(url) => Some(KeyVaultSettings::load(url, lookup)?),
        };
        let from_vault = match lookup.get("SECRETS_FROM_VAULT") {
            None => Vec::new(),
            Some(list) => parse_vault_settings(&list)
                .map_err(|reason| ConfigError::Invalid { name: "SECRETS_FROM_VAULT", reason })?,
        };
        if !from_vault.is_empty() && key_vault.is_none() {
            return Err(ConfigError::Missing("KEY_VAULT_URL"));
        }
        Ok(Self { dir: lookup.get("SECRETS_DIR").map(PathBuf::from), key_vault, from_vault })
    }
}

impl KeyVaultSettings {
    pub(super) fn load(url: String, lookup: &impl Lookup) -> Result<Self, ConfigError> {
        // The SDK sends bearer tokens over TLS only; say so at startup rather than at the first read.
        let parsed = reqwest::Url::parse(&url)
            .map_err(|e| ConfigError::Invalid { name: "KEY_VAULT_URL", reason: e.to_string() })?;
        if parsed.scheme() != "https" || parsed.host_str().is_none() {
            let reason = "expected https://<vault>.vault.azure.net/".to_owned();
            return Err(ConfigError::Invalid { name: "KEY_VAULT_URL", reason });
        }
        let timeout = seconds_or(lookup, "KEY_VAULT_TIMEOUT_SECS", Duration::from_secs(10))?;
        if timeout.is_zero() {
            return Err(ConfigError::Invalid { name: "KEY_VAULT_TIMEOUT_SECS", reason: "must be positive".into() });
        }
        Ok(Self {
            url,
            client_id: lookup.get("KEY_VAULT_CLIENT_ID"),
            ca_file: lookup.get("KEY_VAULT_CA_FILE").map(PathBuf::from),
            cache_ttl: seconds_or(lookup, "KEY_VAULT_CACHE_SECS", Duration::from_secs(300))?,
            timeout,
        })
    }
}

/// Settings that locate the vault itself cannot come from it.
pub(super) const NOT_FROM_VAULT: &[&str] =
    &["KEY_VAULT_URL", "KEY_VAULT_CLIENT_ID", "KEY_VAULT_CA_FILE", "SECRETS_FROM_VAULT", "IDENTITY_ENDPOINT"];

pub(super) fn parse_vault_settings(list: &str) -> Result<Vec<VaultSetting>, String> {
    let mut settings: Vec<VaultSetting> = Vec::new();
    for item in list.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        let (setting, secret) = match item.split_once('=') {
            Some((setting, secret)) => (setting.trim(), secret.trim().to_owned()),
            None => (item, item.to_ascii_lowercase().replace('_', "-")),
        };
        if setting.is_empty() || !setting.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
            return Err(format!("`{setting}` is not a setting name (A-Z, 0-9, _)"));
        }
        if NOT_FROM_VAULT.contains(&setting) || setting.starts_with("KEY_VAULT_") {
            return Err(format!("{setting} locates the vault and cannot be read from it"));
        }
        let secret = crate::domain::SecretName::parse(&secret).map_err(|e| format!("{setting}: {e}"))?;
        if settings.iter().any(|known| known.setting == setting) {
            return Err(format!("{setting} is listed twice"));
        }
        settings.push(VaultSetting { setting: setting.to_owned(), secret });
    }
    Ok(settings)
}
