//! `POST /api/webhooks/shopify` and `POST /api/webhooks/woocommerce`: platform deliveries, authenticated by the
//! HMAC over the raw body (401 on a mismatch, nothing stored), deduplicated, applied through the same upsert path as
//! the sync, and answered at once: only what a payload cannot say on its own is left to the next sync.

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde::Deserialize;
use serde_json::json;
use shared::sync::webhooks::{ShopifyDelivery, WebhookError, WebhookOutcome, WooDelivery};
use uuid::Uuid;

use crate::{
    error::{ApiError, Problem},
    extract::AppQuery,
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/webhooks/shopify", post(shopify)).route("/api/webhooks/woocommerce", post(woocommerce))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn answer(result: Result<WebhookOutcome, WebhookError>) -> Response {
    match result {
        Ok(outcome) => {
            let status = match outcome {
                WebhookOutcome::Applied(_) => "applied",
                WebhookOutcome::Duplicate => "duplicate",
                WebhookOutcome::Queued => "queued",
                WebhookOutcome::Ignored(_) => "ignored",
                WebhookOutcome::Ping => "pong",
            };
            (StatusCode::OK, Json(json!({ "status": status }))).into_response()
        }
        Err(WebhookError::Unauthorized) => {
            Problem::for_status(StatusCode::UNAUTHORIZED, "the webhook signature is missing or does not match")
                .into_response()
        }
        Err(WebhookError::BadRequest(detail)) => ApiError::BadRequest { detail, errors: Vec::new() }.into_response(),
        Err(WebhookError::Db(error)) => ApiError::from(error).into_response(),
    }
}

/// A Shopify delivery: `X-Shopify-*` headers (or the unprefixed ones of the newer Events deliveries).
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

#[derive(Deserialize)]
struct WooParams {
    store: Option<Uuid>,
}

/// A WooCommerce delivery, or the `webhook_id=N` ping sent when a webhook is saved.
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
