//! Storage of store connections and their sync: leases (`FOR UPDATE SKIP LOCKED` with an expiry on PostgreSQL, one
//! conditional `UPDATE` on single-writer SQLite), fenced checkpoints, sync-job history, webhook delivery dedup,
//! record versions and the refresh queue.
//!
//! Every statement filters on the organization, except the two that must look across tenants and only return rows
//! that scope everything after them: leasing the next due store (the timer) and finding the stores behind a webhook's
//! shop domain or site.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Database, DbError,
    catalogue::{last_of_each, upsert_products_in},
    now_micros, on_pool,
    orders::{OrderInput, OrderLineInput},
    tx::{WriteTx, on_tx},
};
use crate::{
    catalogue::{ProductInput, UpsertCounts},
    domain::{CurrencyCode, ParseError},
    platforms::{PlatformOrder, PlatformProduct, address::StoreAddress},
    secrets::SecretName,
    sync::{
        ConnectionStatus, CredentialsState, JobProgress, JobStatus, JobTrigger, LeasedStore, StoreConnection,
        StoreRecord, StoreTotals, SyncJob,
    },
};

/// When a write's commit may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Once the write is on disk: what anything acknowledged to someone else needs (a webhook's 200).
    Immediate,
    /// Before the log is flushed (PostgreSQL `synchronous_commit = off` for the transaction; SQLite in WAL mode
    /// already commits so). A database crash may lose the last fraction of a second of such commits, always the
    /// newest ones first, which is harmless for what a sync writes: data and the checkpoint after it are lost
    /// together, and the next run reads those pages again. A killed *worker* loses nothing: the server has it.
    /// Without it every page would wait for a disk flush, which caps a sync at a few hundred pages a second.
    Deferred,
}

const CONNECTION_COLUMNS: &str = "store_id, organization_id, platform, address, credential_ref, status, checkpoint, \
     consecutive_failures, credentials_verified_at";

/// A `store_connections` row as read, before its values are parsed into a [`StoreConnection`].
#[derive(sqlx::FromRow)]
struct ConnectionRow {
    store_id: Uuid,
    organization_id: Uuid,
    platform: String,
    address: String,
    credential_ref: String,
    status: String,
    checkpoint: String,
    consecutive_failures: i32,
    credentials_verified_at: Option<DateTime<Utc>>,
}

/// A stored value that no longer parses: every value was parsed before it was written, so this is a corrupt row,
/// never a default.
fn corrupt(error: ParseError) -> DbError {
    DbError::Sqlx(sqlx::Error::Decode(Box::new(error)))
}

impl TryFrom<ConnectionRow> for StoreConnection {
    type Error = DbError;

    fn try_from(row: ConnectionRow) -> Result<Self, DbError> {
        Ok(Self {
            store_id: row.store_id,
            organization_id: row.organization_id,
            address: StoreAddress::parse(&row.platform, &row.address).map_err(corrupt)?,
            credential_ref: SecretName::parse(&row.credential_ref).map_err(corrupt)?,
            status: ConnectionStatus::parse(&row.status).map_err(corrupt)?,
            checkpoint: row.checkpoint,
            consecutive_failures: row.consecutive_failures,
            credentials_verified_at: row.credentials_verified_at,
        })
    }
}

/// Disables a connection (`$1` organization, `$2` store, `$3` reason, `$4` now) and returns its credential reference.
const DISCONNECT: &str = "UPDATE store_connections SET status = 'disabled', disabled_reason = $3, updated_at = $4 \
     WHERE organization_id = $1 AND store_id = $2 RETURNING credential_ref";

/// Updates a job's counts through `$executor` (a connection in a transaction), and closes it when `$finished`
/// (`Option<(JobStatus, at)>`) is given.
macro_rules! update_job {
    ($executor:expr, $organization:expr, $job:expr, $progress:expr, $finished:expr, $error:expr) => {{
        let progress: &JobProgress = $progress;
        let finished: Option<(JobStatus, DateTime<Utc>)> = $finished;
        let error: Option<&str> = $error;
        let (status, finished_at) = finished.unzip();
        sqlx::query(
            "UPDATE sync_jobs SET pages = $3, created = $4, updated = $5, unchanged = $6, failed = $7, \
             status = coalesce($8, status), finished_at = coalesce($9, finished_at), error = coalesce($10, error) \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind($organization)
        .bind($job)
        .bind(i64::try_from(progress.pages).unwrap_or(i64::MAX))
        .bind(i64::try_from(progress.created).unwrap_or(i64::MAX))
        .bind(i64::try_from(progress.updated).unwrap_or(i64::MAX))
        .bind(i64::try_from(progress.unchanged).unwrap_or(i64::MAX))
        .bind(i64::try_from(progress.failed).unwrap_or(i64::MAX))
        .bind(status.map(JobStatus::as_str))
        .bind(finished_at)
        .bind(error)
        .execute($executor)
        .await?;
    }};
}

/// A list of ids bound as one parameter: a PostgreSQL array, or JSON that SQLite's `json_each` reads.
fn sqlite_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// The outcome of trying to lease one store.
#[derive(Debug)]
pub enum LeaseAttempt {
    /// Ours until the expiry (boxed: a connection is large beside the other answers).
    Leased(Box<LeasedStore>),
    /// Another instance holds it.
    Busy,
    /// Disconnected (or not this organization's).
    Unavailable,
}

/// How a run ended, as stored on its job and its store.
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// The job's final status.
    pub status: JobStatus,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// Its counts.
    pub progress: JobProgress,
    /// When the store is next due.
    pub next_sync_at: DateTime<Utc>,
    /// Failures in a row, this run included.
    pub consecutive_failures: i32,
    /// Both listings were read to the end.
    pub completed: bool,
    /// The checkpoint to keep.
    pub checkpoint: String,
    /// The platform answered the store's credentials with data: they are proven from now on.
    pub credentials_verified: bool,
    /// The platform refused the store's credentials: the store is disabled with this reason.
    pub disabled_reason: Option<String>,
}

