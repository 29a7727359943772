//! Typed settings. Every value comes from a named variable: environment variables in Azure (app settings) and on
//! Lambda, `local.settings.json` `Values` under a local Functions host, and the embedded defaults of `handler dev`.
//! The loader takes a lookup function, so each host decides where names resolve and tests need no process env.

use std::{net::IpAddr, path::PathBuf, str::FromStr, time::Duration};

use secrecy::SecretString;

use crate::{egress::EgressPolicy, telemetry::LogFormat};

/// Where a setting's value comes from: a name in, a value out.
pub trait Lookup {
    /// The raw value of `name`, if set.
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The process environment.
pub struct Env;

impl Lookup for Env {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// A setting that is missing or cannot be parsed. Values are never included: some are secrets.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required setting has no value.
    #[error("setting {0} is required but not set")]
    Missing(&'static str),
    /// A setting has a value of the wrong form.
    #[error("setting {name} is invalid: {reason}")]
    Invalid {
        /// The setting's name.
        name: &'static str,
        /// What is wrong with it (never the value itself).
        reason: String,
    },
}

/// Everything the app reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The database port.
    pub database: DatabaseSettings,
    /// Bearer-token verification.
    pub auth: AuthSettings,
    /// Log line format (`LOG_FORMAT`: `json` | `pretty`; default `json`).
    pub log_format: LogFormat,
    /// Largest request body accepted by the HTTP API (`MAX_REQUEST_BODY_BYTES`; default 1 MiB).
    pub max_request_body_bytes: usize,
    /// Video uploads: where they are stored and what is accepted.
    pub video: VideoSettings,
    /// Store sync: time budget, leases, retries, which store addresses are reachable.
    pub sync: SyncSettings,
    /// Shopify's endpoints, API version and app credentials.
    pub shopify: ShopifySettings,
    /// Where named secrets (store credentials) live.
    pub secrets: SecretsSettings,
    /// How the HTTP API protects itself: CORS, rate limits, client addresses, shutdown.
    pub http: HttpSettings,
    /// The advisor: refresh budget, default lead time and cover, and Azure OpenAI when configured.
    pub advisor: AdvisorSettings,
    /// `APP_URL`: where clients and platforms reach this app (`handler dev` defaults it to its own address).
    /// Links the app hands out are built from it, never from a request's `Host` header, which the caller controls.
    pub app_url: Option<AppUrl>,
    /// `WOOCOMMERCE_KEY_SCOPE` (default `read`): what a WooCommerce key approval asks for. `read` is all the sync
    /// needs, but WooCommerce refuses every write with read keys, creating webhooks included; `read_write` lets
    /// the app create its webhooks on the site.
    pub woocommerce_key_scope: &'static str,
}

/// The app's public base URL: absolute http(s), a host, no credentials, query or fragment; kept without a
/// trailing slash so paths join on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppUrl(reqwest::Url);

impl AppUrl {
    /// Parses and normalises a base URL.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut url = reqwest::Url::parse(raw.trim()).map_err(|e| format!("not an absolute URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must be an http or https URL".to_owned());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must name a host".to_owned());
        }
        if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
            return Err("must not carry credentials, a query or a fragment".to_owned());
        }
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&path);
        Ok(Self(url))
    }

    /// `<base><path>`, for a `path` that starts with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0.as_str().trim_end_matches('/'))
    }
}

impl std::fmt::Display for AppUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

