//! Scheduled events on Lambda: EventBridge Scheduler's input `{"retail-ai-advisor": "<timer>"}` arrives through
//! `lambda_http`'s pass-through as `POST /events` and runs that timer like the Functions host would; the same path
//! over HTTP (a function URL) fires nothing. The messages the timer queues are delivered in the same invocation.

use tests::{Backend, spawn_app_on};
use tower::ServiceExt;

const GET_HEALTH: &str = include_str!("../../fixtures/lambda/function-url-get-health.json");

async fn send(event: &str) -> (u16, serde_json::Value) {
    let app = spawn_app_on(Backend::Sqlite).await;
    let request = lambda_http::request::from_str(event).expect("an event lambda_http accepts");
    let response = functions::host::lambda::lambda_app(app.state).oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn a_scheduled_event_runs_the_timer_it_names() {
    let (status, reply) = send(r#"{"retail-ai-advisor": "SyncStores"}"#).await;

    assert_eq!(status, 200, "{reply}");
    assert!(reply.get("Logs").is_some_and(serde_json::Value::is_array), "the timer's invocation reply: {reply}");
}

#[tokio::test]
async fn the_messages_a_scheduled_timer_queues_are_delivered_in_the_same_invocation() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let admin = uuid::Uuid::new_v4();
    let token = app.token_for(admin);
    let organization = app.create_organization(&token, "Acme", "UTC").await;
    assert!(app.state.db.advice_run(organization).await.expect("read").is_none(), "never computed");
    let request = lambda_http::request::from_str(r#"{"retail-ai-advisor": "RefreshAdvice"}"#).expect("an event");

    let response = functions::host::lambda::lambda_app(app.state.clone()).oneshot(request).await.expect("infallible");

    assert_eq!(response.status(), 200);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    let reply: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(reply["Outputs"]["organizations"], serde_json::json!([{ "organization": organization }]), "{reply}");
    let run = app.state.db.advice_run(organization).await.expect("read").expect("refreshed by the queued message");
    assert!(run.computed_at.is_some(), "{run:?}");
}

#[tokio::test]
async fn a_scheduled_event_naming_no_timer_is_refused() {
    for event in [r#"{"retail-ai-advisor": "VideoUploaded"}"#, r#"{"retail-ai-advisor": "Nope"}"#, r#"{"detail": {}}"#]
    {
        let (status, reply) = send(event).await;
        assert_eq!(status, 400, "{event}: {reply}");
    }
}

#[tokio::test]
async fn the_events_path_over_http_fires_nothing() {
    let event = GET_HEALTH.replace("\"GET\"", "\"POST\"").replace("/api/health", "/events");

    let (status, _) = send(&event).await;

    assert_eq!(status, 404, "a function URL caller cannot reach the timers");
}
