//! Storage of analytics: raw storefront events, the daily rollups every analytics read uses, and their
//! recomputation from raw rows.
//!
//! Rollups (`daily_totals` for the organization, `daily_product_totals` per product) are maintained in the
//! transaction of every write that changes them: event ingest here, order upserts and deletions in
//! [`crate::db::orders`]. A write computes the change it makes to the rollups with the rules of
//! [`crate::analytics`] (the old contribution taken back, the new one added), then applies it row by row in key
//! order (so concurrent writers lock rows in the same order and cannot deadlock); a row whose counters all reach
//! zero is deleted, so stored rollups equal a recomputation from raw rows exactly, row for row.
//!
//! Days are computed in the organization's time zone at write time. Should an organization's zone ever change,
//! `handler rollups rebuild` recomputes its rollups in the new zone.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{Database, DbError, now_micros};
use crate::analytics::{
    Counters, DateRange, EventKind, OrderStatus, ProductSales, RankBy, RollupKey, Rollups, SaleFacts, SaleLine, Tz,
    rank_products, zone,
};

/// A storefront event to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The sender's id for it (1–100 characters): a retried batch repeats it, and repeats are stored once.
    pub client_id: String,
    /// What happened.
    pub kind: EventKind,
    /// The product concerned, if any; it must be one of the organization's.
    pub product_id: Option<Uuid>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

/// How an event batch went. A batch is stored whole or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum EventIngest {
    /// Every event was acceptable: `accepted` were new, `duplicates` repeated a client id already stored (or
    /// repeated earlier in the batch, the first occurrence winning).
    Stored {
        /// Events stored now.
        accepted: u64,
        /// Events whose client id was already stored.
        duplicates: u64,
    },
    /// These events (indexes into the batch) name a product the organization does not have; nothing was stored.
    UnknownProducts(Vec<usize>),
}

/// What a rollup rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupRebuild {
    /// Rollup rows now stored (organization and product rows together).
    pub rows: usize,
    /// Whether the stored rollups differed from the recomputation (and were corrected).
    pub corrected: bool,
}

/// A transaction on either backend, for writes that read before they write.
pub(super) enum WriteTx {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

/// Runs the same code on whichever transaction `$tx` (a `&mut WriteTx`) holds; `$conn` is the
/// `&mut Transaction`, so queries run on `&mut **$conn`.
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match &mut *$tx {
            $crate::db::analytics::WriteTx::Postgres($conn) => $body,
            $crate::db::analytics::WriteTx::Sqlite($conn) => $body,
        }
    };
}
pub(super) use on_tx;

