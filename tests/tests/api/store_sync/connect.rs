//! Connecting, listing, showing and disconnecting stores: validation at the edge, SSRF rules, roles, tenancy, and
//! credentials kept in the secrets port with only a reference in the database.

use reqwest::Method;
use serde_json::{Value, json};
use tests::{
    Backend,
    platform_fakes::shopify::{FakeShop, FakeShopify, ShopifyConfig},
};

use super::{app_for, call, connect_shopify, merchant, sync};

#[tokio::test]
async fn an_admin_connects_a_shopify_store_and_only_a_reference_to_the_token_is_stored() {
    let fake = FakeShopify::start(ShopifyConfig::default()).await;
    let shop = FakeShop { access_token: "shpat_0123456789abcdef".into(), ..FakeShop::default() };
    fake.add_shop("acme-outdoor.myshopify.com", shop);
    let app = app_for(Backend::Postgres, Some(&fake), &[]).await;
    let m = merchant(&app, "Acme").await;
    let body = json!({ "platform": "shopify", "shop_domain": "Acme-Outdoor.myshopify.com",
                       "access_token": "shpat_0123456789abcdef", "name": "Acme Outdoor" });

    let response = call(&app, &m, Method::POST, "/api/v1/stores", Some(body)).await;

    assert_eq!(response.status(), 201);
    let store: Value = response.json().await.expect("JSON");
    assert_eq!(store["platform"], "shopify");
    assert_eq!(store["address"], "acme-outdoor.myshopify.com");
    assert_eq!(store["status"], "enabled");
    assert_eq!(store["credentials"], "verified", "the token was checked against the shop");
    assert_eq!(store["name"], "Acme Outdoor");
    assert_eq!(store["webhook"]["url"], "/api/webhooks/shopify");
    assert!(!store.to_string().contains("shpat_0123456789abcdef"), "the token is never echoed");
    let id = store["id"].as_str().expect("id");
    let shared::db::Database::Postgres(pool) = &app.state.db else { unreachable!() };
    let row: (String, String) =
        sqlx::query_as("SELECT credential_ref, checkpoint FROM store_connections WHERE store_id = $1::uuid")
            .bind(id)
            .fetch_one(pool)
            .await
            .expect("connection row");
    assert_eq!(row.0, format!("store-{id}"));
    let dump: Vec<(String,)> =
        sqlx::query_as("SELECT row_to_json(c)::text FROM store_connections c").fetch_all(pool).await.expect("dump");
    assert!(dump.iter().all(|(text,)| !text.contains("shpat_")), "no credential in the database: {dump:?}");
    let stored = std::fs::read_to_string(std::path::Path::new(&app.env["SECRETS_DIR"]).join(format!("store-{id}")))
        .expect("the secrets port holds the credentials");
    assert!(stored.contains("shpat_0123456789abcdef"));

    let listed: Value = call(&app, &m, Method::GET, "/api/v1/stores", None).await.json().await.expect("JSON");
    assert_eq!(listed["items"].as_array().expect("items").len(), 1);
    assert_eq!(listed["items"][0]["sync"]["running"], false);
    assert_eq!(listed["next_cursor"], Value::Null);
}

