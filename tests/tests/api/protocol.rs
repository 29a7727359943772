//! Custom-handler protocol conformance: the invocations the Functions host sends, with their quirks, and the replies
//! it accepts (2xx, `application/json`, `Outputs`/`Logs`/`ReturnValue`; non-2xx for a failure to retry).

use serde_json::{Value, json};
use tests::{Backend, TestApp, spawn_app_on};

const TIMER: &str = include_str!("../../fixtures/functions-host/timer.json");
const TIMER_NO_MONITOR: &str = include_str!("../../fixtures/functions-host/timer-no-monitor.json");
const BLOB_CREATED: &str = include_str!("../../fixtures/functions-host/blob-created.json");
const QUEUE_MESSAGE: &str = include_str!("../../fixtures/functions-host/queue-message.json");

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

/// POSTs an invocation like the host does and returns the accepted reply's log lines.
async fn invoke(app: &TestApp, function: &str, body: &Value) -> Vec<String> {
    let response = app
        .client
        .post(format!("{}/{function}", app.address))
        .header("content-type", "application/json; charset=utf-8")
        .header("x-azure-functions-invocationid", "5f1b2c3d-0000-4000-8000-000000000001")
        .header("x-azure-functions-hostversion", "4.1040.300.1")
        .header("user-agent", "Azure-Functions-Host/4.1040.300.1")
        .json(body)
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200, "{function}");
    assert!(response.headers()["content-type"].to_str().expect("ASCII").starts_with("application/json"));
    assert_eq!(
        response.headers()["x-request-id"],
        "5f1b2c3d-0000-4000-8000-000000000001",
        "invocation id is the request id"
    );
    let reply: Value = response.json().await.expect("JSON reply");
    assert!(reply["Outputs"].is_object() && reply["Logs"].is_array() && reply.get("ReturnValue").is_some(), "{reply}");
    reply["Logs"].as_array().expect("array").iter().map(|l| l.as_str().expect("string").to_owned()).collect()
}

async fn app() -> TestApp {
    spawn_app_on(Backend::Sqlite).await
}

#[tokio::test]
async fn the_host_readiness_probe_gets_an_answer() {
    let app = app().await;
    assert_eq!(app.get("/").await.status(), 200);
}

#[tokio::test]
async fn a_timer_invocation_completes_with_the_schedule_status() {
    let app = app().await;
    let logs = invoke(&app, "SyncStores", &fixture(TIMER)).await;
    assert!(logs.iter().any(|l| l.contains("scheduled 2024-05-01T03:00:00+00:00, past due: false")), "{logs:?}");
}

#[tokio::test]
async fn a_timer_without_a_monitor_record_and_past_due_completes() {
    let app = app().await;
    let logs = invoke(&app, "SyncStores", &fixture(TIMER_NO_MONITOR)).await;
    assert!(logs.iter().any(|l| l.contains("scheduled unknown, past due: true")), "{logs:?}");
}

#[tokio::test]
async fn a_binding_value_encoded_as_a_json_string_is_read_the_same() {
    let app = app().await;
    let mut invocation = fixture(TIMER);
    invocation["Data"]["timer"] = Value::String(invocation["Data"]["timer"].to_string());
    invocation["Metadata"]["RetryContext"] = json!({ "RetryCount": 1, "MaxRetryCount": 3, "Exception": null });
    let logs = invoke(&app, "SyncStores", &invocation).await;
    assert!(logs.iter().any(|l| l.contains("past due: false")), "{logs:?}");
}

#[tokio::test]
async fn a_queue_message_arrives_as_json_text_once_or_twice_encoded_or_as_an_object() {
    let app = app().await;
    let as_text = fixture(QUEUE_MESSAGE);
    let text = as_text["Data"]["message"].as_str().expect("JSON text").to_owned();
    let mut twice = as_text.clone();
    twice["Data"]["message"] = Value::String(Value::String(text.clone()).to_string());
    let mut as_object = as_text.clone();
    as_object["Data"]["message"] = serde_json::from_str(&text).expect("JSON");
    for invocation in [as_text, twice, as_object] {
        let logs = invoke(&app, "SyncStore", &invocation).await;
        assert_eq!(
            logs,
            ["store 1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f: no longer connected; message dropped"],
            "{invocation}"
        );
    }
}

