//! Storage of orders and their lines, idempotent on `(store, external id)`, with the daily rollups and the customer
//! rollups kept in step in the same transaction: a write takes the old order's contribution back and adds the new
//! one's (see [`crate::analytics`] for what an order contributes, and [`crate::db::rollups`] and
//! [`crate::db::customers`] for how rollups are stored).
//! Each line is stored with the unit cost in force when the order was placed ([`crate::costs`]), resolved when
//! it is written, so the rollups follow from the stored rows alone.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::{
    Database, DbError,
    analytics::{known_products, organization_zone, stored_status},
    costs::{CostChange, append_cost_entries, load_histories},
    customers::{apply_customer_delta, refresh_first_orders},
    now_micros,
    rollups::apply_rollup_delta,
    tx::{WriteTx, on_tx},
};
use crate::{
    analytics::{Customer, CustomerDays, OrderStatus, Rollups, SaleFacts, SaleLine, SoldLine, Tz},
    catalogue::UpsertCounts,
    costs::CostHistory,
};

/// An order as a platform describes it, ready to upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderInput {
    /// The platform's id for it, unique within the store.
    pub external_id: String,
    /// When it was placed (stored to the microsecond).
    pub placed_at: DateTime<Utc>,
    /// Where it stands.
    pub status: OrderStatus,
    /// The order total as the platform reports it (shipping and tax included), minor units. Analytics revenue is
    /// the sum of line totals instead.
    pub total_minor: i64,
    /// Its lines, in the platform's order.
    pub lines: Vec<OrderLineInput>,
    /// The platform's id of its customer; `None` for a guest checkout. Nothing else of the customer is kept.
    pub customer: Option<String>,
}

/// One line of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLineInput {
    /// The product sold, as one of the organization's product ids, when the line maps to one.
    pub product_id: Option<Uuid>,
    /// The variant sold, when known.
    pub variant_id: Option<Uuid>,
    /// Units, at least 1.
    pub quantity: i32,
    /// Line total after line discounts, minor units.
    pub total_minor: i64,
    /// Units refunded (or removed by an edit), 0 to `quantity`.
    pub refunded_quantity: i32,
    /// The amount refunded for the line, minor units, 0 to `total_minor`.
    pub refunded_minor: i64,
}

impl OrderLineInput {
    /// A line nothing of which was refunded.
    pub fn sold(product_id: Option<Uuid>, variant_id: Option<Uuid>, quantity: i32, total_minor: i64) -> Self {
        Self { product_id, variant_id, quantity, total_minor, refunded_quantity: 0, refunded_minor: 0 }
    }

    /// What the line counts for in sales figures, with the unit cost it carries: net of its refunds.
    pub fn sale(&self, unit_cost_minor: Option<i64>) -> SaleLine {
        SoldLine {
            product: self.product_id,
            quantity: i64::from(self.quantity),
            total_minor: self.total_minor,
            refunded_quantity: i64::from(self.refunded_quantity),
            refunded_minor: self.refunded_minor,
        }
        .sale(unit_cost_minor)
    }
}

/// A line as stored: as given, with the unit cost it carries (`None`: unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoredLine {
    line: OrderLineInput,
    unit_cost_minor: Option<i64>,
}

/// An order's state: as stored, or as it will be once the batch is written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OrderState {
    id: Uuid,
    placed_at: DateTime<Utc>,
    status: OrderStatus,
    total_minor: i64,
    customer: Option<String>,
    lines: Vec<StoredLine>,
}

/// The unit cost a line of `product`'s `variant` sold at `at` carries, from the histories of the products in play.
fn cost_of(
    histories: &HashMap<Uuid, CostHistory>,
    product: Option<Uuid>,
    variant: Option<Uuid>,
    at: DateTime<Utc>,
) -> Option<i64> {
    histories.get(&product?)?.cost_at(variant, at)
}

impl OrderState {
    /// What the order adds to the rollups.
    fn contribution(&self, zone: Tz) -> Rollups {
        let lines = self.sale_lines();
        let mut rollups = Rollups::new();
        rollups.add_order(&self.facts(&lines), zone);
        rollups
    }

