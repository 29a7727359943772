//! The sync engine under real processes on one PostgreSQL database, driven through the Functions protocol exactly as
//! the host drives it: a worker killed with SIGKILL mid-sync and another resuming from the checkpoint, two workers
//! ticking at once, and a full-size store (5,000 products, 20,000 orders) synced tick after tick under throttling.

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use shared::sync::Checkpoint;
use sqlx::PgPool;
use tests::{
    platform_fakes::{
        shopify::{FakeShop, FakeShopify, RequestRecord, ShopifyConfig},
        shopify_catalogue, shopify_revenue_cents, shopify_totals,
    },
    worker::Worker,
};
use uuid::Uuid;

use super::{dollars, platform_env};

/// A database, its settings for workers, and an admin token valid for those workers.
struct Deployment {
    env: HashMap<String, String>,
    pool: PgPool,
    token: String,
    _secrets: tempfile::TempDir,
}

async fn deployment(fake: &FakeShopify, extra: &[(&str, &str)]) -> Deployment {
    let url = tests::fresh_postgres_database().await;
    let secrets = tempfile::tempdir().expect("temporary folder");
    let mut env = tests::app_env(url.clone());
    env.extend(platform_env(Some(fake)));
    env.insert("SECRETS_DIR".into(), secrets.path().display().to_string());
    env.insert("SYNC_MIN_INTERVAL_SECS".into(), "3600".into());
    for (name, value) in extra {
        env.insert((*name).to_owned(), (*value).to_owned());
    }
    let pool = PgPool::connect(&url).await.expect("connect to the test database");
    let secret = secrecy::SecretString::from(env["SUPABASE_JWT_SECRET"].clone());
    let token = shared::auth::mint_token(&secret, tests::TEST_ISSUER, Uuid::new_v4(), None, Duration::from_secs(900))
        .expect("token");
    Deployment { env, pool, token, _secrets: secrets }
}

/// The API as forwarded by the host: creates an organization and connects each shop.
async fn connect_shops(worker: &Worker, token: &str, shops: &[&str]) -> (Uuid, Vec<Uuid>) {
    let organization: Value = worker
        .client
        .post(format!("{}/api/v1/organizations", worker.base))
        .bearer_auth(token)
        .json(&json!({ "name": "Acme", "timezone": "UTC" }))
        .send()
        .await
        .expect("create organization")
        .json()
        .await
        .expect("JSON");
    let organization: Uuid = organization["id"].as_str().and_then(|id| id.parse().ok()).expect("organization id");
    let mut stores = Vec::new();
    for shop in shops {
        let response = api(worker, token, organization, Method::POST, "/api/v1/stores")
            .json(&json!({ "platform": "shopify", "shop_domain": shop, "access_token": format!("shpat_{shop}") }))
            .send()
            .await
            .expect("connect");
        assert_eq!(response.status(), 201, "connect {shop}");
        let store: Value = response.json().await.expect("JSON");
        stores.push(store["id"].as_str().and_then(|id| id.parse().ok()).expect("store id"));
    }
    (organization, stores)
}

fn api(worker: &Worker, token: &str, organization: Uuid, method: Method, path: &str) -> reqwest::RequestBuilder {
    worker
        .client
        .request(method, format!("{}{path}", worker.base))
        .bearer_auth(token)
        .header("x-organization-id", organization.to_string())
}

async fn get_json(worker: &Worker, token: &str, organization: Uuid, path: &str) -> Value {
    let response = api(worker, token, organization, Method::GET, path).send().await.expect("answer");
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("JSON")
}

async fn checkpoint(pool: &PgPool, store: Uuid) -> Checkpoint {
    let text: String = sqlx::query_scalar("SELECT checkpoint FROM store_connections WHERE store_id = $1")
        .bind(store)
        .fetch_one(pool)
        .await
        .expect("checkpoint");
    Checkpoint::parse(&text)
}

async fn jobs(pool: &PgPool, store: Uuid) -> Vec<(String, Uuid)> {
    sqlx::query_as("SELECT status, owner FROM sync_jobs WHERE store_id = $1 ORDER BY started_at")
        .bind(store)
        .fetch_all(pool)
        .await
        .expect("jobs")
}

