//! Analytics as facts: which writes count toward which daily rollup, how days group into buckets, and what each
//! metric means. Pure functions over data handed in: no I/O, so every rule here is tested with known answers.
//! Storage (the rollup tables and their maintenance) lives in [`crate::db::analytics`] and [`crate::db::orders`].
//!
//! # The rules
//! - **Days** are calendar days in the organization's IANA time zone: an order placed at 02:30 UTC on 10 March is a
//!   9 March sale in New York. Daylight-saving changes move the UTC boundaries of a day, never the day itself.
//! - **Orders** count toward sales when their status is `open`, `paid` or `fulfilled`; `cancelled` and `refunded`
//!   orders count for nothing (so a correction from `paid` to `refunded` removes the sale). A counting order adds
//!   1 to `orders`, the sum of its line quantities to `units` and the sum of its **line totals** (after line
//!   discounts; not the order total, which carries shipping and tax) to `revenue`, on the day it was placed. For a
//!   product, an order counts once however many of its lines name that product.
//! - **Cost of goods**: each order line carries the unit cost in force when the order was placed (see
//!   [`crate::costs`]), or none when it is unknown. A counting order adds quantity × unit cost of its lines with a
//!   known cost to `cost`; its lines without one (custom lines included) add their units and line totals to
//!   `unknown_cost_units` and `unknown_cost_revenue`, and the order adds 1 to `unknown_cost_orders` (for a product:
//!   once, when any of its lines there has no cost). Unknown costs are never taken as zero.
//! - **Events** add 1 to `views`, `add_to_carts` or `purchases` on the day they occurred.
//! - **Metrics** per bucket: `revenue`, `orders`, `units`, `views` are sums; `aov` (average order value) is
//!   revenue / orders rounded half away from zero to the currency's minor unit, undefined (`null`) when the bucket
//!   has no orders; `conversion_rate` is orders / views, undefined (`null`) when the bucket has no views. Orders come
//!   from the store and views from the storefront tracker, so the rate can exceed 1 when tracking misses views.
//!   `profit` (gross profit) is the net sales of the lines with a known cost minus their cost of goods:
//!   `(revenue − unknown_cost_revenue) − cost`; `margin` is that profit over those net sales, undefined without
//!   them. Both are computed from the bucket's sums, never averaged from daily ratios; what the lines without a cost
//!   hold is reported beside them.
//! - **Buckets** are `day`, `week` (ISO weeks, starting Monday) or `month`, labelled by their first calendar day.
//!   Every bucket that meets the range is present, empty ones as zeros; the first and last buckets count only the
//!   days inside the range (a week bucket labelled Monday 4 March, for a range starting Wednesday 6 March, holds
//!   6–10 March).
//! - **Ranges** are inclusive local dates `from..=to`, at most [`MAX_RANGE_DAYS`] days. The previous period of a
//!   range is the range of the same length that ends the day before it starts.

use std::{cmp::Ordering, collections::BTreeMap};

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
pub use chrono_tz::Tz;
use uuid::Uuid;

use crate::domain::ParseError;

/// The longest range a query may span: three years, one of them leap.
pub const MAX_RANGE_DAYS: i64 = 3 * 365 + 1;

/// The most products a ranking returns.
pub const MAX_TOP_PRODUCTS: u32 = 100;

/// Where an order stands on its platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    fn add_line(&mut self, line: &SaleLine) {
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

/// The organization's time zone from its stored IANA name (UTC if the name is not one, which validation prevents).
pub fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// The calendar day `at` falls on in `zone`.
pub fn local_day(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

/// The earliest day a query may name.
pub fn earliest_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// The latest day a query may name.
pub fn latest_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

/// Reads a calendar date written exactly `YYYY-MM-DD`, between 1900-01-01 and 9999-12-31.
pub fn parse_day(text: &str) -> Result<NaiveDate, ParseError> {
    let invalid = || ParseError::new(format!("`{text}` is not a date written YYYY-MM-DD"));
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() });
    if !shaped {
        return Err(invalid());
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| invalid())?;
    if day < earliest_day() {
        return Err(ParseError::new(format!("`{text}` is before 1900-01-01")));
    }
    Ok(day)
}

