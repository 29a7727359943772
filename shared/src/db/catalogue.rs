//! Storage of stores, products and variants, and the product list query (full-text search with PostgreSQL
//! `tsvector` or SQLite FTS5, filters, keyset pagination).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{
    Database, DbError,
    costs::CostChange,
    now_micros, on_pool,
    orders::record_cost_changes,
    tx::{WriteTx, on_tx},
};
use crate::catalogue::{
    CursorKey, ProductCursor, ProductDetail, ProductInput, ProductPage, ProductPatch, ProductQuery, ProductSort,
    ProductSummary, UpsertCounts, Variant, VariantInput,
};

const SUMMARY_COLUMNS: &str = "p.id, p.store_id, p.external_id, p.title, p.vendor, p.category, p.status, p.price_minor, p.inventory, p.updated_at";

/// Sorts unpriced products after every priced one.
const UNPRICED: i64 = i64::MAX;

#[derive(sqlx::FromRow)]
struct StoredProduct {
    id: Uuid,
    external_id: String,
    title: String,
    description: String,
    vendor: String,
    category: String,
    status: String,
}

#[derive(sqlx::FromRow)]
struct StoredVariant {
    id: Uuid,
    product_id: Uuid,
    external_id: String,
    sku: String,
    title: String,
    price_minor: i64,
    cost_minor: Option<i64>,
    inventory: i64,
}

impl Database {
    /// Creates a store for an organization; returns its id.
    pub async fn create_store(&self, organization: Uuid, platform: &str, name: &str) -> Result<Uuid, DbError> {
        let id = Uuid::new_v4();
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO stores (id, organization_id, platform, name, created_at) VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(id)
        .bind(organization)
        .bind(platform)
        .bind(name)
        .bind(now_micros())
        .execute(pool)
        .await
        .map(drop)?);
        Ok(id)
    }

    /// Inserts or updates products with their variants, idempotently on `(store, external id)`, in one transaction.
    /// Variants a product no longer has are removed. A variant's platform cost that is new or changed is recorded
    /// in its cost history (see [`crate::costs`]). Returns the counts and every product's id by external id.
    ///
    /// Set-based: the batch costs a fixed number of statements whatever its size (two reads, then one insert, update
    /// and delete per table: `UNNEST` arrays on PostgreSQL, multi-row `VALUES` on SQLite), which is what lets a sync
    /// store tens of thousands of products a second. A product listed twice in one batch counts once, last wins.
    #[tracing::instrument(name = "upserting products", skip_all, fields(tenant = %organization, %store, products = products.len()))]
    pub async fn upsert_products(
        &self,
        organization: Uuid,
        store: Uuid,
        products: &[ProductInput],
    ) -> Result<(UpsertCounts, HashMap<String, Uuid>), DbError> {
        let batch = last_of_each(products);
        if batch.is_empty() {
            return Ok((UpsertCounts::default(), HashMap::new()));
        }
        let mut tx = self.begin_write().await?;
        let result = upsert_products_in(&mut tx, organization, store, &batch).await?;
        tx.commit().await?;
        Ok(result)
    }
}

/// Each product once, the last of its occurrences, in order of first appearance.
pub(super) fn last_of_each(products: &[ProductInput]) -> Vec<&ProductInput> {
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(products.len());
    for (index, product) in products.iter().enumerate() {
        last.insert(product.external_id.as_str(), index);
    }
    products.iter().enumerate().filter(|(i, p)| last[p.external_id.as_str()] == *i).map(|(_, p)| p).collect()
}

