//! The HTTP layer's one error type. Every error response, whoever produces it, is `application/problem+json`
//! (RFC 9457) with a stable `type`, a `title`, the `status` and a `detail` safe to show; internal causes go to the
//! log only.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::problem_types::ProblemType;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field-level complaint inside a 400/422 problem.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field's name or JSON path.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// An error an HTTP handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (bad JSON, bad query, bad path).
    #[error("{detail}")]
    BadRequest {
        /// What is wrong, for the client.
        detail: String,
        /// Field-level details, when known.
        errors: Vec<FieldError>,
    },
    /// Well-formed, but semantically invalid.
    #[error("{detail}")]
    Unprocessable {
        /// What is wrong, for the client.
        detail: String,
        /// Field-level details, when known.
        errors: Vec<FieldError>,
    },
    /// Missing credentials, or credentials not in the bearer scheme.
    #[error("{0}")]
    Unauthorized(String),
    /// A bearer token that is malformed, expired, forged or meant for someone else (RFC 6750 `invalid_token`).
    #[error("{0}")]
    InvalidToken(String),
    /// A platform's signature (an install callback's `hmac`) is missing or does not match: 401 without a bearer
    /// challenge, since no token would help.
    #[error("{0}")]
    BadSignature(String),
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing here (or nothing the caller may know about).
    #[error("not found")]
    NotFound,
    /// Nothing here, with a hint for the caller.
    #[error("{0}")]
    NotFoundWith(String),
    /// The request conflicts with the current state (e.g. removing the last admin).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than this route accepts.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body's media type is not one this route reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A dependency is down; the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// The caller (organization, user or address) is over its rate limit; it may retry after the wait.
    #[error("rate limit exceeded")]
    TooManyRequests {
        /// How long until the next request will pass.
        retry_after: std::time::Duration,
    },
    /// Anything else: logged in full, shown as a bare 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<shared::db::DbError> for ApiError {
    fn from(error: shared::db::DbError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(%error, "database unavailable");
            Self::Unavailable("the database is unavailable; retry shortly".into())
        } else {
            Self::Internal(error.into())
        }
    }
}

/// The RFC 9457 body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem, relative to the app's origin (`/api/problems/<slug>`): a page
    /// describing it ([`crate::problem_types`]).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// This occurrence, in words safe for the client.
    pub detail: String,
    /// Field-level details.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// A problem for a status with no more specific kind.
    pub fn for_status(status: StatusCode, detail: impl Into<String>) -> Self {
        let kind = ProblemType::for_status(status);
        Self {
            kind: kind.uri(),
            title: if kind.status.is_some() { kind.title } else { status.canonical_reason().unwrap_or(kind.title) },
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

impl ApiError {
    /// A 400 naming one field.
    pub fn bad_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let (field, message) = (field.into(), message.into());
        Self::BadRequest { detail: format!("{field}: {message}"), errors: vec![FieldError { field, message }] }
    }

    /// A 422 naming one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let (field, message) = (field.into(), message.into());
        Self::Unprocessable { detail: format!("{field}: {message}"), errors: vec![FieldError { field, message }] }
    }

    fn problem(&self) -> Problem {
        match self {
            Self::BadRequest { detail, errors } => {
                Problem::for_status(StatusCode::BAD_REQUEST, detail.clone()).with_errors(errors.clone())
            }
            Self::Unprocessable { detail, errors } => {
                Problem::for_status(StatusCode::UNPROCESSABLE_ENTITY, detail.clone()).with_errors(errors.clone())
            }
            Self::Unauthorized(detail) | Self::InvalidToken(detail) | Self::BadSignature(detail) => {
                Problem::for_status(StatusCode::UNAUTHORIZED, detail.clone())
            }
            Self::Forbidden(detail) => Problem::for_status(StatusCode::FORBIDDEN, detail.clone()),
            Self::NotFound => Problem::for_status(StatusCode::NOT_FOUND, "no such resource"),
            Self::NotFoundWith(detail) => Problem::for_status(StatusCode::NOT_FOUND, detail.clone()),
            Self::Conflict(detail) => Problem::for_status(StatusCode::CONFLICT, detail.clone()),
            Self::PayloadTooLarge(detail) => Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE, detail.clone()),
            Self::UnsupportedMediaType(detail) => {
                Problem::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE, detail.clone())
            }
            Self::Unavailable(detail) => Problem::for_status(StatusCode::SERVICE_UNAVAILABLE, detail.clone()),
            Self::TooManyRequests { retry_after } => Problem::for_status(
                StatusCode::TOO_MANY_REQUESTS,
                format!("rate limit exceeded; retry in {} s", retry_after_secs(*retry_after)),
            ),
            Self::Internal(_) => {
                Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR, "an internal error occurred; it has been logged")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(error) = &self {
            tracing::error!(error = format!("{error:#}"), "request failed");
        }
        let mut response = self.problem().into_response();
        // RFC 6750 §3: a bare challenge when no credentials came, the error code when a token was refused.
        let challenge = match self {
            Self::Unauthorized(_) => Some("Bearer"),
            Self::InvalidToken(_) => Some(r#"Bearer error="invalid_token""#),
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Self::TooManyRequests { retry_after } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs(retry_after)));
        }
        response
    }
}

