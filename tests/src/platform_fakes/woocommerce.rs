//! A WooCommerce REST API v3 fake serving any number of sites, each under its own path:
//! the site `{address}/{site}` answers `/{site}/wp-json/wc/v3/{products,products/{id},products/{id}/variations,orders}`.
//!
//! What it holds to, as WooCommerce and WordPress do: over plain HTTP only OAuth 1.0a one-legged signatures
//! authenticate (HMAC-SHA1 or HMAC-SHA256 over `METHOD&base URL&sorted parameters`, key `consumer_secret&`,
//! timestamps within 15 minutes, a nonce used once), anything else is 401; `per_page` above 100 is 400
//! `rest_invalid_param`; `modified_after` is read in the site's time zone (UTC+2 here) unless `dates_are_gmt=true`;
//! answers carry `X-WP-Total`, `X-WP-TotalPages` and an RFC 8288 `Link` header whose URLs repeat the request's query
//! (credentials included, as WordPress's do); variable products keep price and stock on their variations. Faults
//! are injected on demand: malformed bodies for the next request of a listing.
//!
//! Key approval and webhooks: `GET /{site}/wc-auth/v1/authorize` stands for a merchant who approves at once: it
//! creates a key pair with the asked `scope`, posts `{key_id, user_id, consumer_key, consumer_secret,
//! key_permissions}` as JSON to `callback_url` (which must be HTTPS, as WooCommerce requires; the fake lets a
//! loopback address through so tests can receive it), keeps the keys only if the callback answered 200, and
//! redirects to `return_url` with `success=1&user_id=…`. `/{site}/wp-json/wc/v3/webhooks` lists (GET) and creates
//! (POST) webhooks, `DELETE /{site}/wp-json/wc/v3/webhooks/{id}?force=true` deletes one (webhooks cannot be
//! trashed); a created active webhook is pinged at once with the form body `webhook_id=N`.

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    net::Ipv4Addr,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{delete, get},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpListener;

/// A product.
#[derive(Debug, Clone, PartialEq)]
pub struct WooProduct {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// `publish`, `draft`, …
    pub status: &'static str,
    /// Price in cents (simple products).
    pub price_cents: i64,
    /// Stock (simple products).
    pub stock: Option<i64>,
    /// Category name.
    pub category: String,
    /// Last change (UTC).
    pub modified: DateTime<Utc>,
    /// Variations; non-empty makes it a variable product.
    pub variations: Vec<WooVariation>,
    /// The Cost of Goods extension's `_wc_cog_cost` in cents (simple products); `None`: the field is absent.
    pub cost_cents: Option<i64>,
}

/// A variation.
#[derive(Debug, Clone, PartialEq)]
pub struct WooVariation {
    /// Id.
    pub id: u64,
    /// Price in cents.
    pub price_cents: i64,
    /// Stock.
    pub stock: i64,
    /// Attribute option, e.g. "M".
    pub option: String,
    /// `_wc_cog_cost` in cents; `None`: the field is absent.
    pub cost_cents: Option<i64>,
}

/// An order.
#[derive(Debug, Clone, PartialEq)]
pub struct WooOrder {
    /// Id.
    pub id: u64,
    /// `processing`, `completed`, …
    pub status: &'static str,
    /// Placed (UTC).
    pub created: DateTime<Utc>,
    /// Last change (UTC).
    pub modified: DateTime<Utc>,
    /// Total in cents.
    pub total_cents: i64,
    /// (product id, variation id or 0, quantity, line total cents)
    pub lines: Vec<(u64, u64, i64, i64)>,
    /// Refunded as an amount (no line in particular), cents: one refund, listed with its negative total as
    /// WooCommerce lists refunds on an order.
    pub refunded_cents: i64,
    /// Lines refunded: (index into `lines`, units, cents), one refund each, naming its line as WooCommerce's
    /// `GET /orders/{id}/refunds` does (`meta_data` `_refunded_item_id`).
    pub refunded_lines: Vec<(usize, i64, i64)>,
    /// The customer's id; 0 for a guest checkout.
    pub customer_id: u64,
}

/// A broken answer for the next request of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WooFault {
    /// An HTML page with status 200 (e.g. plain permalinks).
    HtmlPage,
    /// The JSON cut in half.
    Truncated,
    /// An object where a list belongs.
    NotAList,
    /// A price as a number.
    WrongType,
}