    /// What the order, as one of the store's, adds to the rollups and to the customer rollups.
    fn contributions(&self, store: Uuid, zone: Tz) -> (Rollups, CustomerDays) {
        let lines = self.sale_lines();
        let facts = self.facts(&lines);
        let mut rollups = Rollups::new();
        rollups.add_order(&facts, zone);
        let customer = self.customer.clone().map(|key| Customer { store, key });
        let mut days = CustomerDays::new();
        days.add_order(customer.as_ref(), &facts, zone);
        (rollups, days)
    }

    fn sale_lines(&self) -> Vec<SaleLine> {
        self.lines.iter().map(|l| l.line.sale(l.unit_cost_minor)).collect()
    }

    fn facts<'a>(&self, lines: &'a [SaleLine]) -> SaleFacts<'a> {
        SaleFacts { placed_at: self.placed_at, status: self.status, lines }
    }

    fn same_row(&self, other: &Self) -> bool {
        self.placed_at == other.placed_at
            && self.status == other.status
            && self.total_minor == other.total_minor
            && self.customer == other.customer
    }
}

/// The change a batch of order writes makes to one store's figures: to the rollups, to the customer days, and the
/// customers whose first order must be worked out again.
struct BatchDelta {
    store: Uuid,
    zone: Tz,
    rollups: Rollups,
    customer_days: CustomerDays,
    customers: BTreeSet<String>,
}

impl BatchDelta {
    fn new(store: Uuid, zone: Tz) -> Self {
        Self { store, zone, rollups: Rollups::new(), customer_days: CustomerDays::new(), customers: BTreeSet::new() }
    }

    /// Counts an order state in.
    fn add(&mut self, state: &OrderState) {
        let (rollups, days) = state.contributions(self.store, self.zone);
        self.rollups.add_all(&rollups);
        self.customer_days.add_all(&days);
        self.customers.extend(state.customer.clone());
    }

    /// Takes an order state out.
    fn subtract(&mut self, state: &OrderState) {
        let (rollups, days) = state.contributions(self.store, self.zone);
        self.rollups.subtract_all(&rollups);
        self.customer_days.subtract_all(&days);
        self.customers.extend(state.customer.clone());
    }

    /// Writes the change, after the orders themselves (the first orders are read back from them).
    async fn apply(&self, tx: &mut WriteTx, organization: Uuid) -> Result<(), DbError> {
        apply_rollup_delta(tx, organization, &self.rollups).await?;
        apply_customer_delta(tx, organization, &self.customer_days).await?;
        refresh_first_orders(tx, organization, self.store, &self.customers, self.zone).await
    }
}

/// The precision both backends keep, so an unchanged order reads back equal to its input.
fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at)
}

/// Ids per `IN (…)` list and rows per multi-row INSERT: well under both backends' parameter limits.
const CHUNK: usize = 500;

/// The store's orders with these external ids, with their lines, by external id. On PostgreSQL the order rows are
/// locked (`FOR UPDATE`) so concurrent writers of one order take turns: each must take back exactly what the
/// other left in the rollups.
async fn load_orders(
    tx: &mut WriteTx,
    organization: Uuid,
    store: Uuid,
    external_ids: &[&str],
) -> Result<HashMap<String, OrderState>, DbError> {
    type OrderRow = (Uuid, String, DateTime<Utc>, String, i64, Option<String>);
    let lock = if tx.is_postgres() { " FOR UPDATE" } else { "" };
    let mut orders = HashMap::with_capacity(external_ids.len());
    let mut by_id: HashMap<Uuid, String> = HashMap::with_capacity(external_ids.len());
    for chunk in external_ids.chunks(CHUNK) {
        let rows: Vec<OrderRow> = on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(
                "SELECT id, external_id, placed_at, status, total_minor, customer_key FROM orders WHERE organization_id = ",
            );
            qb.push_bind(organization).push(" AND store_id = ").push_bind(store).push(" AND external_id IN (");
            let mut ids = qb.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            qb.push(")").push(lock);
            qb.build_query_as().fetch_all(&mut **conn).await?
        });
        for (id, external_id, placed_at, status, total_minor, customer) in rows {
            let status = stored_status(&status)?;
            let state = OrderState { id, placed_at, status, total_minor, customer, lines: Vec::new() };
            by_id.insert(id, external_id.clone());
            orders.insert(external_id, state);
        }
    }
    let ids: Vec<Uuid> = by_id.keys().copied().collect();
    for (order, lines) in load_lines(tx, organization, &ids).await? {
        if let Some(state) = by_id.get(&order).and_then(|external_id| orders.get_mut(external_id)) {
            state.lines = lines;
        }
    }
    Ok(orders)
}