/// [`Database::upsert_products`] within a transaction the caller commits (the sync stores a page's versions, products
/// and nothing else in one). `batch` holds each external id once.
pub(super) async fn upsert_products_in(
    tx: &mut WriteTx,
    organization: Uuid,
    store: Uuid,
    batch: &[&ProductInput],
) -> Result<(UpsertCounts, HashMap<String, Uuid>), DbError> {
    if batch.is_empty() {
        return Ok((UpsertCounts::default(), HashMap::new()));
    }
    let external_ids: Vec<String> = batch.iter().map(|p| p.external_id.clone()).collect();
    let now = now_micros();
    let plan = match tx {
        WriteTx::Postgres(tx) => {
            // One unique-index probe per id (`LIMIT 1` keeps the planner from flattening it): the plan stays right
            // while statistics lag behind a large first import, when `= ANY` falls back to scanning the store.
            let stored: Vec<StoredProduct> = sqlx::query_as(
                "SELECT p.id, p.external_id, p.title, p.description, p.vendor, p.category, p.status \
                 FROM UNNEST($3::text[]) AS u (external_id) CROSS JOIN LATERAL ( \
                 SELECT * FROM products p WHERE p.store_id = $2 AND p.external_id = u.external_id \
                 AND p.organization_id = $1 LIMIT 1) p",
            )
            .bind(organization)
            .bind(store)
            .bind(&external_ids)
            .fetch_all(&mut **tx)
            .await?;
            // A batch of new products (a first import) has no variants to compare with.
            let stored_variants: Vec<StoredVariant> = if stored.is_empty() {
                Vec::new()
            } else {
                sqlx::query_as(
                    "SELECT v.id, v.product_id, v.external_id, v.sku, v.title, v.price_minor, v.cost_minor, \
                     v.inventory FROM UNNEST($3::text[]) AS u (external_id) CROSS JOIN LATERAL ( \
                     SELECT id FROM products p WHERE p.store_id = $2 AND p.external_id = u.external_id \
                     AND p.organization_id = $1 LIMIT 1) p JOIN variants v ON v.product_id = p.id",
                )
                .bind(organization)
                .bind(store)
                .bind(&external_ids)
                .fetch_all(&mut **tx)
                .await?
            };
            let plan = UpsertPlan::new(batch, stored, stored_variants);
            plan.write_postgres(tx, organization, store, now).await?;
            plan
        }
        WriteTx::Sqlite(tx) => {
            let list = serde_json::to_string(&external_ids).unwrap_or_else(|_| "[]".into());
            let stored: Vec<StoredProduct> = sqlx::query_as(
                "SELECT id, external_id, title, description, vendor, category, status FROM products \
                 WHERE organization_id = $1 AND store_id = $2 AND external_id IN (SELECT value FROM json_each($3))",
            )
            .bind(organization)
            .bind(store)
            .bind(&list)
            .fetch_all(&mut **tx)
            .await?;
            let stored_variants: Vec<StoredVariant> = if stored.is_empty() {
                Vec::new()
            } else {
                sqlx::query_as(
                    "SELECT v.id, v.product_id, v.external_id, v.sku, v.title, v.price_minor, v.cost_minor, \
                     v.inventory FROM variants v JOIN products p ON p.id = v.product_id \
                     WHERE p.organization_id = $1 AND p.store_id = $2 \
                     AND p.external_id IN (SELECT value FROM json_each($3))",
                )
                .bind(organization)
                .bind(store)
                .bind(&list)
                .fetch_all(&mut **tx)
                .await?
            };
            let plan = UpsertPlan::new(batch, stored, stored_variants);
            plan.write_sqlite(tx, organization, store, now).await?;
            plan
        }
    };
    record_cost_changes(tx, organization, &plan.cost_changes, now).await?;
    Ok((plan.counts, plan.ids))
}

/// The platform cost a variant has after an update: the one reported, or the stored one when none is. A platform
/// never clears a cost: a webhook's REST body carries none, and a cost that goes missing is not therefore zero.
fn reported_cost(stored: Option<i64>, variant: &VariantInput) -> Option<i64> {
    variant.cost_minor.or(stored)
}

/// A product row to insert or update, with the aggregates of its variants.
struct ProductRow<'a> {
    id: Uuid,
    input: &'a ProductInput,
    price_minor: Option<i64>,
    inventory: i64,
}

