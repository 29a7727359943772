//! Shopify's mandatory compliance webhooks: HMAC-checked like every delivery, recorded and audited once each;
//! `customers/data_request` shows the merchant what is held, `customers/redact` erases no figures, `shop/redact`
//! erases everything of the shop and nothing of anyone else.

use chrono::{TimeDelta, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use tests::{
    Backend, TestApp,
    platform_fakes::shopify::{FakeProduct, FakeShop, FakeShopify, FakeVariant, ShopifyConfig},
};
use uuid::Uuid;

use super::{
    CLIENT_SECRET, Merchant, app_for, call, connect_shopify, deliver_shopify, merchant, product_id_of, rest_order,
    store, sync, title_of,
};

const SHOP: &str = "acme.myshopify.com";
const OTHER_SHOP: &str = "globex.myshopify.com";

fn coat(id: u64) -> FakeProduct {
    FakeProduct {
        id,
        title: "Coat".into(),
        description: "Warm".into(),
        vendor: "Acme".into(),
        product_type: "Coats".into(),
        status: "ACTIVE",
        updated_at: Utc::now() - TimeDelta::days(2),
        variants: vec![FakeVariant {
            id: 77,
            sku: "COAT-M".into(),
            title: "M".into(),
            price_cents: 12000,
            inventory: 4,
            unit_cost_cents: None,
        }],
    }
}

/// A merchant with a synced shop holding one product and the given orders (delivered by webhook).
async fn shop_with_orders(app: &TestApp, fake: &FakeShopify, shop: &str, orders: &[(u64, &str)]) -> (Merchant, Uuid) {
    let token = format!("shpat_{}", shop.len());
    fake.add_shop(shop, FakeShop { products: vec![coat(42)], access_token: token.clone(), ..FakeShop::default() });
    let m = merchant(app, shop).await;
    let id = connect_shopify(app, &m, shop, &token).await;
    assert_eq!(sync(app, &m, id).await["status"], "succeeded");
    for (order, total) in orders {
        let delivered = deliver_shopify(
            app,
            shop,
            "orders/create",
            CLIENT_SECRET,
            &rest_order(*order, total),
            &format!("o{order}"),
        )
        .await;
        assert_eq!(delivered.json::<Value>().await.expect("JSON")["status"], "applied");
    }
    (m, id)
}

async fn requests(app: &TestApp, m: &Merchant) -> Vec<Value> {
    let response = call(app, m, Method::GET, "/api/v1/compliance/requests", None).await;
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.expect("JSON");
    page["items"].as_array().expect("items").clone()
}

async fn status_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.expect("JSON")["status"].as_str().expect("status").to_owned()
}

/// How many of the organization's orders name a customer.
async fn linked_orders(app: &TestApp, organization: uuid::Uuid) -> i64 {
    const SQL: &str = "SELECT count(*) FROM orders WHERE organization_id = $1 AND customer_key IS NOT NULL";
    match &app.state.db {
        shared::db::Database::Postgres(pool) => sqlx::query_scalar(SQL).bind(organization).fetch_one(pool).await,
        shared::db::Database::Sqlite(pool) => sqlx::query_scalar(SQL).bind(organization).fetch_one(pool).await,
    }
    .expect("count linked orders")
}

fn customer_payload(orders_key: &str, orders: &[u64]) -> Value {
    json!({
        "shop_id": 954889, "shop_domain": SHOP,
        "customer": { "id": 191167, "email": "john@example.com", "phone": "555-625-1199" },
        orders_key: orders, "data_request": { "id": 9999 }
    })
}

