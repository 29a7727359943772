//! Analytics on both backends: order upserts and event ingest keep the daily rollups exact, the API's figures match
//! an independent computation from the raw dataset to the cent, and bad input is refused field by field.
//!
//! The expected figures here are computed by the test itself from the dataset it generated (its own time-zone
//! rule, bucketing and rounding), never by calling the code under test.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use shared::{
    analytics::{EventKind, MEASURES, OrderStatus},
    catalogue::{ProductInput, ProductStatus, UpsertCounts, VariantInput},
    db::{
        Database,
        analytics::{EventIngest, NewEvent},
        orders::{OrderInput, OrderLineInput},
    },
};
use sqlx::types::chrono::{DateTime, NaiveDate, Utc};
use tests::{Backend, TestApp, spawn_app_on};
use uuid::Uuid;

const BACKENDS: [Backend; 2] = [Backend::Postgres, Backend::Sqlite];

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

/// A deterministic xorshift64* generator: the same seed gives the same dataset on every run and backend.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, low: i64, high_inclusive: i64) -> i64 {
        low + self.below((high_inclusive - low + 1) as u64) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A merchant: an organization with a store and some products, and a token of its admin.
struct Shop {
    token: String,
    organization: Uuid,
    store: Uuid,
    products: Vec<Uuid>,
}

async fn open_shop(app: &TestApp, timezone: &str, products: usize) -> Shop {
    let token = app.token_for(Uuid::new_v4());
    let organization = app.create_organization(&token, "Analytics shop", timezone).await;
    let store = app.state.db.create_store(organization, "demo", "Demo").await.expect("store");
    let inputs: Vec<ProductInput> = (0..products)
        .map(|i| ProductInput {
            external_id: format!("p{i}"),
            title: format!("Product {i}"),
            description: String::new(),
            vendor: "Acme".into(),
            category: "Things".into(),
            status: ProductStatus::Active,
            variants: vec![VariantInput {
                external_id: format!("p{i}-v"),
                sku: format!("SKU-{i}"),
                title: "Default".into(),
                price_minor: 1000,
                cost_minor: None,
                inventory: 5,
            }],
        })
        .collect();
    let (_, ids) = app.state.db.upsert_products(organization, store, &inputs).await.expect("products");
    let products = (0..products).map(|i| ids[&format!("p{i}")]).collect();
    Shop { token, organization, store, products }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("test timestamp").with_timezone(&Utc)
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
}

fn line(product: Option<Uuid>, quantity: i32, total_minor: i64) -> OrderLineInput {
    OrderLineInput::sold(product, None, quantity, total_minor)
}

fn order(external_id: &str, placed_at: &str, status: OrderStatus, lines: Vec<OrderLineInput>) -> OrderInput {
    let total_minor = lines.iter().map(|l| l.total_minor).sum::<i64>() + 499; // shipping: not revenue
    OrderInput { external_id: external_id.into(), placed_at: at(placed_at), status, total_minor, lines, customer: None }
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get_as(token, path).await;
    let status = response.status();
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// The stored rollups equal a recomputation from raw rows, the monthly rows are the sums of the daily ones, and no
/// stored row is all zeros.
async fn assert_rollups_exact(db: &Database, organization: Uuid, context: &str) {
    let stored = db.stored_rollups(organization).await.expect("stored rollups");
    let recomputed = db.recompute_rollups(organization).await.expect("recomputed rollups");
    assert_eq!(stored, recomputed, "{context}: stored rollups differ from a recomputation");
    let (_, months) = db.stored_rollups_with_months(organization).await.expect("monthly rollups");
    let mut expected: BTreeMap<(Uuid, NaiveDate), [i64; MEASURES.len()]> = BTreeMap::new();
    for (key, c) in stored.iter() {
        let Some(product) = key.product else { continue };
        let month = day(&format!("{}-01", &key.day.to_string()[..7]));
        let sums = expected.entry((product, month)).or_insert([0; MEASURES.len()]);
        for (sum, value) in sums.iter_mut().zip(c.to_array()) {
            *sum += value;
        }
    }
    expected.retain(|_, sums| sums.iter().any(|v| *v != 0));
    let months: BTreeMap<(Uuid, NaiveDate), [i64; MEASURES.len()]> = months
        .iter()
        .map(|(k, c)| {
            let product = k.product.expect("monthly rows are per product");
            ((product, k.day), c.to_array())
        })
        .collect();
    assert_eq!(months, expected, "{context}: monthly rows are the sums of the daily ones");
    let all_zero = MEASURES.map(|m| format!("{m} = 0")).join(" AND ");
    let zero_rows_sql = ["daily_totals", "daily_product_totals", "monthly_product_totals"]
        .map(|table| format!("(SELECT count(*) FROM {table} WHERE organization_id = $1 AND {all_zero})"))
        .join(" + ");
    let zero_rows_sql = format!("SELECT {zero_rows_sql}");
    let zero_rows: i64 = match db {
        Database::Postgres(pool) => sqlx::query_scalar(&zero_rows_sql).bind(organization).fetch_one(pool).await,
        Database::Sqlite(pool) => sqlx::query_scalar(&zero_rows_sql).bind(organization).fetch_one(pool).await,
    }
    .expect("count zero rows");
    assert_eq!(zero_rows, 0, "{context}: rows that reached zero are deleted");
    let (customers, recomputed) = db.customer_rollups(organization).await.expect("customer rollups");
    assert_eq!(customers, recomputed, "{context}: stored customer rollups differ from a recomputation");
}

// ---------------------------------------------------------------------------------------------------------------
// Repository conformance

#[tokio::test]
async fn order_upserts_are_idempotent_and_keep_the_rollups_in_step_on_both_backends() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let shop = open_shop(&app, "America/New_York", 2).await;
        let (db, org, store) = (&app.state.db, shop.organization, shop.store);
        let (shirt, mug) = (Some(shop.products[0]), Some(shop.products[1]));
        let orders = vec![
            // 22:30 EST on 9 March: a 9 March sale in New York, though 10 March in UTC.
            order("1001", "2024-03-10T03:30:00Z", OrderStatus::Paid, vec![line(shirt, 2, 4000), line(mug, 1, 1250)]),
            order(
                "1002",
                "2024-03-10T15:00:00Z",
                OrderStatus::Fulfilled,
                vec![line(shirt, 1, 2000), line(shirt, 1, 1800)],
            ),
            order("1003", "2024-03-10T16:00:00Z", OrderStatus::Cancelled, vec![line(mug, 5, 6250)]),
        ];

        let first = db.upsert_orders(org, store, &orders).await.expect("first upsert");
        let again = db.upsert_orders(org, store, &orders).await.expect("repeat upsert");

        assert_eq!(first, UpsertCounts { created: 3, updated: 0, unchanged: 0 }, "{backend:?}");
        assert_eq!(
            again,
            UpsertCounts { created: 0, updated: 0, unchanged: 3 },
            "{backend:?}: a retry changes nothing"
        );
        let range = shared::analytics::DateRange::new(day("2024-03-09"), day("2024-03-10")).expect("range");
        let days = db.daily_series(org, range, None).await.expect("series");
        let sums: Vec<(NaiveDate, i64, i64, i64)> =
            days.iter().map(|(d, c)| (*d, c.orders, c.units, c.revenue_minor)).collect();
        assert_eq!(sums, [(day("2024-03-09"), 1, 3, 5250), (day("2024-03-10"), 1, 2, 3800)], "{backend:?}");
        let shirt_days = db.daily_series(org, range, shirt).await.expect("product series");
        let shirt_sums: Vec<(i64, i64, i64)> =
            shirt_days.iter().map(|(_, c)| (c.orders, c.units, c.revenue_minor)).collect();
        assert_eq!(shirt_sums, [(1, 2, 4000), (1, 2, 3800)], "{backend:?}: two lines of one product are one order");
        assert_rollups_exact(db, org, "after inserts").await;

        // Corrections: 1001 refunded, 1002 moved to the next day with new lines, 1003 un-cancelled.
        let mut corrected = orders.clone();
        corrected[0].status = OrderStatus::Refunded;
        corrected[1].placed_at = at("2024-03-11T15:00:00Z");
        corrected[1].lines = vec![line(mug, 3, 3300)];
        corrected[2].status = OrderStatus::Open;
        let update = db.upsert_orders(org, store, &corrected).await.expect("corrections");

        assert_eq!(update, UpsertCounts { created: 0, updated: 3, unchanged: 0 }, "{backend:?}");
        let range = shared::analytics::DateRange::new(day("2024-03-09"), day("2024-03-11")).expect("range");
        let sums: Vec<(NaiveDate, i64, i64, i64)> = db
            .daily_series(org, range, None)
            .await
            .expect("series")
            .iter()
            .map(|(d, c)| (*d, c.orders, c.units, c.revenue_minor))
            .collect();
        assert_eq!(sums, [(day("2024-03-10"), 1, 5, 6250), (day("2024-03-11"), 1, 3, 3300)], "{backend:?}");
        assert_rollups_exact(db, org, "after corrections").await;

        let deleted = db.delete_orders(org, store, &["1003".into(), "missing".into()]).await.expect("delete");
        let deleted_again = db.delete_orders(org, store, &["1003".into()]).await.expect("delete again");

        assert_eq!((deleted, deleted_again), (1, 0), "{backend:?}");
        let sums: Vec<NaiveDate> =
            db.daily_series(org, range, None).await.expect("series").iter().map(|(d, _)| *d).collect();
        assert_eq!(sums, [day("2024-03-11")], "{backend:?}: the emptied day has no row left");
        assert_rollups_exact(db, org, "after a deletion").await;
    }
}