/// The lines of these orders, in line order, by order.
async fn load_lines(
    tx: &mut WriteTx,
    organization: Uuid,
    orders: &[Uuid],
) -> Result<HashMap<Uuid, Vec<StoredLine>>, DbError> {
    type LineRow = (Uuid, Option<Uuid>, Option<Uuid>, i32, i64, i32, i64, Option<i64>);
    let mut lines: HashMap<Uuid, Vec<StoredLine>> = HashMap::with_capacity(orders.len());
    for chunk in orders.chunks(CHUNK) {
        let rows: Vec<LineRow> = on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(
                "SELECT order_id, product_id, variant_id, quantity, total_minor, refunded_quantity, refunded_minor, \
                 unit_cost_minor FROM order_lines WHERE organization_id = ",
            );
            qb.push_bind(organization).push(" AND order_id IN (");
            let mut ids = qb.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            qb.push(") ORDER BY order_id, line_no");
            qb.build_query_as().fetch_all(&mut **conn).await?
        });
        for (
            order,
            product_id,
            variant_id,
            quantity,
            total_minor,
            refunded_quantity,
            refunded_minor,
            unit_cost_minor,
        ) in rows
        {
            let line =
                OrderLineInput { product_id, variant_id, quantity, total_minor, refunded_quantity, refunded_minor };
            lines.entry(order).or_default().push(StoredLine { line, unit_cost_minor });
        }
    }
    Ok(lines)
}

/// Records `changes` as effective from `at` and re-resolves the costs of the order lines they can change (those
/// without a cost, which a first cost reaches back to, and any sold at or after `at`), keeping the rollups in step.
/// Costs the caller did not change must not be passed: every entry is a change in the history.
pub(super) async fn record_cost_changes(
    tx: &mut WriteTx,
    organization: Uuid,
    changes: &[CostChange],
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    if changes.is_empty() {
        return Ok(());
    }
    append_cost_entries(tx, organization, changes, at).await?;
    let products: HashSet<Uuid> = changes.iter().map(|c| c.product).collect();
    recost_orders(tx, organization, &products, at).await
}

/// Re-resolves the unit costs of the lines of `products` that a cost recorded at `since` can change — those
/// without a cost (a first cost reaches back to them) and those sold at or after `since` — and keeps the rollups in
/// step: each changed order's old contribution is taken back and its new one added. On PostgreSQL the orders are
/// locked like any other order write. Costs of other products' lines are left as stored.
async fn recost_orders(
    tx: &mut WriteTx,
    organization: Uuid,
    products: &HashSet<Uuid>,
    since: DateTime<Utc>,
) -> Result<(), DbError> {
    type OrderRow = (Uuid, DateTime<Utc>, String, i64, Option<String>);
    let product_list: Vec<Uuid> = products.iter().copied().collect();
    let mut affected: Vec<Uuid> = Vec::new();
    for chunk in product_list.chunks(CHUNK) {
        let ids: Vec<Uuid> = on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(
                "SELECT DISTINCT l.order_id FROM order_lines l JOIN orders o \
                 ON o.organization_id = l.organization_id AND o.id = l.order_id WHERE l.organization_id = ",
            );
            qb.push_bind(organization).push(" AND l.product_id IN (");
            let mut ids = qb.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            qb.push(") AND (l.unit_cost_minor IS NULL OR o.placed_at >= ").push_bind(since).push(")");
            qb.build_query_scalar().fetch_all(&mut **conn).await?
        });
        affected.extend(ids);
    }
    if affected.is_empty() {
        return Ok(());
    }
    affected.sort_unstable();
    affected.dedup();
    let lock = if tx.is_postgres() { " ORDER BY id FOR UPDATE" } else { "" };
    let mut orders: Vec<OrderState> = Vec::with_capacity(affected.len());
    for chunk in affected.chunks(CHUNK) {
        let rows: Vec<OrderRow> = on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(
                "SELECT id, placed_at, status, total_minor, customer_key FROM orders WHERE organization_id = ",
            );
            qb.push_bind(organization).push(" AND id IN (");
            let mut ids = qb.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            qb.push(")").push(lock);
            qb.build_query_as().fetch_all(&mut **conn).await?
        });
        for (id, placed_at, status, total_minor, customer) in rows {
            let status = stored_status(&status)?;
            orders.push(OrderState { id, placed_at, status, total_minor, customer, lines: Vec::new() });
        }
    }
    let mut lines = load_lines(tx, organization, &affected).await?;
    let histories = load_histories(tx, organization, products).await?;
    let zone = organization_zone(tx, organization).await?;
    let mut delta = Rollups::new();
    // (order, line number, new cost)
    let mut changed: Vec<(Uuid, i32, Option<i64>)> = Vec::new();
    for mut order in orders {
        order.lines = lines.remove(&order.id).unwrap_or_default();
        let before = order.contribution(zone);
        let mut any = false;
        for (index, stored) in order.lines.iter_mut().enumerate() {
            if !stored.line.product_id.is_some_and(|p| products.contains(&p)) {
                continue;
            }
            let cost = cost_of(&histories, stored.line.product_id, stored.line.variant_id, order.placed_at);
            if cost != stored.unit_cost_minor {
                stored.unit_cost_minor = cost;
                changed.push((order.id, i32::try_from(index + 1).unwrap_or(i32::MAX), cost));
                any = true;
            }
        }
        if any {
            delta.subtract_all(&before);
            delta.add_all(&order.contribution(zone));
        }
    }
    update_line_costs(tx, organization, &changed).await?;
    apply_rollup_delta(tx, organization, &delta).await
}

