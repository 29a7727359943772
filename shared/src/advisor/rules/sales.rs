//! Sales rules: what moves up or down against the previous period, and what is looked at but not bought.
//!
//! - **Movers.** Orders of the last 28 days `a` against the 28 days before `b`. Under "nothing changed" each of the
//!   `a + b` orders falls in either period with probability ½, so `z = (a − b) ÷ √(a + b)` is approximately
//!   standard normal; a mover needs `|z| ≥ 3` (p ≈ 0.003), at least [`MOVER_MIN_ORDERS`] orders in the two periods,
//!   and revenue moving the same way by at least 25%. So 1 → 4 orders is not news, 20 → 50 is.
//! - **Conversion gaps.** Over the last 90 days, a product's orders ÷ views against the organization's typical rate:
//!   all other products' orders ÷ their views (pooled, so it is the rate the merchant knows; without the product
//!   itself, so a dominant product cannot lower its own yardstick). A median over products with many views would be
//!   biased: on many stores the products with the most views are exactly the ones that do not convert. A gap needs
//!   at least [`CONVERSION_MIN_VIEWS`] views, at most half the expected orders, and `P(X ≤ orders) < 0.01` for
//!   `X ~ Poisson(views × typical rate)`.

use uuid::Uuid;

use super::{Context, ProductFacts};
use crate::advisor::{
    evidence::{
        Evidence, Figure, Impact, Kind, Period, Recommendation, Subject, Value, doubling_bucket, fingerprint, percent,
    },
    stats::poisson_cdf,
};

/// Orders in the two periods together below which no change is significant enough to report.
pub const MOVER_MIN_ORDERS: i64 = 10;
/// The |z| a change in orders must reach.
pub const MOVER_MIN_Z: f64 = 3.0;
/// The relative revenue change a mover must reach.
pub const MOVER_MIN_CHANGE: f64 = 0.25;
/// Views a product needs, in 90 days, before its conversion rate means anything.
pub const CONVERSION_MIN_VIEWS: i64 = 100;
/// The Poisson tail below which few orders are a gap rather than bad luck.
pub const CONVERSION_MAX_P: f64 = 0.01;

fn signed_percent(ratio: f64) -> String {
    if ratio > 0.0 { format!("+{}", percent(ratio)) } else { percent(ratio) }
}

/// A top mover or a decliner, when orders changed significantly against the previous 28 days.
pub fn mover(context: &Context, product: &ProductFacts) -> Option<Recommendation> {
    let previous_from = context.days_ago(56);
    // It must have existed through the previous period, or "growth" is only its launch.
    if product.first_activity.is_none_or(|first| first > previous_from) {
        return None;
    }
    let (now, before) = (product.orders_28, product.orders_prev_28);
    if now + before < MOVER_MIN_ORDERS {
        return None;
    }
    let z = (now - before) as f64 / ((now + before) as f64).sqrt();
    if z.abs() < MOVER_MIN_Z {
        return None;
    }
    let (revenue, previous) = (product.revenue_28, product.revenue_prev_28);
    let change = (previous > 0).then(|| (revenue - previous) as f64 / previous as f64);
    let kind = if z > 0.0 { Kind::TopMover } else { Kind::Decliner };
    let consistent = match (kind, change) {
        (Kind::TopMover, Some(change)) => change >= MOVER_MIN_CHANGE,
        (Kind::TopMover, None) => revenue > 0,
        (_, Some(change)) => change <= -MOVER_MIN_CHANGE,
        (_, None) => false,
    };
    if !consistent {
        return None;
    }
    let title = &product.title;
    let change_text =
        change.map_or_else(|| "no revenue before".to_owned(), |c| format!("{} revenue", signed_percent(c)));
    let (headline, action) = if kind == Kind::TopMover {
        (
            format!(
                "{title} is taking off: {now} orders in the last 28 days, up from {before} in the 28 days before ({change_text})"
            ),
            "Keep it in stock and give it more visibility (home page, newsletter, ads) while demand is rising."
                .to_owned(),
        )
    } else {
        (
            format!(
                "{title} is slowing: {now} orders in the last 28 days, down from {before} in the 28 days before ({change_text})"
            ),
            "Look for the cause (a stock-out, a price change, reviews, a competitor); a promotion can test demand."
                .to_owned(),
        )
    };
    let mut figures = vec![
        Figure::new("orders", "Orders in the last 28 days", Value::count(now), Some("orders")),
        Figure::new("orders_before", "Orders in the 28 days before", Value::count(before), Some("orders")),
        Figure::new("revenue", "Revenue in the last 28 days", Value::money(revenue), None),
        Figure::new("revenue_before", "Revenue in the 28 days before", Value::money(previous), None),
    ];
    if let Some(change) = change {
        figures.push(Figure::new(
            "revenue_change",
            "Revenue change ((revenue − before) ÷ before)",
            Value::ratio(change),
            None,
        ));
    }
    figures.push(Figure::new(
        "z",
        "Significance z = (orders − before) ÷ √(orders + before)",
        Value::number(z, 2),
        None,
    ));
    figures.push(Figure::new("inventory", "Units in stock now", Value::count(product.inventory), Some("units")));
    let mut notes = vec![format!("Previous period: {} to {}.", previous_from, context.days_ago(29))];
    if kind == Kind::Decliner && product.inventory <= 0 {
        notes.push("Out of stock now: the drop may be the stock-out itself.".to_owned());
    }
    let delta = (revenue - previous).abs();
    let subject = Subject::Product { id: product.id, title: product.title.clone() };
    let material = [doubling_bucket(z.abs() / MOVER_MIN_Z).to_string()];
    Some(Recommendation {
        kind,
        fingerprint: fingerprint(kind, &subject, &material),
        subject,
        title: headline,
        action,
        evidence: Evidence {
            period: Some(Period::new(context.days_ago(28), context.yesterday())),
            formula: format!(
                "z = (orders − orders before) ÷ √(orders + orders before); reported when |z| ≥ {MOVER_MIN_Z}, \
                 orders + orders before ≥ {MOVER_MIN_ORDERS} and revenue moved the same way by at least {}",
                percent(MOVER_MIN_CHANGE)
            ),
            figures,
            notes,
        },
        score: delta,
        impact: Some(Impact {
            minor: delta,
            basis: "revenue change over 28 days against the 28 days before".to_owned(),
        }),
    })
}

