//! A Shopify GraphQL Admin API fake: `POST /{shop}/admin/api/{version}/graphql.json` (point
//! `SHOPIFY_ADMIN_URL_TEMPLATE` at `{address}/{shop}/admin/api/{version}/graphql.json`) and the token endpoint
//! `POST /{shop}/admin/oauth/access_token`.
//!
//! What it holds to, as the real API documents it: `X-Shopify-Access-Token` checked (401 otherwise); cursor
//! pagination sorted by `UPDATED_AT` with opaque cursors and `pageInfo`; `first` at most 250; the documented
//! quoted-date search syntax (`updated_at:>'…'`, anything else is refused so a client bug shows); nested variant and
//! line-item connections with their own cursors; the calculated query cost (scalars 0, objects 1, connections 2 +
//! `first` × node) charged up front, refunded down to the actual cost, refused above 1,000 (`MAX_COST_EXCEEDED`);
//! a leaky bucket whose state comes back in `extensions.cost.throttleStatus` and which answers `THROTTLED` when the
//! requested cost exceeds what it holds. Faults are injected on demand: forced `THROTTLED` answers with HTTP 200 or
//! 429 (`Retry-After`), intermittent 5xx HTML pages, and malformed bodies for the next query of a kind.

use std::{
    collections::{HashMap, VecDeque},
    net::Ipv4Addr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// A product in the fake shop.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeProduct {
    /// Numeric id (`gid://shopify/Product/{id}`).
    pub id: u64,
    /// Title.
    pub title: String,
    /// Plain-text description.
    pub description: String,
    /// Vendor.
    pub vendor: String,
    /// Product type.
    pub product_type: String,
    /// `ACTIVE`, `DRAFT` or `ARCHIVED`.
    pub status: &'static str,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Variants.
    pub variants: Vec<FakeVariant>,
}

/// A variant (its inventory item has the same numeric id).
#[derive(Debug, Clone, PartialEq)]
pub struct FakeVariant {
    /// Numeric id (`gid://shopify/ProductVariant/{id}`, `gid://shopify/InventoryItem/{id}`).
    pub id: u64,
    /// SKU.
    pub sku: String,
    /// Title.
    pub title: String,
    /// Price in cents.
    pub price_cents: i64,
    /// Units available.
    pub inventory: i64,
    /// Its inventory item's `unitCost` in cents; `None` is `null` (no cost entered).
    pub unit_cost_cents: Option<i64>,
}

/// An order.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeOrder {
    /// Numeric id.
    pub id: u64,
    /// Placed.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Cancelled.
    pub cancelled: bool,
    /// `PAID`, `PENDING`, `REFUNDED`, …
    pub financial_status: &'static str,
    /// `FULFILLED`, `UNFULFILLED`, …
    pub fulfillment_status: &'static str,
    /// Total in cents.
    pub total_cents: i64,
    /// Lines.
    pub lines: Vec<FakeLine>,
}

/// An order line.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeLine {
    /// Numeric id.
    pub id: u64,
    /// The product, unless deleted.
    pub product_id: Option<u64>,
    /// The variant, unless deleted.
    pub variant_id: Option<u64>,
    /// Units.
    pub quantity: i64,
    /// Total after line discounts, cents.
    pub total_cents: i64,
}

/// Tunables of the fake.
#[derive(Debug, Clone)]
pub struct ShopifyConfig {
    /// The only API version served.
    pub api_version: String,
    /// Bucket size (`maximumAvailable`).
    pub bucket_size: f64,
    /// Points restored per second.
    pub restore_rate: f64,
    /// Every n-th query answers `THROTTLED` regardless of the bucket, alternating HTTP 200 and 429, and drains the
    /// bucket so the client must wait; 429s carry `Retry-After: {retry_after}`.
    pub force_throttle_every: Option<u64>,
    /// `Retry-After` seconds on forced 429s.
    pub retry_after: f64,
    /// Every n-th request answers 503 with an HTML page.
    pub fail_every: Option<u64>,
    /// Added to every answer.
    pub latency: Duration,
}