/// Sets the unit costs of lines `(order, line number, cost)`.
async fn update_line_costs(
    tx: &mut WriteTx,
    organization: Uuid,
    lines: &[(Uuid, i32, Option<i64>)],
) -> Result<(), DbError> {
    match tx {
        WriteTx::Postgres(conn) => {
            for chunk in lines.chunks(CHUNK) {
                sqlx::query(
                    "UPDATE order_lines l SET unit_cost_minor = u.cost \
                     FROM UNNEST($2::uuid[], $3::int4[], $4::int8[]) AS u (order_id, line_no, cost) \
                     WHERE l.organization_id = $1 AND l.order_id = u.order_id AND l.line_no = u.line_no",
                )
                .bind(organization)
                .bind(chunk.iter().map(|l| l.0).collect::<Vec<_>>())
                .bind(chunk.iter().map(|l| l.1).collect::<Vec<_>>())
                .bind(chunk.iter().map(|l| l.2).collect::<Vec<_>>())
                .execute(&mut **conn)
                .await?;
            }
        }
        WriteTx::Sqlite(conn) => {
            for (order, line_no, cost) in lines {
                sqlx::query(
                    "UPDATE order_lines SET unit_cost_minor = $4 \
                     WHERE organization_id = $1 AND order_id = $2 AND line_no = $3",
                )
                .bind(organization)
                .bind(order)
                .bind(line_no)
                .bind(cost)
                .execute(&mut **conn)
                .await?;
            }
        }
    }
    Ok(())
}

async fn insert_orders(
    tx: &mut WriteTx,
    organization: Uuid,
    store: Uuid,
    orders: &[(&str, &OrderState)],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    for chunk in orders.chunks(CHUNK) {
        on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(
                "INSERT INTO orders (id, organization_id, store_id, external_id, placed_at, status, total_minor, \
                 updated_at, customer_key) ",
            );
            qb.push_values(chunk, |mut row, (external_id, order)| {
                row.push_bind(order.id)
                    .push_bind(organization)
                    .push_bind(store)
                    .push_bind(*external_id)
                    .push_bind(order.placed_at)
                    .push_bind(order.status.as_str())
                    .push_bind(order.total_minor)
                    .push_bind(now)
                    .push_bind(order.customer.as_deref());
            });
            qb.build().execute(&mut **conn).await?;
        });
    }
    Ok(())
}