/// A store connection to create.
#[derive(Debug, Clone, Copy)]
pub struct NewConnection<'a> {
    /// The new store's id.
    pub store: Uuid,
    /// Display name.
    pub name: &'a str,
    /// Where the store is, on which platform.
    pub address: &'a StoreAddress,
    /// The credentials' name in the secrets port.
    pub credential_ref: &'a SecretName,
    /// Whether the credentials were already proven.
    pub credentials: CredentialsState,
}

/// The stored verification time for a new credentials state.
fn verified_at(credentials: CredentialsState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (credentials == CredentialsState::Verified).then_some(now)
}

impl Database {
    /// The connection for `(platform, address)` in the organization, if any: its store id and status.
    pub async fn find_connection(
        &self,
        organization: Uuid,
        address: &StoreAddress,
    ) -> Result<Option<(Uuid, ConnectionStatus)>, DbError> {
        let found: Option<(Uuid, String)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT store_id, status FROM store_connections \
             WHERE organization_id = $1 AND platform = $2 AND address = $3"
        )
        .bind(organization)
        .bind(address.platform().as_str())
        .bind(address.to_string())
        .fetch_optional(pool)
        .await?);
        found.map(|(store, status)| Ok((store, ConnectionStatus::parse(&status).map_err(corrupt)?))).transpose()
    }

    /// Creates a store and its connection, due at once. A second unproven enabled connection of one Shopify shop is
    /// refused by a unique index ([`DbError::is_unique_violation`]).
    pub async fn create_connected_store(&self, organization: Uuid, new: &NewConnection<'_>) -> Result<(), DbError> {
        let NewConnection { store, name, address, credential_ref, credentials } = *new;
        let (platform, address, credential_ref) =
            (address.platform().as_str(), address.to_string(), credential_ref.as_ref());
        let now = now_micros();
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO stores (id, organization_id, platform, name, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(store)
            .bind(organization)
            .bind(platform)
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO store_connections (store_id, organization_id, platform, address, credential_ref, \
                 status, next_sync_at, created_at, updated_at, credentials_verified_at) \
                 VALUES ($1, $2, $3, $4, $5, 'enabled', $6, $6, $6, $7)",
            )
            .bind(store)
            .bind(organization)
            .bind(platform)
            .bind(&address)
            .bind(credential_ref)
            .bind(now)
            .bind(verified_at(credentials, now))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Enables a disconnected store again (new credentials, same history and checkpoint), due at once.
    pub async fn reconnect_store(
        &self,
        organization: Uuid,
        store: Uuid,
        name: &str,
        credential_ref: &SecretName,
        credentials: CredentialsState,
    ) -> Result<bool, DbError> {
        let now = now_micros();
        let updated = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE store_connections SET status = 'enabled', disabled_reason = NULL, credential_ref = $3, \
                 next_sync_at = $4, consecutive_failures = 0, updated_at = $4, credentials_verified_at = $5 \
                 WHERE organization_id = $1 AND store_id = $2 AND status = 'disabled'",
            )
            .bind(organization)
            .bind(store)
            .bind(credential_ref.as_ref())
            .bind(now)
            .bind(verified_at(credentials, now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("UPDATE stores SET name = $3 WHERE organization_id = $1 AND id = $2")
                .bind(organization)
                .bind(store)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            updated
        });
        Ok(updated == 1)
    }

    /// Records that a store's credentials are proven (a verified token, an OAuth install): from now on it receives
    /// webhooks. Returns whether the organization has such a store.
    pub async fn mark_credentials_verified(&self, organization: Uuid, store: Uuid) -> Result<bool, DbError> {
        let now = now_micros();
        let updated = on_pool!(self, |pool| sqlx::query(
            "UPDATE store_connections SET credentials_verified_at = coalesce(credentials_verified_at, $3), \
             updated_at = $3 WHERE organization_id = $1 AND store_id = $2"
        )
        .bind(organization)
        .bind(store)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(updated == 1)
    }

    /// Stops syncing a store (its data and history stay). Returns its credential reference, or `None` if the
    /// organization has no such connected store.
    pub async fn disconnect_store(
        &self,
        organization: Uuid,
        store: Uuid,
        reason: &str,
    ) -> Result<Option<String>, DbError> {
        Ok(on_pool!(self, |pool| sqlx::query_scalar(DISCONNECT)
            .bind(organization)
            .bind(store)
            .bind(reason)
            .bind(now_micros())
            .fetch_optional(pool)
            .await?))
    }

    /// Every store of the organization (connected or not), oldest first.
    pub async fn store_records(&self, organization: Uuid) -> Result<Vec<StoreRecord>, DbError> {
        self.store_records_where(organization, None).await
    }

    /// One store of the organization.
    pub async fn store_record(&self, organization: Uuid, store: Uuid) -> Result<Option<StoreRecord>, DbError> {
        Ok(self.store_records_where(organization, Some(store)).await?.into_iter().next())
    }

    async fn store_records_where(&self, organization: Uuid, store: Option<Uuid>) -> Result<Vec<StoreRecord>, DbError> {
        let sql = "SELECT s.id, s.platform, s.name, s.created_at, c.address, c.status, c.disabled_reason, \
             c.next_sync_at, c.last_completed_at, c.lease_expires_at, c.consecutive_failures, c.checkpoint, \
             c.credentials_verified_at \
             FROM stores s LEFT JOIN store_connections c ON c.store_id = s.id AND c.organization_id = s.organization_id \
             WHERE s.organization_id = $1 AND ($2 IS NULL OR s.id = $2) ORDER BY s.created_at, s.id";
        let mut records: Vec<StoreRecord> =
            on_pool!(self, |pool| sqlx::query_as(sql).bind(organization).bind(store).fetch_all(pool).await?);
        for record in &mut records {
            record.last_job = self.sync_jobs_page(organization, record.id, 1, None).await?.into_iter().next();
        }
        Ok(records)
    }

    /// What a store has brought in: products, variants, units in stock, orders and their total.
    pub async fn store_totals(&self, organization: Uuid, store: Uuid) -> Result<StoreTotals, DbError> {
        let sql = "SELECT \
             (SELECT count(*) FROM products WHERE organization_id = $1 AND store_id = $2) AS products, \
             (SELECT count(*) FROM variants v JOIN products p ON p.id = v.product_id \
                WHERE p.organization_id = $1 AND p.store_id = $2) AS variants, \
             (SELECT coalesce(sum(inventory), 0) FROM products WHERE organization_id = $1 AND store_id = $2) \
                AS inventory, \
             (SELECT count(*) FROM orders WHERE organization_id = $1 AND store_id = $2) AS orders, \
             (SELECT coalesce(sum(total_minor), 0) FROM orders WHERE organization_id = $1 AND store_id = $2) \
                AS order_total_minor";
        Ok(match self {
            Self::Postgres(pool) => {
                // sum() of bigint is numeric on PostgreSQL.
                let sql = sql
                    .replace("coalesce(sum(inventory), 0)", "coalesce(sum(inventory), 0)::int8")
                    .replace("coalesce(sum(total_minor), 0)", "coalesce(sum(total_minor), 0)::int8");
                sqlx::query_as(&sql).bind(organization).bind(store).fetch_one(pool).await?
            }
            Self::Sqlite(pool) => sqlx::query_as(sql).bind(organization).bind(store).fetch_one(pool).await?,
        })
    }

    /// The organization's currency code.
    pub async fn organization_currency(&self, organization: Uuid) -> Result<Option<CurrencyCode>, DbError> {
        let code: Option<String> =
            on_pool!(self, |pool| sqlx::query_scalar("SELECT currency FROM organizations WHERE id = $1")
                .bind(organization)
                .fetch_optional(pool)
                .await?);
        code.map(|code| CurrencyCode::parse(&code).map_err(|e| DbError::Sqlx(sqlx::Error::Decode(e.into()))))
            .transpose()
    }

    /// Leases the enabled store that has been due longest (due at `due_by` at the latest) and is not leased, for
    /// `owner` until `until`. On PostgreSQL concurrent callers skip each other's candidate rows instead of waiting
    /// for them.
    pub async fn lease_due_store(
        &self,
        owner: Uuid,
        due_by: DateTime<Utc>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<LeasedStore>, DbError> {
        let candidate = "SELECT store_id FROM store_connections WHERE status = 'enabled' AND next_sync_at <= $4 \
             AND (lease_expires_at IS NULL OR lease_expires_at <= $3) ORDER BY next_sync_at, store_id LIMIT 1";
        let row: Option<ConnectionRow> = match self {
            Self::Postgres(pool) => {
                let sql = format!(
                    "UPDATE store_connections SET lease_owner = $1, lease_expires_at = $2 \
                     WHERE store_id = ({candidate} FOR UPDATE SKIP LOCKED) RETURNING {CONNECTION_COLUMNS}"
                );
                sqlx::query_as(&sql).bind(owner).bind(until).bind(now).bind(due_by).fetch_optional(pool).await?
            }
            Self::Sqlite(pool) => {
                let sql = format!(
                    "UPDATE store_connections SET lease_owner = $1, lease_expires_at = $2 \
                     WHERE store_id = ({candidate}) RETURNING {CONNECTION_COLUMNS}"
                );
                sqlx::query_as(&sql).bind(owner).bind(until).bind(now).bind(due_by).fetch_optional(pool).await?
            }
        };
        let connection = row.map(StoreConnection::try_from).transpose()?;
        Ok(connection.map(|connection| LeasedStore { connection, owner }))
    }

    /// Leases one store of the organization (for "sync now"), unless someone holds it.
    pub async fn lease_store(
        &self,
        organization: Uuid,
        store: Uuid,
        owner: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<LeaseAttempt, DbError> {
        let sql = format!(
            "UPDATE store_connections SET lease_owner = $3, lease_expires_at = $4 \
             WHERE organization_id = $1 AND store_id = $2 AND status = 'enabled' \
             AND (lease_expires_at IS NULL OR lease_expires_at <= $5) RETURNING {CONNECTION_COLUMNS}"
        );
        let row: Option<ConnectionRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(organization)
            .bind(store)
            .bind(owner)
            .bind(until)
            .bind(now)
            .fetch_optional(pool)
            .await?);
        if let Some(connection) = row.map(StoreConnection::try_from).transpose()? {
            return Ok(LeaseAttempt::Leased(Box::new(LeasedStore { connection, owner })));
        }
        let status: Option<String> = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT status FROM store_connections WHERE organization_id = $1 AND store_id = $2"
        )
        .bind(organization)
        .bind(store)
        .fetch_optional(pool)
        .await?);
        Ok(if status.as_deref() == Some("enabled") { LeaseAttempt::Busy } else { LeaseAttempt::Unavailable })
    }

    /// Opens a job for a leased store. Jobs left `running` by an owner that lost the store (a killed instance) are
    /// closed as `interrupted` first: holding the lease proves nobody else is running it.
    pub async fn begin_sync_job(&self, lease: &LeasedStore, trigger: JobTrigger) -> Result<Uuid, DbError> {
        let (organization, store) = (lease.connection.organization_id, lease.connection.store_id);
        let (id, now) = (Uuid::new_v4(), now_micros());
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE sync_jobs SET status = 'interrupted', finished_at = $3, \
                 error = coalesce(error, 'the instance running it stopped before finishing') \
                 WHERE organization_id = $1 AND store_id = $2 AND status = 'running'",
            )
            .bind(organization)
            .bind(store)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO sync_jobs (id, organization_id, store_id, trigger, status, owner, started_at) \
                 VALUES ($1, $2, $3, $4, 'running', $5, $6)",
            )
            .bind(id)
            .bind(organization)
            .bind(store)
            .bind(trigger.as_str())
            .bind(lease.owner)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(id)
    }

    /// Records a page: the new checkpoint and the job's counts, and renews the lease until `until`, in one
    /// transaction, only while `lease` still holds the store (and it is still enabled). `false`: the lease is lost.
    pub async fn save_checkpoint(
        &self,
        lease: &LeasedStore,
        job: Uuid,
        checkpoint: &str,
        progress: &JobProgress,
        until: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let mut tx = self.begin_sync_write(Durability::Deferred).await?;
        let held = checkpoint_in(&mut tx, lease, job, checkpoint, progress, until).await?;
        if held {
            tx.commit().await?;
        }
        Ok(held)
    }

    /// A page of products and its checkpoint in one transaction (deferred commit): the checkpoint first, fenced on
    /// the lease, then the products as [`Database::store_products`] stores them, then the job's counts with theirs
    /// added. `None`: the lease is lost and nothing was written.
    pub async fn store_products_checkpointed(
        &self,
        lease: &LeasedStore,
        job: Uuid,
        products: Vec<PlatformProduct>,
        checkpoint: &str,
        progress: &JobProgress,
        until: DateTime<Utc>,
    ) -> Result<Option<UpsertCounts>, DbError> {
        let (organization, store) = (lease.connection.organization_id, lease.connection.store_id);
        let mut tx = self.begin_sync_write(Durability::Deferred).await?;
        if !checkpoint_in(&mut tx, lease, job, checkpoint, progress, until).await? {
            return Ok(None);
        }
        let counts = store_products_in(&mut tx, organization, store, products).await?;
        let mut total = *progress;
        total.created += counts.created;
        total.updated += counts.updated;
        total.unchanged += counts.unchanged;
        on_tx!(&mut tx, |conn| update_job!(&mut **conn, organization, job, &total, None, None));
        tx.commit().await?;
        Ok(Some(counts))
    }

    /// Closes a run: the job's outcome, the store's next due time, failure count and checkpoint, and the lease
    /// released, in one transaction. A run whose lease was taken over only closes its job.
    pub async fn finish_sync(&self, lease: &LeasedStore, job: Uuid, end: &RunEnd) -> Result<(), DbError> {
        let (organization, store) = (lease.connection.organization_id, lease.connection.store_id);
        let now = now_micros();
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE store_connections SET lease_owner = NULL, lease_expires_at = NULL, checkpoint = $4, \
                 next_sync_at = $5, consecutive_failures = $6, \
                 last_completed_at = CASE WHEN $7 THEN $8 ELSE last_completed_at END, updated_at = $8, \
                 credentials_verified_at = CASE WHEN $9 THEN coalesce(credentials_verified_at, $8) \
                     ELSE credentials_verified_at END, \
                 status = CASE WHEN $10 IS NULL THEN status ELSE 'disabled' END, \
                 disabled_reason = coalesce($10, disabled_reason) \
                 WHERE organization_id = $1 AND store_id = $2 AND lease_owner = $3",
            )
            .bind(organization)
            .bind(store)
            .bind(lease.owner)
            .bind(&end.checkpoint)
            .bind(end.next_sync_at)
            .bind(end.consecutive_failures)
            .bind(end.completed)
            .bind(now)
            .bind(end.credentials_verified)
            .bind(end.disabled_reason.as_deref())
            .execute(&mut *tx)
            .await?;
            update_job!(&mut *tx, organization, job, &end.progress, Some((end.status, now)), end.error.as_deref());
            tx.commit().await?;
        });
        Ok(())
    }

    /// A store's jobs, newest first, after the `(started_at, id)` position given.
    pub async fn sync_jobs_page(
        &self,
        organization: Uuid,
        store: Uuid,
        limit: u32,
        after: Option<(DateTime<Utc>, Uuid)>,
    ) -> Result<Vec<SyncJob>, DbError> {
        let (at, id) = after.unzip();
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, trigger, status, started_at, finished_at, pages, created, updated, unchanged, failed, error \
             FROM sync_jobs WHERE organization_id = $1 AND store_id = $2 \
             AND ($3 IS NULL OR started_at < $3 OR (started_at = $3 AND id < $4)) \
             ORDER BY started_at DESC, id DESC LIMIT $5"
        )
        .bind(organization)
        .bind(store)
        .bind(at)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?))
    }

    /// Connections at a platform address, across organizations (webhook routing: a shop may be connected by more
    /// than one organization). Every row is then handled within its own organization.
    pub async fn connections_at(&self, address: &StoreAddress) -> Result<Vec<StoreConnection>, DbError> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM store_connections WHERE platform = $1 AND address = $2");
        let (platform, address) = (address.platform().as_str(), address.to_string());
        let rows: Vec<ConnectionRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(platform).bind(&address).fetch_all(pool).await?);
        rows.into_iter().map(StoreConnection::try_from).collect()
    }

    /// One connection of the organization.
    pub async fn connection(&self, organization: Uuid, store: Uuid) -> Result<Option<StoreConnection>, DbError> {
        let sql =
            format!("SELECT {CONNECTION_COLUMNS} FROM store_connections WHERE organization_id = $1 AND store_id = $2");
        let row: Option<ConnectionRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(organization).bind(store).fetch_optional(pool).await?);
        row.map(StoreConnection::try_from).transpose()
    }

    /// A store without a connection (a demo store) has no stored webhook secret; one with a connection may be found
    /// by id alone for webhook routing, which then checks the signature before anything else.
    pub async fn connection_by_store(&self, store: Uuid) -> Result<Option<StoreConnection>, DbError> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM store_connections WHERE store_id = $1");
        let row: Option<ConnectionRow> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(store).fetch_optional(pool).await?);
        row.map(StoreConnection::try_from).transpose()
    }

    /// Claims webhook delivery `key` for a store: the row is inserted if absent, in a transaction that the delivery
    /// is then applied in and that commits claim and writes together. `None`: the delivery was applied already. A
    /// concurrent copy waits on the insert until the first copy's transaction ends (PostgreSQL waits on the unique
    /// key; SQLite has one writer), then finds it claimed, or claims it itself if the first one failed and rolled
    /// back: each delivery is applied exactly once, and a failed apply leaves nothing behind for the retry.
    pub async fn claim_delivery(
        &self,
        organization: Uuid,
        store: Uuid,
        key: &str,
        topic: &str,
        webhook_id: Option<&str>,
    ) -> Result<Option<DeliveryClaim>, DbError> {
        let mut tx = self.begin_write().await?;
        let inserted = on_tx!(&mut tx, |conn| {
            sqlx::query(
            "INSERT INTO webhook_deliveries (organization_id, store_id, delivery_key, topic, webhook_id, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (store_id, delivery_key) DO NOTHING"
        )
        .bind(organization)
        .bind(store)
        .bind(key)
        .bind(topic)
        .bind(webhook_id)
        .bind(now_micros())
        .execute(&mut **conn)
        .await?
        .rows_affected()
        });
        // Dropping the transaction rolls it back.
        Ok((inserted == 1).then_some(DeliveryClaim { tx, organization, store }))
    }

    /// Forgets deliveries received before `before` (platforms stop retrying long before). Maintenance across
    /// organizations.
    pub async fn prune_deliveries(&self, before: DateTime<Utc>) -> Result<u64, DbError> {
        Ok(on_pool!(self, |pool| sqlx::query("DELETE FROM webhook_deliveries WHERE received_at < $1")
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    /// Starts a write transaction with the given durability (on PostgreSQL the setting travels with `BEGIN`, so it
    /// costs no extra round trip).
    async fn begin_sync_write(&self, durability: Durability) -> Result<WriteTx, DbError> {
        Ok(match (self, durability) {
            (Self::Postgres(pool), Durability::Deferred) => {
                WriteTx::Postgres(pool.begin_with("BEGIN; SET LOCAL synchronous_commit = off").await?)
            }
            _ => self.begin_write().await?,
        })
    }

    /// Stores products from a platform in one transaction: each is written only if its platform version is not
    /// older than the stored one (a late webhook, a page fetched before a webhook landed); the others count as
    /// unchanged.
    pub async fn store_products(
        &self,
        organization: Uuid,
        store: Uuid,
        products: Vec<PlatformProduct>,
        durability: Durability,
    ) -> Result<UpsertCounts, DbError> {
        if products.is_empty() {
            return Ok(UpsertCounts::default());
        }
        let mut tx = self.begin_sync_write(durability).await?;
        let counts = store_products_in(&mut tx, organization, store, products).await?;
        tx.commit().await?;
        Ok(counts)
    }

    /// Stores orders from a platform in one transaction: each is written only if its platform version is not older
    /// than the stored one (the others count as unchanged), its lines mapped to our products and variants.
    pub async fn store_orders(
        &self,
        organization: Uuid,
        store: Uuid,
        orders: Vec<PlatformOrder>,
        durability: Durability,
    ) -> Result<UpsertCounts, DbError> {
        if orders.is_empty() {
            return Ok(UpsertCounts::default());
        }
        let mut tx = self.begin_sync_write(durability).await?;
        let counts = store_orders_in(&mut tx, organization, store, orders).await?;
        tx.commit().await?;
        Ok(counts)
    }

    /// Our product ids for the platform's product ids in a store.
    async fn product_ids_by_external(
        tx: &mut WriteTx,
        organization: Uuid,
        store: Uuid,
        external_ids: &[String],
    ) -> Result<HashMap<String, Uuid>, DbError> {
        if external_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(String, Uuid)> = match tx {
            WriteTx::Postgres(tx) => {
                // Unique-index probes, robust to statistics that lag a large import (see `upsert_products`).
                sqlx::query_as(
                    "SELECT p.external_id, p.id FROM UNNEST($3::text[]) AS u (external_id) CROSS JOIN LATERAL ( \
                     SELECT external_id, id FROM products p WHERE p.store_id = $2 AND p.external_id = u.external_id \
                     AND p.organization_id = $1 LIMIT 1) p",
                )
                .bind(organization)
                .bind(store)
                .bind(external_ids)
                .fetch_all(&mut **tx)
                .await?
            }
            WriteTx::Sqlite(tx) => {
                sqlx::query_as(
                    "SELECT external_id, id FROM products WHERE organization_id = $1 AND store_id = $2 \
                     AND external_id IN (SELECT value FROM json_each($3))",
                )
                .bind(organization)
                .bind(store)
                .bind(sqlite_list(external_ids))
                .fetch_all(&mut **tx)
                .await?
            }
        };
        Ok(rows.into_iter().collect())
    }

    /// Our variant ids for the platform's variant ids, among the variants of the given products (found through the
    /// `(product, external id)` index).
    async fn variant_ids_by_external(
        tx: &mut WriteTx,
        organization: Uuid,
        products: &[Uuid],
        external_ids: &[String],
    ) -> Result<HashMap<String, Uuid>, DbError> {
        if products.is_empty() || external_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(String, Uuid)> = match tx {
            WriteTx::Postgres(tx) => {
                sqlx::query_as(
                    "SELECT v.external_id, v.id FROM UNNEST($2::uuid[]) AS u (product_id) CROSS JOIN LATERAL ( \
                     SELECT external_id, id FROM variants v WHERE v.product_id = u.product_id \
                     AND v.external_id = ANY($3) AND v.organization_id = $1 OFFSET 0) v",
                )
                .bind(organization)
                .bind(products)
                .bind(external_ids)
                .fetch_all(&mut **tx)
                .await?
            }
            WriteTx::Sqlite(tx) => {
                let mut rows = Vec::new();
                for chunk in products.chunks(500) {
                    let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                        "SELECT external_id, id FROM variants WHERE organization_id = ",
                    );
                    qb.push_bind(organization).push(" AND external_id IN (SELECT value FROM json_each(");
                    qb.push_bind(sqlite_list(external_ids)).push(")) AND product_id IN (");
                    let mut separated = qb.separated(", ");
                    for product in chunk {
                        separated.push_bind(*product);
                    }
                    qb.push(")");
                    rows.extend(qb.build_query_as::<(String, Uuid)>().fetch_all(&mut **tx).await?);
                }
                rows
            }
        };
        Ok(rows.into_iter().collect())
    }

    /// The oldest queued refreshes of a store, as `(kind, external id)`.
    pub async fn queued_refreshes(
        &self,
        organization: Uuid,
        store: Uuid,
        limit: u32,
    ) -> Result<Vec<(String, String)>, DbError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT kind, external_id FROM sync_refresh_queue WHERE organization_id = $1 AND store_id = $2 \
             ORDER BY queued_at, kind, external_id LIMIT $3"
        )
        .bind(organization)
        .bind(store)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?))
    }

    /// Removes refreshes that were done.
    pub async fn dequeue_refreshes(
        &self,
        organization: Uuid,
        store: Uuid,
        done: &[(String, String)],
    ) -> Result<(), DbError> {
        for (kind, external_id) in done {
            on_pool!(self, |pool| sqlx::query(
                "DELETE FROM sync_refresh_queue \
                 WHERE organization_id = $1 AND store_id = $2 AND kind = $3 AND external_id = $4"
            )
            .bind(organization)
            .bind(store)
            .bind(kind)
            .bind(external_id)
            .execute(pool)
            .await
            .map(drop)?);
        }
        Ok(())
    }
}

