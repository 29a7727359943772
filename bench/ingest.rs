//! Store-sync ingest benchmark: how fast the real `handler` (release build) brings a Shopify store in from the
//! GraphQL protocol fake, with throttling off (an unlimited restore rate; the 1,000-point single-query cap still
//! sizes the pages), into PostgreSQL and into SQLite, and how much memory it needs to do it.
//!
//! Each scenario runs in a fresh `handler serve` process driven through the Functions protocol (a `SyncStores` timer
//! invocation), on a fresh database:
//! - **products**: a shop of `BENCH_PRODUCTS` products (1-4 variants each, 20 variants per page nested as needed);
//! - **orders**: a shop whose products are synced first, then `BENCH_ORDERS` orders of 1-4 lines (one tick each,
//!   the second timed alone).
//!
//! Rates are records per second of wall time of the timed tick; peak RSS is the worker's `VmHWM` at the end.
//!
//! The last rows separate the two halves in this process: the sync's database write alone (`store_products`,
//! deferred commits, at the sync's page size and at the largest group the writer makes), and the Shopify connector
//! alone (fetching and parsing every page from the fake, writing nothing).
//!
//! Run with `bench/ingest.sh` (builds the release `handler` first). PostgreSQL from `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`).

use std::{collections::HashMap, time::Instant};

use serde_json::{Value, json};
use shared::{
    catalogue::{ProductInput, ProductStatus, VariantInput},
    db::sync::Durability,
    platforms::{Credentials, PlatformProduct, Platforms, address::ShopDomain, shopify::ShopifyConnector},
};
use tests::{
    platform_fakes::{
        shopify::{FakeShop, FakeShopify, ShopifyConfig},
        shopify_catalogue,
    },
    worker::{self, Worker},
};
use uuid::Uuid;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Row {
    backend: &'static str,
    scenario: &'static str,
    records: u64,
    seconds: f64,
    peak_rss_mb: Option<f64>,
}

async fn connect(worker: &Worker, token: &str, shop: &str) -> (Uuid, Uuid) {
    let organization = worker.create_organization(token, "Bench", "UTC").await;
    let store: Value = worker
        .client
        .post(format!("{}/api/v1/stores", worker.base))
        .bearer_auth(token)
        .header("x-organization-id", organization.to_string())
        .json(&json!({ "platform": "shopify", "shop_domain": shop, "access_token": "shpat_bench" }))
        .send()
        .await
        .expect("connect")
        .json()
        .await
        .expect("JSON");
    (organization, store["id"].as_str().and_then(|id| id.parse().ok()).expect("store id"))
}

/// Ticks until a new run of the store succeeded; returns the wall time.
async fn sync_fully(worker: &Worker, token: &str, organization: Uuid, store: Uuid) -> f64 {
    let started = Instant::now();
    let mut seen = None;
    loop {
        worker.tick().await.expect("tick");
        let shown: Value = worker
            .client
            .get(format!("{}/api/v1/stores/{store}", worker.base))
            .bearer_auth(token)
            .header("x-organization-id", organization.to_string())
            .send()
            .await
            .expect("store")
            .json()
            .await
            .expect("JSON");
        let job = shown["sync"]["last_job"]["id"].as_str().map(str::to_owned);
        assert_ne!(job, seen, "each tick runs the store");
        seen = job;
        match shown["sync"]["last_job"]["status"].as_str() {
            Some("succeeded") => return started.elapsed().as_secs_f64(),
            Some("partial") => continue,
            other => panic!("sync did not succeed: {other:?} {shown}"),
        }
    }
}

fn env_for(database_url: String, fake: &FakeShopify, secrets: &std::path::Path) -> HashMap<String, String> {
    let mut env = tests::app_env(database_url);
    env.insert("SHOPIFY_ADMIN_URL_TEMPLATE".into(), fake.admin_url_template());
    env.insert("SECRETS_DIR".into(), secrets.display().to_string());
    env.insert("SYNC_TIME_BUDGET_SECS".into(), "600".into());
    // Due again at once, so the orders scenario's second tick runs.
    env.insert("SYNC_MIN_INTERVAL_SECS".into(), "0".into());
    env.insert("LOG_FORMAT".into(), "json".into());
    env.insert("RUST_LOG".into(), "warn".into());
    env
}

