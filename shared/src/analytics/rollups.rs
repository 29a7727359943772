//! Which writes count toward which daily rollup: order and event kinds, the counters a rollup row holds, and the
//! rollups a batch of orders and events adds.

use super::*;

/// Where an order stands on its platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed, not yet paid.
    Open,
    /// Paid.
    Paid,
    /// Shipped or handed over.
    Fulfilled,
    /// Cancelled before completion.
    Cancelled,
    /// Money returned.
    Refunded,
}

impl OrderStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Paid => "paid",
            Self::Fulfilled => "fulfilled",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
        }
    }

    /// Reads a stored or platform-mapped name.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match text {
            "open" => Ok(Self::Open),
            "paid" => Ok(Self::Paid),
            "fulfilled" => Ok(Self::Fulfilled),
            "cancelled" => Ok(Self::Cancelled),
            "refunded" => Ok(Self::Refunded),
            _ => Err(ParseError::new(format!("`{text}` is not one of open, paid, fulfilled, cancelled, refunded"))),
        }
    }

    /// Whether an order in this status counts toward sales figures.
    pub fn counts_as_sale(self) -> bool {
        matches!(self, Self::Open | Self::Paid | Self::Fulfilled)
    }
}

/// What a storefront event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A product (or page) was viewed.
    View,
    /// A product went into a cart.
    AddToCart,
    /// A checkout completed (as the storefront saw it; sales figures come from orders).
    Purchase,
}

impl EventKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::AddToCart => "add_to_cart",
            Self::Purchase => "purchase",
        }
    }

    /// Reads a stored or client-sent name.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match text {
            "view" => Ok(Self::View),
            "add_to_cart" => Ok(Self::AddToCart),
            "purchase" => Ok(Self::Purchase),
            _ => Err(ParseError::new(format!("`{text}` is not one of view, add_to_cart, purchase"))),
        }
    }
}

/// The counters one rollup row holds. Money in minor units of the organization's currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// Counting orders.
    pub orders: i64,
    /// Units sold.
    pub units: i64,
    /// Sum of line totals.
    pub revenue_minor: i64,
    /// View events.
    pub views: i64,
    /// Add-to-cart events.
    pub add_to_carts: i64,
    /// Purchase events.
    pub purchases: i64,
    /// Cost of goods of the lines with a known unit cost.
    pub cost_minor: i64,
    /// Counting orders with a line whose unit cost is unknown.
    pub unknown_cost_orders: i64,
    /// Units on lines whose unit cost is unknown.
    pub unknown_cost_units: i64,
    /// Line totals of lines whose unit cost is unknown.
    pub unknown_cost_revenue_minor: i64,
}

/// The measures a rollup row holds, as stored: the column names of every rollup table, in [`Counters::to_array`]
/// order. A new measure is a field of [`Counters`], its name here, a column of each rollup table (an array column of
/// `rollup_deltas` on PostgreSQL), and its rule in [`Rollups::add_order`] or [`Rollups::add_event`]; storage,
/// folding, rebuilds and reads follow from this list.
pub const MEASURES: [&str; 10] = [
    "orders",
    "units",
    "revenue_minor",
    "views",
    "add_to_carts",
    "purchases",
    "cost_minor",
    "unknown_cost_orders",
    "unknown_cost_units",
    "unknown_cost_revenue_minor",
];

impl Counters {
    /// Every counter is zero (such a row carries nothing and is not stored).
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// The counters in [`MEASURES`] order.
    pub fn to_array(self) -> [i64; MEASURES.len()] {
        [
            self.orders,
            self.units,
            self.revenue_minor,
            self.views,
            self.add_to_carts,
            self.purchases,
            self.cost_minor,
            self.unknown_cost_orders,
            self.unknown_cost_units,
            self.unknown_cost_revenue_minor,
        ]
    }

    /// Counters from values in [`MEASURES`] order.
    pub fn from_array(
        [
            orders,
            units,
            revenue_minor,
            views,
            add_to_carts,
            purchases,
            cost_minor,
            unknown_cost_orders,
            unknown_cost_units,
            unknown_cost_revenue_minor,
        ]: [i64; MEASURES.len()],
    ) -> Self {
        Self {
            orders,
            units,
            revenue_minor,
            views,
            add_to_carts,
            purchases,
            cost_minor,
            unknown_cost_orders,
            unknown_cost_units,
            unknown_cost_revenue_minor,
        }
    }

    /// Net sales of the lines whose unit cost is known: what profit and margin are computed over.
    pub fn costed_revenue_minor(&self) -> i64 {
        self.revenue_minor - self.unknown_cost_revenue_minor
    }

