//! CSV exports. `POST /api/v1/exports` records the request (its filters checked as the list endpoints check theirs)
//! and queues it for the `WriteExport` queue function, answering `202` at once; `GET /api/v1/exports/{id}` shows
//! its status and, once ready, a short-lived download URL: a read-only SAS URL for exactly that file in Azure, a
//! signed URL of this app on the folder store (`dev`). `GET /api/v1/exports` lists the latest.

use axum::{
    Json,
    body::Body,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shared::{
    analytics::{DateRange, RangeError},
    blob::{BlobError, BlobStore, sas::LocalGrant},
    catalogue::ProductSort,
    db::advice::AdviceStatus,
    exports::{
        AdviceFilters, EXPORT_QUEUE, EXPORTS_CONTAINER, Export, ExportMessage, ExportRequest, ExportStatus,
        OrderFilters, ProductFilters, REQUEUE_AFTER, SeriesFilters, download_file_name,
    },
    money::parse_minor,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::Tenant,
    error::{ApiError, FieldError},
    extract::{AppJson, AppPath, AppQuery},
    http::{
        LOCAL_SIGNING_KEY,
        openapi::{
            BadRequest, Forbidden, NotFound, PayloadTooLarge, TooManyRequests, Unauthorized, Unavailable,
            Unprocessable, UnsupportedMediaType,
        },
        views::{analytics::Bucket, catalogue as catalogue_wire, exports as wire},
    },
    state::AppState,
};

/// How long a download URL stays valid.
const DOWNLOAD_URL_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Longest search text, as the product list takes it.
const MAX_SEARCH_CHARS: usize = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(show)).routes(routes!(download_local))
}

/// What to export. Filters are those of the list the kind comes from, every one optional.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[schema(as = NewExport)]
enum CreateBody {
    /// Products, as `GET /api/v1/products` filters them.
    Products {
        #[serde(default)]
        filters: ProductFilterBody,
    },
    /// Orders, one row each, oldest first.
    Orders {
        #[serde(default)]
        filters: OrderFilterBody,
    },
    /// Every metric per bucket, as `GET /api/v1/analytics/timeseries` computes them.
    Timeseries {
        #[serde(default)]
        filters: SeriesFilterBody,
    },
    /// Recommendations, highest score first.
    Advice {
        #[serde(default)]
        filters: AdviceFilterBody,
    },
}

/// The product list's filters.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ProductExportFilters)]
struct ProductFilterBody {
    /// Full-text search over title, vendor, category and description.
    #[schema(max_length = 200)]
    q: Option<String>,
    /// Exact category.
    category: Option<String>,
    /// One of the organization's stores.
    store: Option<Uuid>,
    status: Option<wire::ProductStatus>,
    /// Lowest price, a decimal in the organization's currency with at most its decimals.
    #[schema(pattern = r"^[0-9]{1,15}(\.[0-9]{1,2})?$")]
    min_price: Option<String>,
    /// Highest price, as `min_price`.
    #[schema(pattern = r"^[0-9]{1,15}(\.[0-9]{1,2})?$")]
    max_price: Option<String>,
    /// Default `relevance` with `q`, else `updated`.
    sort: Option<catalogue_wire::ProductSort>,
}

/// Which orders: placed on the organization's local days `from` to `to` (all orders without them).
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OrderExportFilters)]
struct OrderFilterBody {
    /// First local day; with `to` at most 1,096 days before it.
    from: Option<NaiveDate>,
    /// Last local day (default yesterday when `from` is given).
    to: Option<NaiveDate>,
    /// One of the organization's stores.
    store: Option<Uuid>,
    status: Option<wire::OrderStatus>,
}

/// A time series' filters (every metric is a column).
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TimeseriesExportFilters)]
struct SeriesFilterBody {
    /// Default `day`.
    bucket: Option<Bucket>,
    /// First local day (default: 30 days before `to`); at most 1,096 days before `to`.
    from: Option<NaiveDate>,
    /// Last local day (default yesterday).
    to: Option<NaiveDate>,
    /// One of the organization's products.
    product: Option<Uuid>,
    /// One category (not with `product`).
    #[schema(min_length = 1)]
    category: Option<String>,
}

