//! `GET /api/v1/products` (search, filters, keyset pages), `GET /api/v1/products/{id}` (with variants) and
//! `PATCH /api/v1/products/{id}` (the merchant-owned fields the advisor needs). All scoped to the caller's
//! organization: another organization's product is 404.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use shared::{
    analytics::{self, DateRange},
    catalogue::{
        ProductCursor, ProductDetail, ProductPatch, ProductQuery, ProductSort, ProductStatus, ProductSummary, Variant,
    },
    db::product_figures::ListedFigures,
    domain::CurrencyCode,
    money::{format_minor, parse_minor},
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::Tenant,
    error::ApiError,
    extract::{AppJson, AppPath, AppQuery},
    http::cursor,
    http::openapi::{
        BadRequest, NotFound, PayloadTooLarge, TooManyRequests, Unauthorized, Unavailable, Unprocessable,
        UnsupportedMediaType,
    },
    http::views::catalogue as wire,
    state::AppState,
    whole_number::Whole,
};

/// Largest page a client may ask for.
const MAX_LIMIT: u32 = 200;
const DEFAULT_LIMIT: u32 = 50;
/// Longest search text: enough for any real query, short enough to keep the query plan cheap.
const MAX_SEARCH_CHARS: usize = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(categories)).routes(routes!(show, update))
}

/// Query parameters of the list, as sent.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Full-text search over title, vendor, category and description (at most 200 characters).
    #[param(max_length = 200)]
    q: Option<String>,
    /// Exact category.
    category: Option<String>,
    /// One of the organization's stores.
    store: Option<Uuid>,
    /// `active`, `draft` or `archived`.
    #[param(value_type = Option<StatusName>, inline)]
    status: Option<String>,
    /// Lowest price, a decimal in the organization's currency with at most its decimals (`12.50`).
    #[param(pattern = r"^[0-9]{1,15}(\.[0-9]{1,2})?$")]
    min_price: Option<String>,
    /// Highest price, as `min_price`.
    #[param(pattern = r"^[0-9]{1,15}(\.[0-9]{1,2})?$")]
    max_price: Option<String>,
    /// Default `relevance` with `q`, else `updated`; `relevance` without `q` is `updated`.
    #[param(inline)]
    sort: Option<wire::ProductSort>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page, with the same `sort`.
    cursor: Option<String>,
}

/// The names [`ProductStatus::parse`] reads, for the document.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code, reason = "documents the `status` parameter, which is parsed by ProductStatus::parse")]
enum StatusName {
    Active,
    Draft,
    Archived,
}

#[derive(Serialize, ToSchema)]
#[schema(as = ProductPage)]
struct Page {
    items: Vec<ListedProductView>,
    next_cursor: Option<String>,
}

/// A product in the list, with the figures a merchant compares products by.
#[derive(Serialize, ToSchema)]
#[schema(as = ListedProduct)]
struct ListedProductView {
    #[serde(flatten)]
    product: ProductView,
    /// The merchant's unit cost, a decimal in the organization's currency.
    unit_cost: Option<String>,
    /// Revenue of the 30 days ending yesterday (the organization's days), a decimal in its currency.
    revenue_30d: String,
}

/// A product as the API shows it: money as decimal strings with the currency.
#[derive(Serialize, ToSchema)]
#[schema(as = Product)]
struct ProductView {
    id: Uuid,
    store_id: Uuid,
    external_id: String,
    title: String,
    vendor: String,
    category: String,
    status: String,
    price: Option<String>,
    currency: String,
    inventory: i64,
    updated_at: DateTime<Utc>,
}

/// A product with its variants and the merchant-owned fields the advisor uses.
#[derive(Serialize, ToSchema)]
#[schema(as = ProductDetail)]
struct ProductDetailView {
    #[serde(flatten)]
    product: ProductView,
    description: String,
    unit_cost: Option<String>,
    lead_time_days: Option<i32>,
    target_cover_days: Option<i32>,
    variants: Vec<VariantView>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Variant)]
struct VariantView {
    id: Uuid,
    external_id: String,
    sku: String,
    title: String,
    price: String,
    cost: Option<String>,
    inventory: i64,
}

/// Writes money in the organization's currency.
struct Formatter {
    currency: CurrencyCode,
}

impl Formatter {
    fn new(tenant: &Tenant) -> Self {
        Self { currency: tenant.organization.currency.clone() }
    }

    fn money(&self, minor: i64) -> String {
        format_minor(minor, self.currency.minor_digits())
    }

