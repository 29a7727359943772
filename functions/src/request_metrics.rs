//! Request metrics, as route layers: [`record_request`] on the REST API and the dashboard
//! (`http.server.request.duration` by method, route template (never the raw path, whose ids would make every request
//! its own series) and status), [`record_invocation`] on the trigger routes (`faas.invocations` and
//! `faas.invoke_duration` by function and outcome). Each router adds its own, so nothing is looked up per request.

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};
use opentelemetry::KeyValue;
use shared::telemetry::metrics::metrics;
use tokio::time::Instant;

/// The route template and the time `next` took to answer.
async fn timed(request: Request, next: Next) -> (Option<String>, Response, f64) {
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    (route, response, started.elapsed().as_secs_f64())
}

/// Route layer of the REST API and the dashboard.
pub async fn record_request(request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let (route, response, elapsed) = timed(request, next).await;
    if let Some(route) = route {
        metrics().http_request_duration.record(
            elapsed,
            &[
                KeyValue::new("http.request.method", method),
                KeyValue::new("http.route", route),
                KeyValue::new("http.response.status_code", i64::from(response.status().as_u16())),
            ],
        );
    }
    response
}

/// Route layer of the trigger routes (`POST /<Function>`): a 2xx is a completed invocation.
pub async fn record_invocation(request: Request, next: Next) -> Response {
    let (route, response, elapsed) = timed(request, next).await;
    if let Some(function) = route.as_deref().and_then(|route| route.strip_prefix('/')) {
        let function = KeyValue::new("faas.trigger", function.to_owned());
        let outcome = KeyValue::new("outcome", if response.status().is_success() { "ok" } else { "failed" });
        metrics().invocations.add(1, &[function.clone(), outcome]);
        metrics().invoke_duration.record(elapsed, &[function]);
    }
    response
}
