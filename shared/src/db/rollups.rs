//! Storage of the rollups every analytics read uses: daily rows per organization (`daily_totals`) and per product
//! (`daily_product_totals`), monthly rows per product (`monthly_product_totals`, so a ranking over months reads one
//! row per product and month instead of one per day), and on PostgreSQL the event deltas not yet folded into them.
//!
//! Every table holds the same [`MEASURES`]; the SQL here is written from that list, so a new measure is a new
//! column, not new code.
//!
//! # How writes reach the rollups
//! - **Orders** (sync, webhooks, corrections, deletions) change the rollups in their own transaction through
//!   [`apply_rollup_delta`]: rows in key order (concurrent writers lock in the same order and cannot deadlock),
//!   monthly rows in step with the daily ones, rows whose counters all reach zero deleted — so the stored rows equal a
//!   recomputation from raw rows exactly, row for row.
//! - **Events on PostgreSQL** append instead: each batch stores its change as one `rollup_deltas` row (arrays of
//!   keys and counters) in the batch's transaction, and never touches a shared rollup row, so concurrent batches
//!   never wait on each other. [`Database::fold_rollup_deltas`] moves committed deltas into the rollups in one
//!   transaction (deleting them as it adds them); it runs shortly after ingest, and before anything that reads the
//!   rollup tables directly (the advisor, a rebuild, the demo load). Reads that must include every event the moment
//!   its batch is acknowledged (time series) add the deltas not yet folded: a snapshot sees a delta either still
//!   pending or already folded, never both and never neither, so they are exact at all times.
//! - **Events on SQLite** (one writer at a time: nothing to gain from appending) change the rollups in the batch's
//!   transaction like orders.
//!
//! Rankings read only sales measures, which only orders change: [`bump_sales_version`] numbers every such change per
//! organization, so a ranking computed at one version stays exact until the next.

use std::{collections::BTreeMap, sync::LazyLock};

use chrono::NaiveDate;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;

use super::{
    Database, DbError,
    tx::{WriteTx, on_tx},
};
use crate::analytics::{Bucket, Counters, MEASURES, RollupKey, Rollups};

/// A rollup table and its key columns after `organization_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    /// The organization's days.
    OrganizationDays,
    /// Each product's days.
    ProductDays,
    /// Each product's calendar months (keyed by their first day).
    ProductMonths,
}

impl Table {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::OrganizationDays => "daily_totals",
            Self::ProductDays => "daily_product_totals",
            Self::ProductMonths => "monthly_product_totals",
        }
    }

    fn has_product(self) -> bool {
        self != Self::OrganizationDays
    }

    fn date_column(self) -> &'static str {
        match self {
            Self::ProductMonths => "month",
            _ => "day",
        }
    }

    /// The key columns after `organization_id`.
    fn keys(self) -> String {
        if self.has_product() { format!("product_id, {}", self.date_column()) } else { "day".into() }
    }
}

/// `orders, units, …`: the measure columns, optionally qualified (`t.orders, …`).
pub(super) fn measure_list(prefix: &str) -> String {
    MEASURES.iter().map(|m| format!("{prefix}{m}")).collect::<Vec<_>>().join(", ")
}

/// `CAST(sum(orders) AS BIGINT) AS orders, …`: the measures summed, as both backends return them.
pub(super) fn summed_measures(prefix: &str) -> String {
    MEASURES.iter().map(|m| format!("CAST(sum({prefix}{m}) AS BIGINT) AS {m}")).collect::<Vec<_>>().join(", ")
}

/// `orders = 0 AND units = 0 AND …`
fn all_zero() -> String {
    MEASURES.iter().map(|m| format!("{m} = 0")).collect::<Vec<_>>().join(" AND ")
}

/// The counters of a row whose measures start at column `first`.
pub(super) fn counters_at<R>(row: &R, first: usize) -> Result<Counters, sqlx::Error>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let mut values = [0; MEASURES.len()];
    for (i, value) in values.iter_mut().enumerate() {
        *value = row.try_get(first + i)?;
    }
    Ok(Counters::from_array(values))
}

/// A rollup row to add: product (for product tables), day or month, counters.
type Addition = (Option<Uuid>, NaiveDate, Counters);

/// Rows per upsert statement (at most 9 parameters each: well under either backend's limit).
const UPSERT_CHUNK: usize = 500;

