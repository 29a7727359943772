//! The rules engine: deterministic, pure, and the same for every host. Facts come in as plain values (one product's
//! windowed sales and stock, the organization's daily revenue, a product's daily prices, a probed video), and
//! recommendations come out with their evidence. Nothing here reads a clock or a database: "today" is the
//! organization's local day, handed in with the [`Context`].
//!
//! # Periods
//! Windows end **yesterday** (the last complete day) in the organization's time zone: "the last 28 days" is
//! `today − 28 ..= today − 1`, and "the 28 days before" is `today − 56 ..= today − 29`. A product seen for the first
//! time inside a window is measured over the days since it was first seen (at least 7), so a new product's velocity
//! is not diluted by days it did not exist.
//!
//! # Rules
//! - [`stock`]: *restock* (stock cover within lead time plus a week), *dead stock* (no sale in
//!   [`DEAD_STOCK_DAYS`]), *slow movers* (more than [`SLOW_MOVER_COVER_DAYS`] of cover).
//! - [`sales`]: *top movers* and *decliners* (orders period over period, significant at |z| ≥ 3), *conversion gaps*
//!   (views without orders, against the organization's typical rate, significant at p < 0.01).
//! - [`anomaly`]: *revenue anomalies*, days and weeks against a weekday-aware median baseline with a robust spread.
//! - [`price`]: *price suggestions* where the history's price variation supports a demand-response estimate.
//! - [`video`]: *video fitness* from the channel checks of [`crate::video::fitness`].

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap},
};

use chrono::{Datelike, Days, NaiveDate, Weekday};
use uuid::Uuid;

use super::evidence::{Kind, Recommendation};
use crate::domain::CurrencyCode;

pub mod anomaly;
pub mod price;
pub mod sales;
pub mod stock;
pub mod video;

pub use anomaly::{DailyRevenue, revenue_anomalies};
pub use price::{PriceHistory, price_suggestion};
pub use sales::{ConversionFacts, conversion_gaps, mover};
pub use stock::{dead_stock, restock, slow_mover};
pub use video::{VideoFacts, video_fitness};

/// Supplier lead time assumed when the merchant set none.
pub const DEFAULT_LEAD_TIME_DAYS: u32 = 14;
/// Target stock cover (days of sales a reorder should last beyond the lead time) when the merchant set none.
pub const DEFAULT_TARGET_COVER_DAYS: u32 = 30;
/// A restock is recommended once stock covers no more than the lead time plus this review period: the merchant then
/// hears about it at least a week before the order must go out.
pub const REVIEW_DAYS: i64 = 7;
/// Stock with no sale in this many days is dead stock.
pub const DEAD_STOCK_DAYS: i64 = 90;
/// Stock covering more than this many days at the 90-day pace is a slow mover.
pub const SLOW_MOVER_COVER_DAYS: i64 = 180;
/// The days of daily rollups the product facts reach back (price suggestions use the same window).
pub const LOOKBACK_DAYS: i64 = 180;
/// The most recommendations of one kind kept per organization (the highest scores); a list nobody can read is no
/// advice. Movers are fewer: see [`MOVERS_PER_KIND`].
pub const MAX_PER_KIND: usize = 500;
/// The most top movers, and the most decliners, kept.
pub const MOVERS_PER_KIND: usize = 10;

/// What every rule needs to know about the organization.
#[derive(Debug, Clone)]
pub struct Context {
    /// Today in the organization's time zone. Windows end the day before.
    pub today: NaiveDate,
    /// The organization's currency (how money is written).
    pub currency: CurrencyCode,
    /// Lead time for products without one.
    pub default_lead_time_days: u32,
    /// Target cover for products without one.
    pub default_target_cover_days: u32,
}

impl Context {
    /// A context with the built-in defaults.
    pub fn new(today: NaiveDate, currency: CurrencyCode) -> Self {
        Self {
            today,
            currency,
            default_lead_time_days: DEFAULT_LEAD_TIME_DAYS,
            default_target_cover_days: DEFAULT_TARGET_COVER_DAYS,
        }
    }

    /// The day `n` days before today.
    pub fn days_ago(&self, n: i64) -> NaiveDate {
        days_before(self.today, n)
    }

    /// Yesterday: the last complete day.
    pub fn yesterday(&self) -> NaiveDate {
        self.days_ago(1)
    }

