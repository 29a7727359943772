//! Revenue anomalies: a day, or a week, of the organization's revenue far outside its seasonal baseline.
//!
//! - **Days.** Each of the last [`ANOMALY_LOOKBACK_DAYS`] complete days is compared with the same weekday of the
//!   [`BASELINE_WEEKS`] weeks before it (Mondays with Mondays: weekday-aware). The baseline is their median, the
//!   spread `1.4826 × MAD` (the median absolute deviation, scaled to a standard deviation), but at least 10% of the
//!   median and at least one unit of the currency, so a perfectly flat history does not make every cent an anomaly.
//!   A day is anomalous when `|revenue − median| ÷ spread ≥ 3.5` (Iglewicz and Hoaglin's cut-off for this robust z).
//!   Medians and MADs ignore the outliers they are looking for: one spike does not move its successors' baselines.
//! - **Weeks.** Each complete ISO week (Monday–Sunday) of the lookback against the median of the [`BASELINE_WEEKS`]
//!   weeks before it, with the same spread rule, after replacing its anomalous days by their baselines: a week is
//!   reported only when it is unusual beyond a day already reported.
//!
//! Days before the organization's first day of data are not zeros but unknown: a baseline needs at least
//! [`MIN_BASELINE`] known weeks.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

use super::{Context, days_after, days_before, weekday_name};
use crate::advisor::{
    evidence::{
        Evidence, Figure, Impact, Kind, Period, Recommendation, Subject, Value, doubling_bucket, fingerprint, number,
    },
    stats::{MAD_TO_SIGMA, median, median_absolute_deviation},
};

/// Complete days (and the weeks inside them) examined.
pub const ANOMALY_LOOKBACK_DAYS: i64 = 28;
/// Weeks of history in a baseline.
pub const BASELINE_WEEKS: i64 = 8;
/// Known weeks a baseline needs.
pub const MIN_BASELINE: usize = 4;
/// The robust z from which a day or week is anomalous.
pub const ANOMALY_THRESHOLD: f64 = 3.5;
/// The smallest spread, as a share of the median.
pub const MIN_SPREAD_SHARE: f64 = 0.1;

/// The organization's daily revenue (minor units). Days from `first_day` on that are absent had no sales.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DailyRevenue {
    /// The first day with any data for the organization; earlier days are unknown.
    pub first_day: Option<NaiveDate>,
    /// Revenue by day; absent days (from `first_day` on) are zero.
    pub days: BTreeMap<NaiveDate, i64>,
}

impl DailyRevenue {
    fn known(&self, day: NaiveDate) -> bool {
        self.first_day.is_some_and(|first| day >= first)
    }

    fn revenue(&self, day: NaiveDate) -> i64 {
        self.days.get(&day).copied().unwrap_or(0)
    }
}

/// A baseline and how far one value lies from it.
struct Verdict {
    value: i64,
    baseline: Vec<(NaiveDate, i64)>,
    median: f64,
    spread: f64,
    z: f64,
}

fn judge(value: i64, baseline: Vec<(NaiveDate, i64)>, minimum_spread: f64) -> Option<Verdict> {
    if baseline.len() < MIN_BASELINE {
        return None;
    }
    let values: Vec<f64> = baseline.iter().map(|(_, v)| *v as f64).collect();
    let median = median(&values)?;
    let mad = median_absolute_deviation(&values)?;
    let spread = (MAD_TO_SIGMA * mad).max(MIN_SPREAD_SHARE * median.abs()).max(minimum_spread);
    let z = (value as f64 - median) / spread;
    Some(Verdict { value, baseline, median, spread, z })
}

