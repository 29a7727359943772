//! The Lambda host: API Gateway HTTP API / function URL events (payload 2.0) become requests to the REST router.

use tests::{Backend, spawn_app_on, spawn_app_with};
use tower::ServiceExt;

const GET_HEALTH: &str = include_str!("../../fixtures/lambda/function-url-get-health.json");

async fn send(event: &str) -> axum::http::Response<axum::body::Body> {
    let app = spawn_app_on(Backend::Sqlite).await;
    let request = lambda_http::request::from_str(event).expect("a valid function URL event");
    functions::http_app(app.state).oneshot(request).await.expect("infallible")
}

#[tokio::test]
async fn a_function_url_event_reaches_the_rest_api() {
    let response = send(GET_HEALTH).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn trigger_endpoints_are_not_exposed_on_lambda() {
    let event = GET_HEALTH.replace("\"GET\"", "\"POST\"").replace("/api/health", "/SyncStores");
    let response = send(&event).await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn on_lambda_the_anonymous_limit_counts_the_request_contexts_source_ip_not_x_forwarded_for() {
    let app = spawn_app_with(Backend::Sqlite, &[("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "6")]).await;
    let router = functions::host::lambda::lambda_app(app.state.clone());
    let call = |source: &str, forwarded: &str| {
        let mut event: serde_json::Value = serde_json::from_str(GET_HEALTH).expect("fixture");
        event["rawPath"] = "/api/v1/me".into();
        event["requestContext"]["http"]["path"] = "/api/v1/me".into();
        event["requestContext"]["http"]["sourceIp"] = source.into();
        event["headers"]["x-forwarded-for"] = forwarded.into();
        let request = lambda_http::request::from_str(&event.to_string()).expect("a valid function URL event");
        let router = router.clone();
        async move { router.oneshot(request).await.expect("infallible").status().as_u16() }
    };

    let first = call("203.0.113.7", "198.51.100.1").await;
    let spoofed = call("203.0.113.7", "198.51.100.2").await;
    let another_client = call("203.0.113.8", "198.51.100.2").await;

    assert_eq!((first, spoofed, another_client), (401, 429, 401));
}