/// `Retry-After` is whole seconds (RFC 9110 §10.2.3): round up, so a client that waits that long is let through.
fn retry_after_secs(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem_types::PROBLEM_TYPES;

    /// One error of each variant; the match has no wildcard, so a new variant does not compile until it is here.
    fn one_of_each() -> Vec<ApiError> {
        let all = vec![
            ApiError::bad_field("field", "bad"),
            ApiError::Unprocessable { detail: "bad".into(), errors: Vec::new() },
            ApiError::Unauthorized("no token".into()),
            ApiError::InvalidToken("bad token".into()),
            ApiError::BadSignature("bad hmac".into()),
            ApiError::Forbidden("no".into()),
            ApiError::NotFound,
            ApiError::NotFoundWith("nothing".into()),
            ApiError::Conflict("conflict".into()),
            ApiError::PayloadTooLarge("large".into()),
            ApiError::UnsupportedMediaType("text".into()),
            ApiError::Unavailable("down".into()),
            ApiError::TooManyRequests { retry_after: std::time::Duration::from_secs(1) },
            ApiError::Internal(anyhow::anyhow!("boom")),
        ];
        for error in &all {
            match error {
                ApiError::BadRequest { .. }
                | ApiError::Unprocessable { .. }
                | ApiError::Unauthorized(_)
                | ApiError::InvalidToken(_)
                | ApiError::BadSignature(_)
                | ApiError::Forbidden(_)
                | ApiError::NotFound
                | ApiError::NotFoundWith(_)
                | ApiError::Conflict(_)
                | ApiError::PayloadTooLarge(_)
                | ApiError::UnsupportedMediaType(_)
                | ApiError::Unavailable(_)
                | ApiError::TooManyRequests { .. }
                | ApiError::Internal(_) => {}
            }
        }
        all
    }

    fn registered(uri: &str) -> bool {
        PROBLEM_TYPES.iter().any(|kind| kind.uri() == uri)
    }

    #[test]
    fn every_error_answers_a_registered_type_of_its_own_status() {
        for error in one_of_each() {
            let problem = error.problem();
            let kind = ProblemType::for_status(StatusCode::from_u16(problem.status).expect("status"));
            assert_eq!(kind.status.map(|s| s.as_u16()), Some(problem.status), "{error:?} has a type of its own");
            assert!(registered(&problem.kind), "{error:?}: {}", problem.kind);
            assert_eq!(problem.title, kind.title, "{error:?}");
        }
    }

    #[test]
    fn every_status_answers_a_registered_type() {
        for code in 400..=599 {
            let status = StatusCode::from_u16(code).expect("status");
            let problem = Problem::for_status(status, "detail");
            assert!(registered(&problem.kind), "{code}: {}", problem.kind);
            assert!(problem.kind.starts_with(crate::problem_types::PROBLEM_TYPE_PATH), "{code}: {}", problem.kind);
        }
    }

    #[test]
    fn slugs_are_unique_and_each_status_has_at_most_one_type() {
        for (index, kind) in PROBLEM_TYPES.iter().enumerate() {
            for other in &PROBLEM_TYPES[index + 1..] {
                assert_ne!(kind.slug, other.slug);
                assert!(kind.status.is_none() || kind.status != other.status, "{}", kind.slug);
            }
        }
    }
}