impl Default for ShopifyConfig {
    fn default() -> Self {
        Self {
            api_version: "2026-10".into(),
            bucket_size: 1000.0,
            restore_rate: 100_000.0,
            force_throttle_every: None,
            retry_after: 0.05,
            fail_every: None,
            latency: Duration::ZERO,
        }
    }
}

/// A broken answer for the next query of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The JSON cut in half.
    Truncated,
    /// An HTML error page with status 200.
    HtmlPage,
    /// `pageInfo` missing from the connection.
    MissingPageInfo,
    /// A price as a number instead of a decimal string.
    WrongType,
    /// A price that is not money.
    BadPrice,
    /// HTTP 500 with an HTML page.
    ServerError,
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// The shop.
    pub shop: String,
    /// `SyncProducts`, `SyncOrders`, `ProductVariants`, `OrderLineItems`, `RefreshProducts`, `VerifyShop`, `token`,
    /// or `?`.
    pub operation: String,
    /// `variables.after`.
    pub after: Option<String>,
    /// `variables.first`.
    pub first: Option<u64>,
    /// `variables.query`.
    pub query: Option<String>,
    /// The requested query cost, by Shopify's rules.
    pub requested: Option<u64>,
    /// HTTP status answered.
    pub status: u16,
    /// Answered `THROTTLED` (forced or because the bucket was short).
    pub throttled: bool,
    /// Throttled because the client asked for more than the bucket held (it did not wait long enough).
    pub premature: bool,
    /// When it arrived.
    pub at: Instant,
}

/// One shop's data and credentials.
#[derive(Debug, Default)]
pub struct FakeShop {
    /// Products.
    pub products: Vec<FakeProduct>,
    /// Orders.
    pub orders: Vec<FakeOrder>,
    /// The valid access token.
    pub access_token: String,
    /// The valid refresh token (expiring-token shops).
    pub refresh_token: Option<String>,
    /// Token refreshes served.
    pub refreshes: u32,
}

#[derive(Debug)]
struct Inner {
    config: ShopifyConfig,
    shops: HashMap<String, FakeShop>,
    /// Bucket level and when it was last computed, per shop.
    buckets: HashMap<String, (f64, Instant)>,
    faults: VecDeque<(String, Fault)>,
    requests: Vec<RequestRecord>,
    counter: u64,
    client: Option<(String, String)>,
}

/// A running fake.
#[derive(Clone)]
pub struct FakeShopify {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeShopify {
    /// Starts the fake on a loopback port.
    pub async fn start(config: ShopifyConfig) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            config,
            shops: HashMap::new(),
            buckets: HashMap::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            counter: 0,
            client: None,
        }));
        let router = Router::new()
            .route("/{shop}/admin/api/{version}/graphql.json", post(graphql))
            .route("/{shop}/admin/oauth/access_token", post(token))
            .with_state(inner.clone());
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { address, inner }
    }

    /// The value for `SHOPIFY_ADMIN_URL_TEMPLATE`.
    pub fn admin_url_template(&self) -> String {
        format!("{}/{{shop}}/admin/api/{{version}}/graphql.json", self.address)
    }

    /// The value for `SHOPIFY_TOKEN_URL_TEMPLATE`.
    pub fn token_url_template(&self) -> String {
        format!("{}/{{shop}}/admin/oauth/access_token", self.address)
    }

    /// Adds (or replaces) a shop.
    pub fn add_shop(&self, domain: &str, shop: FakeShop) {
        self.inner.lock().expect("lock").shops.insert(domain.to_owned(), shop);
    }

    /// Changes a shop's data.
    pub fn with_shop<T>(&self, domain: &str, change: impl FnOnce(&mut FakeShop) -> T) -> T {
        change(self.inner.lock().expect("lock").shops.get_mut(domain).expect("known shop"))
    }

    /// Changes the configuration.
    pub fn configure(&self, change: impl FnOnce(&mut ShopifyConfig)) {
        change(&mut self.inner.lock().expect("lock").config);
    }

    /// The app credentials the token endpoint accepts.
    pub fn set_client(&self, id: &str, secret: &str) {
        self.inner.lock().expect("lock").client = Some((id.to_owned(), secret.to_owned()));
    }

    /// Breaks the next query of `operation`.
    pub fn push_fault(&self, operation: &str, fault: Fault) {
        self.inner.lock().expect("lock").faults.push_back((operation.to_owned(), fault));
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.inner.lock().expect("lock").requests.clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.inner.lock().expect("lock").requests.clear();
    }
}

