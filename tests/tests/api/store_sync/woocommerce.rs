//! The WooCommerce connector against the REST fake: OAuth 1.0a over plain HTTP, `Link` pagination with
//! `X-WP-TotalPages`, variations, the `per_page` cap, `modified_after` in GMT, exact money, malformed pages.

use chrono::{TimeDelta, Utc};
use serde_json::Value;
use shared::sync::Checkpoint;
use tests::{
    Backend,
    platform_fakes::{
        Lcg,
        woocommerce::{FakeWoo, WooFault, WooOrder, WooProduct, WooSite, WooVariation},
    },
};

use super::{app_for, checkpoint_of, connect_woo, dollars, merchant, sync, title_of, totals};

const KEY: &str = "ck_0123456789abcdef0123456789abcdef01234567";
const SECRET: &str = "cs_fedcba9876543210fedcba9876543210fedcba98";

/// `products` products (every 40th variable with 130 variations) and `orders` orders.
fn site(products: u64, orders: u64) -> WooSite {
    let mut rng = Lcg::new(11);
    let base = Utc::now() - TimeDelta::days(30);
    let products: Vec<WooProduct> = (0..products)
        .map(|i| {
            let id = 100 + i;
            let variations = if i % 40 == 0 {
                (0..130)
                    .map(|v| WooVariation {
                        id: 10_000 + id * 1000 + v,
                        price_cents: 1000 + v as i64,
                        stock: 2,
                        option: format!("S{v}"),
                        cost_cents: None,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            WooProduct {
                id,
                name: format!("Woo product {id}"),
                status: if i % 9 == 0 { "draft" } else { "publish" },
                price_cents: 999 + rng.below(5000) as i64,
                stock: (i % 5 != 0).then(|| rng.below(50) as i64),
                category: "Mugs".into(),
                modified: base + TimeDelta::seconds(rng.below(20 * 86_400) as i64),
                variations,
                cost_cents: None,
            }
        })
        .collect();
    let orders = (0..orders)
        .map(|i| {
            let product = &products[rng.below(products.len() as u64) as usize];
            let variation = product.variations.first().map_or(0, |v| v.id);
            let line = 1234 + rng.below(9000) as i64;
            WooOrder {
                id: 9000 + i,
                status: ["processing", "completed", "on-hold", "refunded"][(i % 4) as usize],
                created: base + TimeDelta::seconds(rng.below(20 * 86_400) as i64),
                modified: base + TimeDelta::days(21),
                total_cents: line + 450,
                lines: vec![(product.id, variation, 1 + (i % 3) as i64, line)],
                refunded_cents: 0,
                refunded_lines: Vec::new(),
                customer_id: i % 7,
            }
        })
        .collect();
    WooSite { products, orders, consumer_key: KEY.into(), consumer_secret: SECRET.into(), ..WooSite::default() }
}

fn expected(site: &WooSite) -> (i64, i64, i64, i64, String) {
    let variants: i64 = site.products.iter().map(|p| p.variations.len().max(1) as i64).sum();
    let inventory: i64 = site
        .products
        .iter()
        .map(
            |p| if p.variations.is_empty() { p.stock.unwrap_or(0) } else { p.variations.iter().map(|v| v.stock).sum() },
        )
        .sum();
    let total: i64 = site.orders.iter().map(|o| o.total_cents).sum();
    (site.products.len() as i64, variants, inventory, site.orders.len() as i64, dollars(total))
}

#[tokio::test]
async fn a_woocommerce_store_syncs_over_plain_http_with_signatures_links_and_variations() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let fake = FakeWoo::start().await;
        let data = site(250, 230);
        let want = expected(&data);
        let url = fake.add_site("shop", data);
        let app = app_for(backend, None, &[]).await;
        let m = merchant(&app, "Mugs").await;
        let (store, _) = connect_woo(&app, &m, &url, KEY, SECRET).await;

        let job = sync(&app, &m, store).await;

        assert_eq!(job["status"], "succeeded", "{backend:?}: {job}");
        assert_eq!(totals(&app, &m, store).await, want, "{backend:?}");
        let requests = fake.requests();
        assert!(requests.iter().all(|r| r.status == 200), "{backend:?}: every signature verified");
        assert!(requests.iter().all(|r| r.params.get("per_page").map(String::as_str) == Some("100")), "{backend:?}");
        let product_pages: Vec<&str> = requests
            .iter()
            .filter(|r| r.path == "products")
            .map(|r| r.params.get("page").map(String::as_str).unwrap_or("1"))
            .collect();
        assert_eq!(product_pages, ["1", "2", "3"], "{backend:?}: followed the Link header");
        let variation_pages = requests.iter().filter(|r| r.path.ends_with("/variations")).count();
        assert_eq!(variation_pages, 7 * 2, "{backend:?}: 7 variable products, 2 pages of variations each");
        let checkpoint = checkpoint_of(&app, store).await;
        assert!(!checkpoint.contains("oauth") && !checkpoint.contains("ck_"), "{backend:?}: {checkpoint}");
    }
}

#[tokio::test]
async fn a_second_pass_asks_for_what_changed_after_the_watermark_in_gmt() {
    let fake = FakeWoo::start().await;
    let url = fake.add_site("shop", site(30, 5));
    let app = app_for(Backend::Sqlite, None, &[]).await;
    let m = merchant(&app, "Mugs").await;
    let (store, _) = connect_woo(&app, &m, &url, KEY, SECRET).await;
    assert_eq!(sync(&app, &m, store).await["status"], "succeeded");
    fake.with_site("shop", |site| {
        let product = site.products.iter_mut().find(|p| p.id == 101).expect("product 101");
        product.name = "Renamed mug".into();
        product.modified = Utc::now();
    });

    let job = sync(&app, &m, store).await;

    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["updated"].as_i64(), Some(1), "{job}");
    let last = fake.requests().into_iter().rev().find(|r| r.path == "products").expect("a products request");
    assert_eq!(last.params.get("dates_are_gmt").map(String::as_str), Some("true"));
    assert!(last.params.contains_key("modified_after"));
    assert_eq!(title_of(&app, m.organization, "101").await.as_deref(), Some("Renamed mug"));
}

