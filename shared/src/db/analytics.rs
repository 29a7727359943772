//! Storage of analytics: raw storefront events, the series and rankings read from the rollups, and the rollups'
//! recomputation from raw rows.
//!
//! A write computes the change it makes to the rollups with the rules of [`crate::analytics`] (the old contribution
//! taken back, the new one added); [`crate::db::rollups`] says how that change is stored: in the write's own
//! transaction for orders (and for events on SQLite), as an appended delta folded in shortly after for events on
//! PostgreSQL. Either way stored rollups equal a recomputation from raw rows exactly.
//!
//! Days are computed in the organization's time zone at write time. Should an organization's zone ever change,
//! `handler rollups rebuild` recomputes its rollups in the new zone.

use std::{collections::HashSet, sync::LazyLock};

use chrono::{DateTime, Days, NaiveDate, Utc};
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

use super::{
    Database, DbError, now_micros,
    rollups::{
        self, FoldMode, Table, apply_rollup_delta, counters_at, measure_list, months_of, pending_deltas_sql,
        summed_measures,
    },
    tx::{WriteTx, on_tx},
};
use crate::analytics::{
    Bucket, CostFigures, Counters, Customer, CustomerRollups, DateRange, EventKind, MEASURES, OrderStatus,
    ProductSales, RankBy, Rollups, SaleFacts, SaleLine, SoldLine, Tz, rank_products, zone,
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
    /// Rollup rows now stored (organization, product and customer rows together).
    pub rows: usize,
    /// Whether the stored rollups differed from the recomputation (and were corrected).
    pub corrected: bool,
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
    if products.is_empty() {
        return Ok(HashSet::new());
    }
    let mut known = HashSet::with_capacity(products.len());
    match tx {
        WriteTx::Postgres(conn) => {
            const SQL: &str = "SELECT id FROM products WHERE organization_id = $1 AND id = ANY($2)";
            let found: Vec<Uuid> =
                sqlx::query_scalar(SQL).bind(organization).bind(&products).fetch_all(&mut **conn).await?;
            known.extend(found);
        }
        WriteTx::Sqlite(conn) => {
            for chunk in products.chunks(500) {
                let mut qb = QueryBuilder::new("SELECT id FROM products WHERE organization_id = ");
                qb.push_bind(organization).push(" AND id IN (");
                let mut ids = qb.separated(", ");
                for id in chunk {
                    ids.push_bind(*id);
                }
                qb.push(")");
                let found: Vec<Uuid> = qb.build_query_scalar().fetch_all(&mut **conn).await?;
                known.extend(found);
            }
        }
    }
    Ok(known)
}

/// Reads an order status written by this crate.
pub(super) fn stored_status(text: &str) -> Result<OrderStatus, DbError> {
    OrderStatus::parse(text).map_err(DbError::corrupt)
}

fn stored_kind(text: &str) -> Result<EventKind, DbError> {
    EventKind::parse(text).map_err(DbError::corrupt)
}

/// Orders read per round trip while recomputing.
const ORDER_CHUNK: i64 = 1_000;
/// Events read per round trip while recomputing.
const EVENT_CHUNK: i64 = 10_000;

/// An organization's rollups and customer rollups, computed afresh from its raw rows.
pub(super) struct Recomputed {
    pub(super) rollups: Rollups,
    pub(super) customers: CustomerRollups,
}

