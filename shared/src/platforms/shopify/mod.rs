//! Shopify through the GraphQL Admin API only (pinned version, `SHOPIFY_API_VERSION`).
//!
//! - **Cost.** Every query's requested cost is computed with Shopify's published rules (scalars and enums 0, objects
//!   1, a connection 2 plus `first` times its node) and page sizes are chosen to stay under the 1,000-point cap and
//!   the bucket's `maximumAvailable`.
//! - **Throttling from the platform's own signals.** After every response the bucket is known from
//!   `extensions.cost.throttleStatus`; before a query whose requested cost exceeds what the bucket holds now, the
//!   client waits `(requested − available) / restoreRate`. A `THROTTLED` answer (HTTP 200 or 429) waits the longer
//!   of that and `Retry-After`, then retries, a bounded number of times.
//! - **Pagination.** Cursor pages (`after: endCursor` while `hasNextPage`), sorted by `UPDATED_AT`, filtered with
//!   the documented quoted-date search syntax (`updated_at:>'2026-11-01T00:00:00Z'`); variants and order lines past
//!   the first nested page are fetched with their own cursor queries before the page counts as read.
//! - **Bulk imports.** A pass the engine marks as a whole read (a first import, or the first after
//!   a week without a complete pass: `sync::engine`) runs a bulk operation per listing and streams its JSONL result
//!   through the same pages (see [`bulk`]); incremental passes page.
//! - **Tokens.** Expiring offline tokens are refreshed a few minutes before expiry, and the new pair is stored in
//!   one write ([`fresh_credentials`]); an install's authorization code is exchanged for such a pair
//!   ([`exchange_code`]).
//! - **Webhooks.** An install subscribes the topics the sync applies, idempotently, and a disconnect removes them
//!   ([`ShopifyConnector::register_webhooks`], [`ShopifyConnector::remove_webhooks`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{
    Credentials, Page, PlatformError, PlatformOrder, PlatformOrderLine, PlatformProduct, Platforms,
    address::ShopDomain, excerpt, http, parse_amount, plain_text,
};
use crate::{
    analytics::OrderStatus,
    catalogue::{ProductInput, ProductStatus, VariantInput},
    secrets::{SecretName, Secrets},
};

mod bulk;
mod cost;
mod queries;
mod throttle;
mod tokens;
mod webhooks;

use bulk::{
    BULK_PAGE, BulkCursor, BulkDownload, BulkKind, Finished, OPERATION_QUERY, OperationData, RUN_QUERY, RunData,
};
pub use cost::*;
pub use queries::*;
pub use throttle::*;
pub use tokens::*;
pub use webhooks::*;

/// A connection to one shop.
#[derive(Debug)]
pub struct ShopifyConnector {
    platforms: Platforms,
    endpoint: reqwest::Url,
    access_token: SecretString,
    digits: u32,
    bucket: Option<Bucket>,
    /// The nested `variants(first:)` of the next products page: the store's own variant counts (the largest on the
    /// last page, rounded up to a power of two) within [`MIN_VARIANTS_PER_PRODUCT`]..=[`VARIANTS_PER_PRODUCT`]. A
    /// store of single-variant products gets pages of 66 products instead of 15; one with larger products keeps 20.
    variants_first: u32,
    /// The nested `lineItems(first:)` of the next orders page: fitted to the last page's orders ([`fitted_lines`]).
    lines_first: u32,
    /// The bulk result being read, kept between pages.
    download: Option<BulkDownload>,
    /// Throttling so far.
    pub stats: ThrottleStats,
}

impl ShopifyConnector {
    /// A connector for `shop` with these credentials; money is read with `digits` decimals.
    pub fn new(
        platforms: &Platforms,
        shop: &ShopDomain,
        credentials: &Credentials,
        digits: u32,
    ) -> Result<Self, PlatformError> {
        let Credentials::Shopify { access_token, .. } = credentials else {
            return Err(PlatformError::Credentials("the stored credentials are not Shopify's".into()));
        };
        let endpoint = platforms
            .shopify
            .admin_url_template
            .replace("{shop}", shop.as_ref())
            .replace("{version}", &platforms.shopify.api_version);
        let endpoint = reqwest::Url::parse(&endpoint).map_err(|e| PlatformError::Transport(e.to_string()))?;
        // The client's resolver checks names; an IP literal (a template pointing at a fake) is checked here.
        platforms.sync.store_egress().check_literal(&endpoint)?;
        Ok(Self {
            platforms: platforms.clone(),
            endpoint,
            access_token: access_token.clone(),
            digits,
            bucket: None,
            variants_first: VARIANTS_PER_PRODUCT,
            lines_first: LINES_PER_ORDER,
            download: None,
            stats: ThrottleStats::default(),
        })
    }