impl WriteTx {
    pub(super) async fn commit(self) -> Result<(), DbError> {
        match self {
            Self::Postgres(tx) => tx.commit().await?,
            Self::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub(super) fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

impl Database {
    /// Starts a transaction that reads, then writes what it read. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first fails with `SQLITE_BUSY` when another writer
    /// commits in between, and busy-waiting cannot save it. PostgreSQL writers lock the rows they read instead.
    pub(super) async fn begin_write(&self) -> Result<WriteTx, DbError> {
        Ok(match self {
            Self::Postgres(pool) => WriteTx::Postgres(pool.begin().await?),
            Self::Sqlite(pool) => WriteTx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    /// Starts a transaction whose reads all see one snapshot (PostgreSQL `REPEATABLE READ`; a SQLite transaction
    /// always does), taking SQLite's write lock at once if it will write.
    async fn begin_snapshot(&self, will_write: bool) -> Result<WriteTx, DbError> {
        Ok(match self {
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
                WriteTx::Postgres(tx)
            }
            Self::Sqlite(pool) if will_write => WriteTx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Self::Sqlite(pool) => WriteTx::Sqlite(pool.begin().await?),
        })
    }
}

/// The organization's time zone (UTC if it does not exist: the write that follows then fails on its foreign key).
pub(super) async fn organization_zone(tx: &mut WriteTx, organization: Uuid) -> Result<Tz, DbError> {
    const SQL: &str = "SELECT timezone FROM organizations WHERE id = $1";
    let name: Option<String> =
        on_tx!(tx, |conn| sqlx::query_scalar(SQL).bind(organization).fetch_optional(&mut **conn).await?);
    Ok(name.map_or(Tz::UTC, |name| zone(&name)))
}

/// Which of `products` the organization has.
pub(super) async fn known_products(
    tx: &mut WriteTx,
    organization: Uuid,
    products: &HashSet<Uuid>,
) -> Result<HashSet<Uuid>, DbError> {
    let products: Vec<Uuid> = products.iter().copied().collect();
    let mut known = HashSet::with_capacity(products.len());
    for chunk in products.chunks(500) {
        let found: Vec<Uuid> = on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new("SELECT id FROM products WHERE organization_id = ");
            qb.push_bind(organization).push(" AND id IN (");
            let mut ids = qb.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            qb.push(")");
            qb.build_query_scalar().fetch_all(&mut **conn).await?
        });
        known.extend(found);
    }
    Ok(known)
}

/// The conflict clause of a rollup upsert into `$table` (keyed by `$key`): adds the new counters to the stored ones
/// and returns the row's key and resulting counters.
macro_rules! add_to_rollup {
    ($table:literal, $key:literal) => {
        concat!(
            " ON CONFLICT (organization_id, ",
            $key,
            ") DO UPDATE SET ",
            "orders = ",
            $table,
            ".orders + excluded.orders, ",
            "units = ",
            $table,
            ".units + excluded.units, ",
            "revenue_minor = ",
            $table,
            ".revenue_minor + excluded.revenue_minor, ",
            "views = ",
            $table,
            ".views + excluded.views, ",
            "add_to_carts = ",
            $table,
            ".add_to_carts + excluded.add_to_carts, ",
            "purchases = ",
            $table,
            ".purchases + excluded.purchases ",
            "RETURNING ",
            $key,
            ", orders, units, revenue_minor, views, add_to_carts, purchases"
        )
    };
}

/// Rollup rows per upsert statement (9 parameters each: well under either backend's limit).
const ROLLUP_CHUNK: usize = 500;

type CounterRow = (i64, i64, i64, i64, i64, i64);
/// A `daily_totals` row: day and counters.
type DayRow = (NaiveDate, i64, i64, i64, i64, i64, i64);
/// A `daily_product_totals` row: product, day and counters.
type ProductDayRow = (Uuid, NaiveDate, i64, i64, i64, i64, i64, i64);

fn counters((orders, units, revenue_minor, views, add_to_carts, purchases): CounterRow) -> Counters {
    Counters { orders, units, revenue_minor, views, add_to_carts, purchases }
}

/// Adds `delta` to the stored rollups, deleting rows that reach zero. Rows go in key order, chunked into
/// multi-row upserts, so a batch costs a few round trips and concurrent writers lock rows in the same order.
pub(super) async fn apply_rollup_delta(tx: &mut WriteTx, organization: Uuid, delta: &Rollups) -> Result<(), DbError> {
    const TOTALS: &str = "INSERT INTO daily_totals \
         (organization_id, day, orders, units, revenue_minor, views, add_to_carts, purchases) ";
    const PRODUCT_TOTALS: &str = "INSERT INTO daily_product_totals \
         (organization_id, product_id, day, orders, units, revenue_minor, views, add_to_carts, purchases) ";
    let rows: Vec<(&RollupKey, &Counters)> = delta.iter().collect();
    let (totals, products): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(key, _)| key.product.is_none());
    let mut emptied: Vec<RollupKey> = Vec::new();
    for chunk in totals.chunks(ROLLUP_CHUNK) {
        let after: Vec<DayRow> = on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(TOTALS);
            qb.push_values(chunk, |mut row, (key, c)| {
                row.push_bind(organization)
                    .push_bind(key.day)
                    .push_bind(c.orders)
                    .push_bind(c.units)
                    .push_bind(c.revenue_minor)
                    .push_bind(c.views)
                    .push_bind(c.add_to_carts)
                    .push_bind(c.purchases);
            });
            qb.push(add_to_rollup!("daily_totals", "day"));
            qb.build_query_as().fetch_all(&mut **conn).await?
        });
        emptied.extend(after.into_iter().filter_map(|(day, o, u, r, v, a, p)| {
            counters((o, u, r, v, a, p)).is_zero().then_some(RollupKey { product: None, day })
        }));
    }
    for chunk in products.chunks(ROLLUP_CHUNK) {
        let after: Vec<ProductDayRow> = on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(PRODUCT_TOTALS);
            qb.push_values(chunk, |mut row, (key, c)| {
                row.push_bind(organization)
                    .push_bind(key.product)
                    .push_bind(key.day)
                    .push_bind(c.orders)
                    .push_bind(c.units)
                    .push_bind(c.revenue_minor)
                    .push_bind(c.views)
                    .push_bind(c.add_to_carts)
                    .push_bind(c.purchases);
            });
            qb.push(add_to_rollup!("daily_product_totals", "product_id, day"));
            qb.build_query_as().fetch_all(&mut **conn).await?
        });
        emptied.extend(after.into_iter().filter_map(|(product, day, o, u, r, v, a, p)| {
            counters((o, u, r, v, a, p)).is_zero().then_some(RollupKey { product: Some(product), day })
        }));
    }
    for key in emptied {
        on_tx!(tx, |conn| match key.product {
            None => sqlx::query("DELETE FROM daily_totals WHERE organization_id = $1 AND day = $2")
                .bind(organization)
                .bind(key.day)
                .execute(&mut **conn)
                .await
                .map(drop)?,
            Some(product) => sqlx::query(
                "DELETE FROM daily_product_totals WHERE organization_id = $1 AND product_id = $2 AND day = $3"
            )
            .bind(organization)
            .bind(product)
            .bind(key.day)
            .execute(&mut **conn)
            .await
            .map(drop)?,
        });
    }
    Ok(())
}