/// `gid://shopify/{kind}/{id}`.
pub fn gid(kind: &str, id: u64) -> String {
    format!("gid://shopify/{kind}/{id}")
}

fn numeric(gid: &str, kind: &str) -> Option<u64> {
    gid.strip_prefix(&format!("gid://shopify/{kind}/"))?.parse().ok()
}

/// Cents as Shopify's decimal string.
pub fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

fn cursor(updated_at: DateTime<Utc>, id: u64) -> String {
    STANDARD.encode(format!("{}:{id}", updated_at.timestamp_micros()))
}

fn read_cursor(cursor: &str) -> Option<(i64, u64)> {
    let text = String::from_utf8(STANDARD.decode(cursor).ok()?).ok()?;
    let (at, id) = text.split_once(':')?;
    Some((at.parse().ok()?, id.parse().ok()?))
}

fn index_cursor(index: usize) -> String {
    STANDARD.encode(format!("i:{index}"))
}

fn read_index_cursor(cursor: &str) -> Option<usize> {
    String::from_utf8(STANDARD.decode(cursor).ok()?).ok()?.strip_prefix("i:")?.parse().ok()
}

/// The documented search syntax: `updated_at:>'<RFC 3339>'`.
fn parse_search(query: &str) -> Result<DateTime<Utc>, String> {
    let date = query
        .strip_prefix("updated_at:>'")
        .and_then(|rest| rest.strip_suffix('\''))
        .ok_or_else(|| format!("unsupported search `{query}` (dates must be quoted)"))?;
    DateTime::parse_from_rfc3339(date).map(|d| d.with_timezone(&Utc)).map_err(|e| format!("bad date `{date}`: {e}"))
}

fn operation_of(query: &str) -> String {
    ["SyncProducts", "SyncOrders", "ProductVariants", "OrderLineItems", "RefreshProducts", "VerifyShop"]
        .into_iter()
        .find(|name| query.contains(&format!("query {name}(")) || query.contains(&format!("query {name} {{")))
        .unwrap_or("?")
        .to_owned()
}

fn first_of(variables: &Value, name: &str) -> Result<u64, String> {
    let first = variables.get(name).and_then(Value::as_u64).ok_or_else(|| format!("${name} is required"))?;
    if !(1..=250).contains(&first) {
        return Err(format!("${name} must be between 1 and 250"));
    }
    Ok(first)
}

/// A variant node's cost: the variant, its `inventoryItem` and that item's `unitCost`, objects of 1 each.
const VARIANT_NODE: u64 = 3;

/// Requested cost by Shopify's rules (scalars 0, objects 1, connections 2 + first × node).
fn requested_cost(operation: &str, variables: &Value) -> Result<u64, String> {
    Ok(match operation {
        "SyncProducts" => {
            let (first, variants) = (first_of(variables, "first")?, first_of(variables, "variantsFirst")?);
            2 + first * (1 + 2 + variants * VARIANT_NODE)
        }
        "SyncOrders" => {
            let (first, lines) = (first_of(variables, "first")?, first_of(variables, "linesFirst")?);
            2 + first * (1 + 2 + 2 + lines * 5)
        }
        "ProductVariants" => 1 + 2 + first_of(variables, "first")? * VARIANT_NODE,
        "OrderLineItems" => 1 + 2 + first_of(variables, "first")? * 5,
        "RefreshProducts" => {
            let ids = variables.get("ids").and_then(Value::as_array).map_or(0, Vec::len) as u64;
            ids * (3 + 1 + 2 + first_of(variables, "variantsFirst")? * VARIANT_NODE)
        }
        "VerifyShop" => 1,
        _ => return Err("unknown operation".into()),
    })
}

