//! AWS Lambda: API Gateway HTTP API and function URL events (payload format 2.0) go through `lambda_http` into the
//! REST API router. Scheduled events (EventBridge Scheduler, as `infra/template.yaml` sets up) arrive through
//! `lambda_http`'s pass-through as `POST /events`; this host turns one naming a timer function into the same timer
//! invocation the Functions host sends, and hands it to the trigger router. The messages its queue outputs hold are
//! delivered to their queue-triggered functions in the same invocation, one after another, until the invocation's
//! deadline is near (`DEADLINE_MARGIN` before it; without a runtime context, `SYNC_TIME_BUDGET_SECS` after the
//! start); the rest are dropped, and a later tick queues them again (a store once its queue claim runs out, an
//! organization whose advice is still due). Storage events stay on Azure.
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
use std::time::Duration;

use lambda_http::request::RequestContext;
use tower::ServiceExt;

use crate::{
    AppState, app,
    client_address::ClientAddress,
    error::Problem,
    http_app,
    manifest::{self, Trigger},
    protocol::InvocationResponse,
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
    let budget = state.settings.sync.time_budget;
    http_app(state).route("/events", post(move |request: Request| scheduled(triggers.clone(), budget, request)))
}

/// Queued messages are no longer started this close to the invocation's deadline.
const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

/// When to stop delivering queued messages: shortly before the Lambda invocation's deadline, or `budget` from now.
fn drain_deadline(request: &Request, budget: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    let Some(context) = request.extensions().get::<lambda_http::Context>() else { return now + budget };
    let left = std::time::UNIX_EPOCH + Duration::from_millis(context.deadline);
    let left = left.duration_since(std::time::SystemTime::now()).unwrap_or_default();
    now + left.saturating_sub(DEADLINE_MARGIN)
}

async fn scheduled(triggers: Router, budget: Duration, request: Request) -> Response {
    let deadline = drain_deadline(&request, budget);
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
    let response = invoke(&triggers, &name, &invocation).await;
    if !response.status().is_success() {
        tracing::error!(function = %name, status = %response.status(), "scheduled run failed");
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(body) = to_bytes(body, usize::MAX).await else {
        return Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR, "unreadable invocation reply").into_response();
    };
    drain(&triggers, &name, &body, deadline).await;
    Response::from_parts(parts, Body::from(body))
}

/// POSTs one invocation to the trigger router.
async fn invoke(triggers: &Router, function: &str, invocation: &serde_json::Value) -> Response {
    let request = Request::post(format!("/{function}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(invocation.to_string()));
    match request {
        Ok(request) => match triggers.clone().oneshot(request).await {
            Ok(response) => response,
            Err(infallible) => match infallible {},
        },
        Err(error) => Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

/// Delivers the messages `function`'s reply queued (and those their own replies queue) to the functions their queues
/// trigger, one at a time, until `deadline`. A failed delivery is logged and not retried here.
async fn drain(triggers: &Router, function: &str, reply: &[u8], deadline: tokio::time::Instant) {
    let mut pending = std::collections::VecDeque::from(queued(function, reply));
    let mut delivered = 0;
    while let Some((queue, message)) = pending.pop_front() {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(left = pending.len() + 1, delivered, "time budget spent: queued messages dropped");
            return;
        }
        let Some((consumer, binding)) = manifest::consumer_of(&queue) else { continue };
        let invocation = serde_json::json!({
            "Data": { binding: message },
            "Metadata": { "DequeueCount": 1, "sys": { "MethodName": consumer.name, "UtcNow": chrono::Utc::now() } },
        });
        let response = invoke(triggers, &consumer.name, &invocation).await;
        let status = response.status();
        match to_bytes(response.into_body(), usize::MAX).await {
            Ok(body) if status.is_success() => pending.extend(queued(&consumer.name, &body)),
            _ => tracing::error!(function = %consumer.name, %status, "queued message failed"),
        }
        delivered += 1;
    }
}

/// The messages a reply of `function` queues, with their queues.
fn queued(function: &str, reply: &[u8]) -> Vec<(String, serde_json::Value)> {
    let outputs = serde_json::from_slice::<InvocationResponse>(reply).map(|r| r.outputs).unwrap_or_default();
    manifest::function(function).map_or_else(Vec::new, |manifest| manifest.queued_messages(&outputs))
}
