//! The names the product list takes.

use shared::catalogue;

use super::wire_enum;

wire_enum! {
    /// Sort orders for product lists. Each is a total order (ties broken by id), which keyset pagination needs.
    pub enum ProductSort mirrors catalogue::ProductSort {
        /// Best full-text match first (requires a search).
        Relevance,
        /// Most recently updated first.
        Updated,
        /// A to Z.
        Title,
        /// Cheapest first (unpriced last).
        Price,
        /// Dearest first (unpriced last).
        PriceDesc,
    }
}
