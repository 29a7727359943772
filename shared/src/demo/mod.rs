//! Demo data: a realistic organization loaded from a bundled third-party dataset, so a fresh clone has a catalogue,
//! four years of orders and recent storefront activity to search, chart and advise on (`handler dev --demo`).
//!
//! # Layout
//! - [`superstore`]: the bundled Tableau "Sample - Superstore" orders (MIT), read into typed lines.
//! - [`plan`]: the pure, deterministic mapping from those lines to products, orders and events, re-dated to end on
//!   a given day.
//! - [`load`] (here): writes a plan through the repositories, idempotently.
//!
//! # Idempotence
//! The demo lives in the admin's organization named [`DEMO_ORGANIZATION`], in its store on the `demo` platform.
//! Every write is an upsert on a stable key (product and order external ids, event client ids), and the history
//! is anchored to the day the demo store was **created**: a later run, even days later, rebuilds the identical
//! plan, so it can neither duplicate nor move anything, and a run that was interrupted is completed by the next.
//! When the store already holds the whole plan, loading stops after three counts. The price: the history ages
//! with the store; to get one ending yesterday again, load into a fresh database.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use chrono::{DateTime, Days, NaiveDate, Utc};
use uuid::Uuid;

use crate::{
    analytics::{EventKind, OrderStatus, Tz},
    db::{
        Database, DbError,
        analytics::{EventIngest, NewEvent},
        on_pool,
        orders::{OrderInput, OrderLineInput},
        rollups::FoldMode,
        tenants::NewOrganization,
    },
    domain::{CurrencyCode, OrganizationName, TimeZoneName},
};

pub mod plan;
pub mod superstore;

pub use plan::{DemoEvent, DemoEventKind, DemoOrder, DemoOrderLine, DemoPlan};

/// The demo organization's name.
pub const DEMO_ORGANIZATION: &str = "Demo Superstore";
/// Its time zone: the dataset is a US retailer's.
pub const DEMO_TIMEZONE: &str = "America/New_York";
/// Its currency: the dataset's amounts are dollars.
pub const DEMO_CURRENCY: &str = "USD";
/// The platform name of its store.
pub const DEMO_PLATFORM: &str = "demo";
/// The store's display name.
pub const DEMO_STORE_NAME: &str = "Superstore (sample data)";

/// Orders, and events, per repository call (and so per transaction). Every call adds its changes to the daily
/// rollups row by row, and a day's organization row is touched once per call that has that day: the whole plan in
/// one call each (5,009 orders, about 38,000 events) halves the load time on PostgreSQL against calls of 1,000. The
/// load runs before the dev host serves, so the long transactions hold up no one.
const ORDER_BATCH: usize = 10_000;
const EVENT_BATCH: usize = 100_000;

/// Why the demo could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The bundled file could not be read (a build with a damaged file).
    #[error("the bundled Superstore data is unreadable: {0}")]
    Dataset(String),
    /// A constant of the demo was refused by its domain type (a bug).
    #[error("demo constant refused: {0}")]
    Constant(#[from] crate::domain::ParseError),
    /// A write failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What a load did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLoad {
    /// The demo organization.
    pub organization: Uuid,
    /// Its demo store.
    pub store: Uuid,
    /// The first day of the history (local to the organization).
    pub history_starts: NaiveDate,
    /// The last day of the history.
    pub history_ends: NaiveDate,
    /// Products in the plan.
    pub products: usize,
    /// Orders in the plan.
    pub orders: usize,
    /// Analytics events in the plan.
    pub events: usize,
    /// `false` when the store already held the whole plan and nothing was written.
    pub written: bool,
    /// Wall time of the load.
    pub elapsed: Duration,
}

/// Loads (or completes) the demo organization with `admin` as its admin. See the module docs for idempotence.
#[tracing::instrument(name = "loading the demo organization", skip(db))]
pub async fn load(db: &Database, admin: Uuid) -> Result<DemoLoad, DemoError> {
    let started = Instant::now();
    let lines = superstore::bundled_lines()?;
    let organization = demo_organization(db, admin).await?;
    let (store, created_at) = demo_store(db, organization).await?;
    let timezone: Tz = DEMO_TIMEZONE.parse().unwrap_or(chrono_tz::UTC);
    let history_ends = history_end_for(created_at, timezone);
    let plan = plan::plan(&lines, history_ends, timezone);
    let mut load = DemoLoad {
        organization,
        store,
        history_starts: plan.orders.first().map_or(history_ends, |o| o.placed_at.with_timezone(&timezone).date_naive()),
        history_ends,
        products: plan.products.len(),
        orders: plan.orders.len(),
        events: plan.events.len(),
        written: false,
        elapsed: Duration::ZERO,
    };
    if stored_counts(db, organization, store).await? != (load.products, load.orders, load.events) {
        write(db, organization, store, &plan).await?;
        load.written = true;
    }
    load.elapsed = started.elapsed();
    Ok(load)
}

/// The history of a demo store created at `created_at` ends the day before, in the organization's time zone.
pub fn history_end_for(created_at: DateTime<Utc>, timezone: Tz) -> NaiveDate {
    let today = created_at.with_timezone(&timezone).date_naive();
    today.checked_sub_days(Days::new(1)).unwrap_or(today)
}

