//! Alert channels and their deliveries:
//! - `GET/POST /api/v1/alerts/channels`: list (members) or add (admins) a Slack, Teams or e-mail channel. A webhook
//!   URL is checked against the store-URL egress rules (a private address is a 422) and kept in the secrets port;
//!   it is never shown again.
//! - `DELETE /api/v1/alerts/channels/{id}` (admins): removes a channel and its secret; its deliveries stay listed.
//! - `POST /api/v1/alerts/channels/{id}/test` (admins): sends a sample now and answers the delivery.
//! - `GET /api/v1/alerts/deliveries`: every delivery, newest first, in keyset pages.
//!
//! The `SendAlerts` timer does the sending ([`shared::alerts::dispatch`]).

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::{
    alerts::{
        channel::{AlertChannel, ChannelKind, ChannelTarget, MAX_RECIPIENTS, Purpose, WebhookUrl},
        dispatch::{self, Draft},
        notice::{self, Notice},
    },
    db::now_micros,
    domain::{EmailAddress, SecretName},
    egress::EgressError,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::Tenant,
    error::ApiError,
    extract::{AppJson, AppPath, AppQuery},
    http::{
        cursor,
        openapi::{
            BadRequest, Forbidden, NotFound, PayloadTooLarge, TooManyRequests, Unauthorized, Unavailable,
            Unprocessable, UnsupportedMediaType, display_name,
        },
        stores::secrets_failure,
        views::alerts::{AlertChannelView, DeliveryView},
    },
    state::AppState,
};

const MAX_NAME_CHARS: usize = 200;
const MAX_LIMIT: u32 = 100;
const DEFAULT_LIMIT: u32 = 20;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(delete_channel))
        .routes(routes!(test_channel))
        .routes(routes!(list_deliveries))
}

/// A channel to add, by `kind`.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[schema(as = NewAlertChannel)]
enum CreateBody {
    /// A Slack incoming webhook.
    Slack {
        /// How the channel is named in lists: 1 to 200 characters after trimming, no control characters.
        #[schema(schema_with = display_name)]
        name: String,
        /// The webhook URL: https, resolving only to addresses the app may reach (the store-URL rules).
        #[schema(pattern = "^https?://[^/?#@\\s]+", example = "https://hooks.slack.com/services/T000/B000/XXXX")]
        url: String,
    },
    /// A Microsoft Teams workflow webhook.
    Teams {
        /// How the channel is named in lists: 1 to 200 characters after trimming, no control characters.
        #[schema(schema_with = display_name)]
        name: String,
        /// The webhook URL: https, resolving only to addresses the app may reach (the store-URL rules).
        #[schema(
            pattern = "^https?://[^/?#@\\s]+",
            example = "https://prod-00.westeurope.logic.azure.com/workflows/…"
        )]
        url: String,
    },
    /// E-mail through Azure Communication Services (when the app has it configured).
    Email {
        /// How the channel is named in lists: 1 to 200 characters after trimming, no control characters.
        #[schema(schema_with = display_name)]
        name: String,
        /// 1 to 10 addresses; repeats are dropped.
        #[schema(min_items = 1, max_items = 10, value_type = Vec<String>, format = Email, example = json!(["ops@your-shop.example"]))]
        recipients: Vec<String>,
    },
}

#[derive(Serialize, ToSchema)]
#[schema(as = AlertChannelList)]
struct Channels {
    items: Vec<AlertChannelView>,
    /// Always `null`: every channel is listed.
    next_cursor: Option<String>,
}

/// The organization's alert channels.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/channels",
    tag = "alerts",
    security(("bearer" = [])),
    params(Tenant),
    responses(
        (status = 200, description = "Every channel, oldest first.", body = Channels),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "listing alert channels", skip_all, fields(organization = %tenant.id()))]
async fn list_channels(State(state): State<AppState>, tenant: Tenant) -> Result<Json<Channels>, ApiError> {
    let channels = state.db.alert_channels(tenant.id()).await?;
    Ok(Json(Channels { items: channels.into_iter().map(AlertChannelView::from).collect(), next_cursor: None }))
}

