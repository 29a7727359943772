//! The Shopify connector against the GraphQL fake: pages and nested pages, incremental passes with the documented
//! search syntax, throttling from the platform's own signals (HTTP 200 and 429), retried 5xx, malformed answers that
//! fail the page without touching stored data, and expiring tokens.

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use shared::sync::Checkpoint;
use tests::{
    Backend,
    platform_fakes::{
        shopify::{FakeShop, FakeShopify, Fault, ShopifyConfig},
        shopify_catalogue, shopify_totals,
    },
};

use super::{
    CLIENT_ID, CLIENT_SECRET, app_for, call, checkpoint_of, connect_shopify, dollars, merchant, sync, title_of, totals,
};

const SHOP: &str = "acme.myshopify.com";

async fn fake_with(products: u64, orders: u64, config: ShopifyConfig) -> FakeShopify {
    let fake = FakeShopify::start(config).await;
    let (products, orders) = shopify_catalogue(products, 10, 45, orders, 7);
    fake.add_shop(SHOP, FakeShop { products, orders, access_token: "shpat_good".into(), ..FakeShop::default() });
    fake
}

#[tokio::test]
async fn a_shopify_store_syncs_products_with_nested_variant_pages_and_orders_with_their_lines() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let fake = fake_with(120, 300, ShopifyConfig::default()).await;
        let expected = fake.with_shop(SHOP, |shop| shopify_totals(&shop.products, &shop.orders));
        // Page by page, as incremental syncs read (a first import reads through bulk operations by default).
        let app = app_for(backend, Some(&fake), &[("SHOPIFY_BULK_IMPORT", "false")]).await;
        let m = merchant(&app, "Acme").await;
        let store = connect_shopify(&app, &m, SHOP, "shpat_good").await;

        let job = sync(&app, &m, store).await;

        assert_eq!(job["status"], "succeeded", "{backend:?}: {job}");
        assert_eq!(job["created"].as_i64(), Some(120 + 300), "{backend:?}");
        assert_eq!(
            totals(&app, &m, store).await,
            (
                expected.products,
                expected.variants,
                expected.inventory,
                expected.orders,
                dollars(expected.order_total_cents)
            ),
            "{backend:?}"
        );
        let requests = fake.requests();
        assert!(requests.iter().any(|r| r.operation == "ProductVariants"), "{backend:?}: nested variant pages");
        assert!(requests.iter().any(|r| r.operation == "OrderLineItems"), "{backend:?}: nested line pages");
        assert!(requests.iter().all(|r| r.query.is_none()), "{backend:?}: a first pass filters nothing");
        let wide = super::product_id_of(&app, m.organization, "gid://shopify/Product/1000").await.expect("stored");
        let detail = app.state.db.product(m.organization, wide).await.expect("query");
        assert_eq!(detail.expect("product").variants.len(), 45, "{backend:?}: every variant past the first page");
    }
}

#[tokio::test]
async fn a_second_pass_asks_only_for_what_changed_with_a_quoted_date() {
    let fake = fake_with(60, 20, ShopifyConfig::default()).await;
    let app = app_for(Backend::Postgres, Some(&fake), &[]).await;
    let m = merchant(&app, "Acme").await;
    let store = connect_shopify(&app, &m, SHOP, "shpat_good").await;
    assert_eq!(sync(&app, &m, store).await["status"], "succeeded");
    fake.clear_requests();
    fake.with_shop(SHOP, |shop| {
        for product in shop.products.iter_mut().filter(|p| (1000..1003).contains(&p.id)) {
            product.title = format!("{} (renamed)", product.title);
            product.updated_at = Utc::now();
        }
    });

    let job = sync(&app, &m, store).await;

    assert_eq!(job["status"], "succeeded");
    assert_eq!(job["updated"].as_i64(), Some(3), "{job}");
    let first = fake.requests().into_iter().find(|r| r.operation == "SyncProducts").expect("a products query");
    let query = first.query.expect("a filter");
    assert!(query.starts_with("updated_at:>'") && query.ends_with("Z'"), "{query}");
    assert_eq!(
        title_of(&app, m.organization, "gid://shopify/Product/1000").await.as_deref(),
        Some("Product 1000 (renamed)")
    );
}

