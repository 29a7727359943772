//! Writes one export: reads its rows page by page (keyset pages, never the whole table) and streams the CSV into
//! the blob store, so memory stays at one page plus one blob block whatever the size of the export.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    AdviceFilters, EXPORTS_CONTAINER, Export, ExportRequest, OrderFilters, ProductFilters, SeriesFilters, blob_name,
    sheet::{Cell, Sheet},
};
use crate::{
    analytics::{self, DateRange, Metric, MetricValue, Tz, bucket_daily},
    blob::{BlobError, BlobStore, BlobWriter},
    catalogue::ProductQuery,
    db::{Database, DbError, advice::AdviceQuery, product_figures::ListedFigures, tenants::Organization},
    money::format_minor,
};

/// Rows read per query.
const PAGE_ROWS: u32 = 500;

/// The metrics a time-series export has a column for, in column order: every one.
const SERIES_METRICS: [Metric; 8] = Metric::ALL;

/// A written export's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Its name in [`EXPORTS_CONTAINER`].
    pub blob_name: String,
    /// Data rows.
    pub rows: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading its rows failed.
    #[error("reading the rows: {0}")]
    Db(#[from] DbError),
    /// Writing the file failed.
    #[error("writing the file: {0}")]
    Blob(#[from] BlobError),
}

impl ExportError {
    /// Whether a later attempt may succeed (an outage rather than a fault of this export).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Db(error) => error.is_unavailable(),
            Self::Blob(error) => error.is_transient(),
        }
    }
}

/// Writes `export` of `organization` to its blob and says what was written.
#[tracing::instrument(name = "writing an export", skip_all, fields(organization = %organization.id, export = %export.id))]
pub async fn write_export(
    db: &Database,
    blobs: &BlobStore,
    organization: &Organization,
    export: &Export,
) -> Result<Written, ExportError> {
    let name = blob_name(organization.id, export.id);
    let mut out = Out { writer: blobs.writer(EXPORTS_CONTAINER, &name, "text/csv; charset=utf-8").await?, bytes: 0 };
    let format = Format::of(organization);
    let rows = match &export.request {
        ExportRequest::Products(filters) => products(db, organization, filters, &format, &mut out).await?,
        ExportRequest::Orders(filters) => orders(db, organization, filters, &format, &mut out).await?,
        ExportRequest::Timeseries(filters) => series(db, organization, filters, &format, &mut out).await?,
        ExportRequest::Advice(filters) => advice(db, organization, filters, &format, &mut out).await?,
    };
    let properties = out.writer.commit().await?;
    Ok(Written { blob_name: name, rows, bytes: properties.length })
}

/// The file being written.
struct Out {
    writer: BlobWriter,
    bytes: u64,
}

impl Out {
    /// Moves what the sheet holds into the file.
    async fn drain(&mut self, sheet: &mut Sheet) -> Result<(), BlobError> {
        let bytes = sheet.take();
        self.bytes += bytes.len() as u64;
        self.writer.append(&bytes).await
    }
}

/// How values read in the organization's spreadsheet: money in its currency's decimals, times in its zone.
struct Format {
    digits: u32,
    currency: String,
    zone: Tz,
}

impl Format {
    fn of(organization: &Organization) -> Self {
        Self {
            digits: organization.currency.minor_digits(),
            currency: organization.currency.to_string(),
            zone: organization.timezone.tz(),
        }
    }

    fn money(&self, minor: i64) -> String {
        format_minor(minor, self.digits)
    }

    /// A local time, `2026-03-09 21:30:00`.
    fn time(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.zone).format("%Y-%m-%d %H:%M:%S").to_string()
    }

    fn value(&self, value: MetricValue) -> String {
        match value {
            MetricValue::Money(minor) => self.money(minor),
            MetricValue::Count(count) => count.to_string(),
            MetricValue::Rate(rate) => format!("{rate:.4}"),
            MetricValue::Undefined => String::new(),
        }
    }
}

async fn products(
    db: &Database,
    organization: &Organization,
    filters: &ProductFilters,
    format: &Format,
    out: &mut Out,
) -> Result<u64, ExportError> {
    let mut sheet = Sheet::new(&[
        "id",
        "store_id",
        "external_id",
        "title",
        "vendor",
        "category",
        "status",
        "currency",
        "price",
        "unit_cost",
        "inventory",
        "revenue_30d",
        "updated_at",
    ]);
    let window = DateRange::default_ending_before(analytics::local_day(Utc::now(), format.zone))
        .map_err(|e| DbError::corrupt(crate::domain::ParseError::new(e.to_string())))?;
    let mut query = ProductQuery {
        search: filters.search.clone(),
        category: filters.category.clone(),
        store: filters.store,
        status: filters.status,
        min_price: filters.min_price,
        max_price: filters.max_price,
        sort: filters.sort,
        limit: PAGE_ROWS,
        after: None,
    };
    loop {
        let page = db.list_products(organization.id, &query).await?;
        let ids: Vec<Uuid> = page.items.iter().map(|p| p.id).collect();
        let figures = db.product_list_figures(organization.id, &ids, window).await?;
        for product in &page.items {
            let listed =
                figures.get(&product.id).copied().unwrap_or(ListedFigures { unit_cost_minor: None, revenue_minor: 0 });
            let (id, store_id) = (product.id.to_string(), product.store_id.to_string());
            let price = product.price_minor.map(|m| format.money(m)).unwrap_or_default();
            let unit_cost = listed.unit_cost_minor.map(|m| format.money(m)).unwrap_or_default();
            let (inventory, revenue, updated) =
                (product.inventory.to_string(), format.money(listed.revenue_minor), format.time(product.updated_at));
            sheet.row([
                Cell::Value(&id),
                Cell::Value(&store_id),
                Cell::Text(&product.external_id),
                Cell::Text(&product.title),
                Cell::Text(&product.vendor),
                Cell::Text(&product.category),
                Cell::Value(&product.status),
                Cell::Value(&format.currency),
                Cell::Value(&price),
                Cell::Value(&unit_cost),
                Cell::Value(&inventory),
                Cell::Value(&revenue),
                Cell::Value(&updated),
            ]);
        }
        out.drain(&mut sheet).await?;
        match page.next {
            Some(next) => query.after = Some(next),
            None => return Ok(sheet.rows()),
        }
    }
}

