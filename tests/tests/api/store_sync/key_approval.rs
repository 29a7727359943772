//! Connecting a WooCommerce site by key approval against the WooCommerce fake: the approval URL on the merchant's
//! site, the keys the site posts to our callback, the webhooks the app creates with its secret (when the keys may
//! write), the first sync, a signed delivery and the removal on disconnect; and every hostile callback refused with
//! nothing stored.

use chrono::{TimeDelta, Utc};
use reqwest::{Method, Url};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::{platforms::Credentials, secrets::SecretName};
use tests::{
    Backend, TestApp,
    platform_fakes::{
        shopify::{FakeShop, FakeShopify, ShopifyConfig, sign_callback},
        sign_webhook,
        woocommerce::{FakeWoo, WooProduct, WooSite},
    },
};
use uuid::Uuid;

use super::{CLIENT_ID, CLIENT_SECRET, Merchant, app_for, call, merchant, title_of};

const TOPICS: [&str; 6] =
    ["product.created", "product.updated", "product.deleted", "order.created", "order.updated", "order.deleted"];

fn mug() -> WooProduct {
    WooProduct {
        id: 502,
        name: "Plain mug".into(),
        status: "publish",
        price_cents: 950,
        stock: Some(7),
        category: "Mugs".into(),
        modified: Utc::now() - TimeDelta::days(3),
        variations: Vec::new(),
        cost_cents: None,
    }
}

/// A fake site whose keys only an approval can learn, and its URL.
async fn site() -> (FakeWoo, String) {
    let fake = FakeWoo::start().await;
    let site = WooSite { products: vec![mug()], consumer_key: "ck_unknown".into(), ..WooSite::default() };
    let url = fake.add_site("mugs", site);
    (fake, url)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// `GET /api/v1/woocommerce/connect?site_url=…` as the merchant, asking for JSON: the approval URL.
async fn start(app: &TestApp, m: &Merchant, site_url: &str) -> Url {
    let path = format!("/api/v1/woocommerce/connect?site_url={}", urlencode(site_url));
    let response = app
        .request_in(Method::GET, &m.token, m.organization, &path)
        .header("accept", "application/json")
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200, "connect {site_url}");
    let body: Value = response.json().await.expect("JSON");
    Url::parse(body["authorize_url"].as_str().expect("authorize_url")).expect("a URL")
}

fn urlencode(text: &str) -> String {
    url_pairs(&[("v", text)]).trim_start_matches("v=").to_owned()
}

