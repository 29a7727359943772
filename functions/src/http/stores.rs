//! Connected stores: `POST /api/v1/stores` (admin) connects a Shopify or WooCommerce store, `GET /api/v1/stores`
//! and `GET /api/v1/stores/{id}` show them with their sync state, `DELETE /api/v1/stores/{id}` (admin) stops syncing
//! and removes the app's webhook subscriptions on the platform (data and history stay),
//! `POST /api/v1/stores/{id}/sync` (admin) runs a sync now, and `GET /api/v1/stores/{id}/sync-jobs` pages through the
//! run history. Credentials go to the secrets port; the
//! database keeps only their name. Another organization's store is 404.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use shared::{
    db::sync::NewConnection,
    egress::EgressError,
    money::format_minor,
    onboarding::subscriptions::{SHOPIFY_DELIVERY_PATH, Subscriber, woocommerce_delivery_path},
    platforms::{
        self, Credentials, Platform, PlatformError,
        address::{ShopDomain, SiteUrl, StoreAddress},
        shopify::{self, ShopifyConnector},
        woocommerce,
    },
    secrets::SecretName,
    sync::{Checkpoint, ConnectionStatus, CredentialsState, StoreRecord, StoreTotals, SyncJob, engine::SyncNowError},
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
        BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, TooManyRequests, Unauthorized, Unavailable,
        Unprocessable, UnsupportedMediaType, credential_text, credential_text_or_null, display_name_or_null,
    },
    state::AppState,
};

const MAX_JOBS_PAGE: u32 = 100;
const DEFAULT_JOBS_PAGE: u32 = 20;
/// Longest credential accepted: real ones are well under 100 characters.
const MAX_CREDENTIAL_CHARS: usize = 512;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, connect))
        .routes(routes!(show, disconnect))
        .routes(routes!(sync_now))
        .routes(routes!(jobs))
}

/// The body of `POST /api/v1/stores`, by `platform`.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "platform", rename_all = "snake_case")]
#[schema(as = StoreConnection)]
enum ConnectRequest {
    Shopify {
        /// Default: the shop domain.
        #[schema(schema_with = display_name_or_null)]
        name: Option<String>,
        /// `<name>.myshopify.com`.
        #[schema(example = "corner-shop.myshopify.com")]
        shop_domain: String,
        /// An offline access token; proven against the shop before anything is stored.
        #[schema(schema_with = credential_text)]
        access_token: String,
        /// With an expiring offline token: its refresh token…
        #[schema(schema_with = credential_text_or_null)]
        refresh_token: Option<String>,
        /// …and its lifetime in seconds (`expires_in` from the token response, at most ten years), or…
        expires_in: Option<i64>,
        /// …its expiry.
        expires_at: Option<DateTime<Utc>>,
    },
    Woocommerce {
        /// Default: the site's host name.
        #[schema(schema_with = display_name_or_null)]
        name: Option<String>,
        /// The WordPress site's address (http or https; private addresses are refused unless allowed).
        #[schema(example = "https://shop.example.com")]
        site_url: String,
        #[schema(schema_with = credential_text)]
        consumer_key: String,
        #[schema(schema_with = credential_text)]
        consumer_secret: String,
        /// The secret the store's webhooks will be signed with; generated (and shown once) when absent.
        #[schema(schema_with = credential_text_or_null)]
        webhook_secret: Option<String>,
    },
}

/// A connected store (or the demo store) with its sync state.
#[derive(Serialize, ToSchema)]
#[schema(as = Store)]
struct StoreView {
    id: Uuid,
    /// `shopify`, `woocommerce` or `demo`.
    platform: String,
    name: String,
    /// Shop domain or site URL.
    address: Option<String>,
    /// `enabled`, `disabled`, or `not_connected` (the demo store).
    status: String,
    disabled_reason: Option<String>,
    /// `verified` once the credentials were proven against the platform (only then are webhooks applied),
    /// `unverified` before; absent for the demo store.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    credentials: Option<&'static str>,
    created_at: DateTime<Utc>,
    sync: Option<SyncView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    totals: Option<TotalsView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook: Option<WebhookView>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = StoreSync)]