/// What an upsert batch must write, worked out from what is stored.
struct UpsertPlan<'a> {
    new_products: Vec<ProductRow<'a>>,
    changed_products: Vec<ProductRow<'a>>,
    /// (variant id, product id, variant)
    new_variants: Vec<(Uuid, Uuid, &'a VariantInput)>,
    changed_variants: Vec<(Uuid, &'a VariantInput)>,
    gone_variants: Vec<Uuid>,
    /// Platform costs new or changed: each is an entry of its product's cost history.
    cost_changes: Vec<CostChange>,
    counts: UpsertCounts,
    ids: HashMap<String, Uuid>,
}

/// Rows per multi-row statement on SQLite: 13 columns × 500 stays far below its 32,766 bound parameters.
const SQLITE_ROWS_PER_STATEMENT: usize = 500;

impl<'a> UpsertPlan<'a> {
    fn new(batch: &[&'a ProductInput], stored: Vec<StoredProduct>, stored_variants: Vec<StoredVariant>) -> Self {
        let mut stored: HashMap<String, StoredProduct> =
            stored.into_iter().map(|p| (p.external_id.clone(), p)).collect();
        let mut variants_of: HashMap<Uuid, HashMap<String, StoredVariant>> = HashMap::new();
        for variant in stored_variants {
            variants_of.entry(variant.product_id).or_default().insert(variant.external_id.clone(), variant);
        }
        let mut plan = Self {
            new_products: Vec::new(),
            changed_products: Vec::new(),
            new_variants: Vec::new(),
            changed_variants: Vec::new(),
            gone_variants: Vec::new(),
            cost_changes: Vec::new(),
            counts: UpsertCounts::default(),
            ids: HashMap::with_capacity(batch.len()),
        };
        for &product in batch {
            // A variant listed twice counts once, last wins.
            let mut variants: Vec<&VariantInput> = Vec::with_capacity(product.variants.len());
            let mut position: HashMap<&str, usize> = HashMap::with_capacity(product.variants.len());
            for variant in &product.variants {
                match position.get(variant.external_id.as_str()) {
                    Some(&at) => variants[at] = variant,
                    None => {
                        position.insert(variant.external_id.as_str(), variants.len());
                        variants.push(variant);
                    }
                }
            }
            let price_minor = variants.iter().map(|v| v.price_minor).min();
            let inventory = variants.iter().map(|v| v.inventory).sum();
            match stored.remove(&product.external_id) {
                None => {
                    let id = Uuid::new_v4();
                    for variant in &variants {
                        plan.add_variant(id, variant);
                    }
                    plan.new_products.push(ProductRow { id, input: product, price_minor, inventory });
                    plan.ids.insert(product.external_id.clone(), id);
                    plan.counts.created += 1;
                }
                Some(row) => {
                    let mut changed = row.title != product.title
                        || row.description != product.description
                        || row.vendor != product.vendor
                        || row.category != product.category
                        || row.status != product.status.as_str();
                    let mut old = variants_of.remove(&row.id).unwrap_or_default();
                    for variant in &variants {
                        match old.remove(variant.external_id.as_str()) {
                            Some(stored)
                                if stored.sku == variant.sku
                                    && stored.title == variant.title
                                    && stored.price_minor == variant.price_minor
                                    && reported_cost(stored.cost_minor, variant) == stored.cost_minor
                                    && stored.inventory == variant.inventory => {}
                            Some(stored) => {
                                let cost_minor = reported_cost(stored.cost_minor, variant);
                                if cost_minor != stored.cost_minor {
                                    plan.cost_changes.push(CostChange {
                                        product: row.id,
                                        variant: Some(stored.id),
                                        cost_minor,
                                    });
                                }
                                plan.changed_variants.push((stored.id, *variant));
                                changed = true;
                            }
                            None => {
                                plan.add_variant(row.id, variant);
                                changed = true;
                            }
                        }
                    }
                    if !old.is_empty() {
                        plan.gone_variants.extend(old.values().map(|v| v.id));
                        changed = true;
                    }
                    if changed {
                        plan.changed_products.push(ProductRow { id: row.id, input: product, price_minor, inventory });
                        plan.counts.updated += 1;
                    } else {
                        plan.counts.unchanged += 1;
                    }
                    plan.ids.insert(product.external_id.clone(), row.id);
                }
            }
        }
        plan
    }

    /// A variant to insert, its platform cost (if it has one) the first entry of its history.
    fn add_variant(&mut self, product: Uuid, variant: &'a VariantInput) {
        let id = Uuid::new_v4();
        if variant.cost_minor.is_some() {
            self.cost_changes.push(CostChange { product, variant: Some(id), cost_minor: variant.cost_minor });
        }
        self.new_variants.push((id, product, variant));
    }

    async fn write_postgres(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        organization: Uuid,
        store: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        fn columns(rows: &[ProductRow<'_>]) -> ProductColumns {
            ProductColumns {
                ids: rows.iter().map(|r| r.id).collect(),
                external_ids: rows.iter().map(|r| r.input.external_id.clone()).collect(),
                titles: rows.iter().map(|r| r.input.title.clone()).collect(),
                descriptions: rows.iter().map(|r| r.input.description.clone()).collect(),
                vendors: rows.iter().map(|r| r.input.vendor.clone()).collect(),
                categories: rows.iter().map(|r| r.input.category.clone()).collect(),
                statuses: rows.iter().map(|r| r.input.status.as_str().to_owned()).collect(),
                prices: rows.iter().map(|r| r.price_minor).collect(),
                inventories: rows.iter().map(|r| r.inventory).collect(),
            }
        }
        if !self.gone_variants.is_empty() {
            sqlx::query("DELETE FROM variants WHERE organization_id = $1 AND id = ANY($2)")
                .bind(organization)
                .bind(&self.gone_variants)
                .execute(&mut **tx)
                .await?;
        }
        if !self.new_products.is_empty() {
            let c = columns(&self.new_products);
            sqlx::query(
                "INSERT INTO products (id, organization_id, store_id, external_id, title, description, vendor, \
                 category, status, price_minor, inventory, created_at, updated_at) \
                 SELECT u.id, $1, $2, u.external_id, u.title, u.description, u.vendor, u.category, u.status, \
                 u.price_minor, u.inventory, $3, $3 \
                 FROM UNNEST($4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], \
                 $11::int8[], $12::int8[]) \
                 AS u (id, external_id, title, description, vendor, category, status, price_minor, inventory)",
            )
            .bind(organization)
            .bind(store)
            .bind(now)
            .bind(&c.ids)
            .bind(&c.external_ids)
            .bind(&c.titles)
            .bind(&c.descriptions)
            .bind(&c.vendors)
            .bind(&c.categories)
            .bind(&c.statuses)
            .bind(&c.prices)
            .bind(&c.inventories)
            .execute(&mut **tx)
            .await?;
        }
        if !self.changed_products.is_empty() {
            let c = columns(&self.changed_products);
            sqlx::query(
                "UPDATE products p SET title = u.title, description = u.description, vendor = u.vendor, \
                 category = u.category, status = u.status, price_minor = u.price_minor, inventory = u.inventory, \
                 updated_at = $2 \
                 FROM UNNEST($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
                 $9::int8[], $10::int8[]) AS u (id, title, description, vendor, category, status, price_minor, inventory) \
                 WHERE p.id = u.id AND p.organization_id = $1",
            )
            .bind(organization)
            .bind(now)
            .bind(&c.ids)
            .bind(&c.titles)
            .bind(&c.descriptions)
            .bind(&c.vendors)
            .bind(&c.categories)
            .bind(&c.statuses)
            .bind(&c.prices)
            .bind(&c.inventories)
            .execute(&mut **tx)
            .await?;
        }
        if !self.new_variants.is_empty() {
            let rows = &self.new_variants;
            sqlx::query(
                "INSERT INTO variants (id, organization_id, product_id, external_id, sku, title, price_minor, \
                 cost_minor, inventory, updated_at) \
                 SELECT u.id, $1, u.product_id, u.external_id, u.sku, u.title, u.price_minor, u.cost_minor, \
                 u.inventory, $2 \
                 FROM UNNEST($3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[], $8::int8[], $9::int8[], \
                 $10::int8[]) AS u (id, product_id, external_id, sku, title, price_minor, cost_minor, inventory)",
            )
            .bind(organization)
            .bind(now)
            .bind(rows.iter().map(|(id, _, _)| *id).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, product, _)| *product).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, _, v)| v.external_id.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, _, v)| v.sku.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, _, v)| v.title.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, _, v)| v.price_minor).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, _, v)| v.cost_minor).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, _, v)| v.inventory).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        if !self.changed_variants.is_empty() {
            let rows = &self.changed_variants;
            sqlx::query(
                "UPDATE variants v SET sku = u.sku, title = u.title, price_minor = u.price_minor, \
                 cost_minor = coalesce(u.cost_minor, v.cost_minor), inventory = u.inventory, updated_at = $2 \
                 FROM UNNEST($3::uuid[], $4::text[], $5::text[], $6::int8[], $7::int8[], $8::int8[]) \
                 AS u (id, sku, title, price_minor, cost_minor, inventory) \
                 WHERE v.id = u.id AND v.organization_id = $1",
            )
            .bind(organization)
            .bind(now)
            .bind(rows.iter().map(|(id, _)| *id).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, v)| v.sku.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, v)| v.title.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, v)| v.price_minor).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, v)| v.cost_minor).collect::<Vec<_>>())
            .bind(rows.iter().map(|(_, v)| v.inventory).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    async fn write_sqlite(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        organization: Uuid,
        store: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        for id in &self.gone_variants {
            sqlx::query("DELETE FROM variants WHERE organization_id = $1 AND id = $2")
                .bind(organization)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        for chunk in self.new_products.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO products (id, organization_id, store_id, external_id, title, description, vendor, \
                 category, status, price_minor, inventory, created_at, updated_at) ",
            );
            qb.push_values(chunk, |mut row, p| {
                row.push_bind(p.id)
                    .push_bind(organization)
                    .push_bind(store)
                    .push_bind(&p.input.external_id)
                    .push_bind(&p.input.title)
                    .push_bind(&p.input.description)
                    .push_bind(&p.input.vendor)
                    .push_bind(&p.input.category)
                    .push_bind(p.input.status.as_str())
                    .push_bind(p.price_minor)
                    .push_bind(p.inventory)
                    .push_bind(now)
                    .push_bind(now);
            });
            qb.build().execute(&mut **tx).await?;
        }
        for p in &self.changed_products {
            sqlx::query(
                "UPDATE products SET title = $3, description = $4, vendor = $5, category = $6, status = $7, \
                 price_minor = $8, inventory = $9, updated_at = $10 WHERE organization_id = $1 AND id = $2",
            )
            .bind(organization)
            .bind(p.id)
            .bind(&p.input.title)
            .bind(&p.input.description)
            .bind(&p.input.vendor)
            .bind(&p.input.category)
            .bind(p.input.status.as_str())
            .bind(p.price_minor)
            .bind(p.inventory)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        for chunk in self.new_variants.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let mut qb = QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO variants (id, organization_id, product_id, external_id, sku, title, price_minor, \
                 cost_minor, inventory, updated_at) ",
            );
            qb.push_values(chunk, |mut row, (id, product, v)| {
                row.push_bind(*id)
                    .push_bind(organization)
                    .push_bind(*product)
                    .push_bind(&v.external_id)
                    .push_bind(&v.sku)
                    .push_bind(&v.title)
                    .push_bind(v.price_minor)
                    .push_bind(v.cost_minor)
                    .push_bind(v.inventory)
                    .push_bind(now);
            });
            qb.build().execute(&mut **tx).await?;
        }
        for (id, v) in &self.changed_variants {
            sqlx::query(
                "UPDATE variants SET sku = $3, title = $4, price_minor = $5, cost_minor = coalesce($6, cost_minor), \
                 inventory = $7, \
                 updated_at = $8 WHERE organization_id = $1 AND id = $2",
            )
            .bind(organization)
            .bind(id)
            .bind(&v.sku)
            .bind(&v.title)
            .bind(v.price_minor)
            .bind(v.cost_minor)
            .bind(v.inventory)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

/// Product rows as PostgreSQL arrays, one per column.
struct ProductColumns {
    ids: Vec<Uuid>,
    external_ids: Vec<String>,
    titles: Vec<String>,
    descriptions: Vec<String>,
    vendors: Vec<String>,
    categories: Vec<String>,
    statuses: Vec<String>,
    prices: Vec<Option<i64>>,
    inventories: Vec<i64>,
}

/// The sort's ORDER BY and keyset comparison over the derived columns `rank`, `price_key`, `title`, `updated_at`.
fn ordering(sort: ProductSort) -> (&'static str, &'static str, &'static str) {
    // (ORDER BY, key comparison operator, id comparison operator)
    match sort {
        ProductSort::Relevance => ("rank DESC, id ASC", "rank <", "id >"),
        ProductSort::Updated => ("updated_at DESC, id DESC", "updated_at <", "id <"),
        ProductSort::Title => ("title_key ASC, id ASC", "title_key >", "id >"),
        ProductSort::Price => ("price_key ASC, id ASC", "price_key >", "id >"),
        ProductSort::PriceDesc => ("price_key DESC, id DESC", "price_key <", "id <"),
    }
}

/// Matches ranked by relevance, at most: a broad word can match a large part of a catalogue, and ranking reads every
/// ranked row's text vector. The first matches the index yields are ranked; a narrower search ranks all of its own.
/// On 50,000 products a word in 6% of them costs PostgreSQL 3.4× more at 500 than at 200 (docs/performance.md).
pub const SEARCH_CANDIDATES: i64 = 200;

/// The words of a search: each alphanumeric run is a term that must match (so no input can inject query syntax),
/// the last one as a prefix, so results follow a search box as it is typed.
fn search_terms(search: &str) -> Vec<&str> {
    search.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).collect()
}

