//! Connecting a store by the platform's own install flow instead of pasted credentials:
//!
//! - `GET /api/v1/shopify/install?shop=…` (admin) sends the merchant to Shopify to approve the app;
//!   `GET /api/shopify/callback` is where Shopify sends them back with an authorization code.
//! - `GET /api/v1/woocommerce/connect?site_url=…` (admin) sends the merchant to their site's key-approval page;
//!   `POST /api/woocommerce/callback` is where the site posts the approved keys.
//!
//! The callbacks carry no bearer token: the single-use install state ([`PendingInstall`]) ties each to the
//! organization and admin who started it, Shopify's query `hmac` proves the redirect came from Shopify, and a cookie
//! proves it came back to the browser that started the install. Every
//! refused callback answers a problem and stores nothing; an accepted one stores the credentials in the secrets
//! port, creates (or reconnects) the store due for its first sync at once, and subscribes the app's webhooks.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use shared::{
    config::AppUrl,
    db::tenants::Role,
    onboarding::{self, PendingInstall, STATE_LIFETIME, StateError, subscriptions::Subscriber},
    platforms::{
        Platform, PlatformError,
        address::{ShopDomain, StoreAddress},
        shopify,
    },
    sync::CredentialsState,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::Tenant,
    error::ApiError,
    extract::{AppJson, AppQuery},
    http::{
        app::APP_PATH,
        openapi::{
            BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, TooManyRequests, Unauthorized, Unavailable,
            Unprocessable, UnsupportedMediaType,
        },
        stores::{self, Connection, WhenConnected},
    },
    state::AppState,
};

/// Where Shopify sends the merchant back (the app's `redirect_uri`, below `APP_URL`).
const SHOPIFY_CALLBACK_PATH: &str = "/api/shopify/callback";
/// Where a WooCommerce site posts approved keys (`callback_url`, below `APP_URL`).
const WOOCOMMERCE_CALLBACK_PATH: &str = "/api/woocommerce/callback";
/// The cookie binding a Shopify install to its browser ([`browser_binding`]).
const INSTALL_COOKIE: &str = "shopify_install_state";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(shopify_install))
        .routes(routes!(shopify_callback))
        .routes(routes!(woocommerce_connect))
        .routes(routes!(woocommerce_callback))
}

/// Where to send the merchant's browser.
#[derive(Serialize, ToSchema)]
#[schema(as = InstallRedirect)]
struct Authorize {
    /// The platform's approval page, with the single-use `state` (ten minutes).
    authorize_url: String,
}

/// An install that completed.
#[derive(Serialize, ToSchema)]
#[schema(as = InstallCompleted)]
struct Installed {
    /// The connected store; its first sync is due at once.
    store: Uuid,
    /// Webhook subscriptions created on the platform (0 when they existed already, or could not be made: the
    /// sync still reads every change).
    webhooks_created: u32,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct InstallParams {
    /// The shop, `<name>.myshopify.com` (also taken with `https://`, a trailing slash or in capitals).
    #[param(example = "corner-shop.myshopify.com", pattern = r"^[a-z0-9]([a-z0-9-]{0,58}[a-z0-9])?\.myshopify\.com$")]
    shop: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ConnectParams {
    /// The WordPress site's address (http or https; private addresses are refused unless allowed).
    #[param(example = "https://shop.example.com")]
    site_url: String,
}

/// What a WooCommerce site posts once the merchant approved the keys (its `key_id` is not needed).
#[derive(Deserialize, ToSchema)]
#[schema(as = WooCommerceKeys)]
struct ApprovedKeys {
    /// The `user_id` of the approval URL: the install state.
    user_id: String,
    consumer_key: String,
    consumer_secret: String,
    /// `read`, `write` or `read_write`; the sync needs read.
    key_permissions: String,
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|kind| kind.trim().starts_with("application/json")))
}

/// `302 Found` to `url`.
fn found(url: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, url)]).into_response()
}