struct SyncView {
    /// An instance holds the store's lease right now.
    running: bool,
    next_sync_at: Option<DateTime<Utc>>,
    last_completed_at: Option<DateTime<Utc>>,
    consecutive_failures: i32,
    /// The listing being read, when a pass is under way.
    progress: Option<ProgressView>,
    last_job: Option<JobView>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = SyncProgress)]
struct ProgressView {
    /// `products` or `orders`.
    #[schema(value_type = String)]
    listing: &'static str,
    pages_done: u64,
    total_pages: Option<u64>,
}

/// One sync run.
#[derive(Serialize, ToSchema)]
#[schema(as = SyncJob)]
struct JobView {
    id: Uuid,
    /// What started it: `timer`, `manual`, …
    trigger: String,
    /// `running`, `succeeded`, `partial` or `failed`.
    status: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    pages: i64,
    created: i64,
    updated: i64,
    unchanged: i64,
    failed: i64,
    error: Option<String>,
}

/// What the store has brought in.
#[derive(Serialize, ToSchema)]
#[schema(as = StoreTotals)]
struct TotalsView {
    products: i64,
    variants: i64,
    inventory: i64,
    orders: i64,
    /// A decimal in `currency`.
    order_total: String,
    currency: String,
}

/// Where and what the platform should deliver.
#[derive(Serialize, ToSchema)]
#[schema(as = StoreWebhook)]
struct WebhookView {
    /// Where the platform should deliver (relative to this API's public address).
    url: String,
    /// Topics to subscribe.
    #[schema(value_type = Vec<String>)]
    topics: &'static [&'static str],
    /// The generated signing secret, shown only in the response that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

/// The organization's stores (one page: `next_cursor` is always null).
#[derive(Serialize, ToSchema)]
#[schema(as = StoreList)]
struct Stores {
    items: Vec<StoreView>,
    next_cursor: Option<String>,
}

/// Sync runs, newest first.
#[derive(Serialize, ToSchema)]
#[schema(as = SyncJobPage)]
struct Jobs {
    items: Vec<JobView>,
    next_cursor: Option<String>,
}

impl From<SyncJob> for JobView {
    fn from(job: SyncJob) -> Self {
        Self {
            duration_ms: job.finished_at.map(|end| (end - job.started_at).num_milliseconds()),
            id: job.id,
            trigger: job.trigger,
            status: job.status,
            started_at: job.started_at,
            finished_at: job.finished_at,
            pages: job.pages,
            created: job.created,
            updated: job.updated,
            unchanged: job.unchanged,
            failed: job.failed,
            error: job.error,
        }
    }
}

fn view(record: StoreRecord) -> StoreView {
    let sync = record.status.as_ref().map(|_| {
        let checkpoint = Checkpoint::parse(record.checkpoint.as_deref().unwrap_or("{}"));
        let progress = [("products", &checkpoint.products), ("orders", &checkpoint.orders)].into_iter().find_map(
            |(listing, cursor)| {
                cursor.pass.as_ref().map(|pass| ProgressView {
                    listing,
                    pages_done: pass.pages,
                    total_pages: pass.total_pages,
                })
            },
        );
        SyncView {
            running: record.lease_expires_at.is_some_and(|until| until > Utc::now()),
            next_sync_at: record.next_sync_at,
            last_completed_at: record.last_completed_at,
            consecutive_failures: record.consecutive_failures.unwrap_or(0),
            progress,
            last_job: record.last_job.clone().map(JobView::from),
        }
    });
    StoreView {
        credentials: record.status.as_ref().map(|_| CredentialsState::of(record.credentials_verified_at).as_str()),
        status: record.status.unwrap_or_else(|| "not_connected".to_owned()),
        id: record.id,
        platform: record.platform,
        name: record.name,
        address: record.address,
        disabled_reason: record.disabled_reason,
        created_at: record.created_at,
        sync,
        totals: None,
        webhook: None,
    }
}