/// Reads an order status written by this crate.
pub(super) fn stored_status(text: &str) -> Result<OrderStatus, DbError> {
    OrderStatus::parse(text).map_err(|e| DbError::Sqlx(sqlx::Error::Decode(Box::new(e))))
}

fn stored_kind(text: &str) -> Result<EventKind, DbError> {
    EventKind::parse(text).map_err(|e| DbError::Sqlx(sqlx::Error::Decode(Box::new(e))))
}

/// Orders read per round trip while recomputing.
const ORDER_CHUNK: i64 = 1_000;
/// Events read per round trip while recomputing.
const EVENT_CHUNK: i64 = 10_000;

/// Recomputes an organization's rollups from its raw rows, reading in keyset-paginated chunks so memory stays
/// bounded by the rollups, not by the history.
async fn recompute(tx: &mut WriteTx, organization: Uuid) -> Result<Rollups, DbError> {
    const ORDER_IDS: &str = "SELECT id FROM orders WHERE organization_id = $1 AND ($2 IS NULL OR id > $2) \
         ORDER BY id LIMIT $3";
    const ORDERS_WITH_LINES: &str = "SELECT o.id, o.placed_at, o.status, l.product_id, l.quantity, l.total_minor \
         FROM orders o LEFT JOIN order_lines l ON l.organization_id = o.organization_id AND l.order_id = o.id \
         WHERE o.organization_id = $1 AND o.id >= $2 AND o.id <= $3 ORDER BY o.id, l.line_no";
    const EVENTS: &str = "SELECT client_id, kind, product_id, occurred_at FROM analytics_events \
         WHERE organization_id = $1 AND ($2 IS NULL OR client_id > $2) ORDER BY client_id LIMIT $3";
    type OrderLineRow = (Uuid, DateTime<Utc>, String, Option<Uuid>, Option<i32>, Option<i64>);
    type EventRow = (String, String, Option<Uuid>, DateTime<Utc>);

    let zone = organization_zone(tx, organization).await?;
    let mut rollups = Rollups::new();

    let mut after: Option<Uuid> = None;
    loop {
        let ids: Vec<Uuid> = on_tx!(tx, |conn| sqlx::query_scalar(ORDER_IDS)
            .bind(organization)
            .bind(after)
            .bind(ORDER_CHUNK)
            .fetch_all(&mut **conn)
            .await?);
        let (Some(first), Some(last)) = (ids.first().copied(), ids.last().copied()) else { break };
        let rows: Vec<OrderLineRow> = on_tx!(tx, |conn| sqlx::query_as(ORDERS_WITH_LINES)
            .bind(organization)
            .bind(first)
            .bind(last)
            .fetch_all(&mut **conn)
            .await?);
        for order in rows.chunk_by(|a, b| a.0 == b.0) {
            let (_, placed_at, status, ..) = &order[0];
            let lines: Vec<SaleLine> = order
                .iter()
                .filter_map(|(.., product, quantity, total)| {
                    Some(SaleLine { product: *product, quantity: i64::from((*quantity)?), total_minor: (*total)? })
                })
                .collect();
            let facts = SaleFacts { placed_at: *placed_at, status: stored_status(status)?, lines: &lines };
            rollups.add_order(&facts, zone);
        }
        after = Some(last);
    }

    let mut after: Option<String> = None;
    loop {
        let rows: Vec<EventRow> = on_tx!(tx, |conn| sqlx::query_as(EVENTS)
            .bind(organization)
            .bind(after.as_deref())
            .bind(EVENT_CHUNK)
            .fetch_all(&mut **conn)
            .await?);
        let Some(last) = rows.last() else { break };
        after = Some(last.0.clone());
        for (_, kind, product, occurred_at) in &rows {
            rollups.add_event(stored_kind(kind)?, *product, *occurred_at, zone);
        }
    }
    Ok(rollups)
}