/// The terms as a PostgreSQL `to_tsquery` text: `rain & jack:*`.
fn tsquery_terms(terms: &[&str]) -> String {
    let mut text = terms.join(" & ");
    text.push_str(":*");
    text
}

/// The terms as an FTS5 MATCH expression: `"rain" "jack"*`.
fn fts5_terms(terms: &[&str]) -> String {
    let mut text = terms.iter().map(|word| format!("\"{word}\"")).collect::<Vec<_>>().join(" ");
    text.push('*');
    text
}

/// How a list query finds its rows: `FROM … WHERE match`, with the search text bound between `head` and `tail`.
struct Source {
    /// The relevance expression (over `p` and the source), or `0`.
    rank: &'static str,
    /// The `FROM` clause up to the search text.
    head: &'static str,
    /// The search text, if searching.
    search: Option<String>,
    /// The rest of the `FROM` clause and the match, ending in a condition the filters are `AND`ed to.
    tail: &'static str,
    /// Rank at most this many matches (relevance order only).
    candidates: Option<i64>,
    /// Plan the statement for its actual search terms on every call instead of reusing a prepared plan: a generic
    /// plan cannot know how common the words are, and builds the whole match bitmap where walking the table until
    /// enough candidates are found is several times cheaper for a common word (docs/performance.md).
    plan_each_time: bool,
}

