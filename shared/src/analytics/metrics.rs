//! What each metric means, computed from a bucket's sums.

use super::*;

/// What a time series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Every metric, in the order the API documents them.
    pub const ALL: [Self; 8] = [
        Self::Revenue,
        Self::Orders,
        Self::Units,
        Self::Aov,
        Self::Views,
        Self::ConversionRate,
        Self::Profit,
        Self::Margin,
    ];

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
