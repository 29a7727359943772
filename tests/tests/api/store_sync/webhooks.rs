//! Webhook deliveries: HMAC over the raw body (401 and nothing stored on a mismatch), dedup, the same upsert path
//! as the sync (an older version never overwrites a newer one), refreshes queued for what a payload cannot say, the
//! uninstall topic, and WooCommerce's ping.

use chrono::{TimeDelta, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use tests::{
    Backend, TestApp,
    platform_fakes::{
        shopify::{FakeProduct, FakeShop, FakeShopify, FakeVariant, ShopifyConfig},
        sign_webhook,
        woocommerce::{FakeWoo, WooOrder, WooProduct, WooSite, WooVariation},
    },
};

use super::{
    CLIENT_SECRET, app_for, call, connect_shopify, connect_woo, deliver_shopify, merchant, rest_order, rest_product,
    store, sync, title_of,
};

const SHOP: &str = "acme.myshopify.com";

async fn shopify_app_on(backend: Backend) -> (FakeShopify, TestApp, super::Merchant, uuid::Uuid) {
    let fake = FakeShopify::start(ShopifyConfig::default()).await;
    let product = FakeProduct {
        id: 42,
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
    };
    fake.add_shop(SHOP, FakeShop { products: vec![product], access_token: "shpat_a".into(), ..FakeShop::default() });
    let app = app_for(backend, Some(&fake), &[]).await;
    let m = merchant(&app, "Acme").await;
    let id = connect_shopify(&app, &m, SHOP, "shpat_a").await;
    assert_eq!(sync(&app, &m, id).await["status"], "succeeded");
    (fake, app, m, id)
}

#[tokio::test]
async fn a_shopify_delivery_with_a_bad_signature_is_refused_and_stores_nothing() {
    let (_fake, app, m, _) = shopify_app_on(Backend::Postgres).await;
    let body = serde_json::to_vec(&rest_product(42, "Hacked", Utc::now())).expect("JSON");
    let good = sign_webhook(CLIENT_SECRET, &body);
    let cases: [(Option<String>, Vec<u8>, &str); 4] = [
        (None, body.clone(), "no signature"),
        (Some(sign_webhook("another-app-secret", &body)), body.clone(), "another key"),
        (Some(good.clone()), [body.as_slice(), b" "].concat(), "a body changed after signing"),
        (Some("not-base64!".into()), body.clone(), "garbage"),
    ];
    for (signature, raw, why) in cases {
        let mut request = app
            .client
            .post(format!("{}/api/webhooks/shopify", app.address))
            .header("x-shopify-topic", "products/update")
            .header("x-shopify-shop-domain", SHOP)
            .body(raw);
        if let Some(signature) = signature {
            request = request.header("x-shopify-hmac-sha256", signature);
        }
        let response = request.send().await.expect("answer");
        assert_eq!(response.status(), 401, "{why}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{why}");
    }
    assert_eq!(title_of(&app, m.organization, "gid://shopify/Product/42").await.as_deref(), Some("Coat"));
}

#[tokio::test]
async fn shopify_deliveries_apply_once_and_never_roll_a_record_back() {
    let (_fake, app, m, id) = shopify_app_on(Backend::Postgres).await;
    let newer = rest_product(42, "Coat (winter)", Utc::now());
    let older = rest_product(42, "Coat (stale)", Utc::now() - TimeDelta::hours(1));
    let order = rest_order(9001, "245.00");

    let applied = deliver_shopify(&app, SHOP, "products/update", CLIENT_SECRET, &newer, "evt-1").await;
    let duplicate = deliver_shopify(&app, SHOP, "products/update", CLIENT_SECRET, &newer, "evt-1").await;
    let stale = deliver_shopify(&app, SHOP, "products/update", CLIENT_SECRET, &older, "evt-2").await;
    let ordered = deliver_shopify(&app, SHOP, "orders/create", CLIENT_SECRET, &order, "evt-3").await;

    let answer: Value = applied.json().await.expect("JSON");
    assert_eq!(answer["status"], "applied", "{answer}");
    assert_eq!(duplicate.json::<Value>().await.expect("JSON")["status"], "duplicate");
    assert_eq!(stale.status(), 200, "acknowledged");
    assert_eq!(title_of(&app, m.organization, "gid://shopify/Product/42").await.as_deref(), Some("Coat (winter)"));
    assert_eq!(ordered.status(), 200);
    let shown = store(&app, &m, id).await;
    assert_eq!(shown["totals"]["orders"], 1);
    assert_eq!(shown["totals"]["order_total"], "245.00");
    let rollups = app.state.db.stored_rollups(m.organization).await.expect("rollups");
    assert_eq!(
        rollups,
        app.state.db.recompute_rollups(m.organization).await.expect("recompute"),
        "rollups kept in step"
    );
}

#[tokio::test]
async fn an_inventory_delivery_queues_a_refresh_that_the_next_sync_applies() {
    let (fake, app, m, id) = shopify_app_on(Backend::Postgres).await;
    fake.with_shop(SHOP, |shop| shop.products[0].variants[0].inventory = 1);
    let level =
        json!({ "inventory_item_id": 77, "location_id": 1, "available": 1, "updated_at": Utc::now().to_rfc3339() });

    let queued = deliver_shopify(&app, SHOP, "inventory_levels/update", CLIENT_SECRET, &level, "evt-9").await;
    let job = sync(&app, &m, id).await;

    assert_eq!(queued.json::<Value>().await.expect("JSON")["status"], "queued");
    assert_eq!(job["status"], "succeeded", "{job}");
    assert!(fake.requests().iter().any(|r| r.operation == "RefreshProducts"));
    assert_eq!(store(&app, &m, id).await["totals"]["inventory"], 1);
}

#[tokio::test]
async fn app_uninstalled_disconnects_the_store() {
    let (_fake, app, m, id) = shopify_app_on(Backend::Postgres).await;
    let response =
        deliver_shopify(&app, SHOP, "app/uninstalled", CLIENT_SECRET, &json!({ "id": 1, "domain": SHOP }), "evt-u")
            .await;
    let shown = store(&app, &m, id).await;
    let sync_now = call(&app, &m, Method::POST, &format!("/api/v1/stores/{id}/sync"), None).await;

    assert_eq!(response.status(), 200);
    assert_eq!(shown["status"], "disabled");
    assert_eq!(shown["disabled_reason"], "the app was uninstalled from the shop");
    assert_eq!(shown["totals"]["products"], 1, "the data stays");
    assert_eq!(sync_now.status(), 404, "nothing to sync any more");
}

#[tokio::test]
async fn woocommerce_pings_are_answered_and_deliveries_verified_deduplicated_and_applied() {
    let fake = FakeWoo::start().await;
    let variable = WooProduct {
        id: 501,
        name: "Mug set".into(),
        status: "publish",
        price_cents: 0,
        stock: None,
        category: "Mugs".into(),
        modified: Utc::now() - TimeDelta::days(3),
        variations: vec![WooVariation {
            id: 601,
            price_cents: 1500,
            stock: 3,
            option: "Blue".into(),
            cost_cents: None,
        }],
        cost_cents: None,
    };
    let url = fake.add_site(
        "shop",
        WooSite {
            products: vec![variable],
            consumer_key: "ck_1".into(),
            consumer_secret: "cs_1".into(),
            ..WooSite::default()
        },
    );
    let app = app_for(Backend::Sqlite, None, &[]).await;
    let m = merchant(&app, "Mugs").await;
    let (id, secret) = connect_woo(&app, &m, &url, "ck_1", "cs_1").await;
    let endpoint = format!("{}/api/webhooks/woocommerce?store={id}", app.address);
    let deliver = |topic: &str, body: &Value, key: &str, delivery: &str| {
        let raw = serde_json::to_vec(body).expect("JSON");
        app.client
            .post(&endpoint)
            .header("content-type", "application/json")
            .header("x-wc-webhook-topic", topic)
            .header("x-wc-webhook-source", format!("{url}/"))
            .header("x-wc-webhook-delivery-id", delivery)
            .header("x-wc-webhook-signature", sign_webhook(key, &raw))
            .body(raw)
            .send()
    };
    let simple = json!({ "id": 502, "name": "Plain mug", "type": "simple", "status": "publish", "price": "9.50",
                         "regular_price": "9.50", "stock_quantity": 7, "categories": [{"name": "Mugs"}],
                         "date_modified_gmt": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string() });
    let variable_update = json!({ "id": 501, "name": "Mug set", "type": "variable", "status": "publish", "price": "",
                                  "date_modified_gmt": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string() });

    let ping = app
        .client
        .post(&endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("webhook_id=12")
        .send()
        .await
        .expect("ping");
    let before_first_sync = deliver("product.created", &simple, &secret, "d-early").await.expect("answer");
    let first_sync = sync(&app, &m, id).await;
    let forged = deliver("product.created", &simple, "not-the-secret", "d-0").await.expect("answer");
    let created = deliver("product.created", &simple, &secret, "d-1").await.expect("answer");
    let again = deliver("product.created", &simple, &secret, "d-1").await.expect("answer");
    let queued = deliver("product.updated", &variable_update, &secret, "d-2").await.expect("answer");
    let job = sync(&app, &m, id).await;

    assert_eq!(ping.status(), 200);
    assert_eq!(
        before_first_sync.json::<Value>().await.expect("JSON")["status"],
        "ignored",
        "the keys are proven by the first sync, which reads everything anyway"
    );
    assert_eq!(first_sync["status"], "succeeded");
    assert_eq!(forged.status(), 401);
    assert_eq!(created.json::<Value>().await.expect("JSON")["status"], "applied");
    assert_eq!(again.json::<Value>().await.expect("JSON")["status"], "duplicate");
    assert_eq!(queued.json::<Value>().await.expect("JSON")["status"], "queued", "variations are not in the payload");
    assert_eq!(job["status"], "succeeded");
    assert_eq!(title_of(&app, m.organization, "502").await.as_deref(), Some("Plain mug"));
    let shown = store(&app, &m, id).await;
    assert_eq!(shown["totals"]["products"], 2);
    assert_eq!(shown["totals"]["inventory"], 7 + 3);

    // An order with a refund of one line: the payload lists refunds by total only, so the order is applied with the
    // refund spread over its lines, and fetched again with the line it was for by the next sync.
    let now = Utc::now();
    fake.with_site("shop", |site| {
        site.orders.push(WooOrder {
            id: 71,
            status: "processing",
            created: now,
            modified: now,
            total_cents: 3400,
            lines: vec![(502, 0, 2, 1900), (501, 601, 1, 1500)],
            refunded_cents: 0,
            refunded_lines: vec![(1, 1, 1500)],
            customer_id: 0,
        });
    });
    let placed = now.format("%Y-%m-%dT%H:%M:%S").to_string();
    let refunded_order = json!({ "id": 71, "status": "processing", "date_created_gmt": placed, "date_modified_gmt": placed,
        "total": "34.00", "customer_id": 0,
        "line_items": [{ "id": 7100, "product_id": 502, "variation_id": 0, "quantity": 2, "total": "19.00" },
                       { "id": 7101, "product_id": 501, "variation_id": 601, "quantity": 1, "total": "15.00" }],
        "refunds": [{ "id": 710, "reason": "", "total": "-15.00" }] });
    let applied = deliver("order.updated", &refunded_order, &secret, "d-3").await.expect("answer");
    let answer: Value = applied.json().await.expect("JSON");
    assert_eq!(answer["status"], "applied", "{answer}");
    assert_eq!(refunded_lines(&app, "71").await, [(0, 838), (0, 662)], "spread by the lines' totals meanwhile");
    let job = sync(&app, &m, id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(refunded_lines(&app, "71").await, [(0, 0), (1, 1500)], "the refunded line, exactly");
    assert!(fake.requests().iter().any(|r| r.path == "orders/71/refunds"), "its refunds were read");
}

/// `(refunded units, refunded amount)` of each line of the order, in line order.
async fn refunded_lines(app: &TestApp, external_id: &str) -> Vec<(i32, i64)> {
    let sql = "SELECT l.refunded_quantity, l.refunded_minor FROM order_lines l JOIN orders o ON o.id = l.order_id \
               WHERE o.external_id = $1 ORDER BY l.line_no";
    match &app.state.db {
        shared::db::Database::Postgres(pool) => sqlx::query_as(sql).bind(external_id).fetch_all(pool).await,
        shared::db::Database::Sqlite(pool) => sqlx::query_as(sql).bind(external_id).fetch_all(pool).await,
    }
    .expect("lines")
}

/// Sends `copies` at once and returns each answer's `status`.
async fn statuses_of(copies: Vec<reqwest::RequestBuilder>) -> Vec<String> {
    futures::future::join_all(copies.into_iter().map(|copy| async move {
        let answer = copy.send().await.expect("answer");
        assert_eq!(answer.status(), 200, "every copy is acknowledged");
        answer.json::<Value>().await.expect("JSON")["status"].as_str().unwrap_or_default().to_owned()
    }))
    .await
}

/// How many deliveries a store has on record.
async fn deliveries_recorded(app: &TestApp, store: uuid::Uuid) -> i64 {
    let sql = "SELECT count(*) FROM webhook_deliveries WHERE store_id = $1";
    match &app.state.db {
        shared::db::Database::Postgres(pool) => sqlx::query_scalar(sql).bind(store).fetch_one(pool).await,
        shared::db::Database::Sqlite(pool) => sqlx::query_scalar(sql).bind(store).fetch_one(pool).await,
    }
    .expect("count")
}

#[tokio::test]
async fn twenty_concurrent_copies_of_one_shopify_webhook_id_are_applied_exactly_once() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let (_fake, app, m, id) = shopify_app_on(backend).await;
        let order = rest_order(9100, "245.00");
        let copies = (0..20)
            .map(|_| {
                super::shopify_delivery(&app, SHOP, "orders/create", CLIENT_SECRET, &order)
                    .header("x-shopify-webhook-id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
            })
            .collect();

        let statuses = statuses_of(copies).await;

        let applied = statuses.iter().filter(|s| *s == "applied").count();
        assert_eq!(applied, 1, "{backend:?}: {statuses:?}");
        assert!(statuses.iter().all(|s| s == "applied" || s == "duplicate"), "{backend:?}: {statuses:?}");
        assert_eq!(deliveries_recorded(&app, id).await, 1, "{backend:?}");
        assert_eq!(store(&app, &m, id).await["totals"]["orders"], 1, "{backend:?}");
    }
}

#[tokio::test]
async fn twenty_concurrent_copies_of_one_woocommerce_delivery_are_applied_exactly_once() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let fake = FakeWoo::start().await;
        let site = WooSite { consumer_key: "ck_1".into(), consumer_secret: "cs_1".into(), ..WooSite::default() };
        let url = fake.add_site("shop", site);
        let app = app_for(backend, None, &[]).await;
        let m = merchant(&app, "Mugs").await;
        let (id, secret) = connect_woo(&app, &m, &url, "ck_1", "cs_1").await;
        assert_eq!(sync(&app, &m, id).await["status"], "succeeded", "{backend:?}: the keys are proven");
        let product = json!({ "id": 502, "name": "Plain mug", "type": "simple", "status": "publish", "price": "9.50",
                              "regular_price": "9.50", "stock_quantity": 7, "categories": [{"name": "Mugs"}],
                              "date_modified_gmt": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string() });
        let raw = serde_json::to_vec(&product).expect("JSON");
        let copies = (0..20)
            .map(|_| {
                app.client
                    .post(format!("{}/api/webhooks/woocommerce?store={id}", app.address))
                    .header("content-type", "application/json")
                    .header("x-wc-webhook-topic", "product.created")
                    .header("x-wc-webhook-delivery-id", "d-race")
                    .header("x-wc-webhook-signature", sign_webhook(&secret, &raw))
                    .body(raw.clone())
            })
            .collect();

        let statuses = statuses_of(copies).await;

        let applied = statuses.iter().filter(|s| *s == "applied").count();
        assert_eq!(applied, 1, "{backend:?}: {statuses:?}");
        assert!(statuses.iter().all(|s| s == "applied" || s == "duplicate"), "{backend:?}: {statuses:?}");
        assert_eq!(deliveries_recorded(&app, id).await, 1, "{backend:?}");
        assert_eq!(store(&app, &m, id).await["totals"]["products"], 1, "{backend:?}");
    }
}