/// A webhook delivery claimed for one store ([`Database::claim_delivery`]): its writes go through the claim's
/// transaction, and [`DeliveryClaim::commit`] makes claim and writes durable together. Dropped uncommitted, it
/// leaves nothing behind.
pub struct DeliveryClaim {
    pub(super) tx: WriteTx,
    pub(super) organization: Uuid,
    pub(super) store: Uuid,
}

impl std::fmt::Debug for DeliveryClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryClaim").field("organization", &self.organization).field("store", &self.store).finish()
    }
}

impl DeliveryClaim {
    /// Stores products as [`Database::store_products`] does.
    pub async fn store_products(&mut self, products: Vec<PlatformProduct>) -> Result<UpsertCounts, DbError> {
        store_products_in(&mut self.tx, self.organization, self.store, products).await
    }

    /// Stores orders as [`Database::store_orders`] does.
    pub async fn store_orders(&mut self, orders: Vec<PlatformOrder>) -> Result<UpsertCounts, DbError> {
        store_orders_in(&mut self.tx, self.organization, self.store, orders).await
    }

    /// Deletes products (and their variants) by the platform's ids; returns how many went.
    pub async fn delete_products(&mut self, external_ids: &[String]) -> Result<u64, DbError> {
        let mut deleted = 0;
        for external_id in external_ids {
            deleted += on_tx!(&mut self.tx, |conn| sqlx::query(
                "DELETE FROM products WHERE organization_id = $1 AND store_id = $2 AND external_id = $3"
            )
            .bind(self.organization)
            .bind(self.store)
            .bind(external_id)
            .execute(&mut **conn)
            .await?
            .rows_affected());
        }
        Ok(deleted)
    }