/// How the advisor runs.
#[derive(Debug, Clone)]
pub struct AdvisorSettings {
    /// Azure OpenAI, when `AZURE_OPENAI_ENDPOINT` is set; otherwise summaries and answers come from templates.
    pub openai: Option<AzureOpenAiSettings>,
    /// `ADVICE_REFRESH_BUDGET_SECS` (default 240, fractions allowed): how long one `RefreshAdvice` tick may work;
    /// organizations it does not reach wait for the next tick.
    pub refresh_budget: Duration,
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
    fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
        let openai = match lookup.get("AZURE_OPENAI_ENDPOINT") {
            None => None,
            Some(endpoint) => Some(AzureOpenAiSettings::load(endpoint, lookup)?),
        };
        let settings = Self {
            openai,
            refresh_budget: seconds_or(lookup, "ADVICE_REFRESH_BUDGET_SECS", Duration::from_secs(240))?,
            default_lead_time_days: parse_or(lookup, "ADVICE_DEFAULT_LEAD_TIME_DAYS", 14)?,
            default_target_cover_days: parse_or(lookup, "ADVICE_DEFAULT_TARGET_COVER_DAYS", 30)?,
        };
        if settings.refresh_budget.is_zero() {
            return Err(ConfigError::Invalid { name: "ADVICE_REFRESH_BUDGET_SECS", reason: "must be positive".into() });
        }
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
    fn load(endpoint: String, lookup: &impl Lookup) -> Result<Self, ConfigError> {
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

/// How the HTTP API protects itself.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins (`https://app.example.com`) whose browser pages may call the
    /// API. Unset: no cross-origin browser access at all. `*` is refused: the API takes bearer tokens.
    pub cors_allowed_origins: Vec<String>,
    /// `RATE_LIMIT_PER_MINUTE` (default 600; 0 turns limiting off): requests each organization (and, on routes
    /// outside an organization, each user) may make per minute on one instance.
    pub rate_limit_per_minute: u32,
    /// `RATE_LIMIT_BURST` (default 60): how many of them may come at once after a quiet spell.
    pub rate_limit_burst: u32,
    /// `RATE_LIMIT_ANONYMOUS_PER_MINUTE` (default 120): requests without credentials, or with refused ones, per
    /// client address per minute (burst: a sixth of it, at least 1).
    pub rate_limit_anonymous_per_minute: u32,
    /// `TRUSTED_PROXY_HOPS`: how many proxies in front of the process append to `X-Forwarded-For`; the client
    /// address is the entry that many places from the right (entries further left are client-supplied and ignored),
    /// `0` the TCP peer. Unset, each host decides what sits in front of it (see [`Self::behind_azure_front_end`]).
    pub trusted_proxy_hops: Option<usize>,
    /// `WEBSITE_INSTANCE_ID` is set: Azure runs this instance, so Azure's front end appends the caller's address to
    /// `X-Forwarded-For` and the Functions host forwards the header to the worker on loopback.
    pub behind_azure_front_end: bool,
    /// `SHUTDOWN_GRACE_SECS` (default 25, fractions allowed): after SIGTERM, how long in-flight requests may take to
    /// finish before the process exits anyway.
    pub shutdown_grace: Duration,
}

impl HttpSettings {
    fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
        let mut cors_allowed_origins = Vec::new();
        for origin in lookup.get("CORS_ALLOWED_ORIGINS").unwrap_or_default().split(',').map(str::trim) {
            if origin.is_empty() {
                continue;
            }
            check_origin(origin).map_err(|reason| ConfigError::Invalid { name: "CORS_ALLOWED_ORIGINS", reason })?;
            cors_allowed_origins.push(origin.to_owned());
        }
        let settings = Self {
            cors_allowed_origins,
            rate_limit_per_minute: parse_or(lookup, "RATE_LIMIT_PER_MINUTE", 600)?,
            rate_limit_burst: parse_or(lookup, "RATE_LIMIT_BURST", 60)?,
            rate_limit_anonymous_per_minute: parse_or(lookup, "RATE_LIMIT_ANONYMOUS_PER_MINUTE", 120)?,
            trusted_proxy_hops: parse_optional(lookup, "TRUSTED_PROXY_HOPS")?,
            behind_azure_front_end: lookup.get("WEBSITE_INSTANCE_ID").is_some_and(|id| !id.trim().is_empty()),
            shutdown_grace: seconds_or(lookup, "SHUTDOWN_GRACE_SECS", Duration::from_secs(25))?,
        };
        if settings.rate_limit_per_minute > 0 && settings.rate_limit_burst == 0 {
            let reason = "must be at least 1 while RATE_LIMIT_PER_MINUTE is on".to_owned();
            return Err(ConfigError::Invalid { name: "RATE_LIMIT_BURST", reason });
        }
        Ok(settings)
    }
}

/// An origin is `scheme://host[:port]`, nothing more: a path or a wildcard would never match a browser's `Origin`.
fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Err("`*` is not allowed; list the origins".to_owned());
    }
    let parsed = reqwest::Url::parse(origin).map_err(|e| format!("`{origin}`: {e}"))?;
    let bare = matches!(parsed.scheme(), "https" | "http")
        && parsed.host_str().is_some()
        && parsed.path() == "/"
        && !origin.ends_with('/')
        && parsed.query().is_none()
        && parsed.username().is_empty();
    if bare { Ok(()) } else { Err(format!("`{origin}` is not an origin (scheme://host[:port])")) }
}

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
    fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
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

/// How store syncs run.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// `SYNC_TIME_BUDGET_SECS` (default 240, fractions allowed): how long one `SyncStores` tick may work. Below the
    /// function timeout (10 minutes in `host.json`) and the 5-minute schedule, so ticks rarely overlap; whatever is
    /// left waits for the next tick.
    pub time_budget: Duration,
    /// `SYNC_REQUEST_BUDGET_SECS` (default 20): how long `POST /api/v1/stores/{id}/sync` works before answering.
    pub request_budget: Duration,
    /// `SYNC_LEASE_SECS` (default 120): how long a store stays leased without a checkpoint. A crashed instance's
    /// store is free again this long after its last page; a live instance renews the lease at every page.
    pub lease: Duration,
    /// `SYNC_MIN_INTERVAL_SECS` (default 60): after a complete pass a store is due again this much later.
    pub min_interval: Duration,
    /// `PLATFORM_TIMEOUT_SECS` (default 30): the longest one platform request may take.
    pub request_timeout: Duration,
    /// `PLATFORM_MAX_RETRIES` (default 4): retries of a platform request after a 5xx, a timeout or a dropped
    /// connection, with exponential backoff and jitter.
    pub max_retries: u32,
    /// `PLATFORM_RETRY_BASE_MS` (default 500): the first retry's delay; each next one doubles it.
    pub retry_base: Duration,
    /// `ALLOW_PRIVATE_STORE_URLS` (default false): accept WooCommerce site URLs that resolve to loopback, private or
    /// link-local addresses (tests, `dev`). Cloud metadata addresses are refused regardless.
    pub allow_private_store_urls: bool,
}