#[tokio::test]
async fn an_order_line_naming_another_organizations_product_never_reaches_that_product() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let ours = open_shop(&app, "UTC", 1).await;
        let theirs = open_shop(&app, "UTC", 1).await;
        let db = &app.state.db;
        let foreign = Some(theirs.products[0]);

        db.upsert_orders(
            ours.organization,
            ours.store,
            &[order("1", "2024-05-01T12:00:00Z", OrderStatus::Paid, vec![line(foreign, 1, 999)])],
        )
        .await
        .expect("upsert");

        let range = shared::analytics::DateRange::new(day("2024-05-01"), day("2024-05-01")).expect("range");
        let their_series = db.daily_series(theirs.organization, range, foreign).await.expect("their series");
        assert!(their_series.is_empty(), "{backend:?}: nothing written for their product");
        let our_totals = db.daily_series(ours.organization, range, None).await.expect("our totals");
        assert_eq!(our_totals[0].1.revenue_minor, 999, "{backend:?}: the sale still counts for the organization");
        assert_rollups_exact(db, ours.organization, "foreign product").await;
    }
}

#[tokio::test]
async fn a_retried_event_batch_is_counted_once_on_both_backends() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let shop = open_shop(&app, "UTC", 1).await;
        let product = shop.products[0].to_string();
        let event = |id: &str, kind: &str| json!({ "client_id": id, "kind": kind, "product_id": product, "occurred_at": "2024-05-01T10:00:00+02:00" });
        let batch = json!({ "events": [event("a", "view"), event("b", "view"), event("c", "add_to_cart")] });

        let first = app.post_json_as(&shop.token, "/api/v1/analytics/events", &batch).await;
        let first_status = first.status();
        let first: Value = first.json().await.expect("JSON");
        let retry: Value =
            app.post_json_as(&shop.token, "/api/v1/analytics/events", &batch).await.json().await.expect("JSON");
        let overlap = json!({ "events": [event("c", "add_to_cart"), event("d", "view")] });
        let overlap: Value =
            app.post_json_as(&shop.token, "/api/v1/analytics/events", &overlap).await.json().await.expect("JSON");

        assert_eq!(first_status, 200, "{backend:?}: {first}");
        assert_eq!(first, json!({ "accepted": 3, "duplicates": 0 }), "{backend:?}");
        assert_eq!(retry, json!({ "accepted": 0, "duplicates": 3 }), "{backend:?}");
        assert_eq!(overlap, json!({ "accepted": 1, "duplicates": 1 }), "{backend:?}");
        let views = get_json(
            &app,
            &shop.token,
            &format!("/api/v1/analytics/timeseries?metric=views&from=2024-05-01&to=2024-05-01&product={product}"),
        )
        .await;
        assert_eq!(views["items"], json!([{ "start": "2024-05-01", "value": 3 }]), "{backend:?}");
        let rollups = app.state.db.stored_rollups(shop.organization).await.expect("rollups");
        let add_to_carts: i64 = rollups.iter().filter(|(k, _)| k.product.is_none()).map(|(_, c)| c.add_to_carts).sum();
        assert_eq!(add_to_carts, 1, "{backend:?}");
        assert_rollups_exact(&app.state.db, shop.organization, "after event batches").await;

        // The repository itself: a repeat inside one batch keeps the first, and an unknown product stores nothing.
        let repeated = [
            NewEvent {
                client_id: "e".into(),
                kind: EventKind::View,
                product_id: None,
                occurred_at: at("2024-05-02T00:00:00Z"),
            },
            NewEvent {
                client_id: "e".into(),
                kind: EventKind::Purchase,
                product_id: None,
                occurred_at: at("2024-05-03T00:00:00Z"),
            },
        ];
        let outcome = app.state.db.insert_events(shop.organization, &repeated).await.expect("insert");
        assert_eq!(outcome, EventIngest::Stored { accepted: 1, duplicates: 1 }, "{backend:?}");
        let unknown = [
            NewEvent {
                client_id: "f".into(),
                kind: EventKind::View,
                product_id: None,
                occurred_at: at("2024-05-02T00:00:00Z"),
            },
            NewEvent {
                client_id: "g".into(),
                kind: EventKind::View,
                product_id: Some(Uuid::new_v4()),
                occurred_at: at("2024-05-02T00:00:00Z"),
            },
        ];
        let outcome = app.state.db.insert_events(shop.organization, &unknown).await.expect("insert");
        assert_eq!(outcome, EventIngest::UnknownProducts(vec![1]), "{backend:?}");
        let again = app.state.db.insert_events(shop.organization, &unknown[..1]).await.expect("insert");
        assert_eq!(again, EventIngest::Stored { accepted: 1, duplicates: 0 }, "{backend:?}: `f` was not stored before");
        assert_rollups_exact(&app.state.db, shop.organization, "after repository batches").await;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Exactness: a generated dataset, the API's answers, and the test's own computation

