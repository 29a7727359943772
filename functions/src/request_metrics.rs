//! Records every routed request: a trigger invocation (`POST /<Function>`) as `faas.invocations` and
//! `faas.invoke_duration` by function and outcome, anything else as `http.server.request.duration` by method, route
//! template (never the raw path, whose ids would make every request its own series) and status.

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};
use opentelemetry::KeyValue;
use shared::telemetry::metrics::metrics;
use tokio::time::Instant;

use crate::triggers;

/// The route layer.
pub async fn record(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let Some(route) = route else { return response };
    let status = response.status();
    let metrics = metrics();
    match route.strip_prefix('/').filter(|name| triggers::names().any(|function| function == *name)) {
        Some(function) => {
            let function = KeyValue::new("faas.trigger", function.to_owned());
            let outcome = KeyValue::new("outcome", if status.is_success() { "ok" } else { "failed" });
            metrics.invocations.add(1, &[function.clone(), outcome]);
            metrics.invoke_duration.record(elapsed, &[function]);
        }
        None => metrics.http_request_duration.record(
            elapsed,
            &[
                KeyValue::new("http.request.method", method),
                KeyValue::new("http.route", route),
                KeyValue::new("http.response.status_code", i64::from(status.as_u16())),
            ],
        ),
    }
    response
}
