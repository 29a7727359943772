//! Stock rules: when to reorder and how much, which stock does not move, and which covers far more than it should.
//!
//! - **Restock.** Velocity `v = units sold ÷ days observed` over the last 28 days (90 when fewer than
//!   [`RESTOCK_MIN_UNITS`] sold in 28: a slow seller's month is noise); cover `c = inventory ÷ v`; the
//!   stock-out date is `today + ⌊c⌋`. With lead time `L` and target cover `T` (the merchant's, or the defaults), a
//!   restock is due once `c ≤ L + 7`; the order must go out by `today + ⌊c⌋ − L` ("now" when that is today or past),
//!   and the quantity is `⌈v × (L + T)⌉ − inventory`: enough to sell through the lead time and then `T` more days.
//!   Computed in integers (`⌈units × (L + T) ÷ days⌉`), so the answers are exact.
//! - **Dead stock.** Units in stock and no sale in the last [`DEAD_STOCK_DAYS`] days, for a product known for at
//!   least that long; the capital tied up is `inventory × unit cost`.
//! - **Slow mover.** Selling, but at the 90-day pace the stock lasts more than [`SLOW_MOVER_COVER_DAYS`] days; the
//!   excess is what lies beyond `⌈v × (L + T)⌉`, valued at cost.

use super::{
    Context, CostSource, DEAD_STOCK_DAYS, ProductFacts, REVIEW_DAYS, SLOW_MOVER_COVER_DAYS, days_after, observed_days,
};
use crate::advisor::evidence::{
    Evidence, Figure, Impact, Kind, Period, Recommendation, Subject, Value, doubling_bucket, fingerprint, number,
};

/// How soon a reorder must go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Nothing in stock.
    OutOfStock,
    /// Stock runs out before (or as) a reorder placed today arrives.
    Now,
    /// The order can wait a few days.
    Soon,
}

impl Urgency {
    fn as_str(self) -> &'static str {
        match self {
            Self::OutOfStock => "out_of_stock",
            Self::Now => "now",
            Self::Soon => "soon",
        }
    }
}

/// `⌈numerator ÷ denominator⌉` for a non-negative numerator and a positive denominator.
fn ceil_div(numerator: i64, denominator: i64) -> i64 {
    (numerator + denominator - 1) / denominator
}

fn velocity_decimals(velocity: f64) -> u8 {
    if velocity >= 1.0 { 1 } else { 2 }
}

fn lead_and_target(context: &Context, product: &ProductFacts) -> (i64, i64, Vec<String>) {
    let mut notes = Vec::new();
    let lead = match product.lead_time_days {
        Some(days) => i64::from(days),
        None => {
            notes.push(format!(
                "Lead time: the default of {} days (no lead time is set on this product).",
                context.default_lead_time_days
            ));
            i64::from(context.default_lead_time_days)
        }
    };
    let target = match product.target_cover_days {
        Some(days) => i64::from(days),
        None => {
            notes.push(format!(
                "Target cover: the default of {} days (no target cover is set on this product).",
                context.default_target_cover_days
            ));
            i64::from(context.default_target_cover_days)
        }
    };
    (lead, target, notes)
}

fn cost_note(source: CostSource) -> &'static str {
    match source {
        CostSource::Merchant => "Unit cost: as set on the product.",
        CostSource::Variants => "Unit cost: the platform's variant costs, weighted by units in stock.",
    }
}

/// Units sold in the last 28 days from which that window measures a restock's velocity.
pub const RESTOCK_MIN_UNITS: i64 = 10;