    /// Gross profit of the lines whose unit cost is known.
    pub fn profit_minor(&self) -> i64 {
        self.costed_revenue_minor() - self.cost_minor
    }

    /// Whether a sales figure (one that orders contribute, which rankings read) is not zero.
    pub fn has_sales(&self) -> bool {
        self.orders != 0
            || self.units != 0
            || self.revenue_minor != 0
            || self.cost_minor != 0
            || self.unknown_cost_orders != 0
            || self.unknown_cost_units != 0
            || self.unknown_cost_revenue_minor != 0
    }

    /// The counter-wise sum.
    pub fn plus(self, other: Self) -> Self {
        let (mut sum, other) = (self.to_array(), other.to_array());
        sum.iter_mut().zip(other).for_each(|(a, b)| *a += b);
        Self::from_array(sum)
    }

    /// The counter-wise negation, to take a contribution back.
    pub fn negated(self) -> Self {
        Self::from_array(self.to_array().map(|v| -v))
    }
}

/// Which rollup row: the organization's totals for a day (`product: None`), or one product's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    /// The product, or `None` for the organization's totals.
    pub product: Option<Uuid>,
    /// The local day.
    pub day: NaiveDate,
}

/// A set of daily rollup rows, or a change to them. Rows whose counters all become zero are dropped, so two
/// `Rollups` holding the same figures are equal however they were reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollups(BTreeMap<RollupKey, Counters>);

impl Rollups {
    /// No rows.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `counters` to one row.
    pub fn add(&mut self, key: RollupKey, counters: Counters) {
        let entry = self.0.entry(key).or_default();
        *entry = entry.plus(counters);
        if entry.is_zero() {
            self.0.remove(&key);
        }
    }

    /// Adds every row of `other`.
    pub fn add_all(&mut self, other: &Self) {
        for (key, counters) in &other.0 {
            self.add(*key, *counters);
        }
    }

    /// Takes every row of `other` away.
    pub fn subtract_all(&mut self, other: &Self) {
        for (key, counters) in &other.0 {
            self.add(*key, counters.negated());
        }
    }

    /// The rows, organization totals first, then by product and day.
    pub fn iter(&self) -> impl Iterator<Item = (&RollupKey, &Counters)> {
        self.0.iter()
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No rows at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Records what an order contributes (nothing unless its status counts as a sale).
    pub fn add_order(&mut self, order: &SaleFacts<'_>, zone: Tz) {
        if !order.status.counts_as_sale() {
            return;
        }
        let day = local_day(order.placed_at, zone);
        let mut total = Counters { orders: 1, ..Counters::default() };
        let mut per_product: BTreeMap<Uuid, Counters> = BTreeMap::new();
        for line in order.lines {
            total.add_line(line);
            if let Some(product) = line.product {
                let counters = per_product.entry(product).or_default();
                // An order counts once per product, however many lines name it.
                counters.orders = 1;
                counters.add_line(line);
            }
        }
        self.add(RollupKey { product: None, day }, total);
        for (product, counters) in per_product {
            self.add(RollupKey { product: Some(product), day }, counters);
        }
    }

    /// Records one storefront event.
    pub fn add_event(&mut self, kind: EventKind, product: Option<Uuid>, occurred_at: DateTime<Utc>, zone: Tz) {
        let day = local_day(occurred_at, zone);
        let counters = match kind {
            EventKind::View => Counters { views: 1, ..Counters::default() },
            EventKind::AddToCart => Counters { add_to_carts: 1, ..Counters::default() },
            EventKind::Purchase => Counters { purchases: 1, ..Counters::default() },
        };
        self.add(RollupKey { product: None, day }, counters);
        if let Some(product) = product {
            self.add(RollupKey { product: Some(product), day }, counters);
        }
    }
}

impl Counters {
    /// Adds one line of a counting order (whose `orders` is already 1).
    pub(super) fn add_line(&mut self, line: &SaleLine) {
        self.units += line.quantity;
        self.revenue_minor += line.total_minor;
        match line.unit_cost_minor {
            Some(cost) => self.cost_minor += cost.saturating_mul(line.quantity),
            None => {
                self.unknown_cost_orders = 1;
                self.unknown_cost_units += line.quantity;
                self.unknown_cost_revenue_minor += line.total_minor;
            }
        }
    }
}

impl FromIterator<(RollupKey, Counters)> for Rollups {
    fn from_iter<I: IntoIterator<Item = (RollupKey, Counters)>>(rows: I) -> Self {
        let mut rollups = Self::new();
        for (key, counters) in rows {
            rollups.add(key, counters);
        }
        rollups
    }
}

/// The facts of an order that analytics reads.
#[derive(Debug, Clone, Copy)]
pub struct SaleFacts<'a> {
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
    /// Its status.
    pub status: OrderStatus,
    /// Its lines.
    pub lines: &'a [SaleLine],
}