#[tokio::test]
async fn throttling_is_obeyed_from_throttle_status_whether_it_comes_with_200_or_429() {
    // At the Standard plan's limits (2,000 points, 100 a second), and in a bucket smaller than the 1,000-point cap of
    // one query; every fourth query answered THROTTLED whatever the bucket holds.
    for bucket_size in [2_000.0, 400.0] {
        let config = ShopifyConfig {
            bucket_size,
            restore_rate: 100.0,
            force_throttle_every: Some(4),
            retry_after: 0.05,
            ..ShopifyConfig::default()
        };
        let fake = fake_with(50, 40, config).await;
        // Paged queries are what throttling limits (a bulk import spends a few points).
        let app = app_for(
            Backend::Sqlite,
            Some(&fake),
            &[("SHOPIFY_BULK_IMPORT", "false"), ("SYNC_REQUEST_BUDGET_SECS", "120")],
        )
        .await;
        let m = merchant(&app, "Acme").await;
        let store = connect_shopify(&app, &m, SHOP, "shpat_good").await;

        let job = sync(&app, &m, store).await;

        assert_eq!(job["status"], "succeeded", "{bucket_size}: {job}");
        let requests = fake.requests();
        let throttled_200 = requests.iter().filter(|r| r.throttled && r.status == 200).count();
        let throttled_429 = requests.iter().filter(|r| r.throttled && r.status == 429).count();
        // Only the very first query may ask too much: the bucket's size is learnt from its answer.
        // (The token check at connect time is another client: the sync's first query is the first it sends.)
        let sync_requests = || requests.iter().filter(|r| r.operation != "VerifyShop");
        let premature: Vec<_> = sync_requests().skip(1).filter(|r| r.premature).collect();
        assert!(throttled_200 > 0 && throttled_429 > 0, "{bucket_size}: both kinds: {throttled_200} / {throttled_429}");
        assert!(premature.is_empty(), "{bucket_size}: never more than the bucket held: {premature:?}");
        let largest = sync_requests().skip(1).filter_map(|r| r.requested).max();
        let cap = bucket_size.min(1_000.0) as u64;
        assert!(largest.is_some_and(|cost| cost <= cap), "{bucket_size}: every query sized to the bucket: {largest:?}");
    }
}

#[tokio::test]
async fn server_errors_are_retried_and_the_sync_completes() {
    let fake = fake_with(50, 40, ShopifyConfig { fail_every: Some(3), ..ShopifyConfig::default() }).await;
    let expected = fake.with_shop(SHOP, |shop| shopify_totals(&shop.products, &shop.orders));
    let app = app_for(Backend::Sqlite, Some(&fake), &[]).await;
    let m = merchant(&app, "Acme").await;
    let store = connect_shopify(&app, &m, SHOP, "shpat_good").await;

    let job = sync(&app, &m, store).await;

    assert_eq!(job["status"], "succeeded", "{job}");
    assert!(fake.requests().iter().any(|r| r.status == 503), "5xx were served");
    assert_eq!(totals(&app, &m, store).await.0, expected.products);
}

