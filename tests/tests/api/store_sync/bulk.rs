//! A Shopify first import through bulk operations, against the fake at the Standard plan's limits (a 2,000-point
//! bucket restoring 100 points a second): the whole shop exactly, for a few points; an operation still running when
//! the run's time is up picked up again by the next run; a failed operation started again; the incremental sync
//! after it paging only what changed, in pages fitted to the shop's orders; and a listing left for over a week read
//! again through a bulk operation of what changed.

use chrono::{TimeDelta, Utc};
use reqwest::Method;
use serde_json::Value;
use shared::sync::Checkpoint;
use tests::{
    Backend, TestApp,
    platform_fakes::{
        Totals,
        shopify::{FakeShop, FakeShopify, ShopifyConfig},
        shopify_catalogue, shopify_revenue_cents, shopify_totals,
    },
};

use super::{Merchant, app_for, call, checkpoint_of, connect_shopify, dollars, merchant, sync, totals};

const SHOP: &str = "bulk.myshopify.com";

/// The Standard plan's limits, as Shopify documents them for the GraphQL Admin API.
fn standard_plan() -> ShopifyConfig {
    ShopifyConfig { bucket_size: 2_000.0, restore_rate: 100.0, ..ShopifyConfig::default() }
}

async fn shop_with(products: u64, orders: u64, config: ShopifyConfig) -> FakeShopify {
    let fake = FakeShopify::start(config).await;
    let (products, orders) = shopify_catalogue(products, 40, 30, orders, 11);
    fake.add_shop(SHOP, FakeShop { products, orders, access_token: "shpat_bulk".into(), ..FakeShop::default() });
    fake
}

/// The store totals `GET /api/v1/stores/{id}` should show for a catalogue.
fn totals_of(expected: &Totals) -> (i64, i64, i64, i64, String) {
    (expected.products, expected.variants, expected.inventory, expected.orders, dollars(expected.order_total_cents))
}

async fn revenue_shown(app: &TestApp, m: &Merchant) -> Value {
    let today = Utc::now().date_naive();
    let path = format!(
        "/api/v1/analytics/timeseries?metric=revenue&bucket=month&from={}&to={today}",
        today - chrono::Days::new(70)
    );
    let series: Value = call(app, m, Method::GET, &path, None).await.json().await.expect("JSON");
    series["total"].clone()
}