/// Which recommendations.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdviceExportFilters)]
struct AdviceFilterBody {
    /// Default `open`.
    status: Option<crate::http::views::advice::AdviceStatus>,
    kind: Option<crate::http::views::advice::Kind>,
    /// About one product.
    product: Option<Uuid>,
}

/// An export as the API shows it.
#[derive(Serialize, ToSchema)]
#[schema(as = Export)]
struct ExportView {
    id: Uuid,
    kind: wire::ExportKind,
    status: wire::ExportStatus,
    /// Data rows in the file (the header row not counted), once written.
    rows: Option<i64>,
    /// The file's size in bytes, once written.
    bytes: Option<i64>,
    /// Why it failed.
    error: Option<String>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    /// When the file is (or was) deleted.
    expires_at: Option<DateTime<Utc>>,
    /// Where to fetch the file, while it is ready.
    download: Option<Download>,
}

/// A short-lived URL that fetches the file with a plain `GET`, no credentials.
#[derive(Serialize, ToSchema)]
struct Download {
    url: String,
    /// The file name it is offered under.
    file_name: String,
    expires_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = ExportList)]
struct ListView {
    /// The latest 50, newest first.
    items: Vec<ExportView>,
}

fn blob_store(state: &AppState) -> Result<&BlobStore, ApiError> {
    state.blobs.as_ref().ok_or_else(|| ApiError::Unavailable("export storage is not configured".into()))
}

/// Complaints about a request, all reported at once as one 422.
#[derive(Default)]
struct Complaints(Vec<FieldError>);

impl Complaints {
    fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError { field: format!("filters.{field}"), message: message.into() });
    }

    fn into_result<T>(self, value: T) -> Result<T, ApiError> {
        if self.0.is_empty() {
            return Ok(value);
        }
        let detail = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        Err(ApiError::Unprocessable { detail, errors: self.0 })
    }
}

/// Local days `from..=to`, with the analytics endpoints' defaults when `required` (30 days ending yesterday).
fn range(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
    required: bool,
    complaints: &mut Complaints,
) -> Option<DateRange> {
    let yesterday = today.pred_opt().unwrap_or(today);
    let range = match (from, to) {
        (None, None) if !required => return None,
        (None, None) => DateRange::default_ending_before(today),
        (None, Some(to)) => DateRange::ending(to, 30),
        (Some(from), None) => DateRange::new(from, yesterday),
        (Some(from), Some(to)) => DateRange::new(from, to),
    };
    range
        .map_err(|error| {
            let field = if matches!(error, RangeError::OutOfBounds) && from.is_none() { "to" } else { "from" };
            complaints.push(field, error.to_string());
        })
        .ok()
}

impl CreateBody {
    /// Checks the filters against the organization, naming every bad one.
    async fn parse(self, state: &AppState, tenant: &Tenant) -> Result<ExportRequest, ApiError> {
        let mut complaints = Complaints::default();
        let zone = tenant.organization.timezone.tz();
        let today = shared::analytics::local_day(Utc::now(), zone);
        match self {
            Self::Products { filters } => {
                let digits = tenant.organization.currency.minor_digits();
                let search = filters.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
                if search.as_ref().is_some_and(|q| q.chars().count() > MAX_SEARCH_CHARS) {
                    complaints.push("q", format!("at most {MAX_SEARCH_CHARS} characters"));
                }
                let mut price = |field: &str, value: Option<String>| {
                    value.and_then(|v| parse_minor(&v, digits).map_err(|e| complaints.push(field, e.to_string())).ok())
                };
                let (min_price, max_price) =
                    (price("min_price", filters.min_price), price("max_price", filters.max_price));
                if let (Some(min), Some(max)) = (min_price, max_price)
                    && min > max
                {
                    complaints.push("min_price", "must not exceed max_price");
                }
                let sort = match (filters.sort.map(ProductSort::from), &search) {
                    (Some(ProductSort::Relevance) | None, None) => ProductSort::Updated,
                    (Some(sort), _) => sort,
                    (None, Some(_)) => ProductSort::Relevance,
                };
                complaints.into_result(ExportRequest::Products(ProductFilters {
                    search,
                    category: filters.category,
                    store: filters.store,
                    status: filters.status.map(Into::into),
                    min_price,
                    max_price,
                    sort,
                }))
            }
            Self::Orders { filters } => {
                let range = range(filters.from, filters.to, today, false, &mut complaints);
                complaints.into_result(ExportRequest::Orders(OrderFilters {
                    range,
                    store: filters.store,
                    status: filters.status.map(Into::into),
                }))
            }
            Self::Timeseries { filters } => {
                let range = range(filters.from, filters.to, today, true, &mut complaints);
                if filters.product.is_some() && filters.category.is_some() {
                    complaints.push("category", "give product or category, not both");
                }
                if filters.category.as_deref() == Some("") {
                    complaints.push("category", "must not be empty");
                }
                if let Some(product) = filters.product
                    && !state.db.has_product(tenant.id(), product).await?
                {
                    complaints.push("product", "the organization has no such product");
                }
                // A range that did not parse left its complaint.
                let range = complaints
                    .into_result(range)?
                    .ok_or_else(|| ApiError::invalid_field("filters.from", "not a valid range"))?;
                Ok(ExportRequest::Timeseries(SeriesFilters {
                    bucket: filters.bucket.map_or(shared::analytics::Bucket::Day, Into::into),
                    range,
                    product: filters.product,
                    category: filters.category,
                }))
            }
            Self::Advice { filters } => complaints.into_result(ExportRequest::Advice(AdviceFilters {
                status: filters.status.map_or(AdviceStatus::Open, Into::into),
                kind: filters.kind.map(Into::into),
                product: filters.product,
            })),
        }
    }
}