#[tokio::test]
async fn malformed_answers_fail_the_page_and_leave_stored_data_and_the_checkpoint_alone() {
    let cases = [
        (Fault::Truncated, "malformed", "truncated JSON"),
        (Fault::HtmlPage, "not JSON", "an HTML page with 200"),
        (Fault::MissingPageInfo, "pageInfo", "a missing field"),
        (Fault::WrongType, "malformed", "a number where a string belongs"),
        (Fault::BadPrice, "invalid", "a price that is not money"),
        (Fault::ServerError, "unavailable", "a 500 that outlasts the retries"),
    ];
    let fake = fake_with(30, 0, ShopifyConfig::default()).await;
    let app = app_for(Backend::Postgres, Some(&fake), &[("PLATFORM_MAX_RETRIES", "0")]).await;
    let m = merchant(&app, "Acme").await;
    let store = connect_shopify(&app, &m, SHOP, "shpat_good").await;
    assert_eq!(sync(&app, &m, store).await["status"], "succeeded");
    for (round, (fault, message, why)) in cases.into_iter().enumerate() {
        fake.with_shop(SHOP, |shop| {
            let product = shop.products.iter_mut().find(|p| p.id == 1000).expect("product 1000");
            product.title = format!("Renamed {round}");
            product.updated_at = Utc::now() + TimeDelta::seconds(round as i64);
        });
        let before = checkpoint_of(&app, store).await;
        fake.push_fault("SyncProducts", fault);

        let failed = sync(&app, &m, store).await;

        assert_eq!(failed["status"], "failed", "{why}: {failed}");
        let error = failed["error"].as_str().unwrap_or_default();
        assert!(error.to_lowercase().contains(&message.to_lowercase()), "{why}: {error}");
        assert_ne!(
            title_of(&app, m.organization, "gid://shopify/Product/1000").await.as_deref(),
            Some(format!("Renamed {round}").as_str()),
            "{why}"
        );
        let (before, after) = (Checkpoint::parse(&before), Checkpoint::parse(&checkpoint_of(&app, store).await));
        assert_eq!(after.products.watermark, before.products.watermark, "{why}: the watermark did not move");
        assert_eq!(after.products.pass.map_or(0, |p| p.pages), 0, "{why}: no page was recorded");

        let healed = sync(&app, &m, store).await;
        assert_eq!(healed["status"], "succeeded", "{why}: {healed}");
        assert_eq!(
            title_of(&app, m.organization, "gid://shopify/Product/1000").await,
            Some(format!("Renamed {round}")),
            "{why}"
        );
    }
    let jobs: Value =
        call(&app, &m, reqwest::Method::GET, &format!("/api/v1/stores/{store}/sync-jobs?limit=100"), None)
            .await
            .json()
            .await
            .expect("JSON");
    let failed = jobs["items"].as_array().expect("items").iter().filter(|j| j["status"] == "failed").count();
    assert_eq!(failed, 6, "each failure is on record");
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_before_use_and_the_new_pair_is_stored() {
    let fake = fake_with(5, 0, ShopifyConfig::default()).await;
    fake.set_client(CLIENT_ID, CLIENT_SECRET);
    fake.with_shop(SHOP, |shop| {
        shop.access_token = "shpat_expiring".into();
        shop.refresh_token = Some("shprt_first".into());
    });
    let app = app_for(Backend::Sqlite, Some(&fake), &[]).await;
    let m = merchant(&app, "Acme").await;
    let body = json!({ "platform": "shopify", "shop_domain": SHOP, "access_token": "shpat_expiring",
                       "refresh_token": "shprt_first", "expires_in": 120 });
    let created: Value =
        call(&app, &m, reqwest::Method::POST, "/api/v1/stores", Some(body)).await.json().await.expect("JSON");
    let store: uuid::Uuid = created["id"].as_str().and_then(|id| id.parse().ok()).expect("id");

    let first = sync(&app, &m, store).await;
    let second = sync(&app, &m, store).await;

    assert_eq!(first["status"], "succeeded", "{first}");
    assert_eq!(second["status"], "succeeded", "{second}");
    assert_eq!(fake.with_shop(SHOP, |shop| shop.refreshes), 1, "refreshed once: the new token lasts an hour");
    let stored = std::fs::read_to_string(std::path::Path::new(&app.env["SECRETS_DIR"]).join(format!("store-{store}")))
        .expect("credentials");
    assert!(stored.contains("shpat_refreshed_1") && stored.contains("shprt_refreshed_1"), "the new pair, together");
    assert!(!stored.contains("shprt_first"));
}

#[tokio::test]
async fn a_token_refused_during_a_sync_fails_the_job_and_disables_the_store_with_the_reason() {
    let fake = fake_with(5, 0, ShopifyConfig::default()).await;
    let app = app_for(Backend::Sqlite, Some(&fake), &[]).await;
    let m = merchant(&app, "Acme").await;
    let store = connect_shopify(&app, &m, SHOP, "shpat_good").await;
    fake.with_shop(SHOP, |shop| shop.access_token = "shpat_rotated".into());

    let job = sync(&app, &m, store).await;
    let shown = super::store(&app, &m, store).await;
    let again = call(&app, &m, reqwest::Method::POST, &format!("/api/v1/stores/{store}/sync"), None).await;

    assert_eq!(job["status"], "failed");
    assert!(job["error"].as_str().unwrap_or_default().contains("refused the credentials"), "{job}");
    assert_eq!(shown["status"], "disabled", "a refused token is not retried forever: {shown}");
    let reason = shown["disabled_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("refused the credentials") && reason.contains("reconnect"), "{reason}");
    assert_eq!(shown["sync"]["consecutive_failures"], 1);
    assert_eq!(again.status(), 404, "a disabled store is not synced");
}

#[tokio::test]
async fn a_tick_runs_each_due_store_once_even_when_it_is_due_again_at_once() {
    let fake = fake_with(10, 5, ShopifyConfig::default()).await;
    let app =
        app_for(Backend::Sqlite, Some(&fake), &[("SYNC_MIN_INTERVAL_SECS", "0"), ("SYNC_TIME_BUDGET_SECS", "3")]).await;
    let m = merchant(&app, "Acme").await;
    let store = connect_shopify(&app, &m, SHOP, "shpat_good").await;

    let reply = tests::worker::sync_tick(&app.client, &app.address).await.expect("a scheduled sync");

    let jobs: Value = call(&app, &m, reqwest::Method::GET, &format!("/api/v1/stores/{store}/sync-jobs"), None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(jobs["items"].as_array().expect("items").len(), 1, "{reply:?}");
    assert_eq!(reply.deliveries.len(), 1, "one message, no continuation: {reply:?}");
    assert_eq!(jobs["items"][0]["trigger"], "timer");
    assert_eq!(jobs["items"][0]["status"], "succeeded", "{jobs}");
}

#[tokio::test]
async fn the_fake_charges_the_requested_cost_up_front_and_refunds_down_to_the_actual_one() {
    // As the documentation describes it: the bucket must hold the requested cost before a query runs, and is refunded
    // the difference once the actual cost (what came back) is known.
    let fake =
        fake_with(3, 0, ShopifyConfig { bucket_size: 2_000.0, restore_rate: 0.001, ..ShopifyConfig::default() }).await;
    let url = fake.admin_url_template().replace("{shop}", SHOP).replace("{version}", "2026-10");
    let query = "query SyncProducts($first: Int!, $after: String, $query: String, $variantsFirst: Int!) { \
                 products(first: $first, after: $after, query: $query) { pageInfo { hasNextPage endCursor } \
                 nodes { id variants(first: $variantsFirst) { nodes { id } } } } }";
    let ask = || {
        reqwest::Client::new()
            .post(&url)
            .header("X-Shopify-Access-Token", "shpat_good")
            .json(&json!({ "query": query, "variables": { "first": 50, "variantsFirst": 9 } }))
            .send()
    };

    let answer: Value = ask().await.expect("answer").json().await.expect("JSON");

    let cost = &answer["extensions"]["cost"];
    assert_eq!(cost["requestedQueryCost"], 2 + 50 * (1 + 2 + 9), "{answer}");
    let actual = cost["actualQueryCost"].as_u64().expect("actual cost");
    assert!(actual < 100, "three products came back, not fifty: {actual}");
    let available = cost["throttleStatus"]["currentlyAvailable"].as_f64().expect("available");
    assert_eq!(available, 2_000.0 - actual as f64, "only the actual cost is kept");
    // The same query again is charged the same way.
    let again: Value = ask().await.expect("answer").json().await.expect("JSON");
    assert_eq!(
        again["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"].as_f64(),
        Some(2_000.0 - 2.0 * actual as f64)
    );
}