fn totals_view(totals: StoreTotals, tenant: &Tenant) -> TotalsView {
    let currency = tenant.organization.currency.clone();
    TotalsView {
        products: totals.products,
        variants: totals.variants,
        inventory: totals.inventory,
        orders: totals.orders,
        order_total: format_minor(totals.order_total_minor, currency.minor_digits()),
        currency: currency.to_string(),
    }
}

fn webhook_view(platform: Platform, store: Uuid, secret: Option<String>) -> WebhookView {
    match platform {
        Platform::Shopify => WebhookView { url: SHOPIFY_DELIVERY_PATH.into(), topics: shopify::WEBHOOK_TOPICS, secret },
        Platform::Woocommerce => {
            WebhookView { url: woocommerce_delivery_path(store), topics: woocommerce::WEBHOOK_TOPICS, secret }
        }
    }
}

pub(crate) fn credential(field: &str, value: &str) -> Result<SecretString, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > MAX_CREDENTIAL_CHARS || value.chars().any(char::is_control) {
        return Err(ApiError::Unprocessable {
            detail: format!("{field}: must be 1-{MAX_CREDENTIAL_CHARS} printable characters"),
            errors: vec![crate::error::FieldError { field: field.into(), message: "invalid".into() }],
        });
    }
    Ok(SecretString::from(value.to_owned()))
}

pub(crate) fn store_name(given: Option<String>, default: &str) -> Result<String, ApiError> {
    let name = given.map(|n| n.trim().to_owned()).unwrap_or_else(|| default.to_owned());
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field("name", "must be 1 to 200 printable characters"));
    }
    Ok(name)
}

/// What a validated connect request (or a completed install) amounts to.
pub(crate) struct Connection {
    pub(crate) name: String,
    pub(crate) address: StoreAddress,
    pub(crate) credentials: Credentials,
    /// Verified when the credentials were proven before anything is stored.
    pub(crate) proof: CredentialsState,
    pub(crate) generated_webhook_secret: Option<String>,
}

/// What saving a connection does when the organization has this store connected already.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhenConnected {
    /// Refuse (409): a pasted connect never replaces working credentials.
    Conflict,
    /// Replace the credentials: a reinstall proves the new ones.
    Replace,
}

async fn validate(state: &AppState, request: ConnectRequest) -> Result<Connection, ApiError> {
    match request {
        ConnectRequest::Shopify { name, shop_domain, access_token, refresh_token, expires_in, expires_at } => {
            let shop =
                ShopDomain::parse(&shop_domain).map_err(|e| ApiError::invalid_field("shop_domain", e.to_string()))?;
            let access_token = credential("access_token", &access_token)?;
            let refresh_token = refresh_token.map(|t| credential("refresh_token", &t)).transpose()?;
            let now = Utc::now();
            let expires_at = match (expires_in, expires_at) {
                (Some(_), Some(_)) => {
                    return Err(ApiError::invalid_field("expires_in", "give expires_in or expires_at, not both"));
                }
                (Some(seconds), None) => Some(
                    platforms::token_expiry(seconds, now)
                        .map_err(|e| ApiError::invalid_field("expires_in", e.to_string()))?,
                ),
                (None, Some(at)) => Some(
                    platforms::check_token_expiry(at, now)
                        .map_err(|e| ApiError::invalid_field("expires_at", e.to_string()))?,
                ),
                (None, None) => None,
            };
            if refresh_token.is_some() != expires_at.is_some() {
                return Err(ApiError::invalid_field(
                    "refresh_token",
                    "an expiring token needs both its refresh_token and its expiry (expires_in or expires_at)",
                ));
            }
            let shopify = &state.settings.shopify;
            if refresh_token.is_some() && (shopify.client_id.is_none() || shopify.client_secret.is_none()) {
                return Err(ApiError::Unavailable(
                    "this instance cannot refresh expiring Shopify tokens (SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET \
                     are not set)"
                        .into(),
                ));
            }
            let name = store_name(name, shop.as_ref())?;
            let credentials = Credentials::Shopify { access_token, refresh_token, expires_at };
            verify_shopify(state, &shop, &credentials).await?;
            Ok(Connection {
                name,
                address: StoreAddress::Shop(shop),
                credentials,
                proof: CredentialsState::Verified,
                generated_webhook_secret: None,
            })
        }
        ConnectRequest::Woocommerce { name, site_url, consumer_key, consumer_secret, webhook_secret } => {
            let site = checked_site(state, &site_url).await?;
            let consumer_key = credential("consumer_key", &consumer_key)?;
            let consumer_secret = credential("consumer_secret", &consumer_secret)?;
            let webhook_secret = webhook_secret.map(|secret| credential("webhook_secret", &secret)).transpose()?;
            woocommerce_connection(&site, name, consumer_key, consumer_secret, webhook_secret)
        }
    }
}

