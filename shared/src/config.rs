//! Typed settings. Every value comes from a named variable: environment variables in Azure (app settings) and on
//! Lambda, `local.settings.json` `Values` under a local Functions host, and the embedded defaults of `handler dev`.
//! The loader takes a lookup function, so each host decides where names resolve and tests need no process env.

use std::{str::FromStr, time::Duration};

use secrecy::SecretString;

use crate::telemetry::LogFormat;

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
}

/// How bearer tokens are checked.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `SUPABASE_URL`, e.g. `https://abc.supabase.co`; the issuer is derived from it.
    pub supabase_url: Option<String>,
    /// `SUPABASE_JWT_SECRET`: the legacy HS256 secret (and the generated secret in `dev`).
    pub jwt_secret: Option<SecretString>,
    /// `AUTH_ISSUER`: expected `iss`; default `{SUPABASE_URL}/auth/v1`, or [`DEV_ISSUER`] without Supabase.
    pub issuer: String,
}

/// The issuer of tokens minted by `handler token` when no Supabase project is configured.
pub const DEV_ISSUER: &str = "retail-ai-advisor-dev";

impl Settings {
    /// Reads all settings through `lookup`.
    pub fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
        let supabase_url = lookup.get("SUPABASE_URL").map(|u| u.trim_end_matches('/').to_owned());
        let issuer = lookup.get("AUTH_ISSUER").unwrap_or_else(|| match &supabase_url {
            Some(url) => format!("{url}/auth/v1"),
            None => DEV_ISSUER.to_owned(),
        });
        Ok(Self {
            database: DatabaseSettings {
                url: lookup.get("DATABASE_URL").map(SecretString::from).ok_or(ConfigError::Missing("DATABASE_URL"))?,
                max_connections: parse_or(lookup, "DATABASE_MAX_CONNECTIONS", 5)?,
                acquire_timeout: Duration::from_secs(parse_or(lookup, "DATABASE_ACQUIRE_TIMEOUT_SECS", 5)?),
                transaction_pooler: parse_optional(lookup, "DATABASE_TRANSACTION_POOLER")?,
            },
            auth: AuthSettings {
                supabase_url,
                jwt_secret: lookup.get("SUPABASE_JWT_SECRET").map(SecretString::from),
                issuer,
            },
            log_format: match lookup.get("LOG_FORMAT").as_deref() {
                None | Some("json") => LogFormat::Json,
                Some("pretty") => LogFormat::Pretty,
                Some(_) => {
                    return Err(ConfigError::Invalid { name: "LOG_FORMAT", reason: "expected json or pretty".into() });
                }
            },
            max_request_body_bytes: parse_or(lookup, "MAX_REQUEST_BODY_BYTES", 1024 * 1024)?,
        })
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
