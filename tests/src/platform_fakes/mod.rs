//! Protocol fakes of the commerce platforms the sync reads (Shopify's GraphQL Admin API, WooCommerce's REST API v3),
//! real HTTP servers on loopback, plus deterministic catalogues to fill them and the webhook signing the platforms do.

pub mod shopify;
pub mod shopify_cost;
pub mod woocommerce;

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use self::shopify::{FakeLine, FakeOrder, FakeProduct, FakeVariant};

/// base64(HMAC-SHA256(key, body)): how Shopify and WooCommerce sign webhook deliveries.
pub fn sign_webhook(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// A small deterministic generator (64-bit LCG), so catalogues are the same on every run.
#[derive(Debug, Clone)]
pub struct Lcg(u64);

impl Lcg {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1))
    }

    /// The next value below `bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound.max(1)
    }
}

/// What a Shopify catalogue adds up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Products.
    pub products: i64,
    /// Variants.
    pub variants: i64,
    /// Units in stock.
    pub inventory: i64,
    /// Orders.
    pub orders: i64,
    /// Sum of order totals, cents.
    pub order_total_cents: i64,
}

/// A Shopify catalogue: `products` products (every `wide_every`-th with `wide_variants` variants, the others 1-4),
/// and `orders` orders of 1-4 lines (every 50th with 8, past one nested page), spread over the last 50 days.
pub fn shopify_catalogue(
    products: u64,
    wide_every: u64,
    wide_variants: u64,
    orders: u64,
    seed: u64,
) -> (Vec<FakeProduct>, Vec<FakeOrder>) {
    let mut rng = Lcg::new(seed);
    let base = Utc::now() - TimeDelta::days(50);
    let mut catalogue = Vec::with_capacity(products as usize);
    let mut next_variant = 1_000_000u64;
    for i in 0..products {
        let id = 1_000 + i;
        let count = if wide_every > 0 && i % wide_every == 0 { wide_variants } else { 1 + rng.below(4) };
        let variants = (0..count)
            .map(|v| {
                next_variant += 1;
                FakeVariant {
                    id: next_variant,
                    sku: format!("SKU-{id}-{v}"),
                    title: format!("Option {v}"),
                    price_cents: 500 + rng.below(20_000) as i64,
                    inventory: rng.below(200) as i64,
                    unit_cost_cents: None,
                }
            })
            .collect();
        catalogue.push(FakeProduct {
            id,
            title: format!("Product {id}"),
            description: format!("A fine product number {id}"),
            vendor: ["Acme", "Globex", "Initech"][(i % 3) as usize].to_owned(),
            product_type: ["Tops", "Shoes", "Bags", "Hats"][(i % 4) as usize].to_owned(),
            status: if i % 17 == 0 { "DRAFT" } else { "ACTIVE" },
            updated_at: base + TimeDelta::seconds(rng.below(40 * 86_400) as i64),
            variants,
        });
    }
    let statuses =
        [("PAID", "FULFILLED"), ("PAID", "UNFULFILLED"), ("PENDING", "UNFULFILLED"), ("REFUNDED", "FULFILLED")];
    let mut order_list = Vec::with_capacity(orders as usize);
    for i in 0..orders {
        let id = 5_000_000 + i;
        let line_count = if i % 50 == 0 { 8 } else { 1 + rng.below(4) };
        let lines: Vec<FakeLine> = (0..line_count)
            .map(|l| {
                let product = &catalogue[rng.below(products) as usize];
                let variant = &product.variants[rng.below(product.variants.len() as u64) as usize];
                let quantity = 1 + rng.below(3) as i64;
                FakeLine {
                    id: id * 10 + l,
                    product_id: Some(product.id),
                    variant_id: Some(variant.id),
                    quantity,
                    total_cents: variant.price_cents * quantity - rng.below(100) as i64,
                    refunded: 0,
                }
            })
            .collect();
        let created = base + TimeDelta::seconds(rng.below(45 * 86_400) as i64);
        let (financial, fulfillment) = statuses[rng.below(statuses.len() as u64) as usize];
        order_list.push(FakeOrder {
            id,
            created_at: created,
            updated_at: created + TimeDelta::seconds(rng.below(3_600) as i64),
            cancelled: i % 97 == 0,
            financial_status: financial,
            fulfillment_status: fulfillment,
            total_cents: lines.iter().map(|l| l.total_cents).sum::<i64>() + 499,
            lines,
            // Returning customers and a guest checkout in four.
            customer: (id % 4 != 0).then_some(id % 997),
        });
    }
    (catalogue, order_list)
}

/// What a Shopify catalogue adds up to, as the store totals should show it.
pub fn shopify_totals(products: &[FakeProduct], orders: &[FakeOrder]) -> Totals {
    Totals {
        products: products.len() as i64,
        variants: products.iter().map(|p| p.variants.len() as i64).sum(),
        inventory: products.iter().flat_map(|p| &p.variants).map(|v| v.inventory).sum(),
        orders: orders.len() as i64,
        order_total_cents: orders.iter().map(|o| o.total_cents).sum(),
    }
}

/// Revenue as analytics counts it from Shopify orders: line totals of the orders that count as sales (neither
/// cancelled nor refunded). For catalogues without partly refunded lines ([`shopify_catalogue`]'s).
pub fn shopify_revenue_cents(orders: &[FakeOrder]) -> i64 {
    assert!(orders.iter().flat_map(|o| &o.lines).all(|l| l.refunded == 0), "no partly refunded lines");
    orders
        .iter()
        .filter(|o| !o.cancelled && o.financial_status != "REFUNDED")
        .flat_map(|o| &o.lines)
        .map(|l| l.total_cents)
        .sum()
}

/// The latest `updated_at` in a catalogue.
pub fn newest(products: &[FakeProduct]) -> DateTime<Utc> {
    products.iter().map(|p| p.updated_at).max().unwrap_or_else(Utc::now)
}