/// A `302` to `url` for a browser, or `{"authorize_url": …}` for a client that asks for JSON.
fn send_to(headers: &HeaderMap, url: String) -> Response {
    if wants_json(headers) { Json(Authorize { authorize_url: url }).into_response() } else { found(url) }
}

fn app_url(state: &AppState) -> Result<&AppUrl, ApiError> {
    state.settings.app_url.as_ref().ok_or_else(|| {
        ApiError::Unavailable("installs need APP_URL, this app's public address, which is not set".into())
    })
}

/// The dashboard's Stores page, where a completed install sends the merchant.
fn stores_page(app_url: &AppUrl) -> String {
    app_url.join(&format!("{APP_PATH}#/stores"))
}

/// The cookie that ties a Shopify install to the browser that started it: only that browser brings it back to the
/// callback (`SameSite=Lax` travels with Shopify's top-level redirect). Without it, whoever approved an install URL
/// an admin had sent them would connect their shop to that admin's organization. `max_age` 0 clears it.
fn browser_binding(app_url: &AppUrl, nonce: &str, max_age: i64) -> Option<HeaderValue> {
    let callback = app_url.join(SHOPIFY_CALLBACK_PATH);
    let path = path_of(&callback);
    let secure = if callback.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!("{INSTALL_COOKIE}={nonce}; Max-Age={max_age}; Path={path}; HttpOnly; SameSite=Lax{secure}");
    // The nonce is base64url and the path came from a parsed URL: a valid header value.
    HeaderValue::from_str(&cookie).ok()
}

/// The path of an absolute URL (`https://host/base/api/shopify/callback` → `/base/api/shopify/callback`).
fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme.find('/').map_or("/", |at| &after_scheme[at..])
}

/// Whether the request carries the install cookie for `nonce`.
fn started_in_this_browser(headers: &HeaderMap, nonce: &str) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == INSTALL_COOKIE && !value.is_empty() && value == nonce)
}

fn state_refused(error: StateError) -> ApiError {
    match error {
        StateError::Db(error) => error.into(),
        refused => {
            tracing::info!(target: "audit", event = "install_state_refused", reason = %refused);
            ApiError::bad_field("state", refused.to_string())
        }
    }
}

/// The admin who started the install must still be one when it completes.
async fn still_admin(state: &AppState, install: &PendingInstall) -> Result<(), ApiError> {
    match state.db.organization_of_member(install.user, install.organization).await? {
        Some((_, Role::Admin)) => Ok(()),
        _ => {
            Err(ApiError::Forbidden("the admin who started this install no longer administers the organization".into()))
        }
    }
}

/// Subscribes the app's webhooks on the new store's platform. Best effort: the store is connected either way, and
/// its sync reads every change a missing webhook would have brought.
async fn subscribe(state: &AppState, app_url: &AppUrl, store: Uuid, connection: &Connection) -> u32 {
    let deadline = tokio::time::Instant::now() + state.settings.sync.request_budget;
    let subscriber = Subscriber {
        platforms: &state.platforms,
        app_url,
        store,
        address: &connection.address,
        credentials: &connection.credentials,
    };
    match subscriber.subscribe(deadline).await {
        Ok(created) => created,
        Err(error) => {
            tracing::warn!(%store, %error, "the store's webhooks could not be subscribed; its sync still runs");
            0
        }
    }
}

/// Starts a Shopify app install (admins only): the authorize URL asks for an offline token with `SHOPIFY_SCOPES`,
/// redirects to `APP_URL` + `/api/shopify/callback`, and carries a state that is single use, expires in ten minutes
/// and is bound to this organization, this admin, this shop and (by a cookie) this browser. A `302` for a browser;
/// JSON when `Accept` asks.
#[utoipa::path(
    get,
    path = "/api/v1/shopify/install",
    tag = "stores",
    security(("bearer" = [])),
    params(Tenant, InstallParams),
    responses(
        (status = 200, description = "With `Accept: application/json`: where to send the merchant.", body = Authorize,
            headers(("Set-Cookie" = String, description = "`shopify_install_state`: binds the install to this \
                browser; the callback refuses a browser without it."))),
        (status = 302, description = "To Shopify's approval page.",
            headers(
                ("Location" = String, description = "The authorize URL."),
                ("Set-Cookie" = String, description = "`shopify_install_state`, as with 200."),
            )),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "starting a Shopify install", skip_all, fields(tenant = %tenant.id()))]