fn url_pairs(pairs: &[(&str, &str)]) -> String {
    let mut url = Url::parse("http://x/").expect("url");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

fn param(url: &Url, name: &str) -> String {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// The merchant approves on the fake's page, which posts the keys to our callback: where the browser goes next.
async fn approve(approval: &Url) -> reqwest::Response {
    no_redirects().get(approval.clone()).send().await.expect("approval page")
}

/// Posts keys to our callback as a site would.
async fn post_keys(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client.post(format!("{}/api/woocommerce/callback", app.address)).json(body).send().await.expect("callback")
}

async fn rows(app: &TestApp, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    match &app.state.db {
        shared::db::Database::Postgres(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await.expect("count"),
        shared::db::Database::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await.expect("count"),
    }
}

async fn assert_problem(response: reqwest::Response, status: u16, mentions: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = response.json().await.expect("problem");
    assert!(body["detail"].as_str().unwrap_or_default().contains(mentions), "{body}");
}

async fn assert_nothing_stored(app: &TestApp, fake: &FakeWoo) {
    assert_eq!(rows(app, "store_connections").await, 0, "no store");
    assert_eq!(rows(app, "stores").await, 0, "no store");
    assert!(fake.with_site("mugs", |s| s.webhooks.is_empty()), "no webhook");
}

async fn only_store(app: &TestApp, m: &Merchant) -> Uuid {
    let listed: Value = call(app, m, Method::GET, "/api/v1/stores", None).await.json().await.expect("JSON");
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{listed}");
    items[0]["id"].as_str().and_then(|id| id.parse().ok()).expect("id")
}

async fn approval_end_to_end(backend: Backend) {
    let (fake, site_url) = site().await;
    let app = app_for(backend, None, &[("WOOCOMMERCE_KEY_SCOPE", "read_write")]).await;
    let m = merchant(&app, "Mugs").await;

    let approval = start(&app, &m, &site_url).await;
    assert_eq!(approval.path(), "/mugs/wc-auth/v1/authorize");
    assert_eq!(param(&approval, "app_name"), "Retail AI Advisor");
    assert_eq!(param(&approval, "scope"), "read_write");
    assert!(param(&approval, "user_id").len() >= 43, "the state rides in user_id");
    assert_eq!(param(&approval, "callback_url"), format!("{}/api/woocommerce/callback", app.address));
    assert_eq!(param(&approval, "return_url"), format!("{}/api/app/#/stores", app.address));

    let back = approve(&approval).await;
    assert_eq!(back.status(), 302, "{:?}", fake.approvals());
    let location = back.headers()["location"].to_str().expect("text").to_owned();
    assert!(location.starts_with(&format!("{}/api/app/", app.address)) && location.contains("success=1"), "{location}");
    assert_eq!(fake.approvals()[0].callback_status, Some(200));

    let store = only_store(&app, &m).await;
    let secret = app.state.secrets.get(&SecretName::for_store(store)).await.expect("secrets").expect("stored");
    let Credentials::Woocommerce { consumer_key, webhook_secret, .. } = Credentials::from_secret(&secret).expect("ok")
    else {
        panic!("WooCommerce credentials");
    };
    assert_eq!(consumer_key.expose_secret(), fake.with_site("mugs", |s| s.consumer_key.clone()));
    let webhooks = fake.with_site("mugs", |s| s.webhooks.clone());
    let mut topics: Vec<&str> = webhooks.iter().map(|w| w.topic.as_str()).collect();
    topics.sort_unstable();
    let mut expected = TOPICS.to_vec();
    expected.sort_unstable();
    assert_eq!(topics, expected);
    let delivery_url = format!("{}/api/webhooks/woocommerce?store={store}", app.address);
    for webhook in &webhooks {
        assert_eq!(webhook.delivery_url, delivery_url);
        assert_eq!(webhook.secret, webhook_secret.expose_secret(), "signed with the store's own secret");
        assert_eq!(webhook.ping_status, Some(200), "the creation ping is answered");
    }

    tests::worker::sync_tick(&app.client, &app.address).await.expect("a scheduled sync");
    assert_eq!(title_of(&app, m.organization, "502").await.as_deref(), Some("Plain mug"), "the first sync ran");

    let renamed = json!({ "id": 502, "name": "Glazed mug", "type": "simple", "status": "publish", "price": "9.50",
                          "regular_price": "9.50", "stock_quantity": 7, "categories": [{"name": "Mugs"}],
                          "date_modified_gmt": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string() });
    let raw = serde_json::to_vec(&renamed).expect("JSON");
    let delivered = app
        .client
        .post(&delivery_url)
        .header("content-type", "application/json")
        .header("x-wc-webhook-topic", "product.updated")
        .header("x-wc-webhook-source", format!("{site_url}/"))
        .header("x-wc-webhook-delivery-id", "d-1")
        .header("x-wc-webhook-signature", sign_webhook(&webhooks[0].secret, &raw))
        .body(raw)
        .send()
        .await
        .expect("delivery");
    assert_eq!(delivered.json::<Value>().await.expect("receipt")["status"], "applied");
    assert_eq!(title_of(&app, m.organization, "502").await.as_deref(), Some("Glazed mug"));

    let removed = call(&app, &m, Method::DELETE, &format!("/api/v1/stores/{store}"), None).await;
    assert_eq!(removed.status(), 204);
    assert!(fake.with_site("mugs", |s| s.webhooks.is_empty()), "disconnecting deleted the webhooks");
}

#[tokio::test]
async fn an_approval_stores_the_keys_creates_signed_webhooks_syncs_and_applies_a_delivery_on_postgres() {
    approval_end_to_end(Backend::Postgres).await;
}

#[tokio::test]
async fn an_approval_stores_the_keys_creates_signed_webhooks_syncs_and_applies_a_delivery_on_sqlite() {
    approval_end_to_end(Backend::Sqlite).await;
}

#[tokio::test]
async fn read_only_keys_connect_the_store_and_the_site_refuses_them_its_webhooks() {
    let (fake, site_url) = site().await;
    let app = app_for(Backend::Sqlite, None, &[]).await;
    let m = merchant(&app, "Mugs").await;

    let approval = start(&app, &m, &site_url).await;
    assert_eq!(param(&approval, "scope"), "read", "read is the default");
    assert_eq!(approve(&approval).await.status(), 302);

    let store = only_store(&app, &m).await;
    assert_eq!(super::store(&app, &m, store).await["status"], "enabled");
    assert!(fake.with_site("mugs", |s| s.webhooks.is_empty()));
    let refused: Vec<u16> = fake.requests().iter().filter(|r| r.path == "POST webhooks").map(|r| r.status).collect();
    assert_eq!(refused, [401], "WooCommerce refuses writes with read keys; the sync polls instead");
}

#[tokio::test]
async fn replayed_unknown_expired_foreign_or_insufficient_approvals_are_refused_and_store_nothing() {
    let (fake, site_url) = site().await;
    let shopify = FakeShopify::start(ShopifyConfig::default()).await;
    shopify.set_client(CLIENT_ID, CLIENT_SECRET);
    shopify.add_shop("acme.myshopify.com", FakeShop { access_token: "x".into(), ..FakeShop::default() });
    let app = app_for(Backend::Postgres, Some(&shopify), &[]).await;
    let m = merchant(&app, "Mugs").await;
    let keys = |state: &str, permissions: &str| {
        json!({ "key_id": 1, "user_id": state, "consumer_key": "ck_forged", "consumer_secret": "cs_forged",
                "key_permissions": permissions })
    };

    assert_problem(post_keys(&app, &keys("never-issued", "read")).await, 400, "state").await;
    let write_only = param(&start(&app, &m, &site_url).await, "user_id");
    assert_problem(post_keys(&app, &keys(&write_only, "write")).await, 400, "cannot read").await;
    assert_problem(post_keys(&app, &keys(&write_only, "read")).await, 400, "already used").await;
    let late = param(&start(&app, &m, &site_url).await, "user_id");
    let shared::db::Database::Postgres(pool) = &app.state.db else { unreachable!() };
    sqlx::query("UPDATE onboarding_states SET expires_at = $1")
        .bind(Utc::now() - TimeDelta::minutes(11))
        .execute(pool)
        .await
        .expect("age the state");
    assert_problem(post_keys(&app, &keys(&late, "read")).await, 400, "expired").await;

    // A Shopify install's state is not a WooCommerce one, nor the other way round.
    let shopify_install = app
        .request_in(Method::GET, &m.token, m.organization, "/api/v1/shopify/install?shop=acme.myshopify.com")
        .header("accept", "application/json")
        .send()
        .await
        .expect("install");
    let authorize: Value = shopify_install.json().await.expect("JSON");
    let shopify_state = param(&Url::parse(authorize["authorize_url"].as_str().expect("url")).expect("url"), "state");
    assert_problem(post_keys(&app, &keys(&shopify_state, "read")).await, 400, "another store").await;
    let woo_state = param(&start(&app, &m, &site_url).await, "user_id");
    let query: Vec<(String, String)> = [
        ("code", "0123456789abcdef"),
        ("shop", "acme.myshopify.com"),
        ("state", woo_state.as_str()),
        ("timestamp", "1700000000"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec();
    let mut callback = Url::parse(&format!("{}/api/shopify/callback", app.address)).expect("url");
    let hmac = sign_callback(CLIENT_SECRET, &query);
    callback.query_pairs_mut().extend_pairs(&query).append_pair("hmac", &hmac);
    let from_that_browser = no_redirects().get(callback).header("cookie", format!("shopify_install_state={woo_state}"));
    assert_problem(from_that_browser.send().await.expect("callback"), 400, "another store").await;

    for body in [json!({ "user_id": "x" }), json!([1, 2])] {
        let response = post_keys(&app, &body).await;
        assert_eq!(response.status(), 422, "{body}");
    }
    let not_json = app
        .client
        .post(format!("{}/api/woocommerce/callback", app.address))
        .header("content-type", "text/plain")
        .body("consumer_key=ck")
        .send()
        .await
        .expect("callback");
    assert_eq!(not_json.status(), 415);
    assert_nothing_stored(&app, &fake).await;
    assert_eq!(shopify.with_shop("acme.myshopify.com", |s| s.installs), 0);
}

#[tokio::test]
async fn site_urls_reaching_metadata_or_private_addresses_are_refused_before_any_state_is_issued() {
    let app = app_for(Backend::Sqlite, None, &[("ALLOW_PRIVATE_STORE_URLS", "false")]).await;
    let m = merchant(&app, "Mugs").await;
    for site_url in
        ["http://169.254.169.254/latest", "http://127.0.0.1:8080", "http://[::ffff:10.0.0.1]/", "ftp://x.example"]
    {
        let path = format!("/api/v1/woocommerce/connect?site_url={}", urlencode(site_url));
        let response = call(&app, &m, Method::GET, &path, None).await;
        assert_problem(response, 422, "").await;
    }
    assert_eq!(rows(&app, "onboarding_states").await, 0);
}
