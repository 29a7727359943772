//! OpenTelemetry export: `handler serve` with the standard `OTEL_*` settings sends its metrics and spans to an OTLP/HTTP
//! receiver on loopback (JSON encoding, so the test reads what arrives as the collector would).

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, routing::post};
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use tests::{app_env, fresh_postgres_database, worker::Worker};
use tokio::net::TcpListener;

/// What the receiver has been sent, per signal.
#[derive(Clone, Default)]
struct Received {
    metrics: Arc<Mutex<Vec<Value>>>,
    traces: Arc<Mutex<Vec<Value>>>,
}

async fn receiver() -> (Received, String) {
    async fn keep(store: Arc<Mutex<Vec<Value>>>, body: Bytes) -> &'static str {
        store.lock().expect("store").push(serde_json::from_slice(&body).unwrap_or(Value::Null));
        "{}"
    }
    let received = Received::default();
    let router = Router::new()
        .route("/v1/metrics", post(|State(r): State<Received>, body: Bytes| keep(r.metrics, body)))
        .route("/v1/traces", post(|State(r): State<Received>, body: Bytes| keep(r.traces, body)))
        .with_state(received.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (received, address)
}

/// Every data point as (metric name, its attributes as `key=value`), across the exports received.
fn data_points(exports: &[Value]) -> Vec<(String, BTreeSet<String>)> {
    let mut points = Vec::new();
    for export in exports {
        for resource in export["resourceMetrics"].as_array().into_iter().flatten() {
            for scope in resource["scopeMetrics"].as_array().into_iter().flatten() {
                for metric in scope["metrics"].as_array().into_iter().flatten() {
                    let name = metric["name"].as_str().unwrap_or_default().to_owned();
                    for kind in ["histogram", "sum", "gauge"] {
                        for point in metric[kind]["dataPoints"].as_array().into_iter().flatten() {
                            points.push((name.clone(), attributes(&point["attributes"])));
                        }
                    }
                }
            }
        }
    }
    points
}

fn attributes(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|kv| {
            let value = &kv["value"];
            let text = value["stringValue"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| value["intValue"].as_str().map(str::to_owned))
                .or_else(|| value["intValue"].as_i64().map(|n| n.to_string()))
                .unwrap_or_default();
            format!("{}={text}", kv["key"].as_str().unwrap_or_default())
        })
        .collect()
}

fn span_names(exports: &[Value]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for export in exports {
        for resource in export["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    names.insert(span["name"].as_str().unwrap_or_default().to_owned());
                }
            }
        }
    }
    names
}

