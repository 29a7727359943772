//! Sync jobs and leases: leasing a due store, fenced checkpoints that renew the lease, and the job history.

use super::*;

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

/// The outcome of trying to lease one store.
#[derive(Debug)]
pub enum LeaseAttempt {
    /// Ours until the expiry (boxed: a connection is large beside the other answers).
    Leased(Box<LeasedStore>),
    /// Another instance holds it.
    Busy,
    /// Disconnected (or not this organization's).
    Unavailable,
    /// Not due ([`LeaseWhen::Due`] only): synced since the message was sent.
    NotDue,
}

/// When [`Database::lease_store`] takes a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseWhen {
    /// Whenever it is free ("sync now").
    Now,
    /// Only while it is due (a queued message).
    Due,
}

/// A store the timer claimed for the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedStore {
    /// Its organization.
    pub organization: Uuid,
    /// The store.
    pub store: Uuid,
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
    /// A continuation is queued: the store stays claimed until then, so no tick enqueues it beside that message.
    pub queued_until: Option<DateTime<Utc>>,
}

impl Database {
    /// Claims the enabled stores that are due at `now`, neither leased nor already claimed, longest due first (at
    /// most `limit`), until `until`: the timer enqueues one message for each. On PostgreSQL concurrent ticks skip
    /// each other's candidate rows, so no store is claimed twice.
    pub async fn claim_due_stores(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<QueuedStore>, DbError> {
        let candidates = "SELECT store_id FROM store_connections WHERE status = 'enabled' AND next_sync_at <= $1 \
             AND (lease_expires_at IS NULL OR lease_expires_at <= $1) AND (queued_until IS NULL OR queued_until <= $1) \
             ORDER BY next_sync_at, store_id LIMIT $3";
        let locking = if matches!(self, Self::Postgres(_)) { " FOR UPDATE SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE store_connections SET queued_until = $2 WHERE store_id IN ({candidates}{locking}) \
             RETURNING organization_id, store_id"
        );
        let claimed: Vec<(Uuid, Uuid)> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(now)
            .bind(until)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
        Ok(claimed.into_iter().map(|(organization, store)| QueuedStore { organization, store }).collect())
    }

    /// Leases one store of the organization unless someone holds it: for "sync now" whenever it is asked
    /// ([`LeaseWhen::Now`]), for a queued message only while the store is still due ([`LeaseWhen::Due`]), since
    /// a message delivered twice, or after a manual sync, has nothing left to do. Taking the lease ends the
    /// store's queue claim.
    pub async fn lease_store(
        &self,
        organization: Uuid,
        store: Uuid,
        owner: Uuid,
        when: LeaseWhen,
        until: DateTime<Utc>,
    ) -> Result<LeaseAttempt, DbError> {
        let now = now_micros();
        let sql = format!(
            "UPDATE store_connections SET lease_owner = $3, lease_expires_at = $4, queued_until = NULL \
             WHERE organization_id = $1 AND store_id = $2 AND status = 'enabled' \
             AND (lease_expires_at IS NULL OR lease_expires_at <= $5) AND (NOT $6 OR next_sync_at <= $5) \
             RETURNING {CONNECTION_COLUMNS}"
        );
        let row: Option<ConnectionRow> = on_pool!(self, |pool| sqlx::query_as(&sql)
            .bind(organization)
            .bind(store)
            .bind(owner)
            .bind(until)
            .bind(now)
            .bind(when == LeaseWhen::Due)
            .fetch_optional(pool)
            .await?);
        if let Some(connection) = row.map(StoreConnection::try_from).transpose()? {
            return Ok(LeaseAttempt::Leased(Box::new(LeasedStore { connection, owner })));
        }
        let found: Option<(String, DateTime<Utc>, Option<DateTime<Utc>>)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT status, next_sync_at, lease_expires_at FROM store_connections \
             WHERE organization_id = $1 AND store_id = $2"
        )
        .bind(organization)
        .bind(store)
        .fetch_optional(pool)
        .await?);
        let Some((status, next_sync_at, lease_expires_at)) = found else {
            return Ok(LeaseAttempt::Unavailable);
        };
        Ok(match ConnectionStatus::parse(&status).map_err(DbError::corrupt)? {
            ConnectionStatus::Disabled => LeaseAttempt::Unavailable,
            ConnectionStatus::Enabled if lease_expires_at.is_some_and(|expiry| expiry > now) => LeaseAttempt::Busy,
            ConnectionStatus::Enabled if when == LeaseWhen::Due && next_sync_at > now => LeaseAttempt::NotDue,
            // Leased or due again in the moment between the two statements.
            ConnectionStatus::Enabled => LeaseAttempt::Busy,
        })
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
                 disabled_reason = coalesce($10, disabled_reason), queued_until = $11 \
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
            .bind(end.queued_until)
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
}

/// Writes a checkpoint and the job's counts, renewing the lease, only while `lease` holds the store (and it is
/// still enabled); `false` when the lease is lost.
pub(super) async fn checkpoint_in(
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
