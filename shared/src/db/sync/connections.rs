//! Store connections: creating, reconnecting, verifying and disconnecting them, and finding them by store or by
//! platform address.

use super::*;

pub(super) const CONNECTION_COLUMNS: &str = "store_id, organization_id, platform, address, credential_ref, status, checkpoint, \
     consecutive_failures, credentials_verified_at";

/// A `store_connections` row as read, before its values are parsed into a [`StoreConnection`].
#[derive(sqlx::FromRow)]
pub(super) struct ConnectionRow {
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

impl TryFrom<ConnectionRow> for StoreConnection {
    type Error = DbError;

    fn try_from(row: ConnectionRow) -> Result<Self, DbError> {
        Ok(Self {
            store_id: row.store_id,
            organization_id: row.organization_id,
            address: StoreAddress::parse(&row.platform, &row.address).map_err(DbError::corrupt)?,
            credential_ref: SecretName::parse(&row.credential_ref).map_err(DbError::corrupt)?,
            status: ConnectionStatus::parse(&row.status).map_err(DbError::corrupt)?,
            checkpoint: row.checkpoint,
            consecutive_failures: row.consecutive_failures,
            credentials_verified_at: row.credentials_verified_at,
        })
    }
}

/// Disables a connection (`$1` organization, `$2` store, `$3` reason, `$4` now) and returns its credential reference.
pub(super) const DISCONNECT: &str = "UPDATE store_connections SET status = 'disabled', disabled_reason = $3, updated_at = $4 \
     WHERE organization_id = $1 AND store_id = $2 RETURNING credential_ref";

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
pub(super) fn verified_at(credentials: CredentialsState, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
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
        found
            .map(|(store, status)| Ok((store, ConnectionStatus::parse(&status).map_err(DbError::corrupt)?)))
            .transpose()
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

    pub(super) async fn store_records_where(
        &self,
        organization: Uuid,
        store: Option<Uuid>,
    ) -> Result<Vec<StoreRecord>, DbError> {
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
        code.map(|code| CurrencyCode::parse(&code).map_err(DbError::corrupt)).transpose()
    }
}

impl Database {
    /// Every enabled store with when it last completed a sync (or was connected, if never): what the `sync.lag`
    /// metric reports. A cross-tenant read for the operator; nothing of it reaches a tenant.
    pub async fn sync_freshness(&self) -> Result<Vec<(Uuid, DateTime<Utc>)>, DbError> {
        const SQL: &str = "SELECT store_id, COALESCE(last_completed_at, created_at) FROM store_connections \
             WHERE status = 'enabled' ORDER BY store_id";
        Ok(on_pool!(self, |pool| sqlx::query_as(SQL).fetch_all(pool).await?))
    }

    /// Stores waiting in the sync queue at `now`: claimed by a tick and not yet leased by their message's run (the
    /// `sync.queue.depth` metric; the storage queue itself also holds continuations and duplicates).
    pub async fn queued_store_count(&self, now: DateTime<Utc>) -> Result<u64, DbError> {
        const SQL: &str = "SELECT count(*) FROM store_connections WHERE status = 'enabled' AND queued_until > $1";
        let count: i64 = on_pool!(self, |pool| sqlx::query_scalar(SQL).bind(now).fetch_one(pool).await?);
        Ok(u64::try_from(count).unwrap_or_default())
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
}
