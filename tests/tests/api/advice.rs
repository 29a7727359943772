//! The advisor through its API, on both backends: scenarios with known answers (restock, one anomaly, no price
//! suggestion), statuses that survive refreshes until the facts change materially, resolution, pagination, tenancy,
//! the template summary and answers without OpenAI, and the `RefreshAdvice` timer's incremental ticks.

use chrono::{Duration, NaiveDate, NaiveTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use shared::{
    analytics::OrderStatus,
    catalogue::{ProductInput, ProductStatus, VariantInput},
    db::orders::{OrderInput, OrderLineInput},
};
use tests::{Backend, TestApp, spawn_app_with};
use uuid::Uuid;

/// A test organization (UTC, USD) with a store, and its admin's token.
pub(crate) struct Shop {
    pub app: TestApp,
    pub token: String,
    pub organization: Uuid,
    pub store: Uuid,
}

impl Shop {
    /// A fresh organization on a fresh app with these extra settings.
    pub(crate) async fn open(backend: Backend, env: &[(&str, &str)]) -> Self {
        let app = spawn_app_with(backend, env).await;
        let token = app.token_for(Uuid::new_v4());
        let organization = app.create_organization(&token, "Beans & Co", "UTC").await;
        let store = app.state.db.create_store(organization, "demo", "Test store").await.expect("a store");
        Self { app, token, organization, store }
    }

    /// Adds (or updates) a one-variant product and returns its id.
    pub(crate) async fn product(&self, external_id: &str, title: &str, price_minor: i64, inventory: i64) -> Uuid {
        let input = ProductInput {
            external_id: external_id.to_owned(),
            title: title.to_owned(),
            description: String::new(),
            vendor: String::new(),
            category: "Coffee".to_owned(),
            status: ProductStatus::Active,
            variants: vec![VariantInput {
                external_id: external_id.to_owned(),
                sku: external_id.to_owned(),
                title: "Default".to_owned(),
                price_minor,
                cost_minor: Some(price_minor / 2),
                inventory,
            }],
        };
        let (_, ids) =
            self.app.state.db.upsert_products(self.organization, self.store, &[input]).await.expect("upsert products");
        ids[external_id]
    }

    /// One paid order a day, at noon UTC, for each of the `days` days before today; `units_on` says how many units.
    pub(crate) async fn sell_daily(
        &self,
        product: Uuid,
        days: i64,
        unit_price: i64,
        units_on: impl Fn(NaiveDate) -> i32,
    ) {
        let today = Utc::now().date_naive();
        let orders: Vec<OrderInput> = (1..=days)
            .map(|back| {
                let day = today - Duration::days(back);
                let units = units_on(day);
                OrderInput {
                    external_id: format!("{product}-{day}"),
                    placed_at: day.and_time(NaiveTime::from_hms_opt(12, 0, 0).expect("noon")).and_utc(),
                    status: OrderStatus::Paid,
                    total_minor: i64::from(units) * unit_price,
                    lines: vec![OrderLineInput::sold(Some(product), None, units, i64::from(units) * unit_price)],
                    customer: None,
                }
            })
            .collect();
        self.app.state.db.upsert_orders(self.organization, self.store, &orders).await.expect("upsert orders");
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let response =
            self.app.request_in(Method::GET, &self.token, self.organization, path).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .app
            .request_in(Method::POST, &self.token, self.organization, path)
            .json(body)
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn refresh(&self) -> Value {
        let (status, body) = self.post("/api/v1/advice/refresh", &json!({})).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The restock scenario: Espresso beans selling 10 a day (12.50 each) for 35 days, 50 in stock, 7-day lead time.
    pub(crate) async fn with_beans(backend: Backend, env: &[(&str, &str)]) -> (Self, Uuid) {
        let shop = Self::open(backend, env).await;
        let beans = shop.product("beans", "Espresso beans 1 kg", 1_250, 50).await;
        let patched = shop
            .app
            .request_in(Method::PATCH, &shop.token, shop.organization, &format!("/api/v1/products/{beans}"))
            .json(&json!({ "lead_time_days": 7 }))
            .send()
            .await
            .expect("PATCH");
        assert_eq!(patched.status(), 200);
        shop.sell_daily(beans, 35, 1_250, |_| 10).await;
        (shop, beans)
    }
}

fn figure<'a>(item: &'a Value, name: &str) -> &'a Value {
    item["evidence"]["figures"]
        .as_array()
        .and_then(|figures| figures.iter().find(|f| f["name"] == name))
        .unwrap_or_else(|| panic!("no figure {name} in {item:#}"))
}

fn today_plus(days: i64) -> String {
    (Utc::now().date_naive() + Duration::days(days)).to_string()
}

async fn ten_a_day_with_fifty_in_stock_reorders_now_with_the_formula_quantity(backend: Backend) {
    // Arrange
    let (shop, beans) = Shop::with_beans(backend, &[]).await;

    // Act
    let (status, page) = shop.get("/api/v1/advice?kind=restock").await;

    // Assert
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{page:#}");
    let item = &items[0];
    assert_eq!(item["subject"], json!({"type": "product", "id": beans, "title": "Espresso beans 1 kg"}));
    assert_eq!(item["status"], "open");
    let title = item["title"].as_str().expect("title");
    assert!(
        title.starts_with(&format!("Reorder Espresso beans 1 kg now: stock runs out in 5 days ({})", today_plus(5))),
        "{title}"
    );
    assert_eq!(figure(item, "velocity")["value"], json!(10.0));
    assert_eq!(figure(item, "velocity")["display"], "10.0 units/day");
    assert_eq!(figure(item, "cover_days")["value"], json!(5.0));
    assert_eq!(figure(item, "stockout_date")["value"], json!(today_plus(5)));
    assert_eq!(figure(item, "order_by")["value"], json!(today_plus(0)), "reorder now");
    assert_eq!(figure(item, "reorder_quantity")["value"], json!(320), "⌈10 × (7 + 30)⌉ − 50");
    assert_eq!(figure(item, "lead_time_days")["value"], json!(7));
    assert_eq!(figure(item, "target_cover_days")["value"], json!(30));
    assert_eq!(item["impact"], json!({"amount": "1125.00", "currency": "USD", "basis": item["impact"]["basis"]}));
    assert_eq!(item["evidence"]["period"]["days"], json!(28));
    assert!(item["evidence"]["formula"].as_str().is_some_and(|f| f.contains("reorder quantity")), "{item:#}");
    assert!(page["computed_at"].is_string(), "computed on first read");
}

#[tokio::test]
async fn on_postgres_ten_a_day_with_fifty_in_stock_reorders_now_with_the_formula_quantity() {
    ten_a_day_with_fifty_in_stock_reorders_now_with_the_formula_quantity(Backend::Postgres).await;
}

#[tokio::test]
async fn on_sqlite_ten_a_day_with_fifty_in_stock_reorders_now_with_the_formula_quantity() {
    ten_a_day_with_fifty_in_stock_reorders_now_with_the_formula_quantity(Backend::Sqlite).await;
}

async fn a_flat_series_with_one_spike_has_one_anomaly_and_no_price_suggestion(backend: Backend) {
    // Arrange: 4 units a day at an unchanging 25.00 for 120 days, except 20 units ten days ago.
    let shop = Shop::open(backend, &[]).await;
    let mugs = shop.product("mug", "Stoneware mug", 2_500, 10_000).await;
    let spike = Utc::now().date_naive() - Duration::days(10);
    shop.sell_daily(mugs, 120, 2_500, |day| if day == spike { 20 } else { 4 }).await;

    // Act
    let (_, anomalies) = shop.get("/api/v1/advice?kind=revenue_anomaly").await;
    let (_, prices) = shop.get("/api/v1/advice?kind=price_suggestion").await;

    // Assert
    let items = anomalies["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "exactly one anomaly: {anomalies:#}");
    assert_eq!(items[0]["subject"], json!({"type": "day", "day": spike}));
    assert_eq!(figure(&items[0], "revenue")["value"], "500.00");
    assert_eq!(figure(&items[0], "baseline_median")["value"], "100.00");
    assert_eq!(prices["items"], json!([]), "one price, no demand response to estimate");
}

#[tokio::test]
async fn on_postgres_a_flat_series_with_one_spike_has_one_anomaly_and_no_price_suggestion() {
    a_flat_series_with_one_spike_has_one_anomaly_and_no_price_suggestion(Backend::Postgres).await;
}

#[tokio::test]
async fn on_sqlite_a_flat_series_with_one_spike_has_one_anomaly_and_no_price_suggestion() {
    a_flat_series_with_one_spike_has_one_anomaly_and_no_price_suggestion(Backend::Sqlite).await;
}

async fn a_dismissal_survives_refreshes_until_the_facts_change_materially(backend: Backend) {
    // Arrange
    let (shop, _) = Shop::with_beans(backend, &[]).await;
    let (_, page) = shop.get("/api/v1/advice?kind=restock").await;
    let id = page["items"][0]["id"].as_str().expect("an id").to_owned();

    // Act: dismiss, then refresh with the same facts.
    let (status, dismissed) = shop.post(&format!("/api/v1/advice/{id}/status"), &json!({"status": "dismissed"})).await;
    assert_eq!((status, dismissed["status"].as_str()), (200, Some("dismissed")), "{dismissed}");
    let same = shop.refresh().await;

    // Assert: nothing written, still dismissed, out of the open list.
    assert_eq!((same["unchanged"].as_u64(), same["reopened"].as_u64()), (Some(1), Some(0)), "{same}");
    assert_eq!(shop.get("/api/v1/advice?kind=restock").await.1["items"], json!([]));
    assert_eq!(shop.get("/api/v1/advice?kind=restock&status=dismissed").await.1["items"][0]["id"], json!(id));

    // A small drift (48 in stock: still "now", about the same quantity) updates the evidence, not the status.
    shop.product("beans", "Espresso beans 1 kg", 1_250, 48).await;
    let drift = shop.refresh().await;
    assert_eq!((drift["updated"].as_u64(), drift["reopened"].as_u64()), (Some(1), Some(0)), "{drift}");
    let (_, item) = shop.get(&format!("/api/v1/advice/{id}")).await;
    assert_eq!(item["status"], "dismissed");
    assert_eq!(figure(&item, "reorder_quantity")["value"], json!(322));

    // Out of stock is a material change: open again.
    shop.product("beans", "Espresso beans 1 kg", 1_250, 0).await;
    let material = shop.refresh().await;
    assert_eq!(material["reopened"].as_u64(), Some(1), "{material}");
    let (_, open) = shop.get("/api/v1/advice?kind=restock").await;
    assert_eq!(open["items"][0]["id"], json!(id));
    assert!(open["items"][0]["title"].as_str().is_some_and(|t| t.starts_with("Out of stock")), "{open:#}");

    // Restocked: the finding no longer holds and leaves the list; its page says when.
    shop.product("beans", "Espresso beans 1 kg", 1_250, 1_000).await;
    let resolved = shop.refresh().await;
    assert_eq!(resolved["resolved"].as_u64(), Some(1), "{resolved}");
    assert_eq!(shop.get("/api/v1/advice?kind=restock").await.1["items"], json!([]));
    let (_, item) = shop.get(&format!("/api/v1/advice/{id}")).await;
    assert!(item["resolved_at"].is_string(), "{item:#}");
}

#[tokio::test]
async fn on_postgres_a_dismissal_survives_refreshes_until_the_facts_change_materially() {
    a_dismissal_survives_refreshes_until_the_facts_change_materially(Backend::Postgres).await;
}

#[tokio::test]
async fn on_sqlite_a_dismissal_survives_refreshes_until_the_facts_change_materially() {
    a_dismissal_survives_refreshes_until_the_facts_change_materially(Backend::Sqlite).await;
}

async fn pages_follow_the_ranking_without_repeats(backend: Backend) {
    // Arrange: three products that all need a reorder, at different prices (so different sales at risk).
    let shop = Shop::open(backend, &[]).await;
    for (i, price) in [(1, 500), (2, 2_000), (3, 1_000)] {
        let product = shop.product(&format!("p{i}"), &format!("Product {i}"), price, 10).await;
        shop.sell_daily(product, 35, price, |_| 5).await;
    }

    // Act
    let mut seen = Vec::new();
    let mut path = "/api/v1/advice?kind=restock&limit=1".to_owned();
    loop {
        let (status, page) = shop.get(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["items"].as_array().expect("items").iter().map(|i| i["subject"]["title"].clone()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/advice?kind=restock&limit=1&cursor={cursor}"),
            None => break,
        }
    }

    // Assert: the most money at stake first.
    assert_eq!(seen, [json!("Product 2"), json!("Product 3"), json!("Product 1")]);
    let (_, first) = shop.get("/api/v1/advice?kind=restock&limit=1").await;
    let cursor = first["next_cursor"].as_str().expect("a cursor");
    let (status, problem) = shop.get(&format!("/api/v1/advice?kind=dead_stock&limit=1&cursor={cursor}")).await;
    assert_eq!(status, 400);
    assert_eq!(problem["errors"][0]["field"], "cursor", "a cursor belongs to its filter");
}

#[tokio::test]
async fn on_postgres_pages_follow_the_ranking_without_repeats() {
    pages_follow_the_ranking_without_repeats(Backend::Postgres).await;
}

#[tokio::test]
async fn on_sqlite_pages_follow_the_ranking_without_repeats() {
    pages_follow_the_ranking_without_repeats(Backend::Sqlite).await;
}

#[tokio::test]
async fn bad_parameters_are_refused_naming_the_field() {
    let (shop, _) = Shop::with_beans(Backend::Sqlite, &[]).await;
    let cases = [
        ("/api/v1/advice?kind=restocks", "kind", "an unknown kind"),
        ("/api/v1/advice?status=ignored", "status", "an unknown status"),
        ("/api/v1/advice?limit=0", "limit", "a limit below 1"),
        ("/api/v1/advice?limit=101", "limit", "a limit above 100"),
        ("/api/v1/advice?cursor=not-a-cursor", "cursor", "a cursor we did not issue"),
    ];
    for (path, field, why) in cases {
        let (status, problem) = shop.get(path).await;
        assert_eq!(status, 400, "{why}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{why}: {problem}");
    }
    let (status, _) = shop.get("/api/v1/advice?sort=score").await;
    assert_eq!(status, 400, "an unknown parameter");
    let id = shop.get("/api/v1/advice").await.1["items"][0]["id"].as_str().expect("an id").to_owned();
    let (status, problem) = shop.post(&format!("/api/v1/advice/{id}/status"), &json!({"status": "later"})).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (400, Some("status")), "{problem}");
    let (status, _) = shop.post(&format!("/api/v1/advice/{}/status", Uuid::new_v4()), &json!({"status": "done"})).await;
    assert_eq!(status, 404, "no such recommendation");
    let (status, problem) = shop.post("/api/v1/advice/ask", &json!({"question": "  "})).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (400, Some("question")), "{problem}");
}

#[tokio::test]
async fn another_organization_cannot_see_or_change_the_advice() {
    // Arrange
    let (shop, _) = Shop::with_beans(Backend::Postgres, &[]).await;
    let id = shop.get("/api/v1/advice").await.1["items"][0]["id"].as_str().expect("an id").to_owned();
    let stranger = shop.app.token_for(Uuid::new_v4());
    let theirs = shop.app.create_organization(&stranger, "Other shop", "UTC").await;

    // Act
    let show =
        shop.app.request_in(Method::GET, &stranger, theirs, &format!("/api/v1/advice/{id}")).send().await.expect("GET");
    let change = shop
        .app
        .request_in(Method::POST, &stranger, theirs, &format!("/api/v1/advice/{id}/status"))
        .json(&json!({"status": "dismissed"}))
        .send()
        .await
        .expect("POST");
    let list = shop.app.request_in(Method::GET, &stranger, theirs, "/api/v1/advice").send().await.expect("GET");
    let mine_named =
        shop.app.request_in(Method::GET, &stranger, shop.organization, "/api/v1/advice").send().await.expect("GET");

    // Assert
    assert_eq!(show.status(), 404);
    assert_eq!(change.status(), 404);
    assert_eq!(list.json::<Value>().await.expect("JSON")["items"], json!([]));
    assert_eq!(mine_named.status(), 404, "naming an organization one is not a member of");
    assert_eq!(shop.get(&format!("/api/v1/advice/{id}")).await.1["status"], "open", "untouched");
}

#[tokio::test]
async fn without_openai_the_summary_and_answers_come_from_templates_and_say_so() {
    // Arrange
    let (shop, _) = Shop::with_beans(Backend::Sqlite, &[]).await;
    let id = shop.get("/api/v1/advice?kind=restock").await.1["items"][0]["id"].clone();

    // Act
    let (status, summary) = shop.get("/api/v1/advice/summary").await;
    let (asked, answer) =
        shop.post("/api/v1/advice/ask", &json!({"question": "What should I reorder this week?"})).await;

    // Assert
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["source"], "rules");
    assert_eq!(summary["fallback_reason"], "Azure OpenAI is not configured");
    let headline = summary["headline"].as_str().expect("headline");
    assert!(
        headline.starts_with("1 recommendation open; start with this: Reorder Espresso beans 1 kg now"),
        "{headline}"
    );
    let first = summary["paragraphs"][0].as_str().expect("a paragraph");
    assert!(first.starts_with("Revenue in the last 28 days") && first.contains("3,500.00 USD"), "{first}");
    assert_eq!(summary["priorities"][0]["recommendation_id"], id);
    assert_eq!(summary["open"]["restock"], 1);
    assert_eq!(asked, 200, "{answer}");
    assert_eq!(answer["source"], "rules");
    assert!(answer["answer"].as_str().is_some_and(|a| a.contains("Reorder Espresso beans 1 kg now")), "{answer}");
    assert_eq!(answer["recommendation_ids"], json!([id]));
}

async fn the_timer_refreshes_only_organizations_whose_facts_may_have_changed(backend: Backend) {
    // Arrange
    let (shop, beans) = Shop::with_beans(backend, &[]).await;

    // Act and assert: the first tick computes, the second finds nothing new, a new order makes it due again.
    let first = shop.app.invoke_timer("RefreshAdvice").await;
    assert!(first[0].contains("1 organization(s), 1 queued, 0 up to date"), "{first:?}");
    assert!(first[1].contains("1 products, ") && first[1].contains("1 new"), "{first:?}");
    let second = shop.app.invoke_timer("RefreshAdvice").await;
    assert_eq!(second.len(), 1, "nothing queued: {second:?}");
    assert!(second[0].contains("0 queued, 1 up to date"), "{second:?}");
    let today_order = OrderInput {
        external_id: "walk-in".into(),
        placed_at: Utc::now(),
        status: OrderStatus::Paid,
        total_minor: 1_250,
        lines: vec![OrderLineInput::sold(Some(beans), None, 1, 1_250)],
        customer: None,
    };
    shop.app.state.db.upsert_orders(shop.organization, shop.store, &[today_order]).await.expect("an order");
    let third = shop.app.invoke_timer("RefreshAdvice").await;
    assert!(third[0].contains("1 queued"), "{third:?}");
    assert!(third[1].contains("1 unchanged"), "today's order is not in the complete days yet: {third:?}");
}

#[tokio::test]
async fn on_postgres_the_timer_refreshes_only_organizations_whose_facts_may_have_changed() {
    the_timer_refreshes_only_organizations_whose_facts_may_have_changed(Backend::Postgres).await;
}

#[tokio::test]
async fn on_sqlite_the_timer_refreshes_only_organizations_whose_facts_may_have_changed() {
    the_timer_refreshes_only_organizations_whose_facts_may_have_changed(Backend::Sqlite).await;
}
