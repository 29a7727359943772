//! Shopify import benchmark at the Standard plan's limits (a 2,000-point bucket restoring 100 points a second): how
//! long the real `handler` (release build, `handler serve` on PostgreSQL) takes to import a whole shop through bulk
//! operations, how many query points it spends, its peak memory, and how long an incremental sync then takes to pick
//! up 100 changed orders.
//!
//! Each scenario: a fresh database, one shop on the GraphQL protocol fake (`BENCH_LATENCY_MS`, default 50, added to
//! every answer; a bulk operation takes `BENCH_BULK_RUN_MS`, default 5,000, to run on the fake's side, as Shopify
//! takes its time), connected through the API; then a `SyncStores` tick with this process playing the Functions
//! host (continuation messages delivered until the store is in), timed end to end. `BENCH_PAGED=1` adds the small
//! shop imported page by page (`SHOPIFY_BULK_IMPORT=false`) for comparison; at 100 points a second that takes
//! minutes.
//!
//! Run with `bench/shopify_import.sh` (builds the release `handler` first). PostgreSQL from `TEST_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`).

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use tests::{
    platform_fakes::{
        shopify::{FakeShop, FakeShopify, ShopifyConfig},
        shopify_catalogue,
    },
    worker::{self, Worker},
};

const SHOP: &str = "bench.myshopify.com";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Scenario {
    products: u64,
    orders: u64,
    bulk: bool,
}

struct Outcome {
    import_seconds: f64,
    runs: usize,
    points: u64,
    throttled: usize,
    peak_rss_mib: f64,
    incremental_seconds: f64,
    incremental_updated: i64,
}

async fn run(scenario: &Scenario, latency: Duration, bulk_run_time: Duration) -> Outcome {
    let config =
        ShopifyConfig { bucket_size: 2_000.0, restore_rate: 100.0, latency, bulk_run_time, ..ShopifyConfig::default() };
    let fake = FakeShopify::start(config).await;
    let (products, orders) = shopify_catalogue(scenario.products, 40, 30, scenario.orders, 3);
    fake.add_shop(SHOP, FakeShop { products, orders, access_token: "shpat_bench".into(), ..FakeShop::default() });
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut env = tests::app_env(tests::fresh_postgres_database().await);
    env.insert("SHOPIFY_ADMIN_URL_TEMPLATE".into(), fake.admin_url_template());
    env.insert("SECRETS_DIR".into(), dir.path().join("secrets").display().to_string());
    env.insert("ALLOW_PRIVATE_STORE_URLS".into(), "true".into());
    env.insert("SYNC_MIN_INTERVAL_SECS".into(), "0".into());
    env.insert("SHOPIFY_BULK_IMPORT".into(), scenario.bulk.to_string());
    env.insert("RUST_LOG".into(), "warn".into());
    let worker = Worker::start(&env).await;
    let token = worker::token_for(&env);
    let organization = worker.create_organization(&token, "Bench", "UTC").await.to_string();
    let connected = worker
        .client
        .post(format!("{}/api/v1/stores", worker.base))
        .bearer_auth(&token)
        .header("X-Organization-Id", &organization)
        .json(&json!({ "platform": "shopify", "shop_domain": SHOP, "access_token": "shpat_bench" }))
        .send()
        .await
        .expect("connect");
    assert_eq!(connected.status(), 201, "connect");
    fake.clear_requests();

    let started = Instant::now();
    let tick = worker.tick().await.expect("tick");
    let import_seconds = started.elapsed().as_secs_f64();
    let requests = fake.requests();
    let points = requests.iter().filter_map(|r| r.requested).sum();
    let throttled = requests.iter().filter(|r| r.throttled).count();
    let peak_rss_mib = worker.peak_rss_kb().unwrap_or(0) as f64 / 1024.0;

    fake.with_shop(SHOP, |shop| {
        let now = Utc::now();
        for order in shop.orders.iter_mut().filter(|o| !o.cancelled && o.financial_status != "REFUNDED").take(100) {
            order.updated_at = now;
            order.financial_status = "REFUNDED";
        }
    });
    let started = Instant::now();
    let again = worker.tick().await.expect("tick");
    let incremental_seconds = started.elapsed().as_secs_f64();
    let incremental_updated = again.deliveries.iter().map(updated_of).sum();
    Outcome {
        import_seconds,
        runs: tick.deliveries.len(),
        points,
        throttled,
        peak_rss_mib,
        incremental_seconds,
        incremental_updated,
    }
}

/// Orders and products a store message's run updated, from its log line (`…: succeeded (… N updated …)`).
fn updated_of(reply: &Value) -> i64 {
    let line = reply["Logs"][0].as_str().unwrap_or_default();
    line.split([',', '(', ')'])
        .find_map(|part| part.trim().strip_suffix(" updated").and_then(|n| n.trim().parse().ok()))
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let latency = Duration::from_millis(setting("BENCH_LATENCY_MS", 50));
    let bulk_run_time = Duration::from_millis(setting("BENCH_BULK_RUN_MS", 5_000));
    let mut scenarios = vec![
        Scenario { products: 2_000, orders: 5_000, bulk: true },
        Scenario { products: 2_000, orders: 50_000, bulk: true },
    ];
    if setting("BENCH_PAGED", 0) == 1 {
        scenarios.push(Scenario { products: 2_000, orders: 5_000, bulk: false });
    }
    let mut rows = Vec::new();
    for scenario in &scenarios {
        eprintln!(
            "importing {} products and {} orders ({})",
            scenario.products,
            scenario.orders,
            if scenario.bulk { "bulk" } else { "paged" }
        );
        rows.push(run(scenario, latency, bulk_run_time).await);
    }

    println!();
    println!(
        "Shopify import at Standard limits (2,000-point bucket, 100 points/s), release `handler serve` on PostgreSQL, \
         {} ms platform latency, bulk operations taking {} ms",
        latency.as_millis(),
        bulk_run_time.as_millis()
    );
    println!(
        "| products | orders | import | seconds | runs | points requested | throttled | peak RSS | 100 changed orders: seconds | updated |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    for (scenario, row) in scenarios.iter().zip(rows) {
        println!(
            "| {} | {} | {} | {:.1} | {} | {} | {} | {:.1} MiB | {:.1} | {} |",
            scenario.products,
            scenario.orders,
            if scenario.bulk { "bulk" } else { "paged" },
            row.import_seconds,
            row.runs,
            row.points,
            row.throttled,
            row.peak_rss_mib,
            row.incremental_seconds,
            row.incremental_updated
        );
    }
}