/// A site URL from outside, parsed and checked against the SSRF rules for store addresses.
pub(crate) async fn checked_site(state: &AppState, site_url: &str) -> Result<SiteUrl, ApiError> {
    let site = SiteUrl::parse(site_url).map_err(|e| ApiError::invalid_field("site_url", e.to_string()))?;
    state.settings.sync.store_egress().check_url(site.url()).await.map_err(|error| match error {
        EgressError::Refused(refused) => ApiError::invalid_field("site_url", refused.to_string()),
        EgressError::Unresolvable(host) => ApiError::invalid_field("site_url", format!("{host} does not resolve")),
    })?;
    Ok(site)
}

/// A WooCommerce connection with these keys; the webhook secret is generated when none is given.
pub(crate) fn woocommerce_connection(
    site: &SiteUrl,
    name: Option<String>,
    consumer_key: SecretString,
    consumer_secret: SecretString,
    webhook_secret: Option<SecretString>,
) -> Result<Connection, ApiError> {
    let (webhook_secret, generated) = match webhook_secret {
        Some(secret) => (secret, None),
        None => {
            // 244 random bits from two v4 UUIDs, as 64 hex characters.
            let secret = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
            (SecretString::from(secret.clone()), Some(secret))
        }
    };
    let host = site.url().host_str().unwrap_or("WooCommerce store").to_owned();
    Ok(Connection {
        name: store_name(name, &host)?,
        address: StoreAddress::Site(site.clone()),
        credentials: Credentials::Woocommerce { consumer_key, consumer_secret, webhook_secret },
        // Deliveries are signed with this store's own secret; the keys are proven by the first sync.
        proof: CredentialsState::Unverified,
        generated_webhook_secret: generated,
    })
}

/// Proves a pasted Shopify token against the shop's Admin API before anything is stored: the token must open this
/// shop. Without this, anyone could connect another organization's shop with a made-up token and receive its
/// webhooks, which are signed with the app's secret, not the shop owner's.
async fn verify_shopify(state: &AppState, shop: &ShopDomain, credentials: &Credentials) -> Result<(), ApiError> {
    let deadline = tokio::time::Instant::now() + state.settings.sync.request_budget;
    let mut connector = ShopifyConnector::new(&state.platforms, shop, credentials, 0).map_err(|error| {
        tracing::error!(%error, "the Shopify Admin API endpoint is misconfigured");
        ApiError::Unavailable("Shopify cannot be reached from this instance".into())
    })?;
    match connector.verify_shop(shop, deadline).await {
        Ok(()) => Ok(()),
        Err(PlatformError::Unauthorized(detail)) => {
            tracing::info!(target: "audit", event = "store_token_refused", platform = "shopify", %shop);
            Err(ApiError::invalid_field(
                "access_token",
                format!("Shopify refused this access token for {shop}: {detail}"),
            ))
        }
        Err(PlatformError::Rejected(detail)) => Err(ApiError::invalid_field(
            "access_token",
            format!("Shopify refused the verification with this token: {detail}"),
        )),
        Err(PlatformError::ForbiddenAddress(detail)) => Err(ApiError::invalid_field("shop_domain", detail)),
        Err(error) => {
            tracing::warn!(%error, %shop, "the Shopify token could not be verified");
            Err(ApiError::Unavailable("Shopify could not be reached to verify the access token; retry shortly".into()))
        }
    }
}

