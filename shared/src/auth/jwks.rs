//! The project's published signing keys (`/auth/v1/.well-known/jwks.json`), cached.
//!
//! Why the rules below:
//! - **TTL** (at most 10 minutes): Supabase's edge caches the set that long, so a revoked key lingers no longer here.
//! - **Refetch on an unknown `kid`**: that is how a rotated-in key is picked up before the TTL runs out.
//! - **A minimum interval between fetches**, whatever their cause: tokens with made-up `kid`s must not make us
//!   hammer the JWKS endpoint; a burst of them costs at most one fetch per interval.
//! - **One fetch at a time**: concurrent requests that miss the cache wait for the fetch already running instead of
//!   starting their own (no thundering herd); requests for cached keys never wait.
//! - **A bounded fetch**: a slow JWKS endpoint delays a cache miss by at most [`FETCH_TIMEOUT`].
//! - **No stale keys**: when a refresh fails, an expired set is not used (past the TTL a key may have been revoked);
//!   the request fails as "unavailable", which the HTTP layer answers with 503 rather than calling the token bad.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{
    Algorithm, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse},
};
use serde::Deserialize;

use super::AuthError;
use crate::egress::EgressPolicy;

/// How long one JWKS fetch may take, connection included. A cache miss holds up its request (and any waiting on the
/// same fetch) this long at worst; the JWKS is a few hundred bytes.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// A published public key, ready to verify with.
#[derive(Clone)]
pub(super) struct SigningKey {
    /// The one algorithm this key verifies.
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// The key set as last fetched.
struct KeySet {
    keys: HashMap<String, SigningKey>,
    fetched_at: Instant,
}

/// The JWKS of one project, cached per the rules in the module docs.
pub(super) struct Jwks {
    url: String,
    client: reqwest::Client,
    ttl: Duration,
    min_refetch_interval: Duration,
    /// The last good set. A std lock: it is held only to clone an `Arc`, never across an `.await`.
    current: RwLock<Option<Arc<KeySet>>>,
    /// When the last fetch started. An async lock, held for the whole fetch: that is what makes fetches one at a time.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("url", &self.url)
            .field("ttl", &self.ttl)
            .field("min_refetch_interval", &self.min_refetch_interval)
            .finish_non_exhaustive()
    }
}

impl Jwks {
    pub fn new(
        url: String,
        ttl: Duration,
        min_refetch_interval: Duration,
        egress: EgressPolicy,
    ) -> Result<Self, AuthError> {
        let client = egress
            .client_builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| AuthError::Setup(format!("JWKS client: {e}")))?;
        Ok(Self {
            url,
            client,
            ttl,
            min_refetch_interval,
            current: RwLock::new(None),
            last_fetch: tokio::sync::Mutex::new(None),
        })
    }

    /// The key named `kid`, fetching the set if it is absent, expired, or lacks `kid` (and the throttle allows).
    pub async fn key(&self, kid: &str) -> Result<SigningKey, AuthError> {
        if let Some(key) = self.fresh_set().and_then(|set| set.keys.get(kid).cloned()) {
            return Ok(key);
        }
        let mut last_fetch = self.last_fetch.lock().await;
        // Whoever held the lock before us may just have fetched the set we need.
        let fresh = self.fresh_set();
        if let Some(key) = fresh.as_ref().and_then(|set| set.keys.get(kid).cloned()) {
            return Ok(key);
        }
        if last_fetch.is_some_and(|at| at.elapsed() < self.min_refetch_interval) {
            return Err(match fresh {
                Some(_) => AuthError::UnknownKey(kid.to_owned()),
                None => AuthError::KeysUnavailable("the last fetch failed; not retrying yet".into()),
            });
        }
        *last_fetch = Some(Instant::now());
        let set = Arc::new(self.fetch().await?);
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(&set));
        set.keys.get(kid).cloned().ok_or_else(|| AuthError::UnknownKey(kid.to_owned()))
    }

    /// The algorithm of the cached key named `kid`, fresh or not, without fetching: to spot a published key's id on a
    /// token that claims a different algorithm.
    pub fn cached_algorithm(&self, kid: &str) -> Option<Algorithm> {
        let current = self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        current.as_ref().and_then(|set| set.keys.get(kid)).map(|key| key.algorithm)
    }

    fn fresh_set(&self) -> Option<Arc<KeySet>> {
        let current = self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        current.as_ref().filter(|set| set.fetched_at.elapsed() < self.ttl).cloned()
    }

    #[tracing::instrument(name = "fetching the JWKS", skip(self), fields(url = %self.url))]
    async fn fetch(&self) -> Result<KeySet, AuthError> {
        let unavailable = |e: reqwest::Error| {
            AuthError::KeysUnavailable(match EgressPolicy::refusal_in(&e) {
                Some(refused) => refused.to_string(),
                None => e.without_url().to_string(),
            })
        };
        let document: JwksDocument = self
            .client
            .get(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        let keys: HashMap<String, SigningKey> = document.keys.iter().filter_map(signing_key).collect();
        tracing::info!(keys = keys.len(), "JWKS fetched");
        Ok(KeySet { keys, fetched_at: Instant::now() })
    }
}

