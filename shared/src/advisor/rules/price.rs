//! Price suggestions, only where the history can support one.
//!
//! Each day a product sold gives one observation: its average unit price that day (revenue ÷ units, after
//! discounts) and the units sold. With enough of them ([`MIN_SALE_DAYS`] days, [`MIN_DISTINCT_PRICES`] distinct
//! prices spanning at least 5%), a least-squares line `ln(units) = a + b × ln(price)` estimates the price elasticity
//! `b` with its standard error. No suggestion unless demand falls significantly as the price rises (the 95% interval
//! of `b` lies below zero) and the estimate is informative (standard error ≤ 1).
//!
//! Demand at another price `p` is then `demand now × (p ÷ price now)^b` (anchored at today's price, so the interval's
//! ends answer "what if `b` is at either end"). The suggestion maximises gross profit `(p − unit cost) × demand`
//! (revenue `p × demand` when no cost is known) within the prices the history actually saw and at most
//! [`MAX_STEP`] away from today's price: the data says nothing beyond them. It is made when the expected gain is at
//! least 3% over 28 days.

use chrono::NaiveDate;
use uuid::Uuid;

use super::{Context, LOOKBACK_DAYS};
use crate::advisor::{
    evidence::{Evidence, Figure, Impact, Kind, Period, Recommendation, Subject, Value, fingerprint, number, percent},
    stats::fit_line,
};

/// Days with sales a product needs for an estimate.
pub const MIN_SALE_DAYS: usize = 10;
/// Distinct daily prices (to the minor unit) it needs.
pub const MIN_DISTINCT_PRICES: usize = 3;
/// How far apart the lowest and highest price must be (0.05: 5%).
pub const MIN_PRICE_SPREAD: f64 = 0.05;
/// The largest step from today's price a suggestion takes.
pub const MAX_STEP: f64 = 0.10;
/// The smallest expected gain worth a suggestion, as a share of today's profit (or revenue).
pub const MIN_GAIN: f64 = 0.03;
/// The largest standard error of the elasticity still worth acting on.
pub const MAX_ELASTICITY_SE: f64 = 1.0;

/// A product's sales by day over the lookback, for its demand response.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceHistory {
    /// The product.
    pub id: Uuid,
    /// Its title.
    pub title: String,
    /// Its unit cost, when known (minor units).
    pub unit_cost_minor: Option<i64>,
    /// Its list price (minor units).
    pub list_price_minor: Option<i64>,
    /// `(day, units, revenue)` for each day it sold, in day order.
    pub days: Vec<(NaiveDate, i64, i64)>,
}

