//! Storage of the customer rollups (see [`crate::analytics::customers`]): `customer_days` (counting orders and
//! revenue per customer and local day) and `customers` (each customer's first counting order).
//!
//! # How writes reach them
//! Every order write ([`crate::db::orders`]) adds its change to `customer_days` ([`apply_customer_delta`], rows
//! that come to nothing deleted) and then works out afresh the first order of each customer it touched
//! ([`refresh_first_orders`]), in the write's own transaction, so the stored rows equal a recomputation from the
//! orders at all times. On PostgreSQL the refresh first takes a transaction lock per store: two writers changing
//! orders of one customer at once would each miss the other's change when picking the first. (Writes that change
//! sales already take turns on the organization's sales version; an order moved within its day changes none.)

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{
    Database, DbError,
    tx::{WriteTx, on_tx},
};
use crate::analytics::{
    Customer, CustomerDay, CustomerDays, CustomerFigures, CustomerRollups, DateRange, FirstOrder, Segment, SoldLine,
    Spend, Tz, customer_figures, local_day,
};

/// Rows per statement (at most 6 parameters each: well under either backend's limit).
const CHUNK: usize = 500;

/// Marks the refresh lock apart from other advisory locks (`pg_advisory_xact_lock` on the store's first 8 bytes
/// xor this).
const FIRST_ORDER_LOCK: i64 = 0x0063_7573_746f_6d65; // "custome"

/// Adds `delta` to `customer_days`, deleting rows that come to nothing.
pub(super) async fn apply_customer_delta(
    tx: &mut WriteTx,
    organization: Uuid,
    delta: &CustomerDays,
) -> Result<(), DbError> {
    const HEAD: &str =
        "INSERT INTO customer_days (organization_id, store_id, customer_key, day, orders, revenue_minor) ";
    const TAIL: &str = " ON CONFLICT (organization_id, day, store_id, customer_key) DO UPDATE SET \
         orders = customer_days.orders + excluded.orders, \
         revenue_minor = customer_days.revenue_minor + excluded.revenue_minor \
         RETURNING store_id, customer_key, day, orders, revenue_minor";
    let rows: Vec<_> = delta.iter().collect();
    let mut emptied: Vec<(Uuid, String, NaiveDate)> = Vec::new();
    for chunk in rows.chunks(CHUNK) {
        let returned: Vec<(Uuid, String, NaiveDate, i64, i64)> = on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(HEAD);
            qb.push_values(chunk, |mut row, ((customer, day), spend)| {
                row.push_bind(organization)
                    .push_bind(customer.store)
                    .push_bind(customer.key.as_str())
                    .push_bind(*day)
                    .push_bind(spend.orders)
                    .push_bind(spend.revenue_minor);
            });
            qb.push(TAIL);
            qb.build_query_as().fetch_all(&mut **conn).await?
        });
        emptied.extend(
            returned
                .into_iter()
                .filter(|(.., orders, revenue)| *orders == 0 && *revenue == 0)
                .map(|(store, key, day, ..)| (store, key, day)),
        );
    }
    for chunk in emptied.chunks(CHUNK) {
        on_tx!(tx, |conn| {
            // `IN (VALUES …)`: SQLite compares row values only with a subquery.
            let mut qb = QueryBuilder::new(
                "DELETE FROM customer_days WHERE orders = 0 AND revenue_minor = 0 \
                 AND (organization_id, store_id, customer_key, day) IN (VALUES ",
            );
            let mut keys = qb.separated(", ");
            for (store, key, day) in chunk {
                keys.push("(")
                    .push_bind_unseparated(organization)
                    .push_unseparated(", ")
                    .push_bind_unseparated(*store)
                    .push_unseparated(", ")
                    .push_bind_unseparated(key.as_str())
                    .push_unseparated(", ")
                    .push_bind_unseparated(*day)
                    .push_unseparated(")");
            }
            qb.push(")");
            qb.build().execute(&mut **conn).await?;
        });
    }
    Ok(())
}

