//! What a recommendation is made of: its kind, its subject, a one-line title and an action, the evidence (inputs,
//! period, formula, numbers) a merchant can check by hand, the money at stake, and a fingerprint of the facts that
//! matter, so a dismissed recommendation comes back only when those facts change materially.

use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    domain::{CurrencyCode, ParseError},
    money::format_minor,
};

/// What a recommendation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Stock runs out within the lead time (plus a week): reorder, with the quantity.
    Restock,
    /// Stock with no sale in [`crate::advisor::rules::DEAD_STOCK_DAYS`] days, and the capital it ties up.
    DeadStock,
    /// Stock that sells, but so slowly that it covers more than half a year.
    SlowMover,
    /// Orders up significantly against the previous period.
    TopMover,
    /// Orders down significantly against the previous period.
    Decliner,
    /// Many views, few orders, against the organization's typical conversion rate.
    ConversionGap,
    /// A day or week of revenue far outside its seasonal (weekday-aware) baseline.
    RevenueAnomaly,
    /// A price change the history's demand response supports.
    PriceSuggestion,
    /// A product video that does not fit a publishing channel.
    VideoFitness,
}

impl Kind {
    /// Every kind, in display order.
    pub const ALL: [Self; 9] = [
        Self::Restock,
        Self::DeadStock,
        Self::SlowMover,
        Self::TopMover,
        Self::Decliner,
        Self::ConversionGap,
        Self::RevenueAnomaly,
        Self::PriceSuggestion,
        Self::VideoFitness,
    ];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Restock => "restock",
            Self::DeadStock => "dead_stock",
            Self::SlowMover => "slow_mover",
            Self::TopMover => "top_mover",
            Self::Decliner => "decliner",
            Self::ConversionGap => "conversion_gap",
            Self::RevenueAnomaly => "revenue_anomaly",
            Self::PriceSuggestion => "price_suggestion",
            Self::VideoFitness => "video_fitness",
        }
    }

    /// Reads a stored or client-sent name.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
            ParseError::new(format!("`{text}` is not one of {}", names.join(", ")))
        })
    }

    /// A plural label for people ("restocks", "dead stock").
    pub fn label(self) -> &'static str {
        match self {
            Self::Restock => "restock",
            Self::DeadStock => "dead stock",
            Self::SlowMover => "slow mover",
            Self::TopMover => "top mover",
            Self::Decliner => "decliner",
            Self::ConversionGap => "conversion gap",
            Self::RevenueAnomaly => "revenue anomaly",
            Self::PriceSuggestion => "price suggestion",
            Self::VideoFitness => "video fitness",
        }
    }
}

/// What a recommendation is about: a product, a day or week of the organization's revenue, or a video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Subject {
    /// One product.
    Product {
        /// Its id.
        id: Uuid,
        /// Its title when the advice was computed.
        title: String,
    },
    /// One local day of the organization.
    Day {
        /// The day.
        day: NaiveDate,
    },
    /// One ISO week (Monday to Sunday) of the organization.
    Week {
        /// Its Monday.
        start: NaiveDate,
    },
    /// One uploaded video.
    Video {
        /// Its id.
        id: Uuid,
        /// The uploader's file name.
        file_name: String,
        /// The product it shows, if any.
        product_id: Option<Uuid>,
    },
}

impl Subject {
    /// The stable key that, with the kind, identifies a recommendation within an organization
    /// (`product:<id>`, `day:2024-03-10`, `week:2024-03-04`, `video:<id>`).
    pub fn key(&self) -> String {
        match self {
            Self::Product { id, .. } => format!("product:{id}"),
            Self::Day { day } => format!("day:{day}"),
            Self::Week { start } => format!("week:{start}"),
            Self::Video { id, .. } => format!("video:{id}"),
        }
    }

    /// The product concerned, if any.
    pub fn product_id(&self) -> Option<Uuid> {
        match self {
            Self::Product { id, .. } => Some(*id),
            Self::Video { product_id, .. } => *product_id,
            Self::Day { .. } | Self::Week { .. } => None,
        }
    }

    /// The subject's name, if it has one: the product's title when the advice was computed, the video's file name.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Product { title, .. } => Some(title),
            Self::Video { file_name, .. } => Some(file_name),
            Self::Day { .. } | Self::Week { .. } => None,
        }
    }
}