/// An inclusive range of local calendar days, `from..=to`, at most [`MAX_RANGE_DAYS`] long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    from: NaiveDate,
    to: NaiveDate,
}

/// Why a range was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// `from` is after `to`.
    #[error("must not be after `to`")]
    Reversed,
    /// The range spans more than [`MAX_RANGE_DAYS`] days.
    #[error("the range may span at most {MAX_RANGE_DAYS} days")]
    TooLong,
    /// A bound lies outside 1900-01-01..=9999-12-31.
    #[error("must lie between 1900-01-01 and 9999-12-31")]
    OutOfBounds,
}

impl DateRange {
    /// Checks a range.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, RangeError> {
        if from < earliest_day() || to > latest_day() {
            return Err(RangeError::OutOfBounds);
        }
        if from > to {
            return Err(RangeError::Reversed);
        }
        let range = Self { from, to };
        if range.days() > MAX_RANGE_DAYS {
            return Err(RangeError::TooLong);
        }
        Ok(range)
    }

    /// The `days` days ending with `to` (1 ≤ days ≤ [`MAX_RANGE_DAYS`]).
    pub fn ending(to: NaiveDate, days: u16) -> Result<Self, RangeError> {
        let from = to.checked_sub_days(Days::new(u64::from(days.max(1)) - 1)).ok_or(RangeError::OutOfBounds)?;
        Self::new(from, to)
    }

    /// The default range when a query names neither end: the 30 days ending yesterday.
    pub fn default_ending_before(today: NaiveDate) -> Result<Self, RangeError> {
        let yesterday = today.pred_opt().ok_or(RangeError::OutOfBounds)?;
        Self::ending(yesterday, 30)
    }

    /// The first day.
    pub fn from(&self) -> NaiveDate {
        self.from
    }

    /// The last day (included).
    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// How many days it spans.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// Whether `day` lies inside.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }

    /// The range of the same length ending the day before this one starts (`compare=previous_period`). Its start
    /// may precede 1900-01-01 by up to [`MAX_RANGE_DAYS`] days; it is never validated again.
    pub fn previous_period(&self) -> Self {
        let length = Days::new(self.days().unsigned_abs());
        // Bounds are validated: these subtractions stay far from NaiveDate's limits.
        let to = self.from.pred_opt().unwrap_or(self.from);
        let from = self.from.checked_sub_days(length).unwrap_or(self.from);
        Self { from, to }
    }

    /// The range from the start of the previous period to the end of this one.
    pub fn with_previous_period(&self) -> Self {
        Self { from: self.previous_period().from, to: self.to }
    }
}

/// How days group into the points of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// One calendar day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl Bucket {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// Reads a wire name.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match text {
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            _ => Err(ParseError::new(format!("`{text}` is not one of day, week, month"))),
        }
    }

    /// The first day of the bucket holding `day`.
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => day,
            Self::Week => day - Days::new(u64::from(day.weekday().num_days_from_monday())),
            Self::Month => day.with_day(1).unwrap_or(day),
        }
    }

    /// The first day of the bucket after the one starting at `start`.
    pub fn next_start(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Self::Day => start.checked_add_days(Days::new(1)),
            Self::Week => start.checked_add_days(Days::new(7)),
            Self::Month => start.checked_add_months(Months::new(1)),
        }
    }

    /// The starts of every bucket meeting `range`, in order.
    pub fn starts(self, range: DateRange) -> Vec<NaiveDate> {
        let mut starts = Vec::new();
        let mut start = Some(self.start_of(range.from()));
        while let Some(current) = start.filter(|s| *s <= range.to()) {
            starts.push(current);
            start = self.next_start(current);
        }
        starts
    }
}

