//! Store sync end to end: connecting stores, the Shopify and WooCommerce connectors against their protocol fakes,
//! webhooks, installs (Shopify OAuth, WooCommerce key approval), and the engine's leases under a killed process, two
//! instances and a full-size store.

mod bulk;
mod compliance;
mod connect;
mod install;
mod key_approval;
mod ownership;
mod resilience;
mod shopify;
mod webhooks;
mod woocommerce;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use tests::{
    Backend, TestApp,
    platform_fakes::{shopify::FakeShopify, sign_webhook},
    spawn_app_with,
};
use uuid::Uuid;

/// The Shopify app credentials test apps run with.
pub const CLIENT_ID: &str = "test-client-id";
pub const CLIENT_SECRET: &str = "shpss_test_client_secret";

/// An admin and their organization.
pub struct Merchant {
    pub token: String,
    pub organization: Uuid,
}

/// A new admin with a new organization.
pub async fn merchant(app: &TestApp, name: &str) -> Merchant {
    let token = app.token_for(Uuid::new_v4());
    let organization = app.create_organization(&token, name, "UTC").await;
    Merchant { token, organization }
}

/// Settings pointing the connectors at the fakes, with quick retries.
pub fn platform_env(shopify: Option<&FakeShopify>) -> Vec<(String, String)> {
    let mut env = vec![
        ("PLATFORM_RETRY_BASE_MS".to_owned(), "5".to_owned()),
        ("SHOPIFY_CLIENT_ID".to_owned(), CLIENT_ID.to_owned()),
        ("SHOPIFY_CLIENT_SECRET".to_owned(), CLIENT_SECRET.to_owned()),
        ("ALLOW_PRIVATE_STORE_URLS".to_owned(), "true".to_owned()),
    ];
    if let Some(fake) = shopify {
        env.push(("SHOPIFY_ADMIN_URL_TEMPLATE".to_owned(), fake.admin_url_template()));
        env.push(("SHOPIFY_TOKEN_URL_TEMPLATE".to_owned(), fake.token_url_template()));
        env.push(("SHOPIFY_AUTHORIZE_URL_TEMPLATE".to_owned(), fake.authorize_url_template()));
    }
    env
}

/// An app whose connectors reach the fakes.
pub async fn app_for(backend: Backend, shopify: Option<&FakeShopify>, extra: &[(&str, &str)]) -> TestApp {
    let mut env = platform_env(shopify);
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    spawn_app_with(backend, &pairs).await
}

