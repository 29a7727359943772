//! AWS Lambda: API Gateway HTTP API and function URL events (payload format 2.0) go through `lambda_http` into the
//! REST API router. Scheduled events (EventBridge Scheduler, as `infra/template.yaml` sets up) arrive through
//! `lambda_http`'s pass-through as `POST /events`; this host turns one naming a timer function into the same timer
//! invocation the Functions host sends, and hands it to the trigger router. Storage events stay on Azure.
//!
//! The trigger endpoints themselves are never routed from HTTP events: a function URL is public, and only an event
//! that came through the runtime (not over HTTP) is marked pass-through, so no caller can fire a timer.

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::Request,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use lambda_http::request::RequestContext;
use tower::ServiceExt;

use crate::{
    AppState, app,
    client_address::ClientAddress,
    error::Problem,
    http_app,
    manifest::{self, Trigger},
};

/// The key of a scheduled event's input naming the timer function to run: `{"retail-ai-advisor": "SyncStores"}`.
pub const SCHEDULE_INPUT_KEY: &str = "retail-ai-advisor";

/// Runs the Lambda runtime loop until the runtime stops the process.
pub async fn run(state: AppState) -> Result<(), lambda_http::Error> {
    lambda_http::run(lambda_app(state)).await
}

/// The REST API, plus `POST /events` for scheduled events that came through the runtime. Client addresses come from
/// the request context ([`ClientAddress::for_lambda`]).
pub fn lambda_app(state: AppState) -> Router {
    let client_address = ClientAddress::for_lambda(&state.settings.http);
    let state = state.with_client_address(client_address);
    let triggers = app(state.clone());
    http_app(state).route("/events", post(move |request: Request| scheduled(triggers.clone(), request)))
}

async fn scheduled(triggers: Router, request: Request) -> Response {
    if !matches!(request.extensions().get::<RequestContext>(), Some(RequestContext::PassThrough)) {
        let path = request.uri().path().to_owned();
        return Problem::for_status(StatusCode::NOT_FOUND, format!("no route for POST {path}")).into_response();
    }
    let Ok(body) = to_bytes(request.into_body(), 64 * 1024).await else {
        return Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE, "scheduled event too large").into_response();
    };
    let name = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|event| event.get(SCHEDULE_INPUT_KEY)?.as_str().map(str::to_owned));
    let timer = manifest::functions()
        .ok()
        .and_then(|functions| functions.into_iter().find(|f| Some(&f.name) == name.as_ref()))
        .and_then(|function| match function.trigger {
            Trigger::Timer { binding, .. } => Some((function.name, binding)),
            _ => None,
        });
    let Some((name, binding)) = timer else {
        tracing::warn!(event = %String::from_utf8_lossy(&body), "a scheduled event that names no timer function");
        let detail = format!("expected {{\"{SCHEDULE_INPUT_KEY}\": \"<timer function>\"}}");
        return Problem::for_status(StatusCode::BAD_REQUEST, detail).into_response();
    };
    let now = chrono::Utc::now().to_rfc3339();
    let invocation = serde_json::json!({
        "Data": { binding: { "Schedule": { "AdjustForDST": true }, "ScheduleStatus": null, "IsPastDue": false } },
        "Metadata": { "sys": { "MethodName": name, "UtcNow": now, "RandGuid": uuid::Uuid::new_v4() } },
    });
    let request = Request::post(format!("/{name}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(invocation.to_string()));
    match request {
        Ok(request) => match triggers.oneshot(request).await {
            Ok(response) => {
                if !response.status().is_success() {
                    tracing::error!(function = %name, status = %response.status(), "scheduled run failed");
                }
                response
            }
            Err(infallible) => match infallible {},
        },
        Err(error) => Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}
