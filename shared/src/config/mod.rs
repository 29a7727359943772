//! Typed settings. Every value comes from a named variable: environment variables in Azure (app settings) and on
//! Lambda, `local.settings.json` `Values` under a local Functions host, and the embedded defaults of `handler dev`.
//! The loader takes a lookup function, so each host decides where names resolve and tests need no process env.

use std::{net::IpAddr, path::PathBuf, str::FromStr, time::Duration};

use secrecy::SecretString;

use crate::{egress::EgressPolicy, telemetry::LogFormat};

mod advisor;
mod alerts;
mod auth;
mod database;
mod http;
mod queues;
mod secrets;
mod shopify;
mod sync;
mod video;

pub use advisor::*;
pub use alerts::*;
pub use auth::*;
pub use database::*;
pub use http::*;
pub use queues::*;
pub use secrets::*;
pub use shopify::*;
pub use sync::*;
pub use video::*;

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
    /// The host storage account's queues, for messages an HTTP function sends (`AzureWebJobsStorage`).
    pub queues: QueueSettings,
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
    /// Alerts: cooldown, retries, and Azure Communication Services Email when configured.
    pub alerts: AlertSettings,
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
            queues: QueueSettings::load(lookup)?,
            sync: SyncSettings::load(lookup)?,
            shopify: ShopifySettings::load(lookup)?,
            secrets: SecretsSettings::load(lookup)?,
            http: HttpSettings::load(lookup)?,
            advisor: AdvisorSettings::load(lookup)?,
            alerts: AlertSettings::load(lookup)?,
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
