//! Bearer-token verification settings: the issuer, the legacy secret and the JWKS.

use super::*;

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
pub(super) const MAX_JWKS_CACHE: Duration = Duration::from_secs(600);

impl AuthSettings {
    pub(super) fn load(lookup: &impl Lookup) -> Result<Self, ConfigError> {
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