#[tokio::test]
async fn connecting_a_store_twice_conflicts_and_a_disconnected_one_reconnects_with_its_history() {
    let fake = FakeShopify::start(ShopifyConfig::default()).await;
    fake.add_shop("acme.myshopify.com", FakeShop { access_token: "shpat_1".into(), ..FakeShop::default() });
    let app = app_for(Backend::Sqlite, Some(&fake), &[]).await;
    let m = merchant(&app, "Acme").await;
    let body = json!({ "platform": "shopify", "shop_domain": "acme.myshopify.com", "access_token": "shpat_1" });
    let first = call(&app, &m, Method::POST, "/api/v1/stores", Some(body.clone())).await;
    let id = first.json::<Value>().await.expect("JSON")["id"].as_str().expect("id").to_owned();

    let again = call(&app, &m, Method::POST, "/api/v1/stores", Some(body.clone())).await;
    let removed = call(&app, &m, Method::DELETE, &format!("/api/v1/stores/{id}"), None).await;
    let removed_twice = call(&app, &m, Method::DELETE, &format!("/api/v1/stores/{id}"), None).await;
    let shown: Value =
        call(&app, &m, Method::GET, &format!("/api/v1/stores/{id}"), None).await.json().await.expect("JSON");
    let secret_kept = std::path::Path::new(&app.env["SECRETS_DIR"]).join(format!("store-{id}")).exists();
    let back = call(&app, &m, Method::POST, "/api/v1/stores", Some(body)).await;

    assert_eq!(again.status(), 409);
    assert_eq!(removed.status(), 204);
    assert_eq!(removed_twice.status(), 204, "disconnecting is idempotent");
    assert_eq!(shown["status"], "disabled");
    assert_eq!(shown["disabled_reason"], "disconnected by an admin");
    assert!(!secret_kept, "credentials forgotten");
    assert_eq!(back.status(), 201);
    assert_eq!(back.json::<Value>().await.expect("JSON")["id"], id.as_str(), "the same store, with its history");
}

#[tokio::test]
async fn invalid_connection_requests_are_refused_naming_the_field() {
    let app = app_for(Backend::Sqlite, None, &[]).await;
    let m = merchant(&app, "Acme").await;
    let cases = [
        (
            json!({ "platform": "shopify", "shop_domain": "acme.com", "access_token": "t" }),
            "shop_domain",
            "not myshopify",
        ),
        (
            json!({ "platform": "shopify", "shop_domain": "acme.myshopify.com.evil.io", "access_token": "t" }),
            "shop_domain",
            "a lookalike",
        ),
        (
            json!({ "platform": "shopify", "shop_domain": "acme.myshopify.com", "access_token": " " }),
            "access_token",
            "a blank token",
        ),
        (
            json!({ "platform": "shopify", "shop_domain": "acme.myshopify.com", "access_token": "t", "refresh_token": "r" }),
            "refresh_token",
            "a refresh token without expiry",
        ),
        (
            json!({ "platform": "shopify", "shop_domain": "acme.myshopify.com", "access_token": "t", "expires_in": -5, "refresh_token": "r" }),
            "expires_in",
            "a negative lifetime",
        ),
        (
            json!({ "platform": "shopify", "shop_domain": "acme.myshopify.com", "access_token": "t", "expires_in": i64::MAX, "refresh_token": "r" }),
            "expires_in",
            "a lifetime that overflows time arithmetic",
        ),
        (
            json!({ "platform": "shopify", "shop_domain": "acme.myshopify.com", "access_token": "t", "expires_in": 9_223_372_036_854_i64, "refresh_token": "r" }),
            "expires_in",
            "a lifetime of millennia",
        ),
        (
            json!({ "platform": "shopify", "shop_domain": "acme.myshopify.com", "access_token": "t", "expires_in": 9_223_372_036_854_775_i64, "refresh_token": "r" }),
            "expires_in",
            "a lifetime past chrono's range",
        ),
        (
            json!({ "platform": "shopify", "shop_domain": "acme.myshopify.com", "access_token": "t", "expires_at": "9999-12-31T23:59:59Z", "refresh_token": "r" }),
            "expires_at",
            "an expiry at the end of time",
        ),
        (
            json!({ "platform": "shopify", "shop_domain": "acme.myshopify.com", "access_token": "t", "expires_at": "0001-01-01T00:00:00Z", "refresh_token": "r" }),
            "expires_at",
            "an expiry at the start of time",
        ),
        (
            json!({ "platform": "woocommerce", "site_url": "https://u:p@shop.example.com", "consumer_key": "ck", "consumer_secret": "cs" }),
            "site_url",
            "credentials in the URL",
        ),
        (
            json!({ "platform": "woocommerce", "site_url": "ftp://shop.example.com", "consumer_key": "ck", "consumer_secret": "cs" }),
            "site_url",
            "another scheme",
        ),
        (
            json!({ "platform": "woocommerce", "site_url": "http://127.0.0.1:9", "consumer_key": "", "consumer_secret": "cs" }),
            "consumer_key",
            "a blank key",
        ),
    ];
    for (body, field, why) in cases {
        let response = call(&app, &m, Method::POST, "/api/v1/stores", Some(body)).await;
        assert_eq!(response.status(), 422, "{why}");
        let problem: Value = response.json().await.expect("JSON");
        assert_eq!(problem["errors"][0]["field"], field, "{why}: {problem}");
    }
    let unknown = call(&app, &m, Method::POST, "/api/v1/stores", Some(json!({ "platform": "magento" }))).await;
    assert_eq!(unknown.status(), 422, "an unknown platform");
}