// Calendar arithmetic done by hand (days since 1970-01-01), so the expectations share no date code with the app.

/// Days since 1970-01-01 of a Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The Gregorian date of a day number (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    (if month <= 2 { year_of_era + era * 400 + 1 } else { year_of_era + era * 400 }, month, day)
}

/// 0 for Monday … 6 for Sunday (1970-01-01 was a Thursday).
fn weekday(days: i64) -> i64 {
    (days + 3).rem_euclid(7)
}

fn date_text(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

fn civil(text: &str) -> i64 {
    let parts: Vec<i64> = text.split('-').map(|p| p.parse().expect("number")).collect();
    days_from_civil(parts[0], parts[1], parts[2])
}

fn instant(unix_seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix_seconds, 0).expect("a representable instant")
}

/// The organization's day, by hand: US Eastern time since 2007 is EDT (UTC-4) from the second Sunday of March at
/// 07:00 UTC to the first Sunday of November at 06:00 UTC, EST (UTC-5) otherwise.
fn new_york_day(at: DateTime<Utc>) -> i64 {
    let seconds = at.timestamp();
    let (year, _, _) = civil_from_days(seconds.div_euclid(86_400));
    let nth_sunday = |month: i64, n: i64| {
        let first = days_from_civil(year, month, 1);
        first + (6 - weekday(first)).rem_euclid(7) + 7 * (n - 1)
    };
    let summer_starts = nth_sunday(3, 2) * 86_400 + 7 * 3600;
    let summer_ends = nth_sunday(11, 1) * 86_400 + 6 * 3600;
    let offset = if summer_starts <= seconds && seconds < summer_ends { 4 * 3600 } else { 5 * 3600 };
    (seconds - offset).div_euclid(86_400)
}

#[test]
fn the_tests_own_calendar_agrees_with_known_dates() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(date_text(civil("2024-02-29")), "2024-02-29");
    assert_eq!(weekday(civil("2024-03-10")), 6, "a Sunday");
    assert_eq!(date_text(new_york_day(at("2024-03-10T04:59:59Z"))), "2024-03-09");
    assert_eq!(date_text(new_york_day(at("2024-03-11T03:59:59Z"))), "2024-03-10");
    assert_eq!(date_text(new_york_day(at("2024-03-11T04:00:00Z"))), "2024-03-11");
    assert_eq!(date_text(new_york_day(at("2024-11-04T04:59:59Z"))), "2024-11-03");
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sums {
    orders: i64,
    units: i64,
    revenue: i64,
    views: i64,
}

struct GeneratedEvent {
    client_id: String,
    kind: &'static str,
    product: Option<Uuid>,
    at: DateTime<Utc>,
}

/// Instants that sit on the edges of New York days around both 2024 daylight-saving changes.
const EDGE_INSTANTS: [&str; 10] = [
    "2024-03-10T04:59:59Z", // 23:59:59 EST, 9 March
    "2024-03-10T05:00:00Z", // 00:00 EST, 10 March
    "2024-03-10T06:59:59Z", // 01:59:59 EST, just before the change
    "2024-03-10T07:00:00Z", // 03:00 EDT
    "2024-03-11T03:59:59Z", // 23:59:59 EDT, 10 March
    "2024-03-11T04:00:00Z", // 00:00 EDT, 11 March
    "2024-11-03T03:59:59Z", // 23:59:59 EDT, 2 November
    "2024-11-03T05:30:00Z", // 01:30 EDT, the first of the repeated hour
    "2024-11-03T06:30:00Z", // 01:30 EST, the second
    "2024-11-04T04:59:59Z", // 23:59:59 EST, 3 November
];

/// A random instant: mostly uniform over two windows spanning the 2024 daylight-saving changes, a fifth near New
/// York midnight, some exactly on the edges.
fn random_instant(rng: &mut Rng) -> DateTime<Utc> {
    let windows = [("2024-02-12T05:00:00Z", "2024-04-15T04:00:00Z"), ("2024-10-21T04:00:00Z", "2024-11-18T05:00:00Z")];
    let (start, end) = *rng.pick(&windows);
    let (start, end) = (at(start).timestamp(), at(end).timestamp());
    let roll = rng.below(100);
    if roll < 8 {
        at(EDGE_INSTANTS[rng.below(EDGE_INSTANTS.len() as u64) as usize])
    } else if roll < 28 {
        // 03:00-06:59 UTC is 22:00-01:59 or 23:00-02:59 in New York: either side of midnight.
        let day = start.div_euclid(86_400) + rng.range(0, (end - start) / 86_400 - 1);
        instant(day * 86_400 + 3 * 3600 + rng.range(0, 4 * 3600 - 1))
    } else {
        instant(rng.range(start, end - 1))
    }
}

fn random_status(rng: &mut Rng) -> OrderStatus {
    match rng.below(10) {
        0..=4 => OrderStatus::Paid,
        5 | 6 => OrderStatus::Fulfilled,
        7 => OrderStatus::Open,
        8 => OrderStatus::Cancelled,
        _ => OrderStatus::Refunded,
    }
}

fn random_lines(rng: &mut Rng, products: &[Uuid]) -> Vec<OrderLineInput> {
    (0..rng.range(1, 4))
        .map(|_| {
            let product = if rng.chance(90) { Some(*rng.pick(products)) } else { None };
            let quantity = rng.range(1, 5);
            let unit_price = rng.range(99, 24_999);
            let discount = rng.range(0, 50);
            let mut line = line(product, quantity as i32, quantity * unit_price - discount);
            // Now and then part of the line is refunded.
            if rng.chance(15) {
                line.refunded_quantity = rng.range(1, quantity) as i32;
                line.refunded_minor = (i64::from(line.refunded_quantity) * unit_price).min(line.total_minor);
            }
            line
        })
        .collect()
}

fn generate_orders(rng: &mut Rng, products: &[Uuid], count: usize) -> Vec<OrderInput> {
    (0..count)
        .map(|i| {
            let lines = random_lines(rng, products);
            OrderInput {
                external_id: format!("order-{i}"),
                placed_at: random_instant(rng),
                status: random_status(rng),
                total_minor: lines.iter().map(|l| l.total_minor).sum::<i64>() + rng.range(0, 999),
                lines,
                customer: Some(format!("customer-{}", rng.range(0, 40))),
            }
        })
        .collect()
}

fn generate_events(rng: &mut Rng, products: &[Uuid], count: usize) -> Vec<GeneratedEvent> {
    (0..count)
        .map(|i| GeneratedEvent {
            client_id: format!("event-{i}"),
            kind: ["view", "view", "view", "add_to_cart", "purchase"][rng.below(5) as usize],
            product: if rng.chance(85) { Some(*rng.pick(products)) } else { None },
            at: random_instant(rng),
        })
        .collect()
}

