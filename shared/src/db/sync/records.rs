//! Platform records written with their versions, so an older version never overwrites a newer one.

use super::*;

/// A list of ids bound as one parameter: a PostgreSQL array, or JSON that SQLite's `json_each` reads.
pub(super) fn sqlite_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

impl Database {
    /// Starts a write transaction with the given durability (on PostgreSQL the setting travels with `BEGIN`, so it
    /// costs no extra round trip).
    pub(super) async fn begin_sync_write(&self, durability: Durability) -> Result<WriteTx, DbError> {
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
    pub(super) async fn product_ids_by_external(
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
    pub(super) async fn variant_ids_by_external(
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
}

/// Records the platform versions of records about to be written and returns the ids whose version is at least the
/// stored one: only those may be written (an older version never overwrites a newer one).
pub(super) async fn claim_versions_in(
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
pub(super) async fn store_products_in(
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
pub(super) async fn store_orders_in(
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
                    refunded_quantity: line.refunded_quantity,
                    refunded_minor: line.refunded_minor,
                })
                .collect(),
            customer: order.customer_external_id,
        })
        .collect();
    let skipped = total - inputs.len() as u64;
    let mut counts = Database::upsert_orders_in(tx, organization, store, &inputs).await?;
    counts.unchanged += skipped;
    Ok(counts)
}