/// Recomputes an organization's rollups and customer rollups from its raw rows, reading in keyset-paginated chunks
/// so memory stays bounded by the rollups, not by the history.
pub(super) async fn recompute(tx: &mut WriteTx, organization: Uuid) -> Result<Recomputed, DbError> {
    const ORDER_IDS: &str = "SELECT id FROM orders WHERE organization_id = $1 AND ($2 IS NULL OR id > $2) \
         ORDER BY id LIMIT $3";
    const ORDERS_WITH_LINES: &str = "SELECT o.id, o.placed_at, o.status, o.store_id, o.customer_key, l.product_id, \
         l.quantity, l.total_minor, l.refunded_quantity, l.refunded_minor, l.unit_cost_minor \
         FROM orders o LEFT JOIN order_lines l ON l.organization_id = o.organization_id AND l.order_id = o.id \
         WHERE o.organization_id = $1 AND o.id >= $2 AND o.id <= $3 ORDER BY o.id, l.line_no";
    const EVENTS: &str = "SELECT client_id, kind, product_id, occurred_at FROM analytics_events \
         WHERE organization_id = $1 AND ($2 IS NULL OR client_id > $2) ORDER BY client_id LIMIT $3";
    type OrderLineRow = (
        Uuid,
        DateTime<Utc>,
        String,
        Uuid,
        Option<String>,
        Option<Uuid>,
        Option<i32>,
        Option<i64>,
        Option<i32>,
        Option<i64>,
        Option<i64>,
    );
    type EventRow = (String, String, Option<Uuid>, DateTime<Utc>);

    let zone = organization_zone(tx, organization).await?;
    let mut rollups = Rollups::new();
    let mut customers = CustomerRollups::default();

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
            let (id, placed_at, status, store, customer_key, ..) = &order[0];
            let lines: Vec<SaleLine> = order
                .iter()
                .filter_map(|(.., product, quantity, total, refunded_quantity, refunded_minor, unit_cost_minor)| {
                    let line = SoldLine {
                        product: *product,
                        quantity: i64::from((*quantity)?),
                        total_minor: (*total)?,
                        refunded_quantity: i64::from((*refunded_quantity)?),
                        refunded_minor: (*refunded_minor)?,
                    };
                    Some(line.sale(*unit_cost_minor))
                })
                .collect();
            let facts = SaleFacts { placed_at: *placed_at, status: stored_status(status)?, lines: &lines };
            rollups.add_order(&facts, zone);
            let customer = customer_key.clone().map(|key| Customer { store: *store, key });
            customers.add_order(*id, customer.as_ref(), &facts, zone);
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
    Ok(Recomputed { rollups, customers })
}

/// Events written per INSERT on SQLite (6 parameters each); PostgreSQL takes a batch as arrays in one statement.
const EVENT_INSERT_CHUNK: usize = 200;

/// Stores events in a transaction (SQLite's; PostgreSQL takes a batch in one statement), skipping client ids
/// already stored; returns the client ids stored now.
async fn insert_new_events(
    tx: &mut WriteTx,
    organization: Uuid,
    events: &[NewEvent],
    received_at: DateTime<Utc>,
) -> Result<HashSet<String>, DbError> {
    let mut inserted: HashSet<String> = HashSet::with_capacity(events.len());
    for chunk in events.chunks(EVENT_INSERT_CHUNK) {
        let returned: Vec<String> = on_tx!(tx, |conn| {
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
    Ok(inserted)
}

/// Event ingest on PostgreSQL as one statement (one round trip, its own transaction): the events are inserted,
/// duplicates skipped, and the contributions of those inserted (computed by [`Rollups::add_event`], one row per
/// event and rollup key, `$7…`) summed into one `rollup_deltas` row. Returns the client ids stored now.
fn postgres_ingest_sql() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let arrays: Vec<String> = (0..MEASURES.len()).map(|i| format!("${}::int8[]", i + 10)).collect();
        format!(
            "WITH inserted AS (INSERT INTO analytics_events \
             (organization_id, client_id, kind, product_id, occurred_at, received_at) \
             SELECT $1, u.client_id, u.kind, u.product_id, u.occurred_at, $6 \
             FROM UNNEST($2::text[], $3::text[], $4::uuid[], $5::timestamptz[]) \
             AS u (client_id, kind, product_id, occurred_at) \
             ON CONFLICT (organization_id, client_id) DO NOTHING RETURNING client_id), \
             counted AS (SELECT c.product_id, c.day, {sums} \
             FROM UNNEST($7::text[], $8::uuid[], $9::date[], {arrays}) AS c (client_id, product_id, day, {measures}) \
             JOIN inserted USING (client_id) GROUP BY c.product_id, c.day), \
             appended AS (INSERT INTO rollup_deltas (organization_id, product_ids, days, {measures}) \
             SELECT $1, array_agg(product_id), array_agg(day), {aggregated} FROM counted HAVING count(*) > 0) \
             SELECT client_id FROM inserted",
            sums = summed_measures("c."),
            arrays = arrays.join(", "),
            measures = measure_list(""),
            aggregated = MEASURES.iter().map(|m| format!("array_agg({m})")).collect::<Vec<_>>().join(", "),
        )
    });
    &SQL
}

