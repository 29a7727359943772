//! The REST API: one module per resource, each exposing `router()`; this module only merges them. Every route
//! here is below `/api`, the prefix the Functions host forwards, except the dashboard's `GET /` ([`app`]).
//!
//! Resource routers are `OpenApiRouter`s: `utoipa_axum::routes!` routes a handler and adds its `#[utoipa::path]`
//! to the OpenAPI document in one call, so `GET /api/openapi.json` describes exactly what is routed.

use std::sync::LazyLock;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Signs the folder store's upload and download URLs (the dev host's stand-in for a SAS). Random per process: a dev
/// host restart only voids outstanding URLs, which live minutes.
pub(crate) static LOCAL_SIGNING_KEY: LazyLock<[u8; 32]> = LazyLock::new(|| {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key
});

mod advice;
mod alerts;
mod analytics;
pub mod app;
mod compliance;
mod cursor;
mod exports;
mod health;
mod me;
mod members;
mod onboarding;
pub mod openapi;
mod organizations;
mod problems;
mod products;
mod sign_in;
mod stores;
pub(crate) mod videos;
mod views;
mod webhooks;

/// All HTTP routes.
pub fn router() -> Router<AppState> {
    let (router, _) = documented().split_for_parts();
    // The one part left out of the document: the dashboard's page and assets are HTML, scripts and styles for a
    // browser, not the API (the page itself is a client of the documented routes).
    router.merge(app::router()).route_layer(axum::middleware::from_fn(crate::request_metrics::record_request))
}

/// The documented routes: the router and its OpenAPI document, from the same registrations.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(openapi::router())
        .merge(health::router())
        .merge(problems::router())
        .merge(me::router())
        .merge(organizations::router())
        .merge(members::router())
        .merge(products::router())
        .merge(videos::router())
        .merge(exports::router())
        .merge(analytics::router())
        .merge(sign_in::router())
        .merge(stores::router())
        .merge(onboarding::router())
        .merge(advice::router())
        .merge(alerts::router())
        .merge(webhooks::router())
        .merge(compliance::router())
}