/// The two halves of one table's upsert around its `VALUES` rows: adds the counters to the stored ones and returns
/// each row's key and resulting counters.
fn upsert_sql(table: Table) -> (String, String) {
    let name = table.name();
    let head = format!("INSERT INTO {name} (organization_id, {}, {}) VALUES ", table.keys(), measure_list(""));
    let updates: Vec<String> = MEASURES.iter().map(|m| format!("{m} = {name}.{m} + excluded.{m}")).collect();
    let tail = format!(
        " ON CONFLICT (organization_id, {keys}) DO UPDATE SET {} RETURNING {keys}, {}",
        updates.join(", "),
        measure_list(""),
        keys = table.keys()
    );
    (head, tail)
}

static UPSERTS: LazyLock<[(String, String); 3]> = LazyLock::new(|| {
    [upsert_sql(Table::OrganizationDays), upsert_sql(Table::ProductDays), upsert_sql(Table::ProductMonths)]
});

fn upsert_halves(table: Table) -> &'static (String, String) {
    match table {
        Table::OrganizationDays => &UPSERTS[0],
        Table::ProductDays => &UPSERTS[1],
        Table::ProductMonths => &UPSERTS[2],
    }
}

/// Pushes `(organization, [product,] date` for one row of `table`, leaving the tuple open.
fn push_key<DB: sqlx::Database>(
    qb: &mut QueryBuilder<'_, DB>,
    table: Table,
    organization: Uuid,
    product: Option<Uuid>,
    date: NaiveDate,
) where
    Uuid: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<Uuid>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    NaiveDate: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    qb.push("(").push_bind(organization);
    if table.has_product() {
        qb.push(", ").push_bind(product);
    }
    qb.push(", ").push_bind(date);
}

/// Adds `rows` (in key order) to `table`; returns the keys of rows whose counters all reached zero.
async fn add_rows(
    tx: &mut WriteTx,
    organization: Uuid,
    table: Table,
    rows: &[Addition],
) -> Result<Vec<(Option<Uuid>, NaiveDate)>, DbError> {
    let (head, tail) = upsert_halves(table);
    let first = if table.has_product() { 2 } else { 1 };
    let mut emptied = Vec::new();
    for chunk in rows.chunks(UPSERT_CHUNK) {
        let zeroed: Vec<(Option<Uuid>, NaiveDate)> = on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(head.as_str());
            for (i, (product, date, counters)) in chunk.iter().enumerate() {
                if i > 0 {
                    qb.push(", ");
                }
                push_key(&mut qb, table, organization, *product, *date);
                for value in counters.to_array() {
                    qb.push(", ").push_bind(value);
                }
                qb.push(")");
            }
            qb.push(tail.as_str());
            let mut zeroed = Vec::new();
            for row in &qb.build().fetch_all(&mut **conn).await? {
                if counters_at(row, first)?.is_zero() {
                    let product: Option<Uuid> = if table.has_product() { row.try_get(0)? } else { None };
                    zeroed.push((product, row.try_get(first - 1)?));
                }
            }
            zeroed
        });
        emptied.extend(zeroed);
    }
    Ok(emptied)
}

/// Deletes rows of `table` by key (those [`add_rows`] reported at zero).
async fn delete_rows(
    tx: &mut WriteTx,
    organization: Uuid,
    table: Table,
    keys: &[(Option<Uuid>, NaiveDate)],
) -> Result<(), DbError> {
    for chunk in keys.chunks(UPSERT_CHUNK) {
        // `IN (VALUES …)`: SQLite compares row values only with a subquery.
        let head = format!(
            "DELETE FROM {} WHERE {} AND (organization_id, {}) IN (VALUES ",
            table.name(),
            all_zero(),
            table.keys()
        );
        on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(head.as_str());
            for (i, (product, date)) in chunk.iter().enumerate() {
                if i > 0 {
                    qb.push(", ");
                }
                push_key(&mut qb, table, organization, *product, *date);
                qb.push(")");
            }
            qb.push(")");
            qb.build().execute(&mut **conn).await?;
        });
    }
    Ok(())
}