    /// Deletes orders as [`Database::delete_orders`] does.
    pub async fn delete_orders(&mut self, external_ids: &[String]) -> Result<u64, DbError> {
        Database::delete_orders_in(&mut self.tx, self.organization, self.store, external_ids).await
    }

    /// Queues a record for the store's next sync to refetch, and makes the store due now.
    pub async fn queue_refresh(&mut self, kind: &str, external_id: &str) -> Result<(), DbError> {
        let now = now_micros();
        on_tx!(&mut self.tx, |conn| {
            sqlx::query(
                "INSERT INTO sync_refresh_queue (organization_id, store_id, kind, external_id, queued_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (store_id, kind, external_id) DO NOTHING",
            )
            .bind(self.organization)
            .bind(self.store)
            .bind(kind)
            .bind(external_id)
            .bind(now)
            .execute(&mut **conn)
            .await?;
            sqlx::query(
                "UPDATE store_connections SET next_sync_at = $3 \
                 WHERE organization_id = $1 AND store_id = $2 AND next_sync_at > $3",
            )
            .bind(self.organization)
            .bind(self.store)
            .bind(now)
            .execute(&mut **conn)
            .await?;
        });
        Ok(())
    }

    /// Disconnects the store as [`Database::disconnect_store`] does; returns its credential reference.
    pub async fn disconnect(&mut self, reason: &str) -> Result<Option<String>, DbError> {
        Ok(on_tx!(&mut self.tx, |conn| sqlx::query_scalar(DISCONNECT)
            .bind(self.organization)
            .bind(self.store)
            .bind(reason)
            .bind(now_micros())
            .fetch_optional(&mut **conn)
            .await?))
    }