async fn compliance_requests_are_carried_out_once_each_and_erase_only_their_shop(backend: Backend) {
    let fake = FakeShopify::start(ShopifyConfig::default()).await;
    let app = app_for(backend, Some(&fake), &[]).await;
    let (m, id) = shop_with_orders(&app, &fake, SHOP, &[(9001, "240.00"), (9002, "120.00")]).await;
    let (other, other_id) = shop_with_orders(&app, &fake, OTHER_SHOP, &[(9001, "60.00")]).await;
    let product = product_id_of(&app, m.organization, "gid://shopify/Product/42").await.expect("product");
    let view = json!({ "events": [{ "client_id": "v1", "kind": "view", "product_id": product,
                                    "occurred_at": Utc::now().to_rfc3339() }] });
    assert_eq!(call(&app, &m, Method::POST, "/api/v1/analytics/events", Some(view)).await.status(), 200);

    // A data request: recorded once, without the customer's e-mail or phone, with what is held.
    let asked = customer_payload("orders_requested", &[9001, 5555]);
    let first = deliver_shopify(&app, SHOP, "customers/data_request", CLIENT_SECRET, &asked, "c1").await;
    let again = deliver_shopify(&app, SHOP, "customers/data_request", CLIENT_SECRET, &asked, "c1").await;
    assert_eq!(status_of(first).await, "applied", "{backend:?}");
    assert_eq!(status_of(again).await, "duplicate", "{backend:?}");
    let listed = requests(&app, &m).await;
    assert_eq!(listed.len(), 1, "{backend:?}: recorded once: {listed:?}");
    let request = &listed[0];
    assert_eq!(request["topic"], "customers/data_request");
    assert_eq!(request["customer_id"], "191167");
    assert_eq!(request["store_id"], id.to_string());
    assert!(request["outcome"].as_str().expect("outcome").starts_with("1 of the 2 orders named are held"), "{request}");
    let detail: Value = call(
        &app,
        &m,
        Method::GET,
        &format!("/api/v1/compliance/requests/{}", request["id"].as_str().expect("id")),
        None,
    )
    .await
    .json()
    .await
    .expect("JSON");
    let held = detail["held_orders"].as_array().expect("held orders");
    assert_eq!(held.len(), 1, "{backend:?}: only the order held: {detail}");
    assert_eq!(held[0]["order_id"], "gid://shopify/Order/9001");
    assert_eq!(held[0]["total"], "240.00");
    assert_eq!(held[0]["lines"], json!([{ "product_title": "Coat", "quantity": 2, "total": "240.00" }]));
    assert!(!detail.to_string().contains("john@example.com") && !detail.to_string().contains("555-625"));
    assert!(requests(&app, &other).await.is_empty(), "{backend:?}: the other organization sees nothing");

    // A customer erasure: the customer's id leaves the shop's orders (and only that shop's); every figure stays.
    assert_eq!(linked_orders(&app, m.organization).await, 2, "{backend:?}: the orders name their customer");
    let (customers, _) = app.state.db.customer_rollups(m.organization).await.expect("customer rollups");
    assert_eq!(customers.first_orders.len(), 1, "{backend:?}: the customer is in the customer rollups");
    let redact = customer_payload("orders_to_redact", &[9001, 9002]);
    let redacted = deliver_shopify(&app, SHOP, "customers/redact", CLIENT_SECRET, &redact, "c2").await;
    assert_eq!(status_of(redacted).await, "applied");
    assert_eq!(store(&app, &m, id).await["totals"]["orders"], 2, "{backend:?}: orders keep their figures");
    assert_eq!(linked_orders(&app, m.organization).await, 0, "{backend:?}: nothing links them to the customer");
    assert_eq!(linked_orders(&app, other.organization).await, 1, "{backend:?}: another shop's order is its own");
    let (customers, recomputed) = app.state.db.customer_rollups(m.organization).await.expect("customer rollups");
    assert_eq!(customers, recomputed, "{backend:?}: the customer rollups follow the unlinked orders");
    assert!(customers.days.is_empty() && customers.first_orders.is_empty(), "{backend:?}: {customers:?}");
    let (theirs, _) = app.state.db.customer_rollups(other.organization).await.expect("customer rollups");
    assert_eq!(theirs.first_orders.len(), 1, "{backend:?}: another shop's customer stays");
    let listed = requests(&app, &m).await;
    assert_eq!(listed[0]["topic"], "customers/redact", "{backend:?}: newest first");
    assert_eq!(listed[0]["order_ids"], json!(["gid://shopify/Order/9001", "gid://shopify/Order/9002"]));

    // Uninstalled, then the shop's erasure 48 hours later: everything of the shop goes, nothing of the other.
    let uninstall = json!({ "id": 1, "domain": SHOP });
    assert_eq!(
        status_of(deliver_shopify(&app, SHOP, "app/uninstalled", CLIENT_SECRET, &uninstall, "u1").await).await,
        "applied"
    );
    let shop_redact = json!({ "shop_id": 954889, "shop_domain": SHOP });
    let erased = deliver_shopify(&app, SHOP, "shop/redact", CLIENT_SECRET, &shop_redact, "s1").await;
    let replayed = deliver_shopify(&app, SHOP, "shop/redact", CLIENT_SECRET, &shop_redact, "s1").await;
    assert_eq!(status_of(erased).await, "applied", "{backend:?}");
    assert_eq!(status_of(replayed).await, "ignored", "{backend:?}: the store is gone");
    assert_eq!(call(&app, &m, Method::GET, &format!("/api/v1/stores/{id}"), None).await.status(), 404);
    assert_eq!(title_of(&app, m.organization, "gid://shopify/Product/42").await, None, "{backend:?}");
    let rollups = app.state.db.stored_rollups(m.organization).await.expect("rollups");
    assert_eq!(rollups, app.state.db.recompute_rollups(m.organization).await.expect("recompute"), "{backend:?}");
    assert!(rollups.iter().all(|(_, c)| !c.has_sales()), "{backend:?}: no sale of the shop remains: {rollups:?}");
    let (customers, _) = app.state.db.customer_rollups(m.organization).await.expect("customer rollups");
    assert_eq!(customers, Default::default(), "{backend:?}: no customer of the shop remains");
    let listed = requests(&app, &m).await;
    assert_eq!(listed.len(), 3, "{backend:?}: the audit trail outlives the store");
    assert_eq!(listed[0]["topic"], "shop/redact");
    assert_eq!(
        listed[0]["outcome"],
        "erased the store: 1 products, 2 orders, 1 analytics events and 0 recommendations, its connection and sync \
         history; the rollups were rebuilt without them",
        "{backend:?}"
    );

    let untouched = store(&app, &other, other_id).await;
    assert_eq!((untouched["status"].as_str(), untouched["totals"]["orders"].as_i64()), (Some("enabled"), Some(1)));
    assert_eq!(title_of(&app, other.organization, "gid://shopify/Product/42").await.as_deref(), Some("Coat"));
    let theirs = app.state.db.stored_rollups(other.organization).await.expect("rollups");
    assert_eq!(theirs, app.state.db.recompute_rollups(other.organization).await.expect("recompute"));
    assert!(theirs.iter().any(|(_, c)| c.has_sales()), "{backend:?}: the other shop's sales stay");
}