    /// The most a query may request right now: the cap, or the bucket's size if smaller.
    fn cost_cap(&self) -> u32 {
        let maximum = self.bucket.map_or(f64::from(MAX_QUERY_COST), |b| b.status.maximum_available);
        (maximum.floor() as u32).clamp(1, MAX_QUERY_COST)
    }

    /// One page of products updated after `since`, continuing after `after`; through a bulk operation when `bulk`
    /// (and bulk imports are on).
    pub async fn products_page(
        &mut self,
        since: Option<DateTime<Utc>>,
        bulk: bool,
        after: Option<&str>,
        deadline: Instant,
    ) -> Result<Page<PlatformProduct>, PlatformError> {
        if let Some(cursor) = self.bulk_plan(bulk, after) {
            return self.bulk_page(BulkKind::Products, since, cursor, deadline, product_from_bulk).await;
        }
        let query = since.map(updated_since);
        let variants = self.variants_first;
        let plan = |cap| {
            let first = page_size(cap, |n| products_cost(n, variants));
            let variables = json!({ "first": first, "after": after, "query": query, "variantsFirst": variants });
            (variables, products_cost(first, variants))
        };
        let data: ProductsData = self.graphql(&products_query(), plan, deadline).await?;
        let largest = data
            .products
            .nodes
            .iter()
            .map(|p| p.variants.nodes.len() as u32 + u32::from(p.variants.page_info.has_next_page))
            .max()
            .unwrap_or(variants);
        self.variants_first = largest.next_power_of_two().clamp(MIN_VARIANTS_PER_PRODUCT, VARIANTS_PER_PRODUCT);
        let mut items = Vec::with_capacity(data.products.nodes.len());
        let mut invalid = Invalid::default();
        for node in data.products.nodes {
            match self.complete_product(node, deadline).await {
                Ok(product) => items.push(product),
                Err(PlatformError::InvalidRecords { detail, .. }) => invalid.add(detail),
                Err(other) => return Err(other),
            }
        }
        invalid.check()?;
        Ok(Page { items, next: next_cursor(&data.products.page_info)?, total_pages: None, watermark: None })
    }

    /// One page of orders updated after `since`, continuing after `after`; through a bulk operation when `bulk`
    /// (and bulk imports are on).
    pub async fn orders_page(
        &mut self,
        since: Option<DateTime<Utc>>,
        bulk: bool,
        after: Option<&str>,
        deadline: Instant,
    ) -> Result<Page<PlatformOrder>, PlatformError> {
        if let Some(cursor) = self.bulk_plan(bulk, after) {
            return self.bulk_page(BulkKind::Orders, since, cursor, deadline, order_from_bulk).await;
        }
        let query = since.map(updated_since);
        let lines = self.lines_first;
        let plan = |cap| {
            let first = page_size(cap, |n| orders_cost(n, lines));
            let variables = json!({ "first": first, "after": after, "query": query, "linesFirst": lines });
            (variables, orders_cost(first, lines))
        };
        let data: OrdersData = self.graphql(ORDERS_QUERY, plan, deadline).await?;
        self.lines_first = fitted_lines(
            data.orders
                .nodes
                .iter()
                .map(|o| o.line_items.nodes.len() as u32 + u32::from(o.line_items.page_info.has_next_page))
                .collect(),
        );
        let mut items = Vec::with_capacity(data.orders.nodes.len());
        let mut invalid = Invalid::default();
        for node in data.orders.nodes {
            match self.complete_order(node, deadline).await {
                Ok(order) => items.push(order),
                Err(PlatformError::InvalidRecords { detail, .. }) => invalid.add(detail),
                Err(other) => return Err(other),
            }
        }
        invalid.check()?;
        Ok(Page { items, next: next_cursor(&data.orders.page_info)?, total_pages: None, watermark: None })
    }

    /// Whether a page is read from a bulk operation: `Some(None)` to start one, `Some(cursor)` to go on with one,
    /// `None` to page. A bulk cursor goes on whatever the settings say; a pass's first page starts one when the
    /// pass reads whole (`bulk`) and `SHOPIFY_BULK_IMPORT` allows.
    fn bulk_plan(&self, bulk: bool, after: Option<&str>) -> Option<Option<BulkCursor>> {
        match after {
            Some(after) => BulkCursor::parse(after).map(Some),
            None if bulk && self.platforms.shopify.bulk_import => Some(None),
            None => None,
        }
    }