/// The suggestion for one product, or `None` when the history cannot support one.
pub fn price_suggestion(context: &Context, history: &PriceHistory) -> Option<Recommendation> {
    let observations: Vec<(NaiveDate, f64, f64)> = history
        .days
        .iter()
        .filter(|(_, units, revenue)| *units > 0 && *revenue > 0)
        .map(|(day, units, revenue)| (*day, *revenue as f64 / *units as f64, *units as f64))
        .collect();
    if observations.len() < MIN_SALE_DAYS {
        return None;
    }
    let mut distinct: Vec<i64> = observations.iter().map(|(_, price, _)| price.round() as i64).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let (low, high) = (*distinct.first()? as f64, *distinct.last()? as f64);
    if distinct.len() < MIN_DISTINCT_PRICES || low <= 0.0 || high < low * (1.0 + MIN_PRICE_SPREAD) {
        return None;
    }
    let points: Vec<(f64, f64)> = observations.iter().map(|(_, price, units)| (price.ln(), units.ln())).collect();
    let fit = fit_line(&points)?;
    let (b, se) = (fit.slope, fit.slope_se);
    let (b_low, b_high) = (b - 1.96 * se, b + 1.96 * se);
    if b_high >= 0.0 || se > MAX_ELASTICITY_SE {
        return None;
    }

    // Today's price: the average unit price of the last 28 days' sales, else the list price.
    let recent_from = context.days_ago(28);
    let (recent_units, recent_revenue) = history
        .days
        .iter()
        .filter(|(day, ..)| *day >= recent_from)
        .fold((0, 0), |(u, r), (_, units, revenue)| (u + units, r + revenue));
    let current = if recent_units > 0 {
        recent_revenue as f64 / recent_units as f64
    } else {
        history.list_price_minor.map(|p| p as f64)?
    };
    let first_day = observations.first().map(|o| o.0)?;
    let window_from = first_day.max(context.days_ago(LOOKBACK_DAYS));
    let window_days = (context.today - window_from).num_days().max(1) as f64;
    // Demand per calendar day at today's price: the fitted units per sale day × the share of days with a sale.
    let sale_share = observations.len() as f64 / window_days;
    let demand_now = sale_share * (fit.intercept + b * current.ln()).exp();
    let cost = history.unit_cost_minor.map(|c| c as f64);
    let objective = |price: f64, elasticity: f64| {
        let demand = demand_now * (price / current).powf(elasticity);
        (price - cost.unwrap_or(0.0)) * demand
    };
    let floor = low.max(current * (1.0 - MAX_STEP));
    let ceiling = high.min(current * (1.0 + MAX_STEP));
    if floor >= ceiling {
        return None;
    }
    // Constant elasticity: profit peaks at cost × b ÷ (1 + b) when b < −1 and rises with price otherwise; revenue
    // falls with price when b < −1 and rises when b > −1.
    let best = match cost {
        Some(cost) if b < -1.0 => cost * b / (1.0 + b),
        Some(_) => ceiling,
        None if b < -1.0 => floor,
        None => ceiling,
    };
    let suggested = best.clamp(floor, ceiling).round();
    let base = objective(current, b);
    let gain = 28.0 * (objective(suggested, b) - base);
    if (suggested - current).abs() < current * 0.01 || base <= 0.0 || gain < MIN_GAIN * 28.0 * base {
        return None;
    }
    let gain_low = 28.0 * (objective(suggested, b_low) - objective(current, b_low));
    let gain_high = 28.0 * (objective(suggested, b_high) - objective(current, b_high));
    let (gain_low, gain_high) = (gain_low.min(gain_high), gain_low.max(gain_high));

    let raise = suggested > current;
    let what = if cost.is_some() { "gross profit" } else { "revenue" };
    let title = &history.title;
    let (suggested_minor, current_minor) = (suggested as i64, current.round() as i64);
    let headline = format!(
        "Try {title} at {} (now {}): demand responds {} to price (elasticity {}), worth about {} more {what} per 28 days",
        context.money(suggested_minor),
        context.money(current_minor),
        if b < -1.0 { "strongly" } else { "weakly" },
        number(b, 2),
        context.money(gain.round() as i64),
    );
    let action = format!(
        "{} the price to {} for a few weeks and compare; the 95% range of the estimate is {} to {} per 28 days.",
        if raise { "Raise" } else { "Lower" },
        context.money(suggested_minor),
        context.money(gain_low.round() as i64),
        context.money(gain_high.round() as i64),
    );
    let mut figures = vec![
        Figure::new(
            "sale_days",
            "Days with sales (observations)",
            Value::count(observations.len() as i64),
            Some("days"),
        ),
        Figure::new("distinct_prices", "Distinct daily average prices", Value::count(distinct.len() as i64), None),
        Figure::new("lowest_price", "Lowest daily average price", Value::money(low as i64), None),
        Figure::new("highest_price", "Highest daily average price", Value::money(high as i64), None),
        Figure::new("elasticity", "Price elasticity b (slope of ln units on ln price)", Value::number(b, 2), None),
        Figure::new("elasticity_se", "Standard error of b", Value::number(se, 2), None),
        Figure::new("elasticity_low", "b, 95% interval low end (b − 1.96 × SE)", Value::number(b_low, 2), None),
        Figure::new("elasticity_high", "b, 95% interval high end (b + 1.96 × SE)", Value::number(b_high, 2), None),
        Figure::new(
            "r_squared",
            "Share of the variation in ln units explained (R²)",
            Value::number(fit.r_squared, 2),
            None,
        ),
        Figure::new(
            "current_price",
            "Price now (average unit price of the last 28 days' sales)",
            Value::money(current_minor),
            None,
        ),
        Figure::new("suggested_price", "Suggested price", Value::money(suggested_minor), None),
        Figure::new("price_change", "Change", Value::ratio(suggested / current - 1.0), None),
        Figure::new(
            "units_per_day_now",
            "Expected units per day at today's price",
            Value::number(demand_now, 2),
            Some("units/day"),
        ),
        Figure::new(
            "units_per_day_suggested",
            "Expected units per day at the suggested price",
            Value::number(demand_now * (suggested / current).powf(b), 2),
            Some("units/day"),
        ),
        Figure::new(
            "expected_gain",
            &format!("Expected extra {what} per 28 days"),
            Value::money(gain.round() as i64),
            None,
        ),
        Figure::new("expected_gain_low", "95% range, low end", Value::money(gain_low.round() as i64), None),
        Figure::new("expected_gain_high", "95% range, high end", Value::money(gain_high.round() as i64), None),
    ];
    let mut notes = vec![format!(
        "Suggestions stay within the prices the history saw and within {} of today's price.",
        percent(MAX_STEP)
    )];
    match history.unit_cost_minor {
        Some(cost) => figures.push(Figure::new("unit_cost", "Unit cost", Value::money(cost), None)),
        None => notes.push("No unit cost is on file: the suggestion maximises revenue, not profit.".to_owned()),
    }
    let subject = Subject::Product { id: history.id, title: history.title.clone() };
    // Material: the direction and the suggested price in 5% steps of today's.
    let step = ((suggested / current - 1.0) / 0.05).round() as i64;
    let material = [if raise { "raise" } else { "lower" }.to_owned(), step.to_string()];
    Some(Recommendation {
        kind: Kind::PriceSuggestion,
        fingerprint: fingerprint(Kind::PriceSuggestion, &subject, &material),
        subject,
        title: headline,
        action,
        evidence: Evidence {
            period: Some(Period::new(window_from, context.yesterday())),
            formula: "ln(units on a sale day) = a + b × ln(average unit price that day), least squares; demand at price \
                      p = demand now × (p ÷ price now)^b; suggested price maximises (p − unit cost) × demand within the \
                      prices seen and ±10% of today's"
                .to_owned(),
            figures,
            notes,
        },
        score: gain.round() as i64,
        impact: Some(Impact { minor: gain.round() as i64, basis: format!("expected extra {what} per 28 days") }),
    })
}