/// The test's own daily sums from the raw dataset: counting statuses, line totals net of refunds, New York days.
fn expected_days(orders: &[OrderInput], events: &[GeneratedEvent], product: Option<Uuid>) -> BTreeMap<i64, Sums> {
    let mut days: BTreeMap<i64, Sums> = BTreeMap::new();
    for order in orders {
        if matches!(order.status, OrderStatus::Cancelled | OrderStatus::Refunded) {
            continue;
        }
        let lines: Vec<&OrderLineInput> =
            order.lines.iter().filter(|l| product.is_none() || l.product_id == product).collect();
        if lines.is_empty() && product.is_some() {
            continue;
        }
        let sums = days.entry(new_york_day(order.placed_at)).or_default();
        sums.orders += 1;
        sums.units += lines.iter().map(|l| i64::from(l.quantity - l.refunded_quantity)).sum::<i64>();
        sums.revenue += lines.iter().map(|l| l.total_minor - l.refunded_minor).sum::<i64>();
    }
    for event in events {
        if event.kind == "view" && (product.is_none() || event.product == product) {
            days.entry(new_york_day(event.at)).or_default().views += 1;
        }
    }
    days
}

/// The test's own buckets: every bucket start from the one holding `from` to the one holding `to`.
fn expected_buckets(days: &BTreeMap<i64, Sums>, bucket: &str, from: i64, to: i64) -> Vec<(i64, Sums)> {
    let start_of = |d: i64| match bucket {
        "day" => d,
        "week" => d - weekday(d),
        _ => {
            let (year, month, _) = civil_from_days(d);
            days_from_civil(year, month, 1)
        }
    };
    let next = |d: i64| match bucket {
        "day" => d + 1,
        "week" => d + 7,
        _ => {
            let (year, month, _) = civil_from_days(d);
            if month == 12 { days_from_civil(year + 1, 1, 1) } else { days_from_civil(year, month + 1, 1) }
        }
    };
    let mut buckets = Vec::new();
    let mut start = start_of(from);
    while start <= to {
        buckets.push((start, Sums::default()));
        start = next(start);
    }
    for (d, sums) in days.range(from..=to) {
        let slot = buckets.iter_mut().find(|(s, _)| *s == start_of(*d)).expect("a bucket for every day");
        slot.1.orders += sums.orders;
        slot.1.units += sums.units;
        slot.1.revenue += sums.revenue;
        slot.1.views += sums.views;
    }
    buckets
}

