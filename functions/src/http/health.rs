//! `GET /api/health`: the app's version and the state of each dependency. Anonymous, so load balancers and the
//! deployment smoke test can call it; it reveals no configuration values.

use std::time::{Duration, Instant};

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::Serialize;
use shared::db::PendingMigrations;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

/// How long a dependency may take before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

#[derive(Serialize, ToSchema)]
struct Health {
    /// `ok`, or `degraded` when the database or token verification is down or the schema is behind the binary.
    #[schema(example = "ok")]
    status: &'static str,
    version: &'static str,
    checks: Checks,
}

#[derive(Serialize, ToSchema)]
struct Checks {
    database: Check,
    /// Whether the database holds every migration this binary embeds (`ok`, `behind` or `unknown`).
    schema: Check,
    auth: Check,
    blob_store: Check,
}

/// One dependency's state.
#[derive(Serialize, ToSchema)]
#[schema(as = HealthCheck)]
struct Check {
    /// `ok`, `down`, (schema only) `behind` / `unknown`, or (blob store only) `not_configured`.
    status: &'static str,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<f64>,
}

impl Check {
    fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// The app's version and the state of each dependency. Anonymous.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "health",
    responses(
        (status = 200, description = "Healthy. An unconfigured blob store disables videos only.", body = Health),
        (status = 503, description = "Degraded: the database or token verification is down, or migrations are \
            pending (`checks.schema.detail` names them; run `handler migrate`, or set `AUTO_MIGRATE=true`).", body = Health),
    )
)]
#[tracing::instrument(name = "checking health", skip_all)]
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let (database, schema) = database(&state).await;
    let checks = Checks { database, schema, auth: auth(&state), blob_store: blob_store(&state).await };
    // An unconfigured blob store disables videos only; it does not make the app unhealthy.
    let healthy =
        checks.database.is_ok() && checks.schema.is_ok() && checks.auth.is_ok() && checks.blob_store.status != "down";
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = Health { status: if healthy { "ok" } else { "degraded" }, version: env!("CARGO_PKG_VERSION"), checks };
    (status, Json(body))
}

/// Reaches the database and compares its applied migrations with the embedded ones, in one round trip.
async fn database(state: &AppState) -> (Check, Check) {
    let backend = state.db.backend().name();
    let started = Instant::now();
    let unknown = || Check { status: "unknown", detail: "the database is unreachable".into(), latency_ms: None };
    match tokio::time::timeout(CHECK_TIMEOUT, state.db.pending_migrations()).await {
        Ok(Ok(pending)) => {
            let latency_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
            (Check { status: "ok", detail: backend.to_owned(), latency_ms }, schema(&pending))
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "database health check failed");
            (Check { status: "down", detail: format!("{backend}: unreachable"), latency_ms: None }, unknown())
        }
        Err(_) => (
            Check {
                status: "down",
                detail: format!("{backend}: no answer within {CHECK_TIMEOUT:?}"),
                latency_ms: None,
            },
            unknown(),
        ),
    }
}

fn schema(pending: &PendingMigrations) -> Check {
    if pending.is_empty() {
        return Check { status: "ok", detail: "every migration applied".into(), latency_ms: None };
    }
    Check { status: "behind", detail: pending.to_string(), latency_ms: None }
}

/// Reaches the video store: the container in Azure, the folder locally.
async fn blob_store(state: &AppState) -> Check {
    let Some(store) = &state.blobs else {
        return Check { status: "not_configured", detail: "no video storage configured".into(), latency_ms: None };
    };
    let started = Instant::now();
    match tokio::time::timeout(CHECK_TIMEOUT, store.check(shared::video::VIDEOS_CONTAINER)).await {
        Ok(Ok(detail)) => {
            let detail = match store {
                shared::blob::BlobStore::Azure(_) => detail,
                shared::blob::BlobStore::Local(_) => "local folder".to_owned(),
            };
            Check { status: "ok", detail, latency_ms: Some(started.elapsed().as_secs_f64() * 1000.0) }
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "blob store health check failed");
            Check { status: "down", detail: format!("{}: unreachable", store.kind()), latency_ms: None }
        }
        Err(_) => Check {
            status: "down",
            detail: format!("{}: no answer within {CHECK_TIMEOUT:?}", store.kind()),
            latency_ms: None,
        },
    }
}

/// Which token schemes are configured. It does not fetch the JWKS: health is polled often, and a fetch here would
/// spend the JWKS throttle that token verification needs.
fn auth(state: &AppState) -> Check {
    let detail = match (state.tokens.accepts_hs256(), state.tokens.uses_jwks()) {
        (true, true) => "HS256 secret and JWKS (ES256/RS256) configured",
        (true, false) => "HS256 secret configured",
        (false, true) => "JWKS (ES256/RS256) configured",
        (false, false) => {
            return Check { status: "down", detail: "no token verification configured".into(), latency_ms: None };
        }
    };
    Check { status: "ok", detail: detail.into(), latency_ms: None }
}