#[tokio::test]
async fn a_sync_killed_mid_run_resumes_from_its_last_checkpoint_without_duplicates_or_gaps() {
    let fake =
        FakeShopify::start(ShopifyConfig { latency: Duration::from_millis(40), ..ShopifyConfig::default() }).await;
    let shop = "acme.myshopify.com";
    let (products, orders) = shopify_catalogue(3_000, 50, 30, 300, 5);
    let expected = shopify_totals(&products, &orders);
    let revenue = shopify_revenue_cents(&orders);
    fake.add_shop(shop, FakeShop { products, orders, access_token: format!("shpat_{shop}"), ..FakeShop::default() });
    let d = deployment(&fake, &[("SYNC_LEASE_SECS", "2"), ("SYNC_TIME_BUDGET_SECS", "120")]).await;
    let first = Worker::start(&d.env).await;
    let (organization, stores) = connect_shops(&first, &d.token, &[shop]).await;
    let store = stores[0];

    // Arrange: the store's queued run in flight (a first import: a bulk operation per listing), killed once some of
    // the products result is written.
    let (_, queued) = tests::worker::sync_timer(&first.client, &first.base).await.expect("the timer");
    assert_eq!(queued.len(), 1, "the new store is queued");
    let in_flight = tokio::spawn({
        let (client, base) = (first.client.clone(), first.base.clone());
        let body = serde_json::json!({ "Data": { "message": queued[0].to_string() }, "Metadata": {} });
        async move {
            client.post(format!("{base}/SyncStore")).header("content-type", "application/json").json(&body).send().await
        }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let at_kill = loop {
        let saved = checkpoint(&d.pool, store).await;
        let after = saved.products.pass.as_ref().and_then(|p| p.after.clone()).unwrap_or_default();
        if after.starts_with("bulk:") && !after.ends_with(":0") {
            break saved;
        }
        assert!(tokio::time::Instant::now() < deadline, "the sync never got going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    first.kill().await;
    assert!(in_flight.await.expect("task").is_err(), "the invocation died with its process");
    // Let the server finish whatever the dead process had already sent, and the dead one's lease run out.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let saved = checkpoint(&d.pool, store).await;
    let stored_at_kill: i64 = sqlx::query_scalar("SELECT count(*) FROM products WHERE store_id = $1")
        .bind(store)
        .fetch_one(&d.pool)
        .await
        .expect("count");
    let resume_from = saved.products.pass.as_ref().and_then(|p| p.after.clone()).expect("a cursor to resume from");
    assert!(saved.products.pass.as_ref().map_or(0, |p| p.pages) >= at_kill.products.pass.map_or(0, |p| p.pages));
    assert!(stored_at_kill > 0 && stored_at_kill < expected.products, "killed mid-sync ({stored_at_kill} stored)");

    // Act: another instance ticks.
    let seen_before = fake.requests().len();
    let second = Worker::start_without_migrating(&d.env).await;
    let reply = second.tick().await.expect("tick");

    // Assert: it resumed at the checkpoint, finished, and the data is exactly the fake's.
    let after_kill: Vec<_> = fake.requests().into_iter().skip(seen_before).collect();
    assert!(resume_from.starts_with("bulk:gid://shopify/BulkOperation/"), "{resume_from}");
    let bulk_products = |r: &&RequestRecord| {
        r.operation == "BulkOperationRunQuery" && r.query.as_deref().is_some_and(|q| q.contains("products"))
    };
    assert!(!after_kill.iter().any(|r| bulk_products(&r)), "the products operation was resumed, not run again");
    assert!(!after_kill.iter().any(|r| r.operation == "SyncProducts"), "nor read page by page");
    let operations = fake.with_shop(shop, |s| s.bulk_operations.iter().map(|op| op.downloads).collect::<Vec<_>>());
    assert_eq!(operations, [2, 1], "the products result read again from where it was cut, the orders' once");
    let statuses: Vec<String> = jobs(&d.pool, store).await.into_iter().map(|(status, _)| status).collect();
    assert_eq!(statuses, ["interrupted", "succeeded"], "{reply:?}");
    let shown = get_json(&second, &d.token, organization, &format!("/api/v1/stores/{store}")).await;
    let totals = &shown["totals"];
    assert_eq!(totals["products"], expected.products);
    assert_eq!(totals["variants"], expected.variants);
    assert_eq!(totals["inventory"], expected.inventory);
    assert_eq!(totals["orders"], expected.orders);
    assert_eq!(totals["order_total"], dollars(expected.order_total_cents).as_str());
    let today = Utc::now().date_naive();
    let series = get_json(
        &second,
        &d.token,
        organization,
        &format!(
            "/api/v1/analytics/timeseries?metric=revenue&bucket=month&from={}&to={today}",
            today - chrono::Days::new(70)
        ),
    )
    .await;
    assert_eq!(series["total"], dollars(revenue).as_str(), "no order counted twice in the rollups");
}

#[tokio::test]
async fn two_instances_ticking_and_taking_the_same_messages_at_once_never_sync_the_same_store() {
    let fake =
        FakeShopify::start(ShopifyConfig { latency: Duration::from_millis(15), ..ShopifyConfig::default() }).await;
    let shops: Vec<String> = (0..6).map(|i| format!("shop-{i}.myshopify.com")).collect();
    let mut expected = HashMap::new();
    for (i, shop) in shops.iter().enumerate() {
        let (products, orders) = shopify_catalogue(90, 0, 0, 40, i as u64);
        expected.insert(shop.clone(), shopify_totals(&products, &orders));
        fake.add_shop(
            shop,
            FakeShop { products, orders, access_token: format!("shpat_{shop}"), ..FakeShop::default() },
        );
    }
    let d = deployment(&fake, &[]).await;
    let a = Worker::start(&d.env).await;
    let b = Worker::start_without_migrating(&d.env).await;
    let names: Vec<&str> = shops.iter().map(String::as_str).collect();
    let (organization, stores) = connect_shops(&a, &d.token, &names).await;

    // Two timers at once queue each due store once between them.
    let (tick_a, tick_b) =
        tokio::join!(tests::worker::sync_timer(&a.client, &a.base), tests::worker::sync_timer(&b.client, &b.base));
    let mut queued = tick_a.expect("timer a").1;
    queued.extend(tick_b.expect("timer b").1);
    let mut queued_stores: Vec<String> =
        queued.iter().map(|m| m["store"].as_str().expect("store").to_owned()).collect();
    queued_stores.sort();
    let mut expected_stores: Vec<String> = stores.iter().map(ToString::to_string).collect();
    expected_stores.sort();
    assert_eq!(queued_stores, expected_stores, "each store queued once");

    // Every message delivered to both instances at once (an at-least-once queue may do that): the lease lets one
    // run each store and the other find it busy or already synced.
    let deliveries = queued.iter().flat_map(|message| {
        [&a, &b].map(|worker| tests::worker::deliver_store_message(&worker.client, &worker.base, message))
    });
    let replies = futures::future::join_all(deliveries).await;
    let lines: Vec<String> = replies
        .into_iter()
        .map(|reply| reply.expect("delivery")["Logs"][0].as_str().expect("line").to_owned())
        .collect();
    let synced = lines.iter().filter(|line| line.contains(": succeeded (")).count();
    assert_eq!(synced, 6, "each store synced once: {lines:#?}");
    assert!(
        lines
            .iter()
            .filter(|line| !line.contains(": succeeded ("))
            .all(|line| { line.ends_with("another worker is syncing it") || line.ends_with("not due (synced since)") }),
        "{lines:#?}"
    );
    for (shop, store) in names.iter().zip(&stores) {
        let runs = jobs(&d.pool, *store).await;
        assert_eq!(runs.len(), 1, "{shop}: one run");
        assert_eq!(runs[0].0, "succeeded", "{shop}");
        let started =
            fake.requests().iter().filter(|r| r.shop == *shop && r.operation == "BulkOperationRunQuery").count();
        assert_eq!(started, 2, "{shop}: one instance started its two bulk imports (products, orders)");
        let shown = get_json(&a, &d.token, organization, &format!("/api/v1/stores/{store}")).await;
        assert_eq!(shown["totals"]["products"], expected[*shop].products, "{shop}");
        assert_eq!(shown["totals"]["orders"], expected[*shop].orders, "{shop}");
    }
}

#[tokio::test]
async fn five_thousand_products_and_twenty_thousand_orders_sync_through_queued_runs_under_throttling() {
    // At the Standard plan's limits, every third query answered THROTTLED and every fifth request a 503: a first
    // import reads through bulk operations, whose few queries all meet the faults.
    let config = ShopifyConfig {
        bucket_size: 2_000.0,
        restore_rate: 100.0,
        force_throttle_every: Some(3),
        retry_after: 0.05,
        fail_every: Some(5),
        ..ShopifyConfig::default()
    };
    let fake = FakeShopify::start(config).await;
    let shop = "big-store.myshopify.com";
    let (products, orders) = shopify_catalogue(5_000, 250, 120, 20_000, 42);
    let expected = shopify_totals(&products, &orders);
    let revenue = shopify_revenue_cents(&orders);
    let wide = products.iter().filter(|p| p.variants.len() > 100).count();
    assert_eq!(wide, 20, "some products have more than 100 variants");
    fake.add_shop(shop, FakeShop { products, orders, access_token: format!("shpat_{shop}"), ..FakeShop::default() });
    let d = deployment(&fake, &[("SYNC_TIME_BUDGET_SECS", "15"), ("SYNC_LEASE_SECS", "60")]).await;
    let worker = Worker::start(&d.env).await;
    let (organization, stores) = connect_shops(&worker, &d.token, &[shop]).await;
    let store = stores[0];

    // One scheduled sync: its message runs out of time, is queued again, and goes on until the store is in.
    let tick = worker.tick().await.expect("tick");
    let statuses: Vec<String> = jobs(&d.pool, store).await.into_iter().map(|(status, _)| status).collect();
    let (last, earlier) = statuses.split_last().expect("runs");
    assert_eq!(last, "succeeded", "{tick:?}");
    assert!(earlier.iter().all(|status| status == "partial"), "{statuses:?}");
    assert_eq!(tick.deliveries.len(), statuses.len(), "one delivery per run: {tick:?}");

    let shown = get_json(&worker, &d.token, organization, &format!("/api/v1/stores/{store}")).await;
    let totals = &shown["totals"];
    assert_eq!(totals["products"], expected.products);
    assert_eq!(totals["variants"], expected.variants);
    assert_eq!(totals["inventory"], expected.inventory);
    assert_eq!(totals["orders"], expected.orders);
    assert_eq!(totals["order_total"], dollars(expected.order_total_cents).as_str());
    let mut listed = 0;
    let mut inventory = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/products?limit=200&cursor={c}"),
            None => "/api/v1/products?limit=200".to_owned(),
        };
        let page = get_json(&worker, &d.token, organization, &path).await;
        for item in page["items"].as_array().expect("items") {
            listed += 1;
            inventory += item["inventory"].as_i64().expect("inventory");
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!((listed, inventory), (expected.products, expected.inventory), "the products API shows the same");
    let today = Utc::now().date_naive();
    let series = get_json(
        &worker,
        &d.token,
        organization,
        &format!(
            "/api/v1/analytics/timeseries?metric=revenue&bucket=month&from={}&to={today}",
            today - chrono::Days::new(70)
        ),
    )
    .await;
    assert_eq!(series["total"], dollars(revenue).as_str(), "revenue matches the fake's line totals");
    let requests = fake.requests();
    assert!(requests.iter().any(|r| r.throttled && r.status == 200), "THROTTLED with HTTP 200 exercised");
    assert!(requests.iter().any(|r| r.throttled && r.status == 429), "THROTTLED with HTTP 429 exercised");
    assert!(requests.iter().any(|r| r.status == 503), "5xx exercised");
    assert!(!requests.iter().any(|r| r.premature), "the client always waited for the bucket");
    assert!(statuses.len() > 1, "the work spanned several runs, resumed from checkpoints: {statuses:?}");
}
