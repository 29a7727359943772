//! What the dashboard's product list shows beside each product's catalogue fields — the merchant's unit cost and
//! its revenue over a window of days — and the categories to filter the list by. Read for one page of products at
//! a time from the daily product rollups: O(products × days), never O(orders).

use std::collections::HashMap;

use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{Database, DbError, on_pool};
use crate::analytics::DateRange;

/// The figures of one listed product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedFigures {
    /// The merchant's unit cost, minor units.
    pub unit_cost_minor: Option<i64>,
    /// Revenue over the window, minor units.
    pub revenue_minor: i64,
}

/// A category and how many of the organization's products are in it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CategoryCount {
    /// The category as the platform names it.
    pub category: String,
    /// Products in it.
    pub products: i64,
}

/// Most product ids per query (an `IN` list of binds).
const ID_CHUNK: usize = 500;

impl Database {
    /// Unit cost and revenue in `window` of each of `products` the organization has; other ids are absent.
    pub async fn product_list_figures(
        &self,
        organization: Uuid,
        products: &[Uuid],
        window: DateRange,
    ) -> Result<HashMap<Uuid, ListedFigures>, DbError> {
        let mut figures = HashMap::with_capacity(products.len());
        for chunk in products.chunks(ID_CHUNK) {
            let rows: Vec<(Uuid, Option<i64>, i64)> = on_pool!(self, |pool| {
                let mut qb = QueryBuilder::new(
                    "SELECT p.id, p.unit_cost_minor, CAST(coalesce(sum(d.revenue_minor), 0) AS BIGINT) \
                     FROM products p LEFT JOIN daily_product_totals d \
                     ON d.organization_id = p.organization_id AND d.product_id = p.id AND d.day >= ",
                );
                qb.push_bind(window.from()).push(" AND d.day <= ").push_bind(window.to());
                qb.push(" WHERE p.organization_id = ").push_bind(organization).push(" AND p.id IN (");
                let mut ids = qb.separated(", ");
                for id in chunk {
                    ids.push_bind(*id);
                }
                qb.push(") GROUP BY p.id, p.unit_cost_minor");
                qb.build_query_as().fetch_all(pool).await?
            });
            figures
                .extend(rows.into_iter().map(|(id, unit_cost_minor, revenue_minor)| {
                    (id, ListedFigures { unit_cost_minor, revenue_minor })
                }));
        }
        Ok(figures)
    }

    /// The organization's product categories, A to Z, with their product counts (uncategorised products left out).
    pub async fn product_categories(&self, organization: Uuid) -> Result<Vec<CategoryCount>, DbError> {
        const SQL: &str = "SELECT category, count(*) AS products FROM products \
             WHERE organization_id = $1 AND category <> '' GROUP BY category ORDER BY category";
        Ok(on_pool!(self, |pool| sqlx::query_as(SQL).bind(organization).fetch_all(pool).await?))
    }
}
