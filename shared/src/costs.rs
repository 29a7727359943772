//! Unit costs with effective dates: which cost an order line carries, so that changing a cost today does not
//! rewrite last month's profit. Pure rules over a history handed in; storage is [`crate::db::costs`].
//!
//! # The rules
//! - A product's history holds the merchant's costs (for the whole product) and the platform's (one per variant),
//!   each recorded with the moment it became known and never changed afterwards. A cleared cost is an entry too:
//!   from then on the cost is unknown.
//! - A line of variant `v` of product `p` sold at `t` carries the cost of the latest entry, of the merchant's for
//!   `p` or the platform's for `v`, in force at `t` (recorded at or before `t`): whichever said so last wins, so a
//!   merchant's correction holds until the platform reports a new cost, and the other way round.
//! - Before its first entry a line carries that first entry's cost: a cost seen for the first time (a first sync,
//!   a merchant filling it in) is the best knowledge there is of every earlier sale, which would otherwise stay
//!   without a cost for ever. Only later changes wait for their moment.
//! - No entry at all, or a cleared one in force: the cost is unknown, and profit reports the line as such.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// One recorded unit cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostEntry {
    /// The variant it is the platform's cost of; `None` for the merchant's cost of the whole product.
    pub variant: Option<Uuid>,
    /// When it became known.
    pub effective_from: DateTime<Utc>,
    /// The unit cost, minor units; `None` when it was cleared.
    pub cost_minor: Option<i64>,
}

/// One product's cost entries, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CostHistory(Vec<CostEntry>);

impl CostHistory {
    /// A history from entries in any order (ties keep their given order).
    pub fn new(mut entries: Vec<CostEntry>) -> Self {
        entries.sort_by_key(|e| e.effective_from);
        Self(entries)
    }

    /// The unit cost a line of `variant` sold at `at` carries (see the module rules).
    pub fn cost_at(&self, variant: Option<Uuid>, at: DateTime<Utc>) -> Option<i64> {
        let mut applicable =
            self.0.iter().filter(|e| e.variant.is_none() || (variant.is_some() && e.variant == variant));
        let first = applicable.next()?;
        let in_force = std::iter::once(first).chain(applicable).take_while(|e| e.effective_from <= at).last();
        in_force.unwrap_or(first).cost_minor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("a valid test timestamp").with_timezone(&Utc)
    }

    #[test]
    fn a_line_carries_the_cost_in_force_when_it_was_sold_and_the_first_cost_reaches_back() {
        let (red, blue) = (Some(Uuid::from_u128(1)), Some(Uuid::from_u128(2)));
        let entry = |variant, when, cost_minor| CostEntry { variant, effective_from: at(when), cost_minor };
        let history = CostHistory::new(vec![
            entry(None, "2024-03-15T00:00:00Z", Some(500)), // the merchant's, for every variant
            entry(red, "2024-03-01T00:00:00Z", Some(400)),  // the platform's, red only
            entry(red, "2024-03-20T00:00:00Z", Some(450)),
            entry(None, "2024-03-25T00:00:00Z", None), // the merchant cleared it
        ]);
        let cases = [
            (red, "2024-02-01T00:00:00Z", Some(400), "before every entry: the first one"),
            (red, "2024-03-10T00:00:00Z", Some(400), "the platform's, in force"),
            (red, "2024-03-16T00:00:00Z", Some(500), "the merchant said so later"),
            (red, "2024-03-21T00:00:00Z", Some(450), "then the platform again"),
            (red, "2024-03-26T00:00:00Z", None, "cleared: unknown"),
            (blue, "2024-03-10T00:00:00Z", Some(500), "blue has only the merchant's: it reaches back"),
            (None, "2024-03-16T00:00:00Z", Some(500), "a line without a variant takes the merchant's"),
        ];
        for (variant, when, expected, why) in cases {
            assert_eq!(history.cost_at(variant, at(when)), expected, "{why}");
        }
        assert_eq!(CostHistory::default().cost_at(red, at("2024-03-10T00:00:00Z")), None, "no entry: unknown");
        let platform_only = CostHistory::new(vec![entry(red, "2024-03-01T00:00:00Z", Some(400))]);
        assert_eq!(
            platform_only.cost_at(blue, at("2024-03-10T00:00:00Z")),
            None,
            "another variant's cost is not blue's"
        );
    }
}