/// [`Database::insert_events`] on PostgreSQL: one read (the organization's zone and which products it has), then
/// one statement.
async fn insert_events_postgres(
    pool: &sqlx::PgPool,
    organization: Uuid,
    events: &[NewEvent],
) -> Result<EventIngest, DbError> {
    const CHECK: &str = "SELECT (SELECT timezone FROM organizations WHERE id = $1), \
         ARRAY(SELECT id FROM products WHERE organization_id = $1 AND id = ANY($2))";
    let named: Vec<Uuid> = events.iter().filter_map(|e| e.product_id).collect::<HashSet<_>>().into_iter().collect();
    let (timezone, known): (Option<String>, Vec<Uuid>) =
        sqlx::query_as(CHECK).bind(organization).bind(&named).fetch_one(pool).await?;
    let known: HashSet<Uuid> = known.into_iter().collect();
    let unknown: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.product_id.is_some_and(|p| !known.contains(&p)))
        .map(|(i, _)| i)
        .collect();
    if !unknown.is_empty() {
        return Ok(EventIngest::UnknownProducts(unknown));
    }
    let zone = timezone.map_or(Tz::UTC, |name| zone(&name));
    // Of events sharing a client id, the first is the one stored.
    let mut seen = HashSet::with_capacity(events.len());
    let first: Vec<&NewEvent> = events.iter().filter(|e| seen.insert(e.client_id.as_str())).collect();
    let (mut clients, mut products, mut days) = (Vec::new(), Vec::new(), Vec::new());
    let mut measures: [Vec<i64>; MEASURES.len()] = Default::default();
    for event in &first {
        let mut contribution = Rollups::new();
        contribution.add_event(event.kind, event.product_id, event.occurred_at, zone);
        for (key, counters) in contribution.iter() {
            clients.push(event.client_id.as_str());
            products.push(key.product);
            days.push(key.day);
            for (column, value) in measures.iter_mut().zip(counters.to_array()) {
                column.push(value);
            }
        }
    }
    let mut query = sqlx::query_scalar(postgres_ingest_sql())
        .bind(organization)
        .bind(first.iter().map(|e| e.client_id.as_str()).collect::<Vec<_>>())
        .bind(first.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())
        .bind(first.iter().map(|e| e.product_id).collect::<Vec<_>>())
        .bind(first.iter().map(|e| e.occurred_at).collect::<Vec<_>>())
        .bind(now_micros())
        .bind(clients)
        .bind(products)
        .bind(days);
    for column in measures {
        query = query.bind(column);
    }
    let inserted: Vec<String> = query.fetch_all(pool).await?;
    let accepted = inserted.len() as u64;
    Ok(EventIngest::Stored { accepted, duplicates: events.len() as u64 - accepted })
}

/// Whose days a series sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeriesScope {
    /// The organization's totals.
    Organization = 0,
    /// One product's rows (`$4` its id).
    Product = 1,
    /// The rows of every product in a category (`$4` its name).
    Category = 2,
}

/// The `$4` of a series.
#[derive(Debug, Clone, Copy)]
enum SeriesKey<'a> {
    Id(Uuid),
    Category(&'a str),
}

/// A span of one rollup table read by a ranking: rows of `table` whose date lies in `from..=to`, counted toward the
/// range itself (`current`) or its previous period.
struct Span {
    table: Table,
    from: NaiveDate,
    to: NaiveDate,
    current: bool,
}

