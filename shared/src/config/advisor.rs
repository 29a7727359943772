//! Advisor settings: default lead time and cover, and Azure OpenAI.

use super::*;

/// How the advisor runs.
#[derive(Debug, Clone)]
pub struct AdvisorSettings {
    /// Azure OpenAI, when `AZURE_OPENAI_ENDPOINT` is set; otherwise summaries and answers come from templates.
    pub openai: Option<AzureOpenAiSettings>,
    /// `ADVICE_DEFAULT_LEAD_TIME_DAYS` (default 14): supplier lead time for products without one.
    pub default_lead_time_days: u32,
    /// `ADVICE_DEFAULT_TARGET_COVER_DAYS` (default 30): days of sales a reorder should cover after the lead time, for
    /// products without a target.
    pub default_target_cover_days: u32,
}

/// How Azure OpenAI is reached.
#[derive(Debug, Clone)]
pub struct AzureOpenAiSettings {
    /// `AZURE_OPENAI_ENDPOINT`: the resource, `https://<resource>.openai.azure.com` (http only on a loopback host,
    /// for tests and local fakes).
    pub endpoint: String,
    /// `AZURE_OPENAI_DEPLOYMENT`: the deployment name (the `model` on the v1 path).
    pub deployment: String,
    /// `AZURE_OPENAI_API_KEY`: sent as `api-key`. Unset: a managed identity token is sent instead. List it in
    /// `SECRETS_FROM_VAULT` to read it from Key Vault.
    pub api_key: Option<SecretString>,
    /// `AZURE_OPENAI_CLIENT_ID`: the client id of a user-assigned managed identity (without a key).
    pub client_id: Option<String>,
    /// `AZURE_OPENAI_API_VERSION`: set to use the classic deployments path with this `api-version` (2024-08-01-preview
    /// or later, for structured outputs); unset, the v1 path `/openai/v1/chat/completions` is used.
    pub api_version: Option<String>,
    /// `AZURE_OPENAI_TIMEOUT_SECS` (default 20, fractions allowed): the whole budget of one answer, retries included.
    pub timeout: Duration,
    /// `AZURE_OPENAI_MAX_RETRIES` (default 2): retries after a 429, a 5xx or a dropped connection.
    pub max_retries: u32,
    /// `AZURE_OPENAI_MAX_TOKENS` (default 800): the completion's token cap. Quota is reserved from it when a request
    /// arrives, so it stays tight.
    pub max_tokens: u32,
    /// Which addresses the endpoint may resolve to ([`endpoint_egress`]).
    pub egress: EgressPolicy,
}

impl AdvisorSettings {
    pub(super) fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
        let openai = match lookup.get("AZURE_OPENAI_ENDPOINT") {
            None => None,
            Some(endpoint) => Some(AzureOpenAiSettings::load(endpoint, lookup)?),
        };
        let settings = Self {
            openai,
            default_lead_time_days: parse_or(lookup, "ADVICE_DEFAULT_LEAD_TIME_DAYS", 14)?,
            default_target_cover_days: parse_or(lookup, "ADVICE_DEFAULT_TARGET_COVER_DAYS", 30)?,
        };
        if settings.default_lead_time_days > 365 {
            let reason = "between 0 and 365 days".to_owned();
            return Err(ConfigError::Invalid { name: "ADVICE_DEFAULT_LEAD_TIME_DAYS", reason });
        }
        if !(1..=365).contains(&settings.default_target_cover_days) {
            let reason = "between 1 and 365 days".to_owned();
            return Err(ConfigError::Invalid { name: "ADVICE_DEFAULT_TARGET_COVER_DAYS", reason });
        }
        Ok(settings)
    }
}

impl AzureOpenAiSettings {
    pub(super) fn load(endpoint: String, lookup: &impl Lookup) -> Result<Self, ConfigError> {
        let endpoint = endpoint.trim().trim_end_matches('/').to_owned();
        let egress = endpoint_egress(lookup)?;
        check_endpoint_url(&endpoint, egress)
            .map_err(|reason| ConfigError::Invalid { name: "AZURE_OPENAI_ENDPOINT", reason })?;
        let deployment =
            lookup.get("AZURE_OPENAI_DEPLOYMENT").ok_or(ConfigError::Missing("AZURE_OPENAI_DEPLOYMENT"))?;
        if deployment.is_empty() || !deployment.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
            let reason = "letters, digits, '-', '_' and '.' only".to_owned();
            return Err(ConfigError::Invalid { name: "AZURE_OPENAI_DEPLOYMENT", reason });
        }
        let api_version = lookup.get("AZURE_OPENAI_API_VERSION");
        if let Some(version) = &api_version {
            let dated = version.len() >= 10
                && version
                    .bytes()
                    .take(10)
                    .enumerate()
                    .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
            if !dated && version != "preview" {
                let reason = "expected a dated version such as 2024-10-21 (or unset for the v1 path)".to_owned();
                return Err(ConfigError::Invalid { name: "AZURE_OPENAI_API_VERSION", reason });
            }
        }
        let timeout = seconds_or(lookup, "AZURE_OPENAI_TIMEOUT_SECS", Duration::from_secs(20))?;
        if timeout.is_zero() {
            return Err(ConfigError::Invalid { name: "AZURE_OPENAI_TIMEOUT_SECS", reason: "must be positive".into() });
        }
        let max_tokens = parse_or(lookup, "AZURE_OPENAI_MAX_TOKENS", 800)?;
        if !(16..=16_384).contains(&max_tokens) {
            return Err(ConfigError::Invalid {
                name: "AZURE_OPENAI_MAX_TOKENS",
                reason: "between 16 and 16384".into(),
            });
        }
        Ok(Self {
            endpoint,
            deployment,
            api_key: lookup.get("AZURE_OPENAI_API_KEY").filter(|key| !key.is_empty()).map(SecretString::from),
            client_id: lookup.get("AZURE_OPENAI_CLIENT_ID"),
            api_version,
            timeout,
            max_retries: parse_or(lookup, "AZURE_OPENAI_MAX_RETRIES", 2)?,
            max_tokens,
            egress,
        })
    }
}
