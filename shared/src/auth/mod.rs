//! Bearer tokens, Supabase-compatible.
//!
//! Supabase Auth signs access tokens in one of two ways, and a project migrating between them sees both:
//! - **signing keys** (ES256 or RS256), whose public halves are published as a JWKS: [`jwks`] fetches and caches them;
//! - the **legacy secret** (HS256), shared between Supabase and us, which is also how `handler dev` signs.
//!
//! [`TokenVerifier::verify`] picks the key from the token's header, checks the signature with exactly that key's
//! algorithm (so no token can choose how it is checked), then [`claims`] turns the payload into a [`Principal`] or an
//! [`AuthError`] naming the failed check. [`mint`] signs development tokens.
//!
//! # Super admins
//! A user is a super admin when their `app_metadata` holds `"super_admin": true` (the JSON boolean). `app_metadata`
//! is writable only with the service-role key, unlike `user_metadata`, which users edit themselves.

mod claims;
mod jwks;
mod mint;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::config::AuthSettings;
use claims::Claims;
use jwks::Jwks;
pub use mint::{DevToken, generate_secret, mint_dev_token, mint_token};

/// The audience, and the role, of end-user tokens issued by Supabase Auth.
pub const AUDIENCE: &str = "authenticated";

/// The caller a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user id (`sub`).
    pub user_id: Uuid,
    /// The user's e-mail, when the token carries one.
    pub email: Option<String>,
    /// Whether `app_metadata.super_admin` is `true` (see the module docs).
    pub is_super_admin: bool,
}

/// Why a token was refused, or could not be checked. Clients only learn that their token is bad; the variant is for
/// the audit log. None of them carries the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Neither a legacy secret nor a JWKS is configured.
    #[error("token verification is not configured")]
    NotConfigured,
    /// The token is not a well-formed JWT, or its payload has claims of the wrong type.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header names an algorithm we do not accept here (`none`, HS384, or one whose keys are not configured).
    #[error("algorithm not accepted: {0}")]
    AlgorithmNotAccepted(String),
    /// An ES256/RS256 token without a `kid`: we cannot tell which published key should have signed it.
    #[error("the token names no key id")]
    MissingKeyId,
    /// No published key has this `kid`, even after refreshing the key set.
    #[error("no signing key with id {0:?}")]
    UnknownKey(String),
    /// The header's algorithm is not the one of the key its `kid` names (algorithm confusion).
    #[error("key {kid:?} is for {key}, the token claims {token}")]
    KeyMismatch {
        /// The key id from the header.
        kid: String,
        /// The algorithm the key is published for.
        key: String,
        /// The algorithm the token's header claims.
        token: String,
    },
    /// The signature does not verify with the selected key.
    #[error("the signature does not verify")]
    BadSignature,
    /// `exp` is in the past, beyond the leeway.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future, beyond the leeway.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("issuer {0:?} is not ours")]
    WrongIssuer(String),
    /// `aud` does not include `authenticated`.
    #[error("the audience does not include {AUDIENCE:?}")]
    WrongAudience,
    /// `role` is not `authenticated` (e.g. the `anon` or `service_role` keys).
    #[error("role {0:?} may not call user endpoints")]
    WrongRole(String),
    /// A claim every access token carries is absent.
    #[error("claim {0} is missing")]
    MissingClaim(&'static str),
    /// `sub` is not a UUID.
    #[error("sub is not a UUID")]
    SubjectNotUuid,
    /// The key set could not be fetched, so the token can be neither accepted nor refused: the caller may retry.
    #[error("the signing keys are unavailable: {0}")]
    KeysUnavailable(String),
    /// Verification could not be set up (the HTTP client for the JWKS).
    #[error("token verification cannot start: {0}")]
    Setup(String),
    /// A development token could not be signed.
    #[error("cannot sign a token: {0}")]
    Signing(String),
}

impl AuthError {
    /// True when the failure is ours, not the token's: the request may succeed later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::KeysUnavailable(_))
    }
}