/// One site.
#[derive(Debug, Default)]
pub struct WooSite {
    /// Products.
    pub products: Vec<WooProduct>,
    /// Orders.
    pub orders: Vec<WooOrder>,
    /// Consumer key.
    pub consumer_key: String,
    /// Consumer secret.
    pub consumer_secret: String,
    /// Permissions of the keys (`read`, `write`, `read_write`).
    pub key_permissions: String,
    /// Webhooks.
    pub webhooks: Vec<WooWebhook>,
}

/// A webhook of a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WooWebhook {
    /// Id.
    pub id: u64,
    /// `product.created`, …
    pub topic: String,
    /// Where it delivers.
    pub delivery_url: String,
    /// What it signs with.
    pub secret: String,
    /// The status of the ping sent when it was created.
    pub ping_status: Option<u16>,
}

/// A key approval the fake's page handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The site.
    pub site: String,
    /// Every query parameter, as sent.
    pub params: Vec<(String, String)>,
    /// What the callback answered, when it was called.
    pub callback_status: Option<u16>,
}

/// One request the fake answered.
#[derive(Debug, Clone)]
pub struct WooRequest {
    /// The site.
    pub site: String,
    /// The path below `wp-json/wc/v3/`.
    pub path: String,
    /// Query parameters without credentials.
    pub params: BTreeMap<String, String>,
    /// Status answered.
    pub status: u16,
}

#[derive(Debug, Default)]
struct Inner {
    sites: HashMap<String, WooSite>,
    /// Nonces seen, per site.
    nonces: HashMap<String, HashSet<String>>,
    faults: VecDeque<(String, WooFault)>,
    requests: Vec<WooRequest>,
    approvals: Vec<Approval>,
    next_id: u64,
}

/// A running fake.
#[derive(Clone)]
pub struct FakeWoo {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    inner: Arc<Mutex<Inner>>,
}

/// The fake sites' time zone: `modified_after` without `dates_are_gmt=true` is read in it.
fn site_zone() -> FixedOffset {
    FixedOffset::east_opt(2 * 3600).expect("offset")
}

impl FakeWoo {
    /// Starts the fake on a loopback port.
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let router = Router::new()
            .route("/{site}/wp-json/wc/v3/{resource}", get(listing).post(create_webhook))
            .route("/{site}/wp-json/wc/v3/webhooks/{id}", delete(delete_webhook))
            .route("/{site}/wc-auth/v1/authorize", get(authorize))
            .route("/{site}/wp-json/wc/v3/products/{id}", get(one_product))
            .route("/{site}/wp-json/wc/v3/orders/{id}", get(one_order))
            .route("/{site}/wp-json/wc/v3/orders/{id}/refunds", get(order_refunds))
            .route("/{site}/wp-json/wc/v3/products/{id}/variations", get(variations))
            .with_state(inner.clone());
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { address, inner }
    }

    /// Adds a site; its URL is `{address}/{name}`.
    pub fn add_site(&self, name: &str, site: WooSite) -> String {
        self.inner.lock().expect("lock").sites.insert(name.to_owned(), site);
        format!("{}/{name}", self.address)
    }

    /// Changes a site's data.
    pub fn with_site<T>(&self, name: &str, change: impl FnOnce(&mut WooSite) -> T) -> T {
        change(self.inner.lock().expect("lock").sites.get_mut(name).expect("known site"))
    }

    /// Breaks the next request of `path` (`products`, `orders` or `variations`).
    pub fn push_fault(&self, path: &str, fault: WooFault) {
        self.inner.lock().expect("lock").faults.push_back((path.to_owned(), fault));
    }

    /// The key approvals handled so far.
    pub fn approvals(&self) -> Vec<Approval> {
        self.inner.lock().expect("lock").approvals.clone()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<WooRequest> {
        self.inner.lock().expect("lock").requests.clone()
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "message": message, "data": { "status": status.as_u16() } }))).into_response()
}

fn cents(value: i64) -> String {
    format!("{}.{:02}", value / 100, value % 100)
}