async fn database_url(backend: &str, dir: &std::path::Path) -> String {
    match backend {
        "postgres" => tests::fresh_postgres_database().await,
        _ => format!("sqlite://{}", dir.join("bench.db").display()),
    }
}

async fn products_scenario(backend: &'static str, products: u64) -> Row {
    let fake = FakeShopify::start(ShopifyConfig { restore_rate: 1e12, ..ShopifyConfig::default() }).await;
    let (catalogue, _) = shopify_catalogue(products, 0, 0, 0, 1);
    let records = catalogue.len() as u64;
    fake.add_shop(
        "bench.myshopify.com",
        FakeShop { products: catalogue, access_token: "shpat_bench".into(), ..FakeShop::default() },
    );
    let dir = tempfile::tempdir().expect("temporary folder");
    let env = env_for(database_url(backend, dir.path()).await, &fake, &dir.path().join("secrets"));
    let worker = Worker::start(&env).await;
    let token = worker::token_for(&env);
    let (organization, store) = connect(&worker, &token, "bench.myshopify.com").await;
    let seconds = sync_fully(&worker, &token, organization, store).await;
    let peak_rss_mb = worker.peak_rss_kb().map(|kb| kb as f64 / 1024.0);
    worker.kill().await;
    Row { backend, scenario: "products", records, seconds, peak_rss_mb }
}

async fn orders_scenario(backend: &'static str, orders: u64) -> Row {
    let fake = FakeShopify::start(ShopifyConfig { restore_rate: 1e12, ..ShopifyConfig::default() }).await;
    let (catalogue, order_list) = shopify_catalogue(500, 0, 0, orders, 2);
    let records = order_list.len() as u64;
    fake.add_shop(
        "bench.myshopify.com",
        FakeShop { products: catalogue, access_token: "shpat_bench".into(), ..FakeShop::default() },
    );
    let dir = tempfile::tempdir().expect("temporary folder");
    let env = env_for(database_url(backend, dir.path()).await, &fake, &dir.path().join("secrets"));
    let worker = Worker::start(&env).await;
    let token = worker::token_for(&env);
    let (organization, store) = connect(&worker, &token, "bench.myshopify.com").await;
    sync_fully(&worker, &token, organization, store).await;
    // The orders arrive after the catalogue, as they would; the next tick reads only them.
    fake.with_shop("bench.myshopify.com", |shop| shop.orders = order_list);
    let seconds = sync_fully(&worker, &token, organization, store).await;
    let peak_rss_mb = worker.peak_rss_kb().map(|kb| kb as f64 / 1024.0);
    worker.kill().await;
    Row { backend, scenario: "orders", records, seconds, peak_rss_mb }
}