/// One number (or date, or word) of the evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Value {
    /// A whole count.
    Count {
        /// The count.
        value: i64,
    },
    /// A measured or derived quantity, shown with a fixed number of decimals.
    Number {
        /// The value.
        value: f64,
        /// Decimals shown.
        decimals: u8,
    },
    /// Money in minor units of the organization's currency.
    Money {
        /// Minor units.
        minor: i64,
    },
    /// A ratio (0.031), shown as a percentage (3.1%).
    Ratio {
        /// The ratio.
        value: f64,
    },
    /// A calendar day.
    Date {
        /// The day.
        value: NaiveDate,
    },
    /// Words (a setting's origin, a verdict).
    Text {
        /// The text.
        value: String,
    },
}

impl Value {
    /// A count.
    pub fn count(value: i64) -> Self {
        Self::Count { value }
    }

    /// A number with `decimals` decimals.
    pub fn number(value: f64, decimals: u8) -> Self {
        Self::Number { value, decimals }
    }

    /// Money.
    pub fn money(minor: i64) -> Self {
        Self::Money { minor }
    }

    /// A ratio.
    pub fn ratio(value: f64) -> Self {
        Self::Ratio { value }
    }

    /// A day.
    pub fn date(value: NaiveDate) -> Self {
        Self::Date { value }
    }

    /// Text.
    pub fn text(value: impl Into<String>) -> Self {
        Self::Text { value: value.into() }
    }

    /// The value as a number, where it is one (a count, a number, a ratio).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Count { value } => Some(*value as f64),
            Self::Number { value, .. } | Self::Ratio { value } => Some(*value),
            Self::Money { .. } | Self::Date { .. } | Self::Text { .. } => None,
        }
    }

    /// The value as the evidence writes it (money without its currency code).
    pub fn display(&self, currency: &CurrencyCode) -> String {
        match self {
            Self::Count { value } => group_thousands(&value.to_string()),
            Self::Number { value, decimals } => number(*value, *decimals),
            Self::Money { minor } => group_thousands(&format_minor(*minor, currency.minor_digits())),
            Self::Ratio { value } => percent(*value),
            Self::Date { value } => value.to_string(),
            Self::Text { value } => value.clone(),
        }
    }
}

/// A number with `decimals` decimals and thousands grouped (`1,234.5`).
pub fn number(value: f64, decimals: u8) -> String {
    group_thousands(&format!("{value:.prec$}", prec = usize::from(decimals)))
}

/// A ratio as a percentage: one decimal, two below 1% (`0.0312` → `3.1%`, `0.0042` → `0.42%`).
pub fn percent(ratio: f64) -> String {
    let percent = ratio * 100.0;
    if percent.abs() < 1.0 && percent != 0.0 { format!("{percent:.2}%") } else { format!("{percent:.1}%") }
}

/// Money with its currency code (`1,234.50 USD`).
pub fn money(minor: i64, currency: &CurrencyCode) -> String {
    format!("{} {currency}", group_thousands(&format_minor(minor, currency.minor_digits())))
}

/// Groups the integer part of a decimal string by thousands (`-1234567.5` → `-1,234,567.5`).
pub fn group_thousands(text: &str) -> String {
    let (sign, unsigned) = text.strip_prefix('-').map_or(("", text), |rest| ("-", rest));
    let (whole, fraction) = unsigned.split_once('.').map_or((unsigned, None), |(w, f)| (w, Some(f)));
    let mut grouped = String::with_capacity(text.len() + whole.len() / 3);
    grouped.push_str(sign);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if let Some(fraction) = fraction {
        grouped.push('.');
        grouped.push_str(fraction);
    }
    grouped
}

/// A named figure of the evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// A stable snake_case name (`velocity_28`).
    pub name: String,
    /// What it is, for people.
    pub label: String,
    /// The value.
    pub value: Value,
    /// Its unit (`units/day`, `days`); money's unit is the organization's currency.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub unit: Option<String>,
}

impl Figure {
    /// A figure.
    pub fn new(name: &str, label: &str, value: Value, unit: Option<&str>) -> Self {
        Self { name: name.to_owned(), label: label.to_owned(), value, unit: unit.map(str::to_owned) }
    }

    /// The figure as text: value and unit (`10.0 units/day`, `1,234.50 USD`).
    pub fn display(&self, currency: &CurrencyCode) -> String {
        let value = self.value.display(currency);
        match (&self.value, &self.unit) {
            (Value::Money { .. }, _) => format!("{value} {currency}"),
            (_, Some(unit)) => format!("{value} {unit}"),
            (_, None) => value,
        }
    }
}

