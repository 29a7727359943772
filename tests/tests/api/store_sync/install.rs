//! Connecting a Shopify store by installing the app (OAuth authorization code grant) against the Shopify fake: the
//! install URL, the approval, the signed callback, the code exchange for an expiring offline token, the webhook
//! subscriptions, the first sync and a delivery; and every hostile callback refused with nothing stored.

use chrono::{TimeDelta, Utc};
use reqwest::{Method, Url};
use secrecy::ExposeSecret;
use serde_json::Value;
use shared::{platforms::Credentials, secrets::SecretName};
use tests::{
    Backend, TestApp,
    platform_fakes::shopify::{FakeProduct, FakeShop, FakeShopify, FakeVariant, ShopifyConfig, sign_callback},
};
use uuid::Uuid;

use super::{CLIENT_ID, CLIENT_SECRET, Merchant, app_for, call, deliver_shopify, merchant, rest_product, title_of};

const SHOP: &str = "acme.myshopify.com";
const OTHER_SHOP: &str = "globex.myshopify.com";

/// The topics an install subscribes, as GraphQL names them.
const SUBSCRIBED: [&str; 8] = [
    "PRODUCTS_CREATE",
    "PRODUCTS_UPDATE",
    "PRODUCTS_DELETE",
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "ORDERS_DELETE",
    "INVENTORY_LEVELS_UPDATE",
    "APP_UNINSTALLED",
];

fn coat() -> FakeProduct {
    FakeProduct {
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
    }
}

