//! `POST /api/webhooks/shopify` and `POST /api/webhooks/woocommerce`: platform deliveries, authenticated by the
//! HMAC over the raw body (401 on a mismatch, nothing stored), deduplicated, applied through the same upsert path as
//! the sync, and answered at once: only what a payload cannot say on its own is left to the next sync.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use shared::sync::webhooks::{ShopifyDelivery, WebhookError, WebhookOutcome, WooDelivery};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    error::{ApiError, Problem},
    extract::AppQuery,
    http::openapi::{BadRequest, PayloadTooLarge, Unauthorized, Unavailable},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(shopify)).routes(routes!(woocommerce))
}

/// What became of a delivery.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookReceipt)]
struct Receipt {
    /// `applied`, `duplicate` (already applied), `queued` (left to the next sync), `ignored` (nothing to apply it
    /// to) or `pong` (WooCommerce's ping).
    status: ReceiptStatus,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ReceiptStatus {
    Applied,
    Duplicate,
    Queued,
    Ignored,
    Pong,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn answer(result: Result<WebhookOutcome, WebhookError>) -> Response {
    match result {
        Ok(outcome) => {
            let status = match outcome {
                WebhookOutcome::Applied(_) => ReceiptStatus::Applied,
                WebhookOutcome::Duplicate => ReceiptStatus::Duplicate,
                WebhookOutcome::Queued => ReceiptStatus::Queued,
                WebhookOutcome::Ignored(_) => ReceiptStatus::Ignored,
                WebhookOutcome::Ping => ReceiptStatus::Pong,
            };
            (StatusCode::OK, Json(Receipt { status })).into_response()
        }
        Err(WebhookError::Unauthorized) => {
            Problem::for_status(StatusCode::UNAUTHORIZED, "the webhook signature is missing or does not match")
                .into_response()
        }
        Err(WebhookError::BadRequest(detail)) => ApiError::BadRequest { detail, errors: Vec::new() }.into_response(),
        Err(WebhookError::Db(error)) => ApiError::from(error).into_response(),
    }
}

/// A Shopify delivery, signed with the app's client secret (`SHOPIFY_CLIENT_SECRET`, or the previous one during a
/// rotation). Each `X-Shopify-*` header may also come unprefixed (`shopify-topic`, …), as the newer Events
/// deliveries send them. Not rate-limited: the signature authenticates it.
#[utoipa::path(
    post,
    path = "/api/webhooks/shopify",
    tag = "webhooks",
    params(
        ("X-Shopify-Hmac-Sha256" = String, Header,
            description = "Base64 HMAC-SHA256 of the raw body with the app's client secret; a mismatch is 401."),
        ("X-Shopify-Topic" = Option<String>, Header, description = "`products/update`, `orders/create`, …"),
        ("X-Shopify-Shop-Domain" = Option<String>, Header, description = "The shop, `<name>.myshopify.com`."),
        ("X-Shopify-Webhook-Id" = Option<String>, Header, description = "The delivery id, for de-duplication."),
        ("X-Shopify-Event-Id" = Option<String>, Header,
            description = "The event id; preferred over the delivery id for de-duplication."),
    ),
    request_body(content = Object, content_type = "application/json", description = "The topic's payload."),
    responses(
        (status = 200, description = "Received; `status` says what became of it.", body = Receipt),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    )
)]
async fn shopify(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let pick = |name: &str| header(&headers, &format!("x-{name}")).or_else(|| header(&headers, name));
    let delivery = ShopifyDelivery {
        topic: pick("shopify-topic").unwrap_or_default(),
        shop_domain: pick("shopify-shop-domain").unwrap_or_default(),
        hmac: pick("shopify-hmac-sha256"),
        webhook_id: pick("shopify-webhook-id"),
        event_id: pick("shopify-event-id"),
        body: &body,
    };
    answer(state.sync_engine().shopify_webhook(delivery).await)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct WooParams {
    /// The store, as the delivery URL `POST /api/v1/stores` gave; without it the store is found by
    /// `X-WC-Webhook-Source`.
    store: Option<Uuid>,
}

/// A WooCommerce delivery, signed with the store's webhook secret, or the unsigned `webhook_id=N` ping WooCommerce
/// sends when a webhook is saved. Not rate-limited: the signature authenticates it.
#[utoipa::path(
    post,
    path = "/api/webhooks/woocommerce",
    tag = "webhooks",
    params(
        WooParams,
        ("X-WC-Webhook-Signature" = Option<String>, Header,
            description = "Base64 HMAC-SHA256 of the raw body with the store's webhook secret; required but for the \
                           ping, and a mismatch is 401."),
        ("X-WC-Webhook-Topic" = Option<String>, Header, description = "`product.updated`, `order.created`, …"),
        ("X-WC-Webhook-Source" = Option<String>, Header, description = "The store's site URL."),
        ("X-WC-Webhook-Delivery-Id" = Option<String>, Header, description = "The delivery id, for de-duplication."),
        ("X-WC-Webhook-ID" = Option<String>, Header, description = "The webhook's id in WooCommerce."),
    ),
    request_body(
        content(
            (Object = "application/json"),
            (String = "application/x-www-form-urlencoded"),
        ),
        description = "The topic's payload, or the ping's `webhook_id=N`."
    ),
    responses(
        (status = 200, description = "Received; `status` says what became of it.", body = Receipt),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    )
)]
async fn woocommerce(
    State(state): State<AppState>,
    AppQuery(params): AppQuery<WooParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let delivery = WooDelivery {
        store: params.store,
        topic: header(&headers, "x-wc-webhook-topic"),
        source: header(&headers, "x-wc-webhook-source"),
        signature: header(&headers, "x-wc-webhook-signature"),
        delivery_id: header(&headers, "x-wc-webhook-delivery-id"),
        webhook_id: header(&headers, "x-wc-webhook-id"),
        body: &body,
    };
    answer(state.sync_engine().woocommerce_webhook(delivery).await)
}