impl SyncSettings {
    fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
        let settings = Self {
            time_budget: seconds_or(lookup, "SYNC_TIME_BUDGET_SECS", Duration::from_secs(240))?,
            request_budget: seconds_or(lookup, "SYNC_REQUEST_BUDGET_SECS", Duration::from_secs(20))?,
            lease: seconds_or(lookup, "SYNC_LEASE_SECS", Duration::from_secs(120))?,
            min_interval: seconds_or(lookup, "SYNC_MIN_INTERVAL_SECS", Duration::from_secs(60))?,
            request_timeout: seconds_or(lookup, "PLATFORM_TIMEOUT_SECS", Duration::from_secs(30))?,
            max_retries: parse_or(lookup, "PLATFORM_MAX_RETRIES", 4)?,
            retry_base: Duration::from_millis(parse_or(lookup, "PLATFORM_RETRY_BASE_MS", 500)?),
            allow_private_store_urls: parse_or(lookup, "ALLOW_PRIVATE_STORE_URLS", false)?,
        };
        for (name, value) in [
            ("SYNC_TIME_BUDGET_SECS", settings.time_budget),
            ("SYNC_REQUEST_BUDGET_SECS", settings.request_budget),
            ("SYNC_LEASE_SECS", settings.lease),
            ("PLATFORM_TIMEOUT_SECS", settings.request_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::Invalid { name, reason: "must be positive".into() });
            }
        }
        Ok(settings)
    }
}

/// What a Shopify install asks for unless `SHOPIFY_SCOPES` says otherwise: what the sync reads.
pub const DEFAULT_SHOPIFY_SCOPES: &str = "read_products,read_orders,read_inventory";

/// How Shopify is reached.
#[derive(Debug, Clone)]
pub struct ShopifySettings {
    /// `SHOPIFY_ADMIN_URL_TEMPLATE` (default `https://{shop}/admin/api/{version}/graphql.json`): the GraphQL Admin
    /// endpoint, `{shop}` being the store's `*.myshopify.com` domain. Tests and staging point it at a fake.
    pub admin_url_template: String,
    /// `SHOPIFY_TOKEN_URL_TEMPLATE` (default `https://{shop}/admin/oauth/access_token`): where an install's
    /// authorization code is exchanged for a token and expiring offline tokens are refreshed.
    pub token_url_template: String,
    /// `SHOPIFY_AUTHORIZE_URL_TEMPLATE` (default `https://{shop}/admin/oauth/authorize`): where a merchant approves
    /// the app's install. Tests point it at a fake that approves at once.
    pub authorize_url_template: String,
    /// `SHOPIFY_SCOPES` (default `read_products,read_orders,read_inventory`): the access scopes an install asks for,
    /// comma-separated.
    pub scopes: String,
    /// `SHOPIFY_API_VERSION` (default `2026-10`): the pinned Admin API version.
    pub api_version: String,
    /// `SHOPIFY_CLIENT_ID`: the app's client id, needed to refresh expiring tokens.
    pub client_id: Option<String>,
    /// `SHOPIFY_CLIENT_SECRET`: the app's client secret: signs webhooks and refreshes expiring tokens.
    pub client_secret: Option<SecretString>,
    /// `SHOPIFY_CLIENT_SECRET_PREVIOUS`: the secret before a rotation, still accepted on webhooks (Shopify may sign
    /// with the old one for up to an hour).
    pub previous_client_secret: Option<SecretString>,
}