/// One point of a series: a bucket's first calendar day and the sum of its days inside the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketTotals {
    /// The bucket's first calendar day (it may precede the range's start).
    pub start: NaiveDate,
    /// The sums over the bucket's days inside the range.
    pub totals: Counters,
}

/// Groups daily rows into the buckets of `range`. Every bucket meeting the range is present (zeros when no row
/// falls in it); rows outside the range are ignored.
pub fn bucket_daily(
    range: DateRange,
    bucket: Bucket,
    days: impl IntoIterator<Item = (NaiveDate, Counters)>,
) -> Vec<BucketTotals> {
    let mut series: Vec<BucketTotals> =
        bucket.starts(range).into_iter().map(|start| BucketTotals { start, totals: Counters::default() }).collect();
    for (day, counters) in days {
        if !range.contains(day) {
            continue;
        }
        let start = bucket.start_of(day);
        if let Ok(index) = series.binary_search_by_key(&start, |point| point.start) {
            series[index].totals = series[index].totals.plus(counters);
        }
    }
    series
}

/// The sum of every point of a series.
pub fn series_total(series: &[BucketTotals]) -> Counters {
    series.iter().fold(Counters::default(), |sum, point| sum.plus(point.totals))
}

/// What a time series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Sum of line totals of counting orders.
    Revenue,
    /// Counting orders.
    Orders,
    /// Units sold.
    Units,
    /// Average order value: revenue / orders.
    Aov,
    /// View events.
    Views,
    /// Orders / views.
    ConversionRate,
    /// Gross profit of the lines with a known cost: their net sales minus their cost of goods.
    Profit,
    /// Profit / net sales of the lines with a known cost.
    Margin,
}

/// A metric's value for one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricValue {
    /// Money, minor units.
    Money(i64),
    /// A count.
    Count(i64),
    /// A ratio.
    Rate(f64),
    /// Not defined for this bucket (AOV without orders, conversion rate without views).
    Undefined,
}

impl Metric {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revenue => "revenue",
            Self::Orders => "orders",
            Self::Units => "units",
            Self::Aov => "aov",
            Self::Views => "views",
            Self::ConversionRate => "conversion_rate",
            Self::Profit => "profit",
            Self::Margin => "margin",
        }
    }

    /// Reads a wire name.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match text {
            "revenue" => Ok(Self::Revenue),
            "orders" => Ok(Self::Orders),
            "units" => Ok(Self::Units),
            "aov" => Ok(Self::Aov),
            "views" => Ok(Self::Views),
            "conversion_rate" => Ok(Self::ConversionRate),
            "profit" => Ok(Self::Profit),
            "margin" => Ok(Self::Margin),
            _ => Err(ParseError::new(format!(
                "`{text}` is not one of revenue, orders, units, aov, views, conversion_rate, profit, margin"
            ))),
        }
    }

    /// Whether values are amounts of money.
    pub fn is_money(self) -> bool {
        matches!(self, Self::Revenue | Self::Aov | Self::Profit)
    }

    /// Whether values depend on unit costs (so responses say what the lines without one hold).
    pub fn uses_costs(self) -> bool {
        matches!(self, Self::Profit | Self::Margin)
    }

    /// The metric's value over `counters`.
    pub fn value(self, counters: &Counters) -> MetricValue {
        match self {
            Self::Revenue => MetricValue::Money(counters.revenue_minor),
            Self::Orders => MetricValue::Count(counters.orders),
            Self::Units => MetricValue::Count(counters.units),
            Self::Views => MetricValue::Count(counters.views),
            Self::Aov => match counters.orders {
                0 => MetricValue::Undefined,
                orders => MetricValue::Money(divide_rounding_half_away(counters.revenue_minor, orders)),
            },
            Self::ConversionRate => match counters.views {
                0 => MetricValue::Undefined,
                views => MetricValue::Rate(counters.orders as f64 / views as f64),
            },
            Self::Profit => MetricValue::Money(counters.profit_minor()),
            Self::Margin => margin(counters.profit_minor(), counters.costed_revenue_minor()),
        }
    }
}