async fn orders(
    db: &Database,
    organization: &Organization,
    filters: &OrderFilters,
    format: &Format,
    out: &mut Out,
) -> Result<u64, ExportError> {
    let mut sheet = Sheet::new(&[
        "id",
        "store_id",
        "external_id",
        "placed_at",
        "status",
        "currency",
        "total",
        "line_total",
        "refunded",
        "lines",
        "units",
    ]);
    let bounds = filters.range.map(|range| analytics::utc_bounds(range, format.zone));
    let mut after = None;
    loop {
        let page = db.export_orders_page(organization.id, filters, bounds, after, PAGE_ROWS).await?;
        for order in &page {
            let (id, store_id) = (order.id.to_string(), order.store_id.to_string());
            let (placed, total, line_total, refunded) = (
                format.time(order.placed_at),
                format.money(order.total_minor),
                format.money(order.line_total_minor),
                format.money(order.refunded_minor),
            );
            let (lines, units) = (order.lines.to_string(), order.units.to_string());
            sheet.row([
                Cell::Value(&id),
                Cell::Value(&store_id),
                Cell::Text(&order.external_id),
                Cell::Value(&placed),
                Cell::Value(&order.status),
                Cell::Value(&format.currency),
                Cell::Value(&total),
                Cell::Value(&line_total),
                Cell::Value(&refunded),
                Cell::Value(&lines),
                Cell::Value(&units),
            ]);
        }
        out.drain(&mut sheet).await?;
        match page.last() {
            Some(last) if page.len() == PAGE_ROWS as usize => after = Some((last.placed_at, last.id)),
            _ => return Ok(sheet.rows()),
        }
    }
}

async fn series(
    db: &Database,
    organization: &Organization,
    filters: &SeriesFilters,
    format: &Format,
    out: &mut Out,
) -> Result<u64, ExportError> {
    let mut header = vec!["bucket_start", "currency"];
    header.extend(SERIES_METRICS.iter().map(|metric| metric.as_str()));
    header.extend(["unknown_cost_orders", "unknown_cost_units", "unknown_cost_revenue"]);
    let mut sheet = Sheet::new(&header);
    let days = match &filters.category {
        Some(category) => db.category_daily_series(organization.id, filters.range, category).await?,
        None => db.daily_series(organization.id, filters.range, filters.product).await?,
    };
    for point in bucket_daily(filters.range, filters.bucket, days) {
        let totals = &point.totals;
        let mut cells = vec![point.start.to_string(), format.currency.clone()];
        cells.extend(SERIES_METRICS.iter().map(|metric| format.value(metric.value(totals))));
        cells.extend([
            totals.unknown_cost_orders.to_string(),
            totals.unknown_cost_units.to_string(),
            format.money(totals.unknown_cost_revenue_minor),
        ]);
        sheet.row(cells.iter().map(|cell| Cell::Value(cell)));
    }
    out.drain(&mut sheet).await?;
    Ok(sheet.rows())
}

async fn advice(
    db: &Database,
    organization: &Organization,
    filters: &AdviceFilters,
    format: &Format,
    out: &mut Out,
) -> Result<u64, ExportError> {
    let mut sheet = Sheet::new(&[
        "id",
        "kind",
        "status",
        "subject",
        "product_id",
        "title",
        "action",
        "currency",
        "impact",
        "impact_basis",
        "score",
        "created_at",
        "updated_at",
    ]);
    let mut query = AdviceQuery {
        kind: filters.kind,
        status: filters.status,
        limit: PAGE_ROWS,
        after: None,
        product: filters.product,
        snoozed: false,
    };
    loop {
        let page = db.list_advice(organization.id, &query).await?;
        for stored in &page.items {
            let recommendation = &stored.recommendation;
            let id = stored.id.to_string();
            let product = recommendation.subject.product_id().map(|id| id.to_string()).unwrap_or_default();
            let impact = recommendation.impact.as_ref();
            let amount = impact.map(|i| format.money(i.minor)).unwrap_or_default();
            let basis = impact.map(|i| i.basis.as_str()).unwrap_or_default();
            let (score, created, updated) =
                (recommendation.score.to_string(), format.time(stored.created_at), format.time(stored.updated_at));
            sheet.row([
                Cell::Value(&id),
                Cell::Value(recommendation.kind.as_str()),
                Cell::Value(stored.status.as_str()),
                Cell::Text(&recommendation.subject.key()),
                Cell::Value(&product),
                Cell::Text(&recommendation.title),
                Cell::Text(&recommendation.action),
                Cell::Value(&format.currency),
                Cell::Value(&amount),
                Cell::Text(basis),
                Cell::Value(&score),
                Cell::Value(&created),
                Cell::Value(&updated),
            ]);
        }
        out.drain(&mut sheet).await?;
        match page.next {
            Some(next) => query.after = Some(next),
            None => return Ok(sheet.rows()),
        }
    }
}