#[tokio::test]
async fn a_blob_created_event_arrives_as_an_object_or_as_a_string() {
    let app = app().await;
    let as_object = fixture(BLOB_CREATED);
    let mut as_string = as_object.clone();
    as_string["Data"]["event"] = Value::String(as_object["Data"]["event"].to_string());
    for invocation in [as_object, as_string] {
        let logs = invoke(&app, "VideoUploaded", &invocation).await;
        assert_eq!(
            logs,
            [
                "video upload received: tenant t-42, video clip.mp4, etag 0x8D4BCC2E4835CD0, 524288 bytes",
                "ignored blob t-42/clip.mp4: not a name this app issues",
            ],
            "{invocation}"
        );
    }
}

#[tokio::test]
async fn a_cloudevents_schema_event_is_understood() {
    let app = app().await;
    let event = fixture(BLOB_CREATED)["Data"]["event"].clone();
    let cloud_event = json!({
        "specversion": "1.0",
        "id": event["id"],
        "source": event["topic"],
        "subject": event["subject"],
        "type": event["eventType"],
        "time": event["eventTime"],
        "data": event["data"],
    });
    let logs = invoke(&app, "VideoUploaded", &json!({ "Data": { "event": cloud_event }, "Metadata": {} })).await;
    assert!(logs[0].starts_with("video upload received: tenant t-42"), "{logs:?}");
}

#[tokio::test]
async fn events_the_function_does_not_handle_complete_without_work() {
    let app = app().await;
    let cases = [
        ("eventType", json!("Microsoft.Storage.BlobDeleted"), "ignored event"),
        ("subject", json!("/blobServices/default/containers/other/blobs/t-42/clip.mp4"), "ignored blob other/"),
        ("subject", json!("/blobServices/default/containers/videos/blobs/clip.mp4"), "not a video upload path"),
    ];
    for (field, value, expected) in cases {
        let mut invocation = fixture(BLOB_CREATED);
        invocation["Data"]["event"][field] = value;
        let logs = invoke(&app, "VideoUploaded", &invocation).await;
        assert!(logs[0].contains(expected), "{field}: {logs:?}");
    }
}

#[tokio::test]
async fn malformed_invocations_fail_with_a_problem_so_the_host_records_a_failure() {
    let app = app().await;
    let mut missing_url = fixture(BLOB_CREATED);
    missing_url["Data"]["event"]["data"].as_object_mut().expect("object").remove("url");
    let mut not_a_blob = fixture(BLOB_CREATED);
    not_a_blob["Data"]["event"]["subject"] = json!("/queueServices/default/queues/q");
    let cases = [
        ("VideoUploaded", json!({ "Data": {}, "Metadata": {} }), "Data.event: missing"),
        ("VideoUploaded", missing_url, "missing field `url`"),
        ("VideoUploaded", not_a_blob, "subject is not a blob"),
        ("SyncStores", json!({ "Data": { "timer": 42 }, "Metadata": {} }), "Data.timer"),
        ("SyncStores", json!([1, 2]), "body"),
        ("SyncStore", json!({ "Data": {}, "Metadata": {} }), "Data.message: missing"),
        ("SyncStore", json!({ "Data": { "message": "not json" }, "Metadata": {} }), "Data.message"),
        ("SyncStore", json!({ "Data": { "message": { "store": "x" } }, "Metadata": {} }), "Data.message"),
    ];
    for (function, body, expected) in cases {
        let response = app.post_json(&format!("/{function}"), &body).await;
        assert_eq!(response.status(), 400, "{function}: {body}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let problem: Value = response.json().await.expect("JSON");
        assert!(problem["detail"].as_str().expect("detail").contains(expected), "{expected}: {problem}");
    }
}

#[tokio::test]
async fn an_invocation_sent_chunked_without_a_length_is_read() {
    let app = app().await;
    let response = tests::send_chunked(
        &app.address,
        "POST",
        "/SyncStores",
        &[("content-type", "application/json; charset=utf-8")],
        TIMER.as_bytes(),
    )
    .await;
    assert_eq!(response.status, 200, "{response:?}");
    let reply: Value = serde_json::from_str(&response.body).expect("JSON reply");
    assert!(reply["Logs"][0].as_str().expect("log").contains("past due: false"), "{reply}");
}