/// Profit over net sales; undefined without positive net sales (a margin of nothing, or of refunds only, is not a
/// number).
pub fn margin(profit_minor: i64, costed_revenue_minor: i64) -> MetricValue {
    if costed_revenue_minor > 0 {
        MetricValue::Rate(profit_minor as f64 / costed_revenue_minor as f64)
    } else {
        MetricValue::Undefined
    }
}

/// `numerator / denominator` rounded to the nearest integer, halves away from zero (`denominator` > 0).
pub fn divide_rounding_half_away(numerator: i64, denominator: i64) -> i64 {
    let (n, d) = (i128::from(numerator), i128::from(denominator.max(1)));
    let magnitude = (2 * n.abs() + d) / (2 * d);
    let rounded = if n < 0 { -magnitude } else { magnitude };
    i64::try_from(rounded).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

/// What a product ranking orders by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RankBy {
    /// Revenue in the range, highest first.
    Revenue,
    /// Units sold in the range, most first.
    Units,
    /// Revenue change against the previous period, see [`ProductSales::growth`].
    Growth,
    /// Gross profit in the range (of the lines with a known cost), highest first.
    Profit,
}

impl RankBy {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revenue => "revenue",
            Self::Units => "units",
            Self::Growth => "growth",
            Self::Profit => "profit",
        }
    }

    /// Reads a wire name.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match text {
            "revenue" => Ok(Self::Revenue),
            "units" => Ok(Self::Units),
            "growth" => Ok(Self::Growth),
            "profit" => Ok(Self::Profit),
            _ => Err(ParseError::new(format!("`{text}` is not one of revenue, units, growth, profit"))),
        }
    }
}

/// A product's sales in a range and the revenue of the previous period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSales {
    /// The product.
    pub product_id: Uuid,
    /// Its title, if it still exists.
    pub title: Option<String>,
    /// Counting orders in the range.
    pub orders: i64,
    /// Units sold in the range.
    pub units: i64,
    /// Revenue in the range, minor units.
    pub revenue_minor: i64,
    /// Counting orders in the previous period.
    pub previous_orders: i64,
    /// Revenue in the previous period, minor units.
    pub previous_revenue_minor: i64,
    /// The cost figures in the range: cost of goods and what the lines without a cost hold.
    pub costs: CostFigures,
    /// The same for the previous period.
    pub previous_costs: CostFigures,
}

/// What profit and margin are computed from, besides revenue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostFigures {
    /// Cost of goods of the lines with a known unit cost.
    pub cost_minor: i64,
    /// Orders with a line whose unit cost is unknown.
    pub unknown_cost_orders: i64,
    /// Units on those lines.
    pub unknown_cost_units: i64,
    /// Line totals of those lines.
    pub unknown_cost_revenue_minor: i64,
}

impl CostFigures {
    /// The cost figures of a rollup sum.
    pub fn of(counters: &Counters) -> Self {
        Self {
            cost_minor: counters.cost_minor,
            unknown_cost_orders: counters.unknown_cost_orders,
            unknown_cost_units: counters.unknown_cost_units,
            unknown_cost_revenue_minor: counters.unknown_cost_revenue_minor,
        }
    }

    /// Gross profit over `revenue_minor`: the net sales of the lines with a known cost minus their cost.
    pub fn profit_minor(&self, revenue_minor: i64) -> i64 {
        revenue_minor - self.unknown_cost_revenue_minor - self.cost_minor
    }

    /// Profit / net sales of the lines with a known cost.
    pub fn margin(&self, revenue_minor: i64) -> MetricValue {
        margin(self.profit_minor(revenue_minor), revenue_minor - self.unknown_cost_revenue_minor)
    }
}