    /// One page of a listing read through a bulk operation. Without a cursor it starts the operation and answers
    /// an empty page whose cursor names it (so a run cut off while Shopify works resumes that operation); with one
    /// it waits for the operation, opens its result where the cursor says (or goes on reading the open one), and
    /// answers up to [`BULK_PAGE`] records. An operation that failed, was cancelled or expired is started again.
    async fn bulk_page<T>(
        &mut self,
        kind: BulkKind,
        since: Option<DateTime<Utc>>,
        cursor: Option<BulkCursor>,
        deadline: Instant,
        convert: fn(Value, u32) -> Result<T, PlatformError>,
    ) -> Result<Page<T>, PlatformError> {
        let empty = |next: Option<BulkCursor>, watermark| Page {
            items: Vec::new(),
            next: next.map(|c| c.encode()),
            total_pages: None,
            watermark,
        };
        let Some(cursor) = cursor else {
            let operation = self.start_bulk(kind, since, deadline).await?;
            return Ok(empty(Some(BulkCursor { operation, read: 0 }), None));
        };
        // The open result goes on if it is where the cursor says; it is taken out while a page is read, so a page
        // that fails leaves no half-read result behind to be mistaken for its cursor.
        let mut download = match self.download.take() {
            Some(open) if open.cursor == cursor => open,
            _ => match self.await_bulk(&cursor.operation, deadline).await? {
                Finished::Completed { url: None, created_at } => return Ok(empty(None, Some(created_at))),
                Finished::Completed { url: Some(url), created_at } => {
                    let url = reqwest::Url::parse(&url).map_err(|e| PlatformError::Malformed(format!("url: {e}")))?;
                    self.platforms.sync.store_egress().check_literal(&url)?;
                    let client = &self.platforms.api_client;
                    BulkDownload::open(client, url, kind, cursor, created_at, deadline).await?
                }
                Finished::Lost(reason) => {
                    tracing::warn!(operation = %cursor.operation, %reason, "a bulk operation was lost; starting another");
                    let operation = self.start_bulk(kind, since, deadline).await?;
                    return Ok(empty(Some(BulkCursor { operation, read: 0 }), None));
                }
            },
        };
        let mut items = Vec::new();
        let mut invalid = Invalid::default();
        let mut ended = false;
        while items.len() < BULK_PAGE {
            let Some(record) = download.next_record(deadline).await? else {
                ended = true;
                break;
            };
            match convert(record, self.digits) {
                Ok(item) => items.push(item),
                Err(PlatformError::InvalidRecords { detail, .. }) => invalid.add(detail),
                Err(other) => return Err(other),
            }
        }
        invalid.check()?;
        download.cursor.read += items.len() as u64;
        if ended {
            return Ok(Page { items, next: None, total_pages: None, watermark: Some(download.created_at) });
        }
        let next = Some(download.cursor.encode());
        self.download = Some(download);
        Ok(Page { items, next, total_pages: None, watermark: None })
    }

    /// Starts a bulk query of `kind`; returns the operation's id.
    async fn start_bulk(
        &mut self,
        kind: BulkKind,
        since: Option<DateTime<Utc>>,
        deadline: Instant,
    ) -> Result<String, PlatformError> {
        let query = kind.query(since);
        let data: RunData = self.graphql(RUN_QUERY, |_| (json!({ "query": query }), MUTATION_COST), deadline).await?;
        let operation = data.started()?;
        tracing::info!(%operation, ?kind, "started a bulk operation");
        Ok(operation)
    }

    /// Asks about the operation until it is no longer running.
    async fn await_bulk(&mut self, operation: &str, deadline: Instant) -> Result<Finished, PlatformError> {
        let mut waits = bulk::poll_waits();
        loop {
            let data: OperationData =
                self.graphql(OPERATION_QUERY, |_| (json!({ "id": operation }), 1), deadline).await?;
            if let Some(finished) = data.finished() {
                return Ok(finished);
            }
            let wait = waits.next().unwrap_or(Duration::from_secs(5));
            self.pause(wait, deadline).await?;
        }
    }