/// Anomalous days and weeks among the last [`ANOMALY_LOOKBACK_DAYS`] complete days.
pub fn revenue_anomalies(context: &Context, history: &DailyRevenue) -> Vec<Recommendation> {
    let minimum_spread = 10f64.powi(context.currency.minor_digits() as i32);
    let mut found = Vec::new();
    let mut day_baselines: BTreeMap<NaiveDate, (f64, bool)> = BTreeMap::new();
    for back in (1..=ANOMALY_LOOKBACK_DAYS).rev() {
        let day = context.days_ago(back);
        if !history.known(day) {
            continue;
        }
        let baseline: Vec<(NaiveDate, i64)> = (1..=BASELINE_WEEKS)
            .map(|week| days_before(day, 7 * week))
            .filter(|d| history.known(*d))
            .map(|d| (d, history.revenue(d)))
            .collect();
        let Some(verdict) = judge(history.revenue(day), baseline, minimum_spread) else { continue };
        let anomalous = verdict.z.abs() >= ANOMALY_THRESHOLD;
        day_baselines.insert(day, (verdict.median, anomalous));
        if anomalous {
            found.push(day_anomaly(context, day, &verdict));
        }
    }
    // Complete weeks inside the lookback.
    let first = context.days_ago(ANOMALY_LOOKBACK_DAYS);
    let mut monday = days_after(first, i64::from((7 - first.weekday().num_days_from_monday()) % 7));
    while days_after(monday, 6) <= context.yesterday() {
        let week: Vec<NaiveDate> = (0..7).map(|i| days_after(monday, i)).collect();
        if week.iter().all(|d| history.known(*d)) {
            let adjusted: i64 = week
                .iter()
                .map(|d| match day_baselines.get(d) {
                    Some((median, true)) => median.round() as i64,
                    _ => history.revenue(*d),
                })
                .sum();
            let raw: i64 = week.iter().map(|d| history.revenue(*d)).sum();
            let baseline: Vec<(NaiveDate, i64)> = (1..=BASELINE_WEEKS)
                .map(|w| days_before(monday, 7 * w))
                .filter(|start| history.known(*start))
                .map(|start| (start, (0..7).map(|i| history.revenue(days_after(start, i))).sum()))
                .collect();
            if let Some(verdict) = judge(adjusted, baseline, minimum_spread)
                && verdict.z.abs() >= ANOMALY_THRESHOLD
            {
                found.push(week_anomaly(context, monday, raw, &verdict));
            }
        }
        monday = days_after(monday, 7);
    }
    found
}

fn baseline_figures(verdict: &Verdict, label: impl Fn(NaiveDate) -> String) -> Vec<Figure> {
    verdict
        .baseline
        .iter()
        .enumerate()
        .map(|(i, (day, revenue))| {
            Figure::new(&format!("baseline_{}", i + 1), &label(*day), Value::money(*revenue), None)
        })
        .collect()
}

