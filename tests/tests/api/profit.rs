//! Profit and margin on both backends: each order line carries the unit cost in force when it was sold, so a cost
//! changed mid-period changes later sales only; lines without a cost are reported, never counted as free; margins
//! are summed profit over summed sales; platform costs arrive through sync (Shopify `InventoryItem.unitCost`,
//! WooCommerce's `_wc_cog_cost`) and enter the history only when they change.
//!
//! Expected figures are worked out by hand from the fixture in each test.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use shared::{
    analytics::OrderStatus,
    catalogue::{ProductInput, ProductStatus, VariantInput},
    db::{
        Database,
        orders::{OrderInput, OrderLineInput},
    },
};
use tests::{
    Backend, TestApp,
    platform_fakes::{
        shopify::{FakeLine, FakeOrder, FakeProduct, FakeShop, FakeShopify, FakeVariant, ShopifyConfig},
        woocommerce::{FakeWoo, WooOrder, WooProduct, WooSite, WooVariation},
    },
    spawn_app_on,
};
use uuid::Uuid;

use crate::store_sync::{
    CLIENT_SECRET, Merchant, app_for, connect_shopify, connect_woo, deliver_shopify, merchant, product_id_of, sync,
};

const BACKENDS: [Backend; 2] = [Backend::Postgres, Backend::Sqlite];

async fn get_json(app: &TestApp, m: &Merchant, path: &str) -> Value {
    let response = app.request_in(Method::GET, &m.token, m.organization, path).send().await.expect("response");
    let status = response.status();
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn set_unit_cost(app: &TestApp, m: &Merchant, product: Uuid, cost: &str) {
    let path = format!("/api/v1/products/{product}");
    let response = app
        .request_in(Method::PATCH, &m.token, m.organization, &path)
        .json(&json!({ "unit_cost": cost }))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200, "set the unit cost of {product}");
}

/// How many cost entries the organization's history holds.
async fn cost_entries(db: &Database, organization: Uuid) -> i64 {
    const SQL: &str = "SELECT count(*) FROM unit_costs WHERE organization_id = $1";
    match db {
        Database::Postgres(pool) => sqlx::query_scalar(SQL).bind(organization).fetch_one(pool).await,
        Database::Sqlite(pool) => sqlx::query_scalar(SQL).bind(organization).fetch_one(pool).await,
    }
    .expect("count cost entries")
}

async fn assert_rollups_exact(db: &Database, organization: Uuid, context: &str) {
    let stored = db.stored_rollups(organization).await.expect("stored rollups");
    let recomputed = db.recompute_rollups(organization).await.expect("recomputed rollups");
    assert_eq!(stored, recomputed, "{context}: stored rollups differ from a recomputation");
}

/// A rate the API wrote equals `expected` (within 1e-12: the JSON float parser may land an ulp away).
fn assert_rate(actual: &Value, expected: Option<f64>, context: &str) {
    match (actual.as_f64(), expected) {
        (Some(actual), Some(expected)) => {
            assert!((actual - expected).abs() < 1e-12, "{context}: {actual} != {expected}");
        }
        (None, None) => assert!(actual.is_null(), "{context}: {actual} is not null"),
        _ => panic!("{context}: {actual} != {expected:?}"),
    }
}

fn product(external_id: &str, category: &str, cost_minor: Option<i64>) -> ProductInput {
    ProductInput {
        external_id: external_id.into(),
        title: format!("Product {external_id}"),
        description: String::new(),
        vendor: "Acme".into(),
        category: category.into(),
        status: ProductStatus::Active,
        variants: vec![VariantInput {
            external_id: format!("{external_id}-v"),
            sku: external_id.to_uppercase(),
            title: "Default".into(),
            price_minor: 1000,
            cost_minor,
            inventory: 5,
        }],
    }
}

