//! Extractors that turn malformed input into our problem responses instead of axum's plain-text rejections.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::{HeaderMap, StatusCode, header, request::Parts},
};
use serde::de::DeserializeOwned;
use shared::auth::Principal;

use crate::{
    error::ApiError,
    middleware,
    rate_limit::{Quota, RateKey},
    state::AppState,
};

/// `Json<T>` with problem+json rejections: 400 for syntax, 415 for a missing JSON content type, 413 for size, 422
/// for a body of the wrong shape. Every body of this API is a JSON object: serde would also read a struct from an
/// array of its fields in order (`[null, null]`), which no client means, so anything but an object is 422.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType("expected Content-Type: application/json".into()));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let detail = rejection.body_text();
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(detail)
            } else {
                ApiError::BadRequest { detail, errors: Vec::new() }
            }
        })?;
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes).map_err(|rejection| json_rejection(&rejection))?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::Unprocessable {
                detail: "the body must be a JSON object".into(),
                errors: Vec::new(),
            });
        }
        Ok(Self(value))
    }
}

/// `application/json` or any `application/*+json`, as `axum::Json` accepts.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let detail = rejection.body_text();
    match rejection {
        JsonRejection::JsonDataError(_) => ApiError::Unprocessable { detail, errors: Vec::new() },
        _ => ApiError::BadRequest { detail, errors: Vec::new() },
    }
}

/// The authenticated caller. Anonymous requests and bad tokens are both 401, with `WWW-Authenticate` (bad tokens add
/// `error="invalid_token"`); the reason a token was refused goes to the `audit` log only. When the signing keys
/// cannot be fetched the token can be neither accepted nor refused, so the answer is 503 and the client may retry.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Principal);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = authenticate(parts, state).await?;
        // Routes outside an organization are counted per user; `Tenant` counts per organization instead.
        let http = &state.settings.http;
        if let Some(quota) = Quota::per_minute(http.rate_limit_per_minute, http.rate_limit_burst) {
            charge(state, RateKey::User(user.user_id), quota, parts)?;
        }
        Ok(Self(user))
    }
}

/// Checks the bearer token. A refused token is also counted against the client's address, like an anonymous call,
/// so guessing tokens is as slow as any other unauthenticated traffic.
pub(crate) async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into()))?;
    match state.tokens.verify(token).await {
        Ok(principal) => Ok(principal),
        Err(error) if error.is_unavailable() => {
            tracing::warn!(target: "audit", event = "auth_unavailable", reason = %error, path = parts.uri.path(), "token not checked");
            Err(ApiError::Unavailable("tokens cannot be checked right now; retry shortly".into()))
        }
        Err(error) => {
            let client = state.client_address.of(parts);
            tracing::info!(target: "audit", event = "auth_failure", reason = %error, path = parts.uri.path(), client = ?client, "token rejected");
            if let Some(quota) = middleware::anonymous_quota(state) {
                let key = client.map_or(RateKey::UnknownAddress, RateKey::Address);
                charge(state, key, quota, parts)?;
            }
            Err(ApiError::InvalidToken("the bearer token is invalid or expired".into()))
        }
    }
}

/// Counts one request against `key`; over the limit it is a 429 and an audit line.
pub(crate) fn charge(state: &AppState, key: RateKey, quota: Quota, parts: &Parts) -> Result<(), ApiError> {
    state.limiter.check(key, quota).map_err(|retry_after| {
        tracing::warn!(target: "audit", event = "rate_limited", key = key.kind(), id = ?key, path = parts.uri.path(), retry_after_ms = retry_after.as_millis() as u64, "request over the rate limit");
        ApiError::TooManyRequests { retry_after }
    })
}

/// `Path<T>` with problem+json rejections naming the parameter.
#[derive(Debug, Clone, Copy)]
pub struct AppPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for AppPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::BadRequest { detail: rejection.body_text(), errors: Vec::new() }),
        }
    }
}

/// `Query<T>` with problem+json rejections naming the parameter.
#[derive(Debug, Clone, Copy)]
pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::BadRequest { detail: rejection.body_text(), errors: Vec::new() }),
        }
    }
}
