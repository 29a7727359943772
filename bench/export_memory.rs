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
//! On PostgreSQL the orders and lines are seeded with two set-based `INSERT … SELECT generate_series` statements
//! (a million orders in well under a minute; the rollups are not kept, and an export does not read them), so the
//! default is 1,000,000 orders. On SQLite they go through the real order writer, which slows as the tables grow:
//! set `BENCH_EXPORT_ORDERS` lower there.
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

/// Orders `from..to` of the store (external id `#00000042`, one line, a customer among 50,000).
async fn seed(db: &Database, organization: Uuid, store: Uuid, from: u64, to: u64) {
    match db {
        Database::Postgres(pool) => seed_with_sql(pool, organization, store, from, to).await,
        Database::Sqlite(_) => seed_through_the_order_writer(db, organization, store, from, to).await,
    }
}

/// [`seed`] as two statements: the same rows [`seed_through_the_order_writer`] writes, without the rollups.
async fn seed_with_sql(pool: &sqlx::PgPool, organization: Uuid, store: Uuid, from: u64, to: u64) {
    const ORDERS: &str = "INSERT INTO orders (id, organization_id, store_id, external_id, placed_at, status, \
         total_minor, customer_key) \
         SELECT gen_random_uuid(), $1, $2, '#' || lpad(i::text, 8, '0'), \
         timestamptz '2025-01-01T00:00:00Z' + make_interval(secs => i * 37), 'paid', 1000 + i % 9000, \
         'customer-' || (i % 50000) FROM generate_series($3::bigint, $4::bigint - 1) AS i";
    const LINES: &str = "INSERT INTO order_lines (order_id, organization_id, line_no, quantity, total_minor) \
         SELECT o.id, o.organization_id, 1, 1 + n % 3, 900 + n % 9000 \
         FROM orders o CROSS JOIN LATERAL (SELECT substr(o.external_id, 2)::bigint AS n) k \
         WHERE o.organization_id = $1 AND o.store_id = $2 AND o.external_id >= $3 AND o.external_id < $4";
    let (first, end) = (format!("#{from:08}"), format!("#{to:08}"));
    sqlx::query(ORDERS)
        .bind(organization)
        .bind(store)
        .bind(from as i64)
        .bind(to as i64)
        .execute(pool)
        .await
        .expect("orders");
    sqlx::query(LINES).bind(organization).bind(store).bind(first).bind(end).execute(pool).await.expect("lines");
}

async fn seed_through_the_order_writer(db: &Database, organization: Uuid, store: Uuid, from: u64, to: u64) {
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
    let total = setting("BENCH_EXPORT_ORDERS", 1_000_000);
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
    let token = worker::token_for(&env);
    let organization = worker.create_organization(&token, "Bench", "Europe/Berlin").await;
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