#[tokio::test]
async fn malformed_woocommerce_pages_fail_without_touching_stored_data() {
    let cases = [
        (WooFault::HtmlPage, "not JSON", "an HTML page with 200"),
        (WooFault::Truncated, "not JSON", "truncated JSON"),
        (WooFault::NotAList, "expected a JSON array", "an object instead of a list"),
        (WooFault::WrongType, "invalid", "a number where a money string belongs"),
    ];
    let fake = FakeWoo::start().await;
    let url = fake.add_site("shop", site(12, 0));
    let app = app_for(Backend::Postgres, None, &[]).await;
    let m = merchant(&app, "Mugs").await;
    let (store, _) = connect_woo(&app, &m, &url, KEY, SECRET).await;
    assert_eq!(sync(&app, &m, store).await["status"], "succeeded");
    for (round, (fault, message, why)) in cases.into_iter().enumerate() {
        fake.with_site("shop", |site| {
            let product = site.products.iter_mut().find(|p| p.id == 102).expect("product 102");
            product.name = format!("Renamed {round}");
            product.modified = Utc::now() + TimeDelta::seconds(round as i64);
        });
        let before = Checkpoint::parse(&checkpoint_of(&app, store).await);
        fake.push_fault("products", fault);

        let failed = sync(&app, &m, store).await;

        assert_eq!(failed["status"], "failed", "{why}: {failed}");
        assert!(failed["error"].as_str().unwrap_or_default().contains(message), "{why}: {failed}");
        assert_ne!(title_of(&app, m.organization, "102").await, Some(format!("Renamed {round}")), "{why}");
        let after = Checkpoint::parse(&checkpoint_of(&app, store).await);
        assert_eq!(after.products.watermark, before.products.watermark, "{why}");
        assert_eq!(after.products.pass.map_or(0, |p| p.pages), 0, "{why}");
        assert_eq!(sync(&app, &m, store).await["status"], "succeeded", "{why}");
        assert_eq!(title_of(&app, m.organization, "102").await, Some(format!("Renamed {round}")), "{why}");
    }
}

#[tokio::test]
async fn wrong_keys_fail_the_job_as_refused_credentials() {
    let fake = FakeWoo::start().await;
    let url = fake.add_site("shop", site(3, 0));
    let app = app_for(Backend::Sqlite, None, &[]).await;
    let m = merchant(&app, "Mugs").await;
    let (store, _) = connect_woo(&app, &m, &url, KEY, "cs_wrong").await;

    let job = sync(&app, &m, store).await;

    assert_eq!(job["status"], "failed");
    let error = job["error"].as_str().unwrap_or_default();
    assert!(error.contains("refused the credentials") && error.contains("signature"), "{error}");
    assert!(!error.contains("cs_wrong"), "no secret in the error");
}

#[tokio::test]
async fn the_fake_refuses_pages_above_one_hundred_and_bad_signatures_as_woocommerce_does() {
    // The connector never asks for more than 100 (checked above); this pins the fake the checks rely on.
    let fake = FakeWoo::start().await;
    fake.add_site("shop", site(1, 0));
    let url = |per_page: u32| {
        reqwest::Url::parse(&format!("{}/shop/wp-json/wc/v3/products?per_page={per_page}", fake.address)).expect("url")
    };
    let signed = |per_page: u32, secret: &str| shared::platforms::oauth1::sign("GET", &url(per_page), KEY, secret);

    let too_many = reqwest::get(signed(101, SECRET)).await.expect("answer");
    let forged = reqwest::get(signed(100, "cs_forged")).await.expect("answer");
    let unsigned = reqwest::get(url(100)).await.expect("answer");
    let fine = reqwest::get(signed(100, SECRET)).await.expect("answer");

    assert_eq!(too_many.status(), 400);
    assert_eq!(too_many.json::<Value>().await.expect("JSON")["code"], "rest_invalid_param");
    assert_eq!(forged.status(), 401);
    assert_eq!(unsigned.status(), 401);
    assert_eq!(fine.status(), 200);
    assert_eq!(fine.headers()["x-wp-total"], "1");
}