/// The test's own customer figures for the New York days `from..=to`, as the customers endpoint shows them: a
/// customer's first counting order ever is new, every later one returning, guests apart, cohorts by first month.
fn expected_customers(orders: &[OrderInput], from: i64, to: i64) -> Value {
    let counting = |o: &&OrderInput| !matches!(o.status, OrderStatus::Cancelled | OrderStatus::Refunded);
    let revenue = |o: &OrderInput| o.lines.iter().map(|l| l.total_minor - l.refunded_minor).sum::<i64>();
    let month_of = |d: i64| {
        let (year, month, _) = civil_from_days(d);
        (year, month)
    };
    let mut by_customer: BTreeMap<&str, Vec<&OrderInput>> = BTreeMap::new();
    let (mut guest_orders, mut guest_revenue) = (0, 0);
    for order in orders.iter().filter(counting) {
        let day = new_york_day(order.placed_at);
        match &order.customer {
            Some(customer) if day <= to => by_customer.entry(customer).or_default().push(order),
            None if (from..=to).contains(&day) => {
                guest_orders += 1;
                guest_revenue += revenue(order);
            }
            _ => {}
        }
    }
    let (mut customers, mut repeat) = (0, 0);
    let mut new = [0i64; 3];
    let mut returning = [0i64; 3];
    // cohort (year, month) -> (customers, offset -> (active customers, revenue))
    type Cohort = (i64, BTreeMap<i64, (i64, i64)>);
    let mut cohorts: BTreeMap<(i64, i64), Cohort> = BTreeMap::new();
    for history in by_customer.values_mut() {
        history.sort_by_key(|o| o.placed_at);
        let in_range: Vec<(usize, &&OrderInput)> =
            history.iter().enumerate().filter(|(_, o)| (from..=to).contains(&new_york_day(o.placed_at))).collect();
        if in_range.is_empty() {
            continue;
        }
        customers += 1;
        repeat += i64::from(in_range.len() >= 2);
        let first_day = new_york_day(history[0].placed_at);
        let is_new = (from..=to).contains(&first_day);
        if is_new {
            new[0] += 1;
        } else {
            returning[0] += 1;
        }
        for (index, order) in &in_range {
            let segment = if *index == 0 { &mut new } else { &mut returning };
            segment[1] += 1;
            segment[2] += revenue(order);
        }
        if is_new {
            let (year, month) = month_of(first_day);
            let cohort = cohorts.entry((year, month)).or_default();
            cohort.0 += 1;
            let mut active = std::collections::BTreeSet::new();
            for order in history.iter() {
                let (y, m) = month_of(new_york_day(order.placed_at));
                let offset = (y - year) * 12 + m - month;
                let slot = cohort.1.entry(offset).or_default();
                slot.1 += revenue(order);
                if active.insert(offset) {
                    slot.0 += 1;
                }
            }
        }
    }
    let (last_year, last_month) = month_of(to);
    let segment = |s: [i64; 3]| json!({ "customers": s[0], "orders": s[1], "revenue": dollars(s[2]) });
    json!({
        "customers": customers,
        "repeat_customers": repeat,
        "new": segment(new),
        "returning": segment(returning),
        "guest": json!({ "customers": 0, "orders": guest_orders, "revenue": dollars(guest_revenue) }),
        "cohorts": cohorts.iter().map(|((year, month), (size, months))| {
            let last = (last_year - year) * 12 + last_month - month;
            json!({
                "month": format!("{year:04}-{month:02}"),
                "customers": size,
                "months": (0..=last).map(|offset| {
                    let (active, spent) = months.get(&offset).copied().unwrap_or_default();
                    json!({ "offset": offset, "customers": active, "revenue": dollars(spent) })
                }).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
    })
}

/// The customers endpoint's answer without the figures [`expected_customers`] leaves out (rates, per customer).
fn customer_figures_of(answer: &Value) -> Value {
    let mut figures = json!({});
    for key in ["customers", "repeat_customers", "new", "returning", "guest"] {
        figures[key] = answer[key].clone();
    }
    figures["cohorts"] = answer["cohorts"]
        .as_array()
        .expect("cohorts")
        .iter()
        .map(|cohort| {
            let months: Vec<Value> = cohort["months"]
                .as_array()
                .expect("months")
                .iter()
                .map(|m| json!({ "offset": m["offset"], "customers": m["customers"], "revenue": m["revenue"] }))
                .collect();
            json!({ "month": cohort["month"], "customers": cohort["customers"], "months": months })
        })
        .collect();
    figures
}

fn dollars(cents: i64) -> Value {
    assert!(cents >= 0, "the dataset has no negative amounts");
    Value::String(format!("{}.{:02}", cents / 100, cents % 100))
}

/// The test's own metric values (AOV: nearest cent, halves away from zero).
fn expected_value(metric: &str, sums: Sums) -> Value {
    match metric {
        "revenue" => dollars(sums.revenue),
        "orders" => json!(sums.orders),
        "units" => json!(sums.units),
        "views" => json!(sums.views),
        "aov" if sums.orders == 0 => Value::Null,
        "aov" => dollars((2 * sums.revenue + sums.orders) / (2 * sums.orders)),
        "conversion_rate" if sums.views == 0 => Value::Null,
        "conversion_rate" => json!(sums.orders as f64 / sums.views as f64),
        other => panic!("no expectation for {other}"),
    }
}

fn expected_series(days: &BTreeMap<i64, Sums>, metric: &str, bucket: &str, from: i64, to: i64) -> (Value, Value) {
    let buckets = expected_buckets(days, bucket, from, to);
    let mut total = Sums::default();
    let items: Vec<Value> = buckets
        .iter()
        .map(|(start, sums)| {
            total.orders += sums.orders;
            total.units += sums.units;
            total.revenue += sums.revenue;
            total.views += sums.views;
            json!({ "start": date_text(*start), "value": expected_value(metric, *sums) })
        })
        .collect();
    (Value::Array(items), expected_value(metric, total))
}

/// Series are equal: money strings and counts exactly; rates (the only floats) within 1e-12, because serde_json's
/// default float parser on this side may land one ulp away from the shortest representation the API wrote.
fn assert_same_values(actual: &Value, expected: &Value, context: &str) {
    let same = |a: &Value, e: &Value| match (a.as_f64(), e.as_f64()) {
        (Some(a), Some(e)) if e.fract() != 0.0 || a.fract() != 0.0 => (a - e).abs() <= 1e-12 * e.abs().max(1.0),
        _ => a == e,
    };
    let (Some(actual_items), Some(expected_items)) = (actual.as_array(), expected.as_array()) else {
        assert!(same(actual, expected), "{context}: {actual} != {expected}");
        return;
    };
    assert_eq!(actual_items.len(), expected_items.len(), "{context}: bucket count");
    for (a, e) in actual_items.iter().zip(expected_items) {
        assert_eq!(a["start"], e["start"], "{context}");
        assert!(same(&a["value"], &e["value"]), "{context}, bucket {}: {} != {}", e["start"], a["value"], e["value"]);
    }
}

/// The dataset after its corrections: some orders changed and re-upserted, some deleted.
struct LoadedDataset {
    orders: Vec<OrderInput>,
    events: Vec<GeneratedEvent>,
}

async fn load_dataset(app: &TestApp, shop: &Shop, seed: u64) -> LoadedDataset {
    let db = &app.state.db;
    let mut rng = Rng(seed);
    let mut orders = generate_orders(&mut rng, &shop.products, 320);
    let events = generate_events(&mut rng, &shop.products, 700);
    for batch in orders.chunks(64) {
        let counts = db.upsert_orders(shop.organization, shop.store, batch).await.expect("upsert orders");
        assert_eq!(counts.created, batch.len() as u64);
    }
    // Corrections as a sync would deliver them: new statuses, new lines, a different placement time.
    let mut corrected = Vec::new();
    for (n, index) in (0..orders.len()).step_by(9).enumerate() {
        let order = &mut orders[index];
        match n % 3 {
            0 => {
                order.status =
                    if order.status == OrderStatus::Refunded { OrderStatus::Paid } else { OrderStatus::Refunded }
            }
            1 => order.lines = random_lines(&mut rng, &shop.products),
            _ => order.placed_at = instant(order.placed_at.timestamp() + rng.range(-72, 72) * 3600 + 1),
        }
        corrected.push(order.clone());
    }
    let counts = db.upsert_orders(shop.organization, shop.store, &corrected).await.expect("corrections");
    assert_eq!(counts.updated, corrected.len() as u64, "every correction changes its order");
    let deleted: Vec<String> = orders.iter().skip(4).step_by(17).map(|o| o.external_id.clone()).collect();
    let removed = db.delete_orders(shop.organization, shop.store, &deleted).await.expect("delete");
    assert_eq!(removed, deleted.len() as u64);
    orders.retain(|o| !deleted.contains(&o.external_id));

    let body = json!({ "events": events.iter().map(|e| json!({
        "client_id": e.client_id,
        "kind": e.kind,
        "product_id": e.product,
        "occurred_at": e.at.to_rfc3339(),
    })).collect::<Vec<_>>() });
    for attempt in ["first", "retry"] {
        let response = app.post_json_as(&shop.token, "/api/v1/analytics/events", &body).await;
        assert_eq!(response.status(), 200, "{attempt} event batch");
        let counts: Value = response.json().await.expect("JSON");
        let accepted = if attempt == "first" { events.len() } else { 0 };
        assert_eq!(counts, json!({ "accepted": accepted, "duplicates": events.len() - accepted }), "{attempt}");
    }
    LoadedDataset { orders, events }
}

#[tokio::test]
async fn analytics_figures_equal_an_independent_computation_from_the_raw_rows_to_the_cent() {
    for backend in BACKENDS {
        // Arrange
        let app = spawn_app_on(backend).await;
        let shop = open_shop(&app, "America/New_York", 8).await;
        let dataset = load_dataset(&app, &shop, 0x5EED_DA7A).await;
        let (from, to) = (civil("2024-02-12"), civil("2024-11-17"));
        let all_days = expected_days(&dataset.orders, &dataset.events, None);
        assert!(all_days.values().map(|s| s.orders).sum::<i64>() > 200, "the dataset is substantial");

        for bucket in ["day", "week", "month"] {
            for metric in ["revenue", "orders", "units", "aov", "views", "conversion_rate"] {
                // Act
                let path = format!(
                    "/api/v1/analytics/timeseries?metric={metric}&bucket={bucket}&from={}&to={}",
                    date_text(from),
                    date_text(to)
                );
                let series = get_json(&app, &shop.token, &path).await;

                // Assert
                let (items, total) = expected_series(&all_days, metric, bucket, from, to);
                assert_same_values(&series["items"], &items, &format!("{backend:?} {metric} by {bucket}"));
                assert_same_values(&series["total"], &total, &format!("{backend:?} {metric} total by {bucket}"));
                let currency = if metric == "revenue" || metric == "aov" { json!("USD") } else { Value::Null };
                assert_eq!(series["currency"], currency, "{backend:?} {metric}");
            }
        }

        // One product's figures, with a partial first and last week, and the previous period.
        let product = shop.products[3];
        let product_days = expected_days(&dataset.orders, &dataset.events, Some(product));
        let (from, to) = (civil("2024-03-06"), civil("2024-04-10"));
        let (prev_from, prev_to) = (civil("2024-01-30"), civil("2024-03-05"));
        for metric in ["revenue", "units", "aov"] {
            let path = format!(
                "/api/v1/analytics/timeseries?metric={metric}&bucket=week&from=2024-03-06&to=2024-04-10\
                 &product={product}&compare=previous_period"
            );
            let series = get_json(&app, &shop.token, &path).await;
            let (items, total) = expected_series(&product_days, metric, "week", from, to);
            let (previous_items, previous_total) = expected_series(&product_days, metric, "week", prev_from, prev_to);
            assert_eq!((&series["items"], &series["total"]), (&items, &total), "{backend:?} product {metric}");
            assert_eq!(
                series["previous"],
                json!({ "from": "2024-01-30", "to": "2024-03-05", "total": previous_total, "items": previous_items }),
                "{backend:?} previous {metric}"
            );
        }

        // The ranking, computed by hand from the same rows.
        let (from, to) = (civil("2024-03-01"), civil("2024-04-14"));
        let mut ranking: Vec<(Uuid, Sums)> = shop
            .products
            .iter()
            .map(|p| {
                let days = expected_days(&dataset.orders, &dataset.events, Some(*p));
                let mut sums = Sums::default();
                for s in days.range(from..=to).map(|(_, s)| s) {
                    sums.orders += s.orders;
                    sums.units += s.units;
                    sums.revenue += s.revenue;
                }
                (*p, sums)
            })
            .filter(|(_, s)| s.orders > 0)
            .collect();
        ranking.sort_by(|(a, x), (b, y)| (y.revenue, y.units, a).cmp(&(x.revenue, x.units, b)));
        let top =
            get_json(&app, &shop.token, "/api/v1/analytics/top-products?from=2024-03-01&to=2024-04-14&limit=5").await;
        let expected: Vec<Value> = ranking
            .iter()
            .take(5)
            .map(|(p, s)| json!({ "product_id": p, "revenue": dollars(s.revenue), "units": s.units, "orders": s.orders }))
            .collect();
        let answered: Vec<Value> = top["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| json!({ "product_id": i["product_id"], "revenue": i["revenue"], "units": i["units"], "orders": i["orders"] }))
            .collect();
        assert_eq!(answered, expected, "{backend:?} top products by revenue");

        // Customers: new against returning, guests and cohorts, over the whole dataset and over a range most
        // customers come back to.
        for (from, to) in [("2024-02-12", "2024-11-17"), ("2024-03-20", "2024-11-17")] {
            let answer = get_json(&app, &shop.token, &format!("/api/v1/analytics/customers?from={from}&to={to}")).await;
            let expected = expected_customers(&dataset.orders, civil(from), civil(to));
            assert!(expected["returning"]["orders"].as_i64() > Some(0), "{from}: the dataset has returning orders");
            assert!(from != "2024-02-12" || expected["cohorts"][0]["customers"].as_i64() > Some(0), "it has cohorts");
            assert_eq!(customer_figures_of(&answer), expected, "{backend:?} customers {from}..{to}");
        }

        assert_rollups_exact(&app.state.db, shop.organization, "after loading the dataset").await;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Rollups equal a recomputation after any sequence of writes

#[tokio::test]
async fn rollups_equal_a_recomputation_from_raw_rows_after_any_sequence_of_writes() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let shop = open_shop(&app, "America/New_York", 5).await;
        let db = &app.state.db;
        let (org, store) = (shop.organization, shop.store);
        let stranger = Uuid::new_v4(); // a product id the organization does not have
        let mut products = shop.products.clone();
        products.push(stranger);
        let mut rng = Rng(0xA115_E90E ^ backend as u64);
        let mut live: Vec<OrderInput> = Vec::new();
        let mut next_order = 0;
        let mut sent_events: Vec<NewEvent> = Vec::new();

        for step in 0..70 {
            let operation = rng.below(6);
            match operation {
                // New orders, sometimes the same one twice in a batch.
                0 | 1 => {
                    let count = rng.range(1, 4) as usize;
                    let mut batch = generate_orders(&mut rng, &products, count);
                    for order in &mut batch {
                        order.external_id = format!("o{next_order}");
                        next_order += 1;
                    }
                    if rng.chance(30) {
                        let mut twice = batch[0].clone();
                        twice.status = random_status(&mut rng);
                        batch.push(twice);
                    }
                    db.upsert_orders(org, store, &batch).await.expect("insert orders");
                    for order in batch {
                        live.retain(|o| o.external_id != order.external_id);
                        live.push(order);
                    }
                }
                // Corrections: lines, status, placement (possibly unchanged: a sync re-delivering).
                2 if !live.is_empty() => {
                    let mut batch = Vec::new();
                    for _ in 0..rng.range(1, 3) {
                        let index = rng.below(live.len() as u64) as usize;
                        let order = &mut live[index];
                        match rng.below(4) {
                            0 => order.lines = random_lines(&mut rng, &products),
                            1 => order.status = random_status(&mut rng),
                            2 => order.placed_at = random_instant(&mut rng),
                            _ => {}
                        }
                        batch.push(order.clone());
                    }
                    db.upsert_orders(org, store, &batch).await.expect("update orders");
                }
                3 if !live.is_empty() => {
                    let index = rng.below(live.len() as u64) as usize;
                    let gone = live.remove(index);
                    db.delete_orders(org, store, &[gone.external_id, "never-existed".into()]).await.expect("delete");
                }
                // Event batches, partly repeating earlier client ids.
                _ => {
                    let count = rng.range(1, 20) as usize;
                    let mut batch: Vec<NewEvent> = generate_events(&mut rng, &shop.products, count)
                        .into_iter()
                        .map(|e| NewEvent {
                            client_id: format!("s{step}-{}", e.client_id),
                            kind: match e.kind {
                                "view" => EventKind::View,
                                "add_to_cart" => EventKind::AddToCart,
                                _ => EventKind::Purchase,
                            },
                            product_id: e.product,
                            occurred_at: e.at,
                        })
                        .collect();
                    for _ in 0..rng.range(0, 3) {
                        if !sent_events.is_empty() {
                            batch.push(rng.pick(&sent_events).clone());
                        }
                    }
                    let outcome = db.insert_events(org, &batch).await.expect("events");
                    assert!(matches!(outcome, EventIngest::Stored { .. }), "step {step}: {outcome:?}");
                    sent_events.extend(batch);
                }
            }
            assert_rollups_exact(db, org, &format!("{backend:?} step {step} (operation {operation})")).await;
        }

        let rebuild = db.rebuild_rollups(org).await.expect("rebuild");
        assert!(!rebuild.corrected, "{backend:?}: maintained rollups need no correction");
        assert!(rebuild.rows > 0);
    }
}

#[tokio::test]
async fn a_rebuild_from_the_command_line_repairs_damaged_rollups() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let shop = open_shop(&app, "Europe/Paris", 2).await;
    let db = &app.state.db;
    let orders = generate_orders(&mut Rng(7), &shop.products, 20);
    db.upsert_orders(shop.organization, shop.store, &orders).await.expect("orders");
    let Database::Sqlite(pool) = db else { panic!("a SQLite app") };
    sqlx::query("UPDATE daily_totals SET revenue_minor = revenue_minor + 1 WHERE organization_id = $1")
        .bind(shop.organization)
        .execute(pool)
        .await
        .expect("damage the rollups");
    sqlx::query("INSERT INTO daily_totals (organization_id, day) VALUES ($1, '1999-01-01')")
        .bind(shop.organization)
        .execute(pool)
        .await
        .expect("add an all-zero row");

    let output = std::process::Command::new(tests::handler_binary())
        .args(["rollups", "rebuild", "--org", &shop.organization.to_string()])
        .env_clear()
        .envs(&app.env)
        .output()
        .expect("run handler");

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&shop.organization.to_string()) && stdout.contains("corrected"), "{stdout}");
    assert_rollups_exact(db, shop.organization, "after the rebuild").await;
    let unknown = std::process::Command::new(tests::handler_binary())
        .args(["rollups", "rebuild", "--org", &Uuid::new_v4().to_string()])
        .env_clear()
        .envs(&app.env)
        .output()
        .expect("run handler");
    assert!(!unknown.status.success(), "an unknown organization is an error");
}

// ---------------------------------------------------------------------------------------------------------------
// Bad input and tenancy

async fn problem(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(content_type, "application/problem+json", "{body}");
    (status, body)
}

fn names_field(problem: &Value, field: &str) -> bool {
    let listed = problem["errors"].as_array().is_some_and(|errors| errors.iter().any(|e| e["field"] == field));
    listed || problem["detail"].as_str().is_some_and(|d| d.contains(field))
}

#[tokio::test]
async fn bad_analytics_queries_are_400_problems_naming_the_parameter() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let shop = open_shop(&app, "UTC", 1).await;
    let cases = [
        ("timeseries?metric=gross_margin", "metric", "unknown metric"),
        (
            "timeseries?metric=profit&product=00000000-0000-0000-0000-000000000001&category=Things",
            "category",
            "product and category",
        ),
        ("timeseries?bucket=day", "metric", "missing metric"),
        ("timeseries?metric=revenue&bucket=quarter", "bucket", "unknown bucket"),
        ("timeseries?metric=revenue&from=2024-03-02&to=2024-03-01", "from", "from after to"),
        ("timeseries?metric=revenue&from=2020-01-01&to=2024-01-01", "from", "range too long"),
        ("timeseries?metric=revenue&from=2024-13-01", "from", "no such month"),
        ("timeseries?metric=revenue&from=2024-02-30", "from", "no such day"),
        ("timeseries?metric=revenue&to=yesterday", "to", "not a date"),
        ("timeseries?metric=revenue&from=2024-03-01T00:00:00Z", "from", "a timestamp, not a date"),
        ("timeseries?metric=revenue&from=1850-01-01&to=1850-01-02", "from", "before 1900"),
        ("timeseries?metric=revenue&to=1900-01-05", "to", "default from before 1900"),
        ("timeseries?metric=revenue&compare=last_year", "compare", "unknown comparison"),
        ("timeseries?metric=revenue&product=abc", "product", "not a UUID"),
        ("timeseries?metric=revenue&form=2024-01-01", "form", "unknown parameter"),
        ("timeseries?metric=revenue&metric=orders", "metric", "repeated parameter"),
        ("top-products?by=margin", "by", "unknown ranking"),
        ("top-products?category=", "category", "an empty category"),
        ("timeseries?metric=profit&category=", "category", "an empty category"),
        ("top-products?limit=0", "limit", "limit zero"),
        ("top-products?limit=101", "limit", "limit above 100"),
        ("top-products?limit=-1", "limit", "negative limit"),
        ("top-products?limit=ten", "limit", "limit not a number"),
        ("top-products?from=2024-03-01&to=2024-02-01", "from", "from after to"),
        ("top-products?metric=revenue", "metric", "a parameter of the other endpoint"),
    ];
    for (query, field, why) in cases {
        let (status, body) = problem(app.get_as(&shop.token, &format!("/api/v1/analytics/{query}")).await).await;
        assert_eq!(status, 400, "{why}: {body}");
        assert!(names_field(&body, field), "{why}: the problem names `{field}`: {body}");
    }
    let (_, several) =
        problem(app.get_as(&shop.token, "/api/v1/analytics/timeseries?metric=x&bucket=y&limit=3").await).await;
    let fields: Vec<&str> =
        several["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields.len(), 3, "every bad parameter is named at once: {several}");
}

#[tokio::test]
async fn the_default_range_is_the_thirty_days_ending_yesterday_in_the_organizations_zone() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let shop = open_shop(&app, "UTC", 1).await;

    let series = get_json(&app, &shop.token, "/api/v1/analytics/timeseries?metric=orders").await;
    let top = get_json(&app, &shop.token, "/api/v1/analytics/top-products").await;

    let yesterday = Utc::now().timestamp().div_euclid(86_400) - 1;
    assert_eq!(series["from"], date_text(yesterday - 29), "{series}");
    assert_eq!(series["to"], date_text(yesterday), "{series}");
    let items = series["items"].as_array().expect("items");
    assert_eq!(items.len(), 30, "one bucket per day");
    assert!(items.iter().all(|i| i["value"] == 0), "empty buckets are zeros: {series}");
    assert_eq!(series["total"], 0);
    assert_eq!(series["next_cursor"], Value::Null);
    assert_eq!(series["bucket"], "day");
    assert_eq!(top["by"], "revenue");
    assert_eq!(top["items"], json!([]));
}

fn event(client_id: &str, kind: &str, occurred_at: &str) -> Value {
    json!({ "client_id": client_id, "kind": kind, "occurred_at": occurred_at })
}

#[tokio::test]
async fn bad_event_batches_are_422_problems_naming_each_field_and_store_nothing() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let shop = open_shop(&app, "UTC", 1).await;
    let other = open_shop(&app, "UTC", 1).await;
    let when = "2024-05-01T12:00:00Z";
    let future = instant(Utc::now().timestamp() + 3600).to_rfc3339();
    let ok = |id: &str| event(id, "view", when);
    let too_many: Vec<Value> = (0..1001).map(|i| ok(&format!("e{i}"))).collect();
    let mut with_product = ok("p");
    with_product["product_id"] = json!(other.products[0]);
    let mut bad_uuid = ok("u");
    bad_uuid["product_id"] = json!("not-a-uuid");
    let mut extra = ok("x");
    extra["price"] = json!("9.99");
    let cases = [
        (json!({ "events": too_many }), "events", "a batch of 1,001"),
        (json!({ "events": [ok("a"), ok("b"), ok("c"), event("d", "like", when)] }), "events[3].kind", "unknown kind"),
        (json!({ "events": [event("", "view", when)] }), "events[0].client_id", "empty client id"),
        (json!({ "events": [event(&"x".repeat(101), "view", when)] }), "events[0].client_id", "client id of 101"),
        (json!({ "events": [event("a\u{7}", "view", when)] }), "events[0].client_id", "control character"),
        (json!({ "events": [ok("same"), ok("same")] }), "events[1].client_id", "client id repeated in the batch"),
        (json!({ "events": [event("f", "view", &future)] }), "events[0].occurred_at", "an hour in the future"),
        (json!({ "events": [event("g", "view", "yesterday")] }), "events[0].occurred_at", "not a timestamp"),
        (json!({ "events": [event("h", "view", "2024-05-01 12:00:00")] }), "events[0].occurred_at", "no offset"),
        (json!({ "events": [event("i", "view", "1999-12-31T23:59:59Z")] }), "events[0].occurred_at", "before 2000"),
        (json!({ "events": [ok("j"), with_product] }), "events[1].product_id", "another tenant's product"),
        (json!({ "events": [bad_uuid] }), "events[0].product_id", "not a UUID"),
        (json!({ "events": [extra] }), "events[0].price", "unknown field"),
        (json!({ "events": ["view"] }), "events[0]", "not an object"),
        (json!({ "events": [{ "client_id": "k", "occurred_at": when }] }), "events[0].kind", "missing kind"),
        (
            json!({ "events": [{ "client_id": 5, "kind": "view", "occurred_at": when }] }),
            "events[0].client_id",
            "wrong type",
        ),
        (json!({ "events": "all of them" }), "events", "not an array"),
        (json!({ "events": [], "source": "web" }), "source", "unknown top-level field"),
    ];
    for (body, field, why) in cases {
        let (status, problem) = problem(app.post_json_as(&shop.token, "/api/v1/analytics/events", &body).await).await;
        assert_eq!(status, 422, "{why}: {problem}");
        assert!(names_field(&problem, field), "{why}: the problem names `{field}`: {problem}");
    }

    let stored = app.state.db.stored_rollups(shop.organization).await.expect("rollups");
    assert!(stored.is_empty(), "no rejected batch stored anything");
    let events: i64 = match &app.state.db {
        Database::Sqlite(pool) => sqlx::query_scalar("SELECT count(*) FROM analytics_events").fetch_one(pool).await,
        Database::Postgres(pool) => sqlx::query_scalar("SELECT count(*) FROM analytics_events").fetch_one(pool).await,
    }
    .expect("count events");
    assert_eq!(events, 0, "all or nothing");
    let empty = app.post_json_as(&shop.token, "/api/v1/analytics/events", &json!({ "events": [] })).await;
    assert_eq!(empty.json::<Value>().await.expect("JSON"), json!({ "accepted": 0, "duplicates": 0 }));
}