#[tokio::test]
async fn a_first_import_at_standard_plan_limits_reads_the_whole_shop_through_bulk_operations() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let fake = shop_with(2_000, 5_000, standard_plan()).await;
        let (expected, revenue) =
            fake.with_shop(SHOP, |s| (shopify_totals(&s.products, &s.orders), shopify_revenue_cents(&s.orders)));
        let app = app_for(backend, Some(&fake), &[("SYNC_REQUEST_BUDGET_SECS", "120")]).await;
        let m = merchant(&app, "Bulk").await;
        let store = connect_shopify(&app, &m, SHOP, "shpat_bulk").await;

        let job = sync(&app, &m, store).await;

        assert_eq!(job["status"], "succeeded", "{backend:?}: {job}");
        assert_eq!(job["created"].as_i64(), Some(2_000 + 5_000), "{backend:?}");
        let shown = totals(&app, &m, store).await;
        let wanted = totals_of(&expected);
        assert_eq!(shown, wanted, "{backend:?}");
        assert_eq!(revenue_shown(&app, &m).await, dollars(revenue).as_str(), "{backend:?}: revenue to the cent");
        let requests = fake.requests();
        let started: Vec<&str> = requests
            .iter()
            .filter(|r| r.operation == "BulkOperationRunQuery")
            .filter_map(|r| r.query.as_deref())
            .collect();
        assert_eq!(started.len(), 2, "{backend:?}: one operation per listing");
        assert!(
            started[0].contains("products") && started[1].contains("orders"),
            "{backend:?}: one at a time, in turn"
        );
        assert!(!requests.iter().any(|r| r.operation == "SyncProducts" || r.operation == "SyncOrders"), "{backend:?}");
        assert!(!requests.iter().any(|r| r.premature), "{backend:?}: the bucket was never overdrawn");
        let points: u64 = requests.iter().filter_map(|r| r.requested).sum();
        assert!(points < 200, "{backend:?}: a first import costs a few points, not pages ({points})");

        // Afterwards only what changed is read, page by page, from the operation's start.
        let changed: Vec<u64> = fake.with_shop(SHOP, |s| {
            let now = Utc::now();
            s.orders
                .iter_mut()
                .filter(|o| !o.cancelled && o.financial_status != "REFUNDED")
                .take(100)
                .map(|o| {
                    o.updated_at = now;
                    o.financial_status = "REFUNDED";
                    o.id
                })
                .collect()
        });
        assert_eq!(changed.len(), 100);
        fake.clear_requests();
        let job = sync(&app, &m, store).await;
        assert_eq!(job["status"], "succeeded", "{backend:?}: {job}");
        assert_eq!(job["updated"].as_i64(), Some(100), "{backend:?}: the 100 changed orders, no more: {job}");
        let requests = fake.requests();
        assert!(requests.iter().all(|r| r.operation != "BulkOperationRunQuery"), "{backend:?}: incremental syncs page");
        assert!(requests.iter().filter(|r| r.operation == "SyncOrders").all(|r| r.query.is_some()), "{backend:?}");
        // The first page asks five lines per order; the next fit what the shop's orders hold, so more fit a page.
        let firsts: Vec<u64> =
            requests.iter().filter(|r| r.operation == "SyncOrders").filter_map(|r| r.first).collect();
        assert!(firsts.len() >= 2 && firsts[0] == 32, "{backend:?}: {firsts:?}");
        assert!(firsts[1..].iter().all(|first| *first > 32), "{backend:?}: fitted pages: {firsts:?}");
        let revenue = fake.with_shop(SHOP, |s| shopify_revenue_cents(&s.orders));
        assert_eq!(revenue_shown(&app, &m).await, dollars(revenue).as_str(), "{backend:?}: the refunds counted");
    }
}

#[tokio::test]
async fn a_run_out_of_time_while_shopify_works_resumes_the_same_operation_and_a_failed_one_is_started_again() {
    let config = ShopifyConfig { bulk_run_time: std::time::Duration::from_millis(2_500), ..standard_plan() };
    let fake = shop_with(300, 400, config).await;
    fake.with_shop(SHOP, |s| s.fail_next_bulk = 1);
    let expected = fake.with_shop(SHOP, |s| shopify_totals(&s.products, &s.orders));
    let app = app_for(Backend::Sqlite, Some(&fake), &[("SYNC_REQUEST_BUDGET_SECS", "2")]).await;
    let m = merchant(&app, "Bulk").await;
    let store = connect_shopify(&app, &m, SHOP, "shpat_bulk").await;

    // The first run starts the products operation and runs out of time while it runs: the checkpoint names it.
    let first = sync(&app, &m, store).await;
    assert_eq!(first["status"], "partial", "{first}");
    let checkpoint = Checkpoint::parse(&checkpoint_of(&app, store).await);
    let cursor = checkpoint.products.pass.and_then(|p| p.after).expect("a cursor");
    assert!(cursor.starts_with("bulk:gid://shopify/BulkOperation/") && cursor.ends_with(":0"), "{cursor}: saved first");

    // Runs go on until the store is in; the failed operation is started again, the others only polled.
    let mut runs = vec![first];
    while runs.last().is_some_and(|job| job["status"] == "partial") {
        assert!(runs.len() < 20, "the import ends: {runs:?}");
        runs.push(sync(&app, &m, store).await);
    }
    assert_eq!(runs.last().expect("runs")["status"], "succeeded", "{runs:?}");
    let shown = totals(&app, &m, store).await;
    let wanted = totals_of(&expected);
    assert_eq!(shown, wanted);
    let operations =
        fake.with_shop(SHOP, |s| s.bulk_operations.iter().map(|op| (op.fails, op.downloads)).collect::<Vec<_>>());
    assert_eq!(operations, [(true, 0), (false, 1), (false, 1)], "failed products, products again, orders");
    let started = fake.requests().iter().filter(|r| r.operation == "BulkOperationRunQuery").count();
    assert_eq!(started, 3, "no operation started twice for one listing but the failed one");
    let checkpoint = Checkpoint::parse(&checkpoint_of(&app, store).await);
    let watermark = checkpoint.orders.watermark.expect("a watermark");
    assert!(Utc::now() - watermark < TimeDelta::minutes(1), "the next pass starts from the operation's start");
}