async fn write(db: &Database, organization: Uuid, store: Uuid, plan: &DemoPlan) -> Result<(), DemoError> {
    let (_, product_ids) = db.upsert_products(organization, store, &plan.products).await?;
    // One variant per product, with the product's external id.
    let variant_ids = variant_ids(db, organization, store).await?;
    let orders: Vec<OrderInput> = plan
        .orders
        .iter()
        .map(|order| OrderInput {
            external_id: order.external_id.clone(),
            placed_at: order.placed_at,
            status: OrderStatus::Fulfilled,
            // The file has no shipping or tax: the order total is the sum of its lines.
            total_minor: order.total_minor(),
            customer: Some(order.customer.clone()),
            lines: order
                .lines
                .iter()
                .map(|line| {
                    OrderLineInput::sold(
                        product_ids.get(&line.product).copied(),
                        variant_ids.get(&line.product).copied(),
                        i32::try_from(line.quantity).unwrap_or(i32::MAX),
                        line.total_minor,
                    )
                })
                .collect(),
        })
        .collect();
    for batch in orders.chunks(ORDER_BATCH) {
        db.upsert_orders(organization, store, batch).await?;
    }
    let events: Vec<NewEvent> = plan
        .events
        .iter()
        .map(|event| NewEvent {
            client_id: event.client_id.clone(),
            kind: match event.kind {
                DemoEventKind::View => EventKind::View,
                DemoEventKind::AddToCart => EventKind::AddToCart,
                DemoEventKind::Purchase => EventKind::Purchase,
            },
            product_id: product_ids.get(&event.product).copied(),
            occurred_at: event.occurred_at,
        })
        .collect();
    for batch in events.chunks(EVENT_BATCH) {
        if let EventIngest::UnknownProducts(indexes) = db.insert_events(organization, batch).await? {
            // Every id comes from the upsert just made: this is a bug, not bad input.
            return Err(DemoError::Dataset(format!("{} events name products that were not stored", indexes.len())));
        }
    }
    // The demo is looked at straight away, by readers of the rollup tables too.
    db.fold_rollup_deltas(FoldMode::Complete).await?;
    Ok(())
}

/// The admin's organization named [`DEMO_ORGANIZATION`], created (New York time, dollars) if they have none.
async fn demo_organization(db: &Database, admin: Uuid) -> Result<Uuid, DemoError> {
    if let Some(existing) = db.memberships(admin).await?.into_iter().find(|m| m.name == DEMO_ORGANIZATION) {
        return Ok(existing.organization_id);
    }
    let new = NewOrganization {
        name: OrganizationName::parse(DEMO_ORGANIZATION)?,
        timezone: TimeZoneName::parse(DEMO_TIMEZONE)?,
        currency: CurrencyCode::parse(DEMO_CURRENCY)?,
    };
    Ok(db.create_organization(admin, &new).await?.id)
}

/// The organization's demo store and when it was created, creating it now if it has none.
///
/// Store lookups have no repository method yet (stores arrive with platform connections); this query belongs in
/// `db::catalogue` once they do.
async fn demo_store(db: &Database, organization: Uuid) -> Result<(Uuid, DateTime<Utc>), DbError> {
    const SQL: &str = "SELECT id, created_at FROM stores WHERE organization_id = $1 AND platform = $2 \
                       ORDER BY created_at, id LIMIT 1";
    let find = || async {
        let found: Option<(Uuid, DateTime<Utc>)> = on_pool!(db, |pool| sqlx::query_as(SQL)
            .bind(organization)
            .bind(DEMO_PLATFORM)
            .fetch_optional(pool)
            .await?);
        Ok::<_, DbError>(found)
    };
    if let Some(found) = find().await? {
        return Ok(found);
    }
    db.create_store(organization, DEMO_PLATFORM, DEMO_STORE_NAME).await?;
    find().await?.ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))
}

/// The store's variants by external id.
async fn variant_ids(db: &Database, organization: Uuid, store: Uuid) -> Result<HashMap<String, Uuid>, DbError> {
    const SQL: &str = "SELECT v.external_id, v.id FROM variants v JOIN products p ON p.id = v.product_id \
                       WHERE v.organization_id = $1 AND p.organization_id = $1 AND p.store_id = $2";
    let rows: Vec<(String, Uuid)> =
        on_pool!(db, |pool| sqlx::query_as(SQL).bind(organization).bind(store).fetch_all(pool).await?);
    Ok(rows.into_iter().collect())
}

/// Products and orders in the store, and demo events in the organization.
async fn stored_counts(db: &Database, organization: Uuid, store: Uuid) -> Result<(usize, usize, usize), DbError> {
    const SQL: &str = "SELECT \
         (SELECT count(*) FROM products WHERE organization_id = $1 AND store_id = $2), \
         (SELECT count(*) FROM orders WHERE organization_id = $1 AND store_id = $2), \
         (SELECT count(*) FROM analytics_events WHERE organization_id = $1 AND client_id LIKE 'demo-%')";
    let (products, orders, events): (i64, i64, i64) =
        on_pool!(db, |pool| sqlx::query_as(SQL).bind(organization).bind(store).fetch_one(pool).await?);
    let size = |n: i64| usize::try_from(n).unwrap_or(0);
    Ok((size(products), size(orders), size(events)))
}