#[tokio::test]
async fn another_organizations_product_and_figures_never_leak() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let ours = open_shop(&app, "UTC", 1).await;
        let theirs = open_shop(&app, "UTC", 1).await;
        let their_product = theirs.products[0];
        app.state
            .db
            .upsert_orders(
                theirs.organization,
                theirs.store,
                &[order("t1", "2024-05-01T12:00:00Z", OrderStatus::Paid, vec![line(Some(their_product), 3, 7500)])],
            )
            .await
            .expect("their order");
        let range = "from=2024-05-01&to=2024-05-01";

        let (status, body) = problem(
            app.get_as(
                &ours.token,
                &format!("/api/v1/analytics/timeseries?metric=revenue&{range}&product={their_product}"),
            )
            .await,
        )
        .await;
        let missing = Uuid::new_v4();
        let (missing_status, missing_body) = problem(
            app.get_as(&ours.token, &format!("/api/v1/analytics/timeseries?metric=revenue&{range}&product={missing}"))
                .await,
        )
        .await;
        let our_totals =
            get_json(&app, &ours.token, &format!("/api/v1/analytics/timeseries?metric=revenue&{range}")).await;
        let our_top = get_json(&app, &ours.token, &format!("/api/v1/analytics/top-products?{range}")).await;
        let their_top = get_json(&app, &theirs.token, &format!("/api/v1/analytics/top-products?{range}")).await;

        assert_eq!(status, 404, "{backend:?}: {body}");
        assert_eq!((missing_status, &missing_body["detail"]), (404, &body["detail"]), "{backend:?}: indistinguishable");
        assert_eq!(our_totals["total"], "0.00", "{backend:?}");
        assert_eq!(our_top["items"], json!([]), "{backend:?}");
        assert_eq!(their_top["items"][0]["product_id"], json!(their_product), "{backend:?}");
        assert_eq!(their_top["items"][0]["revenue"], "75.00", "{backend:?}");
    }
}

