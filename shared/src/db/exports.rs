//! Storage of exports and the order rows they read. Every query filters on the organization, except the sweep's
//! ([`Database::requeue_exports`], [`Database::give_up_exports`], [`Database::expired_exports`]), whose ids then
//! scope the rest.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{Database, DbError, now_micros, on_pool};
use crate::exports::{Export, ExportMessage, ExportRequest, ExportStatus, MAX_ATTEMPTS, OrderFilters};

const EXPORT_COLUMNS: &str = "id, organization_id, filters, status, attempts, rows_written, bytes_written, \
     blob_name, error, created_at, finished_at, expires_at";

/// Most exports a list shows.
pub const MAX_LISTED_EXPORTS: i64 = 50;

#[derive(sqlx::FromRow)]
struct ExportRow {
    id: Uuid,
    organization_id: Uuid,
    filters: String,
    status: String,
    attempts: i32,
    rows_written: Option<i64>,
    bytes_written: Option<i64>,
    blob_name: Option<String>,
    error: Option<String>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
}

impl TryFrom<ExportRow> for Export {
    type Error = DbError;

    fn try_from(row: ExportRow) -> Result<Self, DbError> {
        Ok(Self {
            id: row.id,
            organization_id: row.organization_id,
            request: serde_json::from_str(&row.filters).map_err(DbError::corrupt)?,
            status: ExportStatus::parse(&row.status).map_err(DbError::corrupt)?,
            attempts: row.attempts,
            rows: row.rows_written,
            bytes: row.bytes_written,
            blob_name: row.blob_name,
            error: row.error,
            created_at: row.created_at,
            finished_at: row.finished_at,
            expires_at: row.expires_at,
        })
    }
}

/// One order as an export lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrderRow {
    /// Our id.
    pub id: Uuid,
    /// Its store.
    pub store_id: Uuid,
    /// The platform's id.
    pub external_id: String,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
    /// Its status name.
    pub status: String,
    /// The order total, minor units.
    pub total_minor: i64,
    /// Its lines.
    pub lines: i64,
    /// Units over its lines.
    pub units: i64,
    /// Line totals (after line discounts), minor units.
    pub line_total_minor: i64,
    /// Refunded of those line totals, minor units.
    pub refunded_minor: i64,
}

/// Where a page of orders ends.
pub type OrderPosition = (DateTime<Utc>, Uuid);

