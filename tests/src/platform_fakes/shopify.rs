//! A Shopify GraphQL Admin API fake: `POST /{shop}/admin/api/{version}/graphql.json` (point
//! `SHOPIFY_ADMIN_URL_TEMPLATE` at `{address}/{shop}/admin/api/{version}/graphql.json`), the token endpoint
//! `POST /{shop}/admin/oauth/access_token` (refresh and authorization-code grants) and the install approval page
//! `GET /{shop}/admin/oauth/authorize`.
//!
//! The approval page stands for a merchant who approves at once: for the app's client id it issues a single-use
//! code and redirects to `redirect_uri` with `code`, `hmac`, `host`, `shop`, `state` and `timestamp`, the `hmac`
//! being hex HMAC-SHA256 with the client secret over the other parameters sorted, as Shopify documents it. The code
//! exchange answers an expiring offline token (`expiring=1`: `expires_in`, `refresh_token`) or a lasting one, with
//! the scopes asked for less the shop's withheld ones.
//! Webhook subscriptions are kept per shop: `webhookSubscriptions` pages them, `webhookSubscriptionCreate` refuses
//! a second subscription of one topic to one address with the documented user error, `webhookSubscriptionDelete`
//! removes one; mutations cost 10 points.
//!
//! Bulk operations: `bulkOperationRunQuery` (10 points) takes a products or orders query (connections without
//! `first`, `edges { node }` as the documentation writes them, an optional `query:` search), snapshots the shop's
//! records and answers the operation `CREATED`; at most 5 bulk queries run per shop at once (API 2026-01 and
//! later; a sixth answers a user error); `bulkOperation(id:)` (1 point) answers `RUNNING` until [`ShopifyConfig::bulk_run_time`]
//! has passed, then `COMPLETED` with `objectCount` and a `url` to the JSONL result (`GET /bulk/{shop}/{n}`, no
//! token, as a signed storage URL needs none): one object per line, each child after its parent with `__parentId`.
//! [`FakeShop::fail_next_bulk`] makes operations end `FAILED` with `errorCode` and a `partialDataUrl` instead, and
//! [`FakeBulkOperation::expired`] one `EXPIRED`, its result gone.
//!
//! What it holds to, as the real API documents it: `X-Shopify-Access-Token` checked (401 otherwise); cursor
//! pagination sorted by `UPDATED_AT` with opaque cursors and `pageInfo`; `first` at most 250; the documented
//! quoted-date search syntax (`updated_at:>'…'`, anything else is refused so a client bug shows); nested variant and
//! line-item connections with their own cursors; the calculated query cost of the document sent, by Shopify's rules
//! ([`super::shopify_cost`]: scalars 0, objects 1, connections 2 + `first` × node, interfaces at their dearest,
//! mutations 10) charged up front, refunded down to the actual cost, refused above 1,000 (`MAX_COST_EXCEEDED`);
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
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpListener;

use super::shopify_cost::requested_cost;

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
    /// The customer's numeric id; `None` for a guest checkout.
    pub customer: Option<u64>,
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
    /// Units refunded (or removed by an edit): `currentQuantity` is `quantity` less these.
    pub refunded: i64,
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
    /// How long a bulk operation runs before it completes.
    pub bulk_run_time: Duration,
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
            bulk_run_time: Duration::ZERO,
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
    /// The app's webhook subscriptions.
    pub subscriptions: Vec<FakeSubscription>,
    /// Tokens issued by code exchanges.
    pub installs: u32,
    /// Scopes an install asks for that are not granted (`read_all_orders` before Shopify approves it).
    pub withheld_scopes: Vec<String>,
    /// Bulk operations run so far, oldest first.
    pub bulk_operations: Vec<FakeBulkOperation>,
    /// How many of the next bulk operations end `FAILED` (`INTERNAL_SERVER_ERROR`, half the result as partial data).
    pub fail_next_bulk: u32,
}

/// A bulk operation and its result, snapshotted when it was created.
#[derive(Debug, Clone)]
pub struct FakeBulkOperation {
    /// Numeric id (`gid://shopify/BulkOperation/{id}`).
    pub id: u64,
    /// The bulk query as sent.
    pub query: String,
    /// When it was created.
    pub created: Instant,
    /// Its creation time as reported.
    pub created_at: DateTime<Utc>,
    /// Whether it ends `FAILED`.
    pub fails: bool,
    /// Whether its result outlived the 7 days Shopify keeps one: `EXPIRED`, without a `url`.
    pub expired: bool,
    /// The JSONL result.
    pub jsonl: String,
    /// Top-level records and children in the result.
    pub object_count: u64,
    /// Times its result was downloaded.
    pub downloads: u32,
}

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSubscription {
    /// `gid://shopify/WebhookSubscription/{n}`.
    pub id: String,
    /// `PRODUCTS_CREATE`, …
    pub topic: String,
    /// Where it delivers.
    pub uri: String,
}