fn variant_json(v: &FakeVariant) -> Value {
    json!({ "id": gid("ProductVariant", v.id), "sku": v.sku, "title": v.title, "price": money(v.price_cents),
            "inventoryQuantity": v.inventory,
            "inventoryItem": { "unitCost": v.unit_cost_cents.map(|c| json!({ "amount": money(c), "currencyCode": "USD" })) } })
}

fn product_json(p: &FakeProduct, variants_first: usize) -> (Value, u64) {
    let shown: Vec<Value> = p.variants.iter().take(variants_first).map(variant_json).collect();
    let more = p.variants.len() > variants_first;
    let actual = 1 + 2 + shown.len() as u64 * VARIANT_NODE;
    let value = json!({
        "id": gid("Product", p.id), "title": p.title, "description": p.description, "vendor": p.vendor,
        "productType": p.product_type, "status": p.status, "updatedAt": p.updated_at.to_rfc3339(),
        "variants": { "pageInfo": { "hasNextPage": more, "endCursor": (!shown.is_empty()).then(|| index_cursor(shown.len())) },
                      "nodes": shown },
    });
    (value, actual)
}

fn line_json(line: &FakeLine) -> Value {
    json!({ "id": gid("LineItem", line.id), "quantity": line.quantity,
            "product": line.product_id.map(|id| json!({ "id": gid("Product", id) })),
            "variant": line.variant_id.map(|id| json!({ "id": gid("ProductVariant", id) })),
            "discountedTotalSet": { "shopMoney": { "amount": money(line.total_cents), "currencyCode": "USD" } } })
}

fn order_json(o: &FakeOrder, lines_first: usize) -> (Value, u64) {
    let shown: Vec<Value> = o.lines.iter().take(lines_first).map(line_json).collect();
    let more = o.lines.len() > lines_first;
    let actual = 1 + 2 + 2 + shown.len() as u64 * 5;
    let value = json!({
        "id": gid("Order", o.id), "createdAt": o.created_at.to_rfc3339(), "processedAt": o.created_at.to_rfc3339(),
        "updatedAt": o.updated_at.to_rfc3339(), "cancelledAt": o.cancelled.then(|| o.updated_at.to_rfc3339()),
        "displayFinancialStatus": o.financial_status, "displayFulfillmentStatus": o.fulfillment_status,
        "totalPriceSet": { "shopMoney": { "amount": money(o.total_cents), "currencyCode": "USD" } },
        "lineItems": { "pageInfo": { "hasNextPage": more, "endCursor": (!shown.is_empty()).then(|| index_cursor(shown.len())) },
                       "nodes": shown },
    });
    (value, actual)
}

/// Records (sorted by (updated_at, id), see [`sort_shop`]) after `after`, updated since `since`.
fn window<T>(
    items: &[T],
    key: impl Fn(&T) -> (DateTime<Utc>, u64),
    since: Option<DateTime<Utc>>,
    after: Option<(i64, u64)>,
) -> &[T] {
    let micros = |item: &T| {
        let (at, id) = key(item);
        (at.timestamp_micros(), id)
    };
    let from_since = since.map_or(0, |s| items.partition_point(|item| key(item).0 <= s));
    let from_cursor = after.map_or(0, |cursor| items.partition_point(|item| micros(item) <= cursor));
    &items[from_since.max(from_cursor)..]
}

/// Keeps a shop's records in listing order (cheap when they already are), so pages are slices.
fn sort_shop(shop: &mut FakeShop) {
    let product_key = |p: &FakeProduct| (p.updated_at, p.id);
    if !shop.products.is_sorted_by_key(product_key) {
        shop.products.sort_by_key(product_key);
    }
    let order_key = |o: &FakeOrder| (o.updated_at, o.id);
    if !shop.orders.is_sorted_by_key(order_key) {
        shop.orders.sort_by_key(order_key);
    }
}