    /// Money with the organization's currency code.
    pub fn money(&self, minor: i64) -> String {
        super::evidence::money(minor, &self.currency)
    }
}

/// `day − n` days (`day` itself if that leaves the calendar, which validated dates never do).
pub fn days_before(day: NaiveDate, n: i64) -> NaiveDate {
    day.checked_sub_days(Days::new(n.unsigned_abs())).unwrap_or(day)
}

/// `day + n` days.
pub fn days_after(day: NaiveDate, n: i64) -> NaiveDate {
    day.checked_add_days(Days::new(n.unsigned_abs())).unwrap_or(day)
}

/// The days a product is measured over in a window of `window` days: the whole window, or the days since it was
/// first seen if that is later, but never fewer than 7 (a day-old product's one sale is not a velocity).
pub fn observed_days(context: &Context, first_activity: Option<NaiveDate>, window: i64) -> i64 {
    let since_first = first_activity.map_or(window, |first| (context.today - first).num_days());
    since_first.clamp(7.min(window), window)
}

/// An English weekday name.
pub fn weekday_name(day: NaiveDate) -> &'static str {
    match day.weekday() {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// Where a product's unit cost came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostSource {
    /// The merchant set it on the product.
    Merchant,
    /// The platform's variant costs, weighted by the units in stock.
    Variants,
}

/// What the rules know about one product: its stock and settings, and its sales in the standard windows, all read
/// from the daily rollups.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductFacts {
    /// The product.
    pub id: Uuid,
    /// Its title.
    pub title: String,
    /// The local day it was created.
    pub created_on: NaiveDate,
    /// Units in stock (all variants).
    pub inventory: i64,
    /// Its (lowest variant) list price, minor units.
    pub price_minor: Option<i64>,
    /// Cost of one unit, minor units, and where it came from.
    pub unit_cost: Option<(i64, CostSource)>,
    /// Supplier lead time the merchant set.
    pub lead_time_days: Option<u32>,
    /// Target cover the merchant set.
    pub target_cover_days: Option<u32>,
    /// Units sold in the last 7 days.
    pub units_7: i64,
    /// Units sold in the last 28 days.
    pub units_28: i64,
    /// Units sold in the last 90 days.
    pub units_90: i64,
    /// Revenue of the last 28 days, minor units.
    pub revenue_28: i64,
    /// Revenue of the 28 days before those.
    pub revenue_prev_28: i64,
    /// Revenue of the last 90 days.
    pub revenue_90: i64,
    /// Orders naming it in the last 28 days.
    pub orders_28: i64,
    /// Orders naming it in the 28 days before those.
    pub orders_prev_28: i64,
    /// Orders naming it in the last 90 days.
    pub orders_90: i64,
    /// Views in the last 90 days.
    pub views_90: i64,
    /// The first day it has any rollup (sales or storefront events).
    pub first_activity: Option<NaiveDate>,
    /// The last day it sold.
    pub last_sale: Option<NaiveDate>,
}

impl ProductFacts {
    /// A product with no history: the starting point of tests and of products that never sold.
    pub fn new(id: Uuid, title: impl Into<String>, created_on: NaiveDate) -> Self {
        Self {
            id,
            title: title.into(),
            created_on,
            inventory: 0,
            price_minor: None,
            unit_cost: None,
            lead_time_days: None,
            target_cover_days: None,
            units_7: 0,
            units_28: 0,
            units_90: 0,
            revenue_28: 0,
            revenue_prev_28: 0,
            revenue_90: 0,
            orders_28: 0,
            orders_prev_28: 0,
            orders_90: 0,
            views_90: 0,
            first_activity: None,
            last_sale: None,
        }
    }

    /// The figures the conversion rule compares across products.
    pub fn conversion(&self) -> ConversionFacts {
        ConversionFacts {
            id: self.id,
            title: self.title.clone(),
            views: self.views_90,
            orders: self.orders_90,
            revenue_minor: self.revenue_90,
            price_minor: self.price_minor,
        }
    }
}

/// Every per-product rule for one product: restock, else slow mover; dead stock; a mover. (Conversion gaps compare
/// products with each other: see [`conversion_gaps`].)
pub fn product_recommendations(context: &Context, product: &ProductFacts) -> Vec<Recommendation> {
    let mut found = Vec::new();
    match restock(context, product) {
        Some(restock) => found.push(restock),
        None => found.extend(slow_mover(context, product)),
    }
    found.extend(dead_stock(context, product));
    found.extend(mover(context, product));
    found
}