/// The stored rollups, and how many rows hold them (more than the rollups have if some row is all zeros).
async fn stored(tx: &mut WriteTx, organization: Uuid) -> Result<(Rollups, usize), DbError> {
    const TOTALS: &str = "SELECT day, orders, units, revenue_minor, views, add_to_carts, purchases \
         FROM daily_totals WHERE organization_id = $1";
    const PRODUCT_TOTALS: &str = "SELECT product_id, day, orders, units, revenue_minor, views, add_to_carts, \
         purchases FROM daily_product_totals WHERE organization_id = $1";
    let totals: Vec<DayRow> =
        on_tx!(tx, |conn| sqlx::query_as(TOTALS).bind(organization).fetch_all(&mut **conn).await?);
    let products: Vec<ProductDayRow> =
        on_tx!(tx, |conn| sqlx::query_as(PRODUCT_TOTALS).bind(organization).fetch_all(&mut **conn).await?);
    let row_count = totals.len() + products.len();
    let totals = totals
        .into_iter()
        .map(|(day, o, u, r, v, a, p)| (RollupKey { product: None, day }, counters((o, u, r, v, a, p))));
    let products = products.into_iter().map(|(product, day, o, u, r, v, a, p)| {
        (RollupKey { product: Some(product), day }, counters((o, u, r, v, a, p)))
    });
    Ok((totals.chain(products).collect(), row_count))
}

async fn replace_rollups(tx: &mut WriteTx, organization: Uuid, rollups: &Rollups) -> Result<(), DbError> {
    on_tx!(tx, |conn| {
        sqlx::query("DELETE FROM daily_totals WHERE organization_id = $1")
            .bind(organization)
            .execute(&mut **conn)
            .await?;
        sqlx::query("DELETE FROM daily_product_totals WHERE organization_id = $1")
            .bind(organization)
            .execute(&mut **conn)
            .await?;
    });
    // Adding to nothing writes the rows as they are.
    apply_rollup_delta(tx, organization, rollups).await
}

/// Events written per INSERT (6 parameters each).
const EVENT_INSERT_CHUNK: usize = 200;