/// Answers one query's `data` and its actual cost.
fn resolve(domain: &str, shop: &FakeShop, operation: &str, variables: &Value) -> Result<(Value, u64), String> {
    let after = variables.get("after").and_then(Value::as_str);
    let since = match variables.get("query").and_then(Value::as_str) {
        Some(query) => Some(parse_search(query)?),
        None => None,
    };
    match operation {
        "SyncProducts" | "SyncOrders" => {
            let first = first_of(variables, "first")? as usize;
            let after = match after {
                Some(text) => Some(read_cursor(text).ok_or("invalid cursor")?),
                None => None,
            };
            let (nodes, last_key, more, actual) = if operation == "SyncProducts" {
                let nested = first_of(variables, "variantsFirst")? as usize;
                let all = window(&shop.products, |p| (p.updated_at, p.id), since, after);
                let page: Vec<&FakeProduct> = all.iter().take(first).collect();
                let mut actual = 2;
                let nodes: Vec<Value> = page
                    .iter()
                    .map(|p| {
                        let (value, cost) = product_json(p, nested);
                        actual += cost;
                        value
                    })
                    .collect();
                (nodes, page.last().map(|p| cursor(p.updated_at, p.id)), all.len() > first, actual)
            } else {
                let nested = first_of(variables, "linesFirst")? as usize;
                let all = window(&shop.orders, |o| (o.updated_at, o.id), since, after);
                let page: Vec<&FakeOrder> = all.iter().take(first).collect();
                let mut actual = 2;
                let nodes: Vec<Value> = page
                    .iter()
                    .map(|o| {
                        let (value, cost) = order_json(o, nested);
                        actual += cost;
                        value
                    })
                    .collect();
                (nodes, page.last().map(|o| cursor(o.updated_at, o.id)), all.len() > first, actual)
            };
            let field = if operation == "SyncProducts" { "products" } else { "orders" };
            let data = json!({ field: { "pageInfo": { "hasNextPage": more, "endCursor": last_key }, "nodes": nodes } });
            Ok((data, actual))
        }
        "ProductVariants" | "OrderLineItems" => {
            let first = first_of(variables, "first")? as usize;
            let id = variables.get("id").and_then(Value::as_str).ok_or("$id is required")?;
            let start = match after {
                Some(text) => read_index_cursor(text).ok_or("invalid cursor")?,
                None => 0,
            };
            let (field, inner, nodes, total) = if operation == "ProductVariants" {
                let Some(product) = numeric(id, "Product").and_then(|n| shop.products.iter().find(|p| p.id == n))
                else {
                    return Ok((json!({ "product": null }), 1));
                };
                let nodes: Vec<Value> = product.variants.iter().skip(start).take(first).map(variant_json).collect();
                ("product", "variants", nodes, product.variants.len())
            } else {
                let Some(order) = numeric(id, "Order").and_then(|n| shop.orders.iter().find(|o| o.id == n)) else {
                    return Ok((json!({ "order": null }), 1));
                };
                let nodes: Vec<Value> = order.lines.iter().skip(start).take(first).map(line_json).collect();
                ("order", "lineItems", nodes, order.lines.len())
            };
            let end = start + nodes.len();
            let per_node = if operation == "ProductVariants" { VARIANT_NODE } else { 5 };
            let actual = 1 + 2 + nodes.len() as u64 * per_node;
            let data = json!({ field: { inner: {
                "pageInfo": { "hasNextPage": end < total, "endCursor": (!nodes.is_empty()).then(|| index_cursor(end)) },
                "nodes": nodes } } });
            Ok((data, actual))
        }
        "RefreshProducts" => {
            let nested = first_of(variables, "variantsFirst")? as usize;
            let ids = variables.get("ids").and_then(Value::as_array).ok_or("$ids is required")?;
            let mut actual = 0;
            let nodes: Vec<Value> = ids
                .iter()
                .map(|id| {
                    let id = id.as_str().unwrap_or_default();
                    if let Some(product) = numeric(id, "Product").and_then(|n| shop.products.iter().find(|p| p.id == n))
                    {
                        let (mut value, cost) = product_json(product, nested);
                        value["__typename"] = json!("Product");
                        actual += cost;
                        value
                    } else if let Some(product) = numeric(id, "InventoryItem")
                        .and_then(|n| shop.products.iter().find(|p| p.variants.iter().any(|v| v.id == n)))
                    {
                        let (value, cost) = product_json(product, nested);
                        actual += cost + 2;
                        json!({ "__typename": "InventoryItem", "variant": { "product": value } })
                    } else {
                        Value::Null
                    }
                })
                .collect();
            Ok((json!({ "nodes": nodes }), actual))
        }
        "VerifyShop" => Ok((json!({ "shop": { "myshopifyDomain": domain } }), 1)),
        _ => Err("unknown operation".into()),
    }
}