/// Asks for an export. It is written in the background by the `WriteExport` queue function; poll its `Location`.
#[utoipa::path(
    post,
    path = "/api/v1/exports",
    tag = "exports",
    security(("bearer" = [])),
    params(Tenant),
    request_body = CreateBody,
    responses(
        (status = 202, description = "Queued; `GET` the `Location` for its status and, when ready, the file.",
            body = ExportView, headers(("Location" = String, description = "The export's URL."))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "asking for an export", skip_all, fields(organization = %tenant.id()))]
async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    AppJson(body): AppJson<CreateBody>,
) -> Result<Response, ApiError> {
    blob_store(&state)?;
    let request = body.parse(&state, &tenant).await?;
    let export = state.db.create_export(tenant.id(), &request, Utc::now() + REQUEUE_AFTER).await?;
    let message = ExportMessage { organization: tenant.id(), export: export.id };
    let message = serde_json::to_value(message).map_err(|e| ApiError::Internal(e.into()))?;
    // The export is recorded: if the queue cannot take the message now, the sweep queues it within minutes.
    if let Err(error) = state.outbox.send(EXPORT_QUEUE, message).await {
        tracing::warn!(%error, export = %export.id, "the export could not be queued now; the sweep will queue it");
    }
    let location = format!("/api/v1/exports/{}", export.id);
    let view = view(&state, &tenant, export).await?;
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(view)).into_response())
}

/// The organization's latest exports.
#[utoipa::path(
    get,
    path = "/api/v1/exports",
    tag = "exports",
    security(("bearer" = [])),
    params(Tenant),
    responses(
        (status = 200, description = "The latest 50, newest first (download URLs only on `GET` of one).", body = ListView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "listing exports", skip_all, fields(organization = %tenant.id()))]
async fn list(State(state): State<AppState>, tenant: Tenant) -> Result<Json<ListView>, ApiError> {
    let exports = state.db.list_exports(tenant.id()).await?;
    Ok(Json(ListView { items: exports.into_iter().map(|export| plain_view(export, None)).collect() }))
}

/// One export: its status and, while it is ready, a download URL valid for 15 minutes.
#[utoipa::path(
    get,
    path = "/api/v1/exports/{id}",
    tag = "exports",
    security(("bearer" = [])),
    params(Tenant, ("id" = Uuid, Path, description = "The export.")),
    responses(
        (status = 200, description = "The export.", body = ExportView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "showing an export", skip_all, fields(organization = %tenant.id(), export = %id))]
