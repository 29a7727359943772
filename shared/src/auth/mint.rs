//! Development tokens: HS256 tokens shaped like Supabase Auth's, for `handler dev`, `handler token` and tests.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::{
    AUDIENCE, AuthError,
    claims::{Audience, Claims},
};

/// What a development token says.
#[derive(Debug, Clone)]
pub struct DevToken<'a> {
    /// The `iss` claim; must equal the verifier's issuer.
    pub issuer: &'a str,
    /// The user id (`sub`).
    pub user_id: Uuid,
    /// An `email` claim, if any.
    pub email: Option<String>,
    /// Sets `app_metadata.super_admin: true`.
    pub super_admin: bool,
    /// How long the token is valid.
    pub ttl: Duration,
}

/// Mints an HS256 token for a signed-in user like Supabase Auth issues, signed with the legacy secret.
pub fn mint_dev_token(secret: &SecretString, request: &DevToken<'_>) -> Result<String, AuthError> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        iss: Some(request.issuer.to_owned()),
        sub: Some(request.user_id.to_string()),
        aud: Some(Audience::One(AUDIENCE.into())),
        exp: Some(now.saturating_add(i64::try_from(request.ttl.as_secs()).unwrap_or(i64::MAX))),
        iat: Some(now),
        role: Some(AUDIENCE.into()),
        email: request.email.clone(),
        app_metadata: request.super_admin.then(|| serde_json::json!({ "super_admin": true })),
        ..Claims::default()
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
    .map_err(|e| AuthError::Signing(e.to_string()))
}

/// Mints a development token for an ordinary user: [`mint_dev_token`] without the super-admin flag.
pub fn mint_token(
    secret: &SecretString,
    issuer: &str,
    user_id: Uuid,
    email: Option<String>,
    ttl: Duration,
) -> Result<String, AuthError> {
    mint_dev_token(secret, &DevToken { issuer, user_id, email, super_admin: false, ttl })
}

/// A fresh random secret for a development instance: 256 bits, hex-encoded.
pub fn generate_secret() -> SecretString {
    let bytes: [u8; 32] = rand::random();
    SecretString::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}