impl Source {
    fn everything(rank: &'static str) -> Self {
        Self {
            rank,
            head: "FROM products p WHERE true",
            search: None,
            tail: "",
            candidates: None,
            plan_each_time: false,
        }
    }
}

/// Builds and runs the list query on one backend. A macro rather than a generic function: the two `QueryBuilder`s
/// differ only in their type, and the trait bounds a generic version needs would dwarf the query.
///
/// Shape: `SELECT * FROM (SELECT columns, keys FROM (SELECT columns, rank FROM source WHERE match AND filters
/// [LIMIT candidates]) p) s WHERE cursor ORDER BY sort LIMIT page + 1`.
macro_rules! list_query {
    ($pool:expr, $db:ty, $organization:expr, $query:expr, $source:expr, $title_key:expr) => {{
        let query: &ProductQuery = $query;
        let source: Source = $source;
        let price_key = match query.sort {
            ProductSort::PriceDesc => "coalesce(p.price_minor, -1)",
            _ => "coalesce(p.price_minor, 9223372036854775807)",
        };
        let mut qb = QueryBuilder::<$db>::new("SELECT * FROM (SELECT ");
        qb.push(SUMMARY_COLUMNS)
            .push(", p.rank, ")
            .push(price_key)
            .push(" AS price_key, ")
            .push($title_key)
            .push(" AS title_key FROM (SELECT ")
            .push(SUMMARY_COLUMNS)
            .push(", ")
            .push(source.rank)
            .push(" AS rank ")
            .push(source.head);
        if let Some(search) = &source.search {
            qb.push_bind(search.clone());
        }
        qb.push(source.tail);
        qb.push(" AND p.organization_id = ").push_bind($organization);
        if let Some(category) = &query.category {
            qb.push(" AND p.category = ").push_bind(category.clone());
        }
        if let Some(store) = query.store {
            qb.push(" AND p.store_id = ").push_bind(store);
        }
        if let Some(status) = query.status {
            qb.push(" AND p.status = ").push_bind(status.as_str());
        }
        if let Some(min) = query.min_price {
            qb.push(" AND p.price_minor >= ").push_bind(min);
        }
        if let Some(max) = query.max_price {
            qb.push(" AND p.price_minor <= ").push_bind(max);
        }
        if let Some(candidates) = source.candidates.filter(|_| query.sort == ProductSort::Relevance) {
            qb.push(" LIMIT ").push_bind(candidates);
        }
        qb.push(") p) s");
        let (order, key_op, id_op) = ordering(query.sort);
        if let Some(cursor) = &query.after {
            qb.push(" WHERE (").push(key_op).push(" ");
            match &cursor.key {
                CursorKey::Rank(rank) => qb.push_bind(*rank),
                CursorKey::Price(price) => qb.push_bind(*price),
                CursorKey::Text(text) if query.sort == ProductSort::Updated => {
                    qb.push_bind(DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).unwrap_or_default())
                }
                CursorKey::Text(text) => qb.push_bind(text.clone()),
            };
            qb.push(" OR (").push(key_op.trim_end_matches(['<', '>']).trim_end()).push(" = ");
            match &cursor.key {
                CursorKey::Rank(rank) => qb.push_bind(*rank),
                CursorKey::Price(price) => qb.push_bind(*price),
                CursorKey::Text(text) if query.sort == ProductSort::Updated => {
                    qb.push_bind(DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).unwrap_or_default())
                }
                CursorKey::Text(text) => qb.push_bind(text.clone()),
            };
            qb.push(" AND ").push(id_op).push(" ").push_bind(cursor.id).push("))");
        }
        qb.push(" ORDER BY ").push(order).push(" LIMIT ").push_bind(i64::from(query.limit) + 1);
        qb.build_query_as::<ProductSummary>().persistent(!source.plan_each_time).fetch_all($pool).await?
    }};
}