async fn show(
    State(state): State<AppState>,
    tenant: Tenant,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<ExportView>, ApiError> {
    let export = state.db.export(tenant.id(), id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(view(&state, &tenant, export).await?))
}

/// The view of an export, with a fresh download URL while it is ready.
async fn view(state: &AppState, tenant: &Tenant, export: Export) -> Result<ExportView, ApiError> {
    let (ExportStatus::Ready, Some(name)) = (export.status, export.blob_name.as_deref()) else {
        return Ok(plain_view(export, None));
    };
    let store = blob_store(state)?;
    let file_name = download_file_name(export.request.kind(), export.created_at.date_naive());
    let expires_at = Utc::now() + Duration::from_std(DOWNLOAD_URL_TTL).unwrap_or_default();
    let url = match store.download_url(EXPORTS_CONTAINER, name, DOWNLOAD_URL_TTL).await {
        Ok(Some(url)) => url,
        Ok(None) => {
            let app_url = state.settings.app_url.as_ref().ok_or_else(|| {
                ApiError::Unavailable("downloads from the folder store need APP_URL, the app's public address".into())
            })?;
            let expires = expires_at.timestamp();
            let (organization, id) = (tenant.id().to_string(), export.id.to_string());
            let grant = LocalGrant { method: "GET", organization: &organization, resource: &id, expires };
            let signature = grant.sign(&*LOCAL_SIGNING_KEY);
            app_url.join(&format!(
                "/api/v1/exports/{id}/file?organization={organization}&expires={expires}&signature={signature}"
            ))
        }
        Err(error) if error.is_transient() => return Err(ApiError::Unavailable(format!("export storage: {error}"))),
        Err(error) => return Err(ApiError::Internal(error.into())),
    };
    Ok(plain_view(export, Some(Download { url, file_name, expires_at })))
}

fn plain_view(export: Export, download: Option<Download>) -> ExportView {
    ExportView {
        id: export.id,
        kind: export.request.kind().into(),
        status: export.status.into(),
        rows: export.rows,
        bytes: export.bytes,
        error: export.error,
        created_at: export.created_at,
        finished_at: export.finished_at,
        expires_at: export.expires_at,
        download,
    }
}

/// The signature `GET /api/v1/exports/{id}` put in the download URL.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DownloadParams {
    organization: Uuid,
    expires: i64,
    signature: String,
}

/// `GET /api/v1/exports/{id}/file` (folder store only): the signed URL from `GET /api/v1/exports/{id}` stands in
/// for credentials, as a SAS does. The file is streamed from disk.
#[utoipa::path(
    get,
    path = "/api/v1/exports/{id}/file",
    tag = "exports",
    params(("id" = Uuid, Path, description = "The export."), DownloadParams),
    responses(
        (status = 200, description = "The CSV file.", content_type = "text/csv", body = String),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "downloading a local export", skip_all, fields(export = %id))]
async fn download_local(
    State(state): State<AppState>,
    AppPath(id): AppPath<Uuid>,
    AppQuery(params): AppQuery<DownloadParams>,
) -> Result<Response, ApiError> {
    let Some(BlobStore::Local(store)) = &state.blobs else {
        return Err(ApiError::NotFoundWith("exports are downloaded from Blob Storage, with the URL from GET".into()));
    };
    let (organization, resource) = (params.organization.to_string(), id.to_string());
    let grant = LocalGrant { method: "GET", organization: &organization, resource: &resource, expires: params.expires };
    if !grant.verify(&*LOCAL_SIGNING_KEY, &params.signature) || params.expires < Utc::now().timestamp() {
        return Err(ApiError::Forbidden("the download URL is invalid or has expired".into()));
    }
    let export = state.db.export(params.organization, id).await?.ok_or(ApiError::NotFound)?;
    let (ExportStatus::Ready, Some(name)) = (export.status, export.blob_name.as_deref()) else {
        return Err(ApiError::NotFoundWith("the export has no file (not written yet, or expired)".into()));
    };
    let file = store.open(EXPORTS_CONTAINER, name).await.map_err(|error| match error {
        BlobError::NotFound => ApiError::NotFoundWith("the file is gone".into()),
        other => ApiError::Unavailable(format!("export storage: {other}")),
    })?;
    let file_name = download_file_name(export.request.kind(), export.created_at.date_naive());
    let body = Body::from_stream(futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut chunk = vec![0u8; 64 * 1024];
        match tokio::io::AsyncReadExt::read(&mut file, &mut chunk).await {
            Ok(0) => None,
            Ok(read) => {
                chunk.truncate(read);
                Some((Ok(axum::body::Bytes::from(chunk)), Some(file)))
            }
            Err(error) => Some((Err(error), None)),
        }
    }));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
        ],
        body,
    )
        .into_response())
}