/// Adds a channel (admins only). A webhook URL must resolve only to addresses the app may reach.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/channels",
    tag = "alerts",
    security(("bearer" = [])),
    params(Tenant),
    request_body = CreateBody,
    responses(
        (status = 201, description = "Added.", body = AlertChannelView,
            headers(("Location" = String, description = "The organization's channels."))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "adding an alert channel", skip_all, fields(organization = %tenant.id()))]
async fn create_channel(
    State(state): State<AppState>,
    tenant: Tenant,
    AppJson(body): AppJson<CreateBody>,
) -> Result<impl IntoResponse, ApiError> {
    tenant.require_admin()?;
    let id = Uuid::new_v4();
    let (kind, name, target, webhook) = match body {
        CreateBody::Email { name, recipients: addresses } => {
            if !state.alerts.email_configured() {
                return Err(ApiError::invalid_field(
                    "kind",
                    "this app has no e-mail service configured (ACS_EMAIL_ENDPOINT); use Slack or Teams",
                ));
            }
            (ChannelKind::Email, channel_name(&name)?, ChannelTarget::Email(recipients(addresses)?), None)
        }
        CreateBody::Slack { name, url } => webhook_channel(&state, ChannelKind::Slack, &name, &url, id).await?,
        CreateBody::Teams { name, url } => webhook_channel(&state, ChannelKind::Teams, &name, &url, id).await?,
    };
    let channel = AlertChannel { id, organization_id: tenant.id(), kind, name, target, created_at: now_micros() };
    if let (ChannelTarget::Webhook(secret_name), Some(url)) = (&channel.target, &webhook) {
        state.secrets.put(secret_name, url.to_secret()).await.map_err(secrets_failure)?;
    }
    if let Err(error) = state.db.create_alert_channel(&channel).await {
        if let ChannelTarget::Webhook(secret_name) = &channel.target
            && let Err(cleanup) = state.secrets.delete(secret_name).await
        {
            tracing::warn!(error = %cleanup, "the webhook URL of a channel that failed to be added was not removed");
        }
        return Err(error.into());
    }
    tracing::info!(target: "audit", event = "alert_channel_added", organization = %tenant.id(), channel = %id, kind = kind.as_str(), by = %tenant.user.user_id, "alert channel added");
    let location = "/api/v1/alerts/channels".to_owned();
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(AlertChannelView::from(channel))))
}

/// A channel's name, trimmed: 1 to 200 printable characters.
fn channel_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field("name", format!("1 to {MAX_NAME_CHARS} printable characters")));
    }
    Ok(name.to_owned())
}

/// A Slack or Teams channel's parts: its name, where its URL will be kept, and the checked URL.
async fn webhook_channel(
    state: &AppState,
    kind: ChannelKind,
    name: &str,
    url: &str,
    id: Uuid,
) -> Result<(ChannelKind, String, ChannelTarget, Option<WebhookUrl>), ApiError> {
    let name = channel_name(name)?;
    let url = checked_webhook(state, url).await?;
    Ok((kind, name, ChannelTarget::Webhook(SecretName::for_alert_channel(id)), Some(url)))
}