/// A line of `product`'s only variant.
fn line(product: (Uuid, Uuid), quantity: i32, total_minor: i64) -> OrderLineInput {
    OrderLineInput::sold(Some(product.0), Some(product.1), quantity, total_minor)
}

/// A product's id with its only variant's.
async fn with_variant(db: &Database, organization: Uuid, product: Uuid) -> (Uuid, Uuid) {
    let detail = db.product(organization, product).await.expect("query").expect("the product");
    (product, detail.variants[0].id)
}

fn order(external_id: &str, placed_at: DateTime<Utc>, lines: Vec<OrderLineInput>) -> OrderInput {
    let total_minor = lines.iter().map(|l| l.total_minor).sum::<i64>() + 499;
    OrderInput {
        external_id: external_id.into(),
        placed_at,
        status: OrderStatus::Paid,
        total_minor,
        lines,
        customer: None,
    }
}

fn query(path: &str, from: NaiveDate, to: NaiveDate, rest: &str) -> String {
    format!("/api/v1/analytics/{path}?from={from}&to={to}{rest}")
}

#[tokio::test]
async fn profit_uses_the_cost_in_force_on_each_orders_day_and_reports_lines_without_one() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let m = merchant(&app, "Profit shop").await;
        let db = &app.state.db;
        let store = db.create_store(m.organization, "demo", "Demo").await.expect("store");
        // A: a platform cost of 4.00; B: no cost anywhere; C: the merchant's 6.00.
        let catalogue = [product("a", "Mugs", Some(400)), product("b", "Mugs", None), product("c", "Tees", None)];
        let (_, ids) = db.upsert_products(m.organization, store, &catalogue).await.expect("products");
        let a = with_variant(db, m.organization, ids["a"]).await;
        let b = with_variant(db, m.organization, ids["b"]).await;
        let c = with_variant(db, m.organization, ids["c"]).await;
        set_unit_cost(&app, &m, c.0, "6.00").await;
        let today = Utc::now().date_naive();
        let first_day = today - TimeDelta::days(2);
        let first_sale = first_day.and_hms_opt(10, 0, 0).expect("time").and_utc();
        db.upsert_orders(
            m.organization,
            store,
            &[order("1", first_sale, vec![line(a, 2, 2000), line(b, 1, 900), line(c, 1, 1500)])],
        )
        .await
        .expect("first order");

        // Mid-period: A's cost rises to 5.00, then A and C sell again.
        set_unit_cost(&app, &m, a.0, "5.00").await;
        db.upsert_orders(m.organization, store, &[order("2", Utc::now(), vec![line(a, 1, 1000), line(c, 2, 3000)])])
            .await
            .expect("second order");

        // Day one: 44.00 of sales, 9.00 of them (B) without a cost; 35.00 costed at 2 × 4.00 + 6.00 = 14.00.
        // Today: 40.00 costed at 5.00 + 2 × 6.00 = 17.00. A's new cost leaves day one as it was.
        let profit = get_json(&app, &m, &query("timeseries", first_day, today, "&metric=profit")).await;
        assert_eq!(profit["currency"], "USD", "{backend:?}");
        assert_eq!(
            profit["items"],
            json!([
                { "start": first_day, "value": "21.00", "unknown_cost": { "orders": 1, "units": 1, "revenue": "9.00" } },
                { "start": today - TimeDelta::days(1), "value": "0.00",
                  "unknown_cost": { "orders": 0, "units": 0, "revenue": "0.00" } },
                { "start": today, "value": "23.00", "unknown_cost": { "orders": 0, "units": 0, "revenue": "0.00" } },
            ]),
            "{backend:?}"
        );
        assert_eq!(profit["total"], "44.00", "{backend:?}");
        assert_eq!(profit["unknown_cost"], json!({ "orders": 1, "units": 1, "revenue": "9.00" }), "{backend:?}");

        // Margins from sums: 21 / 35 and 23 / 40 by day; 44 / 75 over the period, not the mean of the two.
        let margin = get_json(&app, &m, &query("timeseries", first_day, today, "&metric=margin")).await;
        let items = margin["items"].as_array().expect("items");
        assert_eq!(items.len(), 3, "{backend:?}");
        for (item, expected) in items.iter().zip([Some(0.6), None, Some(0.575)]) {
            assert_rate(&item["value"], expected, &format!("{backend:?}: a day's margin (none without costed sales)"));
        }
        assert_rate(&margin["total"], Some(44.0 / 75.0), &format!("{backend:?}: the period's margin"));
        assert_eq!(margin["currency"], Value::Null, "{backend:?}: a margin is not money");

        // Per category: Mugs is A and B only (A: 20.00 − 8.00, then 10.00 − 5.00), with B's line left out.
        let mugs = get_json(&app, &m, &query("timeseries", first_day, today, "&metric=profit&category=Mugs")).await;
        assert_eq!(mugs["total"], "17.00", "{backend:?}");
        assert_eq!(mugs["unknown_cost"], json!({ "orders": 1, "units": 1, "revenue": "9.00" }), "{backend:?}");

        // Period compare: the three days before had no sales.
        let compared =
            get_json(&app, &m, &query("timeseries", first_day, today, "&metric=margin&compare=previous_period")).await;
        assert_eq!(compared["previous"]["total"], Value::Null, "{backend:?}");

        // Ranked by profit: C 45.00 − 18.00, A 30.00 − 13.00, B nothing costed.
        let ranking = get_json(&app, &m, &query("top-products", first_day, today, "&by=profit")).await;
        let items = ranking["items"].as_array().expect("items");
        let rows: Vec<(Value, Value, Value)> =
            items.iter().map(|p| (p["product_id"].clone(), p["profit"].clone(), p["unknown_cost"].clone())).collect();
        let none = json!({ "orders": 0, "units": 0, "revenue": "0.00" });
        assert_eq!(
            rows,
            [
                (json!(c.0), json!("27.00"), none.clone()),
                (json!(a.0), json!("17.00"), none.clone()),
                (json!(b.0), json!("0.00"), json!({ "orders": 1, "units": 1, "revenue": "9.00" })),
            ],
            "{backend:?}"
        );
        for (item, expected) in items.iter().zip([Some(0.6), Some(17.0 / 30.0), None]) {
            assert_rate(&item["margin"], expected, &format!("{backend:?}: a product's margin"));
        }
        assert_eq!(ranking["items"][0]["previous_profit"], "0.00", "{backend:?}");
        let in_mugs = get_json(&app, &m, &query("top-products", first_day, today, "&by=profit&category=Mugs")).await;
        let ids_in_mugs: Vec<&Value> =
            in_mugs["items"].as_array().expect("items").iter().map(|p| &p["product_id"]).collect();
        assert_eq!(ids_in_mugs, [&json!(a.0), &json!(b.0)], "{backend:?}");
        assert_eq!(in_mugs["category"], "Mugs", "{backend:?}");
        assert_rollups_exact(db, m.organization, "after the orders").await;

        // B's first cost reaches back to the sale that had none; the ranking (kept while sales stand) follows.
        set_unit_cost(&app, &m, b.0, "3.00").await;
        let profit = get_json(&app, &m, &query("timeseries", first_day, today, "&metric=profit")).await;
        assert_eq!(profit["items"][0]["value"], "27.00", "{backend:?}: 44.00 − 17.00");
        assert_eq!(profit["unknown_cost"], json!({ "orders": 0, "units": 0, "revenue": "0.00" }), "{backend:?}");
        let ranking = get_json(&app, &m, &query("top-products", first_day, today, "&by=profit")).await;
        assert_eq!(ranking["items"][2]["profit"], "6.00", "{backend:?}: 9.00 − 3.00");
        assert_rollups_exact(db, m.organization, "after a first cost").await;
        let rebuilt = db.rebuild_rollups(m.organization).await.expect("rebuild");
        assert!(!rebuilt.corrected, "{backend:?}: nothing to correct");

        // An edit to the same value records nothing; clearing a cost leaves past sales as they were.
        let entries = cost_entries(db, m.organization).await;
        set_unit_cost(&app, &m, b.0, "3.00").await;
        assert_eq!(cost_entries(db, m.organization).await, entries, "{backend:?}: no change, no entry");
        let response = app
            .request_in(Method::PATCH, &m.token, m.organization, &format!("/api/v1/products/{}", b.0))
            .json(&json!({ "unit_cost": null }))
            .send()
            .await
            .expect("response");
        assert_eq!(response.status(), 200, "{backend:?}");
        let profit = get_json(&app, &m, &query("timeseries", first_day, today, "&metric=profit")).await;
        assert_eq!(profit["items"][0]["value"], "27.00", "{backend:?}: cleared today, not last week");
        assert_rollups_exact(db, m.organization, "after clearing a cost").await;
    }
}