fn gmt(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// RFC 3986 encoding, as PHP's `rawurlencode`.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// WooCommerce's `check_oauth_signature`, re-implemented from its PHP.
fn verify_oauth(
    site: &WooSite,
    nonces: &mut HashSet<String>,
    http_method: &str,
    base_uri: &str,
    params: &HashMap<String, String>,
) -> Result<(), &'static str> {
    if params.get("oauth_consumer_key").map(String::as_str) != Some(site.consumer_key.as_str()) {
        return Err("Consumer key is invalid.");
    }
    let signature = params.get("oauth_signature").ok_or("Invalid signature - oauth_signature is missing.")?;
    let method = params.get("oauth_signature_method").map(String::as_str).unwrap_or_default();
    let timestamp: i64 = params.get("oauth_timestamp").and_then(|t| t.parse().ok()).ok_or("Invalid timestamp.")?;
    if (Utc::now().timestamp() - timestamp).abs() > 15 * 60 {
        return Err("Invalid timestamp.");
    }
    let nonce = params.get("oauth_nonce").ok_or("Invalid nonce.")?;
    let mut sorted: Vec<(&String, &String)> = params.iter().filter(|(k, _)| *k != "oauth_signature").collect();
    sorted.sort();
    let query =
        sorted.iter().map(|(k, v)| encode(&format!("{}={}", encode(k), encode(v)))).collect::<Vec<_>>().join("%26");
    let string_to_sign = format!("{http_method}&{}&{query}", encode(base_uri));
    let expected = match method {
        "HMAC-SHA256" => {
            let mut mac = Hmac::<Sha256>::new_from_slice(format!("{}&", site.consumer_secret).as_bytes()).expect("key");
            mac.update(string_to_sign.as_bytes());
            STANDARD.encode(mac.finalize().into_bytes())
        }
        _ => return Err("Invalid signature - signature method is invalid."),
    };
    if expected != signature.replace(' ', "+") {
        return Err("Invalid signature - provided signature does not match.");
    }
    if !nonces.insert(format!("{timestamp}:{nonce}")) {
        return Err("Invalid nonce - nonce has already been used.");
    }
    Ok(())
}

/// Authenticates, checks `per_page`, and takes a fault; `Err` is the answer to give instead.
fn admit(
    inner: &mut Inner,
    method: &str,
    site_name: &str,
    path: &str,
    params: &HashMap<String, String>,
    address: &str,
) -> Result<(Option<WooFault>, u64, u64), Box<Response>> {
    let Some(site) = inner.sites.get(site_name) else {
        return Err(Box::new(error(StatusCode::NOT_FOUND, "rest_no_route", "No route was found matching the URL.")));
    };
    let base_uri = format!("{address}/{site_name}/wp-json/wc/v3/{path}");
    let nonces = inner.nonces.entry(site_name.to_owned()).or_default();
    if let Err(message) = verify_oauth(site, nonces, method, &base_uri, params) {
        return Err(Box::new(error(StatusCode::UNAUTHORIZED, "woocommerce_rest_authentication_error", message)));
    }
    if method != "GET" && site.key_permissions == "read" {
        return Err(Box::new(error(
            StatusCode::UNAUTHORIZED,
            "woocommerce_rest_authentication_error",
            "The API key provided does not have write permissions.",
        )));
    }
    let per_page: u64 = params.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(10);
    if !(1..=100).contains(&per_page) {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "rest_invalid_param",
            "Invalid parameter(s): per_page (per_page must be between 1 (inclusive) and 100 (inclusive))",
        )));
    }
    let page: u64 = params.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let kind = if path.ends_with("variations") { "variations" } else { path };
    let fault = inner.faults.iter().position(|(p, _)| p == kind).and_then(|i| inner.faults.remove(i)).map(|(_, f)| f);
    Ok((fault, per_page, page))
}

fn record(inner: &mut Inner, site: &str, path: &str, params: &HashMap<String, String>, status: u16) {
    let params = params.iter().filter(|(k, _)| !k.starts_with("oauth_")).map(|(k, v)| (k.clone(), v.clone())).collect();
    inner.requests.push(WooRequest { site: site.to_owned(), path: path.to_owned(), params, status });
}

/// `modified_after`, in GMT when `dates_are_gmt=true`, else in the site's zone.
fn modified_after(params: &HashMap<String, String>) -> Option<DateTime<Utc>> {
    let text = params.get("modified_after")?;
    let naive = NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S").ok()?;
    if params.get("dates_are_gmt").map(String::as_str) == Some("true") {
        Some(naive.and_utc())
    } else {
        Some(naive.and_local_timezone(site_zone()).single()?.with_timezone(&Utc))
    }
}

