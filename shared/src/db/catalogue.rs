//! Storage of stores, products and variants, and the product list query (full-text search with PostgreSQL
//! `tsvector` or SQLite FTS5, filters, keyset pagination).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{Database, DbError, now_micros, on_pool};
use crate::catalogue::{
    CursorKey, ProductCursor, ProductDetail, ProductInput, ProductPage, ProductPatch, ProductQuery, ProductSort,
    ProductSummary, UpsertCounts, Variant,
};

const SUMMARY_COLUMNS: &str = "p.id, p.store_id, p.external_id, p.title, p.vendor, p.category, p.status, p.price_minor, p.inventory, p.updated_at";

/// Sorts unpriced products after every priced one.
const UNPRICED: i64 = i64::MAX;

#[derive(sqlx::FromRow)]
struct StoredProduct {
    id: Uuid,
    title: String,
    description: String,
    vendor: String,
    category: String,
    status: String,
}

#[derive(sqlx::FromRow)]
struct StoredVariant {
    id: Uuid,
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
    /// Variants a product no longer has are removed. Returns the counts and every product's id by external id.
    pub async fn upsert_products(
        &self,
        organization: Uuid,
        store: Uuid,
        products: &[ProductInput],
    ) -> Result<(UpsertCounts, HashMap<String, Uuid>), DbError> {
        let mut counts = UpsertCounts::default();
        let mut ids = HashMap::with_capacity(products.len());
        let now = now_micros();
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for product in products {
                let existing: Option<StoredProduct> = sqlx::query_as(
                    "SELECT id, title, description, vendor, category, status FROM products \
                     WHERE organization_id = $1 AND store_id = $2 AND external_id = $3",
                )
                .bind(organization)
                .bind(store)
                .bind(&product.external_id)
                .fetch_optional(&mut *tx)
                .await?;
                let (id, created, mut changed) = match existing {
                    None => {
                        let id = Uuid::new_v4();
                        sqlx::query(
                            "INSERT INTO products (id, organization_id, store_id, external_id, title, description, \
                             vendor, category, status, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                        )
                        .bind(id)
                        .bind(organization)
                        .bind(store)
                        .bind(&product.external_id)
                        .bind(&product.title)
                        .bind(&product.description)
                        .bind(&product.vendor)
                        .bind(&product.category)
                        .bind(product.status.as_str())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                        (id, true, false)
                    }
                    Some(stored) => {
                        let same = stored.title == product.title
                            && stored.description == product.description
                            && stored.vendor == product.vendor
                            && stored.category == product.category
                            && stored.status == product.status.as_str();
                        if !same {
                            sqlx::query(
                                "UPDATE products SET title = $2, description = $3, vendor = $4, category = $5, \
                                 status = $6, updated_at = $7 WHERE id = $1",
                            )
                            .bind(stored.id)
                            .bind(&product.title)
                            .bind(&product.description)
                            .bind(&product.vendor)
                            .bind(&product.category)
                            .bind(product.status.as_str())
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        }
                        (stored.id, false, !same)
                    }
                };
                let stored_variants: Vec<StoredVariant> = sqlx::query_as(
                    "SELECT id, external_id, sku, title, price_minor, cost_minor, inventory FROM variants \
                     WHERE product_id = $1",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                let mut stored_by_external: HashMap<&str, &StoredVariant> =
                    stored_variants.iter().map(|v| (v.external_id.as_str(), v)).collect();
                for variant in &product.variants {
                    match stored_by_external.remove(variant.external_id.as_str()) {
                        Some(stored)
                            if stored.sku == variant.sku
                                && stored.title == variant.title
                                && stored.price_minor == variant.price_minor
                                && stored.cost_minor == variant.cost_minor
                                && stored.inventory == variant.inventory => {}
                        Some(stored) => {
                            sqlx::query(
                                "UPDATE variants SET sku = $2, title = $3, price_minor = $4, cost_minor = $5, \
                                 inventory = $6, updated_at = $7 WHERE id = $1",
                            )
                            .bind(stored.id)
                            .bind(&variant.sku)
                            .bind(&variant.title)
                            .bind(variant.price_minor)
                            .bind(variant.cost_minor)
                            .bind(variant.inventory)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                            changed = true;
                        }
                        None => {
                            sqlx::query(
                                "INSERT INTO variants (id, organization_id, product_id, external_id, sku, title, \
                                 price_minor, cost_minor, inventory, updated_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                            )
                            .bind(Uuid::new_v4())
                            .bind(organization)
                            .bind(id)
                            .bind(&variant.external_id)
                            .bind(&variant.sku)
                            .bind(&variant.title)
                            .bind(variant.price_minor)
                            .bind(variant.cost_minor)
                            .bind(variant.inventory)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                            changed = true;
                        }
                    }
                }
                for gone in stored_by_external.values() {
                    sqlx::query("DELETE FROM variants WHERE id = $1").bind(gone.id).execute(&mut *tx).await?;
                    changed = true;
                }
                if created || changed {
                    sqlx::query(
                        "UPDATE products SET \
                         price_minor = (SELECT min(price_minor) FROM variants WHERE product_id = $1), \
                         inventory = (SELECT coalesce(sum(inventory), 0) FROM variants WHERE product_id = $1), \
                         updated_at = $2 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                match (created, changed) {
                    (true, _) => counts.created += 1,
                    (false, true) => counts.updated += 1,
                    (false, false) => counts.unchanged += 1,
                }
                ids.insert(product.external_id.clone(), id);
            }
            tx.commit().await?;
        });
        Ok((counts, ids))
    }
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

/// The words of a search, for an FTS5 MATCH expression: each alphanumeric run becomes a quoted term (all must
/// match), so no input can inject FTS5 syntax.
fn fts5_terms(search: &str) -> String {
    search
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| format!("\"{word}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds and runs the list query on one backend. A macro rather than a generic function: the two `QueryBuilder`s
/// differ only in their type, and the trait bounds a generic version needs would dwarf the query.
macro_rules! list_query {
    ($pool:expr, $db:ty, $organization:expr, $query:expr, $from:expr, $title_key:expr) => {{
        let query: &ProductQuery = $query;
        let price_key = match query.sort {
            ProductSort::PriceDesc => "coalesce(p.price_minor, -1)",
            _ => "coalesce(p.price_minor, 9223372036854775807)",
        };
        let mut qb = QueryBuilder::<$db>::new("SELECT * FROM (SELECT ");
        qb.push(SUMMARY_COLUMNS)
            .push(", ")
            .push(price_key)
            .push(" AS price_key, ")
            .push($title_key)
            .push(" AS title_key, ");
        $from(&mut qb);
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
        qb.push(") s");
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
        qb.build_query_as::<ProductSummary>().fetch_all($pool).await?
    }};
}

impl Database {
    /// One page of an organization's products.
    pub async fn list_products(&self, organization: Uuid, query: &ProductQuery) -> Result<ProductPage, DbError> {
        let mut rows = match (self, &query.search) {
            (Self::Postgres(pool), Some(search)) => {
                let search = search.clone();
                list_query!(
                    pool,
                    sqlx::Postgres,
                    organization,
                    query,
                    |qb: &mut QueryBuilder<sqlx::Postgres>| {
                        qb.push("ts_rank_cd(p.search, websearch_to_tsquery('english', ")
                            .push_bind(search.clone())
                            .push(
                                "))::float8 AS rank FROM products p WHERE p.search @@ websearch_to_tsquery('english', ",
                            )
                            .push_bind(search.clone())
                            .push(")");
                    },
                    "p.title COLLATE \"C\""
                )
            }
            (Self::Postgres(pool), None) => {
                list_query!(
                    pool,
                    sqlx::Postgres,
                    organization,
                    query,
                    |qb: &mut QueryBuilder<sqlx::Postgres>| {
                        qb.push("0::float8 AS rank FROM products p WHERE true");
                    },
                    "p.title COLLATE \"C\""
                )
            }
            (Self::Sqlite(pool), Some(search)) => {
                let terms = fts5_terms(search);
                if terms.is_empty() {
                    return Ok(ProductPage { items: Vec::new(), next: None });
                }
                list_query!(
                    pool,
                    sqlx::Sqlite,
                    organization,
                    query,
                    |qb: &mut QueryBuilder<sqlx::Sqlite>| {
                        qb.push("-bm25(products_fts, 10.0, 4.0, 1.0) AS rank FROM products_fts JOIN products p ON p.rowid = products_fts.rowid WHERE products_fts MATCH ")
                        .push_bind(terms.clone());
                    },
                    "p.title"
                )
            }
            (Self::Sqlite(pool), None) => {
                list_query!(
                    pool,
                    sqlx::Sqlite,
                    organization,
                    query,
                    |qb: &mut QueryBuilder<sqlx::Sqlite>| {
                        qb.push("0.0 AS rank FROM products p WHERE 1");
                    },
                    "p.title"
                )
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

    /// Applies merchant-owned changes; `None` if the organization has no such product.
    pub async fn patch_product(
        &self,
        organization: Uuid,
        id: Uuid,
        patch: &ProductPatch,
    ) -> Result<Option<ProductDetail>, DbError> {
        if *patch != ProductPatch::default() {
            // Each field is either set or left alone: `CASE WHEN $flag THEN $value ELSE column END`.
            let sql = "UPDATE products SET \
                 unit_cost_minor = CASE WHEN $3 THEN $4 ELSE unit_cost_minor END, \
                 lead_time_days = CASE WHEN $5 THEN $6 ELSE lead_time_days END, \
                 target_cover_days = CASE WHEN $7 THEN $8 ELSE target_cover_days END \
                 WHERE organization_id = $1 AND id = $2";
            let updated = on_pool!(self, |pool| sqlx::query(sql)
                .bind(organization)
                .bind(id)
                .bind(patch.unit_cost_minor.is_some())
                .bind(patch.unit_cost_minor.flatten())
                .bind(patch.lead_time_days.is_some())
                .bind(patch.lead_time_days.flatten())
                .bind(patch.target_cover_days.is_some())
                .bind(patch.target_cover_days.flatten())
                .execute(pool)
                .await?
                .rows_affected());
            if updated == 0 {
                return Ok(None);
            }
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