/// Works out afresh the first counting order of each of the store's customers `keys` (a customer left without
/// one loses their row).
pub(super) async fn refresh_first_orders(
    tx: &mut WriteTx,
    organization: Uuid,
    store: Uuid,
    keys: &BTreeSet<String>,
    zone: Tz,
) -> Result<(), DbError> {
    if keys.is_empty() {
        return Ok(());
    }
    if let WriteTx::Postgres(conn) = tx {
        let prefix: [u8; 8] = store.as_bytes()[..8].try_into().unwrap_or_default();
        let lock = i64::from_be_bytes(prefix) ^ FIRST_ORDER_LOCK;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock).execute(&mut **conn).await?;
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    for chunk in keys.chunks(CHUNK) {
        on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new("DELETE FROM customers WHERE organization_id = ");
            qb.push_bind(organization).push(" AND store_id = ").push_bind(store).push(" AND customer_key IN (");
            push_list(&mut qb, chunk);
            qb.push(")");
            qb.build().execute(&mut **conn).await?;
        });
        let firsts: Vec<(String, Uuid, DateTime<Utc>)> = on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(
                "SELECT customer_key, id, placed_at FROM (SELECT customer_key, id, placed_at, \
                 row_number() OVER (PARTITION BY customer_key ORDER BY placed_at, id) AS n \
                 FROM orders WHERE organization_id = ",
            );
            qb.push_bind(organization).push(" AND store_id = ").push_bind(store);
            qb.push(" AND status IN ('open', 'paid', 'fulfilled') AND customer_key IN (");
            push_list(&mut qb, chunk);
            qb.push(")) f WHERE n = 1");
            qb.build_query_as().fetch_all(&mut **conn).await?
        });
        if firsts.is_empty() {
            continue;
        }
        let revenue = order_revenue(tx, organization, firsts.iter().map(|(_, order, _)| *order)).await?;
        let firsts: Vec<(Customer, FirstOrder)> = firsts
            .into_iter()
            .map(|(key, order, placed_at)| {
                let first = FirstOrder {
                    order,
                    placed_at,
                    day: local_day(placed_at, zone),
                    revenue_minor: revenue.get(&order).copied().unwrap_or(0),
                };
                (Customer { store, key }, first)
            })
            .collect();
        insert_first_orders(tx, organization, firsts.iter().map(|(customer, first)| (customer, first))).await?;
    }
    Ok(())
}

/// Pushes `values` as a bound, comma-separated list (inside parentheses the caller writes).
fn push_list<'args, DB, T>(qb: &mut QueryBuilder<'args, DB>, values: &'args [T])
where
    DB: sqlx::Database,
    &'args T: sqlx::Encode<'args, DB> + sqlx::Type<DB>,
{
    let mut list = qb.separated(", ");
    for value in values {
        list.push_bind(value);
    }
}

/// The revenue of each of `orders` (line totals net of refunds), by order id.
async fn order_revenue(
    tx: &mut WriteTx,
    organization: Uuid,
    orders: impl Iterator<Item = Uuid>,
) -> Result<HashMap<Uuid, i64>, DbError> {
    let orders: Vec<Uuid> = orders.collect();
    let mut revenue = HashMap::new();
    for chunk in orders.chunks(CHUNK) {
        let lines: Vec<(Uuid, i32, i64, i32, i64)> = on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(
                "SELECT order_id, quantity, total_minor, refunded_quantity, refunded_minor FROM order_lines \
                 WHERE organization_id = ",
            );
            qb.push_bind(organization).push(" AND order_id IN (");
            push_list(&mut qb, chunk);
            qb.push(")");
            qb.build_query_as().fetch_all(&mut **conn).await?
        });
        for (order, quantity, total_minor, refunded_quantity, refunded_minor) in lines {
            let line = SoldLine {
                product: None,
                quantity: i64::from(quantity),
                total_minor,
                refunded_quantity: i64::from(refunded_quantity),
                refunded_minor,
            };
            *revenue.entry(order).or_default() += line.sale(None).total_minor;
        }
    }
    Ok(revenue)
}

/// Removes a customer from the store's customer rollups (`customers/redact`; their orders become guest checkouts).
pub(super) async fn forget(tx: &mut WriteTx, organization: Uuid, store: Uuid, key: &str) -> Result<(), DbError> {
    for table in ["customer_days", "customers"] {
        let sql = format!("DELETE FROM {table} WHERE organization_id = $1 AND store_id = $2 AND customer_key = $3");
        on_tx!(tx, |conn| sqlx::query(&sql)
            .bind(organization)
            .bind(store)
            .bind(key)
            .execute(&mut **conn)
            .await
            .map(drop)?);
    }
    Ok(())
}

