//! Shopify's mandatory compliance requests: the record of each (the audit trail), the erasure `shop/redact` asks
//! for, and the stored data a `customers/data_request` makes available to the merchant. Records and erasures are
//! written through the delivery's [`DeliveryClaim`], so a request is recorded and carried out exactly once.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{
    Database, DbError,
    analytics::recompute,
    customers, now_micros, on_pool, rollups,
    sync::DeliveryClaim,
    tx::{WriteTx, on_tx},
};

/// Ids bound per statement.
const CHUNK: usize = 500;

/// One of Shopify's compliance topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplianceTopic {
    /// `customers/data_request`: a customer asked the shop for their data.
    CustomerDataRequest,
    /// `customers/redact`: erase a customer's personal data.
    CustomerRedact,
    /// `shop/redact`: erase everything of the shop (sent 48 hours after the app is uninstalled).
    ShopRedact,
}

impl ComplianceTopic {
    /// The topic of a delivery, if it is a compliance topic.
    pub fn parse(topic: &str) -> Option<Self> {
        match topic {
            "customers/data_request" => Some(Self::CustomerDataRequest),
            "customers/redact" => Some(Self::CustomerRedact),
            "shop/redact" => Some(Self::ShopRedact),
            _ => None,
        }
    }

    /// Shopify's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomerDataRequest => "customers/data_request",
            Self::CustomerRedact => "customers/redact",
            Self::ShopRedact => "shop/redact",
        }
    }
}

/// A compliance request about to be recorded.
#[derive(Debug, Clone)]
pub struct NewComplianceRequest<'a> {
    /// The shop, `<name>.myshopify.com`.
    pub shop: &'a str,
    /// The topic.
    pub topic: ComplianceTopic,
    /// Shopify's customer id (customer topics).
    pub customer_id: Option<&'a str>,
    /// The orders the request names, as Shopify's gids.
    pub order_ids: &'a [String],
    /// What was done.
    pub outcome: &'a str,
}

/// A recorded compliance request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ComplianceRequest {
    /// Its id.
    pub id: Uuid,
    /// The store it was about (gone after `shop/redact`).
    pub store_id: Uuid,
    /// The shop.
    pub shop: String,
    /// Shopify's topic name.
    pub topic: String,
    /// Shopify's customer id.
    pub customer_id: Option<String>,
    /// The order ids the request named, JSON.
    pub order_ids: String,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// What was done.
    pub outcome: String,
}

impl ComplianceRequest {
    /// The order ids the request named.
    pub fn orders(&self) -> Vec<String> {
        serde_json::from_str(&self.order_ids).unwrap_or_default()
    }
}

/// What `shop/redact` erased.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreErasure {
    /// Products (with their variants).
    pub products: u64,
    /// Orders (with their lines).
    pub orders: u64,
    /// Analytics events about the store's products.
    pub events: u64,
    /// Recommendations about the store's products.
    pub recommendations: u64,
}

/// One line of an order held for a customer, as a data request shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HeldOrderLine {
    /// The order, as Shopify's gid.
    pub order_id: String,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
    /// Its status.
    pub status: String,
    /// Its total in minor units.
    pub total_minor: i64,
    /// The product's title, if the line names a product still held.
    pub product_title: Option<String>,
    /// Units.
    pub quantity: Option<i32>,
    /// The line's total in minor units.
    pub line_total_minor: Option<i64>,
}

impl DeliveryClaim {
    /// Records a compliance request in the claim's transaction; returns its id.
    pub async fn record_compliance(&mut self, request: &NewComplianceRequest<'_>) -> Result<Uuid, DbError> {
        const SQL: &str = "INSERT INTO compliance_requests \
             (id, organization_id, store_id, shop, topic, customer_id, order_ids, received_at, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let id = Uuid::new_v4();
        let order_ids = serde_json::to_string(request.order_ids).unwrap_or_else(|_| "[]".to_owned());
        let (organization, store) = (self.organization, self.store);
        on_tx!(&mut self.tx, |conn| sqlx::query(SQL)
            .bind(id)
            .bind(organization)
            .bind(store)
            .bind(request.shop)
            .bind(request.topic.as_str())
            .bind(request.customer_id)
            .bind(&order_ids)
            .bind(now_micros())
            .bind(request.outcome)
            .execute(&mut **conn)
            .await
            .map(drop)?);
        Ok(id)
    }

    /// How many of `external_ids` the store holds as orders.
    pub async fn count_orders(&mut self, external_ids: &[String]) -> Result<u64, DbError> {
        let mut held = 0;
        for chunk in external_ids.chunks(CHUNK) {
            let count: i64 = on_tx!(&mut self.tx, |conn| {
                let mut qb = QueryBuilder::new("SELECT count(*) FROM orders WHERE organization_id = ");
                qb.push_bind(self.organization).push(" AND store_id = ").push_bind(self.store);
                qb.push(" AND external_id IN (");
                let mut ids = qb.separated(", ");
                for id in chunk {
                    ids.push_bind(id);
                }
                qb.push(")");
                qb.build_query_scalar().fetch_one(&mut **conn).await?
            });
            held += count as u64;
        }
        Ok(held)
    }

    /// Removes a customer's id from the store's orders and the customer rollups (`customers/redact`): the orders
    /// and their figures stay, as guest checkouts. Returns how many orders named the customer.
    pub async fn forget_customer(&mut self, customer_key: &str) -> Result<u64, DbError> {
        const SQL: &str = "UPDATE orders SET customer_key = NULL \
             WHERE organization_id = $1 AND store_id = $2 AND customer_key = $3";
        let unlinked = on_tx!(&mut self.tx, |conn| sqlx::query(SQL)
            .bind(self.organization)
            .bind(self.store)
            .bind(customer_key)
            .execute(&mut **conn)
            .await?
            .rows_affected());
        customers::forget(&mut self.tx, self.organization, self.store, customer_key).await?;
        Ok(unlinked)
    }