/// The document's shape. Keys stay raw JSON until [`signing_key`] reads them one by one, so a key of a type we do not
/// know (EdDSA is "coming soon" at Supabase) is skipped instead of failing the whole set.
#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

/// A usable verification key from one JWK: it must have a `kid`, be meant for verifying signatures, and be an
/// ES256 (P-256) or RS256 key. Symmetric (`oct`) keys are never taken from a JWKS: a public document cannot hold a
/// secret, and accepting one would let its readers sign tokens.
fn signing_key(raw: &serde_json::Value) -> Option<(String, SigningKey)> {
    let jwk: Jwk = serde_json::from_value(raw.clone())
        .inspect_err(|error| tracing::warn!(%error, "skipping a JWK we cannot read"))
        .ok()?;
    let kid = jwk.common.key_id.clone()?;
    if jwk.common.public_key_use.as_ref().is_some_and(|usage| *usage != PublicKeyUse::Signature)
        || jwk.common.key_operations.as_ref().is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
            if ec.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        _ => {
            tracing::warn!(kid, "skipping a JWK that is not an ES256 or RS256 verification key");
            return None;
        }
    };
    let key = DecodingKey::from_jwk(&jwk)
        .inspect_err(|error| tracing::warn!(kid, %error, "skipping a JWK with invalid parameters"))
        .ok()?;
    Some((kid, SigningKey { algorithm, key }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_published_es256_and_rs256_verification_keys_are_taken() {
        let p256 = json!({"kty": "EC", "crv": "P-256", "kid": "ec", "alg": "ES256", "key_ops": ["verify"],
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        let rsa = json!({"kty": "RSA", "kid": "rsa", "use": "sig", "e": "AQAB",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        let cases = [
            (p256.clone(), Some(Algorithm::ES256), "a P-256 key for ES256"),
            (rsa.clone(), Some(Algorithm::RS256), "an RSA signing key, alg implied"),
            (json!({"kty": "oct", "kid": "hs", "k": "c2VjcmV0", "alg": "HS256"}), None, "a symmetric key"),
            (with(&p256, "kid", json!(null)), None, "a key without a kid"),
            (with(&p256, "key_ops", json!(["encrypt"])), None, "a key not for verifying"),
            (with(&rsa, "use", json!("enc")), None, "an encryption key"),
            (with(&rsa, "alg", json!("PS256")), None, "an RSA key for another algorithm"),
            (with(&p256, "alg", json!("ES384")), None, "a P-256 key claiming ES384"),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
                None,
                "an EdDSA key",
            ),
            (json!({"kty": "nonsense", "kid": "x"}), None, "an unreadable key"),
        ];
        for (jwk, expected, why) in cases {
            assert_eq!(signing_key(&jwk).map(|(_, key)| key.algorithm), expected, "{why}");
        }
    }

    fn with(jwk: &serde_json::Value, name: &str, value: serde_json::Value) -> serde_json::Value {
        let mut jwk = jwk.clone();
        match value {
            serde_json::Value::Null => jwk.as_object_mut().expect("object").remove(name),
            value => jwk.as_object_mut().expect("object").insert(name.to_owned(), value),
        };
        jwk
    }
}
