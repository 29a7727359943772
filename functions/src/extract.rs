//! Extractors that turn malformed input into our problem responses instead of axum's plain-text rejections.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::{HeaderMap, StatusCode, header, request::Parts},
};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

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
