//! HTTP API protection settings: CORS, rate limits, client addresses, shutdown.

use super::*;

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
    pub(super) fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
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
pub(super) fn check_origin(origin: &str) -> Result<(), String> {
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
