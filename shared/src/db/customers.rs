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
        // The lines are summed per order in one pass over the organization's lines, then joined: a per-order
        // lookup lets SQLite pick the organization's line index and scan every line once per order.
        const SQL: &str = "SELECT o.id, o.customer_key, o.placed_at, CAST(coalesce(n.revenue, 0) AS BIGINT) \
             FROM orders o LEFT JOIN (SELECT order_id, sum(total_minor - refunded_minor) AS revenue \
             FROM order_lines WHERE organization_id = $1 GROUP BY order_id) n ON n.order_id = o.id \
             WHERE o.organization_id = $1 AND o.placed_at < $2 AND o.status IN ('open', 'paid', 'fulfilled')";
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
