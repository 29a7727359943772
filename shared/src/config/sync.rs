//! Store sync settings: time budget, leases, platform retries, reachable store addresses.

use super::*;

/// How store syncs run.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// `SYNC_TIME_BUDGET_SECS` (default 240, fractions allowed): how long one `SyncStore` message's run may work
    /// on its store, well below the function timeout (10 minutes in `host.json`); a run that needs longer queues
    /// its message again and the next run goes on from the checkpoint.
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
    pub(super) fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
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