async fn shopify_install(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    AppQuery(params): AppQuery<InstallParams>,
) -> Result<Response, ApiError> {
    tenant.require_admin()?;
    let shop = ShopDomain::parse(&params.shop).map_err(|e| ApiError::bad_field("shop", e.to_string()))?;
    let app_url = app_url(&state)?;
    let shopify = &state.settings.shopify;
    if shopify.client_id.is_none() || shopify.client_secret.is_none() {
        return Err(ApiError::Unavailable(
            "Shopify installs need SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET, which are not set".into(),
        ));
    }
    let install = PendingInstall {
        platform: Platform::Shopify,
        address: shop.to_string(),
        organization: tenant.id(),
        user: tenant.user.user_id,
    };
    let nonce = install.issue(&state.db).await?;
    let url = onboarding::shopify::authorize_url(shopify, &shop, &app_url.join(SHOPIFY_CALLBACK_PATH), &nonce)
        .ok_or_else(|| ApiError::Unavailable("SHOPIFY_AUTHORIZE_URL_TEMPLATE gives no URL".into()))?;
    tracing::info!(target: "audit", event = "install_started", platform = "shopify", tenant = %tenant.id(), %shop);
    let mut response = send_to(&headers, url.to_string());
    let cookie = browser_binding(app_url, &nonce, STATE_LIFETIME.num_seconds())
        .ok_or_else(|| ApiError::Unavailable("APP_URL gives no cookie path for the install callback".into()))?;
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Where Shopify sends the merchant after they approved the install. Not authenticated by a token: the query
/// `hmac` (the app's current or previous client secret) proves Shopify signed it, the `shopify_install_state`
/// cookie that the browser started the install, and the single-use state which organization and admin started it,
/// for which shop. The code is then exchanged for an expiring offline
/// token, the store connected as verified with its first sync due at once, and the app's webhooks subscribed.
/// Redirects to the dashboard's Stores page, or answers JSON when `Accept` asks. Any refusal stores nothing.
#[utoipa::path(
    get,
    path = "/api/shopify/callback",
    tag = "stores",
    params(
        ("code" = String, Query, description = "The authorization code to exchange."),
        ("hmac" = String, Query, description = "Hex HMAC-SHA256, with the app's client secret, of every other \
            parameter, sorted; missing or wrong is 401."),
        ("shop" = String, Query, description = "The shop, `<name>.myshopify.com`."),
        ("state" = String, Query, description = "The state the install was started with."),
        ("timestamp" = Option<String>, Query, description = "When Shopify signed the redirect (Unix seconds)."),
        ("host" = Option<String>, Query, description = "The shop's admin host, base64."),
    ),
    responses(
        (status = 200, description = "With `Accept: application/json`: the connected store.", body = Installed),
        (status = 302, description = "To the dashboard's Stores page.",
            headers(("Location" = String, description = "The Stores page."))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "completing a Shopify install", skip_all)]
async fn shopify_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppQuery(pairs): AppQuery<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let settings = &state.settings.shopify;
    let keys: Vec<&SecretString> =
        settings.client_secret.iter().chain(settings.previous_client_secret.iter()).collect();
    if !onboarding::shopify::callback_is_signed(&pairs, &keys) {
        tracing::info!(target: "audit", event = "install_callback_rejected", platform = "shopify", "bad hmac");
        return Err(ApiError::BadSignature("the install callback's hmac is missing or does not match".into()));
    }
    let single = |name: &str| {
        let mut values = pairs.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str());
        match (values.next(), values.next()) {
            (Some(value), None) if !value.is_empty() => Ok(value),
            _ => Err(ApiError::bad_field(name, "must be given once")),
        }
    };
    let shop = ShopDomain::parse(single("shop")?).map_err(|e| ApiError::bad_field("shop", e.to_string()))?;
    let (code, nonce) = (single("code")?, single("state")?);
    if !started_in_this_browser(&headers, nonce) {
        tracing::info!(target: "audit", event = "install_state_refused", reason = "another browser", %shop);
        return Err(ApiError::bad_field(
            "state",
            "this install was started in another browser; start it again from the dashboard",
        ));
    }
    let install = PendingInstall::redeem(&state.db, nonce, Platform::Shopify).await.map_err(state_refused)?;
    if install.address != shop.as_ref() {
        return Err(state_refused(StateError::Foreign));
    }
    still_admin(&state, &install).await?;
    let app_url = app_url(&state)?;
    let deadline = tokio::time::Instant::now() + state.settings.sync.request_budget;
    let credentials =
        shopify::exchange_code(&state.platforms, &shop, code, deadline).await.map_err(|error| match error {
            PlatformError::Unauthorized(detail) | PlatformError::Malformed(detail) => {
                tracing::info!(target: "audit", event = "install_code_refused", platform = "shopify", %shop);
                ApiError::bad_field("code", format!("Shopify did not exchange the authorization code: {detail}"))
            }
            PlatformError::ForbiddenAddress(detail) => ApiError::bad_field("shop", detail),
            PlatformError::Rejected(detail) => {
                tracing::info!(target: "audit", event = "install_scopes_short", platform = "shopify", %shop);
                ApiError::bad_field("scope", format!("{detail}; install the app again granting every scope"))
            }
            other => {
                tracing::warn!(error = %other, %shop, "the authorization code could not be exchanged");
                ApiError::Unavailable("Shopify could not be reached to complete the install; start it again".into())
            }
        })?;
    let connection = Connection {
        name: shop.to_string(),
        address: StoreAddress::Shop(shop.clone()),
        credentials,
        // The merchant approved this app for this shop, and Shopify issued the token for it.
        proof: CredentialsState::Verified,
        generated_webhook_secret: None,
    };
    let store = stores::save_connection(&state, install.organization, &connection, WhenConnected::Replace).await?;
    let webhooks_created = subscribe(&state, app_url, store, &connection).await;
    tracing::info!(target: "audit", event = "install_completed", platform = "shopify", tenant = %install.organization,
        user = %install.user, %store, %shop);
    let mut response = if wants_json(&headers) {
        Json(Installed { store, webhooks_created }).into_response()
    } else {
        found(stores_page(app_url))
    };
    if let Some(cleared) = browser_binding(app_url, "", 0) {
        response.headers_mut().insert(header::SET_COOKIE, cleared);
    }
    Ok(response)
}

