//! The Lambda host: API Gateway HTTP API / function URL events (payload 2.0) become requests to the REST router.

use tests::{Backend, spawn_app_on};
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