impl Database {
    /// One page of an organization's products.
    pub async fn list_products(&self, organization: Uuid, query: &ProductQuery) -> Result<ProductPage, DbError> {
        let terms = query.search.as_deref().map(search_terms);
        if terms.as_ref().is_some_and(Vec::is_empty) {
            return Ok(ProductPage { items: Vec::new(), next: None });
        }
        let mut rows = match (self, terms) {
            (Self::Postgres(pool), Some(terms)) => {
                let source = Source {
                    rank: "ts_rank(p.search, q.query)::float8",
                    head: "FROM to_tsquery('english', ",
                    search: Some(tsquery_terms(&terms)),
                    tail: ") AS q (query) JOIN products p ON p.search @@ q.query WHERE true",
                    candidates: Some(SEARCH_CANDIDATES),
                    plan_each_time: true,
                };
                list_query!(pool, sqlx::Postgres, organization, query, source, "p.title COLLATE \"C\"")
            }
            (Self::Postgres(pool), None) => {
                list_query!(
                    pool,
                    sqlx::Postgres,
                    organization,
                    query,
                    Source::everything("0::float8"),
                    "p.title COLLATE \"C\""
                )
            }
            (Self::Sqlite(pool), Some(terms)) => {
                let source = Source {
                    rank: "-bm25(products_fts, 10.0, 4.0, 1.0)",
                    head: "FROM products_fts JOIN products p ON p.rowid = products_fts.rowid WHERE products_fts MATCH ",
                    search: Some(fts5_terms(&terms)),
                    tail: "",
                    candidates: Some(SEARCH_CANDIDATES),
                    // SQLite plans every statement the same way whatever its parameters.
                    plan_each_time: false,
                };
                list_query!(pool, sqlx::Sqlite, organization, query, source, "p.title")
            }
            (Self::Sqlite(pool), None) => {
                list_query!(pool, sqlx::Sqlite, organization, query, Source::everything("0.0"), "p.title")
            }
        };
        let next = if rows.len() > query.limit as usize {
            rows.truncate(query.limit as usize);
            rows.last().map(|last| ProductCursor { sort: query.sort, key: cursor_key(query.sort, last), id: last.id })
        } else {
            None
        };
        Ok(ProductPage { items: rows, next })
    }