    /// Makes the claim and every write through it durable.
    pub async fn commit(self) -> Result<(), DbError> {
        self.tx.commit().await
    }
}

/// Records the platform versions of records about to be written and returns the ids whose version is at least the
/// stored one: only those may be written (an older version never overwrites a newer one).
async fn claim_versions_in(
    tx: &mut WriteTx,
    organization: Uuid,
    store: Uuid,
    kind: &str,
    versions: &[(String, DateTime<Utc>)],
) -> Result<HashSet<String>, DbError> {
    let mut newest: HashMap<&str, DateTime<Utc>> = HashMap::with_capacity(versions.len());
    for (id, at) in versions {
        let entry = newest.entry(id.as_str()).or_insert(*at);
        *entry = (*entry).max(*at);
    }
    if newest.is_empty() {
        return Ok(HashSet::new());
    }
    let (ids, ats): (Vec<String>, Vec<DateTime<Utc>>) = newest.into_iter().map(|(id, at)| (id.to_owned(), at)).unzip();
    let claimed: Vec<String> = match tx {
        WriteTx::Postgres(tx) => {
            sqlx::query_scalar(
                "INSERT INTO source_versions (organization_id, store_id, kind, external_id, updated_at) \
                 SELECT $1, $2, $3, u.external_id, u.updated_at \
                 FROM UNNEST($4::text[], $5::timestamptz[]) AS u (external_id, updated_at) \
                 ON CONFLICT (store_id, kind, external_id) DO UPDATE SET updated_at = excluded.updated_at \
                 WHERE source_versions.updated_at <= excluded.updated_at \
                 AND source_versions.organization_id = excluded.organization_id \
                 RETURNING external_id",
            )
            .bind(organization)
            .bind(store)
            .bind(kind)
            .bind(&ids)
            .bind(&ats)
            .fetch_all(&mut **tx)
            .await?
        }
        WriteTx::Sqlite(tx) => {
            let mut claimed = Vec::with_capacity(ids.len());
            for (chunk_ids, chunk_ats) in ids.chunks(400).zip(ats.chunks(400)) {
                let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                    "INSERT INTO source_versions (organization_id, store_id, kind, external_id, updated_at) ",
                );
                qb.push_values(chunk_ids.iter().zip(chunk_ats), |mut row, (id, at)| {
                    row.push_bind(organization).push_bind(store).push_bind(kind).push_bind(id).push_bind(*at);
                });
                qb.push(
                    " ON CONFLICT (store_id, kind, external_id) DO UPDATE SET updated_at = excluded.updated_at \
                     WHERE source_versions.updated_at <= excluded.updated_at \
                     AND source_versions.organization_id = excluded.organization_id RETURNING external_id",
                );
                claimed.extend(qb.build_query_scalar::<String>().fetch_all(&mut **tx).await?);
            }
            claimed
        }
    };
    Ok(claimed.into_iter().collect())
}