/// Keeps the highest-scoring recommendations of each kind, at most [`MAX_PER_KIND`] ([`MOVERS_PER_KIND`] for movers),
/// in memory bounded by those caps however many products stream through.
#[derive(Debug, Default)]
pub struct Shortlist {
    kept: BTreeMap<Kind, BinaryHeap<Reverse<Ranked>>>,
    seen: usize,
    found: BTreeMap<Kind, KindTotal>,
}

/// Everything the rules found of one kind, kept or not: so a summary can say "the 500 largest of 612".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KindTotal {
    /// Recommendations found.
    pub count: i64,
    /// Their money at stake added up, minor units.
    pub impact_minor: i64,
}

/// A recommendation ordered by score, then by subject key (so ties resolve the same way every run).
#[derive(Debug)]
struct Ranked(Recommendation);

impl Ranked {
    fn key(&self) -> (i64, Reverse<String>) {
        (self.0.score, Reverse(self.0.subject.key()))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl Shortlist {
    /// An empty shortlist.
    pub fn new() -> Self {
        Self::default()
    }

    fn cap(kind: Kind) -> usize {
        match kind {
            Kind::TopMover | Kind::Decliner => MOVERS_PER_KIND,
            _ => MAX_PER_KIND,
        }
    }

    /// Offers one recommendation.
    pub fn push(&mut self, recommendation: Recommendation) {
        self.seen += 1;
        let kind = recommendation.kind;
        let total = self.found.entry(kind).or_default();
        total.count += 1;
        total.impact_minor += recommendation.impact.as_ref().map_or(0, |i| i.minor);
        let heap = self.kept.entry(kind).or_default();
        heap.push(Reverse(Ranked(recommendation)));
        if heap.len() > Self::cap(kind) {
            heap.pop();
        }
    }

    /// How many were offered.
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// What was offered, by kind (kept or not).
    pub fn totals(&self) -> Vec<(Kind, KindTotal)> {
        self.found.iter().map(|(kind, total)| (*kind, *total)).collect()
    }

    /// The kept recommendations, highest score first.
    pub fn into_sorted(self) -> Vec<Recommendation> {
        let mut all: Vec<Ranked> = self.kept.into_values().flat_map(|heap| heap.into_iter().map(|r| r.0)).collect();
        all.sort_by(|a, b| b.cmp(a));
        all.into_iter().map(|r| r.0).collect()
    }
}

impl Extend<Recommendation> for Shortlist {
    fn extend<I: IntoIterator<Item = Recommendation>>(&mut self, items: I) {
        for item in items {
            self.push(item);
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub fn day(text: &str) -> NaiveDate {
        text.parse().expect("a test date")
    }

    pub fn context(today: &str) -> Context {
        Context::new(day(today), CurrencyCode::parse("USD").expect("USD"))
    }

    /// A product first seen long ago, with nothing sold yet.
    pub fn product(title: &str) -> ProductFacts {
        let mut product = ProductFacts::new(Uuid::new_v4(), title, day("2023-01-01"));
        product.first_activity = Some(day("2023-01-01"));
        product
    }
}

#[cfg(test)]
mod tests {
    use super::{test_support::*, *};

    #[test]
    fn a_new_product_is_measured_over_the_days_it_existed_but_at_least_a_week() {
        let context = context("2024-03-10");
        assert_eq!(observed_days(&context, Some(day("2023-01-01")), 28), 28);
        assert_eq!(observed_days(&context, Some(day("2024-03-01")), 28), 9);
        assert_eq!(observed_days(&context, Some(day("2024-03-08")), 28), 7);
        assert_eq!(observed_days(&context, None, 90), 90);
    }

    #[test]
    fn the_shortlist_keeps_the_best_of_each_kind() {
        let context = context("2024-03-10");
        let mut shortlist = Shortlist::new();
        for units in 1..=20 {
            let mut item = product(&format!("P{units}"));
            item.units_28 = units * 28;
            item.units_90 = units * 90;
            item.revenue_28 = units * 28 * 1_000;
            item.inventory = units;
            for recommendation in product_recommendations(&context, &item) {
                shortlist.push(recommendation);
            }
        }
        let kept = shortlist.into_sorted();
        assert_eq!(kept.len(), 20, "every product needs a restock");
        assert!(kept.windows(2).all(|w| w[0].score >= w[1].score), "highest score first");
    }
}