/// `method path` as the merchant, with an optional JSON body.
pub async fn call(app: &TestApp, m: &Merchant, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = app.request_in(method, &m.token, m.organization, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("response")
}

/// Connects a Shopify store and returns its id.
pub async fn connect_shopify(app: &TestApp, m: &Merchant, shop: &str, token: &str) -> Uuid {
    let body = json!({ "platform": "shopify", "shop_domain": shop, "access_token": token });
    let response = call(app, m, Method::POST, "/api/v1/stores", Some(body)).await;
    assert_eq!(response.status(), 201, "connect {shop}");
    let store: Value = response.json().await.expect("JSON");
    store["id"].as_str().and_then(|id| id.parse().ok()).expect("store id")
}

/// Connects a WooCommerce site and returns its id and the webhook secret.
pub async fn connect_woo(app: &TestApp, m: &Merchant, site_url: &str, key: &str, secret: &str) -> (Uuid, String) {
    let body =
        json!({ "platform": "woocommerce", "site_url": site_url, "consumer_key": key, "consumer_secret": secret });
    let response = call(app, m, Method::POST, "/api/v1/stores", Some(body)).await;
    assert_eq!(response.status(), 201, "connect {site_url}");
    let store: Value = response.json().await.expect("JSON");
    let id = store["id"].as_str().and_then(|id| id.parse().ok()).expect("store id");
    (id, store["webhook"]["secret"].as_str().expect("generated webhook secret").to_owned())
}

/// `POST /api/v1/stores/{id}/sync` and the job it returns.
pub async fn sync(app: &TestApp, m: &Merchant, store: Uuid) -> Value {
    let response = call(app, m, Method::POST, &format!("/api/v1/stores/{store}/sync"), None).await;
    assert_eq!(response.status(), 200, "sync now");
    response.json().await.expect("JSON")
}

/// `GET /api/v1/stores/{id}`.
pub async fn store(app: &TestApp, m: &Merchant, store: Uuid) -> Value {
    let response = call(app, m, Method::GET, &format!("/api/v1/stores/{store}"), None).await;
    assert_eq!(response.status(), 200, "show store");
    response.json().await.expect("JSON")
}

/// The store's totals as `(products, variants, inventory, orders, order total string)`.
pub async fn totals(app: &TestApp, m: &Merchant, id: Uuid) -> (i64, i64, i64, i64, String) {
    let body = store(app, m, id).await;
    let t = &body["totals"];
    (
        t["products"].as_i64().expect("products"),
        t["variants"].as_i64().expect("variants"),
        t["inventory"].as_i64().expect("inventory"),
        t["orders"].as_i64().expect("orders"),
        t["order_total"].as_str().expect("order total").to_owned(),
    )
}

/// A Shopify delivery to `shop` signed with `key`, as Shopify sends it (`X-Shopify-*` headers); the caller adds the
/// webhook and event ids.
pub fn shopify_delivery(app: &TestApp, shop: &str, topic: &str, key: &str, body: &Value) -> reqwest::RequestBuilder {
    let raw = serde_json::to_vec(body).expect("JSON");
    app.client
        .post(format!("{}/api/webhooks/shopify", app.address))
        .header("content-type", "application/json")
        .header("x-shopify-topic", topic)
        .header("x-shopify-shop-domain", shop)
        .header("x-shopify-api-version", "2026-10")
        .header("x-shopify-hmac-sha256", sign_webhook(key, &raw))
        .body(raw)
}

/// Delivers [`shopify_delivery`] with a fresh webhook id and `event` as its event id.
pub async fn deliver_shopify(
    app: &TestApp,
    shop: &str,
    topic: &str,
    key: &str,
    body: &Value,
    event: &str,
) -> reqwest::Response {
    shopify_delivery(app, shop, topic, key, body)
        .header("x-shopify-webhook-id", Uuid::new_v4().to_string())
        .header("x-shopify-event-id", event)
        .send()
        .await
        .expect("delivered")
}

/// A product as a Shopify webhook body (the REST representation) with one variant, 77.
pub fn rest_product(id: u64, title: &str, updated: DateTime<Utc>) -> Value {
    json!({
        "id": id, "admin_graphql_api_id": format!("gid://shopify/Product/{id}"), "title": title,
        "body_html": "<p>Warm &amp; dry</p>", "vendor": "Acme", "product_type": "Coats", "status": "active",
        "updated_at": updated.to_rfc3339(),
        "variants": [{ "id": 77, "admin_graphql_api_id": "gid://shopify/ProductVariant/77", "title": "M",
                       "price": "120.00", "sku": "COAT-M", "inventory_quantity": 4 }]
    })
}

/// An order as a Shopify webhook body: one line of two units of product 42 / variant 77, `total` in all, bought
/// by customer 191167 (whose e-mail address the app must never keep).
pub fn rest_order(id: u64, total: &str) -> Value {
    json!({
        "id": id, "admin_graphql_api_id": format!("gid://shopify/Order/{id}"), "created_at": Utc::now().to_rfc3339(),
        "updated_at": Utc::now().to_rfc3339(), "financial_status": "paid", "fulfillment_status": null,
        "total_price": total, "customer": { "id": 191167, "email": "john@example.com" },
        "line_items": [{ "id": 1, "product_id": 42, "variant_id": 77, "quantity": 2, "price": "120.00",
                         "discount_allocations": [] }]
    })
}

/// Cents as a decimal string.
pub fn dollars(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A product's title by external id, straight from the database.
pub async fn title_of(app: &TestApp, organization: Uuid, external_id: &str) -> Option<String> {
    match &app.state.db {
        shared::db::Database::Postgres(pool) => {
            sqlx::query_scalar("SELECT title FROM products WHERE organization_id = $1 AND external_id = $2")
                .bind(organization)
                .bind(external_id)
                .fetch_optional(pool)
                .await
                .expect("query")
        }
        shared::db::Database::Sqlite(pool) => {
            sqlx::query_scalar("SELECT title FROM products WHERE organization_id = $1 AND external_id = $2")
                .bind(organization)
                .bind(external_id)
                .fetch_optional(pool)
                .await
                .expect("query")
        }
    }
}

/// A product's id by external id, straight from the database.
pub async fn product_id_of(app: &TestApp, organization: Uuid, external_id: &str) -> Option<Uuid> {
    let sql = "SELECT id FROM products WHERE organization_id = $1 AND external_id = $2";
    match &app.state.db {
        shared::db::Database::Postgres(pool) => {
            sqlx::query_scalar(sql).bind(organization).bind(external_id).fetch_optional(pool).await.expect("query")
        }
        shared::db::Database::Sqlite(pool) => {
            sqlx::query_scalar(sql).bind(organization).bind(external_id).fetch_optional(pool).await.expect("query")
        }
    }
}

/// The stored checkpoint JSON of a store.
pub async fn checkpoint_of(app: &TestApp, store: Uuid) -> String {
    match &app.state.db {
        shared::db::Database::Postgres(pool) => {
            sqlx::query_scalar("SELECT checkpoint FROM store_connections WHERE store_id = $1")
                .bind(store)
                .fetch_one(pool)
                .await
                .expect("query")
        }
        shared::db::Database::Sqlite(pool) => {
            sqlx::query_scalar("SELECT checkpoint FROM store_connections WHERE store_id = $1")
                .bind(store)
                .fetch_one(pool)
                .await
                .expect("query")
        }
    }
}