    fn product(&self, p: ProductSummary) -> ProductView {
        ProductView {
            price: p.price_minor.map(|m| self.money(m)),
            currency: self.currency.to_string(),
            id: p.id,
            store_id: p.store_id,
            external_id: p.external_id,
            title: p.title,
            vendor: p.vendor,
            category: p.category,
            status: p.status,
            inventory: p.inventory,
            updated_at: p.updated_at,
        }
    }

    fn detail(&self, d: ProductDetail) -> ProductDetailView {
        ProductDetailView {
            unit_cost: d.unit_cost_minor.map(|m| self.money(m)),
            lead_time_days: d.lead_time_days,
            target_cover_days: d.target_cover_days,
            description: d.description,
            variants: d.variants.into_iter().map(|v| self.variant(v)).collect(),
            product: self.product(d.summary),
        }
    }

    fn variant(&self, v: Variant) -> VariantView {
        VariantView {
            price: self.money(v.price_minor),
            cost: v.cost_minor.map(|m| self.money(m)),
            id: v.id,
            external_id: v.external_id,
            sku: v.sku,
            title: v.title,
            inventory: v.inventory,
        }
    }
}

impl ListParams {
    /// Validates every parameter, naming the first bad one.
    fn into_query(self, currency: &CurrencyCode) -> Result<ProductQuery, ApiError> {
        let search = self.q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
        if search.as_ref().is_some_and(|q| q.chars().count() > MAX_SEARCH_CHARS) {
            return Err(ApiError::bad_field("q", format!("at most {MAX_SEARCH_CHARS} characters")));
        }
        // Without a search text nothing ranks by relevance: the list is then the newest first.
        let sort = match (self.sort.map(ProductSort::from), &search) {
            (Some(ProductSort::Relevance), None) | (None, None) => ProductSort::Updated,
            (Some(sort), _) => sort,
            (None, Some(_)) => ProductSort::Relevance,
        };
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_field("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        let price = |field: &'static str, value: Option<String>| {
            value
                .map(|v| {
                    parse_minor(&v, currency.minor_digits()).map_err(|e| ApiError::bad_field(field, e.to_string()))
                })
                .transpose()
        };
        let min_price = price("min_price", self.min_price)?;
        let max_price = price("max_price", self.max_price)?;
        if let (Some(min), Some(max)) = (min_price, max_price)
            && min > max
        {
            return Err(ApiError::bad_field("min_price", "must not exceed max_price"));
        }
        let status = self
            .status
            .map(|s| ProductStatus::parse(&s).map_err(|e| ApiError::bad_field("status", e.to_string())))
            .transpose()?;
        let after = self.cursor.map(|c| decode_cursor(&c, sort)).transpose()?;
        Ok(ProductQuery {
            search,
            category: self.category,
            store: self.store,
            status,
            min_price,
            max_price,
            sort,
            limit,
            after,
        })
    }
}

/// A cursor of this list, for the same sort order.
fn decode_cursor(text: &str, sort: ProductSort) -> Result<ProductCursor, ApiError> {
    let cursor: ProductCursor = cursor::decode(text)?;
    if cursor.sort != sort {
        return Err(ApiError::bad_field("cursor", "belongs to another sort order"));
    }
    Ok(cursor)
}

/// Searches and filters the organization's products, in keyset pages.
#[utoipa::path(
    get,
    path = "/api/v1/products",
    tag = "catalogue",
    security(("bearer" = [])),
    params(Tenant, ListParams),
    responses(
        (status = 200, description = "One page.", body = Page),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "listing products", skip_all, fields(organization = %tenant.id()))]