/// Changes the store's orders cursor, syncs, and answers the bulk queries the sync started.
async fn sync_after(
    app: &TestApp,
    m: &Merchant,
    fake: &FakeShopify,
    store: uuid::Uuid,
    change: impl FnOnce(&mut shared::sync::ListingCursor),
) -> Vec<String> {
    let mut checkpoint = Checkpoint::parse(&checkpoint_of(app, store).await);
    change(&mut checkpoint.orders);
    let shared::db::Database::Sqlite(pool) = &app.state.db else { panic!("a SQLite app") };
    sqlx::query("UPDATE store_connections SET checkpoint = $1 WHERE store_id = $2")
        .bind(checkpoint.to_json())
        .bind(store)
        .execute(pool)
        .await
        .expect("age the checkpoint");
    fake.clear_requests();
    assert_eq!(sync(app, m, store).await["status"], "succeeded");
    fake.requests().into_iter().filter(|r| r.operation == "BulkOperationRunQuery").filter_map(|r| r.query).collect()
}

#[tokio::test]
async fn a_listing_not_read_for_over_a_week_is_read_again_through_a_bulk_operation_of_what_changed() {
    let fake = shop_with(30, 60, standard_plan()).await;
    let app = app_for(Backend::Sqlite, Some(&fake), &[]).await;
    let m = merchant(&app, "Bulk").await;
    let store = connect_shopify(&app, &m, SHOP, "shpat_bulk").await;
    assert_eq!(sync(&app, &m, store).await["status"], "succeeded");
    // A quiet shop: nothing changed for nine days, but it was read a moment ago: paged, as usual.
    let quiet =
        sync_after(&app, &m, &fake, store, |orders| orders.watermark = Some(Utc::now() - TimeDelta::days(9))).await;
    assert!(quiet.is_empty(), "{quiet:?}");

    // Not read for nine days (the store was disabled meanwhile): what changed since, through a bulk operation.
    let stale =
        sync_after(&app, &m, &fake, store, |orders| orders.read_at = Some(Utc::now() - TimeDelta::days(9))).await;
    assert_eq!(stale.len(), 1, "only the stale listing: {stale:?}");
    assert!(stale[0].starts_with("{ orders(query: \"updated_at:>'"), "what changed since then: {}", stale[0]);
}

#[tokio::test]
async fn an_operation_whose_result_expired_before_it_was_read_is_run_again() {
    let config = ShopifyConfig { bulk_run_time: std::time::Duration::from_millis(2_500), ..standard_plan() };
    let fake = shop_with(40, 50, config).await;
    let expected = fake.with_shop(SHOP, |s| shopify_totals(&s.products, &s.orders));
    let app = app_for(Backend::Sqlite, Some(&fake), &[("SYNC_REQUEST_BUDGET_SECS", "2")]).await;
    let m = merchant(&app, "Bulk").await;
    let store = connect_shopify(&app, &m, SHOP, "shpat_bulk").await;
    assert_eq!(sync(&app, &m, store).await["status"], "partial", "the products operation still runs");

    // Its result is gone before a run reads it (Shopify keeps one 7 days).
    fake.with_shop(SHOP, |s| s.bulk_operations[0].expired = true);
    let mut runs = Vec::new();
    while runs.last().is_none_or(|job: &Value| job["status"] == "partial") {
        assert!(runs.len() < 20, "the import ends: {runs:?}");
        runs.push(sync(&app, &m, store).await);
    }

    assert_eq!(runs.last().expect("runs")["status"], "succeeded", "{runs:?}");
    assert_eq!(totals(&app, &m, store).await, totals_of(&expected));
    let operations =
        fake.with_shop(SHOP, |s| s.bulk_operations.iter().map(|op| (op.expired, op.downloads)).collect::<Vec<_>>());
    assert_eq!(operations, [(true, 0), (false, 1), (false, 1)], "expired products, products again, orders");
}