/// Starts a WooCommerce key approval (admins only): the site's `/wc-auth/v1/authorize` page asks the merchant to
/// grant keys (`WOOCOMMERCE_KEY_SCOPE`: read, or read and write so the app can create its webhooks), with the single-use state (ten minutes, bound to this organization, admin and site) as
/// `user_id`, `callback_url` `APP_URL` + `/api/woocommerce/callback` and `return_url` the dashboard's Stores page.
/// The site URL is checked against the SSRF rules first. A `302` for a browser; JSON when `Accept` asks.
#[utoipa::path(
    get,
    path = "/api/v1/woocommerce/connect",
    tag = "stores",
    security(("bearer" = [])),
    params(Tenant, ConnectParams),
    responses(
        (status = 200, description = "With `Accept: application/json`: where to send the merchant.", body = Authorize),
        (status = 302, description = "To the site's key-approval page.",
            headers(("Location" = String, description = "The approval URL."))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "starting a WooCommerce key approval", skip_all, fields(tenant = %tenant.id()))]
async fn woocommerce_connect(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    AppQuery(params): AppQuery<ConnectParams>,
) -> Result<Response, ApiError> {
    tenant.require_admin()?;
    let site = stores::checked_site(&state, &params.site_url).await?;
    let app_url = app_url(&state)?;
    let install = PendingInstall {
        platform: Platform::Woocommerce,
        address: site.to_string(),
        organization: tenant.id(),
        user: tenant.user.user_id,
    };
    let nonce = install.issue(&state.db).await?;
    let url = onboarding::woocommerce::authorize_url(
        &site,
        state.settings.woocommerce_key_scope,
        &nonce,
        &stores_page(app_url),
        &app_url.join(WOOCOMMERCE_CALLBACK_PATH),
    );
    tracing::info!(target: "audit", event = "install_started", platform = "woocommerce", tenant = %tenant.id(),
        site = %site);
    Ok(send_to(&headers, url.to_string()))
}

