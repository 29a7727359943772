//! Non-HTTP triggers. The Functions host (or the local host, or a test playing it) POSTs each invocation to
//! `/<FunctionName>`; each trigger module parses its binding, does its work, and answers with the invocation
//! response. A completed invocation is a 2xx, even when the work found bad input that retrying cannot fix; a
//! non-2xx means "failed, retry" to the host.
//!
//! A trigger's account of its work goes in the response's `Logs` only, never also to `tracing`: the host writes
//! those lines to the invocation's log (Azure to Application Insights, `handler dev` to its output), so a copy of
//! our own would print every line twice.

use axum::{
    Router,
    body::Bytes,
    extract::{FromRequest, Request},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{MethodRouter, post},
};

use shared::db::PendingMigrations;

use crate::{
    error::Problem,
    protocol::{INVOCATION_ID_HEADER, InvocationRequest, InvocationResponse, PayloadError},
    state::AppState,
};

mod refresh_advice;
mod refresh_organization_advice;
mod send_alerts;
mod sweep_exports;
mod sync_store;
mod sync_stores;
mod video_uploaded;
mod write_export;

/// Every non-HTTP function and its handler. Names must equal the `functions/azure/<Name>` folders.
fn triggers() -> [(&'static str, MethodRouter<AppState>); 8] {
    [
        ("RefreshAdvice", post(refresh_advice::run)),
        ("RefreshOrganizationAdvice", post(refresh_organization_advice::run)),
        ("SendAlerts", post(send_alerts::run)),
        ("SweepExports", post(sweep_exports::run)),
        ("SyncStore", post(sync_store::run)),
        ("SyncStores", post(sync_stores::run)),
        ("VideoUploaded", post(video_uploaded::run)),
        ("WriteExport", post(write_export::run)),
    ]
}

/// The names of all non-HTTP functions the router answers.
pub fn names() -> impl Iterator<Item = &'static str> {
    triggers().into_iter().map(|(name, _)| name)
}

/// Routes `POST /<FunctionName>` for each trigger. `GET /`, which the host polls until the worker answers, is the
/// dashboard's page ([`crate::http::app`]).
pub fn router() -> Router<AppState> {
    triggers()
        .into_iter()
        .fold(Router::new(), |router, (name, handler)| router.route(&format!("/{name}"), handler))
        .route_layer(axum::middleware::from_fn(crate::request_metrics::record_invocation))
}

/// One invocation as the host sent it.
#[derive(Debug)]
pub struct Invocation {
    /// The host's invocation id, when given.
    pub id: Option<String>,
    /// The parsed body.
    pub request: InvocationRequest,
}

/// An invocation is taken only when the database holds every migration this binary embeds: on an older schema the
/// work would fail halfway on missing tables, so it fails at once, naming the pending migrations, and the host's
/// retry (or the next tick) succeeds once `handler migrate` has run.
impl FromRequest<AppState> for Invocation {
    type Rejection = TriggerError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let id = req.headers().get(INVOCATION_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = Bytes::from_request(req, state).await.map_err(|e| TriggerError::Malformed(e.body_text()))?;
        let request = serde_json::from_slice(&body).map_err(|e| TriggerError::Malformed(format!("body: {e}")))?;
        let pending = state
            .db
            .pending_migrations()
            .await
            .map_err(|error| TriggerError::Transient(anyhow::Error::new(error).context("checking the schema")))?;
        if !pending.is_empty() {
            return Err(TriggerError::SchemaBehind(pending));
        }
        Ok(Self { id, request })
    }
}

/// Why an invocation failed. Either way the host sees a non-2xx and counts a failure.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The invocation itself is malformed: a host or configuration fault, logged loudly.
    #[error("malformed invocation: {0}")]
    Malformed(String),
    /// A dependency failed; a retry may succeed.
    #[error(transparent)]
    Transient(#[from] anyhow::Error),
    /// The database lacks migrations this binary needs; a retry succeeds once they are applied.
    #[error("the database schema is behind this binary: {0}")]
    SchemaBehind(PendingMigrations),
}

impl From<PayloadError> for TriggerError {
    fn from(error: PayloadError) -> Self {
        Self::Malformed(error.to_string())
    }
}

impl IntoResponse for TriggerError {
    fn into_response(self) -> Response {
        match &self {
            Self::Malformed(detail) => {
                tracing::error!(detail, "malformed invocation");
                Problem::for_status(StatusCode::BAD_REQUEST, detail.clone()).into_response()
            }
            Self::Transient(error) => {
                tracing::error!(error = format!("{error:#}"), "invocation failed; the host will retry");
                Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR, "the invocation failed and may be retried")
                    .into_response()
            }
            Self::SchemaBehind(pending) => {
                tracing::error!(%pending, "invocation refused: the database schema is behind this binary");
                Problem::for_status(StatusCode::SERVICE_UNAVAILABLE, self.to_string()).into_response()
            }
        }
    }
}

impl IntoResponse for InvocationResponse {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}
