//! The names the analytics endpoints take for what to measure, how to bucket and how to rank.

use shared::analytics;

use super::wire_enum;

wire_enum! {
    /// What a time series measures.
    pub enum Metric mirrors analytics::Metric {
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
}

wire_enum! {
    /// How days group into the points of a series.
    pub enum Bucket mirrors analytics::Bucket {
        /// One calendar day.
        Day,
        /// An ISO week, Monday to Sunday.
        Week,
        /// A calendar month.
        Month,
    }
}

wire_enum! {
    /// What a product ranking orders by.
    pub enum RankBy mirrors analytics::RankBy {
        /// Revenue in the range, highest first.
        Revenue,
        /// Units sold in the range, most first.
        Units,
        /// Revenue change against the previous period.
        Growth,
        /// Gross profit in the range (of the lines with a known cost), highest first.
        Profit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::views::wire_name;

    /// The parameters are parsed by the domain's `parse`; the document names what the wire enums serialize to.
    #[test]
    fn the_documented_names_are_the_names_parsed() {
        for metric in Metric::ALL {
            assert_eq!(analytics::Metric::parse(&wire_name(metric)), Ok((*metric).into()));
        }
        for bucket in Bucket::ALL {
            assert_eq!(analytics::Bucket::parse(&wire_name(bucket)), Ok((*bucket).into()));
        }
        for by in RankBy::ALL {
            assert_eq!(analytics::RankBy::parse(&wire_name(by)), Ok((*by).into()));
        }
    }
}
