//! Per-tenant rate limiting: a keyed GCRA (generic cell rate algorithm, the token bucket without a refill timer).
//!
//! Keys are what the caller is *proven* to be: an organization once [`crate::auth::Tenant`] has checked
//! membership (so naming someone else's organization in a header cannot spend their budget), a user on routes outside
//! an organization, and the client address for requests without credentials or with refused ones.
//!
//! Each key keeps one instant, its theoretical arrival time (TAT): a request is allowed when the TAT is at most
//! `burst - 1` intervals ahead of now, and moves it one interval on. So a key may send `burst` requests at once and
//! then one per interval; a refused request costs nothing and learns exactly when the next one will pass.
//!
//! The state is per instance: with N warm instances a tenant gets up to N times the limit. That bounds what one
//! tenant can take from a shared instance, which is the point; a global quota would need a shared store.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use shared::config::HttpSettings;
use uuid::Uuid;

use crate::error::ApiError;

/// Who a request is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// A verified member acting within this organization.
    Organization(Uuid),
    /// An authenticated user on a route outside any organization.
    User(Uuid),
    /// A caller without valid credentials, by client address.
    Address(IpAddr),
    /// A caller without valid credentials whose address is unknown.
    UnknownAddress,
}

impl RateKey {
    /// The kind of key, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Organization(_) => "organization",
            Self::User(_) => "user",
            Self::Address(_) | Self::UnknownAddress => "address",
        }
    }
}

/// How fast a key may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Time between two requests at the sustained rate.
    interval: Duration,
    /// Requests allowed at once after a quiet spell (at least 1).
    burst: u32,
}

impl Quota {
    /// `per_minute` requests a minute, `burst` at once; `None` when `per_minute` is 0 (no limit).
    pub fn per_minute(per_minute: u32, burst: u32) -> Option<Self> {
        (per_minute > 0).then(|| Self { interval: Duration::from_secs(60) / per_minute, burst: burst.max(1) })
    }

    /// The quota of an authenticated caller, per organization (or per user outside one).
    pub fn member(http: &HttpSettings) -> Option<Self> {
        Self::per_minute(http.rate_limit_per_minute, http.rate_limit_burst)
    }

    /// The quota of callers without valid credentials, per client address: a sixth of it at once.
    pub fn anonymous(http: &HttpSettings) -> Option<Self> {
        let per_minute = http.rate_limit_anonymous_per_minute;
        Self::per_minute(per_minute, (per_minute / 6).max(1))
    }
}

/// Above this many tracked keys, idle ones are dropped before a new one is added.
const PRUNE_ABOVE: usize = 50_000;

/// Keyed limiter state for one instance.
#[derive(Debug)]
pub struct RateLimiter {
    /// Key → theoretical arrival time. A std mutex: held for a hash lookup, never across an `.await`.
    tats: Mutex<HashMap<RateKey, Instant>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self { tats: Mutex::new(HashMap::new()) }
    }

    /// Counts one request for `key` at `now`: `Ok` if it may proceed, or `Err(wait)` until the next one may.
    pub fn check_at(&self, key: RateKey, quota: Quota, now: Instant) -> Result<(), Duration> {
        let mut tats = self.tats.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if tats.len() >= PRUNE_ABOVE && !tats.contains_key(&key) {
            // A key whose TAT has passed is back at a full burst: forgetting it changes nothing.
            tats.retain(|_, tat| *tat > now);
        }
        let tat = tats.get(&key).copied().filter(|tat| *tat > now).unwrap_or(now);
        let tolerance = quota.interval * (quota.burst - 1);
        let ahead = tat - now;
        if ahead > tolerance {
            return Err(ahead - tolerance);
        }
        tats.insert(key, tat + quota.interval);
        Ok(())
    }

    /// [`Self::check_at`] now.
    pub fn check(&self, key: RateKey, quota: Quota) -> Result<(), Duration> {
        self.check_at(key, quota, Instant::now())
    }

    /// Counts one request to `path` against `key`; over the limit it is a 429 and an audit line.
    pub fn charge(&self, key: RateKey, quota: Quota, path: &str) -> Result<(), ApiError> {
        self.check(key, quota).map_err(|retry_after| {
            tracing::warn!(target: "audit", event = "rate_limited", key = key.kind(), id = ?key, path, retry_after_ms = retry_after.as_millis() as u64, "request over the rate limit");
            ApiError::TooManyRequests { retry_after }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(n: u128) -> RateKey {
        RateKey::Organization(Uuid::from_u128(n))
    }

    #[test]
    fn a_burst_passes_then_one_request_per_interval() {
        let limiter = RateLimiter::new();
        let quota = Quota::per_minute(60, 3).expect("limited");
        let start = Instant::now();

        let burst: Vec<_> = (0..3).map(|_| limiter.check_at(org(1), quota, start)).collect();
        let refused = limiter.check_at(org(1), quota, start);
        let still_early = limiter.check_at(org(1), quota, start + Duration::from_millis(999));
        let next = limiter.check_at(org(1), quota, start + Duration::from_secs(1));

        assert!(burst.iter().all(Result::is_ok), "{burst:?}");
        assert_eq!(refused, Err(Duration::from_secs(1)), "the wait is exact");
        assert_eq!(still_early, Err(Duration::from_millis(1)));
        assert_eq!(next, Ok(()));
    }

    #[test]
    fn one_key_at_its_limit_leaves_others_untouched() {
        let limiter = RateLimiter::new();
        let quota = Quota::per_minute(60, 1).expect("limited");
        let now = Instant::now();

        assert!(limiter.check_at(org(1), quota, now).is_ok());
        assert!(limiter.check_at(org(1), quota, now).is_err());

        assert!(limiter.check_at(org(2), quota, now).is_ok());
        assert!(limiter.check_at(RateKey::User(Uuid::from_u128(1)), quota, now).is_ok(), "same id, other kind");
    }

    #[test]
    fn refused_requests_do_not_push_the_next_slot_further() {
        let limiter = RateLimiter::new();
        let quota = Quota::per_minute(60, 1).expect("limited");
        let now = Instant::now();
        limiter.check_at(org(1), quota, now).expect("first");
        for _ in 0..100 {
            assert!(limiter.check_at(org(1), quota, now).is_err());
        }
        assert!(limiter.check_at(org(1), quota, now + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn zero_per_minute_means_no_limit() {
        assert_eq!(Quota::per_minute(0, 10), None);
    }

    #[test]
    fn idle_keys_are_forgotten_when_the_table_is_full() {
        let limiter = RateLimiter::new();
        let quota = Quota::per_minute(60, 1).expect("limited");
        let now = Instant::now();
        for n in 0..PRUNE_ABOVE as u128 {
            limiter.check_at(org(n), quota, now).expect("fresh key");
        }
        let later = now + Duration::from_secs(2);
        limiter.check_at(org(u128::MAX), quota, later).expect("new key");
        assert_eq!(limiter.tats.lock().expect("lock").len(), 1, "expired keys were dropped");
    }
}