async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    AppQuery(params): AppQuery<ListParams>,
) -> Result<Json<Page>, ApiError> {
    let format = Formatter::new(&tenant);
    let query = params.into_query(&format.currency)?;
    let page = state.db.list_products(tenant.id(), &query).await?;
    let ids: Vec<Uuid> = page.items.iter().map(|p| p.id).collect();
    let zone = tenant.organization.timezone.tz();
    let window = DateRange::default_ending_before(analytics::local_day(Utc::now(), zone))
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("the 30-day window: {e}")))?;
    let mut figures = state.db.product_list_figures(tenant.id(), &ids, window).await?;
    Ok(Json(Page {
        next_cursor: page.next.as_ref().map(cursor::encode),
        items: page
            .items
            .into_iter()
            .map(|p| {
                let listed = figures.remove(&p.id).unwrap_or(ListedFigures { unit_cost_minor: None, revenue_minor: 0 });
                ListedProductView {
                    unit_cost: listed.unit_cost_minor.map(|m| format.money(m)),
                    revenue_30d: format.money(listed.revenue_minor),
                    product: format.product(p),
                }
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
#[schema(as = CategoryList)]
struct Categories {
    items: Vec<CategoryView>,
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = Category)]
struct CategoryView {
    /// The exact name `category=` takes.
    name: String,
    /// How many products are in it.
    products: i64,
}

/// The organization's product categories, A to Z, with their product counts: what `category=` filters by.
#[utoipa::path(
    get,
    path = "/api/v1/products/categories",
    tag = "catalogue",
    security(("bearer" = [])),
    params(Tenant),
    responses(
        (status = 200, description = "Every category (one page).", body = Categories),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "listing product categories", skip_all, fields(organization = %tenant.id()))]
async fn categories(State(state): State<AppState>, tenant: Tenant) -> Result<Json<Categories>, ApiError> {
    let categories = state.db.product_categories(tenant.id()).await?;
    Ok(Json(Categories {
        items: categories.into_iter().map(|c| CategoryView { name: c.category, products: c.products }).collect(),
        next_cursor: None,
    }))
}

/// One product with its variants.
#[utoipa::path(
    get,
    path = "/api/v1/products/{id}",
    tag = "catalogue",
    security(("bearer" = [])),
    params(Tenant, ("id" = Uuid, Path, description = "The product.")),
    responses(
        (status = 200, description = "The product.", body = ProductDetailView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "showing a product", skip_all, fields(organization = %tenant.id(), product = %id))]
async fn show(
    State(state): State<AppState>,
    tenant: Tenant,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<ProductDetailView>, ApiError> {
    let product = state.db.product(tenant.id(), id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(Formatter::new(&tenant).detail(product)))
}

/// The PATCH body: each field may be absent (unchanged), `null` (cleared) or a value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ProductPatch)]
struct PatchBody {
    /// Unit cost, a non-negative decimal in the organization's currency.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "4.20", pattern = r"^[0-9]{1,15}(\.[0-9]{1,2})?$")]
    unit_cost: Option<Option<String>>,
    /// Supplier lead time, 0 to 365 days.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 365)]
    lead_time_days: Option<Option<Whole<i32>>>,
    /// Stock cover to aim for, 1 to 365 days.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 365)]
    target_cover_days: Option<Option<Whole<i32>>>,
}

/// Tells a field sent as `null` (`Some(None)`) from one left out (`None`, via `default`).
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

impl PatchBody {
    fn into_patch(self, currency: &CurrencyCode) -> Result<ProductPatch, ApiError> {
        let unit_cost_minor = match self.unit_cost {
            Some(Some(text)) => {
                let minor = parse_minor(&text, currency.minor_digits())
                    .map_err(|e| ApiError::bad_field("unit_cost", e.to_string()))?;
                if minor < 0 {
                    return Err(ApiError::bad_field("unit_cost", "must not be negative"));
                }
                Some(Some(minor))
            }
            other => other.map(|_| None),
        };
        let days = |field: &'static str, value: Option<Option<Whole<i32>>>, min: i32| match value {
            Some(Some(Whole(days))) if !(min..=365).contains(&days) => {
                Err(ApiError::bad_field(field, format!("must be between {min} and 365 days")))
            }
            other => Ok(other.map(|days| days.map(|Whole(days)| days))),
        };
        Ok(ProductPatch {
            unit_cost_minor,
            lead_time_days: days("lead_time_days", self.lead_time_days, 0)?,
            target_cover_days: days("target_cover_days", self.target_cover_days, 1)?,
        })
    }
}

/// Sets the merchant-owned fields. Each may be left out (unchanged), `null` (cleared) or a value.
#[utoipa::path(
    patch,
    path = "/api/v1/products/{id}",
    tag = "catalogue",
    security(("bearer" = [])),
    params(Tenant, ("id" = Uuid, Path, description = "The product.")),
    request_body = PatchBody,
    responses(
        (status = 200, description = "The product as updated.", body = ProductDetailView),
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
#[tracing::instrument(name = "updating a product", skip_all, fields(organization = %tenant.id(), product = %id))]
async fn update(
    State(state): State<AppState>,
    tenant: Tenant,
    AppPath(id): AppPath<Uuid>,
    AppJson(body): AppJson<PatchBody>,
) -> Result<Json<ProductDetailView>, ApiError> {
    let format = Formatter::new(&tenant);
    let patch = body.into_patch(&format.currency)?;
    let product = state.db.patch_product(tenant.id(), id, &patch).await?.ok_or(ApiError::NotFound)?;
    tracing::info!(target: "audit", event = "product_updated", organization = %tenant.id(), user = %tenant.user.user_id, product = %id, "product edited");
    Ok(Json(format.detail(product)))
}
