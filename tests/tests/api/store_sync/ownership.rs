//! A shop belongs to the organization that proved it controls it. Shopify signs every webhook with the app's one
//! client secret, so a delivery names a shop but proves nothing about who connected it: a token pasted at connect
//! time is verified against the shop's Admin API before anything is stored, deliveries reach only connections whose
//! credentials are proven, and a store whose token the platform refuses is disabled.

use chrono::Utc;
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use shared::{
    db::sync::NewConnection,
    platforms::{
        Credentials,
        address::{ShopDomain, StoreAddress},
    },
    secrets::SecretName,
    sync::CredentialsState,
};
use tests::{
    Backend, TestApp,
    platform_fakes::shopify::{FakeProduct, FakeShop, FakeShopify, FakeVariant, ShopifyConfig},
};
use uuid::Uuid;

use super::{CLIENT_SECRET, Merchant, app_for, call, deliver_shopify, merchant, rest_order, rest_product, store, sync};

const SHOP: &str = "globex.myshopify.com";

async fn fake_shop() -> FakeShopify {
    let fake = FakeShopify::start(ShopifyConfig::default()).await;
    let product = FakeProduct {
        id: 42,
        title: "Coat".into(),
        description: "Warm".into(),
        vendor: "Globex".into(),
        product_type: "Coats".into(),
        status: "ACTIVE",
        updated_at: Utc::now() - chrono::TimeDelta::days(1),
        variants: vec![FakeVariant {
            id: 77,
            sku: "COAT-M".into(),
            title: "M".into(),
            price_cents: 12000,
            inventory: 4,
            unit_cost_cents: None,
        }],
    };
    fake.add_shop(
        SHOP,
        FakeShop { products: vec![product], access_token: "shpat_globex".into(), ..FakeShop::default() },
    );
    fake
}

/// A connection stored as every connection was before tokens were verified: enabled, unproven, with whatever token
/// its admin typed.
async fn legacy_unverified_connection(app: &TestApp, m: &Merchant, token: &str) -> Uuid {
    let store = Uuid::new_v4();
    let name = SecretName::for_store(store);
    let credentials = Credentials::Shopify {
        access_token: SecretString::from(token.to_owned()),
        refresh_token: None,
        expires_at: None,
    };
    app.state.secrets.put(&name, credentials.to_secret()).await.expect("store the credentials");
    let address = StoreAddress::Shop(ShopDomain::parse(SHOP).expect("a shop domain"));
    let new = NewConnection {
        store,
        name: "Globex (typed in)",
        address: &address,
        credential_ref: &name,
        credentials: CredentialsState::Unverified,
    };
    app.state.db.create_connected_store(m.organization, &new).await.expect("a legacy connection");
    store
}

