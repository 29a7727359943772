//! CSV exports: what a merchant can take away as a spreadsheet, and how it is made.
//!
//! `POST /api/v1/exports` records an [`ExportRequest`] (filters already parsed) and queues an [`ExportMessage`] on
//! [`EXPORT_QUEUE`]; the queue-triggered `WriteExport` function claims the export and [`write_export`] streams it
//! page by page from the database into a blob of [`EXPORTS_CONTAINER`], so a million rows take as much memory as one
//! page. The `SweepExports` timer queues again an export whose message was lost (or whose writer died), gives up on
//! one that failed [`MAX_ATTEMPTS`] times, and deletes the files of expired ones.
//!
//! The file is RFC 4180 CSV in UTF-8 with a header row (see [`sheet`]): money as decimals in the organization's
//! currency, times in its time zone, and every cell a spreadsheet would read as a formula neutralised.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    advisor::evidence::Kind,
    analytics::{Bucket, DateRange, OrderStatus},
    catalogue::{ProductSort, ProductStatus},
    db::advice::AdviceStatus,
    domain::ParseError,
};

pub mod sheet;
mod write;

pub use write::{ExportError, Written, write_export};

/// The blob container holding export files, `<organization>/<export>.csv`.
pub const EXPORTS_CONTAINER: &str = "exports";
/// The queue `WriteExport` takes its messages from.
pub const EXPORT_QUEUE: &str = "exports";
/// Claims of an export before it is given up as failed (each queue delivery that finds it claims it once).
pub const MAX_ATTEMPTS: i32 = 5;
/// How long a written export is kept before the sweep deletes its file.
pub const EXPORT_RETENTION: chrono::Duration = chrono::Duration::hours(24);
/// When the sweep queues an export again that no writer has claimed (its message lost, or its writer gone).
pub const REQUEUE_AFTER: chrono::Duration = chrono::Duration::minutes(2);

/// What to export, with its filters parsed and checked (the list endpoints' own rules). Stored as
/// `{"kind", "filters"}`: the kind beside its filters, never among them (advice filters have a `kind` of their own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "filters", rename_all = "snake_case")]
pub enum ExportRequest {
    /// The product list (`GET /api/v1/products`).
    Products(ProductFilters),
    /// Orders, one row each.
    Orders(OrderFilters),
    /// Every metric per bucket (`GET /api/v1/analytics/timeseries`).
    Timeseries(SeriesFilters),
    /// Recommendations (`GET /api/v1/advice`).
    Advice(AdviceFilters),
}

impl ExportRequest {
    /// The kind's wire name.
    pub fn kind(&self) -> ExportKind {
        match self {
            Self::Products(_) => ExportKind::Products,
            Self::Orders(_) => ExportKind::Orders,
            Self::Timeseries(_) => ExportKind::Timeseries,
            Self::Advice(_) => ExportKind::Advice,
        }
    }
}

/// The kinds of export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    /// Products.
    Products,
    /// Orders.
    Orders,
    /// A time series of every metric.
    Timeseries,
    /// Recommendations.
    Advice,
}

impl ExportKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Products => "products",
            Self::Orders => "orders",
            Self::Timeseries => "timeseries",
            Self::Advice => "advice",
        }
    }
}

/// The product list's filters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductFilters {
    /// Full-text search.
    pub search: Option<String>,
    /// Exact category.
    pub category: Option<String>,
    /// One store.
    pub store: Option<Uuid>,
    /// One status.
    pub status: Option<ProductStatus>,
    /// Lowest price at least this (minor units).
    pub min_price: Option<i64>,
    /// Lowest price at most this (minor units).
    pub max_price: Option<i64>,
    /// Row order.
    pub sort: ProductSort,
}

/// Which orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderFilters {
    /// Placed on these local days; all orders when absent.
    pub range: Option<DateRange>,
    /// One store.
    pub store: Option<Uuid>,
    /// One status.
    pub status: Option<OrderStatus>,
}

/// A time series' filters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesFilters {
    /// Bucket size.
    pub bucket: Bucket,
    /// Local days covered.
    pub range: DateRange,
    /// One product.
    pub product: Option<Uuid>,
    /// One category.
    pub category: Option<String>,
}

/// Which recommendations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdviceFilters {
    /// Their status.
    pub status: AdviceStatus,
    /// One kind.
    pub kind: Option<Kind>,
    /// About one product.
    pub product: Option<Uuid>,
}

/// Where an export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    /// Waiting for its writer.
    Queued,
    /// Being written.
    Running,
    /// Written; downloadable until it expires.
    Ready,
    /// Could not be written.
    Failed,
    /// Its file was deleted.
    Expired,
}

impl ExportStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Ready => "ready",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match text {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "ready" => Ok(Self::Ready),
            "failed" => Ok(Self::Failed),
            "expired" => Ok(Self::Expired),
            other => Err(ParseError::new(format!("`{other}` is not an export status"))),
        }
    }
}

/// An export as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// Its id.
    pub id: Uuid,
    /// Whose.
    pub organization_id: Uuid,
    /// What it holds.
    pub request: ExportRequest,
    /// Where it stands.
    pub status: ExportStatus,
    /// Claims by a writer so far.
    pub attempts: i32,
    /// Data rows in the file (the header not counted), once written.
    pub rows: Option<i64>,
    /// The file's size, once written.
    pub bytes: Option<i64>,
    /// The file's name in [`EXPORTS_CONTAINER`], once written.
    pub blob_name: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When it was written or failed.
    pub finished_at: Option<DateTime<Utc>>,
    /// When its file is (or was) deleted.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The queue message that asks for an export to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportMessage {
    /// Whose export.
    pub organization: Uuid,
    /// Which.
    pub export: Uuid,
}

/// The file's name in [`EXPORTS_CONTAINER`].
pub fn blob_name(organization: Uuid, export: Uuid) -> String {
    format!("{organization}/{export}.csv")
}

/// The file name a download offers: `orders-2026-12-07.csv`.
pub fn download_file_name(kind: ExportKind, created_on: NaiveDate) -> String {
    format!("{}-{created_on}.csv", kind.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_request_reads_back_as_it_was_stored() {
        let day = |text: &str| text.parse::<NaiveDate>().expect("a date");
        let range = DateRange::new(day("2026-01-01"), day("2026-01-31")).expect("a range");
        let requests = [
            ExportRequest::Products(ProductFilters {
                search: Some("chair".into()),
                category: Some("Chairs".into()),
                store: Some(Uuid::new_v4()),
                status: Some(ProductStatus::Draft),
                min_price: Some(100),
                max_price: None,
                sort: ProductSort::PriceDesc,
            }),
            ExportRequest::Orders(OrderFilters { range: Some(range), store: None, status: Some(OrderStatus::Paid) }),
            ExportRequest::Timeseries(SeriesFilters {
                bucket: Bucket::Week,
                range,
                product: None,
                category: Some("Mugs".into()),
            }),
            ExportRequest::Advice(AdviceFilters {
                status: AdviceStatus::Done,
                kind: Some(Kind::Restock),
                product: Some(Uuid::new_v4()),
            }),
        ];
        for request in requests {
            let stored = serde_json::to_string(&request).expect("JSON");
            assert!(stored.starts_with(&format!(r#"{{"kind":"{}","filters":"#, request.kind().as_str())), "{stored}");
            assert_eq!(serde_json::from_str::<ExportRequest>(&stored).expect(&stored), request);
        }
    }
}