fn shopify_variant(id: u64, price_cents: i64, unit_cost_cents: Option<i64>) -> FakeVariant {
    FakeVariant { id, sku: format!("SKU-{id}"), title: format!("V{id}"), price_cents, inventory: 3, unit_cost_cents }
}

fn shopify_order(id: u64, created_at: DateTime<Utc>, lines: Vec<FakeLine>) -> FakeOrder {
    FakeOrder {
        id,
        created_at,
        updated_at: created_at,
        cancelled: false,
        financial_status: "PAID",
        fulfillment_status: "FULFILLED",
        total_cents: lines.iter().map(|l| l.total_cents).sum(),
        lines,
        customer: Some(7),
    }
}

fn shopify_line(id: u64, variant_id: u64, quantity: i64, total_cents: i64) -> FakeLine {
    FakeLine { id, product_id: Some(1), variant_id: Some(variant_id), quantity, total_cents, refunded: 0 }
}

#[tokio::test]
async fn shopify_unit_costs_are_synced_and_enter_the_history_only_when_they_change() {
    const SHOP: &str = "costs.myshopify.com";
    for backend in BACKENDS {
        let fake = FakeShopify::start(ShopifyConfig::default()).await;
        let sold_at = Utc::now() - TimeDelta::days(3);
        let shop = FakeShop {
            products: vec![FakeProduct {
                id: 1,
                title: "Coat".into(),
                description: "Warm".into(),
                vendor: "Acme".into(),
                product_type: "Coats".into(),
                status: "ACTIVE",
                updated_at: sold_at,
                variants: vec![shopify_variant(11, 1000, Some(400)), shopify_variant(12, 1200, None)],
            }],
            orders: vec![shopify_order(900, sold_at, vec![shopify_line(1, 11, 2, 2000), shopify_line(2, 12, 1, 1200)])],
            access_token: "shpat_good".into(),
            ..FakeShop::default()
        };
        fake.add_shop(SHOP, shop);
        let app = app_for(backend, Some(&fake), &[]).await;
        let m = merchant(&app, "Coats").await;
        let store = connect_shopify(&app, &m, SHOP, "shpat_good").await;

        assert_eq!(sync(&app, &m, store).await["status"], "succeeded", "{backend:?}");

        let coat = product_id_of(&app, m.organization, "gid://shopify/Product/1").await.expect("stored");
        let detail = get_json(&app, &m, &format!("/api/v1/products/{coat}")).await;
        let costs: Vec<&Value> = detail["variants"].as_array().expect("variants").iter().map(|v| &v["cost"]).collect();
        assert_eq!(costs, [&json!("4.00"), &Value::Null], "{backend:?}: unitCost, or null without one");
        let (from, to) = (sold_at.date_naive(), Utc::now().date_naive());
        let path = query("timeseries", from, to, "&metric=profit");
        let profit = get_json(&app, &m, &path).await;
        assert_eq!(profit["total"], "12.00", "{backend:?}: 20.00 − 2 × 4.00");
        assert_eq!(profit["unknown_cost"], json!({ "orders": 1, "units": 1, "revenue": "12.00" }), "{backend:?}");
        assert_eq!(cost_entries(&app.state.db, m.organization).await, 1, "{backend:?}");

        // The cost rises on Shopify: a new entry, effective from when the sync saw it; the old sale keeps 4.00.
        fake.with_shop(SHOP, |shop| {
            shop.products[0].variants[0].unit_cost_cents = Some(500);
            shop.products[0].updated_at = Utc::now();
        });
        assert_eq!(sync(&app, &m, store).await["status"], "succeeded", "{backend:?}");
        assert_eq!(cost_entries(&app.state.db, m.organization).await, 2, "{backend:?}");
        assert_eq!(get_json(&app, &m, &path).await["total"], "12.00", "{backend:?}: last week's profit stands");

        // A sale after the change carries 5.00; a product change that leaves the cost alone records nothing.
        fake.with_shop(SHOP, |shop| {
            shop.orders.push(shopify_order(901, Utc::now(), vec![shopify_line(3, 11, 1, 1000)]));
            shop.products[0].title = "Winter coat".into();
            shop.products[0].updated_at = Utc::now();
        });
        assert_eq!(sync(&app, &m, store).await["status"], "succeeded", "{backend:?}");
        assert_eq!(cost_entries(&app.state.db, m.organization).await, 2, "{backend:?}: the cost did not change");
        assert_eq!(get_json(&app, &m, &path).await["total"], "17.00", "{backend:?}: 12.00 + 10.00 − 5.00");

        // A products/update webhook's REST body carries no cost: the synced one stands, nothing is recorded.
        let variant = |id: u64, price: &str| {
            json!({ "id": id, "admin_graphql_api_id": format!("gid://shopify/ProductVariant/{id}"), "title": format!("V{id}"),
                    "price": price, "sku": format!("SKU-{id}"), "inventory_quantity": 2 })
        };
        let body = json!({
            "id": 1, "admin_graphql_api_id": "gid://shopify/Product/1", "title": "Coat (webhook)", "body_html": "",
            "vendor": "Acme", "product_type": "Coats", "status": "active", "updated_at": Utc::now().to_rfc3339(),
            "variants": [variant(11, "10.00"), variant(12, "12.00")]
        });
        let delivered = deliver_shopify(&app, SHOP, "products/update", CLIENT_SECRET, &body, "evt-cost").await;
        assert_eq!(delivered.json::<Value>().await.expect("JSON")["status"], "applied", "{backend:?}");
        let detail = get_json(&app, &m, &format!("/api/v1/products/{coat}")).await;
        assert_eq!((&detail["title"], &detail["variants"][0]["cost"]), (&json!("Coat (webhook)"), &json!("5.00")));
        assert_eq!(cost_entries(&app.state.db, m.organization).await, 2, "{backend:?}: no change recorded");
        assert_rollups_exact(&app.state.db, m.organization, "after Shopify syncs").await;
    }
}