pub(crate) fn secrets_failure(error: shared::secrets::SecretsError) -> ApiError {
    match error {
        shared::secrets::SecretsError::NotConfigured => {
            ApiError::Unavailable("no secret store is configured, so store credentials cannot be kept".into())
        }
        other => {
            tracing::error!(error = %other, "secret store failed");
            ApiError::Unavailable("the secret store is unavailable; retry shortly".into())
        }
    }
}

/// Stores the credentials in the secrets port and creates the store due for its first sync at once, or reconnects
/// the organization's disconnected one (same history and checkpoint), or — for [`WhenConnected::Replace`] — puts
/// new proven credentials on its connected one. A store that fails to be created keeps no credentials. Returns the
/// store.
pub(crate) async fn save_connection(
    state: &AppState,
    organization: Uuid,
    connection: &Connection,
    when_connected: WhenConnected,
) -> Result<Uuid, ApiError> {
    let platform = connection.address.platform().as_str();
    let existing = state.db.find_connection(organization, &connection.address).await?;
    let (store, enabled) = match &existing {
        Some((store, status)) => (*store, *status == ConnectionStatus::Enabled),
        None => (Uuid::new_v4(), false),
    };
    if enabled && when_connected == WhenConnected::Conflict {
        return Err(ApiError::Conflict("this store is already connected".into()));
    }
    let secret_name = SecretName::for_store(store);
    if enabled {
        // The connection keeps its name for the secret; the new credentials replace the old in one write.
        state.secrets.put(&secret_name, connection.credentials.to_secret()).await.map_err(secrets_failure)?;
        if connection.proof == CredentialsState::Verified {
            state.db.mark_credentials_verified(organization, store).await?;
        }
        tracing::info!(target: "audit", event = "store_credentials_replaced", tenant = %organization, %store, platform);
        return Ok(store);
    }
    state.secrets.put(&secret_name, connection.credentials.to_secret()).await.map_err(secrets_failure)?;
    let stored = match existing {
        Some(_) => {
            let name = &connection.name;
            state.db.reconnect_store(organization, store, name, &secret_name, connection.proof).await.map(|_| ())
        }
        None => {
            let new = NewConnection {
                store,
                name: &connection.name,
                address: &connection.address,
                credential_ref: &secret_name,
                credentials: connection.proof,
            };
            state.db.create_connected_store(organization, &new).await
        }
    };
    if let Err(error) = stored {
        if let Err(cleanup) = state.secrets.delete(&secret_name).await {
            tracing::warn!(error = %cleanup, "credentials of a store that failed to connect were not removed");
        }
        if error.is_unique_violation() {
            return Err(ApiError::Conflict("this store is already connected".into()));
        }
        return Err(error.into());
    }
    tracing::info!(target: "audit", event = "store_connected", tenant = %organization, %store, platform);
    Ok(store)
}

/// Connects a store, or reconnects a disconnected one with new credentials (admins only). A Shopify token is proven
/// against the shop first; WooCommerce keys are proven by the first sync.
#[utoipa::path(
    post,
    path = "/api/v1/stores",
    tag = "stores",
    security(("bearer" = [])),
    params(Tenant),
    request_body = ConnectRequest,
    responses(
        (status = 201, description = "Connected; `webhook` says what to subscribe.", body = StoreView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "connecting a store", skip_all, fields(tenant = %tenant.id()))]
