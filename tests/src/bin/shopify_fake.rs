//! The Shopify fake as a standalone process, for the browser tests: the app's client registered, one shop with a
//! small catalogue whose token only an install can learn, so the dashboard's "Install on Shopify" goes through the
//! fake's approval page (which approves at once and signs its redirect, as Shopify documents it) and its token
//! endpoint. Prints one JSON line, `{"shop", "client_id", "client_secret", "authorize_url_template",
//! "token_url_template", "admin_url_template", "products"}`, then serves until its stdin closes.

use chrono::{TimeDelta, Utc};
use serde_json::json;
use tests::platform_fakes::shopify::{FakeProduct, FakeShop, FakeShopify, FakeVariant, ShopifyConfig};

const SHOP: &str = "browser-shop.myshopify.com";
const CLIENT_ID: &str = "browser-client-id";
const CLIENT_SECRET: &str = "browser-client-secret-0123456789abcdef";

#[tokio::main]
async fn main() {
    let fake = FakeShopify::start(ShopifyConfig::default()).await;
    fake.set_client(CLIENT_ID, CLIENT_SECRET);
    let products: Vec<FakeProduct> = (1..=5u64)
        .map(|i| FakeProduct {
            id: 900 + i,
            title: format!("Shopify wool scarf {i}"),
            description: "Warm".into(),
            vendor: "Acme".into(),
            product_type: "Scarves".into(),
            status: "ACTIVE",
            updated_at: Utc::now() - TimeDelta::days(i as i64),
            variants: vec![FakeVariant {
                id: 9900 + i,
                sku: format!("SCARF-{i}"),
                title: "Default".into(),
                price_cents: 2500 + 100 * i as i64,
                inventory: 10 + i as i64,
                unit_cost_cents: None,
            }],
        })
        .collect();
    let count = products.len();
    fake.add_shop(SHOP, FakeShop { products, access_token: "shpat_not_issued_yet".into(), ..FakeShop::default() });
    println!(
        "{}",
        json!({
            "shop": SHOP,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "authorize_url_template": fake.authorize_url_template(),
            "token_url_template": fake.token_url_template(),
            "admin_url_template": fake.admin_url_template(),
            "products": count,
        })
    );
    // Serves until the parent closes our stdin (or exits).
    let _ = tokio::task::spawn_blocking(|| std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new())).await;
}