fn gauge_values(export: &Value, name: &str) -> Vec<f64> {
    let mut values = Vec::new();
    for resource in export["resourceMetrics"].as_array().into_iter().flatten() {
        for scope in resource["scopeMetrics"].as_array().into_iter().flatten() {
            for metric in scope["metrics"].as_array().into_iter().flatten().filter(|m| m["name"] == name) {
                values.extend(
                    metric["gauge"]["dataPoints"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        // OTLP/JSON writes int64 as a string; some exporters write a number.
                        .filter_map(|p| {
                            p["asDouble"]
                                .as_f64()
                                .or_else(|| p["asInt"].as_f64())
                                .or_else(|| p["asInt"].as_str()?.parse().ok())
                        }),
                );
            }
        }
    }
    values
}

fn has_point(points: &[(String, BTreeSet<String>)], name: &str, wanted: &[&str]) -> bool {
    points.iter().any(|(n, attributes)| n == name && wanted.iter().all(|w| attributes.contains(*w)))
}

#[tokio::test]
async fn request_trigger_and_sync_metrics_and_spans_reach_an_otlp_receiver() {
    // Arrange
    let (received, endpoint) = receiver().await;
    let mut env = app_env(fresh_postgres_database().await);
    for (name, value) in [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "300"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ] {
        env.insert(name.to_owned(), value.to_owned());
    }
    let worker = Worker::start(&env).await;
    // A store that last completed a sync 90 seconds ago and is not due again for a day.
    let store = uuid::Uuid::new_v4();
    let mut db = PgConnection::connect(&env["DATABASE_URL"]).await.expect("the database");
    let organization = uuid::Uuid::new_v4();
    sqlx::query("INSERT INTO organizations (id, name, timezone, currency) VALUES ($1, 'Lag', 'UTC', 'USD')")
        .bind(organization)
        .execute(&mut db)
        .await
        .expect("an organization");
    sqlx::query("INSERT INTO stores (id, organization_id, platform, name) VALUES ($1, $2, 'woocommerce', 'Shop')")
        .bind(store)
        .bind(organization)
        .execute(&mut db)
        .await
        .expect("a store");
    sqlx::query(
        "INSERT INTO store_connections (store_id, organization_id, platform, address, credential_ref, next_sync_at, \
         last_completed_at) VALUES ($1, $2, 'woocommerce', 'https://shop.example', 'store-x', now() + interval '1 day', \
         now() - interval '90 seconds')",
    )
    .bind(store)
    .bind(organization)
    .execute(&mut db)
    .await
    .expect("a connection");
    // And one that is due: the tick queues it (its message is left undelivered, so it stays in the queue).
    let due = uuid::Uuid::new_v4();
    sqlx::query("INSERT INTO stores (id, organization_id, platform, name) VALUES ($1, $2, 'woocommerce', 'Due')")
        .bind(due)
        .bind(organization)
        .execute(&mut db)
        .await
        .expect("a due store");
    sqlx::query(
        "INSERT INTO store_connections (store_id, organization_id, platform, address, credential_ref, next_sync_at) \
         VALUES ($1, $2, 'woocommerce', 'https://due.example', 'store-y', now() - interval '1 minute')",
    )
    .bind(due)
    .bind(organization)
    .execute(&mut db)
    .await
    .expect("a due connection");

    // Act
    let health = worker.client.get(format!("{}/api/health", worker.base)).send().await.expect("health");
    let refused = worker.client.get(format!("{}/api/v1/products", worker.base)).send().await.expect("products");
    let (_, queued) = tests::worker::sync_timer(&worker.client, &worker.base).await.expect("a SyncStores tick");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (points, spans) = loop {
        let points = data_points(&received.metrics.lock().expect("metrics"));
        let spans = span_names(&received.traces.lock().expect("traces"));
        let complete = has_point(&points, "http.server.request.duration", &["http.route=/api/health"])
            && has_point(&points, "faas.invocations", &["faas.trigger=SyncStores", "outcome=ok"])
            && has_point(&points, "sync.lag", &[&format!("store.id={store}")])
            && has_point(&points, "sync.queue.depth", &[])
            && spans.contains("syncing stores");
        if complete || tokio::time::Instant::now() > deadline {
            break (points, spans);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Assert
    assert_eq!((health.status(), refused.status()), (reqwest::StatusCode::OK, reqwest::StatusCode::UNAUTHORIZED));
    let routes = ["http.request.method=GET", "http.route=/api/health", "http.response.status_code=200"];
    assert!(has_point(&points, "http.server.request.duration", &routes), "{points:#?}");
    let refusal = ["http.route=/api/v1/products", "http.response.status_code=401"];
    assert!(has_point(&points, "http.server.request.duration", &refusal), "{points:#?}");
    assert!(has_point(&points, "faas.invocations", &["faas.trigger=SyncStores", "outcome=ok"]), "{points:#?}");
    assert!(has_point(&points, "faas.invoke_duration", &["faas.trigger=SyncStores"]), "{points:#?}");
    assert!(spans.contains("syncing stores") && spans.contains("request"), "{spans:?}");
    // One value per store: the one synced 90 seconds ago, and the due one (never synced, connected just now).
    let lags: Vec<f64> =
        received.metrics.lock().expect("metrics").iter().flat_map(|export| gauge_values(export, "sync.lag")).collect();
    assert!(lags.iter().any(|seconds| (90.0..120.0).contains(seconds)), "sync.lag {lags:?}");
    assert_eq!(queued.len(), 1, "{queued:?}");
    let depth = received
        .metrics
        .lock()
        .expect("metrics")
        .iter()
        .flat_map(|export| gauge_values(export, "sync.queue.depth"))
        .next();
    assert_eq!(depth, Some(1.0), "sync.queue.depth");
    let exports = received.metrics.lock().expect("metrics").clone();
    let service = attributes(&exports[0]["resourceMetrics"][0]["resource"]["attributes"]);
    assert!(service.contains("service.name=retail-ai-advisor"), "{service:?}");
}