async fn insert_lines(tx: &mut WriteTx, organization: Uuid, orders: &[&OrderState]) -> Result<(), DbError> {
    let lines: Vec<(Uuid, i32, &StoredLine)> = orders
        .iter()
        .flat_map(|order| {
            order
                .lines
                .iter()
                .enumerate()
                .map(|(index, line)| (order.id, i32::try_from(index + 1).unwrap_or(i32::MAX), line))
        })
        .collect();
    for chunk in lines.chunks(CHUNK) {
        on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(
                "INSERT INTO order_lines (order_id, organization_id, line_no, product_id, variant_id, quantity, \
                 total_minor, refunded_quantity, refunded_minor, unit_cost_minor) ",
            );
            qb.push_values(chunk, |mut row, (order, line_no, stored)| {
                row.push_bind(*order)
                    .push_bind(organization)
                    .push_bind(*line_no)
                    .push_bind(stored.line.product_id)
                    .push_bind(stored.line.variant_id)
                    .push_bind(stored.line.quantity)
                    .push_bind(stored.line.total_minor)
                    .push_bind(stored.line.refunded_quantity)
                    .push_bind(stored.line.refunded_minor)
                    .push_bind(stored.unit_cost_minor);
            });
            qb.build().execute(&mut **conn).await?;
        });
    }
    Ok(())
}

/// What [`delete_rows`] deletes.
#[derive(Clone, Copy)]
enum OrderRows {
    /// The orders' lines.
    Lines,
    /// The orders themselves (delete their lines first).
    Orders,
}

/// Deletes the lines of these orders, or the orders themselves.
async fn delete_rows(tx: &mut WriteTx, organization: Uuid, orders: &[Uuid], rows: OrderRows) -> Result<(), DbError> {
    let (head, column) = match rows {
        OrderRows::Orders => ("DELETE FROM orders WHERE organization_id = ", " AND id IN ("),
        OrderRows::Lines => ("DELETE FROM order_lines WHERE organization_id = ", " AND order_id IN ("),
    };
    for chunk in orders.chunks(CHUNK) {
        on_tx!(tx, |conn| {
            let mut qb = QueryBuilder::new(head);
            qb.push_bind(organization).push(column);
            let mut ids = qb.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            qb.push(")");
            qb.build().execute(&mut **conn).await?;
        });
    }
    Ok(())
}

impl Database {
    /// Inserts, updates or leaves unchanged each order (idempotent on `(store, external id)`; an external id
    /// repeated in the batch is applied in order, the last one winning), replacing an updated order's lines, and
    /// keeps the daily rollups in step, all in one transaction and a few statements per few hundred orders. A line
    /// naming a product the organization does not have is stored without it (a sync mapping bug must not write
    /// figures into another tenant's product): it still counts toward the organization's totals.
    #[tracing::instrument(name = "upserting orders", skip_all, fields(tenant = %organization, %store, orders = orders.len()))]
    pub async fn upsert_orders(
        &self,
        organization: Uuid,
        store: Uuid,
        orders: &[OrderInput],
    ) -> Result<UpsertCounts, DbError> {
        if orders.is_empty() {
            return Ok(UpsertCounts::default());
        }
        let mut tx = self.begin_write().await?;
        let counts = Self::upsert_orders_in(&mut tx, organization, store, orders).await?;
        tx.commit().await?;
        Ok(counts)
    }