/// The sync's database write alone (`store_products`: versions, then the set-based upsert, commits deferred as the
/// sync's are), in this process, for new products in batches of `batch`.
async fn database_only(backend: &'static str, products: u64, batch: usize, scenario: &'static str) -> Row {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = database_url(backend, dir.path()).await;
    let settings =
        shared::config::Settings::load(&|name: &str| (name == "DATABASE_URL").then(|| url.clone())).expect("settings");
    let db = shared::db::Database::connect_lazy(&settings.database).expect("pool");
    db.migrate().await.expect("migrate");
    let organization = db
        .create_organization(
            Uuid::new_v4(),
            &shared::db::tenants::NewOrganization {
                name: shared::domain::OrganizationName::parse("Bench").expect("name"),
                timezone: shared::domain::TimeZoneName::parse("UTC").expect("zone"),
                currency: shared::domain::CurrencyCode::parse("USD").expect("currency"),
            },
        )
        .await
        .expect("organization")
        .id;
    let store = db.create_store(organization, "shopify", "Bench").await.expect("store");
    let all: Vec<PlatformProduct> = (0..products)
        .map(|i| PlatformProduct {
            input: ProductInput {
                external_id: format!("gid://shopify/Product/{i}"),
                title: format!("Product {i}"),
                description: "A fine product".into(),
                vendor: "Acme".into(),
                category: "Tops".into(),
                status: ProductStatus::Active,
                variants: (0..1 + i % 4)
                    .map(|v| VariantInput {
                        external_id: format!("gid://shopify/ProductVariant/{i}-{v}"),
                        sku: format!("SKU-{i}-{v}"),
                        title: format!("Option {v}"),
                        price_minor: 1000 + v as i64,
                        cost_minor: None,
                        inventory: 5,
                    })
                    .collect(),
            },
            updated_at: chrono::Utc::now(),
        })
        .collect();
    let started = Instant::now();
    for chunk in all.chunks(batch) {
        db.store_products(organization, store, chunk.to_vec(), Durability::Deferred).await.expect("store");
    }
    let seconds = started.elapsed().as_secs_f64();
    Row { backend, scenario, records: products, seconds, peak_rss_mb: None }
}

/// The Shopify connector alone (requests, throttle bookkeeping, JSON to inputs), against the fake in this process.
async fn connector_only(products: u64) -> Row {
    let fake = FakeShopify::start(ShopifyConfig { restore_rate: 1e12, ..ShopifyConfig::default() }).await;
    let (catalogue, _) = shopify_catalogue(products, 0, 0, 0, 1);
    fake.add_shop(
        "bench.myshopify.com",
        FakeShop { products: catalogue, access_token: "shpat_bench".into(), ..FakeShop::default() },
    );
    let template = fake.admin_url_template();
    let settings = shared::config::Settings::load(&|name: &str| match name {
        "DATABASE_URL" => Some("sqlite://unused.db".to_owned()),
        "SHOPIFY_ADMIN_URL_TEMPLATE" => Some(template.clone()),
        _ => None,
    })
    .expect("settings");
    let platforms = Platforms::new(settings.shopify, settings.sync).expect("clients");
    let shop = ShopDomain::parse("bench.myshopify.com").expect("shop");
    let credentials = Credentials::Shopify {
        access_token: secrecy::SecretString::from("shpat_bench"),
        refresh_token: None,
        expires_at: None,
    };
    let mut connector = ShopifyConnector::new(&platforms, &shop, &credentials, 2).expect("connector");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(600);
    let started = Instant::now();
    let (mut after, mut records) = (None, 0u64);
    loop {
        let page = connector.products_page(None, false, after.as_deref(), deadline).await.expect("page");
        records += page.items.len() as u64;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Row {
        backend: "-",
        scenario: "Shopify connector only (fetch and parse, no writes)",
        records,
        seconds,
        peak_rss_mb: None,
    }
}

#[tokio::main]
async fn main() {
    let products = setting("BENCH_PRODUCTS", 20_000);
    let orders = setting("BENCH_ORDERS", 20_000);
    let mut rows = Vec::new();
    for backend in ["postgres", "sqlite"] {
        rows.push(products_scenario(backend, products).await);
        rows.push(orders_scenario(backend, orders).await);
        rows.push(database_only(backend, products, 43, "store_products only, pages of 43 (deferred commits)").await);
        rows.push(
            database_only(backend, products, 1000, "store_products only, batches of 1,000 (deferred commits)").await,
        );
    }
    rows.push(connector_only(products).await);
    println!();
    println!("| backend | scenario | records | seconds | records/s | peak RSS (MiB) |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for row in rows {
        println!(
            "| {} | {} | {} | {:.2} | {:.0} | {} |",
            row.backend,
            row.scenario,
            row.records,
            row.seconds,
            row.records as f64 / row.seconds,
            row.peak_rss_mb.map_or("-".to_owned(), |mb| format!("{mb:.1}")),
        );
    }
}