fn recipients(raw: Vec<String>) -> Result<Vec<EmailAddress>, ApiError> {
    if raw.is_empty() || raw.len() > MAX_RECIPIENTS {
        return Err(ApiError::invalid_field("recipients", format!("1 to {MAX_RECIPIENTS} addresses")));
    }
    let mut addresses: Vec<EmailAddress> = Vec::with_capacity(raw.len());
    for (index, text) in raw.iter().enumerate() {
        let address = EmailAddress::parse(text)
            .map_err(|e| ApiError::invalid_field(format!("recipients[{index}]"), e.to_string()))?;
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    Ok(addresses)
}

/// A webhook URL from outside, parsed and checked against the SSRF rules for store addresses.
async fn checked_webhook(state: &AppState, raw: &str) -> Result<WebhookUrl, ApiError> {
    let egress = state.alerts.webhook_egress();
    let webhook = WebhookUrl::parse(raw, egress).map_err(|e| ApiError::invalid_field("url", e.to_string()))?;
    let url = webhook.url().map_err(|e| ApiError::invalid_field("url", e.to_string()))?;
    egress.check_url(&url).await.map_err(|error| match error {
        EgressError::Refused(refused) => ApiError::invalid_field("url", refused.to_string()),
        EgressError::Unresolvable(host) => ApiError::invalid_field("url", format!("{host} does not resolve")),
    })?;
    Ok(webhook)
}

/// Removes a channel and its webhook URL (admins only); its deliveries stay on record.
#[utoipa::path(
    delete,
    path = "/api/v1/alerts/channels/{id}",
    tag = "alerts",
    security(("bearer" = [])),
    params(Tenant, ("id" = Uuid, Path, description = "The channel.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "removing an alert channel", skip_all, fields(organization = %tenant.id(), channel = %id))]
async fn delete_channel(
    State(state): State<AppState>,
    tenant: Tenant,
    AppPath(id): AppPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    tenant.require_admin()?;
    let channel = state.db.delete_alert_channel(tenant.id(), id).await?.ok_or(ApiError::NotFound)?;
    if let ChannelTarget::Webhook(secret_name) = &channel.target
        && let Err(error) = state.secrets.delete(secret_name).await
    {
        tracing::warn!(%error, channel = %id, "the webhook URL of a removed channel was not deleted");
    }
    tracing::info!(target: "audit", event = "alert_channel_removed", organization = %tenant.id(), channel = %id, by = %tenant.user.user_id, "alert channel removed");
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a sample to the channel now (admins only) and answers the delivery: `status` says whether the channel
/// took it, and `error` why not.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/channels/{id}/test",
    tag = "alerts",
    security(("bearer" = [])),
    params(Tenant, ("id" = Uuid, Path, description = "The channel.")),
    responses(
        (status = 200, description = "The delivery, sent or failed.", body = DeliveryView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "testing an alert channel", skip_all, fields(organization = %tenant.id(), channel = %id))]
async fn test_channel(
    State(state): State<AppState>,
    tenant: Tenant,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<DeliveryView>, ApiError> {
    tenant.require_admin()?;
    let channel = state.db.alert_channel(tenant.id(), id).await?.ok_or(ApiError::NotFound)?;
    let notice = Notice::sample(&channel.name, notice::advice_link(state.settings.app_url.as_ref()));
    let draft =
        Draft { channel: &channel, purpose: Purpose::Test, subject: "test".to_owned(), recommendation_id: None };
    let delivery = dispatch::deliver(state.secrets.as_ref(), &state.alerts, draft, &notice, now_micros()).await;
    state.db.record_alert_delivery(&delivery).await?;
    Ok(Json(DeliveryView::from(delivery)))
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

#[derive(Serialize, Deserialize)]
struct Cursor {
    created_at: DateTime<Utc>,
    id: Uuid,
}

#[derive(Serialize, ToSchema)]
#[schema(as = AlertDeliveryPage)]
struct Deliveries {
    items: Vec<DeliveryView>,
    next_cursor: Option<String>,
}

/// Every delivery to the organization's channels, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/deliveries",
    tag = "alerts",
    security(("bearer" = [])),
    params(Tenant, ListParams),
    responses(
        (status = 200, description = "One page, newest first.", body = Deliveries),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "listing alert deliveries", skip_all, fields(organization = %tenant.id()))]
async fn list_deliveries(
    State(state): State<AppState>,
    tenant: Tenant,
    AppQuery(params): AppQuery<ListParams>,
) -> Result<Json<Deliveries>, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_field("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let after = params.cursor.as_deref().map(cursor::decode::<Cursor>).transpose()?;
    let rows = state.db.alert_deliveries(tenant.id(), limit + 1, after.map(|c| (c.created_at, c.id))).await?;
    let (rows, next_cursor) = cursor::page(rows, limit, |last| Cursor { created_at: last.created_at, id: last.id });
    Ok(Json(Deliveries { items: rows.into_iter().map(DeliveryView::from).collect(), next_cursor }))
}