/// Where a listing was asked for: its links repeat this request.
struct Asked<'a> {
    address: &'a str,
    site: &'a str,
    path: &'a str,
    params: &'a HashMap<String, String>,
}

fn paged(asked: &Asked<'_>, items: Vec<Value>, per_page: u64, page: u64, fault: Option<WooFault>) -> Response {
    let Asked { address, site, path, params } = *asked;
    let total = items.len() as u64;
    let pages = total.div_ceil(per_page).max(1);
    let mut shown: Vec<Value> =
        items.into_iter().skip(((page - 1) * per_page) as usize).take(per_page as usize).collect();
    let link_to = |target: u64| {
        let mut query: Vec<(String, String)> =
            params.iter().filter(|(k, _)| *k != "page").map(|(k, v)| (k.clone(), v.clone())).collect();
        query.push(("page".into(), target.to_string()));
        query.sort();
        let encoded: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        format!("<{address}/{site}/wp-json/wc/v3/{path}?{}>", encoded.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
    }
    if page < pages {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
    }
    let mut headers =
        vec![("x-wp-total".to_owned(), total.to_string()), ("x-wp-totalpages".to_owned(), pages.to_string())];
    if !links.is_empty() {
        headers.push(("link".to_owned(), links.join(", ")));
    }
    let body = match fault {
        Some(WooFault::HtmlPage) => {
            return (StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], "<html><body>Not the API</body></html>")
                .into_response();
        }
        Some(WooFault::Truncated) => {
            let text = Value::Array(shown).to_string();
            text[..text.len() / 2].to_owned()
        }
        Some(WooFault::NotAList) => json!({ "items": shown }).to_string(),
        Some(WooFault::WrongType) => {
            if let Some(first) = shown.first_mut() {
                for key in ["price", "total"] {
                    if first.get(key).is_some() {
                        first[key] = json!(12.5);
                    }
                }
            }
            Value::Array(shown).to_string()
        }
        None => Value::Array(shown).to_string(),
    };
    let mut response = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    for (name, value) in headers {
        response.headers_mut().insert(
            header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            header::HeaderValue::from_str(&value).expect("value"),
        );
    }
    response
}

fn product_json(p: &WooProduct) -> Value {
    let variable = !p.variations.is_empty();
    json!({
        "id": p.id, "name": p.name, "slug": p.name.to_lowercase().replace(' ', "-"), "type": if variable { "variable" } else { "simple" },
        "status": p.status, "description": format!("<p>{} for every day.</p>", p.name), "short_description": "",
        "sku": format!("W-{}", p.id), "price": if variable { String::new() } else { cents(p.price_cents) },
        "regular_price": if variable { String::new() } else { cents(p.price_cents) },
        "manage_stock": p.stock.is_some(), "stock_quantity": p.stock, "stock_status": "instock",
        "categories": [{ "id": 15, "name": p.category, "slug": p.category.to_lowercase() }],
        "date_modified": gmt(p.modified.with_timezone(&site_zone()).naive_local().and_utc()),
        "date_modified_gmt": gmt(p.modified), "date_created_gmt": gmt(p.modified),
        "variations": p.variations.iter().map(|v| v.id).collect::<Vec<_>>(),
        "meta_data": cost_meta(p.id, p.cost_cents),
    })
}

/// `meta_data` as the REST API lists custom fields: the Cost of Goods extension's cost, if set.
fn cost_meta(id: u64, cost_cents: Option<i64>) -> Value {
    json!(
        cost_cents
            .map(|c| vec![json!({ "id": id * 10 + 1, "key": "_wc_cog_cost", "value": cents(c) })])
            .unwrap_or_default()
    )
}

fn order_json(o: &WooOrder) -> Value {
    json!({
        "id": o.id, "status": o.status, "currency": "USD", "date_created_gmt": gmt(o.created),
        "date_modified_gmt": gmt(o.modified), "total": cents(o.total_cents), "customer_id": o.customer_id,
        "line_items": o.lines.iter().enumerate().map(|(i, (product, variation, quantity, total))| json!({
            "id": o.id * 100 + i as u64, "product_id": product, "variation_id": variation, "quantity": quantity,
            "total": cents(*total), "subtotal": cents(*total),
        })).collect::<Vec<_>>(),
        "refunds": refunds_of(o).iter().map(|r| json!({ "id": r["id"], "reason": "", "total": format!("-{}", r["amount"].as_str().unwrap_or_default()) }))
            .collect::<Vec<_>>(),
    })
}

