//! The Retail AI Advisor function app: every trigger behind one [`axum::Router`], and the hosts that serve it.
//!
//! # Layout
//! - [`app`] builds the router every host serves: the REST API ([`http`]) and the non-HTTP triggers ([`triggers`]),
//!   wrapped in the cross-cutting layers ([`middleware`]).
//! - [`protocol`]: the Functions custom-handler invocation format; [`manifest`]: the embedded `function.json` files.
//! - [`host`]: Azure Functions custom handler, AWS Lambda, and the local all-in-one host of `handler dev`.
//! - [`package`]: writes a deployable function app folder.
//! - [`error`] and [`extract`]: the HTTP layer's error type and extractors, so every failure is problem+json;
//!   [`problem_types`]: the registry of the problem `type` URIs, each served as a page;
//!   [`tenant`]: the organization a request acts within; [`rate_limit`]: per-tenant request budgets.
//! - [`folding`]: folds event deltas into the rollups after ingest; [`rankings`]: product rankings kept while the
//!   organization's sales figures stand.

use axum::{Router, extract::DefaultBodyLimit};

pub mod auth;
pub mod client_address;
pub mod error;
pub mod extract;
pub mod folding;
pub mod host;
pub mod http;
pub mod manifest;
pub mod middleware;
pub mod package;
pub mod problem_types;
pub mod protocol;
pub mod rankings;
pub mod rate_limit;
pub mod request_metrics;
pub mod state;
pub mod triggers;
pub mod whole_number;

pub use state::AppState;

/// The whole function app: REST API and trigger endpoints, for the Azure custom handler and the local host.
pub fn app(state: AppState) -> Router {
    middleware::wrap(http::router().merge(triggers::router()), &state)
        .layer(DefaultBodyLimit::max(state.settings.max_request_body_bytes))
        .with_state(state)
}

/// The REST API alone, for hosts that expose the process to the internet directly (Lambda function URLs): there the
/// trigger endpoints would let anyone fire a timer or forge a storage event, so they are not mounted.
pub fn http_app(state: AppState) -> Router {
    middleware::wrap(http::router(), &state)
        .layer(DefaultBodyLimit::max(state.settings.max_request_body_bytes))
        .with_state(state)
}