/// One order line as analytics reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleLine {
    /// The product sold, when the line names one of the organization's products.
    pub product: Option<Uuid>,
    /// Units.
    pub quantity: i64,
    /// Line total after line discounts, minor units.
    pub total_minor: i64,
    /// The unit cost in force when the order was placed, minor units; `None` when unknown.
    pub unit_cost_minor: Option<i64>,
}

/// A line as stored: what was sold and what of it was refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoldLine {
    /// The product sold, if any.
    pub product: Option<Uuid>,
    /// Units sold.
    pub quantity: i64,
    /// Line total after line discounts, minor units.
    pub total_minor: i64,
    /// Units refunded.
    pub refunded_quantity: i64,
    /// Amount refunded, minor units.
    pub refunded_minor: i64,
}

impl SoldLine {
    /// What the line counts for: net of its refunds (never below nothing), at `unit_cost_minor`.
    pub fn sale(self, unit_cost_minor: Option<i64>) -> SaleLine {
        SaleLine {
            product: self.product,
            quantity: self.quantity - self.refunded_quantity.clamp(0, self.quantity),
            total_minor: self.total_minor - self.refunded_minor.clamp(0, self.total_minor.max(0)),
            unit_cost_minor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_open_paid_and_fulfilled_orders_count_and_revenue_is_the_sum_of_line_totals() {
        let (shirt, mug) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let lines = [
            SaleLine { product: Some(shirt), quantity: 2, total_minor: 3000, unit_cost_minor: Some(1000) },
            SaleLine { product: Some(shirt), quantity: 1, total_minor: 1400, unit_cost_minor: Some(1000) },
            SaleLine { product: Some(mug), quantity: 1, total_minor: 899, unit_cost_minor: None },
            // A custom line: counts in totals only, its cost unknown.
            SaleLine { product: None, quantity: 1, total_minor: 500, unit_cost_minor: None },
        ];
        let placed_at = at("2024-03-10T03:00:00Z"); // 22:00 EST on 9 March
        let the_day = day("2024-03-09");

        for status in [OrderStatus::Open, OrderStatus::Paid, OrderStatus::Fulfilled] {
            let mut rollups = Rollups::new();
            rollups.add_order(&SaleFacts { placed_at, status, lines: &lines }, new_york());
            let rows: Vec<_> = rollups.iter().map(|(k, c)| (*k, *c)).collect();
            let sale = |units, revenue_minor, cost_minor, unknown: [i64; 3]| Counters {
                orders: 1,
                units,
                revenue_minor,
                cost_minor,
                unknown_cost_orders: unknown[0],
                unknown_cost_units: unknown[1],
                unknown_cost_revenue_minor: unknown[2],
                ..Counters::default()
            };
            assert_eq!(
                rows,
                [
                    (RollupKey { product: None, day: the_day }, sale(5, 5799, 3000, [1, 2, 1399])),
                    (RollupKey { product: Some(shirt), day: the_day }, sale(3, 4400, 3000, [0, 0, 0])),
                    (RollupKey { product: Some(mug), day: the_day }, sale(1, 899, 0, [1, 1, 899])),
                ],
                "{status:?}"
            );
        }
        for status in [OrderStatus::Cancelled, OrderStatus::Refunded] {
            let mut rollups = Rollups::new();
            rollups.add_order(&SaleFacts { placed_at, status, lines: &lines }, new_york());
            assert!(rollups.is_empty(), "{status:?} counts for nothing");
        }
    }

    #[test]
    fn taking_a_contribution_back_leaves_no_rows() {
        let lines =
            [SaleLine { product: Some(Uuid::from_u128(7)), quantity: 1, total_minor: 100, unit_cost_minor: Some(40) }];
        let order = SaleFacts { placed_at: at("2024-05-01T12:00:00Z"), status: OrderStatus::Paid, lines: &lines };
        let mut stored = Rollups::new();
        stored.add_event(EventKind::View, Some(Uuid::from_u128(7)), at("2024-05-01T12:00:00Z"), Tz::UTC);
        let before = stored.clone();
        let mut contribution = Rollups::new();
        contribution.add_order(&order, Tz::UTC);

        stored.add_all(&contribution);
        assert_ne!(stored, before);
        stored.subtract_all(&contribution);

        assert_eq!(stored, before);
        assert_eq!(stored.len(), 2, "the view rows remain; zeroed sales counters leave no trace");
    }
}