impl ShopifySettings {
    fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
        let admin_url_template = lookup
            .get("SHOPIFY_ADMIN_URL_TEMPLATE")
            .unwrap_or_else(|| "https://{shop}/admin/api/{version}/graphql.json".to_owned());
        let token_url_template = lookup
            .get("SHOPIFY_TOKEN_URL_TEMPLATE")
            .unwrap_or_else(|| "https://{shop}/admin/oauth/access_token".to_owned());
        let authorize_url_template = lookup
            .get("SHOPIFY_AUTHORIZE_URL_TEMPLATE")
            .unwrap_or_else(|| "https://{shop}/admin/oauth/authorize".to_owned());
        for (name, template) in [
            ("SHOPIFY_ADMIN_URL_TEMPLATE", &admin_url_template),
            ("SHOPIFY_TOKEN_URL_TEMPLATE", &token_url_template),
            ("SHOPIFY_AUTHORIZE_URL_TEMPLATE", &authorize_url_template),
        ] {
            let sample = template.replace("{shop}", "example.myshopify.com").replace("{version}", "2026-10");
            let parsed =
                reqwest::Url::parse(&sample).map_err(|e| ConfigError::Invalid { name, reason: e.to_string() })?;
            if !template.contains("{shop}") || !matches!(parsed.scheme(), "https" | "http") {
                let reason = "expected an http(s) URL containing {shop}".to_owned();
                return Err(ConfigError::Invalid { name, reason });
            }
        }
        let api_version = lookup.get("SHOPIFY_API_VERSION").unwrap_or_else(|| "2026-10".to_owned());
        let shaped = api_version.len() == 7
            && api_version.bytes().enumerate().all(|(i, b)| if i == 4 { b == b'-' } else { b.is_ascii_digit() });
        if !shaped && api_version != "unstable" {
            let reason = "expected YYYY-MM or unstable".to_owned();
            return Err(ConfigError::Invalid { name: "SHOPIFY_API_VERSION", reason });
        }
        let scopes = lookup.get("SHOPIFY_SCOPES").unwrap_or_else(|| DEFAULT_SHOPIFY_SCOPES.to_owned());
        let scope_names: Vec<&str> = scopes.split(',').map(str::trim).collect();
        if scope_names
            .iter()
            .any(|scope| scope.is_empty() || !scope.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        {
            let reason = "expected comma-separated scope names such as read_products,read_orders".to_owned();
            return Err(ConfigError::Invalid { name: "SHOPIFY_SCOPES", reason });
        }
        Ok(Self {
            admin_url_template,
            token_url_template,
            authorize_url_template,
            scopes: scope_names.join(","),
            api_version,
            client_id: lookup.get("SHOPIFY_CLIENT_ID"),
            client_secret: lookup.get("SHOPIFY_CLIENT_SECRET").map(SecretString::from),
            previous_client_secret: lookup.get("SHOPIFY_CLIENT_SECRET_PREVIOUS").map(SecretString::from),
        })
    }
}

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
    fn load(url: String, lookup: &impl Lookup) -> Result<Self, ConfigError> {
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
const NOT_FROM_VAULT: &[&str] =
    &["KEY_VAULT_URL", "KEY_VAULT_CLIENT_ID", "KEY_VAULT_CA_FILE", "SECRETS_FROM_VAULT", "IDENTITY_ENDPOINT"];

fn parse_vault_settings(list: &str) -> Result<Vec<VaultSetting>, String> {
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

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`: `postgres://…` or `sqlite://…`. Secret: it may hold a password.
    pub url: SecretString,
    /// `DATABASE_MAX_CONNECTIONS` (default 5): serverless instances are many and short-lived, so each keeps few.
    pub max_connections: u32,
    /// `DATABASE_ACQUIRE_TIMEOUT_SECS` (default 5): how long a request waits for a pooled connection.
    pub acquire_timeout: Duration,
    /// `DATABASE_TRANSACTION_POOLER`: the URL points at a transaction-mode pooler (PgBouncer, Supavisor), so
    /// statements must not be cached per connection. Defaults to true on port 6543, Supabase's pooler port.
    pub transaction_pooler: Option<bool>,
    /// `AUTO_MIGRATE` (default false): `serve` and Lambda apply pending migrations when they start. Meant for
    /// single-instance deployments; with many instances run `handler migrate` once before switching traffic.
    pub auto_migrate: bool,
}

/// How bearer tokens are checked.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `SUPABASE_URL`, e.g. `https://abc.supabase.co`; the issuer and the JWKS URL are derived from it.
    pub supabase_url: Option<String>,
    /// `SUPABASE_ANON_KEY`: the project's public `anon` key, which the dashboard sends to Supabase Auth as `apikey`.
    /// Public by design (every Supabase web page ships it), so it is no secret; with `SUPABASE_URL` it enables
    /// e-mail sign-in on the dashboard.
    pub anon_key: Option<String>,
    /// `SUPABASE_JWT_SECRET`: the legacy HS256 secret (and the generated secret in `dev`). Empty counts as unset: an
    /// empty HMAC key would let anyone sign tokens.
    pub jwt_secret: Option<SecretString>,
    /// `AUTH_ISSUER`: expected `iss`; default `{SUPABASE_URL}/auth/v1`, or [`DEV_ISSUER`] without Supabase.
    pub issuer: String,
    /// `SUPABASE_JWKS_URL`: where the ES256/RS256 public keys are published; default
    /// `{SUPABASE_URL}/auth/v1/.well-known/jwks.json`. None (no Supabase project) means asymmetric tokens are refused.
    /// Must be `https`, or `http` on a loopback host (tests and local fakes).
    pub jwks_url: Option<String>,
    /// `AUTH_JWKS_CACHE_SECS` (default and maximum 600, fractions allowed): how long a fetched key set is trusted.
    /// Supabase's edge already caches the set for 10 minutes, so caching longer would delay key revocation further.
    pub jwks_cache_ttl: Duration,
    /// `AUTH_JWKS_MIN_REFETCH_SECS` (default 5, fractions allowed, at most the cache TTL): the least time between two
    /// fetches, so a flood of tokens with made-up key ids cannot turn this instance into a JWKS load generator.
    pub jwks_min_refetch_interval: Duration,
    /// Which addresses the JWKS URL may resolve to ([`endpoint_egress`]).
    pub egress: EgressPolicy,
}

/// The issuer of tokens minted by `handler token` when no Supabase project is configured.
pub const DEV_ISSUER: &str = "retail-ai-advisor-dev";

/// The longest a fetched JWKS may be cached: Supabase's own edge cache time.
const MAX_JWKS_CACHE: Duration = Duration::from_secs(600);

impl Settings {
    /// Reads all settings through `lookup`.
    pub fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            database: DatabaseSettings {
                url: lookup.get("DATABASE_URL").map(SecretString::from).ok_or(ConfigError::Missing("DATABASE_URL"))?,
                max_connections: parse_or(lookup, "DATABASE_MAX_CONNECTIONS", 5)?,
                acquire_timeout: seconds_or(lookup, "DATABASE_ACQUIRE_TIMEOUT_SECS", Duration::from_secs(5))?,
                transaction_pooler: parse_optional(lookup, "DATABASE_TRANSACTION_POOLER")?,
                auto_migrate: parse_or(lookup, "AUTO_MIGRATE", false)?,
            },
            auth: AuthSettings::load(lookup)?,
            log_format: match lookup.get("LOG_FORMAT").as_deref() {
                None | Some("json") => LogFormat::Json,
                Some("pretty") => LogFormat::Pretty,
                Some(_) => {
                    return Err(ConfigError::Invalid { name: "LOG_FORMAT", reason: "expected json or pretty".into() });
                }
            },
            max_request_body_bytes: parse_or(lookup, "MAX_REQUEST_BODY_BYTES", 1024 * 1024)?,
            video: VideoSettings::load(lookup)?,
            sync: SyncSettings::load(lookup)?,
            shopify: ShopifySettings::load(lookup)?,
            secrets: SecretsSettings::load(lookup)?,
            http: HttpSettings::load(lookup)?,
            advisor: AdvisorSettings::load(lookup)?,
            app_url: lookup
                .get("APP_URL")
                .map(|raw| AppUrl::parse(&raw).map_err(|reason| ConfigError::Invalid { name: "APP_URL", reason }))
                .transpose()?,
            woocommerce_key_scope: match lookup.get("WOOCOMMERCE_KEY_SCOPE").as_deref() {
                None | Some("read") => "read",
                Some("read_write") => "read_write",
                Some(_) => {
                    let reason = "expected read or read_write".into();
                    return Err(ConfigError::Invalid { name: "WOOCOMMERCE_KEY_SCOPE", reason });
                }
            },
        })
    }
}