#[tokio::test]
async fn a_ranking_follows_every_sales_change_at_once_and_events_show_in_series_at_once() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let shop = open_shop(&app, "UTC", 2).await;
        let (db, org, store) = (&app.state.db, shop.organization, shop.store);
        let (first, second) = (shop.products[0], shop.products[1]);
        let top = "/api/v1/analytics/top-products?from=2024-05-01&to=2024-05-31&limit=2";
        let ids = |body: &Value| -> Vec<Value> {
            body["items"].as_array().expect("items").iter().map(|i| i["product_id"].clone()).collect()
        };
        db.upsert_orders(
            org,
            store,
            &[order("1", "2024-05-02T12:00:00Z", OrderStatus::Paid, vec![line(Some(first), 1, 500)])],
        )
        .await
        .expect("first order");
        let before = get_json(&app, &shop.token, top).await;
        let again = get_json(&app, &shop.token, top).await;

        db.upsert_orders(
            org,
            store,
            &[order("2", "2024-05-20T12:00:00Z", OrderStatus::Paid, vec![line(Some(second), 2, 900)])],
        )
        .await
        .expect("second order");
        let after_sale = get_json(&app, &shop.token, top).await;
        db.upsert_orders(
            org,
            store,
            &[order("2", "2024-05-20T12:00:00Z", OrderStatus::Refunded, vec![line(Some(second), 2, 900)])],
        )
        .await
        .expect("refund");
        let after_refund = get_json(&app, &shop.token, top).await;

        assert_eq!(ids(&before), [json!(first)], "{backend:?}");
        assert_eq!(before, again, "{backend:?}: nothing changed, the same answer");
        assert_eq!(ids(&after_sale), [json!(second), json!(first)], "{backend:?}: the new sale ranks at once");
        assert_eq!(after_sale["items"][0]["revenue"], "9.00", "{backend:?}");
        assert_eq!(ids(&after_refund), [json!(first)], "{backend:?}: the refund takes it out at once");

        // An acknowledged event batch is in the series straight away, folded or not.
        for round in 0..3 {
            let batch = json!({ "events": (0..5).map(|i| json!({
                "client_id": format!("r{round}-{i}"), "kind": "view", "product_id": first,
                "occurred_at": "2024-05-03T08:00:00Z",
            })).collect::<Vec<_>>() });
            let response = app.post_json_as(&shop.token, "/api/v1/analytics/events", &batch).await;
            assert_eq!(response.status(), 200, "{backend:?}");
            let views = get_json(
                &app,
                &shop.token,
                &format!("/api/v1/analytics/timeseries?metric=views&from=2024-05-03&to=2024-05-03&product={first}"),
            )
            .await;
            assert_eq!(views["total"], 5 * (round + 1), "{backend:?} round {round}");
        }
        assert_rollups_exact(db, org, "after the ranking changes").await;
    }
}