/// [`Database::store_products`] within a transaction.
async fn store_products_in(
    tx: &mut WriteTx,
    organization: Uuid,
    store: Uuid,
    products: Vec<PlatformProduct>,
) -> Result<UpsertCounts, DbError> {
    let versions: Vec<(String, DateTime<Utc>)> =
        products.iter().map(|p| (p.input.external_id.clone(), p.updated_at)).collect();
    let newest = claim_versions_in(tx, organization, store, "product", &versions).await?;
    let inputs: Vec<ProductInput> =
        products.into_iter().filter(|p| newest.contains(&p.input.external_id)).map(|p| p.input).collect();
    let batch = last_of_each(&inputs);
    let (mut counts, _) = upsert_products_in(tx, organization, store, &batch).await?;
    counts.unchanged += (versions.len() - batch.len()) as u64;
    Ok(counts)
}

/// [`Database::store_orders`] within a transaction.
async fn store_orders_in(
    tx: &mut WriteTx,
    organization: Uuid,
    store: Uuid,
    orders: Vec<PlatformOrder>,
) -> Result<UpsertCounts, DbError> {
    let versions: Vec<(String, DateTime<Utc>)> = orders.iter().map(|o| (o.external_id.clone(), o.updated_at)).collect();
    let newest = claim_versions_in(tx, organization, store, "order", &versions).await?;
    let total = orders.len() as u64;
    let orders: Vec<PlatformOrder> = orders.into_iter().filter(|o| newest.contains(&o.external_id)).collect();
    let product_ids: Vec<String> = orders
        .iter()
        .flat_map(|o| o.lines.iter().filter_map(|l| l.product_external_id.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let variant_ids: Vec<String> = orders
        .iter()
        .flat_map(|o| o.lines.iter().filter_map(|l| l.variant_external_id.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let products = Database::product_ids_by_external(tx, organization, store, &product_ids).await?;
    let our_products: Vec<Uuid> = products.values().copied().collect();
    let variants = Database::variant_ids_by_external(tx, organization, &our_products, &variant_ids).await?;
    let inputs: Vec<OrderInput> = orders
        .into_iter()
        .map(|order| OrderInput {
            external_id: order.external_id,
            placed_at: order.placed_at,
            status: order.status,
            total_minor: order.total_minor,
            lines: order
                .lines
                .iter()
                .map(|line| OrderLineInput {
                    product_id: line.product_external_id.as_ref().and_then(|id| products.get(id).copied()),
                    variant_id: line.variant_external_id.as_ref().and_then(|id| variants.get(id).copied()),
                    quantity: line.quantity,
                    total_minor: line.total_minor,
                })
                .collect(),
        })
        .collect();
    let skipped = total - inputs.len() as u64;
    let mut counts = Database::upsert_orders_in(tx, organization, store, &inputs).await?;
    counts.unchanged += skipped;
    Ok(counts)
}

/// Writes a checkpoint and the job's counts, renewing the lease, only while `lease` holds the store (and it is
/// still enabled); `false` when the lease is lost.
async fn checkpoint_in(
    tx: &mut WriteTx,
    lease: &LeasedStore,
    job: Uuid,
    checkpoint: &str,
    progress: &JobProgress,
    until: DateTime<Utc>,
) -> Result<bool, DbError> {
    let (organization, store) = (lease.connection.organization_id, lease.connection.store_id);
    let now = now_micros();
    Ok(on_tx!(tx, |conn| {
        let held = sqlx::query(
            "UPDATE store_connections SET checkpoint = $4, lease_expires_at = $5, updated_at = $6 \
             WHERE organization_id = $1 AND store_id = $2 AND lease_owner = $3 AND status = 'enabled'",
        )
        .bind(organization)
        .bind(store)
        .bind(lease.owner)
        .bind(checkpoint)
        .bind(until)
        .bind(now)
        .execute(&mut **conn)
        .await?
        .rows_affected()
            == 1;
        if held {
            update_job!(&mut **conn, organization, job, progress, None, None);
        }
        held
    }))
}