/// Where a WooCommerce site posts the keys its merchant approved. Not authenticated by a token: `user_id` is the
/// single-use install state, which names the organization, admin and site. The keys are stored with a new webhook
/// secret, the store connected with its first sync due at once (which proves the keys), and webhooks created on
/// the site. Any refusal stores nothing.
#[utoipa::path(
    post,
    path = "/api/woocommerce/callback",
    tag = "stores",
    request_body = ApprovedKeys,
    responses(
        (status = 200, description = "The connected store.", body = Installed),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "completing a WooCommerce key approval", skip_all)]
async fn woocommerce_callback(
    State(state): State<AppState>,
    AppJson(keys): AppJson<ApprovedKeys>,
) -> Result<Json<Installed>, ApiError> {
    let install =
        PendingInstall::redeem(&state.db, &keys.user_id, Platform::Woocommerce).await.map_err(state_refused)?;
    if !onboarding::woocommerce::permits_reading(&keys.key_permissions) {
        return Err(ApiError::bad_field("key_permissions", "the approved keys cannot read the store"));
    }
    let consumer_key = stores::credential("consumer_key", &keys.consumer_key)?;
    let consumer_secret = stores::credential("consumer_secret", &keys.consumer_secret)?;
    still_admin(&state, &install).await?;
    let app_url = app_url(&state)?;
    // The site was checked when the install started; its address may resolve elsewhere by now.
    let site = stores::checked_site(&state, &install.address).await?;
    let connection = stores::woocommerce_connection(&site, None, consumer_key, consumer_secret, None)?;
    // A connected site keeps its keys and webhook secret (its webhooks are signed with it): disconnect it first.
    let store = stores::save_connection(&state, install.organization, &connection, WhenConnected::Conflict).await?;
    let webhooks_created = subscribe(&state, app_url, store, &connection).await;
    tracing::info!(target: "audit", event = "install_completed", platform = "woocommerce",
        tenant = %install.organization, user = %install.user, %store, site = %site);
    Ok(Json(Installed { store, webhooks_created }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_cookie_follows_app_url_and_is_secure_under_https() {
        let app_url = AppUrl::parse("https://advisor.example.com/base").expect("APP_URL");
        let cookie = browser_binding(&app_url, "n0nce_-", 600).expect("a header");
        assert_eq!(
            cookie.to_str().expect("text"),
            "shopify_install_state=n0nce_-; Max-Age=600; Path=/base/api/shopify/callback; HttpOnly; SameSite=Lax; \
             Secure"
        );
        let local = AppUrl::parse("http://127.0.0.1:7071").expect("APP_URL");
        let cleared = browser_binding(&local, "", 0).expect("a header");
        assert_eq!(
            cleared.to_str().expect("text"),
            "shopify_install_state=; Max-Age=0; Path=/api/shopify/callback; HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn only_the_cookie_holding_this_state_counts() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::COOKIE, HeaderValue::from_str(value).expect("header"));
            headers
        };
        assert!(started_in_this_browser(&with("a=1; shopify_install_state=abc; b=2"), "abc"));
        assert!(!started_in_this_browser(&with("shopify_install_state=abd"), "abc"));
        assert!(!started_in_this_browser(&with("other_shopify_install_state=abc"), "abc"));
        assert!(!started_in_this_browser(&with("shopify_install_state="), ""));
        assert!(!started_in_this_browser(&HeaderMap::new(), "abc"));
    }
}