#[tokio::test]
async fn store_urls_reaching_private_or_metadata_addresses_are_refused() {
    let strict = app_for(Backend::Sqlite, None, &[("ALLOW_PRIVATE_STORE_URLS", "false")]).await;
    let relaxed = app_for(Backend::Sqlite, None, &[("ALLOW_PRIVATE_STORE_URLS", "true")]).await;
    let (sm, rm) = (merchant(&strict, "Strict").await, merchant(&relaxed, "Relaxed").await);
    let woo = |url: &str| json!({ "platform": "woocommerce", "site_url": url, "consumer_key": "ck_1", "consumer_secret": "cs_1" });
    let cases = [
        ("http://127.0.0.1:8080", false, true, "loopback"),
        ("http://localhost:8080", false, true, "a name resolving to loopback"),
        ("http://10.1.2.3", false, true, "private"),
        ("http://[::1]:8080", false, true, "IPv6 loopback"),
        ("http://169.254.169.254/latest/meta-data", false, false, "instance metadata"),
        ("http://168.63.129.16", false, false, "Azure WireServer"),
        ("http://0.0.0.0", false, false, "unspecified"),
        // IPv6 forms that carry an IPv4 address are judged by that address.
        ("http://[::7f00:1]:8080", false, true, "IPv4-compatible loopback"),
        ("http://[::a9fe:a9fe]", false, false, "IPv4-compatible metadata"),
        ("http://[::ffff:a9fe:a9fe]", false, false, "IPv4-mapped metadata"),
        ("http://[2002:a9fe:a9fe::]", false, false, "6to4 of metadata"),
        ("http://[64:ff9b::a9fe:a9fe]", false, false, "NAT64 of metadata"),
        ("http://[64:ff9b:1::a9fe:a9fe]", false, false, "local-use NAT64 of metadata"),
        ("http://[2001:0:5db8:d70e::5601:5601]", false, false, "Teredo client of metadata"),
        ("http://[2001:db8::1]", false, false, "IPv6 documentation"),
        ("http://192.0.2.1", false, false, "IPv4 documentation"),
        ("http://0xa9.0xfe.0xa9.0xfe", false, false, "metadata in hex"),
    ];
    for (url, strict_ok, relaxed_ok, why) in cases {
        let a = call(&strict, &sm, Method::POST, "/api/v1/stores", Some(woo(url))).await;
        let b = call(&relaxed, &rm, Method::POST, "/api/v1/stores", Some(woo(url))).await;
        assert_eq!(a.status() == 201, strict_ok, "strict, {why}: {}", a.text().await.unwrap_or_default());
        assert_eq!(b.status() == 201, relaxed_ok, "relaxed, {why}: {}", b.text().await.unwrap_or_default());
    }
}