fn html(status: StatusCode) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html")], "<!DOCTYPE html><html><body><h1>Oops</h1></body></html>")
        .into_response()
}

async fn graphql(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((shop_domain, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let latency = inner.lock().expect("lock").config.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut inner = inner.lock().expect("lock");
    let inner = &mut *inner;
    inner.counter += 1;
    let count = inner.counter;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let query = request.get("query").and_then(Value::as_str).unwrap_or_default();
    let variables = request.get("variables").cloned().unwrap_or(Value::Null);
    let operation = operation_of(query);
    let mut record = RequestRecord {
        shop: shop_domain.clone(),
        operation: operation.clone(),
        after: variables.get("after").and_then(Value::as_str).map(str::to_owned),
        first: variables.get("first").and_then(Value::as_u64),
        query: variables.get("query").and_then(Value::as_str).map(str::to_owned),
        requested: requested_cost(&operation, &variables).ok(),
        status: 200,
        throttled: false,
        premature: false,
        at: Instant::now(),
    };
    let config = inner.config.clone();
    let response = 'answer: {
        if version != config.api_version {
            record.status = 404;
            break 'answer (StatusCode::NOT_FOUND, Json(json!({ "errors": "Not Found" }))).into_response();
        }
        let Some(shop) = inner.shops.get_mut(&shop_domain) else {
            record.status = 404;
            break 'answer (StatusCode::NOT_FOUND, Json(json!({ "errors": "Not Found" }))).into_response();
        };
        let token = headers.get("x-shopify-access-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if token != shop.access_token {
            record.status = 401;
            let body =
                json!({ "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)" });
            break 'answer (StatusCode::UNAUTHORIZED, Json(body)).into_response();
        }
        if config.fail_every.is_some_and(|n| count % n == 0) {
            record.status = 503;
            break 'answer html(StatusCode::SERVICE_UNAVAILABLE);
        }
        let requested = match requested_cost(&operation, &variables) {
            Ok(cost) => cost,
            Err(message) => {
                break 'answer Json(json!({ "errors": [{ "message": message }] })).into_response();
            }
        };
        if requested > 1000 {
            let body = json!({ "errors": [{ "message": format!("Query cost is {requested}, which exceeds the single query max cost limit (1000)."),
                "extensions": { "code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": 1000 } }] });
            break 'answer Json(body).into_response();
        }
        // The bucket refills continuously.
        let now = Instant::now();
        let (level, last) = inner.buckets.get(&shop_domain).copied().unwrap_or((config.bucket_size, now));
        let mut available =
            (level + config.restore_rate * now.duration_since(last).as_secs_f64()).min(config.bucket_size);
        let forced = config.force_throttle_every.is_some_and(|n| count % n == 0);
        if forced || requested as f64 > available {
            record.throttled = true;
            record.premature = !forced;
            if forced {
                // Leave the bucket short of this query, so the client must wait for the restore.
                available = (requested as f64 - config.restore_rate * 0.02).max(0.0).min(available);
            }
            inner.buckets.insert(shop_domain.clone(), (available, now));
            let body = json!({
                "errors": [{ "message": "Throttled", "extensions": { "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits" } }],
                "extensions": { "cost": { "requestedQueryCost": requested, "actualQueryCost": null,
                    "throttleStatus": { "maximumAvailable": config.bucket_size, "currentlyAvailable": available.floor(),
                        "restoreRate": config.restore_rate } } },
            });
            let as_429 = forced && (count / config.force_throttle_every.unwrap_or(1)) % 2 == 0;
            if as_429 {
                record.status = 429;
                break 'answer (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, config.retry_after.to_string())],
                    Json(body),
                )
                    .into_response();
            }
            break 'answer Json(body).into_response();
        }
        let fault = inner.faults.iter().position(|(op, _)| *op == operation).and_then(|i| inner.faults.remove(i));
        sort_shop(shop);
        let (mut data, actual) = match resolve(&shop_domain, shop, &operation, &variables) {
            Ok(answer) => answer,
            Err(message) => {
                break 'answer Json(json!({ "errors": [{ "message": message }] })).into_response();
            }
        };
        let actual = actual.min(requested);
        available -= actual as f64;
        inner.buckets.insert(shop_domain.clone(), (available, now));
        let extensions = json!({ "cost": { "requestedQueryCost": requested, "actualQueryCost": actual,
            "throttleStatus": { "maximumAvailable": config.bucket_size, "currentlyAvailable": available.floor(),
                "restoreRate": config.restore_rate } } });
        match fault.map(|(_, fault)| fault) {
            Some(Fault::HtmlPage) => break 'answer html(StatusCode::OK),
            Some(Fault::ServerError) => {
                record.status = 500;
                break 'answer html(StatusCode::INTERNAL_SERVER_ERROR);
            }
            Some(Fault::Truncated) => {
                let text = json!({ "data": data, "extensions": extensions }).to_string();
                break 'answer ([(header::CONTENT_TYPE, "application/json")], text[..text.len() / 2].to_owned())
                    .into_response();
            }
            Some(Fault::MissingPageInfo) => {
                if let Some(connection) = data.as_object_mut().and_then(|o| o.values_mut().next()) {
                    connection.as_object_mut().map(|c| c.remove("pageInfo"));
                }
            }
            Some(Fault::WrongType) => {
                if let Some(price) = data.pointer_mut("/products/nodes/0/variants/nodes/0/price") {
                    *price = json!(19.99);
                }
                if let Some(amount) = data.pointer_mut("/orders/nodes/0/totalPriceSet/shopMoney/amount") {
                    *amount = json!(19.99);
                }
            }
            Some(Fault::BadPrice) => {
                if let Some(price) = data.pointer_mut("/products/nodes/0/variants/nodes/0/price") {
                    *price = json!("twelve");
                }
                if let Some(amount) = data.pointer_mut("/orders/nodes/0/totalPriceSet/shopMoney/amount") {
                    *amount = json!("twelve");
                }
            }
            None => {}
        }
        Json(json!({ "data": data, "extensions": extensions })).into_response()
    };
    inner.requests.push(record);
    response
}