#[tokio::test]
async fn woocommerce_costs_come_from_the_cost_of_goods_field_and_are_unknown_without_it() {
    const KEY: &str = "ck_costs";
    const SECRET: &str = "cs_costs";
    for backend in BACKENDS {
        let fake = FakeWoo::start().await;
        let sold_at = Utc::now() - TimeDelta::days(2);
        let simple = |id: u64, price_cents: i64, cost_cents: Option<i64>| WooProduct {
            id,
            name: format!("Mug {id}"),
            status: "publish",
            price_cents,
            stock: Some(5),
            category: "Mugs".into(),
            modified: sold_at,
            variations: Vec::new(),
            cost_cents,
        };
        let variation = |id: u64, cost_cents: Option<i64>| WooVariation {
            id,
            price_cents: 1500,
            stock: 2,
            option: format!("S{id}"),
            cost_cents,
        };
        let mut set = simple(10, 0, None);
        set.variations = vec![variation(101, Some(200)), variation(102, None)];
        let lines = vec![(8, 0, 2, 1800), (9, 0, 1, 900), (10, 101, 1, 1500), (10, 102, 1, 1500)];
        let site = WooSite {
            products: vec![simple(8, 900, Some(420)), simple(9, 900, None), set],
            orders: vec![WooOrder {
                id: 70,
                status: "processing",
                created: sold_at,
                modified: sold_at,
                total_cents: 5700,
                lines,
                refunded_cents: 0,
                refunded_lines: Vec::new(),
                customer_id: 0,
            }],
            consumer_key: KEY.into(),
            consumer_secret: SECRET.into(),
            ..WooSite::default()
        };
        let url = fake.add_site("costs", site);
        let app = app_for(backend, None, &[]).await;
        let m = merchant(&app, "Mugs").await;
        let (store, _) = connect_woo(&app, &m, &url, KEY, SECRET).await;

        assert_eq!(sync(&app, &m, store).await["status"], "succeeded", "{backend:?}");

        let mug = product_id_of(&app, m.organization, "8").await.expect("stored");
        let detail = get_json(&app, &m, &format!("/api/v1/products/{mug}")).await;
        assert_eq!(detail["variants"][0]["cost"], "4.20", "{backend:?}");
        // 18.00 − 2 × 4.20 and 15.00 − 2.00 costed; product 9 and variation 102 have no cost field.
        let profit =
            get_json(&app, &m, &query("timeseries", sold_at.date_naive(), Utc::now().date_naive(), "&metric=profit"))
                .await;
        assert_eq!(profit["total"], "22.60", "{backend:?}");
        assert_eq!(profit["unknown_cost"], json!({ "orders": 1, "units": 2, "revenue": "24.00" }), "{backend:?}");
        assert_eq!(cost_entries(&app.state.db, m.organization).await, 2, "{backend:?}: one entry per known cost");
        assert_rollups_exact(&app.state.db, m.organization, "after a WooCommerce sync").await;
    }
}