#[tokio::test]
async fn compliance_requests_on_postgres() {
    compliance_requests_are_carried_out_once_each_and_erase_only_their_shop(Backend::Postgres).await;
}

#[tokio::test]
async fn compliance_requests_on_sqlite() {
    compliance_requests_are_carried_out_once_each_and_erase_only_their_shop(Backend::Sqlite).await;
}

#[tokio::test]
async fn unsigned_or_unreadable_compliance_requests_are_refused_and_record_nothing() {
    let fake = FakeShopify::start(ShopifyConfig::default()).await;
    let app = app_for(Backend::Sqlite, Some(&fake), &[]).await;
    let (m, id) = shop_with_orders(&app, &fake, SHOP, &[(9001, "240.00")]).await;

    let forged =
        deliver_shopify(&app, SHOP, "shop/redact", "not-the-app-secret", &json!({"shop_domain": SHOP}), "f1").await;
    assert_eq!(forged.status(), 401);
    let nameless = json!({ "shop_domain": SHOP, "orders_to_redact": [9001] });
    let unreadable = deliver_shopify(&app, SHOP, "customers/redact", CLIENT_SECRET, &nameless, "f2").await;
    assert_eq!(unreadable.status(), 400);
    assert_eq!(unreadable.headers()["content-type"], "application/problem+json");

    assert!(requests(&app, &m).await.is_empty());
    assert_eq!(store(&app, &m, id).await["totals"]["orders"], 1, "nothing erased");
    let member = app.token_for(Uuid::new_v4());
    let listed = app.request_in(Method::GET, &member, m.organization, "/api/v1/compliance/requests").send().await;
    assert_eq!(listed.expect("answer").status(), 404, "a non-member cannot see the organization's requests");
}