async fn product_titles(app: &TestApp, m: &Merchant) -> Vec<String> {
    let page: Value = call(app, m, Method::GET, "/api/v1/products?limit=100", None).await.json().await.expect("JSON");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn attack(backend: Backend) {
    let fake = fake_shop().await;
    let app = app_for(backend, Some(&fake), &[]).await;
    let (owner, attacker) = (merchant(&app, "Globex").await, merchant(&app, "Intruder").await);
    let owned = super::connect_shopify(&app, &owner, SHOP, "shpat_globex").await;
    assert_eq!(sync(&app, &owner, owned).await["status"], "succeeded", "{backend:?}");

    // A made-up token for someone else's shop is refused before anything is stored.
    let made_up = json!({ "platform": "shopify", "shop_domain": SHOP, "access_token": "shpat_made_up" });
    let refused = call(&app, &attacker, Method::POST, "/api/v1/stores", Some(made_up)).await;
    assert_eq!(refused.status(), 422, "{backend:?}");
    let problem: Value = refused.json().await.expect("JSON");
    assert_eq!(problem["errors"][0]["field"], "access_token", "{backend:?}: {problem}");
    let listed: Value = call(&app, &attacker, Method::GET, "/api/v1/stores", None).await.json().await.expect("JSON");
    assert_eq!(listed["items"], json!([]), "{backend:?}: no store row");
    let secrets = std::fs::read_dir(&app.env["SECRETS_DIR"]).expect("secrets folder").count();
    assert_eq!(secrets, 1, "{backend:?}: only the owner's credentials were kept");

    // A connection made before tokens were verified gets none of the shop's deliveries.
    let intruding = legacy_unverified_connection(&app, &attacker, "shpat_made_up").await;
    let product = deliver_shopify(
        &app,
        SHOP,
        "products/update",
        CLIENT_SECRET,
        &rest_product(43, "Secret launch", Utc::now()),
        "evt-p",
    )
    .await;
    let order = deliver_shopify(&app, SHOP, "orders/create", CLIENT_SECRET, &rest_order(9001, "245.00"), "evt-o").await;
    assert_eq!(product.json::<Value>().await.expect("JSON")["status"], "applied", "{backend:?}");
    assert_eq!(order.json::<Value>().await.expect("JSON")["status"], "applied", "{backend:?}");

    let intruder_view = store(&app, &attacker, intruding).await;
    assert_eq!(intruder_view["credentials"], "unverified", "{backend:?}");
    assert_eq!(intruder_view["totals"]["products"], 0, "{backend:?}: {intruder_view}");
    assert_eq!(intruder_view["totals"]["orders"], 0, "{backend:?}: {intruder_view}");
    assert!(product_titles(&app, &attacker).await.is_empty(), "{backend:?}: nothing in the intruder's catalogue");
    let intruder_revenue = app.state.db.stored_rollups(attacker.organization).await.expect("rollups");
    assert_eq!(intruder_revenue, shared::analytics::Rollups::new(), "{backend:?}: the intruder's totals never moved");
    let owner_view = store(&app, &owner, owned).await;
    assert_eq!(owner_view["totals"]["products"], 2, "{backend:?}: the owner got the new product");
    assert_eq!(owner_view["totals"]["order_total"], "245.00", "{backend:?}");
    assert!(product_titles(&app, &owner).await.contains(&"Secret launch".to_owned()), "{backend:?}");

    // Its own sync meets the platform's refusal: the store is disabled, with the reason shown.
    let job = sync(&app, &attacker, intruding).await;
    let disabled = store(&app, &attacker, intruding).await;
    assert_eq!(job["status"], "failed", "{backend:?}");
    assert_eq!(disabled["status"], "disabled", "{backend:?}: {disabled}");
    assert!(
        disabled["disabled_reason"].as_str().unwrap_or_default().contains("refused the credentials"),
        "{backend:?}: {disabled}"
    );
}

#[tokio::test]
async fn another_organization_cannot_receive_a_shops_data_with_a_made_up_token() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        attack(backend).await;
    }
}

#[tokio::test]
async fn two_organizations_with_proven_tokens_both_receive_the_shops_deliveries() {
    let fake = fake_shop().await;
    let app = app_for(Backend::Sqlite, Some(&fake), &[]).await;
    let (owner, agency) = (merchant(&app, "Globex").await, merchant(&app, "Agency").await);
    let first = super::connect_shopify(&app, &owner, SHOP, "shpat_globex").await;
    let second = super::connect_shopify(&app, &agency, SHOP, "shpat_globex").await;

    let delivered =
        deliver_shopify(&app, SHOP, "products/update", CLIENT_SECRET, &rest_product(43, "Launch", Utc::now()), "e")
            .await;

    assert_eq!(delivered.json::<Value>().await.expect("JSON")["status"], "applied");
    assert_eq!(store(&app, &owner, first).await["totals"]["products"], 1);
    assert_eq!(store(&app, &agency, second).await["totals"]["products"], 1);
}

#[tokio::test]
async fn one_shop_has_at_most_one_enabled_unproven_connection() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let fake = fake_shop().await;
        let app = app_for(backend, Some(&fake), &[]).await;
        let (a, b) = (merchant(&app, "A").await, merchant(&app, "B").await);
        legacy_unverified_connection(&app, &a, "shpat_one").await;

        let store = Uuid::new_v4();
        let credential_ref = SecretName::for_store(store);
        let address = StoreAddress::Shop(ShopDomain::parse(SHOP).expect("a shop domain"));
        let second = NewConnection {
            store,
            name: "Another",
            address: &address,
            credential_ref: &credential_ref,
            credentials: CredentialsState::Unverified,
        };
        let refused = app.state.db.create_connected_store(b.organization, &second).await;
        let proven = app
            .state
            .db
            .create_connected_store(
                b.organization,
                &NewConnection { credentials: CredentialsState::Verified, ..second },
            )
            .await;

        assert!(refused.as_ref().is_err_and(shared::db::DbError::is_unique_violation), "{backend:?}: {refused:?}");
        assert!(proven.is_ok(), "{backend:?}: a proven connection may join: {proven:?}");
    }
}