/// The order's refunds as `GET /orders/{id}/refunds` lists them: each line refund naming its line, then the refund
/// of an amount.
fn refunds_of(o: &WooOrder) -> Vec<Value> {
    let line_id = |index: usize| o.id * 100 + index as u64;
    let mut refunds: Vec<Value> = o
        .refunded_lines
        .iter()
        .enumerate()
        .map(|(n, (index, units, refunded))| {
            let product = o.lines.get(*index).map_or(0, |line| line.0);
            json!({ "id": o.id * 10 + n as u64, "amount": cents(*refunded), "reason": "",
                    "line_items": [{ "id": o.id * 1000 + n as u64, "product_id": product, "quantity": -units,
                                     "total": format!("-{}", cents(*refunded)), "subtotal": format!("-{}", cents(*refunded)),
                                     "meta_data": [{ "id": 1, "key": "_refunded_item_id", "value": line_id(*index).to_string() }] }] })
        })
        .collect();
    if o.refunded_cents > 0 {
        refunds.push(json!({ "id": o.id * 10 + 9, "amount": cents(o.refunded_cents), "reason": "", "line_items": [] }));
    }
    refunds
}

/// `GET /orders/{id}/refunds`.
async fn order_refunds(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((site_name, id)): Path<(String, u64)>,
    Query(params): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let path = format!("orders/{id}/refunds");
    one_record(&inner, &site_name, &path, &params, &headers, "shop_order", |site| {
        site.orders.iter().find(|o| o.id == id).map(|order| json!(refunds_of(order)))
    })
}

/// `GET /orders/{id}`.
async fn one_order(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((site_name, id)): Path<(String, u64)>,
    Query(params): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let path = format!("orders/{id}");
    one_record(&inner, &site_name, &path, &params, &headers, "shop_order", |site| {
        site.orders.iter().find(|o| o.id == id).map(order_json)
    })
}

/// A signed `GET` of one record's `path`, recorded, answered with what `find` finds on the site, or WooCommerce's
/// `woocommerce_rest_{kind}_invalid_id` 404.
fn one_record(
    inner: &Mutex<Inner>,
    site_name: &str,
    path: &str,
    params: &HashMap<String, String>,
    headers: &axum::http::HeaderMap,
    kind: &str,
    find: impl FnOnce(&WooSite) -> Option<Value>,
) -> Response {
    let address = format!("http://{}", headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default());
    let mut inner = inner.lock().expect("lock");
    if let Err(response) = admit(&mut inner, "GET", site_name, path, params, &address) {
        return *response;
    }
    record(&mut inner, site_name, path, params, 200);
    match find(&inner.sites[site_name]) {
        Some(found) => Json(found).into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("woocommerce_rest_{kind}_invalid_id"), "Invalid ID."),
    }
}