/// The days a figure was measured over, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Days from `from` to `to`, both included.
    pub days: i64,
}

impl Period {
    /// `from..=to`.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        Self { from, to, days: (to - from).num_days() + 1 }
    }
}

/// Everything that justifies a recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The main period the figures describe.
    pub period: Option<Period>,
    /// How the results follow from the inputs, in words and symbols.
    pub formula: String,
    /// Inputs and results, in reading order.
    pub figures: Vec<Figure>,
    /// Caveats and the origin of settings (a default used because the merchant set none).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl Evidence {
    /// The figure named `name`.
    pub fn figure(&self, name: &str) -> Option<&Figure> {
        self.figures.iter().find(|f| f.name == name)
    }
}

/// The money a recommendation puts at stake, and what that amount means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impact {
    /// Minor units of the organization's currency.
    pub minor: i64,
    /// What the amount is (`sales lost if the reorder waits a week`).
    pub basis: String,
}

/// One recommendation as the rules engine makes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// What kind.
    pub kind: Kind,
    /// About what.
    pub subject: Subject,
    /// One line that states the finding with its key numbers.
    pub title: String,
    /// What to do.
    pub action: String,
    /// The evidence.
    pub evidence: Evidence,
    /// Money at stake, when the finding has a money value.
    pub impact: Option<Impact>,
    /// The ranking key: higher first. Money at stake in minor units where there is one.
    pub score: i64,
    /// A hash of the facts that matter, quantized so that drift does not count as change.
    pub fingerprint: String,
}

/// The fingerprint of a recommendation's material facts: kind, subject and the quantized values that, when they
/// change, make a dismissed recommendation worth showing again.
pub fn fingerprint(kind: Kind, subject: &Subject, material: &[String]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(subject.key().as_bytes());
    for part in material {
        hasher.update([0]);
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut text = String::with_capacity(32);
    for byte in &digest[..16] {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// A hash of everything shown (title, action, evidence, impact, score): a refresh that computes the same content
/// writes nothing.
pub fn content_hash(recommendation: &Recommendation) -> String {
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(recommendation).unwrap_or_default());
    let digest = hasher.finalize();
    let mut text = String::with_capacity(32);
    for byte in &digest[..16] {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// The bucket of a positive quantity on a doubling scale: 1, 2-3, 4-7, 8-15… share a bucket, so a change counts
/// as material when a quantity roughly doubles or halves.
pub fn doubling_bucket(value: f64) -> i32 {
    if value <= 0.0 || !value.is_finite() { -1 } else { value.log2().floor() as i32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands_and_percentages_keep_small_rates_readable() {
        assert_eq!(group_thousands("1234567.50"), "1,234,567.50");
        assert_eq!(group_thousands("-1234"), "-1,234");
        assert_eq!(group_thousands("999"), "999");
        assert_eq!(percent(0.0312), "3.1%");
        assert_eq!(percent(0.0042), "0.42%");
        assert_eq!(percent(-0.25), "-25.0%");
        let usd = CurrencyCode::parse("USD").expect("USD");
        let jpy = CurrencyCode::parse("JPY").expect("JPY");
        assert_eq!(money(123_456, &usd), "1,234.56 USD");
        assert_eq!(money(123_456, &jpy), "123,456 JPY");
        assert_eq!(
            Figure::new("v", "Velocity", Value::number(10.0, 1), Some("units/day")).display(&usd),
            "10.0 units/day"
        );
    }

    #[test]
    fn kinds_round_trip_and_unknown_ones_are_named() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Ok(kind));
        }
        let error = Kind::parse("restocks").expect_err("unknown");
        assert!(error.to_string().contains("dead_stock"), "{error}");
    }

    #[test]
    fn fingerprints_change_with_material_facts_only() {
        let subject = Subject::Day { day: NaiveDate::from_ymd_opt(2024, 3, 10).expect("day") };
        let a = fingerprint(Kind::RevenueAnomaly, &subject, &["spike".into()]);
        assert_eq!(a, fingerprint(Kind::RevenueAnomaly, &subject, &["spike".into()]));
        assert_ne!(a, fingerprint(Kind::RevenueAnomaly, &subject, &["drop".into()]));
        assert_eq!(doubling_bucket(5.0), doubling_bucket(7.9));
        assert_ne!(doubling_bucket(5.0), doubling_bucket(8.0));
    }
}