/// Adds `delta` to the stored rollups (daily rows and the monthly ones they roll up into), deleting rows that reach
/// zero, and numbers the change if it touches sales.
pub(super) async fn apply_rollup_delta(tx: &mut WriteTx, organization: Uuid, delta: &Rollups) -> Result<(), DbError> {
    if delta.is_empty() {
        return Ok(());
    }
    let mut totals: Vec<Addition> = Vec::new();
    let mut products: Vec<Addition> = Vec::new();
    let mut months: BTreeMap<(Uuid, NaiveDate), Counters> = BTreeMap::new();
    for (key, counters) in delta.iter() {
        match key.product {
            None => totals.push((None, key.day, *counters)),
            Some(product) => {
                products.push((Some(product), key.day, *counters));
                let month = months.entry((product, Bucket::Month.start_of(key.day))).or_default();
                *month = month.plus(*counters);
            }
        }
    }
    let months: Vec<Addition> =
        months.into_iter().filter(|(_, c)| !c.is_zero()).map(|((p, m), c)| (Some(p), m, c)).collect();
    for (table, rows) in
        [(Table::OrganizationDays, totals), (Table::ProductDays, products), (Table::ProductMonths, months)]
    {
        let emptied = add_rows(tx, organization, table, &rows).await?;
        delete_rows(tx, organization, table, &emptied).await?;
    }
    if delta.iter().any(|(_, counters)| counters.has_sales()) {
        bump_sales_version(tx, organization).await?;
    }
    Ok(())
}

/// Numbers a change to the organization's sales figures (see [`Database::sales_version`]).
async fn bump_sales_version(tx: &mut WriteTx, organization: Uuid) -> Result<(), DbError> {
    const SQL: &str = "INSERT INTO sales_versions (organization_id, version) VALUES ($1, 1) \
         ON CONFLICT (organization_id) DO UPDATE SET version = sales_versions.version + 1";
    on_tx!(tx, |conn| sqlx::query(SQL).bind(organization).execute(&mut **conn).await.map(drop)?);
    Ok(())
}

/// The unfolded deltas of one organization as rows `(product_id, day, measures…)`, for a `FROM (…) d` clause:
/// `$1` is the organization.
pub(super) fn pending_deltas_sql() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT u.product_id, u.day, {} FROM rollup_deltas r \
             CROSS JOIN LATERAL unnest(r.product_ids, r.days, {}) AS u (product_id, day, {}) \
             WHERE r.organization_id = $1",
            measure_list("u."),
            measure_list("r."),
            measure_list("")
        )
    });
    &SQL
}

/// Deltas folded per transaction (each holds one event batch's change: up to a few thousand keys).
const FOLD_CHUNK: i64 = 200;
/// Serialises folds within a database (`pg_advisory_xact_lock`): two folders would only take turns on the rows.
const FOLD_LOCK: i64 = 0x0072_6f6c_6c75_7073; // "rollups"

/// Whether a fold waits for one already running or leaves the work to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldMode {
    /// Wait, then fold what is left: afterwards the rollup tables hold every delta committed before the call.
    Complete,
    /// Skip if another fold is running (it folds what is there): for background folding after ingest.
    IfIdle,
}

impl Database {
    /// Moves committed event deltas into the rollup tables, a chunk per transaction, until none are left; returns
    /// how many deltas (event batches) it folded. Nothing to do on SQLite, where events update the rollups directly.
    #[tracing::instrument(name = "folding event deltas into the rollups", skip(self))]
    pub async fn fold_rollup_deltas(&self, mode: FoldMode) -> Result<u64, DbError> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "WITH moved AS (DELETE FROM rollup_deltas WHERE ctid = ANY(ARRAY( \
                 SELECT ctid FROM rollup_deltas LIMIT $1)) RETURNING *) \
                 SELECT m.organization_id, u.product_id, u.day, {}, (SELECT count(*) FROM moved) AS deltas \
                 FROM moved m CROSS JOIN LATERAL unnest(m.product_ids, m.days, {}) AS u (product_id, day, {}) \
                 GROUP BY m.organization_id, u.product_id, u.day",
                summed_measures("u."),
                measure_list("m."),
                measure_list("")
            )
        });
        let Self::Postgres(pool) = self else { return Ok(0) };
        let mut folded = 0;
        loop {
            let mut tx = pool.begin().await?;
            let locked: bool = match mode {
                FoldMode::Complete => {
                    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(FOLD_LOCK).execute(&mut *tx).await?;
                    true
                }
                FoldMode::IfIdle => {
                    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                        .bind(FOLD_LOCK)
                        .fetch_one(&mut *tx)
                        .await?
                }
            };
            if !locked {
                return Ok(folded);
            }
            let rows = sqlx::query(&SQL).bind(FOLD_CHUNK).fetch_all(&mut *tx).await?;
            let deltas: i64 = rows.first().map(|row| row.try_get("deltas")).transpose()?.unwrap_or(0);
            let mut by_organization: BTreeMap<Uuid, Rollups> = BTreeMap::new();
            for row in &rows {
                let organization: Uuid = row.try_get(0)?;
                let key = RollupKey { product: row.try_get(1)?, day: row.try_get(2)? };
                by_organization.entry(organization).or_default().add(key, counters_at(row, 3)?);
            }
            let mut write = WriteTx::Postgres(tx);
            for (organization, delta) in &by_organization {
                apply_rollup_delta(&mut write, *organization, delta).await?;
            }
            write.commit().await?;
            folded += deltas.unsigned_abs();
            if deltas < FOLD_CHUNK {
                return Ok(folded);
            }
        }
    }

    /// A number that changes with every write to the organization's sales figures (orders, their corrections and
    /// deletions, rebuilds): a ranking computed at one version holds until it changes.
    pub async fn sales_version(&self, organization: Uuid) -> Result<i64, DbError> {
        const SQL: &str = "SELECT version FROM sales_versions WHERE organization_id = $1";
        let version: Option<i64> =
            super::on_pool!(self, |pool| sqlx::query_scalar(SQL).bind(organization).fetch_optional(pool).await?);
        Ok(version.unwrap_or(0))
    }
}