async fn listing(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((site_name, resource)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let address = format!("http://{}", headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default());
    let mut inner = inner.lock().expect("lock");
    let (fault, per_page, page) = match admit(&mut inner, "GET", &site_name, &resource, &params, &address) {
        Ok(admitted) => admitted,
        Err(response) => {
            record(&mut inner, &site_name, &resource, &params, response.status().as_u16());
            return *response;
        }
    };
    record(&mut inner, &site_name, &resource, &params, 200);
    let since = modified_after(&params);
    let site = inner.sites.get(&site_name).expect("admitted");
    let items: Vec<Value> = match resource.as_str() {
        "products" => {
            let mut products: Vec<&WooProduct> =
                site.products.iter().filter(|p| since.is_none_or(|s| p.modified > s)).collect();
            products.sort_by_key(|p| p.id);
            products.into_iter().map(product_json).collect()
        }
        "orders" => {
            let mut orders: Vec<&WooOrder> =
                site.orders.iter().filter(|o| since.is_none_or(|s| o.modified > s)).collect();
            orders.sort_by_key(|o| o.id);
            orders.into_iter().map(order_json).collect()
        }
        "webhooks" => site.webhooks.iter().map(webhook_json).collect(),
        _ => return error(StatusCode::NOT_FOUND, "rest_no_route", "No route was found matching the URL."),
    };
    let asked = Asked { address: &address, site: &site_name, path: &resource, params: &params };
    paged(&asked, items, per_page, page, fault)
}

async fn one_product(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((site_name, id)): Path<(String, u64)>,
    Query(params): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let path = format!("products/{id}");
    one_record(&inner, &site_name, &path, &params, &headers, "product", |site| {
        site.products.iter().find(|p| p.id == id).map(product_json)
    })
}

async fn variations(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((site_name, id)): Path<(String, u64)>,
    Query(params): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let address = format!("http://{}", headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default());
    let mut inner = inner.lock().expect("lock");
    let path = format!("products/{id}/variations");
    let (fault, per_page, page) = match admit(&mut inner, "GET", &site_name, &path, &params, &address) {
        Ok(admitted) => admitted,
        Err(response) => return *response,
    };
    record(&mut inner, &site_name, &path, &params, 200);
    let Some(product) = inner.sites[&site_name].products.iter().find(|p| p.id == id) else {
        return error(StatusCode::NOT_FOUND, "woocommerce_rest_product_invalid_id", "Invalid ID.");
    };
    let items: Vec<Value> = product
        .variations
        .iter()
        .map(|v| {
            json!({ "id": v.id, "sku": format!("W-{}-{}", id, v.id), "price": cents(v.price_cents),
                    "regular_price": cents(v.price_cents), "stock_quantity": v.stock, "manage_stock": true,
                    "attributes": [{ "id": 1, "name": "Size", "option": v.option }],
                    "meta_data": cost_meta(v.id, v.cost_cents), "date_modified_gmt": gmt(product.modified) })
        })
        .collect();
    let asked = Asked { address: &address, site: &site_name, path: &path, params: &params };
    paged(&asked, items, per_page, page, fault)
}

fn webhook_json(w: &WooWebhook) -> Value {
    let (resource, event) = w.topic.split_once('.').unwrap_or_default();
    json!({ "id": w.id, "name": format!("Webhook {}", w.id), "status": "active", "topic": w.topic,
            "resource": resource, "event": event, "delivery_url": w.delivery_url, "secret": w.secret })
}

const WEBHOOK_TOPICS: &[&str] = &[
    "product.created",
    "product.updated",
    "product.deleted",
    "product.restored",
    "order.created",
    "order.updated",
    "order.deleted",
    "order.restored",
    "customer.created",
    "coupon.created",
];

/// `POST /webhooks`: creates it, then pings its delivery URL as WooCommerce does (outside the lock).
async fn create_webhook(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((site_name, resource)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let address = format!("http://{}", headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default());
    let (webhook, active) = {
        let mut inner = inner.lock().expect("lock");
        if resource != "webhooks" {
            return error(
                StatusCode::NOT_FOUND,
                "rest_no_route",
                "No route was found matching the URL and request method.",
            );
        }
        if let Err(response) = admit(&mut inner, "POST", &site_name, &resource, &params, &address) {
            record(&mut inner, &site_name, "POST webhooks", &params, response.status().as_u16());
            return *response;
        }
        let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let (topic, delivery_url) = (field("topic"), field("delivery_url"));
        if !WEBHOOK_TOPICS.contains(&topic.as_str()) {
            return error(StatusCode::BAD_REQUEST, "rest_invalid_param", "Invalid parameter(s): topic");
        }
        if reqwest::Url::parse(&delivery_url).is_err() {
            return error(StatusCode::BAD_REQUEST, "rest_invalid_param", "Invalid parameter(s): delivery_url");
        }
        record(&mut inner, &site_name, "POST webhooks", &params, 201);
        inner.next_id += 1;
        let webhook = WooWebhook { id: inner.next_id, topic, delivery_url, secret: field("secret"), ping_status: None };
        inner.sites.get_mut(&site_name).expect("admitted").webhooks.push(webhook.clone());
        (webhook, body.get("status").and_then(Value::as_str).is_none_or(|status| status == "active"))
    };
    let ping = if active {
        reqwest::Client::new()
            .post(&webhook.delivery_url)
            .header(header::CONTENT_TYPE.as_str(), "application/x-www-form-urlencoded")
            .body(format!("webhook_id={}", webhook.id))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok()
    } else {
        None
    };
    let mut inner = inner.lock().expect("lock");
    if let Some(stored) =
        inner.sites.get_mut(&site_name).and_then(|site| site.webhooks.iter_mut().find(|w| w.id == webhook.id))
    {
        stored.ping_status = ping;
    }
    (StatusCode::CREATED, Json(webhook_json(&webhook))).into_response()
}

/// `DELETE /webhooks/{id}?force=true`.
async fn delete_webhook(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((site_name, id)): Path<(String, u64)>,
    Query(params): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let address = format!("http://{}", headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default());
    let mut inner = inner.lock().expect("lock");
    let path = format!("webhooks/{id}");
    if let Err(response) = admit(&mut inner, "DELETE", &site_name, &path, &params, &address) {
        return *response;
    }
    record(&mut inner, &site_name, &format!("DELETE {path}"), &params, 200);
    if params.get("force").map(String::as_str) != Some("true") {
        return error(
            StatusCode::NOT_IMPLEMENTED,
            "woocommerce_rest_trash_not_supported",
            "Webhooks do not support trashing.",
        );
    }
    let webhooks = &mut inner.sites.get_mut(&site_name).expect("admitted").webhooks;
    match webhooks.iter().position(|w| w.id == id) {
        Some(index) => Json(webhook_json(&webhooks.remove(index))).into_response(),
        None => error(StatusCode::NOT_FOUND, "woocommerce_rest_webhook_invalid_id", "Invalid ID."),
    }
}

/// The key-approval page, approving at once (see the module documentation).
async fn authorize(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(site_name): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let mut approval = Approval { site: site_name.clone(), params: params.clone(), callback_status: None };
    let refuse = |inner: &Arc<Mutex<Inner>>, approval: Approval, message: &str| {
        inner.lock().expect("lock").approvals.push(approval);
        (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "text/html")], format!("<p>Error: {message}</p>"))
            .into_response()
    };
    let scope = param("scope");
    if !["read", "write", "read_write"].contains(&scope.as_str()) {
        return refuse(&inner, approval, "Invalid scope");
    }
    if param("app_name").is_empty() || param("user_id").is_empty() {
        return refuse(&inner, approval, "Missing parameter");
    }
    let (Ok(callback), Ok(mut back)) =
        (reqwest::Url::parse(&param("callback_url")), reqwest::Url::parse(&param("return_url")))
    else {
        return refuse(&inner, approval, "Invalid URL");
    };
    let loopback = callback.host_str().is_some_and(|host| host == "127.0.0.1" || host == "localhost");
    if callback.scheme() != "https" && !loopback {
        return refuse(&inner, approval, "The callback_url needs to be over SSL");
    }
    // WooCommerce creates the keys, posts them, and deletes them again when the callback does not answer 200.
    let (key, secret) =
        (format!("ck_{}", uuid::Uuid::new_v4().simple()), format!("cs_{}", uuid::Uuid::new_v4().simple()));
    let (key_id, previous) = {
        let mut inner = inner.lock().expect("lock");
        inner.next_id += 1;
        let key_id = inner.next_id;
        let Some(site) = inner.sites.get_mut(&site_name) else {
            return (StatusCode::NOT_FOUND, "no such site").into_response();
        };
        let previous = (site.consumer_key.clone(), site.consumer_secret.clone(), site.key_permissions.clone());
        (site.consumer_key, site.consumer_secret, site.key_permissions) = (key.clone(), secret.clone(), scope.clone());
        (key_id, previous)
    };
    let consumer_data = json!({ "key_id": key_id, "user_id": param("user_id"), "consumer_key": key,
                                "consumer_secret": secret, "key_permissions": scope });
    let answered = reqwest::Client::new().post(callback).json(&consumer_data).send().await.map(|r| r.status().as_u16());
    approval.callback_status = answered.ok();
    if approval.callback_status != Some(200) {
        if let Some(site) = inner.lock().expect("lock").sites.get_mut(&site_name) {
            (site.consumer_key, site.consumer_secret, site.key_permissions) = previous;
        }
        return refuse(
            &inner,
            approval,
            "An error occurred in the request and at the time were unable to send the consumer data",
        );
    }
    inner.lock().expect("lock").approvals.push(approval);
    back.query_pairs_mut().append_pair("success", "1").append_pair("user_id", &param("user_id"));
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}
