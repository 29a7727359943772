//! Bearer tokens, Supabase-compatible. This module verifies HS256 tokens signed with the project's JWT secret (the
//! legacy Supabase scheme, and the scheme of `handler dev`) and mints development tokens.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::AuthSettings;

/// The audience of end-user tokens issued by Supabase Auth.
pub const AUDIENCE: &str = "authenticated";

/// The caller a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user id (`sub`).
    pub user_id: Uuid,
    /// The user's e-mail, when the token carries one.
    pub email: Option<String>,
}

/// Why a token was refused. The variants are deliberately coarse: callers learn that a token is bad, not which check
/// it failed, while logs keep the detail.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token verification is configured.
    #[error("token verification is not configured")]
    NotConfigured,
    /// The token is malformed, expired, forged or meant for someone else.
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// Claims of a Supabase access token that we rely on.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    iss: String,
    aud: Audience,
    exp: i64,
    iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

/// `aud` is a string or an array of strings.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Checks bearer tokens.
pub struct TokenVerifier {
    hs256: Option<DecodingKey>,
    issuer: String,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier").field("hs256", &self.hs256.is_some()).field("issuer", &self.issuer).finish()
    }
}

impl TokenVerifier {
    /// A verifier for the configured secret and issuer.
    pub fn new(settings: &AuthSettings) -> Self {
        Self {
            hs256: settings.jwt_secret.as_ref().map(|s| DecodingKey::from_secret(s.expose_secret().as_bytes())),
            issuer: settings.issuer.clone(),
        }
    }

    /// Verifies signature, expiry (with a small leeway), issuer, audience and role.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let key = self.hs256.as_ref().ok_or(AuthError::NotConfigured)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?
            .claims;
        if claims.role != AUDIENCE {
            return Err(AuthError::Invalid(format!("role {} may not call merchant endpoints", claims.role)));
        }
        let user_id = claims.sub.parse().map_err(|_| AuthError::Invalid("sub is not a UUID".into()))?;
        Ok(Principal { user_id, email: claims.email })
    }
}

/// Mints an HS256 token like Supabase Auth issues, for local development and tests.
pub fn mint_token(
    secret: &SecretString,
    issuer: &str,
    user_id: Uuid,
    email: Option<String>,
    ttl: Duration,
) -> Result<String, AuthError> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: user_id.to_string(),
        role: AUDIENCE.into(),
        iss: issuer.into(),
        aud: Audience::One(AUDIENCE.into()),
        exp: now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
        iat: now,
        email,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
    .map_err(|e| AuthError::Invalid(e.to_string()))
}

/// A fresh random secret for a development instance: 256 bits, hex-encoded.
pub fn generate_secret() -> SecretString {
    let bytes: [u8; 32] = rand::random();
    SecretString::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(secret: &str) -> AuthSettings {
        AuthSettings { supabase_url: None, jwt_secret: Some(secret.to_owned().into()), issuer: "iss-a".into() }
    }

    #[test]
    fn a_minted_token_verifies() {
        let user = Uuid::new_v4();
        let token = mint_token(&"k".repeat(32).into(), "iss-a", user, None, Duration::from_secs(60)).expect("mint");
        let principal = TokenVerifier::new(&settings(&"k".repeat(32))).verify(&token).expect("valid");
        assert_eq!(principal.user_id, user);
    }

    #[test]
    fn tokens_signed_elsewhere_or_for_another_issuer_are_rejected() {
        let user = Uuid::new_v4();
        let verifier = TokenVerifier::new(&settings(&"k".repeat(32)));
        let wrong_key = mint_token(&"x".repeat(32).into(), "iss-a", user, None, Duration::from_secs(60)).expect("mint");
        let wrong_issuer =
            mint_token(&"k".repeat(32).into(), "iss-b", user, None, Duration::from_secs(60)).expect("mint");
        assert!(verifier.verify(&wrong_key).is_err(), "wrong key");
        assert!(verifier.verify(&wrong_issuer).is_err(), "wrong issuer");
        assert!(verifier.verify("not.a.token").is_err(), "garbage");
    }
}