impl ProductSales {
    /// Period-over-period revenue change, `(revenue - previous) / previous`: 0.25 is +25 %. Undefined (`None`) when
    /// the previous period had no positive revenue: growth from nothing is not a number.
    pub fn growth(&self) -> Option<f64> {
        (self.previous_revenue_minor > 0)
            .then(|| (self.revenue_minor - self.previous_revenue_minor) as f64 / self.previous_revenue_minor as f64)
    }

    /// Compares growth exactly (cross-multiplied in 128 bits, no float rounding); both must be defined.
    /// Gross profit in the range.
    pub fn profit_minor(&self) -> i64 {
        self.costs.profit_minor(self.revenue_minor)
    }

    /// Gross profit in the previous period.
    pub fn previous_profit_minor(&self) -> i64 {
        self.previous_costs.profit_minor(self.previous_revenue_minor)
    }

    fn growth_cmp(&self, other: &Self) -> Ordering {
        let change = |p: &Self| i128::from(p.revenue_minor) - i128::from(p.previous_revenue_minor);
        (change(self) * i128::from(other.previous_revenue_minor))
            .cmp(&(change(other) * i128::from(self.previous_revenue_minor)))
    }
}

/// Ranks products and keeps the first `limit` (at most [`MAX_TOP_PRODUCTS`]).
///
/// - `revenue`: products with orders in the range, by revenue, then units, highest first.
/// - `units`: products with orders in the range, by units, then revenue, highest first.
/// - `growth`: products with orders in either period. Those with a defined growth come first, highest growth
///   first (ties: higher revenue first); then those without one (no previous revenue: new or returning products),
///   by revenue. A product that stopped selling has growth -1 and ranks last among the defined.
/// - `profit`: products with orders in the range, by gross profit, then revenue, highest first.
///
/// Remaining ties go to the smaller product id, so a ranking is a total order and repeats exactly.
pub fn rank_products(mut sales: Vec<ProductSales>, by: RankBy, limit: u32) -> Vec<ProductSales> {
    let id_order = |a: &ProductSales, b: &ProductSales| a.product_id.cmp(&b.product_id);
    match by {
        RankBy::Revenue | RankBy::Units | RankBy::Profit => sales.retain(|p| p.orders > 0),
        RankBy::Growth => sales.retain(|p| p.orders > 0 || p.previous_orders > 0),
    }
    match by {
        RankBy::Revenue => sales
            .sort_by(|a, b| (b.revenue_minor, b.units).cmp(&(a.revenue_minor, a.units)).then_with(|| id_order(a, b))),
        RankBy::Units => sales
            .sort_by(|a, b| (b.units, b.revenue_minor).cmp(&(a.units, a.revenue_minor)).then_with(|| id_order(a, b))),
        RankBy::Profit => sales.sort_by(|a, b| {
            (b.profit_minor(), b.revenue_minor).cmp(&(a.profit_minor(), a.revenue_minor)).then_with(|| id_order(a, b))
        }),
        RankBy::Growth => sales.sort_by(|a, b| {
            let defined = |p: &ProductSales| p.previous_revenue_minor > 0;
            match (defined(a), defined(b)) {
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                (true, true) => b.growth_cmp(a),
                (false, false) => Ordering::Equal,
            }
            .then_with(|| b.revenue_minor.cmp(&a.revenue_minor))
            .then_with(|| id_order(a, b))
        }),
    }
    sales.truncate(limit.min(MAX_TOP_PRODUCTS) as usize);
    sales
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        parse_day(text).expect("a valid test date")
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("a valid test timestamp").with_timezone(&Utc)
    }

    fn new_york() -> Tz {
        zone("America/New_York")
    }

    #[test]
    fn local_days_follow_the_organization_zone_across_daylight_saving_changes() {
        let cases = [
            ("2024-03-10T04:59:59Z", "2024-03-09", "23:59 EST, the evening before the spring change"),
            ("2024-03-10T05:00:00Z", "2024-03-10", "00:00 EST"),
            ("2024-03-11T03:59:59Z", "2024-03-10", "23:59 EDT: the short day ends an hour earlier in UTC"),
            ("2024-03-11T04:00:00Z", "2024-03-11", "00:00 EDT"),
            ("2024-11-03T03:59:59Z", "2024-11-02", "23:59 EDT before the autumn change"),
            ("2024-11-04T04:59:59Z", "2024-11-03", "23:59 EST: the long day ends an hour later in UTC"),
        ];
        for (utc, local, why) in cases {
            assert_eq!(local_day(at(utc), new_york()), day(local), "{why}");
        }
        assert_eq!(local_day(at("2024-03-10T04:59:59Z"), Tz::UTC), day("2024-03-10"), "UTC organizations");
        assert_eq!(zone("Not/AZone"), Tz::UTC, "an unreadable stored zone falls back to UTC");
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        let cases = [
            (Bucket::Week, "2024-03-10", "2024-03-04", "a Sunday belongs to the week before"),
            (Bucket::Week, "2024-03-11", "2024-03-11", "a Monday starts its week"),
            (Bucket::Week, "2025-01-01", "2024-12-30", "ISO week 1 of 2025 starts in 2024"),
            (Bucket::Month, "2024-02-29", "2024-02-01", "leap day"),
            (Bucket::Day, "2024-02-29", "2024-02-29", "a day is its own bucket"),
        ];
        for (bucket, date, start, why) in cases {
            assert_eq!(bucket.start_of(day(date)), day(start), "{why}");
        }
        assert_eq!(Bucket::Month.next_start(day("2024-01-01")), Some(day("2024-02-01")));
        assert_eq!(Bucket::Week.next_start(day("2024-12-30")), Some(day("2025-01-06")));
    }

    #[test]
    fn every_bucket_meeting_the_range_is_present_and_edges_count_only_days_inside() {
        let range = DateRange::new(day("2024-03-06"), day("2024-03-20")).expect("valid range");
        let sale = |revenue_minor| Counters { orders: 1, units: 2, revenue_minor, ..Counters::default() };
        let rows = [
            (day("2024-03-04"), sale(999)), // outside the range, though inside the first week
            (day("2024-03-06"), sale(100)),
            (day("2024-03-10"), sale(250)),
            (day("2024-03-20"), sale(7)),
            (day("2024-03-21"), sale(999)), // outside
        ];

        let weeks = bucket_daily(range, Bucket::Week, rows);

        let starts: Vec<_> = weeks.iter().map(|w| w.start).collect();
        assert_eq!(starts, [day("2024-03-04"), day("2024-03-11"), day("2024-03-18")]);
        let revenue: Vec<_> = weeks.iter().map(|w| w.totals.revenue_minor).collect();
        assert_eq!(revenue, [350, 0, 7], "the empty middle week is present as zero");
        assert_eq!(series_total(&weeks), Counters { orders: 3, units: 6, revenue_minor: 357, ..Counters::default() });

        let days = bucket_daily(range, Bucket::Day, rows);
        assert_eq!(days.len(), 15);
        assert_eq!(days.iter().filter(|d| d.totals.is_zero()).count(), 12);

        let months =
            bucket_daily(DateRange::new(day("2024-01-31"), day("2024-03-01")).expect("valid"), Bucket::Month, []);
        let starts: Vec<_> = months.iter().map(|m| m.start).collect();
        assert_eq!(starts, [day("2024-01-01"), day("2024-02-01"), day("2024-03-01")]);
    }

    #[test]
    fn ranges_are_checked_and_the_previous_period_has_the_same_length() {
        let march = DateRange::new(day("2024-03-01"), day("2024-03-31")).expect("valid");
        assert_eq!(march.days(), 31);
        let previous = march.previous_period();
        assert_eq!((previous.from(), previous.to()), (day("2024-01-30"), day("2024-02-29")));
        assert_eq!(previous.days(), 31);
        let single = DateRange::new(day("2024-03-01"), day("2024-03-01")).expect("valid").previous_period();
        assert_eq!((single.from(), single.to()), (day("2024-02-29"), day("2024-02-29")));

        assert_eq!(DateRange::new(day("2024-03-02"), day("2024-03-01")), Err(RangeError::Reversed));
        let longest = DateRange::ending(day("2024-12-31"), MAX_RANGE_DAYS as u16).expect("the longest range");
        assert_eq!(longest.days(), MAX_RANGE_DAYS);
        assert_eq!(
            DateRange::new(longest.from() - Days::new(1), longest.to()),
            Err(RangeError::TooLong),
            "one day more is refused"
        );
        let default = DateRange::default_ending_before(day("2024-03-01")).expect("valid");
        assert_eq!((default.from(), default.to()), (day("2024-01-31"), day("2024-02-29")), "30 days ending yesterday");
    }

    #[test]
    fn only_well_formed_dates_are_read() {
        assert_eq!(parse_day("2024-02-29"), Ok(NaiveDate::from_ymd_opt(2024, 2, 29).expect("date")));
        for bad in [
            "2023-02-29",
            "2024-2-29",
            "2024-02-29T00:00:00Z",
            "24-02-29",
            "+2024-02-2",
            "1899-12-31",
            "",
            "２０２４-02-29",
        ] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
    }

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

    #[test]
    fn metrics_are_exact_and_undefined_where_they_have_no_denominator() {
        let counters = Counters { orders: 3, units: 4, revenue_minor: 1000, views: 8, ..Counters::default() };
        assert_eq!(Metric::Revenue.value(&counters), MetricValue::Money(1000));
        assert_eq!(Metric::Orders.value(&counters), MetricValue::Count(3));
        assert_eq!(Metric::Units.value(&counters), MetricValue::Count(4));
        assert_eq!(Metric::Views.value(&counters), MetricValue::Count(8));
        assert_eq!(Metric::Aov.value(&counters), MetricValue::Money(333), "10.00 / 3 = 3.333… → 3.33");
        assert_eq!(Metric::ConversionRate.value(&counters), MetricValue::Rate(0.375));
        let empty = Counters::default();
        assert_eq!(Metric::Aov.value(&empty), MetricValue::Undefined);
        assert_eq!(Metric::ConversionRate.value(&empty), MetricValue::Undefined);
        assert_eq!(Metric::Revenue.value(&empty), MetricValue::Money(0), "sums of nothing are zero");
        assert_eq!(Metric::Margin.value(&empty), MetricValue::Undefined, "no margin without net sales");

        // 10.00 of sales, 2.50 of it on lines without a cost; the other 7.50 cost 4.50.
        let costed = Counters {
            revenue_minor: 1000,
            cost_minor: 450,
            unknown_cost_orders: 1,
            unknown_cost_revenue_minor: 250,
            ..Counters::default()
        };
        assert_eq!(Metric::Profit.value(&costed), MetricValue::Money(300), "7.50 − 4.50: unknown costs are not zero");
        assert_eq!(Metric::Margin.value(&costed), MetricValue::Rate(0.4), "3.00 / 7.50");
        let day_one = Counters { revenue_minor: 100, cost_minor: 10, ..Counters::default() }; // margin 0.9
        let day_two = Counters { revenue_minor: 900, cost_minor: 810, ..Counters::default() }; // margin 0.1
        assert_eq!(
            Metric::Margin.value(&day_one.plus(day_two)),
            MetricValue::Rate(0.18),
            "summed profit over summed sales, not the mean of the daily margins (0.5)"
        );

        assert_eq!(divide_rounding_half_away(1001, 2), 501, "half rounds up");
        assert_eq!(divide_rounding_half_away(-1001, 2), -501, "and away from zero when negative");
        assert_eq!(divide_rounding_half_away(2000, 3), 667);
        assert_eq!(divide_rounding_half_away(1000, 3), 333);
        assert_eq!(divide_rounding_half_away(i64::MAX, 1), i64::MAX, "no overflow");
    }

    #[test]
    fn the_documented_names_are_the_wire_names() {
        for metric in [Metric::ConversionRate, Metric::Profit, Metric::Margin] {
            assert_eq!(serde_json::to_value(metric).ok(), Some(serde_json::json!(metric.as_str())));
        }
        assert_eq!(serde_json::to_value(RankBy::Profit).ok(), Some(serde_json::json!("profit")));
    }

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for metric in [
            Metric::Revenue,
            Metric::Orders,
            Metric::Units,
            Metric::Aov,
            Metric::Views,
            Metric::ConversionRate,
            Metric::Profit,
            Metric::Margin,
        ] {
            assert_eq!(Metric::parse(metric.as_str()), Ok(metric));
        }
        for status in [
            OrderStatus::Open,
            OrderStatus::Paid,
            OrderStatus::Fulfilled,
            OrderStatus::Cancelled,
            OrderStatus::Refunded,
        ] {
            assert_eq!(OrderStatus::parse(status.as_str()), Ok(status));
        }
        for kind in [EventKind::View, EventKind::AddToCart, EventKind::Purchase] {
            assert_eq!(EventKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(Metric::parse("Revenue").is_err(), "names are case-sensitive");
        assert!(Bucket::parse("quarter").is_err());
        assert!(RankBy::parse("").is_err());
    }

    #[test]
    fn growth_ranks_defined_changes_first_then_products_without_previous_revenue() {
        let product = |n: u128, revenue_minor, previous_revenue_minor| ProductSales {
            product_id: Uuid::from_u128(n),
            title: None,
            orders: i64::from(revenue_minor > 0),
            units: 1,
            revenue_minor,
            previous_orders: i64::from(previous_revenue_minor > 0),
            previous_revenue_minor,
            costs: CostFigures::default(),
            previous_costs: CostFigures::default(),
        };
        let sales = vec![
            product(1, 150, 100),   // +50 %
            product(2, 5000, 0),    // new: undefined
            product(3, 300, 100),   // +200 %
            product(4, 0, 400),     // stopped: -100 %
            product(5, 200, 0),     // new, smaller
            product(6, 0, 0),       // nothing in either period: not ranked
            product(7, 1500, 1000), // +50 %, more revenue than product 1
        ];

        let ranked = rank_products(sales.clone(), RankBy::Growth, 10);

        let order: Vec<u128> = ranked.iter().map(|p| p.product_id.as_u128()).collect();
        assert_eq!(order, [3, 7, 1, 4, 2, 5]);
        assert_eq!(ranked[0].growth(), Some(2.0));
        assert_eq!(ranked[3].growth(), Some(-1.0));
        assert_eq!(ranked[4].growth(), None);

        let by_revenue: Vec<u128> =
            rank_products(sales, RankBy::Revenue, 3).iter().map(|p| p.product_id.as_u128()).collect();
        assert_eq!(by_revenue, [2, 7, 3], "products without sales in the range are left out; limit applies");
    }

    #[test]
    fn profit_ranks_by_gross_profit_of_the_lines_with_a_cost() {
        let product = |n: u128, revenue_minor, cost_minor, unknown_cost_revenue_minor| ProductSales {
            product_id: Uuid::from_u128(n),
            title: None,
            orders: 1,
            units: 1,
            revenue_minor,
            previous_orders: 0,
            previous_revenue_minor: 0,
            costs: CostFigures { cost_minor, unknown_cost_revenue_minor, ..CostFigures::default() },
            previous_costs: CostFigures::default(),
        };
        let sales = vec![
            product(1, 10_000, 9_000, 0),      // profit 1,000
            product(2, 3_000, 500, 0),         // profit 2,500
            product(3, 12_000, 1_000, 10_000), // 2,000 costed: profit 1,000, more revenue than product 1
        ];
        let ranked: Vec<u128> =
            rank_products(sales, RankBy::Profit, 10).iter().map(|p| p.product_id.as_u128()).collect();
        assert_eq!(ranked, [2, 3, 1]);
    }
}