/// One product's storefront and sales figures over the last 90 days.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversionFacts {
    /// The product.
    pub id: Uuid,
    /// Its title.
    pub title: String,
    /// Views.
    pub views: i64,
    /// Orders naming it.
    pub orders: i64,
    /// Revenue.
    pub revenue_minor: i64,
    /// Its list price, to value an order when it has none yet.
    pub price_minor: Option<i64>,
}

/// Products with many views and few orders against the organization's typical conversion rate.
pub fn conversion_gaps(context: &Context, products: &[ConversionFacts]) -> Vec<Recommendation> {
    let rate = |p: &ConversionFacts| p.orders as f64 / p.views as f64;
    let all_views: i64 = products.iter().map(|p| p.views.max(0)).sum();
    let all_orders: i64 = products.iter().map(|p| p.orders.max(0)).sum();
    let period = Period::new(context.days_ago(90), context.yesterday());
    let mut found = Vec::new();
    for product in products.iter().filter(|p| p.views >= CONVERSION_MIN_VIEWS) {
        // Everyone else's rate: the product itself must not pull its own yardstick down.
        let (other_views, other_orders) = (all_views - product.views, all_orders - product.orders.max(0));
        if other_views < CONVERSION_MIN_VIEWS || other_orders <= 0 {
            continue;
        }
        let typical = other_orders as f64 / other_views as f64;
        let expected = product.views as f64 * typical;
        let orders = product.orders.max(0);
        if orders as f64 > expected * 0.5 {
            continue;
        }
        let p_value = poisson_cdf(orders as u64, expected);
        if p_value >= CONVERSION_MAX_P {
            continue;
        }
        let own_rate = rate(product);
        let per_order = if product.orders > 0 {
            Some(product.revenue_minor as f64 / product.orders as f64)
        } else {
            product.price_minor.map(|p| p as f64)
        };
        let impact = per_order.map(|value| ((expected - orders as f64) * value * 28.0 / 90.0).round() as i64);
        let views = product.views;
        let title = &product.title;
        let mut figures = vec![
            Figure::new("views", "Views in the last 90 days", Value::count(views), Some("views")),
            Figure::new("orders", "Orders in the last 90 days", Value::count(orders), Some("orders")),
            Figure::new("conversion_rate", "Conversion rate (orders ÷ views)", Value::ratio(own_rate), None),
            Figure::new(
                "other_views",
                "Views of all other products, same period",
                Value::count(other_views),
                Some("views"),
            ),
            Figure::new(
                "other_orders",
                "Orders of all other products, same period",
                Value::count(other_orders),
                Some("orders"),
            ),
            Figure::new(
                "typical_rate",
                "The organization's typical conversion rate (other orders ÷ other views)",
                Value::ratio(typical),
                None,
            ),
            Figure::new(
                "expected_orders",
                "Orders expected at the typical rate (views × typical rate)",
                Value::number(expected, 1),
                Some("orders"),
            ),
            Figure::new(
                "p_value",
                "Chance of this few orders or fewer at the typical rate (Poisson)",
                if p_value < 0.0001 { Value::text("< 0.0001") } else { Value::number(p_value, 4) },
                None,
            ),
        ];
        if let Some(value) = per_order {
            figures.push(Figure::new(
                "revenue_per_order",
                "Revenue per order",
                Value::money(value.round() as i64),
                None,
            ));
        }
        let subject = Subject::Product { id: product.id, title: product.title.clone() };
        let material = [doubling_bucket(typical / own_rate.max(typical / 64.0)).to_string()];
        found.push(Recommendation {
            kind: Kind::ConversionGap,
            fingerprint: fingerprint(Kind::ConversionGap, &subject, &material),
            subject,
            title: format!(
                "{title}: {views} views but {orders} orders in 90 days; {} conversion against {} typical",
                percent(own_rate),
                percent(typical)
            ),
            action: "Review the product page: price and shipping costs, photos, description, reviews and availability."
                .to_owned(),
            evidence: Evidence {
                period: Some(period),
                formula: format!(
                    "conversion rate = orders ÷ views; typical rate = all other products' orders ÷ their views; \
                     reported when views ≥ \
                     {CONVERSION_MIN_VIEWS}, orders ≤ half the expected orders and P(X ≤ orders) < {CONVERSION_MAX_P} \
                     for X ~ Poisson(views × typical rate)"
                ),
                figures,
                notes: Vec::new(),
            },
            score: impact.unwrap_or(0),
            impact: impact.map(|minor| Impact {
                minor,
                basis: "revenue missed per 28 days: (expected − actual orders) × revenue per order × 28 ÷ 90"
                    .to_owned(),
            }),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::{super::test_support::*, *};

    fn with_orders(now: i64, before: i64) -> ProductFacts {
        let mut product = product("Kettle");
        product.orders_28 = now;
        product.orders_prev_28 = before;
        product.revenue_28 = now * 3_000;
        product.revenue_prev_28 = before * 3_000;
        product.inventory = 100;
        product
    }

    #[test]
    fn only_significant_changes_in_orders_are_movers() {
        let context = context("2024-03-10");
        let cases = [
            (4, 1, None, "1 → 4 orders: tiny numbers do not shout"),
            (12, 6, None, "z = 1.41"),
            (50, 20, Some(Kind::TopMover), "z = 3.59"),
            (10, 40, Some(Kind::Decliner), "z = -4.24"),
            (0, 12, Some(Kind::Decliner), "stopped selling"),
        ];
        for (now, before, expected, why) in cases {
            let found = mover(&context, &with_orders(now, before)).map(|r| r.kind);
            assert_eq!(found, expected, "{why}");
        }
    }

    #[test]
    fn a_product_launched_within_the_previous_period_is_not_a_mover() {
        let context = context("2024-03-10");
        let mut product = with_orders(50, 0);
        product.first_activity = Some(day("2024-02-01"));
        assert!(mover(&context, &product).is_none());
    }

    #[test]
    fn many_views_and_few_orders_against_the_typical_rate_is_a_gap() {
        // Arrange: eight products converting at 5%, one at 1% on 300 views, one at 0% on only 40 views.
        let context = context("2024-03-10");
        let mut products: Vec<ConversionFacts> = (0..8)
            .map(|i| ConversionFacts {
                id: Uuid::new_v4(),
                title: format!("Typical {i}"),
                views: 400,
                orders: 20,
                revenue_minor: 20 * 5_000,
                price_minor: Some(5_000),
            })
            .collect();
        let gap = ConversionFacts {
            id: Uuid::new_v4(),
            title: "Leaky".into(),
            views: 300,
            orders: 3,
            revenue_minor: 3 * 5_000,
            price_minor: Some(5_000),
        };
        products.push(gap.clone());
        products.push(ConversionFacts { views: 40, orders: 0, title: "Quiet".into(), id: Uuid::new_v4(), ..gap });

        // Act
        let found = conversion_gaps(&context, &products);

        // Assert: exactly the leaky product. The others: 160 orders on 3,240 views (4.94%), so 14.8 orders were
        // expected from its 300 views; P(X ≤ 3) ≈ 0.0003.
        assert_eq!(found.len(), 1, "{found:#?}");
        let advice = &found[0];
        assert_eq!(advice.subject, Subject::Product { id: gap.id, title: "Leaky".into() });
        let expected = 300.0 * (160.0 / 3_240.0);
        let figure = |name: &str| advice.evidence.figure(name).map(|f| f.value.clone());
        assert_eq!(figure("other_views"), Some(Value::count(3_240)));
        assert_eq!(figure("expected_orders"), Some(Value::number(expected, 1)));
        assert_eq!(figure("p_value"), Some(Value::number(poisson_cdf(3, expected), 4)));
        assert!(advice.title.contains("1.0% conversion against 4.9% typical"), "{}", advice.title);
        // (14.81 − 3) × 50.00 × 28 ÷ 90 = 183.76
        let missed = ((expected - 3.0) * 5_000.0 * 28.0 / 90.0).round() as i64;
        assert_eq!(advice.impact.as_ref().map(|i| i.minor), Some(missed));
    }
}