#[tokio::test]
async fn members_read_stores_but_only_admins_change_them_and_other_tenants_see_nothing() {
    let fake = FakeShopify::start(ShopifyConfig::default()).await;
    fake.add_shop("acme.myshopify.com", FakeShop { access_token: "shpat_a".into(), ..FakeShop::default() });
    let app = app_for(Backend::Postgres, Some(&fake), &[]).await;
    let admin = merchant(&app, "Acme").await;
    let store = connect_shopify(&app, &admin, "acme.myshopify.com", "shpat_a").await;
    let member_id = uuid::Uuid::new_v4();
    let put = call(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/organizations/{}/members", admin.organization),
        Some(json!({ "user_id": member_id, "role": "member" })),
    )
    .await;
    assert!(put.status().is_success(), "add a member: {}", put.status());
    let member = super::Merchant { token: app.token_for(member_id), organization: admin.organization };
    let stranger = merchant(&app, "Globex").await;

    let member_reads = call(&app, &member, Method::GET, &format!("/api/v1/stores/{store}"), None).await.status();
    let member_jobs =
        call(&app, &member, Method::GET, &format!("/api/v1/stores/{store}/sync-jobs"), None).await.status();
    let member_writes = [
        call(
            &app,
            &member,
            Method::POST,
            "/api/v1/stores",
            Some(json!({ "platform": "shopify",
            "shop_domain": "x.myshopify.com", "access_token": "t" })),
        )
        .await
        .status(),
        call(&app, &member, Method::POST, &format!("/api/v1/stores/{store}/sync"), None).await.status(),
        call(&app, &member, Method::DELETE, &format!("/api/v1/stores/{store}"), None).await.status(),
    ];
    let stranger_sees = [
        call(&app, &stranger, Method::GET, &format!("/api/v1/stores/{store}"), None).await.status(),
        call(&app, &stranger, Method::GET, &format!("/api/v1/stores/{store}/sync-jobs"), None).await.status(),
        call(&app, &stranger, Method::POST, &format!("/api/v1/stores/{store}/sync"), None).await.status(),
        call(&app, &stranger, Method::DELETE, &format!("/api/v1/stores/{store}"), None).await.status(),
    ];
    let stranger_list: Value =
        call(&app, &stranger, Method::GET, "/api/v1/stores", None).await.json().await.expect("JSON");

    assert_eq!(member_reads, 200);
    assert_eq!(member_jobs, 200);
    assert!(member_writes.iter().all(|s| *s == 403), "{member_writes:?}");
    assert!(stranger_sees.iter().all(|s| *s == 404), "{stranger_sees:?}");
    assert_eq!(stranger_list["items"], json!([]));
    assert_eq!(sync(&app, &admin, store).await["status"], "succeeded", "the admin still can");
}

#[tokio::test]
async fn sync_jobs_page_newest_first_with_a_cursor() {
    let fake = FakeShopify::start(ShopifyConfig::default()).await;
    fake.add_shop("acme.myshopify.com", FakeShop { access_token: "shpat_a".into(), ..FakeShop::default() });
    let app = app_for(Backend::Sqlite, Some(&fake), &[]).await;
    let m = merchant(&app, "Acme").await;
    let store = connect_shopify(&app, &m, "acme.myshopify.com", "shpat_a").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(sync(&app, &m, store).await["id"].as_str().expect("id").to_owned());
    }

    let first: Value = call(&app, &m, Method::GET, &format!("/api/v1/stores/{store}/sync-jobs?limit=2"), None)
        .await
        .json()
        .await
        .expect("JSON");
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second: Value =
        call(&app, &m, Method::GET, &format!("/api/v1/stores/{store}/sync-jobs?limit=2&cursor={cursor}"), None)
            .await
            .json()
            .await
            .expect("JSON");
    let bad = call(&app, &m, Method::GET, &format!("/api/v1/stores/{store}/sync-jobs?cursor=garbage"), None).await;

    let seen: Vec<&str> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .chain(second["items"].as_array().expect("items"))
        .map(|j| j["id"].as_str().expect("id"))
        .collect();
    ids.reverse();
    assert_eq!(seen, ids);
    assert_eq!(second["next_cursor"], Value::Null);
    let job = &first["items"][0];
    for field in [
        "trigger",
        "status",
        "started_at",
        "finished_at",
        "duration_ms",
        "pages",
        "created",
        "updated",
        "unchanged",
        "failed",
        "error",
    ] {
        assert!(job.get(field).is_some(), "{field} in {job}");
    }
    assert_eq!(job["trigger"], "manual");
    assert_eq!(bad.status(), 400);
}