impl Database {
    /// Records a new export, queued; `requeue_at` is when the sweep queues it again if no writer has claimed it.
    pub async fn create_export(
        &self,
        organization: Uuid,
        request: &ExportRequest,
        requeue_at: DateTime<Utc>,
    ) -> Result<Export, DbError> {
        let sql = format!(
            "INSERT INTO exports (id, organization_id, kind, filters, status, created_at, lease_until) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6) RETURNING {EXPORT_COLUMNS}"
        );
        let filters = serde_json::to_string(request).map_err(DbError::corrupt)?;
        let row: ExportRow = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(Uuid::new_v4())
            .bind(organization)
            .bind(request.kind().as_str())
            .bind(&filters)
            .bind(now_micros())
            .bind(requeue_at)
            .fetch_one(pool)
            .await?);
        row.try_into()
    }

    /// One of the organization's exports.
    pub async fn export(&self, organization: Uuid, id: Uuid) -> Result<Option<Export>, DbError> {
        let sql = format!("SELECT {EXPORT_COLUMNS} FROM exports WHERE organization_id = $1 AND id = $2");
        let row: Option<ExportRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(organization).bind(id).fetch_optional(pool).await?);
        row.map(Export::try_from).transpose()
    }

    /// The organization's latest [`MAX_LISTED_EXPORTS`] exports, newest first.
    pub async fn list_exports(&self, organization: Uuid) -> Result<Vec<Export>, DbError> {
        let sql = format!(
            "SELECT {EXPORT_COLUMNS} FROM exports WHERE organization_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<ExportRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(organization)
            .bind(MAX_LISTED_EXPORTS)
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(Export::try_from).collect()
    }

    /// Claims a queued export for writing until `until` (or one whose writer's claim ran out), counting the
    /// attempt; `None` when it is written, failed, claimed by a live writer, or out of attempts.
    pub async fn claim_export(
        &self,
        organization: Uuid,
        id: Uuid,
        until: DateTime<Utc>,
    ) -> Result<Option<Export>, DbError> {
        let sql = format!(
            "UPDATE exports SET status = 'running', attempts = attempts + 1, lease_until = $3 \
             WHERE organization_id = $1 AND id = $2 AND attempts < $5 \
             AND (status = 'queued' OR (status = 'running' AND lease_until <= $4)) RETURNING {EXPORT_COLUMNS}"
        );
        let row: Option<ExportRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(organization)
            .bind(id)
            .bind(until)
            .bind(now_micros())
            .bind(MAX_ATTEMPTS)
            .fetch_optional(pool)
            .await?);
        row.map(Export::try_from).transpose()
    }

    /// Marks a claimed export written.
    pub async fn finish_export(
        &self,
        organization: Uuid,
        id: Uuid,
        written: &FinishedExport<'_>,
    ) -> Result<(), DbError> {
        const SQL: &str = "UPDATE exports SET status = 'ready', rows_written = $3, bytes_written = $4, \
             blob_name = $5, finished_at = $6, expires_at = $7, lease_until = NULL, error = NULL \
             WHERE organization_id = $1 AND id = $2 AND status = 'running'";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(organization)
            .bind(id)
            .bind(written.rows)
            .bind(written.bytes)
            .bind(written.blob_name)
            .bind(now_micros())
            .bind(written.expires_at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Marks an export failed for good, with the reason the merchant sees.
    pub async fn fail_export(&self, organization: Uuid, id: Uuid, reason: &str) -> Result<(), DbError> {
        const SQL: &str = "UPDATE exports SET status = 'failed', error = $3, finished_at = $4, lease_until = NULL \
             WHERE organization_id = $1 AND id = $2 AND status IN ('queued', 'running')";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(organization)
            .bind(id)
            .bind(reason)
            .bind(now_micros())
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Hands a claimed export back to the queue after a failure a retry may get past; the queue's own retry (or,
    /// failing that, the sweep after `requeue_at`) takes it again.
    pub async fn release_export(&self, organization: Uuid, id: Uuid, requeue_at: DateTime<Utc>) -> Result<(), DbError> {
        const SQL: &str = "UPDATE exports SET status = 'queued', lease_until = $3 \
             WHERE organization_id = $1 AND id = $2 AND status = 'running'";
        on_pool!(self, |pool| sqlx::query(SQL)
            .bind(organization)
            .bind(id)
            .bind(requeue_at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Exports waiting past their time (a lost message, a writer that died), across organizations, claimed for
    /// another message until `until`.
    pub async fn requeue_exports(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ExportMessage>, DbError> {
        let candidates = "SELECT id FROM exports WHERE status IN ('queued', 'running') AND lease_until <= $1 \
             AND attempts < $4 ORDER BY lease_until, id LIMIT $3";
        let locking = if matches!(self, Self::Postgres(_)) { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE exports SET lease_until = $2 WHERE id IN ({candidates}{locking}) RETURNING organization_id, id"
        );
        let rows: Vec<(Uuid, Uuid)> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(now)
            .bind(until)
            .bind(i64::from(limit))
            .bind(MAX_ATTEMPTS)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(|(organization, export)| ExportMessage { organization, export }).collect())
    }

    /// Fails the exports that used up their attempts and are waiting past their time; how many.
    pub async fn give_up_exports(&self, now: DateTime<Utc>) -> Result<u64, DbError> {
        let sql = format!(
            "UPDATE exports SET status = 'failed', finished_at = $1, lease_until = NULL, \
             error = 'the export failed {MAX_ATTEMPTS} times; ask for it again' \
             WHERE status IN ('queued', 'running') AND lease_until <= $1 AND attempts >= $2"
        );
        Ok(on_pool!(self, |pool| sqlx::query(&sql).bind(now).bind(MAX_ATTEMPTS).execute(pool).await?.rows_affected()))
    }

    /// Ready exports whose time is up, across organizations, with their file names.
    pub async fn expired_exports(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<(Uuid, Uuid, String)>, DbError> {
        const SQL: &str = "SELECT organization_id, id, blob_name FROM exports \
             WHERE status = 'ready' AND expires_at <= $1 AND blob_name IS NOT NULL ORDER BY expires_at LIMIT $2";
        Ok(on_pool!(self, |pool| sqlx::query_as(SQL).bind(now).bind(i64::from(limit)).fetch_all(pool).await?))
    }

    /// Records that an export's file was deleted.
    pub async fn mark_export_expired(&self, organization: Uuid, id: Uuid) -> Result<(), DbError> {
        const SQL: &str = "UPDATE exports SET status = 'expired' WHERE organization_id = $1 AND id = $2";
        on_pool!(self, |pool| sqlx::query(SQL).bind(organization).bind(id).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// A page of the organization's orders in placing order, after `after`, placed within `[from, to)` when given.
    pub async fn export_orders_page(
        &self,
        organization: Uuid,
        filters: &OrderFilters,
        bounds: Option<(DateTime<Utc>, DateTime<Utc>)>,
        after: Option<OrderPosition>,
        limit: u32,
    ) -> Result<Vec<OrderRow>, DbError> {
        Ok(on_pool!(self, |pool| {
            // Each order's lines by its id alone (the order is already the organization's): the primary key's
            // lookup, where a join on the organization too lets SQLite scan all its lines once per order.
            let sum = |expression: &str, alias: &str| {
                format!(
                    "CAST((SELECT coalesce(sum({expression}), 0) FROM order_lines l WHERE l.order_id = o.id) AS BIGINT) AS {alias}"
                )
            };
            let select = format!(
                "SELECT o.id, o.store_id, o.external_id, o.placed_at, o.status, o.total_minor, {}, {}, {}, {} \
                 FROM orders o WHERE o.organization_id = ",
                sum("1", "lines"),
                sum("l.quantity", "units"),
                sum("l.total_minor", "line_total_minor"),
                sum("l.refunded_minor", "refunded_minor"),
            );
            let mut qb = QueryBuilder::new(select);
            qb.push_bind(organization);
            if let Some((from, to)) = bounds {
                qb.push(" AND o.placed_at >= ").push_bind(from).push(" AND o.placed_at < ").push_bind(to);
            }
            if let Some(store) = filters.store {
                qb.push(" AND o.store_id = ").push_bind(store);
            }
            if let Some(status) = filters.status {
                qb.push(" AND o.status = ").push_bind(status.as_str());
            }
            if let Some((placed_at, id)) = after {
                qb.push(" AND (o.placed_at > ").push_bind(placed_at);
                qb.push(" OR (o.placed_at = ").push_bind(placed_at).push(" AND o.id > ").push_bind(id).push("))");
            }
            qb.push(" ORDER BY o.placed_at, o.id LIMIT ").push_bind(i64::from(limit));
            qb.build_query_as().fetch_all(pool).await?
        }))
    }
}

/// What a written export records.
#[derive(Debug, Clone, Copy)]
pub struct FinishedExport<'a> {
    /// Data rows.
    pub rows: i64,
    /// File size.
    pub bytes: i64,
    /// The file's name.
    pub blob_name: &'a str,
    /// When the file is deleted.
    pub expires_at: DateTime<Utc>,
}