/// Partial refunds count net: a Shopify line keeps `currentQuantity` of its units and the matching share of its total
/// (so its cost of goods falls too); a WooCommerce refund, listed per order, is spread over the lines by their
/// totals. Revenue, units and profit then count what the customer kept, and the rollups equal a recomputation.
#[tokio::test]
async fn partly_refunded_orders_count_only_what_the_customer_kept() {
    const SHOP: &str = "refunds.myshopify.com";
    const KEY: &str = "ck_refunds";
    const SECRET: &str = "cs_refunds";
    for backend in BACKENDS {
        let shopify = FakeShopify::start(ShopifyConfig::default()).await;
        let sold_at = Utc::now() - TimeDelta::days(2);
        let mut coat_line = shopify_line(1, 11, 3, 3000);
        coat_line.refunded = 1;
        let mut order = shopify_order(900, sold_at, vec![coat_line, shopify_line(2, 12, 1, 1200)]);
        order.financial_status = "PARTIALLY_REFUNDED";
        shopify.add_shop(
            SHOP,
            FakeShop {
                products: vec![FakeProduct {
                    id: 1,
                    title: "Coat".into(),
                    description: String::new(),
                    vendor: "Acme".into(),
                    product_type: "Coats".into(),
                    status: "ACTIVE",
                    updated_at: sold_at,
                    variants: vec![shopify_variant(11, 1000, Some(400)), shopify_variant(12, 1200, Some(500))],
                }],
                orders: vec![order],
                access_token: "shpat_good".into(),
                ..FakeShop::default()
            },
        );
        let app = app_for(backend, Some(&shopify), &[]).await;
        let m = merchant(&app, "Refunds").await;
        let store = connect_shopify(&app, &m, SHOP, "shpat_good").await;
        assert_eq!(sync(&app, &m, store).await["status"], "succeeded", "{backend:?}");

        let (from, to) = (sold_at.date_naive(), Utc::now().date_naive());
        // Coat: 2 of 3 kept, 20.00 of 30.00; the other line as sold: 32.00 of sales, 3 units, still one order.
        // Profit 20.00 − 2 × 4.00 + 12.00 − 5.00: the refunded coat costs nothing.
        let expected =
            [("revenue", json!("32.00")), ("units", json!(3)), ("orders", json!(1)), ("profit", json!("19.00"))];
        for (metric, expected) in expected {
            let series = get_json(&app, &m, &query("timeseries", from, to, &format!("&metric={metric}"))).await;
            assert_eq!(series["total"], expected, "{backend:?}: {metric}");
        }
        assert_rollups_exact(&app.state.db, m.organization, "after a partly refunded Shopify order").await;
        let customers = get_json(&app, &m, &format!("/api/v1/analytics/customers?from={from}&to={to}")).await;
        assert_eq!(customers["new"], json!({ "customers": 1, "orders": 1, "revenue": "32.00" }), "{backend:?}");

        // WooCommerce: 36.00 of lines (3 × Mug 8, 1 × Mug 9); one Mug 8 refunded (9.00, naming its line), then 6.00
        // of no line in particular, spread over what was left (18.00 and 9.00): 4.00 and 2.00.
        let woo = FakeWoo::start().await;
        let mug = |id: u64| WooProduct {
            id,
            name: format!("Mug {id}"),
            status: "publish",
            price_cents: 900,
            stock: Some(5),
            category: "Mugs".into(),
            modified: sold_at,
            variations: Vec::new(),
            cost_cents: None,
        };
        let url = woo.add_site(
            "refunds",
            WooSite {
                products: vec![mug(8), mug(9)],
                orders: vec![WooOrder {
                    id: 70,
                    status: "completed",
                    created: sold_at,
                    modified: sold_at,
                    total_cents: 3600,
                    lines: vec![(8, 0, 3, 2700), (9, 0, 1, 900)],
                    refunded_cents: 600,
                    refunded_lines: vec![(0, 1, 900)],
                    customer_id: 12,
                }],
                consumer_key: KEY.into(),
                consumer_secret: SECRET.into(),
                ..WooSite::default()
            },
        );
        let w = merchant(&app, "Woo refunds").await;
        let (store, _) = connect_woo(&app, &w, &url, KEY, SECRET).await;
        assert_eq!(sync(&app, &w, store).await["status"], "succeeded", "{backend:?}");
        let revenue = get_json(&app, &w, &query("timeseries", from, to, "&metric=revenue")).await;
        assert_eq!(revenue["total"], "21.00", "{backend:?}: 36.00 less the 15.00 refunded");
        let units = get_json(&app, &w, &query("timeseries", from, to, "&metric=units")).await;
        assert_eq!(units["total"], 3, "{backend:?}: the refunded mug is not sold");
        let top = get_json(&app, &w, &query("top-products", from, to, "&by=revenue")).await;
        let by_product: Vec<(String, Value)> = top["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| (item["title"].as_str().unwrap_or_default().to_owned(), item["revenue"].clone()))
            .collect();
        assert_eq!(
            by_product,
            [("Mug 8".to_owned(), json!("14.00")), ("Mug 9".to_owned(), json!("7.00"))],
            "{backend:?}: the line refund on its line, the amount in proportion to what was left"
        );
        assert_rollups_exact(&app.state.db, w.organization, "after a partly refunded WooCommerce order").await;
        let customers = get_json(&app, &w, &format!("/api/v1/analytics/customers?from={from}&to={to}")).await;
        assert_eq!(customers["new"], json!({ "customers": 1, "orders": 1, "revenue": "21.00" }), "{backend:?}");
    }
}