/// The install the approval page saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRecord {
    /// The shop.
    pub shop: String,
    /// Every query parameter, as sent.
    pub params: Vec<(String, String)>,
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
    /// Codes the approval page issued and not yet exchanged, with their shop and the scopes asked for.
    codes: HashMap<String, (String, String)>,
    authorizations: Vec<AuthorizeRecord>,
    next_id: u64,
    /// `http://127.0.0.1:<port>`, for the result URLs of bulk operations.
    address: String,
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
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let inner = Arc::new(Mutex::new(Inner {
            config,
            shops: HashMap::new(),
            buckets: HashMap::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            counter: 0,
            client: None,
            codes: HashMap::new(),
            authorizations: Vec::new(),
            next_id: 1,
            address: address.clone(),
        }));
        let router = Router::new()
            .route("/{shop}/admin/api/{version}/graphql.json", post(graphql))
            .route("/{shop}/admin/oauth/access_token", post(token))
            .route("/{shop}/admin/oauth/authorize", get(authorize))
            .route("/bulk/{shop}/{file}", get(bulk_result))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { address, inner }
    }

    /// The value for `SHOPIFY_ADMIN_URL_TEMPLATE`.
    pub fn admin_url_template(&self) -> String {
        format!("{}/{{shop}}/admin/api/{{version}}/graphql.json", self.address)
    }

    /// The value for `SHOPIFY_AUTHORIZE_URL_TEMPLATE`.
    pub fn authorize_url_template(&self) -> String {
        format!("{}/{{shop}}/admin/oauth/authorize", self.address)
    }

    /// The install approvals asked for so far.
    pub fn authorizations(&self) -> Vec<AuthorizeRecord> {
        self.inner.lock().expect("lock").authorizations.clone()
    }

    /// A shop's webhook subscriptions.
    pub fn subscriptions(&self, domain: &str) -> Vec<FakeSubscription> {
        self.with_shop(domain, |shop| shop.subscriptions.clone())
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

const QUERIES: &[&str] = &[
    "SyncProducts",
    "SyncOrders",
    "ProductVariants",
    "OrderLineItems",
    "RefreshProducts",
    "VerifyShop",
    "WebhookSubscriptions",
    "BulkOperation",
];
const MUTATIONS: &[&str] = &["WebhookSubscriptionCreate", "WebhookSubscriptionDelete", "BulkOperationRunQuery"];

/// Bulk queries one shop runs at once (5 from API version 2026-01).
const MAX_RUNNING_BULK_QUERIES: usize = 5;

/// The topics `WebhookSubscriptionTopic` has that the fake knows.
const TOPICS: &[&str] = &[
    "PRODUCTS_CREATE",
    "PRODUCTS_UPDATE",
    "PRODUCTS_DELETE",
    "INVENTORY_LEVELS_UPDATE",
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "ORDERS_PAID",
    "ORDERS_CANCELLED",
    "ORDERS_FULFILLED",
    "ORDERS_DELETE",
    "APP_UNINSTALLED",
    "BULK_OPERATIONS_FINISH",
];

fn operation_of(query: &str) -> String {
    let named = |kind: &str, name: &str| {
        query.contains(&format!("{kind} {name}(")) || query.contains(&format!("{kind} {name} {{"))
    };
    QUERIES
        .iter()
        .find(|name| named("query", name))
        .or_else(|| MUTATIONS.iter().find(|name| named("mutation", name)))
        .copied()
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
    json!({ "id": gid("LineItem", line.id), "quantity": line.quantity, "currentQuantity": line.quantity - line.refunded,
            "product": line.product_id.map(|id| json!({ "id": gid("Product", id) })),
            "variant": line.variant_id.map(|id| json!({ "id": gid("ProductVariant", id) })),
            "discountedTotalSet": { "shopMoney": { "amount": money(line.total_cents), "currencyCode": "USD" } } })
}

fn order_json(o: &FakeOrder, lines_first: usize) -> (Value, u64) {
    let shown: Vec<Value> = o.lines.iter().take(lines_first).map(line_json).collect();
    let more = o.lines.len() > lines_first;
    // An order (1), its total (2), its customer (1, when there is one) and its lines.
    let actual = 1 + 2 + u64::from(o.customer.is_some()) + 2 + shown.len() as u64 * 5;
    let value = json!({
        "id": gid("Order", o.id), "createdAt": o.created_at.to_rfc3339(), "processedAt": o.created_at.to_rfc3339(),
        "updatedAt": o.updated_at.to_rfc3339(), "cancelledAt": o.cancelled.then(|| o.updated_at.to_rfc3339()),
        "displayFinancialStatus": o.financial_status, "displayFulfillmentStatus": o.fulfillment_status,
        "totalPriceSet": { "shopMoney": { "amount": money(o.total_cents), "currencyCode": "USD" } },
        "customer": o.customer.map(|id| json!({ "id": gid("Customer", id) })),
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
fn resolve(
    domain: &str,
    shop: &mut FakeShop,
    next_id: &mut u64,
    operation: &str,
    variables: &Value,
    config: &ShopifyConfig,
    address: &str,
) -> Result<(Value, u64), String> {
    let after = variables.get("after").and_then(Value::as_str);
    // `$query` is a search, except for a bulk operation: its query.
    let since = match variables.get("query").and_then(Value::as_str) {
        Some(query) if operation != "BulkOperationRunQuery" => Some(parse_search(query)?),
        _ => None,
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
        "WebhookSubscriptions" => {
            let first = first_of(variables, "first")? as usize;
            let start = match after {
                Some(text) => read_index_cursor(text).ok_or("invalid cursor")?,
                None => 0,
            };
            let nodes: Vec<Value> = shop
                .subscriptions
                .iter()
                .skip(start)
                .take(first)
                .map(|s| json!({ "id": s.id, "topic": s.topic, "uri": s.uri }))
                .collect();
            let end = start + nodes.len();
            let page_info = json!({ "hasNextPage": end < shop.subscriptions.len(),
                                    "endCursor": (!nodes.is_empty()).then(|| index_cursor(end)) });
            let actual = 2 + nodes.len() as u64;
            Ok((json!({ "webhookSubscriptions": { "pageInfo": page_info, "nodes": nodes } }), actual))
        }
        "WebhookSubscriptionCreate" => {
            let topic = variables.get("topic").and_then(Value::as_str).unwrap_or_default();
            if !TOPICS.contains(&topic) {
                return Err(format!(
                    "Variable $topic of type WebhookSubscriptionTopic! was provided invalid value `{topic}`"
                ));
            }
            let uri = variables.pointer("/webhookSubscription/uri").and_then(Value::as_str).unwrap_or_default();
            let user_errors = if uri.is_empty() {
                vec![json!({ "field": ["webhookSubscription", "uri"], "message": "Address can't be blank" })]
            } else if shop.subscriptions.iter().any(|s| s.topic == topic && s.uri == uri) {
                vec![json!({ "field": ["webhookSubscription", "callbackUrl"],
                             "message": "Address for this topic has already been taken" })]
            } else {
                Vec::new()
            };
            let created = user_errors.is_empty().then(|| {
                let subscription = FakeSubscription {
                    id: format!("gid://shopify/WebhookSubscription/{next_id}"),
                    topic: topic.to_owned(),
                    uri: uri.to_owned(),
                };
                *next_id += 1;
                shop.subscriptions.push(subscription.clone());
                json!({ "id": subscription.id })
            });
            let data =
                json!({ "webhookSubscriptionCreate": { "webhookSubscription": created, "userErrors": user_errors } });
            Ok((data, 10))
        }
        "BulkOperationRunQuery" => {
            let query = variables.get("query").and_then(Value::as_str).ok_or("$query is required")?;
            let running = shop.bulk_operations.iter().filter(|op| op.created.elapsed() < config.bulk_run_time).count();
            if running >= MAX_RUNNING_BULK_QUERIES {
                let message =
                    "The maximum number of bulk query operations for this app and shop is already in progress.";
                let errors = [json!({ "field": null, "message": message })];
                return Ok((json!({ "bulkOperationRunQuery": { "bulkOperation": null, "userErrors": errors } }), 10));
            }
            let (jsonl, object_count) = bulk_result_of(shop, query)?;
            let fails = shop.fail_next_bulk > 0;
            shop.fail_next_bulk = shop.fail_next_bulk.saturating_sub(1);
            let operation = FakeBulkOperation {
                id: *next_id,
                query: query.to_owned(),
                created: Instant::now(),
                created_at: Utc::now(),
                fails,
                expired: false,
                jsonl,
                object_count,
                downloads: 0,
            };
            *next_id += 1;
            let answer = json!({ "id": gid("BulkOperation", operation.id), "status": "CREATED" });
            shop.bulk_operations.push(operation);
            Ok((json!({ "bulkOperationRunQuery": { "bulkOperation": answer, "userErrors": [] } }), 10))
        }
        "BulkOperation" => {
            let id = variables.get("id").and_then(Value::as_str).ok_or("$id is required")?;
            let Some(operation) =
                numeric(id, "BulkOperation").and_then(|n| shop.bulk_operations.iter().find(|op| op.id == n))
            else {
                return Ok((json!({ "bulkOperation": null }), 1));
            };
            let done = operation.created.elapsed() >= config.bulk_run_time;
            let result = format!("{address}/bulk/{domain}/{}", operation.id);
            let view = match (done, operation.fails) {
                _ if operation.expired => json!({ "status": "EXPIRED", "errorCode": null, "url": null,
                                                  "partialDataUrl": null, "objectCount": operation.object_count.to_string() }),
                (false, _) => json!({ "status": "RUNNING", "errorCode": null, "url": null, "partialDataUrl": null,
                                      "objectCount": "0" }),
                (true, false) => json!({ "status": "COMPLETED", "errorCode": null, "url": result,
                                         "partialDataUrl": null, "objectCount": operation.object_count.to_string() }),
                (true, true) => json!({ "status": "FAILED", "errorCode": "INTERNAL_SERVER_ERROR", "url": null,
                                        "partialDataUrl": format!("{result}.partial"),
                                        "objectCount": (operation.object_count / 2).to_string() }),
            };
            let mut view = view;
            view["id"] = json!(gid("BulkOperation", operation.id));
            view["createdAt"] = json!(operation.created_at.to_rfc3339());
            Ok((json!({ "bulkOperation": view }), 1))
        }
        "WebhookSubscriptionDelete" => {
            let id = variables.get("id").and_then(Value::as_str).unwrap_or_default();
            let before = shop.subscriptions.len();
            shop.subscriptions.retain(|s| s.id != id);
            let (deleted, user_errors) = if shop.subscriptions.len() < before {
                (json!(id), Vec::new())
            } else {
                (Value::Null, vec![json!({ "field": ["id"], "message": "Webhook subscription does not exist" })])
            };
            let data = json!({ "webhookSubscriptionDelete": { "deletedWebhookSubscriptionId": deleted,
                                                              "userErrors": user_errors } });
            Ok((data, 10))
        }
        _ => Err("unknown operation".into()),
    }
}

/// The JSONL result of a bulk `query` over the shop as it is now, and how many objects it holds: a products query
/// lists each product and then its variants, an orders query each order and then its line items, children carrying
/// `__parentId`. An optional `query: "updated_at:>'…'"` argument narrows the records as in a paged query.
fn bulk_result_of(shop: &mut FakeShop, query: &str) -> Result<(String, u64), String> {
    let root = query.trim_start().trim_start_matches(['{', ' ']);
    let since = match root.split_once("query: \"") {
        Some((_, rest)) => Some(parse_search(rest.split_once('"').ok_or("unterminated search")?.0)?),
        None => None,
    };
    if query.contains("first:") {
        return Err("bulk queries list whole connections: remove `first`".into());
    }
    sort_shop(shop);
    let mut lines: Vec<Value> = Vec::new();
    if root.starts_with("products") {
        for product in window(&shop.products, |p| (p.updated_at, p.id), since, None) {
            let (mut value, _) = product_json(product, 0);
            value.as_object_mut().map(|o| o.remove("variants"));
            lines.push(value);
            for variant in &product.variants {
                let mut child = variant_json(variant);
                child["__parentId"] = json!(gid("Product", product.id));
                lines.push(child);
            }
        }
    } else if root.starts_with("orders") {
        for order in window(&shop.orders, |o| (o.updated_at, o.id), since, None) {
            let (mut value, _) = order_json(order, 0);
            value.as_object_mut().map(|o| o.remove("lineItems"));
            lines.push(value);
            for line in &order.lines {
                let mut child = line_json(line);
                child["__parentId"] = json!(gid("Order", order.id));
                lines.push(child);
            }
        }
    } else {
        return Err(format!("the fake runs bulk queries of products or orders, not `{}`", excerpt_of(root)));
    }
    let count = lines.len() as u64;
    Ok((lines.iter().map(|line| format!("{line}\n")).collect(), count))
}

fn excerpt_of(text: &str) -> &str {
    &text[..text.len().min(40)]
}

/// `GET /bulk/{shop}/{n}` (the result) and `/bulk/{shop}/{n}.partial` (what a failed operation got through).
async fn bulk_result(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((shop_domain, file)): Path<(String, String)>,
) -> Response {
    let mut inner = inner.lock().expect("lock");
    let (id, partial) = match file.strip_suffix(".partial") {
        Some(id) => (id, true),
        None => (file.as_str(), false),
    };
    let operation = inner.shops.get_mut(&shop_domain).and_then(|shop| {
        let id: u64 = id.parse().ok()?;
        shop.bulk_operations.iter_mut().find(|op| op.id == id)
    });
    let Some(operation) = operation else { return StatusCode::NOT_FOUND.into_response() };
    operation.downloads += 1;
    let body = if partial {
        let lines: Vec<&str> = operation.jsonl.lines().collect();
        lines[..lines.len() / 2].iter().map(|line| format!("{line}\n")).collect()
    } else {
        operation.jsonl.clone()
    };
    ([(header::CONTENT_TYPE, "application/jsonl")], body).into_response()
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
        requested: requested_cost(query, &variables).ok(),
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
        let requested = match requested_cost(query, &variables) {
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
        let resolved = resolve(&shop_domain, shop, &mut inner.next_id, &operation, &variables, &config, &inner.address);
        let (mut data, actual) = match resolved {
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
    let code = field("code");
    // A code is used up by its first exchange, refused or not.
    let issued = (!code.is_empty()).then(|| inner.codes.remove(&code)).flatten();
    let Some(shop) = inner.shops.get_mut(&shop_domain) else { return StatusCode::NOT_FOUND.into_response() };
    if !code.is_empty() {
        let Some((_, asked)) = issued.filter(|(code_shop, _)| client_ok && *code_shop == shop_domain) else {
            let body = json!({ "error": "invalid_request",
                               "error_description": "The authorization code was not found or was already used" });
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        };
        shop.installs += 1;
        shop.access_token = format!("shpat_installed_{}", shop.installs);
        let granted: Vec<&str> = asked.split(',').filter(|s| !shop.withheld_scopes.iter().any(|w| w == s)).collect();
        let scope = granted.join(",");
        if body.get("expiring").and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok())) == Some(1) {
            let refresh = format!("shprt_installed_{}", shop.installs);
            shop.refresh_token = Some(refresh.clone());
            return Json(json!({ "access_token": shop.access_token, "expires_in": 3600, "refresh_token": refresh,
                                "refresh_token_expires_in": 7_776_000, "scope": scope }))
            .into_response();
        }
        return Json(json!({ "access_token": shop.access_token, "scope": scope })).into_response();
    }
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

/// The approval page, approving at once: a single-use code for the app's client id, and a redirect to
/// `redirect_uri` signed with the client secret. An unknown client or shop is refused as Shopify does, with a page.
async fn authorize(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(shop_domain): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let mut inner = inner.lock().expect("lock");
    let inner = &mut *inner;
    inner.authorizations.push(AuthorizeRecord { shop: shop_domain.clone(), params: params.clone() });
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let Some((client_id, client_secret)) = inner.client.clone() else { return html(StatusCode::BAD_REQUEST) };
    if param("client_id") != client_id || !inner.shops.contains_key(&shop_domain) {
        return html(StatusCode::BAD_REQUEST);
    }
    let Ok(mut redirect) = reqwest::Url::parse(&param("redirect_uri")) else { return html(StatusCode::BAD_REQUEST) };
    inner.next_id += 1;
    let code = format!("{:032x}", inner.next_id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    inner.codes.insert(code.clone(), (shop_domain.clone(), param("scope")));
    let host = STANDARD.encode(format!("admin.shopify.com/store/{}", shop_domain.trim_end_matches(".myshopify.com")));
    let timestamp = Utc::now().timestamp().to_string();
    let fields =
        [("code", code), ("host", host), ("shop", shop_domain), ("state", param("state")), ("timestamp", timestamp)];
    let pairs: Vec<(String, String)> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let hmac = sign_callback(&client_secret, &pairs);
    redirect
        .query_pairs_mut()
        .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .append_pair("hmac", &hmac);
    (StatusCode::FOUND, [(header::LOCATION, redirect.to_string())]).into_response()
}

/// Hex HMAC-SHA256 with `secret` over `pairs` (without `hmac`) sorted and joined as `name=value&…`: how Shopify
/// signs the install redirect.
pub fn sign_callback(secret: &str, pairs: &[(String, String)]) -> String {
    let mut parts: Vec<String> = pairs.iter().filter(|(k, _)| k != "hmac").map(|(k, v)| format!("{k}={v}")).collect();
    parts.sort();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(parts.join("&").as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}
