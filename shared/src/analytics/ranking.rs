//! Product rankings: sales with their previous period and costs, ordered by a chosen figure.

use super::*;

/// The most products a ranking returns.
pub const MAX_TOP_PRODUCTS: u32 = 100;

/// What a product ranking orders by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

    pub(super) fn growth_cmp(&self, other: &Self) -> Ordering {
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