    /// [`Database::upsert_orders`] within a transaction that also does other work (a webhook delivery's claim).
    pub(super) async fn upsert_orders_in(
        tx: &mut WriteTx,
        organization: Uuid,
        store: Uuid,
        orders: &[OrderInput],
    ) -> Result<UpsertCounts, DbError> {
        let mut counts = UpsertCounts::default();
        if orders.is_empty() {
            return Ok(counts);
        }
        let zone = organization_zone(tx, organization).await?;
        let named: HashSet<Uuid> = orders.iter().flat_map(|o| o.lines.iter().filter_map(|l| l.product_id)).collect();
        let known = known_products(tx, organization, &named).await?;
        let histories = load_histories(tx, organization, &known).await?;
        let mut external_ids: Vec<&str> = orders.iter().map(|o| o.external_id.as_str()).collect();
        external_ids.sort_unstable();
        external_ids.dedup();
        let stored = load_orders(tx, organization, store, &external_ids).await?;

        // Apply the batch in memory: the state every order will have, and the change to the rollups.
        let mut current: HashMap<&str, OrderState> =
            stored.iter().map(|(external_id, state)| (external_id.as_str(), state.clone())).collect();
        // Orders to write, in the order first met.
        let mut touched: Vec<&str> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut delta = BatchDelta::new(store, zone);
        for order in orders {
            let placed_at = to_micros(order.placed_at);
            let lines: Vec<StoredLine> = order
                .lines
                .iter()
                .map(|line| {
                    let product_id = line.product_id.filter(|p| known.contains(p));
                    StoredLine {
                        line: OrderLineInput { product_id, ..*line },
                        unit_cost_minor: cost_of(&histories, product_id, line.variant_id, placed_at),
                    }
                })
                .collect();
            let external_id = order.external_id.as_str();
            let id = current.get(external_id).map_or_else(Uuid::new_v4, |state| state.id);
            let next = OrderState {
                id,
                placed_at,
                status: order.status,
                total_minor: order.total_minor,
                customer: order.customer.clone(),
                lines,
            };
            match current.get(external_id) {
                None => counts.created += 1,
                Some(state) if *state == next => {
                    counts.unchanged += 1;
                    continue;
                }
                Some(state) => {
                    delta.subtract(state);
                    counts.updated += 1;
                }
            }
            delta.add(&next);
            if seen.insert(external_id) {
                touched.push(external_id);
            }
            current.insert(external_id, next);
        }

        // Write the final states.
        let now = now_micros();
        let mut new_orders: Vec<(&str, &OrderState)> = Vec::new();
        let mut new_lines: Vec<&OrderState> = Vec::new();
        let mut replaced_lines: Vec<Uuid> = Vec::new();
        for external_id in &touched {
            let Some(state) = current.get(external_id) else { continue };
            match stored.get(*external_id) {
                None => {
                    new_orders.push((external_id, state));
                    new_lines.push(state);
                }
                Some(before) => {
                    if !before.same_row(state) {
                        on_tx!(tx, |conn| sqlx::query(
                            "UPDATE orders SET placed_at = $2, status = $3, total_minor = $4, updated_at = $5, \
                             customer_key = $6 WHERE id = $1"
                        )
                        .bind(state.id)
                        .bind(state.placed_at)
                        .bind(state.status.as_str())
                        .bind(state.total_minor)
                        .bind(now)
                        .bind(state.customer.as_deref())
                        .execute(&mut **conn)
                        .await
                        .map(drop)?);
                    }
                    if before.lines != state.lines {
                        replaced_lines.push(state.id);
                        new_lines.push(state);
                    }
                }
            }
        }
        delete_rows(tx, organization, &replaced_lines, OrderRows::Lines).await?;
        insert_orders(tx, organization, store, &new_orders, now).await?;
        insert_lines(tx, organization, &new_lines).await?;
        delta.apply(tx, organization).await?;
        Ok(counts)
    }

    /// Deletes orders by external id (those the store does not have are ignored) and takes their contribution out
    /// of the rollups, in one transaction. Returns how many were deleted.
    #[tracing::instrument(name = "deleting orders", skip_all, fields(tenant = %organization, %store, orders = external_ids.len()))]
    pub async fn delete_orders(
        &self,
        organization: Uuid,
        store: Uuid,
        external_ids: &[String],
    ) -> Result<u64, DbError> {
        if external_ids.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let deleted = Self::delete_orders_in(&mut tx, organization, store, external_ids).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// [`Database::delete_orders`] within a transaction that also does other work (a webhook delivery's claim).
    pub(super) async fn delete_orders_in(
        tx: &mut WriteTx,
        organization: Uuid,
        store: Uuid,
        external_ids: &[String],
    ) -> Result<u64, DbError> {
        let zone = organization_zone(tx, organization).await?;
        let mut wanted: Vec<&str> = external_ids.iter().map(String::as_str).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let stored = load_orders(tx, organization, store, &wanted).await?;
        let mut delta = BatchDelta::new(store, zone);
        for state in stored.values() {
            delta.subtract(state);
        }
        let ids: Vec<Uuid> = stored.values().map(|state| state.id).collect();
        delete_rows(tx, organization, &ids, OrderRows::Lines).await?;
        delete_rows(tx, organization, &ids, OrderRows::Orders).await?;
        delta.apply(tx, organization).await?;
        Ok(ids.len() as u64)
    }
}