/// A restock recommendation when stock covers no more than the lead time plus [`REVIEW_DAYS`].
pub fn restock(context: &Context, product: &ProductFacts) -> Option<Recommendation> {
    // A short window follows demand closely, but for a slow seller a few units are noise: then the 90-day window
    // measures the velocity (and it still sees a product out of stock for weeks, which sold nothing lately).
    let (units, revenue, window) = if product.units_28 >= RESTOCK_MIN_UNITS {
        (product.units_28, product.revenue_28, 28)
    } else if product.units_90 > 0 {
        (product.units_90, product.revenue_90, 90)
    } else {
        return None;
    };
    let days = observed_days(context, product.first_activity, window);
    let velocity = units as f64 / days as f64;
    let (lead, target, mut notes) = lead_and_target(context, product);
    if window == 90 {
        notes.push(format!(
            "Fewer than {RESTOCK_MIN_UNITS} units sold in the last 28 days: the velocity is measured over up to 90 days."
        ));
    }
    let on_hand = product.inventory.max(0);
    let cover = on_hand as f64 * days as f64 / units as f64;
    if cover > (lead + REVIEW_DAYS) as f64 {
        return None;
    }
    let cover_whole = on_hand * days / units;
    let stockout = days_after(context.today, cover_whole);
    let reorder = ceil_div(units * (lead + target), days) - on_hand;
    if reorder <= 0 {
        return None;
    }
    let urgency = if on_hand == 0 {
        Urgency::OutOfStock
    } else if cover_whole <= lead {
        Urgency::Now
    } else {
        Urgency::Soon
    };
    let order_by = days_after(context.today, (cover_whole - lead).max(0));
    let shortfall_days = (lead as f64 - cover).max(0.0);
    let unit_revenue = revenue as f64 / units as f64;
    let at_risk_days = ((lead + REVIEW_DAYS) as f64 - cover).clamp(0.0, 28.0);
    let impact_minor = (velocity * at_risk_days * unit_revenue).round() as i64;

    let velocity_28 = product.units_28 as f64 / observed_days(context, product.first_activity, 28) as f64;
    let v = number(velocity, velocity_decimals(velocity));
    let title = &product.title;
    let headline = match urgency {
        Urgency::OutOfStock => {
            format!("Out of stock: {title} sold {v} units/day over the last {days} days; reorder {reorder} units now")
        }
        Urgency::Now => {
            let runs_out = match cover_whole {
                0 => "today".to_owned(),
                1 => "in 1 day".to_owned(),
                n => format!("in {n} days"),
            };
            format!("Reorder {title} now: stock runs out {runs_out} ({stockout}) and a reorder takes {lead} days")
        }
        Urgency::Soon => {
            format!("Reorder {title} by {order_by}: stock runs out in {cover_whole} days ({stockout}) at {v} units/day")
        }
    };
    let action = format!(
        "Order {reorder} units: enough for the {lead}-day lead time plus {target} days of cover at {v} units/day."
    );

    let mut figures = vec![
        Figure::new("units_sold", &format!("Units sold in the last {days} days"), Value::count(units), Some("units")),
        Figure::new("days_observed", "Days observed", Value::count(days), Some("days")),
        Figure::new(
            "velocity",
            "Sales velocity (units sold ÷ days observed)",
            Value::number(velocity, velocity_decimals(velocity)),
            Some("units/day"),
        ),
        Figure::new(
            "velocity_7",
            "Velocity over the last 7 days",
            Value::number(product.units_7 as f64 / 7.0, 2),
            Some("units/day"),
        ),
        Figure::new("velocity_28", "Velocity over the last 28 days", Value::number(velocity_28, 2), Some("units/day")),
        Figure::new(
            "velocity_90",
            "Velocity over the last 90 days",
            Value::number(product.units_90 as f64 / observed_days(context, product.first_activity, 90) as f64, 2),
            Some("units/day"),
        ),
        Figure::new("inventory", "Units in stock", Value::count(on_hand), Some("units")),
        Figure::new("cover_days", "Stock cover (inventory ÷ velocity)", Value::number(cover, 1), Some("days")),
        Figure::new("stockout_date", "Predicted stock-out (today + whole days of cover)", Value::date(stockout), None),
        Figure::new("lead_time_days", "Supplier lead time", Value::count(lead), Some("days")),
        Figure::new("target_cover_days", "Target cover after the lead time", Value::count(target), Some("days")),
        Figure::new(
            "reorder_quantity",
            "Reorder quantity (⌈velocity × (lead time + target cover)⌉ − inventory)",
            Value::count(reorder),
            Some("units"),
        ),
        Figure::new(
            "order_by",
            "Order by (stock-out date − lead time, today at the earliest)",
            Value::date(order_by),
            None,
        ),
    ];
    if velocity_28 > 0.0 {
        figures.insert(
            6,
            Figure::new(
                "trend",
                "Trend (velocity of the last 7 days ÷ last 28 days − 1)",
                Value::ratio(product.units_7 as f64 / 7.0 / velocity_28 - 1.0),
                None,
            ),
        );
    }
    if shortfall_days > 0.0 {
        figures.push(Figure::new(
            "shortfall_units",
            "Units short even if ordered today (velocity × (lead time − cover))",
            Value::number(velocity * shortfall_days, 1),
            Some("units"),
        ));
    }
    figures.push(Figure::new(
        "unit_revenue",
        "Average revenue per unit sold (revenue ÷ units, same period)",
        Value::money(unit_revenue.round() as i64),
        None,
    ));
    if product.inventory < 0 {
        notes.push(format!("The platform reports {} units (oversold); counted as 0.", product.inventory));
    }
    let impact = Impact {
        minor: impact_minor,
        basis: format!(
            "sales lost if the reorder waits another week: {} days without stock × {v} units/day × {} per unit",
            number(at_risk_days, 1),
            context.money(unit_revenue.round() as i64)
        ),
    };
    let subject = Subject::Product { id: product.id, title: product.title.clone() };
    let material =
        [urgency.as_str().to_owned(), doubling_bucket(reorder as f64).to_string(), format!("{lead}/{target}")];
    Some(Recommendation {
        kind: Kind::Restock,
        fingerprint: fingerprint(Kind::Restock, &subject, &material),
        subject,
        title: headline,
        action,
        evidence: Evidence {
            period: Some(Period::new(context.days_ago(days), context.yesterday())),
            formula:
                "velocity = units sold ÷ days observed; cover = inventory ÷ velocity; stock-out = today + ⌊cover⌋; \
                      reorder quantity = ⌈velocity × (lead time + target cover)⌉ − inventory; \
                      order by = stock-out − lead time"
                    .to_owned(),
            figures,
            notes,
        },
        score: impact_minor,
        impact: Some(impact),
    })
}