/// The fake with the app's client registered and two shops whose tokens only an install can learn.
async fn fake() -> FakeShopify {
    let fake = FakeShopify::start(ShopifyConfig::default()).await;
    fake.set_client(CLIENT_ID, CLIENT_SECRET);
    for shop in [SHOP, OTHER_SHOP] {
        let data =
            FakeShop { products: vec![coat()], access_token: "shpat_not_issued_yet".into(), ..FakeShop::default() };
        fake.add_shop(shop, data);
    }
    fake
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// An install on its way: a URL and the install cookie of the browser that started it.
#[derive(Clone)]
struct Leg {
    url: Url,
    cookie: String,
}

/// The `name=value` of the install cookie a response sets.
fn install_cookie(response: &reqwest::Response) -> String {
    let set = response.headers()["set-cookie"].to_str().expect("text");
    set.split(';').next().expect("name=value").to_owned()
}

/// `GET /api/v1/shopify/install?shop=…` as the merchant, asking for JSON: the authorize URL and the cookie.
async fn start_install(app: &TestApp, m: &Merchant, shop: &str) -> Leg {
    let response = app
        .request_in(Method::GET, &m.token, m.organization, &format!("/api/v1/shopify/install?shop={shop}"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200, "install {shop}");
    let cookie = install_cookie(&response);
    let body: Value = response.json().await.expect("JSON");
    Leg { url: Url::parse(body["authorize_url"].as_str().expect("authorize_url")).expect("a URL"), cookie }
}

/// The merchant approves on the fake's page: the callback URL Shopify redirects the same browser to.
async fn approve(authorize: &Leg) -> Leg {
    let response = no_redirects().get(authorize.url.clone()).send().await.expect("approval page");
    assert_eq!(response.status(), 302, "the fake approves at once");
    let url = Url::parse(response.headers()["location"].to_str().expect("text")).expect("a URL");
    Leg { url, cookie: authorize.cookie.clone() }
}

/// Calls the callback (the test app's `APP_URL` is its own address) from the browser of `leg`, asking for JSON.
async fn complete(leg: &Leg) -> reqwest::Response {
    no_redirects()
        .get(leg.url.clone())
        .header("accept", "application/json")
        .header("cookie", &leg.cookie)
        .send()
        .await
        .expect("callback")
}

fn pairs(url: &Url) -> Vec<(String, String)> {
    url.query_pairs().into_owned().collect()
}

/// `leg` with its query changed by `change` and signed again with `secret`, as Shopify would sign it.
fn resigned(leg: &Leg, secret: &str, change: impl FnOnce(&mut Vec<(String, String)>)) -> Leg {
    let mut query: Vec<(String, String)> = pairs(&leg.url).into_iter().filter(|(k, _)| k != "hmac").collect();
    change(&mut query);
    let hmac = sign_callback(secret, &query);
    let mut signed = leg.clone();
    signed.url.query_pairs_mut().clear().extend_pairs(&query).append_pair("hmac", &hmac);
    signed
}

fn set(query: &mut [(String, String)], name: &str, value: &str) {
    query.iter_mut().filter(|(k, _)| k == name).for_each(|(_, v)| *v = value.to_owned());
}

async fn assert_problem(response: reqwest::Response, status: u16, mentions: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = response.json().await.expect("problem");
    assert!(body["detail"].as_str().unwrap_or_default().contains(mentions), "{body}");
}

/// Rows of a table, across organizations.
async fn rows(app: &TestApp, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    match &app.state.db {
        shared::db::Database::Postgres(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await.expect("count"),
        shared::db::Database::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await.expect("count"),
    }
}

/// Files in the secrets port's folder.
fn secrets_kept(app: &TestApp) -> usize {
    std::fs::read_dir(&app.env["SECRETS_DIR"]).map_or(0, |dir| dir.count())
}

/// Nothing of an install is stored: no store, no credentials, no subscription, and no token was issued.
async fn assert_nothing_stored(app: &TestApp, fake: &FakeShopify, secrets_before: usize) {
    assert_eq!(rows(app, "store_connections").await, 0, "no store");
    assert_eq!(rows(app, "stores").await, 0, "no store");
    assert_eq!(secrets_kept(app), secrets_before, "no credentials");
    for shop in [SHOP, OTHER_SHOP] {
        assert!(fake.subscriptions(shop).is_empty(), "no webhook subscription on {shop}");
        assert_eq!(fake.with_shop(shop, |s| s.installs), 0, "no token issued for {shop}");
    }
}

async fn stored_credentials(app: &TestApp, store: Uuid) -> Credentials {
    let secret = app.state.secrets.get(&SecretName::for_store(store)).await.expect("secrets").expect("stored");
    Credentials::from_secret(&secret).expect("readable")
}

async fn install_end_to_end(backend: Backend) {
    let fake = fake().await;
    let app = app_for(backend, Some(&fake), &[]).await;
    let m = merchant(&app, "Acme").await;

    let authorize = start_install(&app, &m, SHOP).await;
    let asked = pairs(&authorize.url);
    let param = |name: &str| asked.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(authorize.url.path(), format!("/{SHOP}/admin/oauth/authorize"));
    assert_eq!(param("client_id"), CLIENT_ID);
    assert_eq!(param("scope"), "read_products,read_orders,read_inventory");
    assert_eq!(param("redirect_uri"), format!("{}/api/shopify/callback", app.address));
    assert!(param("state").len() >= 43, "a long random state");
    assert!(!asked.iter().any(|(k, _)| k.starts_with("grant_options")), "an offline token is asked for");
    assert_eq!(authorize.cookie, format!("shopify_install_state={}", param("state")), "bound to this browser");

    let callback = approve(&authorize).await;
    let response = complete(&callback).await;
    assert_eq!(response.status(), 200);
    let cleared = response.headers()["set-cookie"].to_str().expect("text").to_owned();
    assert!(cleared.starts_with("shopify_install_state=;") && cleared.contains("Max-Age=0"), "{cleared}");
    let installed: Value = response.json().await.expect("JSON");
    let store: Uuid = installed["store"].as_str().and_then(|id| id.parse().ok()).expect("store id");
    assert_eq!(installed["webhooks_created"], 8);

    let Credentials::Shopify { access_token, refresh_token, expires_at } = stored_credentials(&app, store).await else {
        panic!("Shopify credentials");
    };
    assert_eq!(access_token.expose_secret(), "shpat_installed_1", "the exchanged token is in the secrets port");
    assert_eq!(refresh_token.expect("an expiring token").expose_secret(), "shprt_installed_1");
    let lifetime = expires_at.expect("its expiry") - Utc::now();
    assert!(lifetime > TimeDelta::minutes(55) && lifetime <= TimeDelta::hours(1), "{lifetime}");
    let view = super::store(&app, &m, store).await;
    assert_eq!(view["credentials"], "verified", "an install proves the shop");
    assert_eq!(view["address"], SHOP);
    assert_eq!(view["status"], "enabled");

    let subscriptions = fake.subscriptions(SHOP);
    let mut topics: Vec<&str> = subscriptions.iter().map(|s| s.topic.as_str()).collect();
    topics.sort_unstable();
    let mut expected = SUBSCRIBED.to_vec();
    expected.sort_unstable();
    assert_eq!(topics, expected);
    let delivery_uri = format!("{}/api/webhooks/shopify", app.address);
    assert!(subscriptions.iter().all(|s| s.uri == delivery_uri), "{subscriptions:?}");

    // The first sync is due at once: the timer's next tick runs it.
    tests::worker::sync_tick(&app.client, &app.address).await.expect("a scheduled sync");
    let jobs: Value = call(&app, &m, Method::GET, &format!("/api/v1/stores/{store}/sync-jobs"), None)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(jobs["items"][0]["trigger"], "timer", "{jobs}");
    assert_eq!(jobs["items"][0]["status"], "succeeded", "{jobs}");
    assert_eq!(title_of(&app, m.organization, "gid://shopify/Product/42").await.as_deref(), Some("Coat"));

    let renamed = rest_product(42, "Coat, waxed", Utc::now());
    let delivered = deliver_shopify(&app, SHOP, "products/update", CLIENT_SECRET, &renamed, "evt-1").await;
    assert_eq!(delivered.status(), 200);
    assert_eq!(delivered.json::<Value>().await.expect("receipt")["status"], "applied");
    assert_eq!(title_of(&app, m.organization, "gid://shopify/Product/42").await.as_deref(), Some("Coat, waxed"));
}

#[tokio::test]
async fn an_install_stores_an_expiring_token_subscribes_webhooks_and_syncs_then_deliveries_apply_on_postgres() {
    install_end_to_end(Backend::Postgres).await;
}

#[tokio::test]
async fn an_install_stores_an_expiring_token_subscribes_webhooks_and_syncs_then_deliveries_apply_on_sqlite() {
    install_end_to_end(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_browser_is_redirected_both_ways_and_only_admins_install_permanent_shop_domains() {
    let fake = fake().await;
    let app = app_for(Backend::Sqlite, Some(&fake), &[]).await;
    let m = merchant(&app, "Acme").await;
    let browser = no_redirects();

    let response = browser
        .get(format!("{}/api/v1/shopify/install?shop={SHOP}", app.address))
        .bearer_auth(&m.token)
        .header("x-organization-id", m.organization.to_string())
        .header("accept", "text/html")
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 302);
    let set_cookie = response.headers()["set-cookie"].to_str().expect("text").to_owned();
    for attribute in ["Max-Age=600", "Path=/api/shopify/callback", "HttpOnly", "SameSite=Lax"] {
        assert!(set_cookie.contains(attribute), "{attribute}: {set_cookie}");
    }
    let url = Url::parse(response.headers()["location"].to_str().expect("text")).expect("URL");
    assert!(url.as_str().starts_with(&format!("{}/{SHOP}/admin/oauth/authorize?", fake.address)));
    let callback = approve(&Leg { url, cookie: install_cookie(&response) }).await;
    let finished = browser
        .get(callback.url)
        .header("accept", "text/html")
        .header("cookie", callback.cookie)
        .send()
        .await
        .expect("callback");
    assert_eq!(finished.status(), 302);
    assert_eq!(finished.headers()["location"], format!("{}/api/app/#/stores", app.address).as_str());

    for shop in ["acme.example.com", "acme.myshopify.com.evil.example", ""] {
        let response = call(&app, &m, Method::GET, &format!("/api/v1/shopify/install?shop={shop}"), None).await;
        assert_problem(response, 400, "myshopify.com").await;
    }
    let member_id = Uuid::new_v4();
    let member = app.token_for(member_id);
    let body = serde_json::json!({ "user_id": member_id, "role": "member" });
    let members = format!("/api/v1/organizations/{}/members", m.organization);
    let added = call(&app, &m, Method::POST, &members, Some(body)).await;
    assert!(added.status().is_success(), "{}", added.status());
    let not_admin = Merchant { token: member, organization: m.organization };
    let refused = call(&app, &not_admin, Method::GET, &format!("/api/v1/shopify/install?shop={SHOP}"), None).await;
    assert_problem(refused, 403, "admin").await;
    let anonymous = app.get(&format!("/api/v1/shopify/install?shop={SHOP}")).await;
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_missing_or_forged_hmac_or_another_browser_is_refused_stores_nothing_and_leaves_the_state_to_its_owner() {
    let fake = fake().await;
    let app = app_for(Backend::Postgres, Some(&fake), &[]).await;
    let m = merchant(&app, "Acme").await;
    let secrets_before = secrets_kept(&app);
    let callback = approve(&start_install(&app, &m, SHOP).await).await;

    let mut unsigned = callback.clone();
    let kept: Vec<(String, String)> = pairs(&callback.url).into_iter().filter(|(k, _)| k != "hmac").collect();
    unsigned.url.query_pairs_mut().clear().extend_pairs(&kept);
    assert_problem(complete(&unsigned).await, 401, "hmac").await;
    let forged = resigned(&callback, "shpss_someone_elses_secret", |_| {});
    assert_problem(complete(&forged).await, 401, "hmac").await;
    let tampered = resigned(&callback, CLIENT_SECRET, |q| set(q, "shop", OTHER_SHOP));
    let mut tampered_unsigned = tampered.clone();
    let original_hmac = pairs(&callback.url).into_iter().find(|(k, _)| k == "hmac").expect("hmac").1;
    let reused: Vec<(String, String)> = pairs(&tampered.url)
        .into_iter()
        .map(|(k, v)| if k == "hmac" { (k, original_hmac.clone()) } else { (k, v) })
        .collect();
    tampered_unsigned.url.query_pairs_mut().clear().extend_pairs(&reused);
    assert_problem(complete(&tampered_unsigned).await, 401, "hmac").await;
    let elsewhere = Leg { url: callback.url.clone(), cookie: "shopify_install_state=another-browsers".into() };
    assert_problem(complete(&elsewhere).await, 400, "another browser").await;
    let no_cookie = Leg { url: callback.url.clone(), cookie: String::new() };
    assert_problem(complete(&no_cookie).await, 400, "another browser").await;
    assert_nothing_stored(&app, &fake, secrets_before).await;

    let genuine = complete(&callback).await;
    assert_eq!(genuine.status(), 200, "forgeries and other browsers did not use up the state");
}

#[tokio::test]
async fn a_replayed_expired_or_foreign_state_is_refused_and_stores_nothing() {
    let fake = fake().await;
    let app = app_for(Backend::Sqlite, Some(&fake), &[]).await;
    let m = merchant(&app, "Acme").await;
    let secrets_before = secrets_kept(&app);

    // Foreign: a state issued for one shop, brought back (validly signed) for another.
    let for_acme = approve(&start_install(&app, &m, SHOP).await).await;
    let switched = resigned(&for_acme, CLIENT_SECRET, |q| set(q, "shop", OTHER_SHOP));
    assert_problem(complete(&switched).await, 400, "another store").await;
    // Unknown: a state nobody issued.
    let made_up = "d2hvIG1hZGUgdGhpcyB1cD8gbm90IHRoZSBhcHA";
    let mut invented = resigned(&for_acme, CLIENT_SECRET, |q| set(q, "state", made_up));
    invented.cookie = format!("shopify_install_state={made_up}");
    assert_problem(complete(&invented).await, 400, "state").await;
    // Expired: issued more than ten minutes ago.
    let late = approve(&start_install(&app, &m, SHOP).await).await;
    let past = Utc::now() - TimeDelta::minutes(11);
    let shared::db::Database::Sqlite(pool) = &app.state.db else { unreachable!() };
    sqlx::query("UPDATE onboarding_states SET expires_at = $1").bind(past).execute(pool).await.expect("age the state");
    assert_problem(complete(&late).await, 400, "expired").await;
    assert_nothing_stored(&app, &fake, secrets_before).await;
    assert_eq!(rows(&app, "onboarding_states").await, 0, "refused states are used up");

    // Replayed: the same signed callback twice; the second exchanges nothing.
    let once = approve(&start_install(&app, &m, SHOP).await).await;
    assert_eq!(complete(&once).await.status(), 200);
    assert_problem(complete(&once).await, 400, "already used").await;
    assert_eq!(fake.with_shop(SHOP, |s| s.installs), 1, "the replay exchanged no code");
    assert_eq!(rows(&app, "store_connections").await, 1);
}

#[tokio::test]
async fn a_shop_outside_myshopify_and_a_code_shopify_refuses_are_refused_and_store_nothing() {
    let fake = fake().await;
    let app = app_for(Backend::Postgres, Some(&fake), &[]).await;
    let m = merchant(&app, "Acme").await;
    let secrets_before = secrets_kept(&app);
    let callback = approve(&start_install(&app, &m, SHOP).await).await;

    for shop in ["acme.example.com", "acme.myshopify.com.evil.example", "127.0.0.1"] {
        let elsewhere = resigned(&callback, CLIENT_SECRET, |q| set(q, "shop", shop));
        assert_problem(complete(&elsewhere).await, 400, "myshopify.com").await;
    }
    let made_up = resigned(&callback, CLIENT_SECRET, |q| set(q, "code", "0123456789abcdef0123456789abcdef"));
    assert_problem(complete(&made_up).await, 400, "authorization code").await;
    assert_nothing_stored(&app, &fake, secrets_before).await;
}

#[tokio::test]
async fn a_reinstall_replaces_the_token_without_duplicate_subscriptions_and_a_disconnect_removes_them() {
    let fake = fake().await;
    let app = app_for(Backend::Postgres, Some(&fake), &[]).await;
    let m = merchant(&app, "Acme").await;
    let first: Value = complete(&approve(&start_install(&app, &m, SHOP).await).await).await.json().await.expect("JSON");
    let store: Uuid = first["store"].as_str().and_then(|id| id.parse().ok()).expect("store");
    // Another app's subscription on the same shop is not ours to touch.
    fake.with_shop(SHOP, |shop| {
        shop.subscriptions.push(tests::platform_fakes::shopify::FakeSubscription {
            id: "gid://shopify/WebhookSubscription/999".into(),
            topic: "PRODUCTS_UPDATE".into(),
            uri: "https://elsewhere.example/hooks".into(),
        });
    });

    let again: Value = complete(&approve(&start_install(&app, &m, SHOP).await).await).await.json().await.expect("JSON");
    assert_eq!(again["store"], first["store"], "the same store");
    assert_eq!(again["webhooks_created"], 0, "every subscription existed");
    assert_eq!(fake.subscriptions(SHOP).len(), 9);
    let Credentials::Shopify { access_token, .. } = stored_credentials(&app, store).await else { panic!("Shopify") };
    assert_eq!(access_token.expose_secret(), "shpat_installed_2", "the new token replaced the old");
    let listed: Value = call(&app, &m, Method::GET, "/api/v1/stores", None).await.json().await.expect("JSON");
    assert_eq!(listed["items"].as_array().expect("items").len(), 1);

    let removed = call(&app, &m, Method::DELETE, &format!("/api/v1/stores/{store}"), None).await;
    assert_eq!(removed.status(), 204);
    let left = fake.subscriptions(SHOP);
    assert_eq!(left.len(), 1, "only the other app's subscription is left: {left:?}");
    assert_eq!(left[0].uri, "https://elsewhere.example/hooks");

    let back: Value = complete(&approve(&start_install(&app, &m, SHOP).await).await).await.json().await.expect("JSON");
    assert_eq!(back["store"], first["store"], "a disconnected store is reconnected by an install");
    assert_eq!(back["webhooks_created"], 8);
    assert_eq!(super::store(&app, &m, store).await["status"], "enabled");
}

#[tokio::test]
async fn a_token_without_every_requested_scope_is_refused_and_nothing_is_stored() {
    let fake = fake().await;
    fake.with_shop(SHOP, |shop| shop.withheld_scopes = vec!["read_all_orders".into()]);
    let scopes = "read_products,read_orders,read_inventory,read_all_orders";
    let app = app_for(Backend::Sqlite, Some(&fake), &[("SHOPIFY_SCOPES", scopes)]).await;
    let m = merchant(&app, "Acme").await;
    let secrets_before = secrets_kept(&app);

    let authorize = start_install(&app, &m, SHOP).await;
    assert_eq!(pairs(&authorize.url).iter().find(|(k, _)| k == "scope").map(|(_, v)| v.as_str()), Some(scopes));
    let response = complete(&approve(&authorize).await).await;

    assert_problem(response, 400, "did not grant read_all_orders").await;
    assert_eq!(rows(&app, "store_connections").await, 0);
    assert_eq!(secrets_kept(&app), secrets_before);
    assert!(fake.subscriptions(SHOP).is_empty());
}