/// The organization's stored customer rollups.
pub(super) async fn stored(tx: &mut WriteTx, organization: Uuid) -> Result<CustomerRollups, DbError> {
    const DAYS: &str = "SELECT store_id, customer_key, day, orders, revenue_minor FROM customer_days \
         WHERE organization_id = $1";
    const FIRSTS: &str = "SELECT store_id, customer_key, first_order_id, first_order_at, first_day, \
         first_order_revenue_minor FROM customers WHERE organization_id = $1";
    let days: Vec<(Uuid, String, NaiveDate, i64, i64)> =
        on_tx!(tx, |conn| sqlx::query_as(DAYS).bind(organization).fetch_all(&mut **conn).await?);
    let firsts: Vec<(Uuid, String, Uuid, DateTime<Utc>, NaiveDate, i64)> =
        on_tx!(tx, |conn| sqlx::query_as(FIRSTS).bind(organization).fetch_all(&mut **conn).await?);
    Ok(CustomerRollups {
        days: days
            .into_iter()
            .map(|(store, key, day, orders, revenue_minor)| {
                ((Customer { store, key }, day), Spend { orders, revenue_minor })
            })
            .collect(),
        first_orders: firsts
            .into_iter()
            .map(|(store, key, order, placed_at, day, revenue_minor)| {
                (Customer { store, key }, FirstOrder { order, placed_at, day, revenue_minor })
            })
            .collect(),
    })
}

/// Replaces the organization's customer rollups with `rollups`.
pub(super) async fn replace(tx: &mut WriteTx, organization: Uuid, rollups: &CustomerRollups) -> Result<(), DbError> {
    for table in ["customer_days", "customers"] {
        let sql = format!("DELETE FROM {table} WHERE organization_id = $1");
        on_tx!(tx, |conn| sqlx::query(&sql).bind(organization).execute(&mut **conn).await.map(drop)?);
    }
    apply_customer_delta(tx, organization, &rollups.days).await?;
    insert_first_orders(tx, organization, rollups.first_orders.iter()).await
}

/// Stores first orders (of customers without a row).
async fn insert_first_orders<'a>(
    tx: &mut WriteTx,
    organization: Uuid,
    firsts: impl Iterator<Item = (&'a Customer, &'a FirstOrder)>,
) -> Result<(), DbError> {
    let firsts: Vec<_> = firsts.collect();
    for chunk in firsts.chunks(CHUNK) {
        on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(
                "INSERT INTO customers (organization_id, store_id, customer_key, first_order_id, first_order_at, \
                 first_day, first_order_revenue_minor) ",
            );
            qb.push_values(chunk, |mut row, (customer, first)| {
                row.push_bind(organization)
                    .push_bind(customer.store)
                    .push_bind(customer.key.as_str())
                    .push_bind(first.order)
                    .push_bind(first.placed_at)
                    .push_bind(first.day)
                    .push_bind(first.revenue_minor);
            });
            qb.build().execute(&mut **conn).await?;
        });
    }
    Ok(())
}

impl Database {
    /// The range's customer figures, from the customer rollups and the daily totals (guest checkouts are the
    /// range's orders and revenue that no customer's days hold), as of one snapshot.
    pub async fn customer_figures(&self, organization: Uuid, range: DateRange) -> Result<CustomerFigures, DbError> {
        const DAYS: &str = "SELECT d.store_id, d.customer_key, c.first_day, c.first_order_revenue_minor, d.day, \
             d.orders, d.revenue_minor FROM customer_days d JOIN customers c ON c.organization_id = d.organization_id \
             AND c.store_id = d.store_id AND c.customer_key = d.customer_key \
             WHERE d.organization_id = $1 AND d.day >= $2 AND d.day <= $3";
        const TOTALS: &str = "SELECT CAST(coalesce(sum(orders), 0) AS BIGINT), \
             CAST(coalesce(sum(revenue_minor), 0) AS BIGINT) FROM daily_totals \
             WHERE organization_id = $1 AND day >= $2 AND day <= $3";
        type DayRow = (Uuid, String, NaiveDate, i64, NaiveDate, i64, i64);
        let mut tx = self.begin_snapshot(false).await?;
        let rows: Vec<DayRow> = on_tx!(&mut tx, |conn| sqlx::query_as(DAYS)
            .bind(organization)
            .bind(range.from())
            .bind(range.to())
            .fetch_all(&mut **conn)
            .await?);
        let (orders, revenue_minor): (i64, i64) = on_tx!(&mut tx, |conn| sqlx::query_as(TOTALS)
            .bind(organization)
            .bind(range.from())
            .bind(range.to())
            .fetch_one(&mut **conn)
            .await?);
        tx.commit().await?;
        let days: Vec<CustomerDay> = rows
            .into_iter()
            .map(|(store, key, first_day, first_order_revenue_minor, day, orders, revenue_minor)| CustomerDay {
                customer: Customer { store, key },
                first_day,
                first_order_revenue_minor,
                day,
                spend: Spend { orders, revenue_minor },
            })
            .collect();
        let guest = Segment {
            customers: 0,
            orders: orders - days.iter().map(|d| d.spend.orders).sum::<i64>(),
            revenue_minor: revenue_minor - days.iter().map(|d| d.spend.revenue_minor).sum::<i64>(),
        };
        Ok(customer_figures(&days, guest, range))
    }
}