async fn token(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(shop_domain): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut inner = inner.lock().expect("lock");
    let inner = &mut *inner;
    inner.requests.push(RequestRecord {
        shop: shop_domain.clone(),
        operation: "token".into(),
        after: None,
        first: None,
        query: None,
        requested: None,
        status: 200,
        throttled: false,
        premature: false,
        at: Instant::now(),
    });
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let client_ok = inner
        .client
        .as_ref()
        .is_some_and(|(id, secret)| *id == field("client_id") && *secret == field("client_secret"));
    let Some(shop) = inner.shops.get_mut(&shop_domain) else { return StatusCode::NOT_FOUND.into_response() };
    let grant_ok = field("grant_type") == "refresh_token"
        && shop.refresh_token.as_deref() == Some(field("refresh_token").as_str());
    if !client_ok || !grant_ok {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": "invalid_grant" }))).into_response();
    }
    shop.refreshes += 1;
    shop.access_token = format!("shpat_refreshed_{}", shop.refreshes);
    let refresh = format!("shprt_refreshed_{}", shop.refreshes);
    shop.refresh_token = Some(refresh.clone());
    Json(json!({ "access_token": shop.access_token, "expires_in": 3600, "refresh_token": refresh,
                 "refresh_token_expires_in": 7_776_000, "scope": "read_products,read_orders,read_inventory" }))
    .into_response()
}