fn day_anomaly(context: &Context, day: NaiveDate, verdict: &Verdict) -> Recommendation {
    let weekday = weekday_name(day);
    let spike = verdict.z > 0.0;
    let n = verdict.baseline.len();
    let usual = context.money(verdict.median.round() as i64);
    let value = context.money(verdict.value);
    let title = if spike && verdict.median > 0.0 {
        format!(
            "Revenue on {weekday} {day} was {value}, {}× the usual {weekday} ({usual}, the median of the {n} {weekday}s before)",
            number(verdict.value as f64 / verdict.median, 1)
        )
    } else if spike {
        format!("Revenue on {weekday} {day} was {value}, where the {n} {weekday}s before had a median of {usual}")
    } else {
        format!(
            "Revenue on {weekday} {day} was {value}, far below the usual {weekday} ({usual}, the median of the {n} {weekday}s before)"
        )
    };
    let action = if spike {
        "Find what drove it (a campaign, a bulk order, a mention) and whether it can be repeated, or whether it is a \
         data error."
    } else {
        "Check that day for an outage, a checkout or payment problem, a best seller out of stock, or a tracking gap."
    };
    let mut figures = vec![
        Figure::new("revenue", &format!("Revenue on {day}"), Value::money(verdict.value), None),
        Figure::new(
            "baseline_median",
            &format!("Median of the {n} {weekday}s before"),
            Value::money(verdict.median.round() as i64),
            None,
        ),
        Figure::new(
            "spread",
            "Robust spread (1.4826 × median absolute deviation, at least 10% of the median)",
            Value::money(verdict.spread.round() as i64),
            None,
        ),
        Figure::new("z", "Robust z ((revenue − median) ÷ spread)", Value::number(verdict.z, 1), None),
    ];
    figures.extend(baseline_figures(verdict, |d| format!("Revenue on {weekday} {d}")));
    let subject = Subject::Day { day };
    let deviation = (verdict.value as f64 - verdict.median).abs();
    let material = [
        if spike { "spike" } else { "drop" }.to_owned(),
        doubling_bucket(verdict.z.abs() / ANOMALY_THRESHOLD).to_string(),
    ];
    Recommendation {
        kind: Kind::RevenueAnomaly,
        fingerprint: fingerprint(Kind::RevenueAnomaly, &subject, &material),
        subject,
        title,
        action: action.to_owned(),
        evidence: Evidence {
            period: Some(Period::new(day, day)),
            formula: format!(
                "robust z = (revenue − median of the same weekday in the {BASELINE_WEEKS} weeks before) ÷ spread; \
                 anomalous when |z| ≥ {ANOMALY_THRESHOLD}"
            ),
            figures,
            notes: Vec::new(),
        },
        score: deviation.round() as i64,
        impact: Some(Impact { minor: deviation.round() as i64, basis: format!("difference from the usual {weekday}") }),
    }
}

