//! `GET /api/v1/compliance/requests` and `GET /api/v1/compliance/requests/{id}` (admin): the Shopify compliance
//! requests received for the organization's stores and what was done about each — the audit trail of every erasure.
//! A `customers/data_request` shows what is held about the customer's orders, for the merchant to pass on.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::{
    db::compliance::{ComplianceRequest, ComplianceTopic, HeldOrderLine},
    money::format_minor,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::Tenant,
    error::ApiError,
    extract::{AppPath, AppQuery},
    http::{
        cursor,
        openapi::{BadRequest, Forbidden, NotFound, TooManyRequests, Unauthorized, Unavailable},
    },
    state::AppState,
};

const MAX_PAGE: u32 = 100;
const DEFAULT_PAGE: u32 = 20;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(show))
}

/// A compliance request and what was done about it.
#[derive(Serialize, ToSchema)]
struct RequestView {
    id: Uuid,
    /// `customers/data_request`, `customers/redact` or `shop/redact`.
    topic: String,
    /// The store it was about (no longer listed after `shop/redact`).
    store_id: Uuid,
    /// The shop, `<name>.myshopify.com`.
    shop: String,
    /// Shopify's customer id (customer topics); no name, e-mail address or phone is kept.
    customer_id: Option<String>,
    /// The orders the request named, as Shopify's gids.
    order_ids: Vec<String>,
    received_at: DateTime<Utc>,
    /// What was done.
    outcome: String,
}

impl From<ComplianceRequest> for RequestView {
    fn from(request: ComplianceRequest) -> Self {
        Self {
            order_ids: request.orders(),
            id: request.id,
            topic: request.topic,
            store_id: request.store_id,
            shop: request.shop,
            customer_id: request.customer_id,
            received_at: request.received_at,
            outcome: request.outcome,
        }
    }
}

/// Compliance requests, newest first.
#[derive(Serialize, ToSchema)]
#[schema(as = ComplianceRequestPage)]
struct Requests {
    items: Vec<RequestView>,
    next_cursor: Option<String>,
}

/// A compliance request with, for a data request, what is held about the orders it names.
#[derive(Serialize, ToSchema)]
#[schema(as = ComplianceRequestDetail)]
struct Detail {
    #[serde(flatten)]
    request: RequestView,
    /// `customers/data_request` only: the named orders the store holds, as stored (amounts in `currency`).
    held_orders: Option<Vec<HeldOrder>>,
    currency: String,
}

/// An order as stored.
#[derive(Serialize, ToSchema)]
struct HeldOrder {
    order_id: String,
    placed_at: DateTime<Utc>,
    status: String,
    /// Decimal string in the organization's currency.
    total: String,
    lines: Vec<HeldLine>,
}

/// An order line as stored.
#[derive(Serialize, ToSchema)]
struct HeldLine {
    /// The product's title, if the product is still held.
    product_title: Option<String>,
    quantity: i32,
    /// Decimal string in the organization's currency.
    total: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(min_length = 1)]
    cursor: Option<String>,
}

/// The organization's compliance requests, newest first, in keyset pages (admins only).
#[utoipa::path(
    get,
    path = "/api/v1/compliance/requests",
    tag = "compliance",
    security(("bearer" = [])),
    params(Tenant, ListParams),
    responses(
        (status = 200, description = "One page.", body = Requests),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    AppQuery(params): AppQuery<ListParams>,
) -> Result<Json<Requests>, ApiError> {
    tenant.require_admin()?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_field("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    let after = params.cursor.as_deref().map(cursor::decode::<(DateTime<Utc>, Uuid)>).transpose()?;
    let rows = state.db.compliance_requests(tenant.id(), limit + 1, after).await?;
    let (rows, next_cursor) = cursor::page(rows, limit, |row| (row.received_at, row.id));
    Ok(Json(Requests { items: rows.into_iter().map(RequestView::from).collect(), next_cursor }))
}

/// One compliance request (admins only); a data request with the orders held.
#[utoipa::path(
    get,
    path = "/api/v1/compliance/requests/{id}",
    tag = "compliance",
    security(("bearer" = [])),
    params(Tenant, ("id" = Uuid, Path, description = "The request.")),
    responses(
        (status = 200, description = "The request.", body = Detail),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn show(
    State(state): State<AppState>,
    tenant: Tenant,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<Detail>, ApiError> {
    tenant.require_admin()?;
    let request = state.db.compliance_request(tenant.id(), id).await?.ok_or(ApiError::NotFound)?;
    let currency = tenant.organization.currency.clone();
    let held_orders = match ComplianceTopic::parse(&request.topic) {
        Some(ComplianceTopic::CustomerDataRequest) => {
            let lines = state.db.held_orders(tenant.id(), request.store_id, &request.orders()).await?;
            Some(group_orders(lines, currency.minor_digits()))
        }
        _ => None,
    };
    Ok(Json(Detail { request: request.into(), held_orders, currency: currency.to_string() }))
}

/// Groups stored order lines (in order, then line order) into orders.
fn group_orders(rows: Vec<HeldOrderLine>, digits: u32) -> Vec<HeldOrder> {
    let mut orders: Vec<HeldOrder> = Vec::new();
    for row in rows {
        if orders.last().is_none_or(|order| order.order_id != row.order_id) {
            orders.push(HeldOrder {
                order_id: row.order_id.clone(),
                placed_at: row.placed_at,
                status: row.status.clone(),
                total: format_minor(row.total_minor, digits),
                lines: Vec::new(),
            });
        }
        if let (Some(quantity), Some(total), Some(order)) = (row.quantity, row.line_total_minor, orders.last_mut()) {
            order.lines.push(HeldLine {
                product_title: row.product_title,
                quantity,
                total: format_minor(total, digits),
            });
        }
    }
    orders
}
