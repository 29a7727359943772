//! Webhook deliveries: claiming a delivery once, applying it in the claim's transaction, and the refresh queue.

use super::*;

impl Database {
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
}

impl Database {
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
    pub(in crate::db) tx: WriteTx,
    pub(in crate::db) organization: Uuid,
    pub(in crate::db) store: Uuid,
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