/// `range` as the whole calendar months inside it (read from the monthly rows) and the days before and after them
/// (read from the daily rows), so a ranking reads one row per product and month for most of a long range.
fn spans(range: DateRange, current: bool, out: &mut Vec<Span>) {
    let day = Days::new(1);
    let (from, to) = (range.from(), range.to());
    let first_month = if from == Bucket::Month.start_of(from) {
        Some(from)
    } else {
        Bucket::Month.next_start(Bucket::Month.start_of(from))
    };
    // The start of the month after the last whole month.
    let end_month = to.checked_add_days(day).map(|after| Bucket::Month.start_of(after));
    match (first_month, end_month) {
        (Some(first), Some(end)) if first < end => {
            if from < first {
                out.push(Span { table: Table::ProductDays, from, to: first - day, current });
            }
            out.push(Span { table: Table::ProductMonths, from: first, to: end - day, current });
            if end <= to {
                out.push(Span { table: Table::ProductDays, from: end, to, current });
            }
        }
        _ => out.push(Span { table: Table::ProductDays, from, to, current }),
    }
}

impl Database {
    /// Stores a batch of storefront events and counts them into the rollups, in one transaction. A client id
    /// already stored is a duplicate: not stored again, not counted again, so a retried batch changes nothing.
    /// Events naming a product the organization does not have make the whole batch fail (nothing stored): no
    /// tenant can write figures for another tenant's product.
    ///
    /// On PostgreSQL the batch is one statement that also appends its change to the rollups as one delta (see
    /// [`crate::db::rollups`]), so concurrent batches never wait on each other; [`Database::fold_rollup_deltas`]
    /// folds it in later. On SQLite the rollups change in the batch's transaction.
    #[tracing::instrument(name = "storing analytics events", skip_all, fields(tenant = %organization, events = events.len()))]
    pub async fn insert_events(&self, organization: Uuid, events: &[NewEvent]) -> Result<EventIngest, DbError> {
        if events.is_empty() {
            return Ok(EventIngest::Stored { accepted: 0, duplicates: 0 });
        }
        let pool = match self {
            Self::Postgres(pool) => return insert_events_postgres(pool, organization, events).await,
            Self::Sqlite(pool) => pool,
        };
        let named: HashSet<Uuid> = events.iter().filter_map(|e| e.product_id).collect();
        let mut write = WriteTx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?);
        let known = known_products(&mut write, organization, &named).await?;
        let unknown: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.product_id.is_some_and(|p| !known.contains(&p)))
            .map(|(i, _)| i)
            .collect();
        if !unknown.is_empty() {
            return Ok(EventIngest::UnknownProducts(unknown));
        }
        let zone = organization_zone(&mut write, organization).await?;
        let mut inserted = insert_new_events(&mut write, organization, events, now_micros()).await?;
        let accepted = inserted.len() as u64;
        let mut delta = Rollups::new();
        for event in events {
            // `remove`: of events sharing a client id, only the first was inserted.
            if inserted.remove(&event.client_id) {
                delta.add_event(event.kind, event.product_id, event.occurred_at, zone);
            }
        }
        apply_rollup_delta(&mut write, organization, &delta).await?;
        write.commit().await?;
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
    /// One row per day at most: a series costs O(days) whatever the event volume. Exact the moment an event batch
    /// is acknowledged: on PostgreSQL its delta is added while it waits to be folded in.
    pub async fn daily_series(
        &self,
        organization: Uuid,
        range: DateRange,
        product: Option<Uuid>,
    ) -> Result<Vec<(NaiveDate, Counters)>, DbError> {
        match product {
            Some(product) => self.series(organization, range, SeriesScope::Product, Some(SeriesKey::Id(product))).await,
            None => self.series(organization, range, SeriesScope::Organization, None).await,
        }
    }

    /// The daily sums of the product rows of every product now in `category`, by day, like
    /// [`Database::daily_series`]. An order with two products of the category counts in both.
    pub async fn category_daily_series(
        &self,
        organization: Uuid,
        range: DateRange,
        category: &str,
    ) -> Result<Vec<(NaiveDate, Counters)>, DbError> {
        self.series(organization, range, SeriesScope::Category, Some(SeriesKey::Category(category))).await
    }

    async fn series(
        &self,
        organization: Uuid,
        range: DateRange,
        scope: SeriesScope,
        key: Option<SeriesKey<'_>>,
    ) -> Result<Vec<(NaiveDate, Counters)>, DbError> {
        fn series_sql(scope: SeriesScope, pending: bool) -> String {
            let (table, filter) = match scope {
                SeriesScope::Organization => (Table::OrganizationDays.name(), "product_id IS NULL"),
                SeriesScope::Product => (Table::ProductDays.name(), "product_id = $4"),
                SeriesScope::Category => (
                    Table::ProductDays.name(),
                    "product_id IN (SELECT id FROM products WHERE organization_id = $1 AND category = $4)",
                ),
            };
            let stored_filter =
                if scope == SeriesScope::Organization { String::new() } else { format!("AND {filter} ") };
            let stored = format!(
                "SELECT day, {} FROM {table} WHERE organization_id = $1 {stored_filter}AND day >= $2 AND day <= $3",
                measure_list("")
            );
            if !pending && scope != SeriesScope::Category {
                return format!("{stored} ORDER BY day");
            }
            let pending = if pending {
                format!(
                    " UNION ALL SELECT d.day, {} FROM ({}) d WHERE d.{filter} AND d.day >= $2 AND d.day <= $3",
                    measure_list("d."),
                    pending_deltas_sql()
                )
            } else {
                String::new()
            };
            format!("SELECT day, {} FROM ({stored}{pending}) x GROUP BY day ORDER BY day", summed_measures(""))
        }
        // scope × (SQLite, PostgreSQL with pending deltas)
        static SQL: LazyLock<[[String; 2]; 3]> = LazyLock::new(|| {
            [SeriesScope::Organization, SeriesScope::Product, SeriesScope::Category]
                .map(|scope| [series_sql(scope, false), series_sql(scope, true)])
        });
        let sql = &SQL[scope as usize][usize::from(self.backend() == super::Backend::Postgres)];
        let days: Vec<(NaiveDate, Counters)> = super::on_pool!(self, |pool| {
            let query = sqlx::query(sql).bind(organization).bind(range.from()).bind(range.to());
            let query = match key {
                Some(SeriesKey::Id(product)) => query.bind(product),
                Some(SeriesKey::Category(category)) => query.bind(category),
                None => query,
            };
            let mut days = Vec::new();
            for row in &query.fetch_all(pool).await? {
                days.push((row.try_get(0)?, counters_at(row, 1)?));
            }
            days
        });
        Ok(days)
    }

    /// The organization's best products in `range` by `by`, at most `limit` (≤ 100), with their figures for the
    /// range and the previous period of the same length, and their titles. See [`rank_products`] for the order.
    pub async fn top_products(
        &self,
        organization: Uuid,
        by: RankBy,
        range: DateRange,
        limit: u32,
    ) -> Result<Vec<ProductSales>, DbError> {
        let mut ranked = self.top_product_sales(organization, by, range, limit, None).await?;
        let titles =
            self.product_titles(organization, &ranked.iter().map(|p| p.product_id).collect::<Vec<_>>()).await?;
        for product in &mut ranked {
            product.title = titles.get(&product.product_id).cloned();
        }
        Ok(ranked)
    }

    /// [`Database::top_products`] without titles: figures that only sales change (see
    /// [`Database::sales_version`]). Whole months are read from the monthly rollups, only the days around them from
    /// the daily ones, and only rows with sales. With `category`, only the products now in it are ranked.
    pub async fn top_product_sales(
        &self,
        organization: Uuid,
        by: RankBy,
        range: DateRange,
        limit: u32,
        category: Option<&str>,
    ) -> Result<Vec<ProductSales>, DbError> {
        /// The measures a ranking sums, each read for the range (`c_…`) and the previous period (`p_…`).
        const RANKED: [&str; 7] = [
            "orders",
            "units",
            "revenue_minor",
            "cost_minor",
            "unknown_cost_orders",
            "unknown_cost_units",
            "unknown_cost_revenue_minor",
        ];
        let mut parts = Vec::new();
        spans(range, true, &mut parts);
        spans(range.previous_period(), false, &mut parts);
        let sums: Vec<String> = ["c", "p"]
            .iter()
            .flat_map(|period| RANKED.iter().map(move |m| format!("CAST(sum({period}_{m}) AS BIGINT)")))
            .collect();
        let rows: Vec<(Uuid, Vec<i64>)> = super::on_pool!(self, |pool| {
            let mut qb = QueryBuilder::new(format!("SELECT product_id, {} FROM (", sums.join(", ")));
            for (i, span) in parts.iter().enumerate() {
                let columns: Vec<String> = ["c", "p"]
                    .iter()
                    .flat_map(|period| {
                        let here = (*period == "c") == span.current;
                        RANKED.iter().map(move |m| {
                            if here { format!("{m} AS {period}_{m}") } else { format!("0 AS {period}_{m}") }
                        })
                    })
                    .collect();
                if i > 0 {
                    qb.push(" UNION ALL ");
                }
                let date = if span.table == Table::ProductMonths { "month" } else { "day" };
                qb.push(format!(
                    "SELECT product_id, {} FROM {} WHERE organization_id = ",
                    columns.join(", "),
                    span.table.name()
                ))
                .push_bind(organization)
                .push(format!(" AND orders <> 0 AND {date} >= "))
                .push_bind(span.from)
                .push(format!(" AND {date} <= "))
                .push_bind(span.to);
                if let Some(category) = category {
                    qb.push(" AND product_id IN (SELECT id FROM products WHERE organization_id = ")
                        .push_bind(organization)
                        .push(" AND category = ")
                        .push_bind(category)
                        .push(")");
                }
            }
            qb.push(") s GROUP BY product_id");
            match by {
                // The ranking's own order (see `rank_products`), so only `limit` rows come back.
                RankBy::Revenue => qb
                    .push(
                        " HAVING sum(c_orders) > 0 ORDER BY sum(c_revenue_minor) DESC, sum(c_units) DESC, product_id \
                         LIMIT ",
                    )
                    .push_bind(i64::from(limit)),
                RankBy::Units => qb
                    .push(
                        " HAVING sum(c_orders) > 0 ORDER BY sum(c_units) DESC, sum(c_revenue_minor) DESC, product_id \
                         LIMIT ",
                    )
                    .push_bind(i64::from(limit)),
                RankBy::Profit => qb
                    .push(
                        " HAVING sum(c_orders) > 0 ORDER BY sum(c_revenue_minor) - sum(c_unknown_cost_revenue_minor) \
                         - sum(c_cost_minor) DESC, sum(c_revenue_minor) DESC, product_id LIMIT ",
                    )
                    .push_bind(i64::from(limit)),
                RankBy::Growth => qb.push(" HAVING sum(c_orders) > 0 OR sum(p_orders) > 0"),
            };
            let mut rows = Vec::new();
            for row in &qb.build().fetch_all(pool).await? {
                let mut values = Vec::with_capacity(2 * RANKED.len());
                for i in 0..2 * RANKED.len() {
                    values.push(row.try_get(1 + i)?);
                }
                rows.push((row.try_get(0)?, values));
            }
            rows
        });
        let sales = rows
            .into_iter()
            .map(|(product_id, v)| {
                let costs = |at: usize| CostFigures {
                    cost_minor: v[at],
                    unknown_cost_orders: v[at + 1],
                    unknown_cost_units: v[at + 2],
                    unknown_cost_revenue_minor: v[at + 3],
                };
                ProductSales {
                    product_id,
                    title: None,
                    orders: v[0],
                    units: v[1],
                    revenue_minor: v[2],
                    costs: costs(3),
                    previous_orders: v[7],
                    previous_revenue_minor: v[9],
                    previous_costs: costs(10),
                }
            })
            .collect();
        Ok(rank_products(sales, by, limit))
    }

    /// The titles of those of `products` the organization has.
    pub async fn product_titles(
        &self,
        organization: Uuid,
        products: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, String>, DbError> {
        if products.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let titles: Vec<(Uuid, String)> = super::on_pool!(self, |pool| {
            let mut qb = QueryBuilder::new("SELECT id, title FROM products WHERE organization_id = ");
            qb.push_bind(organization).push(" AND id IN (");
            let mut list = qb.separated(", ");
            for id in products {
                list.push_bind(*id);
            }
            qb.push(")");
            qb.build_query_as().fetch_all(pool).await?
        });
        Ok(titles.into_iter().collect())
    }

    /// The organization's stored rollups (daily rows), after folding every committed event delta in.
    pub async fn stored_rollups(&self, organization: Uuid) -> Result<Rollups, DbError> {
        Ok(self.stored_rollups_with_months(organization).await?.0)
    }

    /// The organization's stored daily rollups and its monthly product rows (keyed by the month's first day), as
    /// of one snapshot after folding every committed event delta in.
    pub async fn stored_rollups_with_months(&self, organization: Uuid) -> Result<(Rollups, Rollups), DbError> {
        self.fold_rollup_deltas(FoldMode::Complete).await?;
        let mut tx = self.begin_snapshot(false).await?;
        let stored = rollups::stored(&mut tx, organization).await?;
        tx.commit().await?;
        Ok((stored.daily, stored.monthly))
    }

    /// The organization's rollups computed afresh from raw rows (orders with their lines, events), as of one
    /// snapshot. Stored rollups must always equal this.
    pub async fn recompute_rollups(&self, organization: Uuid) -> Result<Rollups, DbError> {
        let mut tx = self.begin_snapshot(false).await?;
        let rollups = recompute(&mut tx, organization).await?.rollups;
        tx.commit().await?;
        Ok(rollups)
    }

    /// The organization's stored customer rollups, and the same computed afresh from its orders, as of one
    /// snapshot: they must always be equal.
    pub async fn customer_rollups(&self, organization: Uuid) -> Result<(CustomerRollups, CustomerRollups), DbError> {
        let mut tx = self.begin_snapshot(false).await?;
        let stored = super::customers::stored(&mut tx, organization).await?;
        let recomputed = recompute(&mut tx, organization).await?.customers;
        tx.commit().await?;
        Ok((stored, recomputed))
    }

    /// Replaces the organization's stored rollups (daily, monthly and customer rollups) with a recomputation from
    /// raw rows, in one transaction. On PostgreSQL it reads one snapshot; a write to the same rollup rows committed
    /// meanwhile makes it fail with a serialization error rather than lose that write, and it can simply be run
    /// again.
    #[tracing::instrument(name = "rebuilding rollups", skip(self), fields(tenant = %organization))]
    pub async fn rebuild_rollups(&self, organization: Uuid) -> Result<RollupRebuild, DbError> {
        self.fold_rollup_deltas(FoldMode::Complete).await?;
        let mut tx = self.begin_snapshot(true).await?;
        let Recomputed { rollups: recomputed, customers } = recompute(&mut tx, organization).await?;
        let stored = rollups::stored(&mut tx, organization).await?;
        let months = months_of(&recomputed);
        let corrected = stored.daily != recomputed
            || stored.daily_rows != recomputed.len()
            || stored.monthly != months
            || stored.monthly_rows != months.len();
        if corrected {
            rollups::replace_rollups(&mut tx, organization, &recomputed).await?;
        }
        let customers_corrected = super::customers::stored(&mut tx, organization).await? != customers;
        if customers_corrected {
            super::customers::replace(&mut tx, organization, &customers).await?;
        }
        tx.commit().await?;
        Ok(RollupRebuild {
            rows: recomputed.len() + months.len() + customers.days.iter().count() + customers.first_orders.len(),
            corrected: corrected || customers_corrected,
        })
    }

    /// Every organization's id, for maintenance over all tenants.
    pub async fn organization_ids(&self) -> Result<Vec<Uuid>, DbError> {
        const SQL: &str = "SELECT id FROM organizations ORDER BY id";
        Ok(super::on_pool!(self, |pool| sqlx::query_scalar(SQL).fetch_all(pool).await?))
    }
}
