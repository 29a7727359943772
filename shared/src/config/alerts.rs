//! Alert settings: the cooldown, retries, and Azure Communication Services Email for e-mail channels.

use super::*;

/// How alerts are sent.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// `ALERT_COOLDOWN_HOURS` (default 24, fractions allowed): a channel is told about one subject (a product's
    /// restock, one day's revenue anomaly) at most once in this long.
    pub cooldown: Duration,
    /// `ALERT_TIMEOUT_SECS` (default 10): the longest one delivery attempt may take.
    pub timeout: Duration,
    /// `ALERT_MAX_RETRIES` (default 3): retries of a delivery after a 429, a 5xx or a dropped connection.
    pub max_retries: u32,
    /// `ALERT_RETRY_BASE_MS` (default 1000): the first retry's delay; each next one doubles it (with jitter).
    pub retry_base: Duration,
    /// E-mail through Azure Communication Services, when `ACS_EMAIL_ENDPOINT` is set; without it e-mail channels
    /// cannot be created.
    pub email: Option<AcsEmailSettings>,
}

/// How Azure Communication Services Email is reached.
#[derive(Debug, Clone)]
pub struct AcsEmailSettings {
    /// `ACS_EMAIL_ENDPOINT`: the Communication Services resource, `https://<resource>.communication.azure.com`
    /// (http only on a loopback host, for tests and local fakes).
    pub endpoint: String,
    /// `ACS_EMAIL_SENDER`: the verified sender address, `DoNotReply@<your domain>`.
    pub sender: String,
    /// `ACS_EMAIL_KEY`: the resource's access key, which signs each request (HMAC-SHA256). Unset: a managed identity
    /// token is sent instead. List it in `SECRETS_FROM_VAULT` to read it from Key Vault.
    pub access_key: Option<SecretString>,
    /// `ACS_EMAIL_CLIENT_ID`: the client id of a user-assigned managed identity (without a key).
    pub client_id: Option<String>,
    /// Which addresses the endpoint may resolve to (`ALLOW_PRIVATE_ENDPOINTS`).
    pub egress: EgressPolicy,
}

impl AlertSettings {
    pub(super) fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
        let cooldown_hours: f64 = parse_or(lookup, "ALERT_COOLDOWN_HOURS", 24.0)?;
        if !(cooldown_hours > 0.0 && cooldown_hours <= 24.0 * 365.0) {
            let reason = "hours, more than 0 and at most a year".into();
            return Err(ConfigError::Invalid { name: "ALERT_COOLDOWN_HOURS", reason });
        }
        let settings = Self {
            cooldown: Duration::from_secs_f64(cooldown_hours * 3600.0),
            timeout: seconds_or(lookup, "ALERT_TIMEOUT_SECS", Duration::from_secs(10))?,
            max_retries: parse_or(lookup, "ALERT_MAX_RETRIES", 3)?,
            retry_base: Duration::from_millis(parse_or(lookup, "ALERT_RETRY_BASE_MS", 1000)?),
            email: lookup
                .get("ACS_EMAIL_ENDPOINT")
                .map(|endpoint| AcsEmailSettings::load(endpoint, lookup))
                .transpose()?,
        };
        if settings.timeout.is_zero() {
            return Err(ConfigError::Invalid { name: "ALERT_TIMEOUT_SECS", reason: "must be positive".into() });
        }
        if settings.max_retries > 10 {
            return Err(ConfigError::Invalid { name: "ALERT_MAX_RETRIES", reason: "at most 10".into() });
        }
        Ok(settings)
    }
}

impl AcsEmailSettings {
    fn load(endpoint: String, lookup: &impl Lookup) -> Result<Self, ConfigError> {
        let endpoint = endpoint.trim().trim_end_matches('/').to_owned();
        let egress = endpoint_egress(lookup)?;
        check_endpoint_url(&endpoint, egress)
            .map_err(|reason| ConfigError::Invalid { name: "ACS_EMAIL_ENDPOINT", reason })?;
        let sender = lookup.get("ACS_EMAIL_SENDER").ok_or(ConfigError::Missing("ACS_EMAIL_SENDER"))?;
        let sender = crate::domain::EmailAddress::parse(&sender)
            .map_err(|e| ConfigError::Invalid { name: "ACS_EMAIL_SENDER", reason: e.to_string() })?
            .to_string();
        Ok(Self {
            endpoint,
            sender,
            access_key: lookup.get("ACS_EMAIL_KEY").filter(|key| !key.is_empty()).map(SecretString::from),
            client_id: lookup.get("ACS_EMAIL_CLIENT_ID"),
            egress,
        })
    }
}
