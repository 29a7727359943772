//! Export benchmark: how fast the real `handler` (release build) writes a large CSV export and how much memory it
//! takes to do it. A fresh `handler serve` process on a fresh database; `BENCH_EXPORT_ORDERS` orders (one line each)
//! are written straight to the database by this process, then the worker is asked for an orders export
//! (`POST /api/v1/exports`) and its `WriteExport` message is delivered as the Functions host delivers it. The folder
//! blob store receives the file.
//!
//! The worker's peak resident memory (`VmHWM`) is read before the export (the process as it serves) and after it:
//! the difference is what writing the export cost, whatever its size. The export is run at two sizes so that the
//! two peaks can be compared.
//!
//! Seeding goes through the real order writer (rollups kept in step), which slows as the tables grow: on these
//! 2-core machines 100,000 orders took about two minutes, so the default is 200,000 (`BENCH_EXPORT_ORDERS`).
//!
//! Run with `bench/export_memory.sh` (builds the release `handler` first). PostgreSQL from `TEST_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`), or SQLite with `BENCH_BACKEND=sqlite`.

use std::{collections::HashMap, time::Instant};

use secrecy::SecretString;
use serde_json::{Value, json};
use shared::{
    analytics::OrderStatus,
    config::DatabaseSettings,
    db::{
        Database,
        orders::{OrderInput, OrderLineInput},
    },
};
use tests::worker::{self, Worker};
use uuid::Uuid;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Orders written per `upsert_orders` call while seeding.
const SEED_BATCH: usize = 5_000;

struct Row {
    orders: u64,
    rows: i64,
    megabytes: f64,
    seconds: f64,
    rss_before_mb: f64,
    rss_after_mb: f64,
}

async fn seed(db: &Database, organization: Uuid, store: Uuid, from: u64, to: u64) {
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").expect("time").to_utc();
    let mut batch = Vec::with_capacity(SEED_BATCH);
    for i in from..to {
        batch.push(OrderInput {
            external_id: format!("#{i:08}"),
            placed_at: start + chrono::Duration::seconds(i as i64 * 37),
            status: OrderStatus::Paid,
            total_minor: 1_000 + (i % 9_000) as i64,
            lines: vec![OrderLineInput::sold(None, None, 1 + (i % 3) as i32, 900 + (i % 9_000) as i64)],
            customer: Some(format!("customer-{}", i % 50_000)),
        });
        if batch.len() == SEED_BATCH {
            db.upsert_orders(organization, store, &batch).await.expect("orders");
            batch.clear();
        }
    }
    if !batch.is_empty() {
        db.upsert_orders(organization, store, &batch).await.expect("orders");
    }
}

async fn export(worker: &Worker, token: &str, organization: Uuid) -> (i64, i64, f64) {
    let created: Value = worker
        .client
        .post(format!("{}/api/v1/exports", worker.base))
        .bearer_auth(token)
        .json(&json!({ "kind": "orders" }))
        .send()
        .await
        .expect("ask")
        .json()
        .await
        .expect("JSON");
    let id = created["id"].as_str().expect("export id").to_owned();
    let started = Instant::now();
    let message = json!({ "organization": organization, "export": id });
    let reply =
        worker::deliver(&worker.client, &worker.base, "WriteExport", "message", &message).await.expect("delivery");
    let seconds = started.elapsed().as_secs_f64();
    let view: Value = worker
        .client
        .get(format!("{}/api/v1/exports/{id}", worker.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("JSON");
    assert_eq!(view["status"], "ready", "{reply} {view}");
    (view["rows"].as_i64().unwrap_or(0), view["bytes"].as_i64().unwrap_or(0), seconds)
}

#[tokio::main]
async fn main() {
    let total = setting("BENCH_EXPORT_ORDERS", 200_000);
    let sqlite = std::env::var("BENCH_BACKEND").is_ok_and(|b| b == "sqlite");
    let data = tempfile::tempdir().expect("temporary folder");
    let database_url = if sqlite {
        format!("sqlite://{}", data.path().join("bench.db").display())
    } else {
        tests::fresh_postgres_database().await
    };
    let mut env: HashMap<String, String> = tests::app_env(database_url.clone());
    env.insert("VIDEO_STORAGE_DIR".into(), data.path().join("blobs").display().to_string());
    env.insert("APP_URL".into(), "http://127.0.0.1:1".into());
    let worker = Worker::start(&env).await;
    let secret = SecretString::from(env["SUPABASE_JWT_SECRET"].clone());
    let token = shared::auth::mint_token(
        &secret,
        tests::TEST_ISSUER,
        Uuid::new_v4(),
        None,
        std::time::Duration::from_secs(7200),
    )
    .expect("token");
    let organization: Value = worker
        .client
        .post(format!("{}/api/v1/organizations", worker.base))
        .bearer_auth(&token)
        .json(&json!({ "name": "Bench", "timezone": "Europe/Berlin" }))
        .send()
        .await
        .expect("organization")
        .json()
        .await
        .expect("JSON");
    let organization: Uuid = organization["id"].as_str().and_then(|id| id.parse().ok()).expect("id");
    let settings = DatabaseSettings {
        url: SecretString::from(database_url),
        max_connections: 4,
        acquire_timeout: std::time::Duration::from_secs(30),
        transaction_pooler: None,
        auto_migrate: false,
    };
    let db = Database::connect_lazy(&settings).expect("pool");
    let store = db.create_store(organization, "demo", "Bench").await.expect("store");

    let mut rows = Vec::new();
    let mut seeded = 0;
    for size in [total / 10, total] {
        let started = Instant::now();
        seed(&db, organization, store, seeded, size).await;
        eprintln!("seeded {} orders in {:.1} s", size - seeded, started.elapsed().as_secs_f64());
        seeded = size;
        let rss_before_mb = worker.peak_rss_kb().unwrap_or(0) as f64 / 1024.0;
        let (written, bytes, seconds) = export(&worker, &token, organization).await;
        let rss_after_mb = worker.peak_rss_kb().unwrap_or(0) as f64 / 1024.0;
        rows.push(Row {
            orders: size,
            rows: written,
            megabytes: bytes as f64 / 1e6,
            seconds,
            rss_before_mb,
            rss_after_mb,
        });
    }

    println!();
    println!(
        "Orders export through WriteExport ({}, release `handler serve`)",
        if sqlite { "SQLite" } else { "PostgreSQL" }
    );
    println!("| orders | rows written | file MB | seconds | rows/s | worker peak RSS before | after |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.0} | {:.1} MiB | {:.1} MiB |",
            row.orders,
            row.rows,
            row.megabytes,
            row.seconds,
            row.rows as f64 / row.seconds,
            row.rss_before_mb,
            row.rss_after_mb
        );
    }
}
