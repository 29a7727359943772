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
//!   discounts; not the order total, which carries shipping and tax) to `revenue`, on the day it was placed — each
//!   line net of what of it was refunded (its refunded units and amount), so a partly refunded order counts what
//!   the customer kept. For a
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

mod buckets;
mod customers;
mod days;
mod metrics;
mod ranking;
mod rollups;

pub use buckets::*;
pub use customers::*;
pub use days::*;
pub use metrics::*;
pub use ranking::*;
pub use rollups::*;
#[cfg(test)]
use test_support::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for metric in Metric::ALL {
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
}

/// Dates and times written as text, for the tests of every part.
#[cfg(test)]
mod test_support {
    use super::*;

    pub(super) fn day(text: &str) -> NaiveDate {
        parse_day(text).expect("a valid test date")
    }

    pub(super) fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("a valid test timestamp").with_timezone(&Utc)
    }

    pub(super) fn new_york() -> Tz {
        zone("America/New_York")
    }
}
