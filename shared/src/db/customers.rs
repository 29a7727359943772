//! The orders customer figures are computed from: every counting order up to a moment, with its customer and its
//! revenue net of refunds. Read per request (the figures need each customer's whole history to tell new from
//! returning), one row per order, through the index on `(organization, customer, placed_at)`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Database, DbError, on_pool};
use crate::analytics::CustomerSale;

impl Database {
    /// The organization's counting orders placed before `until`, each with its customer and net revenue.
    pub async fn customer_sales(&self, organization: Uuid, until: DateTime<Utc>) -> Result<Vec<CustomerSale>, DbError> {
        const SQL: &str = "SELECT o.id, o.customer_key, o.placed_at, \
             CAST(coalesce(sum(l.total_minor - l.refunded_minor), 0) AS BIGINT) \
             FROM orders o LEFT JOIN order_lines l ON l.organization_id = o.organization_id AND l.order_id = o.id \
             WHERE o.organization_id = $1 AND o.placed_at < $2 AND o.status IN ('open', 'paid', 'fulfilled') \
             GROUP BY o.id, o.customer_key, o.placed_at";
        let rows: Vec<(Uuid, Option<String>, DateTime<Utc>, i64)> =
            on_pool!(self, |pool| sqlx::query_as(SQL).bind(organization).bind(until).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(order, customer, placed_at, revenue_minor)| CustomerSale {
                order,
                customer,
                placed_at,
                revenue_minor,
            })
            .collect())
    }
}