impl Database {
    /// Stores a batch of storefront events and counts them into the rollups, in one transaction. A client id
    /// already stored is a duplicate: not stored again, not counted again, so a retried batch changes nothing.
    /// Events naming a product the organization does not have make the whole batch fail (nothing stored): no
    /// tenant can write figures for another tenant's product.
    #[tracing::instrument(name = "storing analytics events", skip_all, fields(tenant = %organization, events = events.len()))]
    pub async fn insert_events(&self, organization: Uuid, events: &[NewEvent]) -> Result<EventIngest, DbError> {
        if events.is_empty() {
            return Ok(EventIngest::Stored { accepted: 0, duplicates: 0 });
        }
        let mut tx = self.begin_write().await?;
        let named: HashSet<Uuid> = events.iter().filter_map(|e| e.product_id).collect();
        let known = known_products(&mut tx, organization, &named).await?;
        let unknown: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.product_id.is_some_and(|p| !known.contains(&p)))
            .map(|(i, _)| i)
            .collect();
        if !unknown.is_empty() {
            return Ok(EventIngest::UnknownProducts(unknown));
        }
        let zone = organization_zone(&mut tx, organization).await?;
        let received_at = now_micros();
        let mut inserted: HashSet<String> = HashSet::with_capacity(events.len());
        for chunk in events.chunks(EVENT_INSERT_CHUNK) {
            let returned: Vec<String> = on_tx!(&mut tx, |conn| {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO analytics_events (organization_id, client_id, kind, product_id, occurred_at, \
                     received_at) ",
                );
                qb.push_values(chunk, |mut row, event| {
                    row.push_bind(organization)
                        .push_bind(event.client_id.clone())
                        .push_bind(event.kind.as_str())
                        .push_bind(event.product_id)
                        .push_bind(event.occurred_at)
                        .push_bind(received_at);
                });
                qb.push(" ON CONFLICT (organization_id, client_id) DO NOTHING RETURNING client_id");
                qb.build_query_scalar().fetch_all(&mut **conn).await?
            });
            inserted.extend(returned);
        }
        let accepted = inserted.len() as u64;
        let mut delta = Rollups::new();
        for event in events {
            // `remove`: of events sharing a client id, only the first was inserted.
            if inserted.remove(&event.client_id) {
                delta.add_event(event.kind, event.product_id, event.occurred_at, zone);
            }
        }
        apply_rollup_delta(&mut tx, organization, &delta).await?;
        tx.commit().await?;
        Ok(EventIngest::Stored { accepted, duplicates: events.len() as u64 - accepted })
    }

    /// Whether the organization has this product.
    pub async fn has_product(&self, organization: Uuid, product: Uuid) -> Result<bool, DbError> {
        const SQL: &str = "SELECT count(*) FROM products WHERE organization_id = $1 AND id = $2";
        let found: i64 = super::on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(organization)
            .bind(product)
            .fetch_one(pool)
            .await?);
        Ok(found > 0)
    }

    /// The organization's daily rollup rows in `range` (or one product's), by day; days without a row are absent.
    /// One row per day at most: a series costs O(days) whatever the event volume.
    pub async fn daily_series(
        &self,
        organization: Uuid,
        range: DateRange,
        product: Option<Uuid>,
    ) -> Result<Vec<(NaiveDate, Counters)>, DbError> {
        const TOTALS: &str = "SELECT day, orders, units, revenue_minor, views, add_to_carts, purchases \
             FROM daily_totals WHERE organization_id = $1 AND day >= $2 AND day <= $3 ORDER BY day";
        const PRODUCT: &str = "SELECT day, orders, units, revenue_minor, views, add_to_carts, purchases \
             FROM daily_product_totals WHERE organization_id = $1 AND product_id = $4 AND day >= $2 AND day <= $3 \
             ORDER BY day";
        let rows: Vec<DayRow> = super::on_pool!(self, |pool| {
            let query = sqlx::query_as(if product.is_some() { PRODUCT } else { TOTALS })
                .bind(organization)
                .bind(range.from())
                .bind(range.to());
            let query = match product {
                Some(product) => query.bind(product),
                None => query,
            };
            query.fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(|(day, o, u, r, v, a, p)| (day, counters((o, u, r, v, a, p)))).collect())
    }

    /// The organization's best products in `range` by `by`, at most `limit` (≤ 100), with their figures for the
    /// range and the previous period of the same length. See [`rank_products`] for the order.
    pub async fn top_products(
        &self,
        organization: Uuid,
        by: RankBy,
        range: DateRange,
        limit: u32,
    ) -> Result<Vec<ProductSales>, DbError> {
        const SQL: &str = "SELECT t.product_id, p.title, \
             CAST(sum(CASE WHEN t.day >= $2 THEN t.orders ELSE 0 END) AS BIGINT), \
             CAST(sum(CASE WHEN t.day >= $2 THEN t.units ELSE 0 END) AS BIGINT), \
             CAST(sum(CASE WHEN t.day >= $2 THEN t.revenue_minor ELSE 0 END) AS BIGINT), \
             CAST(sum(CASE WHEN t.day < $2 THEN t.orders ELSE 0 END) AS BIGINT), \
             CAST(sum(CASE WHEN t.day < $2 THEN t.revenue_minor ELSE 0 END) AS BIGINT) \
             FROM daily_product_totals t \
             LEFT JOIN products p ON p.organization_id = t.organization_id AND p.id = t.product_id \
             WHERE t.organization_id = $1 AND t.day >= $3 AND t.day <= $4 \
             GROUP BY t.product_id, p.title HAVING sum(t.orders) > 0";
        type Row = (Uuid, Option<String>, i64, i64, i64, i64, i64);
        let previous = range.previous_period();
        let rows: Vec<Row> = super::on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(organization)
            .bind(range.from())
            .bind(previous.from())
            .bind(range.to())
            .fetch_all(pool)
            .await?);
        let sales = rows
            .into_iter()
            .map(|(product_id, title, orders, units, revenue_minor, previous_orders, previous_revenue_minor)| {
                ProductSales {
                    product_id,
                    title,
                    orders,
                    units,
                    revenue_minor,
                    previous_orders,
                    previous_revenue_minor,
                }
            })
            .collect();
        Ok(rank_products(sales, by, limit))
    }

    /// The organization's stored rollups.
    pub async fn stored_rollups(&self, organization: Uuid) -> Result<Rollups, DbError> {
        let mut tx = self.begin_snapshot(false).await?;
        let (rollups, _) = stored(&mut tx, organization).await?;
        tx.commit().await?;
        Ok(rollups)
    }

    /// The organization's rollups computed afresh from raw rows (orders with their lines, events), as of one
    /// snapshot. Stored rollups must always equal this.
    pub async fn recompute_rollups(&self, organization: Uuid) -> Result<Rollups, DbError> {
        let mut tx = self.begin_snapshot(false).await?;
        let rollups = recompute(&mut tx, organization).await?;
        tx.commit().await?;
        Ok(rollups)
    }

    /// Replaces the organization's stored rollups with a recomputation from raw rows, in one transaction. On
    /// PostgreSQL it reads one snapshot; a write to the same rollup rows committed meanwhile makes it fail with a
    /// serialization error rather than lose that write, and it can simply be run again.
    #[tracing::instrument(name = "rebuilding rollups", skip(self), fields(tenant = %organization))]
    pub async fn rebuild_rollups(&self, organization: Uuid) -> Result<RollupRebuild, DbError> {
        let mut tx = self.begin_snapshot(true).await?;
        let recomputed = recompute(&mut tx, organization).await?;
        let (before, stored_rows) = stored(&mut tx, organization).await?;
        let corrected = before != recomputed || stored_rows != recomputed.len();
        if corrected {
            replace_rollups(&mut tx, organization, &recomputed).await?;
        }
        tx.commit().await?;
        Ok(RollupRebuild { rows: recomputed.len(), corrected })
    }

    /// Every organization's id, for maintenance over all tenants.
    pub async fn organization_ids(&self) -> Result<Vec<Uuid>, DbError> {
        const SQL: &str = "SELECT id FROM organizations ORDER BY id";
        Ok(super::on_pool!(self, |pool| sqlx::query_scalar(SQL).fetch_all(pool).await?))
    }
}