    /// Erases everything of the store: its products and variants, orders and lines, the analytics events and
    /// recommendations about its products, its connection, sync history and webhook record (the store row's
    /// cascade), and rebuilds the organization's rollups from what is left, so no figure of the shop remains.
    /// Run [`Database::fold_rollup_deltas`] first: the rebuild replaces pending deltas.
    pub async fn erase_store(&mut self) -> Result<StoreErasure, DbError> {
        const PRODUCTS: &str = "SELECT id FROM products WHERE organization_id = $1 AND store_id = $2";
        const ORDERS: &str = "SELECT count(*) FROM orders WHERE organization_id = $1 AND store_id = $2";
        const STORE: &str = "DELETE FROM stores WHERE organization_id = $1 AND id = $2";
        let (organization, store) = (self.organization, self.store);
        let products: Vec<Uuid> = on_tx!(&mut self.tx, |conn| sqlx::query_scalar(PRODUCTS)
            .bind(organization)
            .bind(store)
            .fetch_all(&mut **conn)
            .await?);
        let orders: i64 = on_tx!(&mut self.tx, |conn| sqlx::query_scalar(ORDERS)
            .bind(organization)
            .bind(store)
            .fetch_one(&mut **conn)
            .await?);
        let events = delete_about(&mut self.tx, organization, "analytics_events", &products).await?;
        let recommendations = delete_about(&mut self.tx, organization, "recommendations", &products).await?;
        on_tx!(&mut self.tx, |conn| sqlx::query(STORE)
            .bind(organization)
            .bind(store)
            .execute(&mut **conn)
            .await
            .map(drop)?);
        // The store's customer rollups went with the store row; the organization's figures are rebuilt.
        let rebuilt = recompute(&mut self.tx, organization).await?.rollups;
        rollups::replace_rollups(&mut self.tx, organization, &rebuilt).await?;
        Ok(StoreErasure { products: products.len() as u64, orders: orders as u64, events, recommendations })
    }
}

/// Deletes the organization's rows of `table` whose `product_id` is one of `products`.
async fn delete_about(tx: &mut WriteTx, organization: Uuid, table: &str, products: &[Uuid]) -> Result<u64, DbError> {
    let mut deleted = 0;
    for chunk in products.chunks(CHUNK) {
        deleted += on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(format!("DELETE FROM {table} WHERE organization_id = "));
            qb.push_bind(organization).push(" AND product_id IN (");
            let mut ids = qb.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            qb.push(")");
            qb.build().execute(&mut **conn).await?.rows_affected()
        });
    }
    Ok(deleted)
}

impl Database {
    /// The organization's compliance requests, newest first, after `after` (a `(received_at, id)` keyset).
    pub async fn compliance_requests(
        &self,
        organization: Uuid,
        limit: u32,
        after: Option<(DateTime<Utc>, Uuid)>,
    ) -> Result<Vec<ComplianceRequest>, DbError> {
        const SQL: &str = "SELECT id, store_id, shop, topic, customer_id, order_ids, received_at, outcome \
             FROM compliance_requests WHERE organization_id = $1 \
             AND ($2 IS NULL OR received_at < $2 OR (received_at = $2 AND id < $3)) \
             ORDER BY received_at DESC, id DESC LIMIT $4";
        let (at, id) = after.unzip();
        Ok(on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(organization)
            .bind(at)
            .bind(id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?))
    }

    /// One of the organization's compliance requests.
    pub async fn compliance_request(&self, organization: Uuid, id: Uuid) -> Result<Option<ComplianceRequest>, DbError> {
        const SQL: &str = "SELECT id, store_id, shop, topic, customer_id, order_ids, received_at, outcome \
             FROM compliance_requests WHERE organization_id = $1 AND id = $2";
        Ok(on_pool!(self, |pool| sqlx::query_as(SQL).bind(organization).bind(id).fetch_optional(pool).await?))
    }

    /// The orders (with their lines) the store holds among `external_ids`, by order then line: what a
    /// `customers/data_request` makes available.
    pub async fn held_orders(
        &self,
        organization: Uuid,
        store: Uuid,
        external_ids: &[String],
    ) -> Result<Vec<HeldOrderLine>, DbError> {
        let mut lines = Vec::new();
        for chunk in external_ids.chunks(CHUNK) {
            let rows: Vec<HeldOrderLine> = on_pool!(self, |pool| {
                let mut qb = QueryBuilder::new(
                    "SELECT o.external_id AS order_id, o.placed_at, o.status, o.total_minor, \
                     p.title AS product_title, l.quantity, l.total_minor AS line_total_minor FROM orders o \
                     LEFT JOIN order_lines l ON l.organization_id = o.organization_id AND l.order_id = o.id \
                     LEFT JOIN products p ON p.organization_id = o.organization_id AND p.id = l.product_id \
                     WHERE o.organization_id = ",
                );
                qb.push_bind(organization).push(" AND o.store_id = ").push_bind(store);
                qb.push(" AND o.external_id IN (");
                let mut ids = qb.separated(", ");
                for id in chunk {
                    ids.push_bind(id);
                }
                qb.push(") ORDER BY o.placed_at, o.external_id, l.line_no");
                qb.build_query_as().fetch_all(pool).await?
            });
            lines.extend(rows);
        }
        Ok(lines)
    }
}