impl AuthSettings {
    fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
        let supabase_url = lookup.get("SUPABASE_URL").map(|u| u.trim_end_matches('/').to_owned());
        let issuer = lookup.get("AUTH_ISSUER").unwrap_or_else(|| match &supabase_url {
            Some(url) => format!("{url}/auth/v1"),
            None => DEV_ISSUER.to_owned(),
        });
        let jwt_secret = lookup.get("SUPABASE_JWT_SECRET").filter(|secret| !secret.is_empty());
        let jwks_url = match lookup.get("SUPABASE_JWKS_URL") {
            Some(url) => Some(url),
            None => supabase_url.as_ref().map(|url| format!("{url}/auth/v1/.well-known/jwks.json")),
        };
        let egress = endpoint_egress(lookup)?;
        if let Some(url) = &jwks_url {
            check_endpoint_url(url, egress)
                .map_err(|reason| ConfigError::Invalid { name: "SUPABASE_JWKS_URL", reason })?;
        }
        let jwks_cache_ttl = seconds_or(lookup, "AUTH_JWKS_CACHE_SECS", MAX_JWKS_CACHE)?;
        if jwks_cache_ttl > MAX_JWKS_CACHE {
            let reason = format!("at most {} seconds", MAX_JWKS_CACHE.as_secs());
            return Err(ConfigError::Invalid { name: "AUTH_JWKS_CACHE_SECS", reason });
        }
        let jwks_min_refetch_interval = seconds_or(lookup, "AUTH_JWKS_MIN_REFETCH_SECS", Duration::from_secs(5))?;
        if jwks_min_refetch_interval > jwks_cache_ttl {
            // Otherwise an expired set could not be replaced until the throttle lets go, and every token would fail.
            let reason = "must not exceed AUTH_JWKS_CACHE_SECS".to_owned();
            return Err(ConfigError::Invalid { name: "AUTH_JWKS_MIN_REFETCH_SECS", reason });
        }
        let anon_key = lookup.get("SUPABASE_ANON_KEY").map(|key| key.trim().to_owned()).filter(|key| !key.is_empty());
        Ok(Self {
            supabase_url,
            anon_key,
            jwt_secret: jwt_secret.map(SecretString::from),
            issuer,
            jwks_url,
            jwks_cache_ttl,
            jwks_min_refetch_interval,
            egress,
        })
    }
}

/// `ALLOW_PRIVATE_ENDPOINTS` (default false): operator-configured endpoints (the JWKS, Azure OpenAI) may resolve to
/// loopback, private or link-local addresses: a private endpoint (Azure Private Link), tests, `dev`. Cloud metadata
/// and other never-reachable addresses are refused regardless ([`crate::egress`]).
fn endpoint_egress(lookup: &impl Lookup) -> Result<EgressPolicy, ConfigError> {
    Ok(EgressPolicy { allow_private: parse_or(lookup, "ALLOW_PRIVATE_ENDPOINTS", false)? })
}

/// Endpoints are trusted only over TLS, except on a loopback host, which cannot be intercepted off the machine; an IP
/// literal must be one the egress policy allows (a name is checked on every connection).
fn check_endpoint_url(url: &str, egress: EgressPolicy) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
    egress.check_literal(&parsed).map_err(|refused| refused.to_string())?;
    let loopback = match parsed.host_str() {
        Some("localhost") => true,
        Some(host) => host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err("expected an https URL (http only on a loopback host)".to_owned()),
    }
}

/// The longest duration a setting may name: far above any sane value, and far enough below the limits of clock
/// arithmetic (`Instant + Duration` panics on overflow) that adding one to now is always safe.
const MAX_SETTING_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// A duration given in (possibly fractional) seconds, at most [`MAX_SETTING_DURATION`].
fn seconds_or(lookup: &impl Lookup, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    match parse_optional::<f64>(lookup, name)? {
        None => Ok(default),
        Some(secs) => Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|duration| *duration <= MAX_SETTING_DURATION)
            .ok_or_else(|| ConfigError::Invalid {
                name,
                reason: format!("expected 0 to {} seconds", MAX_SETTING_DURATION.as_secs()),
            }),
    }
}

fn parse_optional<T: FromStr>(lookup: &impl Lookup, name: &'static str) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    lookup
        .get(name)
        .map(|raw| raw.trim().parse().map_err(|e: T::Err| ConfigError::Invalid { name, reason: e.to_string() }))
        .transpose()
}