/// Dead stock: units in stock, no sale in [`DEAD_STOCK_DAYS`] days, and the product known for at least that long.
pub fn dead_stock(context: &Context, product: &ProductFacts) -> Option<Recommendation> {
    if product.inventory <= 0 || product.units_90 > 0 {
        return None;
    }
    let known_since = product.first_activity.map_or(product.created_on, |first| first.min(product.created_on));
    let cutoff = context.days_ago(DEAD_STOCK_DAYS);
    if known_since > cutoff {
        return None;
    }
    let (idle_days, since) = match product.last_sale {
        Some(last) if last <= cutoff => ((context.today - last).num_days(), Some(last)),
        // A last sale inside the window would have shown in `units_90`; the rollups disagree with themselves.
        Some(_) => return None,
        None => ((context.today - known_since).num_days(), None),
    };
    let inventory = product.inventory;
    let title = &product.title;
    let capital = product.unit_cost.map(|(cost, _)| cost * inventory);
    let headline = match (since, capital) {
        (Some(_), Some(capital)) => format!(
            "{title}: {inventory} units unsold for {idle_days} days; {} tied up at cost",
            context.money(capital)
        ),
        (Some(_), None) => format!("{title}: {inventory} units unsold for {idle_days} days"),
        (None, Some(capital)) => format!(
            "{title}: {inventory} units with no sale on record in {idle_days} days; {} tied up at cost",
            context.money(capital)
        ),
        (None, None) => format!("{title}: {inventory} units with no sale on record in {idle_days} days"),
    };
    let mut figures = vec![
        Figure::new("inventory", "Units in stock", Value::count(inventory), Some("units")),
        Figure::new("units_sold_90", "Units sold in the last 90 days", Value::count(0), Some("units")),
    ];
    figures.push(match since {
        Some(last) => Figure::new("last_sale", "Last sale", Value::date(last), None),
        None => Figure::new("known_since", "First seen (no sale on record)", Value::date(known_since), None),
    });
    figures.push(Figure::new("days_without_sale", "Days without a sale", Value::count(idle_days), Some("days")));
    let mut notes = Vec::new();
    match product.unit_cost {
        Some((cost, source)) => {
            figures.push(Figure::new("unit_cost", "Unit cost", Value::money(cost), None));
            figures.push(Figure::new(
                "capital",
                "Capital tied up (inventory × unit cost)",
                Value::money(cost * inventory),
                None,
            ));
            notes.push(cost_note(source).to_owned());
        }
        None => notes.push("No unit cost is on file: set one on the product to see the capital tied up.".to_owned()),
    }
    if let Some(price) = product.price_minor {
        figures.push(Figure::new(
            "retail_value",
            "Value at list price (inventory × price)",
            Value::money(price * inventory),
            None,
        ));
    }
    let subject = Subject::Product { id: product.id, title: product.title.clone() };
    let material = [
        doubling_bucket(inventory as f64).to_string(),
        doubling_bucket(idle_days as f64 / DEAD_STOCK_DAYS as f64).to_string(),
        capital.is_some().to_string(),
    ];
    Some(Recommendation {
        kind: Kind::DeadStock,
        fingerprint: fingerprint(Kind::DeadStock, &subject, &material),
        subject,
        title: headline,
        action: "Mark it down, bundle it with a best seller, or return it to the supplier to free the cash.".to_owned(),
        evidence: Evidence {
            period: Some(Period::new(context.days_ago(DEAD_STOCK_DAYS), context.yesterday())),
            formula: format!(
                "dead stock = units in stock and no sale in the last {DEAD_STOCK_DAYS} days; \
                 capital tied up = inventory × unit cost"
            ),
            figures,
            notes,
        },
        score: capital.unwrap_or(0),
        impact: capital
            .map(|minor| Impact { minor, basis: format!("capital tied up at cost: {inventory} units × unit cost") }),
    })
}