#[cfg(test)]
mod tests {
    use super::{super::test_support::*, *};
    use crate::advisor::rules::days_before;

    /// Sales on the days given as `(days ago, price, units)`.
    fn history(sales: &[(i64, i64, i64)], cost: Option<i64>) -> PriceHistory {
        let today = day("2024-06-30");
        let mut days: Vec<(NaiveDate, i64, i64)> =
            sales.iter().map(|(ago, price, units)| (days_before(today, *ago), *units, price * units)).collect();
        days.sort_by_key(|d| d.0);
        PriceHistory {
            id: Uuid::new_v4(),
            title: "Mug".into(),
            unit_cost_minor: cost,
            list_price_minor: Some(1_000),
            days,
        }
    }

    #[test]
    fn no_price_variation_means_no_price_suggestion() {
        let context = context("2024-06-30");
        let flat: Vec<(i64, i64, i64)> = (0..20).map(|i| (100 - 4 * i, 1_000, 5 + i % 4)).collect();
        assert!(price_suggestion(&context, &history(&flat, Some(400))).is_none());
    }

    #[test]
    fn too_few_sale_days_or_no_falling_demand_mean_no_suggestion() {
        let context = context("2024-06-30");
        let few = [(30, 800, 100), (20, 1_000, 64), (10, 1_200, 44)];
        assert!(price_suggestion(&context, &history(&few, Some(400))).is_none(), "three days are not a history");
        // Units do not fall as the price rises: the elasticity's interval does not lie below zero.
        let rising: Vec<(i64, i64, i64)> =
            (0..20).map(|i| (100 - 4 * i, 900 + 50 * (i % 5), 10 + (2 * i) % 5)).collect();
        assert!(price_suggestion(&context, &history(&rising, Some(400))).is_none());
    }

    #[test]
    fn a_clear_elastic_response_suggests_the_profit_maximising_price_within_the_seen_range() {
        // Arrange: units = 640,000,000 ÷ price² (elasticity −2) at prices 8.00 to 12.00 over the spring, and 11.00
        // for the last three weeks. Unit cost 4.00.
        let context = context("2024-06-30");
        let mut sales: Vec<(i64, i64, i64)> = (0..16)
            .map(|i| {
                let price = [800, 900, 1_000, 1_200][i as usize % 4];
                (100 - 4 * i, price, 640_000_000 / (price * price) + i % 2)
            })
            .collect();
        sales.extend([(20, 1_100, 529), (15, 1_100, 529), (10, 1_100, 529)]);

        // Act
        let advice = price_suggestion(&context, &history(&sales, Some(400))).expect("a suggestion");

        // Assert: profit would peak at 4.00 × −2 ÷ −1 = 8.00, but a step is at most 10%: 11.00 → 9.90.
        let figure = |name: &str| advice.evidence.figure(name).map(|f| f.value.clone()).expect(name);
        let Value::Number { value: b, .. } = figure("elasticity") else { panic!("a number") };
        assert!((-2.1..=-1.9).contains(&b), "{b}");
        assert_eq!(figure("current_price"), Value::money(1_100));
        assert_eq!(figure("suggested_price"), Value::money(990));
        assert!(advice.action.starts_with("Lower the price to 9.90 USD"), "{}", advice.action);
        // (9.90 − 4.00) × (11 ÷ 9.9)² against (11.00 − 4.00): about 4% more profit.
        assert!(advice.impact.as_ref().is_some_and(|i| i.minor > 0));
    }
}