    /// A product with its variants, if the organization has it.
    pub async fn product(&self, organization: Uuid, id: Uuid) -> Result<Option<ProductDetail>, DbError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            summary: ProductSummary,
            description: String,
            unit_cost_minor: Option<i64>,
            lead_time_days: Option<i32>,
            target_cover_days: Option<i32>,
        }
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS}, CAST(0 AS DOUBLE PRECISION) AS rank, p.description, p.unit_cost_minor, p.lead_time_days, \
             p.target_cover_days FROM products p WHERE p.organization_id = $1 AND p.id = $2"
        );
        let row: Option<Row> =
            on_pool!(self, |pool| sqlx::query_as(&sql).bind(organization).bind(id).fetch_optional(pool).await?);
        let Some(row) = row else { return Ok(None) };
        let variants: Vec<Variant> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, external_id, sku, title, price_minor, cost_minor, inventory FROM variants \
             WHERE organization_id = $1 AND product_id = $2 ORDER BY title, id"
        )
        .bind(organization)
        .bind(id)
        .fetch_all(pool)
        .await?);
        Ok(Some(ProductDetail {
            summary: row.summary,
            description: row.description,
            unit_cost_minor: row.unit_cost_minor,
            lead_time_days: row.lead_time_days,
            target_cover_days: row.target_cover_days,
            variants,
        }))
    }

    /// Applies merchant-owned changes; `None` if the organization has no such product. A changed unit cost is
    /// recorded in the product's cost history, effective now (see [`crate::costs`]), in the same transaction.
    pub async fn patch_product(
        &self,
        organization: Uuid,
        id: Uuid,
        patch: &ProductPatch,
    ) -> Result<Option<ProductDetail>, DbError> {
        if *patch != ProductPatch::default() {
            let mut tx = self.begin_write().await?;
            // Each field is either set or left alone: `CASE WHEN $flag THEN $value ELSE column END`.
            let sql = "UPDATE products SET \
                 unit_cost_minor = CASE WHEN $3 THEN $4 ELSE unit_cost_minor END, \
                 lead_time_days = CASE WHEN $5 THEN $6 ELSE lead_time_days END, \
                 target_cover_days = CASE WHEN $7 THEN $8 ELSE target_cover_days END \
                 WHERE organization_id = $1 AND id = $2";
            // The cost before, locked on PostgreSQL so concurrent edits record their changes in turn.
            let lock = if tx.is_postgres() { " FOR UPDATE" } else { "" };
            let select = format!("SELECT unit_cost_minor FROM products WHERE organization_id = $1 AND id = $2{lock}");
            let before: Option<Option<i64>> = on_tx!(&mut tx, |conn| sqlx::query_scalar(&select)
                .bind(organization)
                .bind(id)
                .fetch_optional(&mut **conn)
                .await?);
            let Some(before) = before else { return Ok(None) };
            on_tx!(&mut tx, |conn| sqlx::query(sql)
                .bind(organization)
                .bind(id)
                .bind(patch.unit_cost_minor.is_some())
                .bind(patch.unit_cost_minor.flatten())
                .bind(patch.lead_time_days.is_some())
                .bind(patch.lead_time_days.flatten())
                .bind(patch.target_cover_days.is_some())
                .bind(patch.target_cover_days.flatten())
                .execute(&mut **conn)
                .await
                .map(drop)?);
            if let Some(cost_minor) = patch.unit_cost_minor
                && cost_minor != before
            {
                let change = CostChange { product: id, variant: None, cost_minor };
                record_cost_changes(&mut tx, organization, &[change], now_micros()).await?;
            }
            tx.commit().await?;
        }
        self.product(organization, id).await
    }
}

fn cursor_key(sort: ProductSort, row: &ProductSummary) -> CursorKey {
    match sort {
        ProductSort::Relevance => CursorKey::Rank(row.rank),
        ProductSort::Updated => CursorKey::Text(row.updated_at.to_rfc3339()),
        ProductSort::Title => CursorKey::Text(row.title.clone()),
        ProductSort::Price => CursorKey::Price(row.price_minor.unwrap_or(UNPRICED)),
        ProductSort::PriceDesc => CursorKey::Price(row.price_minor.unwrap_or(-1)),
    }
}