/// Rows `(product_id, date, measures…)` of one organization (`$1`).
async fn keyed_rows(
    tx: &mut WriteTx,
    sql: &str,
    organization: Uuid,
) -> Result<Vec<(Option<Uuid>, NaiveDate, Counters)>, DbError> {
    Ok(on_tx!(tx, |conn| {
        let mut out = Vec::new();
        for row in &sqlx::query(sql).bind(organization).fetch_all(&mut **conn).await? {
            out.push((row.try_get(0)?, row.try_get(1)?, counters_at(row, 2)?));
        }
        out
    }))
}

/// The stored rollups of one organization: daily rows (with pending deltas on PostgreSQL), monthly rows, and how
/// many rows hold the daily ones (more than the rollups have if some row is all zeros).
pub(super) async fn stored(tx: &mut WriteTx, organization: Uuid) -> Result<StoredRollups, DbError> {
    static DAILY: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT NULL AS product_id, day, {m} FROM daily_totals WHERE organization_id = $1 \
             UNION ALL SELECT product_id, day, {m} FROM daily_product_totals WHERE organization_id = $1",
            m = measure_list("")
        )
    });
    static MONTHLY: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT product_id, month, {} FROM monthly_product_totals WHERE organization_id = $1", measure_list(""))
    });
    let daily = keyed_rows(tx, &DAILY, organization).await?;
    let monthly = keyed_rows(tx, &MONTHLY, organization).await?;
    let mut stored = StoredRollups { daily_rows: daily.len(), monthly_rows: monthly.len(), ..StoredRollups::default() };
    let pending = if tx.is_postgres() { keyed_rows(tx, pending_deltas_sql(), organization).await? } else { Vec::new() };
    for (product, day, counters) in daily.into_iter().chain(pending) {
        stored.daily.add(RollupKey { product, day }, counters);
    }
    for (product, month, counters) in monthly {
        stored.monthly.add(RollupKey { product, day: month }, counters);
    }
    Ok(stored)
}

/// An organization's rollups as stored.
#[derive(Debug, Default)]
pub(super) struct StoredRollups {
    /// Daily rows (with pending deltas).
    pub daily: Rollups,
    /// Monthly product rows, keyed by their month's first day.
    pub monthly: Rollups,
    /// How many daily rows the tables hold.
    pub daily_rows: usize,
    /// How many monthly rows the table holds.
    pub monthly_rows: usize,
}

/// The monthly product rows that `daily` rolls up into.
pub(super) fn months_of(daily: &Rollups) -> Rollups {
    daily
        .iter()
        .filter_map(|(key, counters)| {
            key.product
                .map(|product| (RollupKey { product: Some(product), day: Bucket::Month.start_of(key.day) }, *counters))
        })
        .collect()
}

/// Replaces the organization's stored rollups (and on PostgreSQL drops its pending deltas, which `rollups`
/// includes) with `rollups`, and numbers the change (even to nothing: the rankings cached before must go).
pub(super) async fn replace_rollups(tx: &mut WriteTx, organization: Uuid, rollups: &Rollups) -> Result<(), DbError> {
    let pending = if tx.is_postgres() { "rollup_deltas" } else { "" };
    for table in [Table::OrganizationDays.name(), Table::ProductDays.name(), Table::ProductMonths.name(), pending] {
        if table.is_empty() {
            continue;
        }
        let sql = format!("DELETE FROM {table} WHERE organization_id = $1");
        on_tx!(tx, |conn| sqlx::query(&sql).bind(organization).execute(&mut **conn).await.map(drop)?);
    }
    // Adding to nothing writes the rows as they are.
    apply_rollup_delta(tx, organization, rollups).await?;
    bump_sales_version(tx, organization).await
}