fn parse_or<T: FromStr>(lookup: &impl Lookup, name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    Ok(parse_optional(lookup, name)?.unwrap_or(default))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::load(&|name: &str| map.get(name).cloned())
    }

    #[test]
    fn defaults_suit_a_small_serverless_instance() {
        let settings = load(&[("DATABASE_URL", "sqlite://x.db")]).expect("valid");
        assert_eq!(settings.database.max_connections, 5);
        assert_eq!(settings.database.acquire_timeout, Duration::from_secs(5));
        assert_eq!(settings.auth.issuer, DEV_ISSUER);
        assert_eq!(settings.log_format, LogFormat::Json);
    }

    #[test]
    fn the_issuer_follows_the_supabase_project() {
        let settings =
            load(&[("DATABASE_URL", "sqlite://x.db"), ("SUPABASE_URL", "https://abc.supabase.co/")]).expect("valid");
        assert_eq!(settings.auth.issuer, "https://abc.supabase.co/auth/v1");
    }

    #[test]
    fn the_jwks_follows_the_supabase_project_unless_overridden() {
        let derived =
            load(&[("DATABASE_URL", "sqlite://x.db"), ("SUPABASE_URL", "https://abc.supabase.co/")]).expect("valid");
        let overridden = load(&[
            ("DATABASE_URL", "sqlite://x.db"),
            ("SUPABASE_JWKS_URL", "http://127.0.0.1:9/jwks"),
            ("ALLOW_PRIVATE_ENDPOINTS", "true"),
        ])
        .expect("valid");
        let neither = load(&[("DATABASE_URL", "sqlite://x.db")]).expect("valid");

        assert_eq!(derived.auth.jwks_url.as_deref(), Some("https://abc.supabase.co/auth/v1/.well-known/jwks.json"));
        assert_eq!(derived.auth.jwks_cache_ttl, Duration::from_secs(600));
        assert_eq!(derived.auth.jwks_min_refetch_interval, Duration::from_secs(5));
        assert_eq!(overridden.auth.jwks_url.as_deref(), Some("http://127.0.0.1:9/jwks"));
        assert_eq!(neither.auth.jwks_url, None);
    }

    #[test]
    fn unsafe_or_inconsistent_token_settings_are_refused() {
        let cases = [
            ("SUPABASE_JWKS_URL", "http://abc.supabase.co/jwks", "keys over plain HTTP from another host"),
            ("SUPABASE_JWKS_URL", "not a url", "not a URL"),
            ("SUPABASE_JWKS_URL", "http://127.0.0.1:9/jwks", "loopback without ALLOW_PRIVATE_ENDPOINTS"),
            ("SUPABASE_JWKS_URL", "https://[::a9fe:a9fe]/jwks", "the metadata address in IPv4-compatible form"),
            ("AUTH_JWKS_CACHE_SECS", "601", "caching longer than Supabase's edge"),
            ("AUTH_JWKS_CACHE_SECS", "-1", "a negative duration"),
            ("AUTH_JWKS_MIN_REFETCH_SECS", "700", "a throttle longer than the cache"),
        ];
        for (name, value, why) in cases {
            let error = load(&[("DATABASE_URL", "sqlite://x.db"), (name, value)]).expect_err(why);
            assert!(error.to_string().contains(name), "{why}: {error}");
        }
    }

    #[test]
    fn metadata_endpoints_are_refused_even_where_private_endpoints_are_allowed() {
        for (name, value) in [
            ("SUPABASE_JWKS_URL", "https://169.254.169.254/jwks"),
            ("AZURE_OPENAI_ENDPOINT", "https://[64:ff9b::a9fe:a9fe]"),
        ] {
            let env = [
                ("DATABASE_URL", "sqlite://x.db"),
                ("ALLOW_PRIVATE_ENDPOINTS", "true"),
                ("AZURE_OPENAI_DEPLOYMENT", "gpt"),
                (name, value),
            ];
            let error = load(&env).expect_err(value);
            assert!(error.to_string().contains("cloud metadata"), "{value}: {error}");
        }
    }

    #[test]
    fn the_app_url_is_an_absolute_http_base_without_a_trailing_slash() {
        let settings =
            load(&[("DATABASE_URL", "sqlite://x.db"), ("APP_URL", "https://advisor.example.com/app/")]).expect("valid");
        let app_url = settings.app_url.expect("set");
        assert_eq!(app_url.to_string(), "https://advisor.example.com/app");
        assert_eq!(app_url.join("/api/shopify/callback"), "https://advisor.example.com/app/api/shopify/callback");
        assert!(load(&[("DATABASE_URL", "sqlite://x.db")]).expect("valid").app_url.is_none());
        for (raw, why) in [
            ("advisor.example.com", "not absolute"),
            ("ftp://advisor.example.com", "another scheme"),
            ("https://user:pw@advisor.example.com", "credentials"),
            ("https://advisor.example.com/?next=x", "a query"),
            ("https://advisor.example.com/#top", "a fragment"),
        ] {
            let error = load(&[("DATABASE_URL", "sqlite://x.db"), ("APP_URL", raw)]).expect_err(why);
            assert!(error.to_string().contains("APP_URL"), "{why}: {error}");
        }
    }

    #[test]
    fn an_empty_legacy_secret_counts_as_unset() {
        let settings = load(&[("DATABASE_URL", "sqlite://x.db"), ("SUPABASE_JWT_SECRET", "")]).expect("valid");
        assert!(settings.auth.jwt_secret.is_none());
    }

    #[test]
    fn video_storage_follows_the_first_setting_present_and_keeps_secrets_out_of_debug() {
        let folder = load(&[("DATABASE_URL", "sqlite://x.db"), ("VIDEO_STORAGE_DIR", "/tmp/blobs")]).expect("valid");
        assert!(matches!(folder.video.storage, BlobStorageSettings::Folder(_)));
        assert_eq!(folder.video.max_bytes, 2 * 1024 * 1024 * 1024);
        let keyed = load(&[
            ("DATABASE_URL", "sqlite://x.db"),
            ("VIDEO_STORAGE_DIR", "/tmp/blobs"),
            ("VIDEO_STORAGE_CONNECTION_STRING", "AccountName=a;AccountKey=c2VjcmV0LWtleQ=="),
        ])
        .expect("valid");
        assert!(matches!(keyed.video.storage, BlobStorageSettings::ConnectionString(_)));
        assert!(!format!("{keyed:?}").contains("c2VjcmV0LWtleQ"));
        let none = load(&[("DATABASE_URL", "sqlite://x.db")]).expect("valid");
        assert!(matches!(none.video.storage, BlobStorageSettings::None));
        for (name, value) in
            [("VIDEO_STORAGE_ACCOUNT_URL", "http://acct.blob.core.windows.net"), ("MAX_VIDEO_BYTES", "0")]
        {
            let error = load(&[("DATABASE_URL", "sqlite://x.db"), (name, value)]).expect_err(name);
            assert!(error.to_string().contains(name), "{error}");
        }
    }

    #[test]
    fn store_sync_settings_default_to_the_documented_values_and_refuse_bad_ones() {
        let settings = load(&[("DATABASE_URL", "sqlite://x.db")]).expect("valid");
        assert_eq!(settings.sync.time_budget, Duration::from_secs(240));
        assert!(!settings.sync.allow_private_store_urls);
        assert_eq!(settings.shopify.api_version, "2026-10");
        assert_eq!(settings.shopify.admin_url_template, "https://{shop}/admin/api/{version}/graphql.json");
        assert_eq!(settings.shopify.authorize_url_template, "https://{shop}/admin/oauth/authorize");
        assert_eq!(settings.shopify.scopes, "read_products,read_orders,read_inventory");
        assert_eq!(settings.woocommerce_key_scope, "read");
        let spaced = load(&[("DATABASE_URL", "sqlite://x.db"), ("SHOPIFY_SCOPES", "read_products, read_orders")]);
        assert_eq!(spaced.expect("valid").shopify.scopes, "read_products,read_orders");
        assert!(settings.secrets.dir.is_none());
        let cases = [
            ("SHOPIFY_ADMIN_URL_TEMPLATE", "https://fixed.example/graphql.json", "no {shop}"),
            ("SHOPIFY_AUTHORIZE_URL_TEMPLATE", "ftp://{shop}/authorize", "not http(s)"),
            ("SHOPIFY_SCOPES", "read_products,,read_orders", "an empty scope"),
            ("SHOPIFY_SCOPES", "read_products&redirect_uri=x", "not a scope name"),
            ("WOOCOMMERCE_KEY_SCOPE", "write", "keys that cannot read"),
            ("SHOPIFY_API_VERSION", "2026-1", "not YYYY-MM"),
            ("SYNC_TIME_BUDGET_SECS", "0", "no time at all"),
            ("ALLOW_PRIVATE_STORE_URLS", "yes", "not a boolean"),
        ];
        for (name, value, why) in cases {
            let error = load(&[("DATABASE_URL", "sqlite://x.db"), (name, value)]).expect_err(why);
            assert!(error.to_string().contains(name), "{why}: {error}");
        }
        let secret =
            load(&[("DATABASE_URL", "sqlite://x.db"), ("SHOPIFY_CLIENT_SECRET", "shpss_topsecret")]).expect("valid");
        assert!(!format!("{secret:?}").contains("shpss_topsecret"));
    }

    #[test]
    fn azure_openai_is_optional_and_its_settings_are_checked() {
        let none = load(&[("DATABASE_URL", "sqlite://x.db")]).expect("valid");
        assert!(none.advisor.openai.is_none());
        assert_eq!(none.advisor.default_lead_time_days, 14);
        assert_eq!(none.advisor.default_target_cover_days, 30);
        let keyed = load(&[
            ("DATABASE_URL", "sqlite://x.db"),
            ("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com/"),
            ("AZURE_OPENAI_DEPLOYMENT", "gpt-4o-mini"),
            ("AZURE_OPENAI_API_KEY", "aoai-key-123"),
        ])
        .expect("valid");
        let openai = keyed.advisor.openai.as_ref().expect("configured");
        assert_eq!(openai.endpoint, "https://contoso.openai.azure.com");
        assert_eq!((openai.timeout, openai.max_retries, openai.max_tokens), (Duration::from_secs(20), 2, 800));
        assert!(openai.api_version.is_none(), "the v1 path by default");
        assert!(!format!("{keyed:?}").contains("aoai-key-123"));
        let cases = [
            (("AZURE_OPENAI_ENDPOINT", "http://contoso.openai.azure.com"), "plain HTTP to a remote host"),
            (("AZURE_OPENAI_API_VERSION", "latest"), "not a dated version"),
            (("AZURE_OPENAI_DEPLOYMENT", "my deployment"), "a space in the deployment"),
            (("AZURE_OPENAI_TIMEOUT_SECS", "0"), "no time at all"),
        ];
        for ((name, value), why) in cases {
            let mut pairs = vec![
                ("DATABASE_URL", "sqlite://x.db"),
                ("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com"),
                ("AZURE_OPENAI_DEPLOYMENT", "gpt-4o-mini"),
            ];
            pairs.retain(|(n, _)| *n != name);
            pairs.push((name, value));
            let error = load(&pairs).expect_err(why);
            assert!(error.to_string().contains(name), "{why}: {error}");
        }
        let missing =
            load(&[("DATABASE_URL", "sqlite://x.db"), ("AZURE_OPENAI_ENDPOINT", "https://contoso.openai.azure.com")]);
        assert!(missing.expect_err("no deployment").to_string().contains("AZURE_OPENAI_DEPLOYMENT"));
    }

    #[test]
    fn vault_sourced_settings_name_their_secrets_and_need_a_vault() {
        let vault = ("KEY_VAULT_URL", "https://advisor.vault.azure.net/");
        let list = ("SECRETS_FROM_VAULT", " SUPABASE_JWT_SECRET, AZURE_OPENAI_API_KEY=openai-key ,");
        let settings = load(&[("DATABASE_URL", "sqlite://x.db"), vault, list]).expect("valid");
        let names: Vec<(&str, &str)> =
            settings.secrets.from_vault.iter().map(|s| (s.setting.as_str(), s.secret.as_ref())).collect();
        assert_eq!(names, [("SUPABASE_JWT_SECRET", "supabase-jwt-secret"), ("AZURE_OPENAI_API_KEY", "openai-key")]);
        let key_vault = settings.secrets.key_vault.expect("configured");
        assert_eq!((key_vault.cache_ttl, key_vault.timeout), (Duration::from_secs(300), Duration::from_secs(10)));

        /// Settings added to a valid DATABASE_URL, the setting the error must name, why it is refused.
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: [Case<'_>; 6] = [
            (&[list], "KEY_VAULT_URL", "a list without a vault"),
            (&[("KEY_VAULT_URL", "http://advisor.vault.azure.net/")], "KEY_VAULT_URL", "tokens over plain HTTP"),
            (&[vault, ("SECRETS_FROM_VAULT", "KEY_VAULT_URL")], "SECRETS_FROM_VAULT", "the vault's own address"),
            (&[vault, ("SECRETS_FROM_VAULT", "A,A")], "SECRETS_FROM_VAULT", "a setting twice"),
            (&[vault, ("SECRETS_FROM_VAULT", "A=not_valid")], "SECRETS_FROM_VAULT", "an underscore in a secret name"),
            (&[vault, ("KEY_VAULT_TIMEOUT_SECS", "0")], "KEY_VAULT_TIMEOUT_SECS", "no time at all"),
        ];
        for (pairs, name, why) in cases {
            let mut pairs = pairs.to_vec();
            pairs.push(("DATABASE_URL", "sqlite://x.db"));
            let error = load(&pairs).expect_err(why);
            assert!(error.to_string().contains(name), "{why}: {error}");
        }
    }

    #[test]
    fn http_protection_defaults_and_origins_are_checked() {
        let settings = load(&[("DATABASE_URL", "sqlite://x.db")]).expect("valid");
        let http = &settings.http;
        assert!(http.cors_allowed_origins.is_empty());
        assert_eq!(
            (http.rate_limit_per_minute, http.rate_limit_burst, http.rate_limit_anonymous_per_minute),
            (600, 60, 120)
        );
        assert_eq!((http.trusted_proxy_hops, http.shutdown_grace), (None, Duration::from_secs(25)));
        assert!(!http.behind_azure_front_end);
        let listed = load(&[
            ("DATABASE_URL", "sqlite://x.db"),
            ("CORS_ALLOWED_ORIGINS", "https://app.example.com, http://localhost:3000"),
        ])
        .expect("valid");
        assert_eq!(listed.http.cors_allowed_origins, ["https://app.example.com", "http://localhost:3000"]);
        for origin in ["*", "https://app.example.com/", "https://app.example.com/path", "ftp://files.example.com"] {
            let error = load(&[("DATABASE_URL", "sqlite://x.db"), ("CORS_ALLOWED_ORIGINS", origin)]).expect_err(origin);
            assert!(error.to_string().contains("CORS_ALLOWED_ORIGINS"), "{origin}: {error}");
        }
        let error = load(&[("DATABASE_URL", "sqlite://x.db"), ("RATE_LIMIT_BURST", "0")]).expect_err("no burst");
        assert!(error.to_string().contains("RATE_LIMIT_BURST"));
    }

    #[test]
    fn durations_too_long_for_clock_arithmetic_are_refused_by_name() {
        for (name, value) in [
            ("SYNC_TIME_BUDGET_SECS", "1e300"),
            ("SHUTDOWN_GRACE_SECS", "9223372036854775807"),
            ("DATABASE_ACQUIRE_TIMEOUT_SECS", "31708801"),
            ("SYNC_LEASE_SECS", "-1"),
        ] {
            let error = load(&[("DATABASE_URL", "sqlite://x.db"), (name, value)]).expect_err(name);
            assert!(error.to_string().contains(name), "{name}: {error}");
        }
    }

    #[test]
    fn a_missing_database_url_is_named() {
        let error = load(&[]).expect_err("must fail");
        assert_eq!(error.to_string(), "setting DATABASE_URL is required but not set");
    }

    #[test]
    fn an_invalid_number_names_the_setting_but_not_secrets() {
        let error = load(&[("DATABASE_URL", "postgres://u:hunter2@h/db"), ("DATABASE_MAX_CONNECTIONS", "many")])
            .expect_err("must fail");
        let text = error.to_string();
        assert!(text.contains("DATABASE_MAX_CONNECTIONS"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn secrets_do_not_print_in_debug_output() {
        let settings = load(&[("DATABASE_URL", "postgres://u:hunter2@h/db"), ("SUPABASE_JWT_SECRET", "s3cr3t-value")])
            .expect("valid");
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2") && !debug.contains("s3cr3t-value"), "{debug}");
        assert_eq!(settings.auth.jwt_secret.expect("set").expose_secret(), "s3cr3t-value");
    }
}
