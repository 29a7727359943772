//! Customer figures on both backends, from orders written as a sync writes them: new against returning customers
//! and revenue, guest checkouts, repeat purchases and the first-order cohorts, worked out by hand from the fixture.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use shared::{
    analytics::OrderStatus,
    db::orders::{OrderInput, OrderLineInput},
};
use tests::{Backend, spawn_app_on};
use uuid::Uuid;

use crate::store_sync::{Merchant, merchant};

fn order(id: &str, customer: Option<&str>, placed_at: &str, status: OrderStatus, line: OrderLineInput) -> OrderInput {
    OrderInput {
        external_id: id.into(),
        placed_at: placed_at.parse::<DateTime<Utc>>().expect("time"),
        status,
        total_minor: line.total_minor + 499,
        lines: vec![line],
        customer: customer.map(str::to_owned),
    }
}

fn sold(total_minor: i64) -> OrderLineInput {
    OrderLineInput::sold(None, None, 1, total_minor)
}

#[tokio::test]
async fn new_and_returning_customers_repeat_purchases_and_cohorts_follow_each_customers_first_order() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let app = spawn_app_on(backend).await;
        let token = app.token_for(Uuid::new_v4());
        let organization = app.create_organization(&token, "Cohorts", "America/New_York").await;
        let m = Merchant { token, organization };
        let other = merchant(&app, "Other").await;
        let db = &app.state.db;
        let store = db.create_store(m.organization, "demo", "Demo").await.expect("store");
        let mut refunded = sold(4000);
        refunded.refunded_minor = 1000;
        let orders = [
            // a: first ordered in February, so returning in the range.
            order("1", Some("a"), "2026-02-10T17:00:00Z", OrderStatus::Paid, sold(1000)),
            order("2", Some("a"), "2026-03-05T17:00:00Z", OrderStatus::Paid, sold(2000)),
            // b: new in March, back twice in April.
            order("3", Some("b"), "2026-03-02T17:00:00Z", OrderStatus::Fulfilled, sold(3000)),
            order("4", Some("b"), "2026-04-03T17:00:00Z", OrderStatus::Paid, sold(1500)),
            order("5", Some("b"), "2026-04-20T17:00:00Z", OrderStatus::Open, sold(500)),
            // c: new in April, 10.00 of 40.00 refunded.
            order("6", Some("c"), "2026-04-10T17:00:00Z", OrderStatus::Paid, refunded),
            // A guest, and orders that count for nothing.
            order("7", None, "2026-03-15T17:00:00Z", OrderStatus::Paid, sold(700)),
            order("8", Some("d"), "2026-03-20T17:00:00Z", OrderStatus::Cancelled, sold(9900)),
            order("9", Some("e"), "2026-04-21T17:00:00Z", OrderStatus::Refunded, sold(9900)),
            // After the range.
            order("10", Some("b"), "2026-05-02T17:00:00Z", OrderStatus::Paid, sold(9999)),
        ];
        db.upsert_orders(m.organization, store, &orders).await.expect("orders");
        let other_store = db.create_store(other.organization, "demo", "Other").await.expect("store");
        db.upsert_orders(other.organization, other_store, &orders[..3]).await.expect("the other's orders");

        let path = "/api/v1/analytics/customers?from=2026-03-01&to=2026-04-30";
        let response = app.request_in(Method::GET, &m.token, m.organization, path).send().await.expect("response");
        assert_eq!(response.status(), 200, "{backend:?}");
        let figures: Value = response.json().await.expect("JSON");

        assert_eq!(
            (figures["customers"].clone(), figures["repeat_customers"].clone()),
            (json!(3), json!(1)),
            "{backend:?}"
        );
        assert!((figures["repeat_purchase_rate"].as_f64().expect("rate") - 1.0 / 3.0).abs() < 1e-12, "{backend:?}");
        assert_eq!(figures["new"], json!({ "customers": 2, "orders": 2, "revenue": "60.00" }), "{backend:?}");
        assert_eq!(figures["returning"], json!({ "customers": 1, "orders": 3, "revenue": "40.00" }), "{backend:?}");
        assert_eq!(figures["guest"], json!({ "customers": 0, "orders": 1, "revenue": "7.00" }), "{backend:?}");
        assert_eq!(
            figures["cohorts"],
            json!([
                { "month": "2026-03", "customers": 1, "months": [
                    { "offset": 0, "customers": 1, "retention": 1.0, "revenue": "30.00", "cumulative_revenue_per_customer": "30.00" },
                    { "offset": 1, "customers": 1, "retention": 1.0, "revenue": "20.00", "cumulative_revenue_per_customer": "50.00" },
                ] },
                { "month": "2026-04", "customers": 1, "months": [
                    { "offset": 0, "customers": 1, "retention": 1.0, "revenue": "30.00", "cumulative_revenue_per_customer": "30.00" },
                ] },
            ]),
            "{backend:?}"
        );

        // The other organization's orders are its own: a returning customer there is new to nobody here.
        let response =
            app.request_in(Method::GET, &other.token, other.organization, path).send().await.expect("response");
        let theirs: Value = response.json().await.expect("JSON");
        assert_eq!(theirs["customers"], 2, "{backend:?}: {theirs}");

        // WooCommerce numbers customers per store: customer "a" of a second store is someone else, new in March.
        let second = db.create_store(m.organization, "demo", "Second").await.expect("store");
        db.upsert_orders(
            m.organization,
            second,
            &[order("1", Some("a"), "2026-03-10T17:00:00Z", OrderStatus::Paid, sold(800))],
        )
        .await
        .expect("the second store's order");
        let response = app.request_in(Method::GET, &m.token, m.organization, path).send().await.expect("response");
        let both: Value = response.json().await.expect("JSON");
        assert_eq!(both["customers"], 4, "{backend:?}: {both}");
        assert_eq!(both["new"], json!({ "customers": 3, "orders": 3, "revenue": "68.00" }), "{backend:?}");
        assert_eq!(both["returning"], figures["returning"], "{backend:?}");
        assert_eq!(both["cohorts"][0]["customers"], 2, "{backend:?}");
        let (stored, recomputed) = db.customer_rollups(m.organization).await.expect("customer rollups");
        assert_eq!(stored, recomputed, "{backend:?}");

        let bad = "/api/v1/analytics/customers?from=2026-05-01&to=2026-04-01";
        let response = app.request_in(Method::GET, &m.token, m.organization, bad).send().await.expect("response");
        assert_eq!(response.status(), 400, "{backend:?}: a reversed range names `from`");
    }
}

#[tokio::test]
async fn concurrent_order_writes_for_the_same_customers_leave_each_their_true_first_order() {
    let app = spawn_app_on(Backend::Postgres).await;
    let m = merchant(&app, "Busy").await;
    let db = &app.state.db;
    let store = db.create_store(m.organization, "demo", "Busy").await.expect("store");
    // Eight writers at once, each with an order of every customer; writer 7's are the earliest.
    let writers = (0..8).map(|writer: u32| async move {
        let orders: Vec<OrderInput> = ["a", "b", "c"]
            .iter()
            .map(|customer| {
                let placed_at = format!("2026-03-{:02}T12:00:00Z", 20 - writer);
                order(&format!("{customer}-{writer}"), Some(customer), &placed_at, OrderStatus::Paid, sold(100))
            })
            .collect();
        db.upsert_orders(m.organization, store, &orders).await.expect("orders")
    });
    futures::future::join_all(writers).await;

    let (stored, recomputed) = db.customer_rollups(m.organization).await.expect("customer rollups");
    assert_eq!(stored, recomputed);
    let firsts: Vec<String> = stored.first_orders.values().map(|first| first.day.to_string()).collect();
    assert_eq!(firsts, ["2026-03-13"; 3], "writer 7's orders are everyone's first");
}