async fn connect(
    State(state): State<AppState>,
    tenant: Tenant,
    AppJson(request): AppJson<ConnectRequest>,
) -> Result<(StatusCode, Json<StoreView>), ApiError> {
    tenant.require_admin()?;
    let connection = validate(&state, request).await?;
    let store = save_connection(&state, tenant.id(), &connection, WhenConnected::Conflict).await?;
    let record = state.db.store_record(tenant.id(), store).await?.ok_or(ApiError::NotFound)?;
    let mut body = view(record);
    body.webhook = Some(webhook_view(connection.address.platform(), store, connection.generated_webhook_secret));
    Ok((StatusCode::CREATED, Json(body)))
}

/// The organization's stores with their sync state.
#[utoipa::path(
    get,
    path = "/api/v1/stores",
    tag = "stores",
    security(("bearer" = [])),
    params(Tenant),
    responses(
        (status = 200, description = "Every store (one page).", body = Stores),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn list(State(state): State<AppState>, tenant: Tenant) -> Result<Json<Stores>, ApiError> {
    let records = state.db.store_records(tenant.id()).await?;
    Ok(Json(Stores { items: records.into_iter().map(view).collect(), next_cursor: None }))
}

/// The store, its sync state and what it has brought in.
#[utoipa::path(
    get,
    path = "/api/v1/stores/{id}",
    tag = "stores",
    security(("bearer" = [])),
    params(Tenant, ("id" = Uuid, Path, description = "The store.")),
    responses(
        (status = 200, description = "The store.", body = StoreView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn show(
    State(state): State<AppState>,
    tenant: Tenant,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<StoreView>, ApiError> {
    let record = state.db.store_record(tenant.id(), id).await?.ok_or(ApiError::NotFound)?;
    let totals = state.db.store_totals(tenant.id(), id).await?;
    let platform = Platform::parse(&record.platform).ok();
    let connected = record.status.as_deref() == Some("enabled");
    let mut body = view(record);
    body.totals = Some(totals_view(totals, &tenant));
    body.webhook = platform.filter(|_| connected).map(|p| webhook_view(p, id, None));
    Ok(Json(body))
}

/// Stops syncing, removes the app's webhook subscriptions on the platform and forgets the credentials (admins only);
/// products, orders and history stay.
#[utoipa::path(
    delete,
    path = "/api/v1/stores/{id}",
    tag = "stores",
    security(("bearer" = [])),
    params(Tenant, ("id" = Uuid, Path, description = "The store.")),
    responses(
        (status = 204, description = "Disconnected."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "disconnecting a store", skip_all, fields(tenant = %tenant.id(), store = %id))]
async fn disconnect(
    State(state): State<AppState>,
    tenant: Tenant,
    AppPath(id): AppPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    tenant.require_admin()?;
    let credential_ref = state
        .db
        .disconnect_store(tenant.id(), id, "disconnected by an admin")
        .await?
        .ok_or_else(|| ApiError::NotFoundWith("no connected store has this id".into()))?;
    if let Ok(name) = SecretName::parse(&credential_ref) {
        remove_subscriptions(&state, tenant.id(), id, &name).await;
        if let Err(error) = state.secrets.delete(&name).await {
            tracing::warn!(%error, "the credentials of a disconnected store could not be deleted");
        }
    }
    tracing::info!(target: "audit", event = "store_disconnected", tenant = %tenant.id(), store = %id);
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the webhook subscriptions this app has on a disconnected store's platform, with its last credentials.
/// Best effort: the store is disconnected either way, and deliveries to a disconnected store are ignored.
async fn remove_subscriptions(state: &AppState, organization: Uuid, store: Uuid, name: &SecretName) {
    let Some(app_url) = &state.settings.app_url else { return };
    // A site that stopped answering must not hold the admin's request for the whole sync budget.
    let budget = state.settings.sync.request_budget.min(std::time::Duration::from_secs(10));
    let deadline = tokio::time::Instant::now() + budget;
    let removed = async {
        let connection = state.db.connection(organization, store).await.map_err(|e| e.to_string())?;
        let connection = connection.ok_or("the connection vanished")?;
        let secret = state.secrets.get(name).await.map_err(|e| e.to_string())?.ok_or("no credentials are stored")?;
        let mut credentials = Credentials::from_secret(&secret).map_err(|e| e.to_string())?;
        if let StoreAddress::Shop(shop) = &connection.address {
            credentials =
                shopify::fresh_credentials(&state.platforms, shop, credentials, state.secrets.as_ref(), name, deadline)
                    .await
                    .map_err(|e| e.to_string())?;
        }
        let subscriber = Subscriber {
            platforms: &state.platforms,
            app_url,
            store,
            address: &connection.address,
            credentials: &credentials,
        };
        subscriber.unsubscribe(deadline).await.map_err(|e| e.to_string())
    };
    match removed.await {
        Ok(count) => tracing::info!(%store, count, "removed the store's webhook subscriptions"),
        Err(error) => tracing::warn!(%store, %error, "the store's webhook subscriptions could not be removed"),
    }
}

/// Syncs now (admins only), for up to `SYNC_REQUEST_BUDGET_SECS`; a store with more to read ends `partial` and the
/// timer carries on from its checkpoint.
#[utoipa::path(
    post,
    path = "/api/v1/stores/{id}/sync",
    tag = "stores",
    security(("bearer" = [])),
    params(Tenant, ("id" = Uuid, Path, description = "A connected store.")),
    responses(
        (status = 200, description = "The run.", body = JobView),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn sync_now(
    State(state): State<AppState>,
    tenant: Tenant,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<JobView>, ApiError> {
    tenant.require_admin()?;
    let report =
        state.sync_engine().sync_now(tenant.id(), id, state.settings.sync.request_budget).await.map_err(|error| {
            match error {
                SyncNowError::Busy => ApiError::Conflict("a sync of this store is already running".into()),
                SyncNowError::NotConnected => ApiError::NotFoundWith("no connected store has this id".into()),
                SyncNowError::Db(error) => error.into(),
            }
        })?;
    let job = state
        .db
        .sync_jobs_page(tenant.id(), id, 1, None)
        .await?
        .into_iter()
        .find(|job| job.id == report.job)
        .ok_or(ApiError::NotFound)?;
    Ok(Json(job.into()))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct JobsParams {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(min_length = 1)]
    cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct JobsCursor {
    started_at: DateTime<Utc>,
    id: Uuid,
}

/// The store's sync runs, newest first, in keyset pages.
#[utoipa::path(
    get,
    path = "/api/v1/stores/{id}/sync-jobs",
    tag = "stores",
    security(("bearer" = [])),
    params(Tenant, ("id" = Uuid, Path, description = "The store."), JobsParams),
    responses(
        (status = 200, description = "One page.", body = Jobs),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
async fn jobs(
    State(state): State<AppState>,
    tenant: Tenant,
    AppPath(id): AppPath<Uuid>,
    AppQuery(params): AppQuery<JobsParams>,
) -> Result<Json<Jobs>, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_JOBS_PAGE);
    if !(1..=MAX_JOBS_PAGE).contains(&limit) {
        return Err(ApiError::bad_field("limit", format!("must be between 1 and {MAX_JOBS_PAGE}")));
    }
    let after = params.cursor.as_deref().map(cursor::decode::<JobsCursor>).transpose()?;
    state.db.store_record(tenant.id(), id).await?.ok_or(ApiError::NotFound)?;
    let rows = state.db.sync_jobs_page(tenant.id(), id, limit + 1, after.map(|c| (c.started_at, c.id))).await?;
    let (rows, next_cursor) = cursor::page(rows, limit, |last| JobsCursor { started_at: last.started_at, id: last.id });
    Ok(Json(Jobs { items: rows.into_iter().map(JobView::from).collect(), next_cursor }))
}
