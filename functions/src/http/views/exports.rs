//! The names exports take and show.

use shared::{analytics, catalogue, exports};

use super::wire_enum;

wire_enum! {
    /// What an export holds.
    pub enum ExportKind mirrors exports::ExportKind {
        /// The product list.
        Products,
        /// Orders, one row each.
        Orders,
        /// Every metric per bucket.
        Timeseries,
        /// Recommendations.
        Advice,
    }
}

wire_enum! {
    /// Where an export stands.
    pub enum ExportStatus mirrors exports::ExportStatus {
        /// Waiting for its writer.
        Queued,
        /// Being written.
        Running,
        /// Written: `download` has its URL.
        Ready,
        /// Could not be written: `error` says why.
        Failed,
        /// Its file was deleted.
        Expired,
    }
}

wire_enum! {
    /// Where a product stands in the merchant's store.
    pub enum ProductStatus mirrors catalogue::ProductStatus {
        /// On sale.
        Active,
        /// Not yet published.
        Draft,
        /// Withdrawn.
        Archived,
    }
}

wire_enum! {
    /// Where an order stands on its platform.
    pub enum OrderStatus mirrors analytics::OrderStatus {
        /// Placed, not yet paid.
        Open,
        /// Paid.
        Paid,
        /// Shipped or handed over.
        Fulfilled,
        /// Cancelled.
        Cancelled,
        /// Refunded.
        Refunded,
    }
}