fn week_anomaly(context: &Context, monday: NaiveDate, raw: i64, verdict: &Verdict) -> Recommendation {
    let sunday = days_after(monday, 6);
    let spike = verdict.z > 0.0;
    let n = verdict.baseline.len();
    let usual = context.money(verdict.median.round() as i64);
    let title = format!(
        "Revenue in the week of {monday} was {}, {} the usual week ({usual}, the median of the {n} weeks before)",
        context.money(raw),
        if spike { "far above" } else { "far below" }
    );
    let action = if spike {
        "Find what lifted the whole week (a campaign, seasonality, a new channel) and whether to plan stock for more."
    } else {
        "Check the week for lost traffic, a site or checkout problem, stock-outs of best sellers, or a tracking gap."
    };
    let mut figures = vec![
        Figure::new("revenue", &format!("Revenue {monday} to {sunday}"), Value::money(raw), None),
        Figure::new(
            "revenue_adjusted",
            "The same with anomalous days replaced by their baselines",
            Value::money(verdict.value),
            None,
        ),
        Figure::new(
            "baseline_median",
            &format!("Median of the {n} weeks before"),
            Value::money(verdict.median.round() as i64),
            None,
        ),
        Figure::new(
            "spread",
            "Robust spread (1.4826 × median absolute deviation, at least 10% of the median)",
            Value::money(verdict.spread.round() as i64),
            None,
        ),
        Figure::new("z", "Robust z ((adjusted revenue − median) ÷ spread)", Value::number(verdict.z, 1), None),
    ];
    figures.extend(baseline_figures(verdict, |d| format!("Revenue in the week of {d}")));
    let subject = Subject::Week { start: monday };
    let deviation = (verdict.value as f64 - verdict.median).abs();
    let material = [
        if spike { "spike" } else { "drop" }.to_owned(),
        doubling_bucket(verdict.z.abs() / ANOMALY_THRESHOLD).to_string(),
    ];
    Recommendation {
        kind: Kind::RevenueAnomaly,
        fingerprint: fingerprint(Kind::RevenueAnomaly, &subject, &material),
        subject,
        title,
        action: action.to_owned(),
        evidence: Evidence {
            period: Some(Period::new(monday, sunday)),
            formula: format!(
                "robust z = (week revenue, anomalous days replaced by their baselines − median of the {BASELINE_WEEKS} \
                 weeks before) ÷ spread; anomalous when |z| ≥ {ANOMALY_THRESHOLD}"
            ),
            figures,
            notes: Vec::new(),
        },
        score: deviation.round() as i64,
        impact: Some(Impact { minor: deviation.round() as i64, basis: "difference from the usual week".to_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::{super::test_support::*, *};

    fn series(today: &str, days: i64, revenue: impl Fn(NaiveDate) -> i64) -> DailyRevenue {
        let today = day(today);
        let first = days_before(today, days);
        let days = (0..days).map(|i| days_after(first, i)).map(|d| (d, revenue(d))).collect();
        DailyRevenue { first_day: Some(first), days }
    }

    #[test]
    fn a_flat_series_with_one_spike_has_exactly_one_anomaly() {
        // Arrange: 100.00 a day for 120 days, except 500.00 on one day ten days ago.
        let context = context("2024-06-30");
        let spike = day("2024-06-20");
        let history = series("2024-06-30", 120, |d| if d == spike { 50_000 } else { 10_000 });

        // Act
        let found = revenue_anomalies(&context, &history);

        // Assert: the day, and not its week (the week is unusual only because of that day).
        assert_eq!(found.len(), 1, "{found:#?}");
        let advice = &found[0];
        assert_eq!(advice.subject, Subject::Day { day: spike });
        assert_eq!(advice.evidence.figure("baseline_median").map(|f| f.value.clone()), Some(Value::money(10_000)));
        assert_eq!(
            advice.evidence.figure("z").map(|f| f.value.clone()),
            Some(Value::number(40.0, 1)),
            "400.00 ÷ 10.00"
        );
        assert!(advice.title.contains("5.0× the usual Thursday"), "{}", advice.title);
        assert_eq!(advice.impact.as_ref().map(|i| i.minor), Some(40_000));
    }

    #[test]
    fn a_weekly_pattern_is_the_baseline_not_an_anomaly() {
        let context = context("2024-06-30");
        let history =
            series("2024-06-30", 120, |d| if d.weekday().num_days_from_monday() >= 5 { 30_000 } else { 10_000 });
        assert!(revenue_anomalies(&context, &history).is_empty());
    }

    #[test]
    fn a_day_without_sales_in_a_busy_history_is_a_drop_and_unknown_history_is_not_zero() {
        let context = context("2024-06-30");
        let outage = day("2024-06-25");
        let history = series("2024-06-30", 120, |d| if d == outage { 0 } else { 10_000 });
        let found = revenue_anomalies(&context, &history);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].title.contains("far below the usual Tuesday"), "{}", found[0].title);

        // Only 20 days of history: no baseline has four known weeks, so nothing is judged.
        let young = series("2024-06-30", 20, |d| if d == outage { 0 } else { 10_000 });
        assert!(revenue_anomalies(&context, &young).is_empty());
    }

    #[test]
    fn a_week_lifted_a_little_every_day_is_a_week_anomaly_though_no_day_is() {
        // Arrange: each weekday alternates 50.00 / 150.00 from one week to the next (wide day baselines), so weeks
        // alternate 650.00 / 750.00 (narrow week baselines). The week of 17 June is lifted 40% on every day.
        let context = context("2024-06-30");
        let lifted = |d: NaiveDate| (day("2024-06-17")..=day("2024-06-23")).contains(&d);
        let history = series("2024-06-30", 140, |d| {
            let odd = (d.iso_week().week() + d.weekday().num_days_from_monday()) % 2 == 1;
            let base = if odd { 15_000 } else { 5_000 };
            if lifted(d) { base * 14 / 10 } else { base }
        });

        // Act
        let found = revenue_anomalies(&context, &history);

        // Assert: 1,050.00 against a median of 700.00 and a spread of 74.13: z = 4.7.
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].subject, Subject::Week { start: day("2024-06-17") });
        assert_eq!(
            found[0].evidence.figure("z").map(|f| f.value.clone()),
            Some(Value::number(35_000.0 / (MAD_TO_SIGMA * 5_000.0), 1))
        );
    }
}