    /// Asks the shop who it is: a cheap query (cost 1) that proves these credentials open `shop` before a connection
    /// made with a pasted token is enabled. A refused token is [`PlatformError::Unauthorized`], as is a token that
    /// opens another shop.
    pub async fn verify_shop(&mut self, shop: &ShopDomain, deadline: Instant) -> Result<(), PlatformError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Shop {
            myshopify_domain: String,
        }
        #[derive(Deserialize)]
        struct Data {
            shop: Shop,
        }
        const QUERY: &str = "query VerifyShop { shop { myshopifyDomain } }";
        let data: Data = self.graphql(QUERY, |_| (json!({}), 1), deadline).await?;
        if !data.shop.myshopify_domain.eq_ignore_ascii_case(shop.as_ref()) {
            return Err(PlatformError::Unauthorized(format!("the access token belongs to another shop than {shop}")));
        }
        Ok(())
    }

    /// Refetches products by product id or by inventory item id (an inventory webhook names only the item).
    pub async fn refresh_products(
        &mut self,
        ids: &[String],
        deadline: Instant,
    ) -> Result<Vec<PlatformProduct>, PlatformError> {
        // Chunks sized for the cap as first known; the bucket cannot shrink below one product's cost.
        let chunk = page_size(self.cost_cap(), |n| refresh_cost(n, VARIANTS_PER_PRODUCT)) as usize;
        let mut products = Vec::new();
        for ids in ids.chunks(chunk.max(1)) {
            let plan = |_| {
                let variables = json!({ "ids": ids, "variantsFirst": VARIANTS_PER_PRODUCT });
                (variables, refresh_cost(ids.len() as u32, VARIANTS_PER_PRODUCT))
            };
            let data: RefreshData = self.graphql(&refresh_query(), plan, deadline).await?;
            for node in data.nodes.into_iter().flatten() {
                let product = match node.get("__typename").and_then(Value::as_str) {
                    Some("InventoryItem") => node.pointer("/variant/product").cloned().filter(|p| !p.is_null()),
                    _ => Some(node),
                };
                // A deleted product or an item without a variant has nothing to refresh.
                let Some(product) = product else { continue };
                let node: ProductNode = serde_json::from_value(product)
                    .map_err(|e| PlatformError::Malformed(format!("refreshed product: {e}")))?;
                products.push(self.complete_product(node, deadline).await?);
            }
        }
        Ok(products)
    }

    /// Fetches the variants past the first nested page, then converts.
    async fn complete_product(
        &mut self,
        mut node: ProductNode,
        deadline: Instant,
    ) -> Result<PlatformProduct, PlatformError> {
        let mut page_info = node.variants.page_info;
        while page_info.has_next_page {
            let after = page_info.end_cursor.clone().ok_or_else(|| missing_cursor("variants"))?;
            let plan = |cap| {
                let first = page_size(cap, variants_cost);
                (json!({ "id": node.id, "first": first, "after": after }), variants_cost(first))
            };
            let data: VariantsData = self.graphql(VARIANTS_QUERY, plan, deadline).await?;
            let more = data
                .product
                .ok_or_else(|| PlatformError::Malformed(format!("product {} vanished while paging", node.id)))?
                .variants;
            node.variants.nodes.extend(more.nodes);
            page_info = more.page_info;
        }
        node.variants.page_info = page_info;
        product_from_node(node, self.digits)
    }

    /// Fetches the lines past the first nested page, then converts.
    async fn complete_order(&mut self, mut node: OrderNode, deadline: Instant) -> Result<PlatformOrder, PlatformError> {
        let mut page_info = node.line_items.page_info;
        while page_info.has_next_page {
            let after = page_info.end_cursor.clone().ok_or_else(|| missing_cursor("lineItems"))?;
            let plan = |cap| {
                let first = page_size(cap, line_items_cost);
                (json!({ "id": node.id, "first": first, "after": after }), line_items_cost(first))
            };
            let data: LineItemsData = self.graphql(LINE_ITEMS_QUERY, plan, deadline).await?;
            let more = data
                .order
                .ok_or_else(|| PlatformError::Malformed(format!("order {} vanished while paging", node.id)))?
                .line_items;
            node.line_items.nodes.extend(more.nodes);
            page_info = more.page_info;
        }
        node.line_items.page_info = page_info;
        order_from_node(node, self.digits)
    }

    /// Runs one query, waiting for the bucket first and retrying `THROTTLED` answers. `plan` sizes the query for
    /// a cost cap and gives its variables and requested cost; it is asked again before each attempt, so a bucket
    /// found smaller than assumed (the first answer tells) shrinks the page instead of throttling forever.
    async fn graphql<T: DeserializeOwned>(
        &mut self,
        query: &str,
        plan: impl Fn(u32) -> (Value, u32),
        deadline: Instant,
    ) -> Result<T, PlatformError> {
        let mut throttled = 0;
        loop {
            let (variables, requested) = plan(self.cost_cap());
            let body = serde_json::to_vec(&json!({ "query": query, "variables": variables }))
                .map_err(|e| PlatformError::Transport(e.to_string()))?;
            if let Some(bucket) = self.bucket {
                self.pause(bucket.wait_for(f64::from(requested)), deadline).await?;
            }
            let fetched = http::send(self.platforms.retry_policy(), deadline, || {
                Ok(self
                    .platforms
                    .api_client
                    .post(self.endpoint.clone())
                    .header("X-Shopify-Access-Token", self.access_token.expose_secret())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(reqwest::header::ACCEPT, "application/json")
                    .body(body.clone()))
            })
            .await?;
            match fetched.status.as_u16() {
                200 | 429 => {}
                401 | 403 => {
                    return Err(PlatformError::Unauthorized(format!(
                        "HTTP {} from the GraphQL Admin API ({})",
                        fetched.status,
                        excerpt(&fetched.body)
                    )));
                }
                status => {
                    return Err(PlatformError::Rejected(format!("HTTP {status} ({})", excerpt(&fetched.body))));
                }
            }
            // The usual answer parses straight into the page's types; anything else (throttled, errors, malformed)
            // is read again generically to tell which it is.
            if fetched.status.as_u16() == 200
                && let Ok(typed) = serde_json::from_slice::<TypedEnvelope<T>>(&fetched.body)
                && typed.errors.is_empty()
                && let Some(data) = typed.data
            {
                if let Some(status) = typed.extensions.and_then(|e| e.cost?.throttle_status) {
                    self.bucket = Some(Bucket { status, at: Instant::now() });
                }
                return Ok(data);
            }
            let envelope: Option<Envelope> = serde_json::from_slice(&fetched.body).ok();
            if let Some(status) = envelope.as_ref().and_then(|e| e.extensions.as_ref()?.cost.as_ref()?.throttle_status)
            {
                self.bucket = Some(Bucket { status, at: Instant::now() });
            }
            let is_throttled = fetched.status.as_u16() == 429
                || envelope.as_ref().is_some_and(|e| {
                    e.errors
                        .iter()
                        .any(|error| error.extensions.as_ref().and_then(|x| x.code.as_deref()) == Some("THROTTLED"))
                });
            if is_throttled {
                throttled += 1;
                self.stats.throttled += 1;
                if throttled > MAX_THROTTLED {
                    return Err(PlatformError::Unavailable(format!("throttled {throttled} times in a row")));
                }
                // Wait for what the next attempt will ask: the same query, or a smaller one if the bucket turned
                // out smaller than assumed.
                let next = f64::from(plan(self.cost_cap()).1);
                let from_bucket = self.bucket.map(|b| b.wait_for(next));
                let wait = match (fetched.retry_after(), from_bucket) {
                    (Some(header), Some(bucket)) => header.max(bucket),
                    (Some(header), None) => header,
                    (None, Some(bucket)) => bucket,
                    (None, None) => Duration::from_secs(1),
                };
                tracing::debug!(?wait, status = %fetched.status, "Shopify throttled the query");
                self.pause(wait.max(Duration::from_millis(1)), deadline).await?;
                continue;
            }
            let envelope = envelope.ok_or_else(|| {
                PlatformError::Malformed(format!("the response is not JSON ({})", excerpt(&fetched.body)))
            })?;
            if !envelope.errors.is_empty() {
                let messages: Vec<String> = envelope
                    .errors
                    .iter()
                    .map(|e| match e.extensions.as_ref().and_then(|x| x.code.as_deref()) {
                        Some(code) => format!("{code}: {}", e.message),
                        None => e.message.clone(),
                    })
                    .collect();
                return Err(PlatformError::Rejected(messages.join("; ")));
            }
            let data = envelope.data.ok_or_else(|| PlatformError::Malformed("no `data` in the response".into()))?;
            return serde_json::from_value(data).map_err(|e| PlatformError::Malformed(e.to_string()));
        }
    }

    async fn pause(&mut self, wait: Duration, deadline: Instant) -> Result<(), PlatformError> {
        if wait.is_zero() {
            return Ok(());
        }
        if Instant::now() + wait >= deadline {
            return Err(PlatformError::OutOfTime);
        }
        self.stats.waited += wait;
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

/// A product of a bulk result (its variants gathered under it).
fn product_from_bulk(record: Value, digits: u32) -> Result<PlatformProduct, PlatformError> {
    let node: ProductNode =
        serde_json::from_value(record).map_err(|e| PlatformError::Malformed(format!("bulk product: {e}")))?;
    product_from_node(node, digits)
}

/// An order of a bulk result (its line items gathered under it).
fn order_from_bulk(record: Value, digits: u32) -> Result<PlatformOrder, PlatformError> {
    let node: OrderNode =
        serde_json::from_value(record).map_err(|e| PlatformError::Malformed(format!("bulk order: {e}")))?;
    order_from_node(node, digits)
}