/// A slow mover: selling, but at the 90-day pace the stock lasts more than [`SLOW_MOVER_COVER_DAYS`] days.
pub fn slow_mover(context: &Context, product: &ProductFacts) -> Option<Recommendation> {
    if product.units_90 <= 0 || product.inventory <= 0 {
        return None;
    }
    let units = product.units_90;
    let days = observed_days(context, product.first_activity, 90);
    let inventory = product.inventory;
    let cover = inventory as f64 * days as f64 / units as f64;
    if cover <= SLOW_MOVER_COVER_DAYS as f64 {
        return None;
    }
    let velocity = units as f64 / days as f64;
    let (lead, target, mut notes) = lead_and_target(context, product);
    let needed = ceil_div(units * (lead + target), days);
    let excess = inventory - needed;
    if excess <= 0 {
        return None;
    }
    let v = number(velocity, velocity_decimals(velocity));
    let cover_days = cover.floor() as i64;
    let capital = product.unit_cost.map(|(cost, _)| cost * excess);
    let title = &product.title;
    let mut figures = vec![
        Figure::new("units_sold", &format!("Units sold in the last {days} days"), Value::count(units), Some("units")),
        Figure::new(
            "velocity",
            "Sales velocity (units sold ÷ days observed)",
            Value::number(velocity, velocity_decimals(velocity)),
            Some("units/day"),
        ),
        Figure::new("inventory", "Units in stock", Value::count(inventory), Some("units")),
        Figure::new("cover_days", "Stock cover (inventory ÷ velocity)", Value::count(cover_days), Some("days")),
        Figure::new("lead_time_days", "Supplier lead time", Value::count(lead), Some("days")),
        Figure::new("target_cover_days", "Target cover after the lead time", Value::count(target), Some("days")),
        Figure::new(
            "units_needed",
            "Units needed (⌈velocity × (lead time + target cover)⌉)",
            Value::count(needed),
            Some("units"),
        ),
        Figure::new("excess_units", "Excess units (inventory − units needed)", Value::count(excess), Some("units")),
    ];
    if let Some((cost, source)) = product.unit_cost {
        figures.push(Figure::new("unit_cost", "Unit cost", Value::money(cost), None));
        figures.push(Figure::new(
            "excess_capital",
            "Capital in excess stock (excess × unit cost)",
            Value::money(cost * excess),
            None,
        ));
        notes.push(cost_note(source).to_owned());
    }
    let subject = Subject::Product { id: product.id, title: product.title.clone() };
    let material =
        [doubling_bucket(cover / SLOW_MOVER_COVER_DAYS as f64).to_string(), doubling_bucket(excess as f64).to_string()];
    Some(Recommendation {
        kind: Kind::SlowMover,
        fingerprint: fingerprint(Kind::SlowMover, &subject, &material),
        subject,
        title: format!(
            "{title}: {cover_days} days of stock at {v} units/day; {excess} units more than lead time and target cover need"
        ),
        action: format!(
            "Hold back reorders and consider a promotion or markdown to bring stock toward {needed} units."
        ),
        evidence: Evidence {
            period: Some(Period::new(context.days_ago(days), context.yesterday())),
            formula: format!(
                "velocity = units sold ÷ days observed (90-day window); cover = inventory ÷ velocity; slow mover when \
                 cover > {SLOW_MOVER_COVER_DAYS} days; excess = inventory − ⌈velocity × (lead time + target cover)⌉"
            ),
            figures,
            notes,
        },
        score: capital.unwrap_or(0),
        impact: capital.map(|minor| Impact {
            minor,
            basis: format!("capital in excess stock at cost: {excess} units × unit cost"),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::{
        super::{product_recommendations, test_support::*},
        *,
    };

    #[test]
    fn ten_a_day_with_fifty_in_stock_and_a_seven_day_lead_time_runs_out_in_five_days_and_reorders_now() {
        // Arrange: 10 units a day for 28 days, 50 in stock, a 7-day lead time, the default 30-day target cover.
        let context = context("2024-03-10");
        let mut product = product("Espresso beans 1 kg");
        product.units_7 = 70;
        product.units_28 = 280;
        product.units_90 = 900;
        product.revenue_28 = 280 * 1_250;
        product.inventory = 50;
        product.lead_time_days = Some(7);

        // Act
        let advice = restock(&context, &product).expect("a restock");

        // Assert
        let figure = |name: &str| advice.evidence.figure(name).map(|f| f.value.clone()).expect(name);
        assert_eq!(figure("velocity"), Value::number(10.0, 1));
        assert_eq!(figure("cover_days"), Value::number(5.0, 1));
        assert_eq!(figure("stockout_date"), Value::date(day("2024-03-15")), "today + 5 days");
        assert_eq!(
            figure("order_by"),
            Value::date(day("2024-03-10")),
            "now: the stock runs out before a reorder lands"
        );
        // ⌈10 × (7 + 30)⌉ − 50 = 320
        assert_eq!(figure("reorder_quantity"), Value::count(320));
        assert_eq!(figure("shortfall_units"), Value::number(20.0, 1), "2 days short even if ordered today");
        assert!(
            advice.title.starts_with("Reorder Espresso beans 1 kg now: stock runs out in 5 days (2024-03-15)"),
            "{}",
            advice.title
        );
        assert!(advice.action.starts_with("Order 320 units"), "{}", advice.action);
        // Sales at risk if the order waits a week: (7 + 7 − 5) days × 10/day × 12.50 = 1,125.00
        assert_eq!(advice.impact.as_ref().map(|i| i.minor), Some(112_500));
        assert!(advice.evidence.notes.iter().any(|n| n.contains("default of 30 days")), "{:?}", advice.evidence.notes);
    }

    #[test]
    fn restock_urgency_follows_cover_against_lead_time() {
        let context = context("2024-03-10");
        let cases = [
            (0, Some("Out of stock"), "nothing left"),
            (70, Some("Reorder Beans now"), "7 days of cover, 7-day lead time: order today"),
            (100, Some("Reorder Beans by 2024-03-13"), "10 days of cover: 3 days to spare"),
            (140, Some("Reorder Beans by 2024-03-17"), "14 days = lead time + review week: the first warning"),
            (150, None, "15 days of cover: not yet"),
        ];
        for (inventory, expected, why) in cases {
            let mut product = product("Beans");
            product.units_28 = 280;
            product.revenue_28 = 280 * 100;
            product.inventory = inventory;
            product.lead_time_days = Some(7);
            let advice = restock(&context, &product);
            match expected {
                Some(prefix) => {
                    let title = advice.expect(why).title;
                    assert!(title.starts_with(prefix), "{why}: {title}");
                }
                None => assert!(advice.is_none(), "{why}"),
            }
        }
    }

    #[test]
    fn a_product_that_does_not_sell_needs_no_restock_but_may_be_dead_stock() {
        let context = context("2024-06-30");
        let mut product = product("Umbrella");
        product.inventory = 40;
        product.unit_cost = Some((450, CostSource::Merchant));
        product.last_sale = Some(day("2024-01-31"));

        assert!(restock(&context, &product).is_none());
        let advice = dead_stock(&context, &product).expect("dead stock");

        assert_eq!(advice.evidence.figure("days_without_sale").map(|f| f.value.clone()), Some(Value::count(151)));
        assert_eq!(advice.impact.as_ref().map(|i| i.minor), Some(18_000), "40 × 4.50");
        assert!(advice.title.contains("180.00 USD tied up at cost"), "{}", advice.title);
    }

    #[test]
    fn a_new_product_without_sales_is_not_dead_stock_yet() {
        let context = context("2024-06-30");
        let mut product = product("New arrival");
        product.created_on = day("2024-06-01");
        product.first_activity = Some(day("2024-06-02"));
        product.inventory = 10;
        assert!(dead_stock(&context, &product).is_none());
    }

    #[test]
    fn stock_far_beyond_need_is_a_slow_mover_with_its_excess_at_cost() {
        let context = context("2024-06-30");
        let mut product = product("Garden gnome");
        product.units_90 = 45; // 0.5 a day
        product.units_28 = 14;
        product.revenue_28 = 14 * 2_000;
        product.inventory = 200; // 400 days of cover
        product.unit_cost = Some((800, CostSource::Variants));

        let found = product_recommendations(&context, &product);

        assert_eq!(found.len(), 1, "{found:#?}");
        let advice = &found[0];
        assert_eq!(advice.kind, Kind::SlowMover);
        // needed = ⌈45 × (14 + 30) ÷ 90⌉ = 22; excess = 178; at 8.00 each: 1,424.00
        assert_eq!(advice.evidence.figure("excess_units").map(|f| f.value.clone()), Some(Value::count(178)));
        assert_eq!(advice.impact.as_ref().map(|i| i.minor), Some(142_400));
    }
}
