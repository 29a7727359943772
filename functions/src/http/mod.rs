//! The REST API: one module per resource, each exposing `router()`; this module only merges them. Every route
//! here is below `/api`, the prefix the Functions host forwards.

use axum::Router;

use crate::state::AppState;

mod advice;
mod analytics;
mod health;
mod me;
mod members;
mod organizations;
mod products;
mod stores;
pub(crate) mod videos;
mod webhooks;

/// All HTTP routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(me::router())
        .merge(organizations::router())
        .merge(members::router())
        .merge(products::router())
        .merge(videos::router())
        .merge(analytics::router())
        .merge(advice::router())
        .merge(stores::router())
        .merge(webhooks::router())
}