/// Checks bearer tokens against the legacy secret and the published signing keys. Built once per process: the key
/// cache is what makes a warm instance verify without network calls.
pub struct TokenVerifier {
    /// Swappable, so a rotated legacy secret (read again from Key Vault) applies without a restart. A std lock: held
    /// only to clone the `Arc`.
    hs256: std::sync::RwLock<Option<std::sync::Arc<DecodingKey>>>,
    jwks: Option<Jwks>,
    issuer: String,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("hs256", &self.accepts_hs256())
            .field("jwks", &self.jwks)
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl TokenVerifier {
    /// A verifier for the configured secret, key set and issuer. Fetches nothing yet: the first ES256/RS256 token does.
    pub fn new(settings: &AuthSettings) -> Result<Self, AuthError> {
        Ok(Self {
            hs256: std::sync::RwLock::new(
                settings
                    .jwt_secret
                    .as_ref()
                    .map(|s| std::sync::Arc::new(DecodingKey::from_secret(s.expose_secret().as_bytes()))),
            ),
            jwks: settings
                .jwks_url
                .as_ref()
                .map(|url| {
                    Jwks::new(url.clone(), settings.jwks_cache_ttl, settings.jwks_min_refetch_interval, settings.egress)
                })
                .transpose()?,
            issuer: settings.issuer.clone(),
        })
    }

    /// Whether legacy HS256 tokens can be checked.
    pub fn accepts_hs256(&self) -> bool {
        self.legacy_key().is_some()
    }

    /// Replaces the legacy HS256 secret (a rotation): tokens signed with the old one are refused from now on, as
    /// Supabase refuses them once its secret is rotated. An empty secret is ignored: it would let anyone sign.
    pub fn replace_legacy_secret(&self, secret: &secrecy::SecretString) {
        if secret.expose_secret().is_empty() {
            return;
        }
        let key = std::sync::Arc::new(DecodingKey::from_secret(secret.expose_secret().as_bytes()));
        *self.hs256.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(key);
    }

    fn legacy_key(&self) -> Option<std::sync::Arc<DecodingKey>> {
        self.hs256.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Whether ES256/RS256 tokens can be checked against a JWKS.
    pub fn uses_jwks(&self) -> bool {
        self.jwks.is_some()
    }

    /// Verifies the signature with the key the header selects, then expiry (with leeway), issuer, audience, role and
    /// subject. May fetch the JWKS (an unknown `kid`, or an expired cache).
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let legacy_key = self.legacy_key();
        if legacy_key.is_none() && self.jwks.is_none() {
            return Err(AuthError::NotConfigured);
        }
        // `alg: none` and unknown algorithms fail here: they are not `Algorithm` variants.
        let header = jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        let claims = match header.alg {
            Algorithm::HS256 => {
                let key = legacy_key
                    .as_deref()
                    .ok_or_else(|| AuthError::AlgorithmNotAccepted("HS256 (no legacy secret configured)".into()))?;
                // A published key's id on an HS256 token means someone tried to use that public key as an HMAC secret.
                if let (Some(kid), Some(jwks)) = (&header.kid, &self.jwks)
                    && let Some(published) = jwks.cached_algorithm(kid)
                {
                    return Err(AuthError::KeyMismatch {
                        kid: kid.clone(),
                        key: format!("{published:?}"),
                        token: "HS256".into(),
                    });
                }
                signed_claims(token, Algorithm::HS256, key)?
            }
            Algorithm::ES256 | Algorithm::RS256 => {
                let jwks = self
                    .jwks
                    .as_ref()
                    .ok_or_else(|| AuthError::AlgorithmNotAccepted(format!("{:?} (no JWKS configured)", header.alg)))?;
                let kid = header.kid.ok_or(AuthError::MissingKeyId)?;
                let key = jwks.key(&kid).await?;
                if key.algorithm != header.alg {
                    return Err(AuthError::KeyMismatch {
                        kid,
                        key: format!("{:?}", key.algorithm),
                        token: format!("{:?}", header.alg),
                    });
                }
                signed_claims(token, key.algorithm, &key.key)?
            }
            other => return Err(AuthError::AlgorithmNotAccepted(format!("{other:?}"))),
        };
        claims.into_principal(&self.issuer, chrono::Utc::now().timestamp())
    }
}

/// The payload, once the signature verifies with `key` under `algorithm` and nothing else. The time and audience
/// checks are [`Claims::into_principal`]'s, which takes the clock as an argument so they are unit-testable.
fn signed_claims(token: &str, algorithm: Algorithm, key: &DecodingKey) -> Result<Claims, AuthError> {
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<Claims>(token, key, &validation).map(|data| data.claims).map_err(|error| {
        use jsonwebtoken::errors::ErrorKind;
        match error.kind() {
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::InvalidAlgorithm => AuthError::AlgorithmNotAccepted(format!("{algorithm:?} mismatch")),
            _ => AuthError::Malformed(error.to_string()),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::SecretString;

    use super::*;

    const SECRET: &str = "a-legacy-secret-of-thirty-two-bytes!";

    fn hs256_only(issuer: &str) -> TokenVerifier {
        TokenVerifier::new(&AuthSettings {
            supabase_url: None,
            anon_key: None,
            jwt_secret: Some(SECRET.to_owned().into()),
            issuer: issuer.into(),
            jwks_url: None,
            jwks_cache_ttl: Duration::from_secs(600),
            jwks_min_refetch_interval: Duration::from_secs(5),
            egress: crate::egress::EgressPolicy { allow_private: false },
        })
        .expect("verifier")
    }

    fn token(secret: &str, issuer: &str, user: Uuid, super_admin: bool) -> String {
        let request = DevToken { issuer, user_id: user, email: None, super_admin, ttl: Duration::from_secs(60) };
        mint_dev_token(&SecretString::from(secret.to_owned()), &request).expect("mint")
    }

    #[tokio::test]
    async fn a_minted_token_verifies_and_carries_the_super_admin_flag() {
        let user = Uuid::new_v4();
        let verifier = hs256_only("iss-a");

        let plain = verifier.verify(&token(SECRET, "iss-a", user, false)).await.expect("valid");
        let admin = verifier.verify(&token(SECRET, "iss-a", user, true)).await.expect("valid");

        assert_eq!(plain, Principal { user_id: user, email: None, is_super_admin: false });
        assert!(admin.is_super_admin, "minted with --super-admin");
    }

    #[tokio::test]
    async fn tokens_the_verifier_cannot_trust_are_rejected() {
        let user = Uuid::new_v4();
        let verifier = hs256_only("iss-a");
        let cases = [
            (token("another-secret-of-thirty-two-bytes!!", "iss-a", user, false), AuthError::BadSignature, "wrong key"),
            (token(SECRET, "iss-b", user, false), AuthError::WrongIssuer("iss-b".into()), "wrong issuer"),
        ];
        for (token, expected, why) in cases {
            assert_eq!(verifier.verify(&token).await, Err(expected), "{why}");
        }
        assert!(matches!(verifier.verify("not.a.token").await, Err(AuthError::Malformed(_))), "garbage");
    }

    #[tokio::test]
    async fn without_a_jwks_asymmetric_tokens_are_refused_before_any_key_lookup() {
        // An ES256 header over an HS256-valid body: the header alone decides, and ES256 has no keys here.
        let body = token(SECRET, "iss-a", Uuid::new_v4(), false);
        let forged = format!("eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.{}", body.split_once('.').expect("jwt").1);

        let error = hs256_only("iss-a").verify(&forged).await.expect_err("refused");

        assert!(matches!(error, AuthError::AlgorithmNotAccepted(_)), "{error:?}");
    }

    #[tokio::test]
    async fn a_rotated_legacy_secret_applies_at_once_and_the_old_one_stops_working() {
        let verifier = hs256_only("iss-a");
        let rotated = "the-rotated-legacy-secret-of-32-bytes";
        let user = Uuid::new_v4();

        verifier.replace_legacy_secret(&SecretString::from(rotated.to_owned()));
        verifier.replace_legacy_secret(&SecretString::from(String::new()));

        assert!(verifier.verify(&token(rotated, "iss-a", user, false)).await.is_ok(), "new secret accepted");
        let old = verifier.verify(&token(SECRET, "iss-a", user, false)).await;
        assert_eq!(old, Err(AuthError::BadSignature), "old secret refused; an empty one was ignored");
    }

    #[tokio::test]
    async fn with_nothing_configured_no_token_is_accepted() {
        let verifier = TokenVerifier { hs256: std::sync::RwLock::new(None), jwks: None, issuer: "iss-a".into() };
        let error = verifier.verify(&token(SECRET, "iss-a", Uuid::new_v4(), false)).await;
        assert_eq!(error, Err(AuthError::NotConfigured));
    }
}
