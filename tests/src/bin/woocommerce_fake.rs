//! The WooCommerce REST API fake as a standalone process, for the browser tests: serves one site with a small
//! catalogue (one product titled like an HTML injection, to prove the dashboard renders it as text) and prints one
//! JSON line, `{"site_url", "consumer_key", "consumer_secret", "products", "orders", "hostile_title",
//! "approval_site_url"}`, then serves until its stdin closes (so it ends with the test that started it). The second
//! site, `approval_site_url`, has no keys yet: the dashboard connects it through the fake's key-approval page.

use chrono::{TimeDelta, Utc};
use serde_json::json;
use tests::platform_fakes::{
    Lcg,
    woocommerce::{FakeWoo, WooOrder, WooProduct, WooSite},
};

/// The product title the browser test searches for and expects to see as literal text.
const HOSTILE_TITLE: &str = "<img src=x onerror=\"document.title='owned'\"> Sneaky mug";
const KEY: &str = "ck_browser0123456789abcdef0123456789abcdef";
const SECRET: &str = "cs_browser0123456789abcdef0123456789abcdef";

#[tokio::main]
async fn main() {
    let fake = FakeWoo::start().await;
    let mut rng = Lcg::new(7);
    let base = Utc::now() - TimeDelta::days(20);
    let products: Vec<WooProduct> = (0..40u64)
        .map(|i| WooProduct {
            id: 500 + i,
            name: if i == 0 { HOSTILE_TITLE.to_owned() } else { format!("Woo ceramic mug {i}") },
            status: "publish",
            price_cents: 900 + rng.below(3000) as i64,
            stock: Some(rng.below(60) as i64),
            category: "Mugs".into(),
            modified: base + TimeDelta::seconds(rng.below(10 * 86_400) as i64),
            variations: Vec::new(),
            cost_cents: None,
        })
        .collect();
    let orders: Vec<WooOrder> = (0..60u64)
        .map(|i| {
            let product = &products[rng.below(products.len() as u64) as usize];
            let line = product.price_cents * (1 + (i % 3) as i64);
            WooOrder {
                id: 7000 + i,
                status: "completed",
                created: base + TimeDelta::seconds(rng.below(19 * 86_400) as i64),
                modified: base + TimeDelta::days(19),
                total_cents: line,
                lines: vec![(product.id, 0, 1 + (i % 3) as i64, line)],
                refunded_cents: 0,
                refunded_lines: Vec::new(),
                customer_id: 100 + i % 25,
            }
        })
        .collect();
    let (product_count, order_count) = (products.len(), orders.len());
    let site =
        WooSite { products, orders, consumer_key: KEY.into(), consumer_secret: SECRET.into(), ..WooSite::default() };
    let site_url = fake.add_site("shop", site);
    let approval_product = WooProduct {
        id: 800,
        name: "Approved teapot".into(),
        status: "publish",
        price_cents: 3200,
        stock: Some(5),
        category: "Teapots".into(),
        modified: base,
        variations: Vec::new(),
        cost_cents: None,
    };
    let approval_site_url =
        fake.add_site("approval", WooSite { products: vec![approval_product], ..WooSite::default() });
    println!(
        "{}",
        json!({
            "site_url": site_url,
            "consumer_key": KEY,
            "consumer_secret": SECRET,
            "products": product_count,
            "orders": order_count,
            "hostile_title": HOSTILE_TITLE,
            "approval_site_url": approval_site_url,
        })
    );
    // Serves until the parent closes our stdin (or exits).
    let _ = tokio::task::spawn_blocking(|| std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new())).await;
}
