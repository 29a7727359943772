//! How a browser signs in to the dashboard:
//! - `GET /api/v1/app-config` (anonymous): which sign-in methods this instance offers — the Supabase project URL
//!   and its public `anon` key (the page then talks to Supabase Auth itself), and whether the development user may
//!   sign in.
//! - `POST /api/v1/dev/sign-in`: on `handler dev` only, a session for the data directory's development user, shaped
//!   like Supabase Auth's token response so the page treats both alike. Every other host refuses it with a 403.

use std::time::Duration;

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::auth::{DevToken, mint_dev_token};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    error::ApiError,
    extract::AppJson,
    http::openapi::{BadRequest, Forbidden, PayloadTooLarge, TooManyRequests, Unprocessable, UnsupportedMediaType},
    state::AppState,
};

/// How long a development session lasts; the page signs in again when it runs out.
const DEV_SESSION: Duration = Duration::from_secs(8 * 3600);
/// The e-mail claim of development sessions (the page shows it as the signed-in user).
const DEV_EMAIL: &str = "developer@localhost";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(app_config)).routes(routes!(dev_sign_in))
}

#[derive(Serialize, ToSchema)]
struct AppConfig {
    /// The Supabase project to sign in with (e-mail and password, magic link); `null` when none is configured.
    supabase: Option<SupabaseConfig>,
    /// Whether `POST /api/v1/dev/sign-in` is available (`handler dev` only).
    dev_sign_in: bool,
}

#[derive(Serialize, ToSchema)]
struct SupabaseConfig {
    /// `SUPABASE_URL`: Supabase Auth is at `{url}/auth/v1`.
    #[schema(example = "https://abcdefgh.supabase.co")]
    url: String,
    /// `SUPABASE_ANON_KEY`: the project's public key, sent to Supabase Auth as `apikey`.
    anon_key: String,
}

/// The sign-in methods this instance offers. Anonymous: the sign-in page reads it before anyone is signed in.
#[utoipa::path(
    get,
    path = "/api/v1/app-config",
    tag = "sign-in",
    responses(
        (status = 200, description = "The sign-in methods.", body = AppConfig),
        (status = 429, response = TooManyRequests),
    )
)]
async fn app_config(State(state): State<AppState>) -> Json<AppConfig> {
    let auth = &state.settings.auth;
    let supabase =
        auth.supabase_url.clone().zip(auth.anon_key.clone()).map(|(url, anon_key)| SupabaseConfig { url, anon_key });
    Json(AppConfig { supabase, dev_sign_in: state.dev_mode.is_some() })
}

/// The body of a development sign-in: an empty object. Asking for JSON makes a cross-site form unable to send it
/// without a CORS preflight, which this API does not grant.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DevSignInRequest {}

/// A session, as Supabase Auth's `/token` endpoint answers (without a refresh token: a development session is
/// renewed by signing in again).
#[derive(Serialize, ToSchema)]
struct Session {
    access_token: String,
    /// `bearer`.
    token_type: &'static str,
    /// Seconds until the token expires.
    expires_in: u64,
    /// When it expires.
    expires_at: DateTime<Utc>,
    user: SessionUser,
}

#[derive(Serialize, ToSchema)]
struct SessionUser {
    id: Uuid,
    email: String,
}

/// Signs in as the development user of `handler dev`. Every other host answers 403.
#[utoipa::path(
    post,
    path = "/api/v1/dev/sign-in",
    tag = "sign-in",
    request_body = DevSignInRequest,
    responses(
        (status = 200, description = "A session for the development user.", body = Session),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
    )
)]
#[tracing::instrument(name = "signing in as the development user", skip_all)]
async fn dev_sign_in(
    State(state): State<AppState>,
    AppJson(DevSignInRequest {}): AppJson<DevSignInRequest>,
) -> Result<Json<Session>, ApiError> {
    let Some(dev) = state.dev_mode else {
        tracing::info!(target: "audit", event = "dev_sign_in_refused", "development sign-in asked of a deployed host");
        return Err(ApiError::Forbidden("signing in as the development user is only possible on `handler dev`".into()));
    };
    let auth = &state.settings.auth;
    let secret = auth
        .jwt_secret
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("no SUPABASE_JWT_SECRET to sign development sessions with".into()))?;
    let token = DevToken {
        issuer: &auth.issuer,
        user_id: dev.user,
        email: Some(DEV_EMAIL.to_owned()),
        super_admin: false,
        ttl: DEV_SESSION,
    };
    let access_token = mint_dev_token(secret, &token).map_err(|e| ApiError::Internal(e.into()))?;
    let expires_at = Utc::now() + chrono::Duration::from_std(DEV_SESSION).unwrap_or_default();
    Ok(Json(Session {
        access_token,
        token_type: "bearer",
        expires_in: DEV_SESSION.as_secs(),
        expires_at,
        user: SessionUser { id: dev.user, email: DEV_EMAIL.to_owned() },
    }))
}
