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

/// The most a single query may cost.
pub const MAX_QUERY_COST: u32 = 1000;
/// The largest `first` a connection accepts.
const MAX_PAGE: u32 = 250;
/// Variants fetched with each product at most; more come from nested pages.
pub const VARIANTS_PER_PRODUCT: u32 = 20;
/// Variants fetched with each product at least.
const MIN_VARIANTS_PER_PRODUCT: u32 = 4;
/// Lines fetched with each order; more come from nested pages.
pub const LINES_PER_ORDER: u32 = 5;
/// Refresh tokens this long before they expire.
const REFRESH_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// The longest wait for the bucket that the platform's figures can ask for (a full 1,000-point bucket refills in 20
/// s at the slowest documented rate); the run's deadline cuts it shorter.
const MAX_BUCKET_WAIT: Duration = Duration::from_secs(60);
/// `THROTTLED` answers tolerated for one query before giving up for this run.
const MAX_THROTTLED: u32 = 20;

/// The requested cost of one variant node: the variant (1), its `inventoryItem` (1) and that item's `unitCost` (1).
const VARIANT_NODE_COST: u32 = 3;

/// The requested cost of a products page: `products(first)` → product (1) + `variants(first)` connection.
pub fn products_cost(first: u32, variants: u32) -> u32 {
    2 + first * (1 + 2 + variants * VARIANT_NODE_COST)
}

/// The requested cost of an orders page: order (1) + `totalPriceSet { shopMoney }` (2) + `lineItems(first)`
/// whose nodes are a line (1) with `product` (1), `variant` (1) and `discountedTotalSet { shopMoney }` (2).
pub fn orders_cost(first: u32, lines: u32) -> u32 {
    2 + first * (1 + 2 + 2 + lines * 5)
}

/// The requested cost of a nested variants page: `product` (1) + `variants(first)`.
pub fn variants_cost(first: u32) -> u32 {
    1 + 2 + first * VARIANT_NODE_COST
}

/// The requested cost of a nested line-items page: `order` (1) + `lineItems(first)`.
pub fn line_items_cost(first: u32) -> u32 {
    1 + 2 + first * 5
}

/// The requested cost of refetching `ids` nodes: the dearer fragment (an inventory item's variant's product).
pub fn refresh_cost(ids: u32, variants: u32) -> u32 {
    ids * (3 + 1 + 2 + variants * VARIANT_NODE_COST)
}

/// The requested cost of a mutation, as Shopify documents it.
pub const MUTATION_COST: u32 = 10;

/// The requested cost of a page of webhook subscriptions: a connection (2) of objects (1) with scalar fields.
pub fn subscriptions_cost(first: u32) -> u32 {
    2 + first
}

/// The topics the sync applies (`app/uninstalled` disconnects), in the webhook header's form: what an install
/// subscribes to and what a store's `webhook` field lists.
pub const WEBHOOK_TOPICS: &[&str] = &[
    "products/create",
    "products/update",
    "products/delete",
    "orders/create",
    "orders/updated",
    "orders/delete",
    "inventory_levels/update",
    "app/uninstalled",
];

/// A topic as GraphQL's `WebhookSubscriptionTopic` names it: `products/create` is `PRODUCTS_CREATE`.
fn graphql_topic(topic: &str) -> String {
    topic.to_ascii_uppercase().replace('/', "_")
}

/// The largest `first` whose cost stays under `cap`.
fn page_size(cap: u32, cost: impl Fn(u32) -> u32) -> u32 {
    let mut first = MAX_PAGE;
    while first > 1 && cost(first) > cap {
        first -= 1;
    }
    first
}

/// A variant's fields, as a literal for `concat!`: its unit cost is its inventory item's (`read_inventory`), in the
/// shop's currency.
macro_rules! variant_fields {
    () => {
        "id sku title price inventoryQuantity inventoryItem { unitCost { amount currencyCode } }"
    };
}

const PRODUCT_FIELDS: &str = concat!(
    "id title description vendor productType status updatedAt \
     variants(first: $variantsFirst) { pageInfo { hasNextPage endCursor } nodes { ",
    variant_fields!(),
    " } }"
);

fn products_query() -> String {
    format!(
        "query SyncProducts($first: Int!, $after: String, $query: String, $variantsFirst: Int!) {{ \
         products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{ \
         pageInfo {{ hasNextPage endCursor }} nodes {{ {PRODUCT_FIELDS} }} }} }}"
    )
}

const VARIANTS_QUERY: &str = concat!(
    "query ProductVariants($id: ID!, $first: Int!, $after: String) { \
     product(id: $id) { variants(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { ",
    variant_fields!(),
    " } } } }"
);

const ORDERS_QUERY: &str = "query SyncOrders($first: Int!, $after: String, $query: String, $linesFirst: Int!) { \
     orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) { \
     pageInfo { hasNextPage endCursor } nodes { id createdAt processedAt updatedAt cancelledAt \
     displayFinancialStatus displayFulfillmentStatus totalPriceSet { shopMoney { amount currencyCode } } \
     lineItems(first: $linesFirst) { pageInfo { hasNextPage endCursor } \
     nodes { id quantity product { id } variant { id } discountedTotalSet { shopMoney { amount currencyCode } } } } } } }";

const LINE_ITEMS_QUERY: &str = "query OrderLineItems($id: ID!, $first: Int!, $after: String) { \
     order(id: $id) { lineItems(first: $first, after: $after) { pageInfo { hasNextPage endCursor } \
     nodes { id quantity product { id } variant { id } discountedTotalSet { shopMoney { amount currencyCode } } } } } }";

fn refresh_query() -> String {
    format!(
        "query RefreshProducts($ids: [ID!]!, $variantsFirst: Int!) {{ nodes(ids: $ids) {{ __typename \
         ... on Product {{ {PRODUCT_FIELDS} }} \
         ... on InventoryItem {{ variant {{ product {{ {PRODUCT_FIELDS} }} }} }} }} }}"
    )
}

/// `updated_at:>'…'`: Shopify's search syntax wants dates quoted.
pub fn updated_since(since: DateTime<Utc>) -> String {
    format!("updated_at:>'{}'", since.format("%Y-%m-%dT%H:%M:%SZ"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection<T> {
    page_info: PageInfo,
    nodes: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductNode {
    id: String,
    title: String,
    description: String,
    vendor: String,
    product_type: String,
    status: String,
    updated_at: DateTime<Utc>,
    variants: Connection<VariantNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VariantNode {
    id: String,
    sku: Option<String>,
    title: String,
    price: String,
    inventory_quantity: Option<i64>,
    inventory_item: Option<InventoryItemNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InventoryItemNode {
    /// `null` when the merchant has not entered a cost.
    unit_cost: Option<Money>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderNode {
    id: String,
    created_at: DateTime<Utc>,
    processed_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
    display_financial_status: Option<String>,
    display_fulfillment_status: String,
    total_price_set: MoneyBag,
    line_items: Connection<LineItemNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineItemNode {
    quantity: i64,
    product: Option<IdNode>,
    variant: Option<IdNode>,
    discounted_total_set: MoneyBag,
}

#[derive(Deserialize)]
struct IdNode {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoneyBag {
    shop_money: Money,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Money {
    amount: String,
}

#[derive(Deserialize)]
struct ProductsData {
    products: Connection<ProductNode>,
}

#[derive(Deserialize)]
struct OrdersData {
    orders: Connection<OrderNode>,
}

#[derive(Deserialize)]
struct VariantsData {
    product: Option<VariantsOf>,
}

#[derive(Deserialize)]
struct VariantsOf {
    variants: Connection<VariantNode>,
}

#[derive(Deserialize)]
struct LineItemsData {
    order: Option<LineItemsOf>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineItemsOf {
    line_items: Connection<LineItemNode>,
}

#[derive(Deserialize)]
struct RefreshData {
    nodes: Vec<Option<Value>>,
}

/// A successful response, parsed into the page's own types.
#[derive(Deserialize)]
struct TypedEnvelope<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Vec<GraphqlError>,
    extensions: Option<Extensions>,
}

/// The GraphQL response envelope.
#[derive(Deserialize)]
struct Envelope {
    data: Option<Value>,
    #[serde(default)]
    errors: Vec<GraphqlError>,
    extensions: Option<Extensions>,
}

#[derive(Deserialize)]
struct GraphqlError {
    #[serde(default)]
    message: String,
    extensions: Option<ErrorExtensions>,
}

#[derive(Deserialize)]
struct ErrorExtensions {
    code: Option<String>,
}

#[derive(Deserialize)]
struct Extensions {
    cost: Option<Cost>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cost {
    throttle_status: Option<ThrottleStatus>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThrottleStatus {
    maximum_available: f64,
    currently_available: f64,
    restore_rate: f64,
}

/// What the client last learned about its bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    status: ThrottleStatus,
    at: Instant,
}

impl Bucket {
    /// Points available now, assuming the bucket kept refilling since it was observed.
    fn available_now(&self) -> f64 {
        let refilled = self.status.restore_rate * self.at.elapsed().as_secs_f64();
        (self.status.currently_available + refilled).min(self.status.maximum_available)
    }

    /// How long until `cost` points are available.
    fn wait_for(&self, cost: f64) -> Duration {
        let missing = cost - self.available_now();
        if missing <= 0.0 || self.status.restore_rate <= 0.0 {
            Duration::ZERO
        } else {
            // The figures come from the platform: a near-zero restore rate must not overflow (or panic) the wait.
            Duration::try_from_secs_f64(missing / self.status.restore_rate)
                .unwrap_or(MAX_BUCKET_WAIT)
                .min(MAX_BUCKET_WAIT)
        }
    }
}

/// How throttling went, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ThrottleStats {
    /// `THROTTLED` answers received.
    pub throttled: u32,
    /// Total time spent waiting for the bucket.
    pub waited: Duration,
}

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
            stats: ThrottleStats::default(),
        })
    }

    /// The most a query may request right now: the cap, or the bucket's size if smaller.
    fn cost_cap(&self) -> u32 {
        let maximum = self.bucket.map_or(f64::from(MAX_QUERY_COST), |b| b.status.maximum_available);
        (maximum.floor() as u32).clamp(1, MAX_QUERY_COST)
    }

    /// One page of products updated after `since`, continuing after `after`.
    pub async fn products_page(
        &mut self,
        since: Option<DateTime<Utc>>,
        after: Option<&str>,
        deadline: Instant,
    ) -> Result<Page<PlatformProduct>, PlatformError> {
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
        Ok(Page { items, next: next_cursor(&data.products.page_info)?, total_pages: None })
    }

    /// One page of orders updated after `since`, continuing after `after`.
    pub async fn orders_page(
        &mut self,
        since: Option<DateTime<Utc>>,
        after: Option<&str>,
        deadline: Instant,
    ) -> Result<Page<PlatformOrder>, PlatformError> {
        let query = since.map(updated_since);
        let plan = |cap| {
            let first = page_size(cap, |n| orders_cost(n, LINES_PER_ORDER));
            let variables = json!({ "first": first, "after": after, "query": query, "linesFirst": LINES_PER_ORDER });
            (variables, orders_cost(first, LINES_PER_ORDER))
        };
        let data: OrdersData = self.graphql(ORDERS_QUERY, plan, deadline).await?;
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
        Ok(Page { items, next: next_cursor(&data.orders.page_info)?, total_pages: None })
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

    /// Subscribes `uri` to every topic in [`WEBHOOK_TOPICS`] (`webhookSubscriptionCreate`, cost 10 each) that it
    /// is not subscribed to yet: the shop's subscriptions are read first, and an "already taken" answer (a race with
    /// another install) counts as subscribed, so a reinstall creates nothing twice. Returns how many it created.
    pub async fn register_webhooks(&mut self, uri: &str, deadline: Instant) -> Result<u32, PlatformError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Created {
            webhook_subscription_create: MutationResult,
        }
        const CREATE: &str = "mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, \
             $webhookSubscription: WebhookSubscriptionInput!) { webhookSubscriptionCreate(topic: $topic, \
             webhookSubscription: $webhookSubscription) { webhookSubscription { id } userErrors { field message } } }";
        let existing = self.webhook_subscriptions(deadline).await?;
        let mut created = 0;
        for topic in WEBHOOK_TOPICS.iter().map(|topic| graphql_topic(topic)) {
            if existing.iter().any(|s| s.uri == uri && s.topic == topic) {
                continue;
            }
            let variables = json!({ "topic": topic, "webhookSubscription": { "uri": uri, "format": "JSON" } });
            let answer: Created = self.graphql(CREATE, |_| (variables.clone(), MUTATION_COST), deadline).await?;
            match answer.webhook_subscription_create.user_errors.as_slice() {
                [] => created += 1,
                errors if errors.iter().all(|e| e.message.contains("already been taken")) => {}
                errors => return Err(user_errors(&topic, errors)),
            }
        }
        Ok(created)
    }

    /// Deletes every subscription of the shop that delivers to `uri` (`webhookSubscriptionDelete`, cost 10 each);
    /// others (another app instance's) stay. Returns how many it removed.
    pub async fn remove_webhooks(&mut self, uri: &str, deadline: Instant) -> Result<u32, PlatformError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Deleted {
            webhook_subscription_delete: MutationResult,
        }
        const DELETE: &str = "mutation WebhookSubscriptionDelete($id: ID!) { webhookSubscriptionDelete(id: $id) { \
             deletedWebhookSubscriptionId userErrors { field message } } }";
        let mut removed = 0;
        for subscription in self.webhook_subscriptions(deadline).await?.into_iter().filter(|s| s.uri == uri) {
            let variables = json!({ "id": subscription.id });
            let answer: Deleted = self.graphql(DELETE, |_| (variables.clone(), MUTATION_COST), deadline).await?;
            match answer.webhook_subscription_delete.user_errors.as_slice() {
                [] => removed += 1,
                errors => return Err(user_errors(&subscription.topic, errors)),
            }
        }
        Ok(removed)
    }

    /// Every webhook subscription the app has on the shop, across pages.
    async fn webhook_subscriptions(&mut self, deadline: Instant) -> Result<Vec<Subscription>, PlatformError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            webhook_subscriptions: Connection<Subscription>,
        }
        const QUERY: &str = "query WebhookSubscriptions($first: Int!, $after: String) { \
             webhookSubscriptions(first: $first, after: $after) { pageInfo { hasNextPage endCursor } \
             nodes { id topic uri } } }";
        let mut subscriptions = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let plan = |cap| {
                let first = page_size(cap, subscriptions_cost);
                (json!({ "first": first, "after": after }), subscriptions_cost(first))
            };
            let data: Data = self.graphql(QUERY, plan, deadline).await?;
            subscriptions.extend(data.webhook_subscriptions.nodes);
            match next_cursor(&data.webhook_subscriptions.page_info)? {
                Some(next) => after = Some(next),
                None => return Ok(subscriptions),
            }
        }
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

/// A webhook subscription as listed.
#[derive(Deserialize)]
struct Subscription {
    id: String,
    topic: String,
    #[serde(default)]
    uri: String,
}

/// The common part of a mutation's answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MutationResult {
    #[serde(default)]
    user_errors: Vec<UserError>,
}

#[derive(Deserialize)]
struct UserError {
    #[serde(default)]
    message: String,
}

fn user_errors(topic: &str, errors: &[UserError]) -> PlatformError {
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    PlatformError::Rejected(format!("webhook subscription {topic}: {}", messages.join("; ")))
}

fn missing_cursor(what: &str) -> PlatformError {
    PlatformError::Malformed(format!("{what}: hasNextPage without an endCursor"))
}

fn next_cursor(page_info: &PageInfo) -> Result<Option<String>, PlatformError> {
    match (page_info.has_next_page, &page_info.end_cursor) {
        (false, _) => Ok(None),
        (true, Some(cursor)) if !cursor.is_empty() => Ok(Some(cursor.clone())),
        (true, _) => Err(missing_cursor("pageInfo")),
    }
}

/// Collects per-record problems; a page with any is refused whole.
#[derive(Default)]
struct Invalid {
    count: u64,
    first: Option<String>,
}

impl Invalid {
    fn add(&mut self, detail: String) {
        self.count += 1;
        self.first.get_or_insert(detail);
    }

    fn check(self) -> Result<(), PlatformError> {
        match self.first {
            None => Ok(()),
            Some(detail) => Err(PlatformError::InvalidRecords { count: self.count, detail }),
        }
    }
}

fn invalid(record: &str, detail: impl std::fmt::Display) -> PlatformError {
    PlatformError::InvalidRecords { count: 1, detail: format!("{record}: {detail}") }
}

fn product_status(text: &str) -> ProductStatus {
    match text.to_ascii_uppercase().as_str() {
        "ACTIVE" => ProductStatus::Active,
        "ARCHIVED" => ProductStatus::Archived,
        // DRAFT, UNLISTED and anything newer: not on general sale.
        _ => ProductStatus::Draft,
    }
}

fn product_from_node(node: ProductNode, digits: u32) -> Result<PlatformProduct, PlatformError> {
    let mut variants = Vec::with_capacity(node.variants.nodes.len());
    for variant in node.variants.nodes {
        let price_minor = parse_amount(&variant.price, digits).map_err(|e| invalid(&variant.id, e))?;
        if price_minor < 0 {
            return Err(invalid(&variant.id, "negative price"));
        }
        let cost_minor = match variant.inventory_item.and_then(|item| item.unit_cost) {
            None => None,
            Some(cost) => Some(parse_amount(&cost.amount, digits).map_err(|e| invalid(&variant.id, e))?),
        };
        if cost_minor.is_some_and(|cost| cost < 0) {
            return Err(invalid(&variant.id, "negative unit cost"));
        }
        variants.push(VariantInput {
            external_id: variant.id,
            sku: variant.sku.unwrap_or_default(),
            title: variant.title,
            price_minor,
            cost_minor,
            inventory: variant.inventory_quantity.unwrap_or(0),
        });
    }
    Ok(PlatformProduct {
        input: ProductInput {
            external_id: node.id,
            title: node.title,
            description: node.description,
            vendor: node.vendor,
            category: node.product_type,
            status: product_status(&node.status),
            variants,
        },
        updated_at: node.updated_at,
    })
}

/// Maps Shopify's display statuses onto ours: cancelled wins, then refunds, then fulfilment, then payment.
fn order_status(cancelled: bool, financial: Option<&str>, fulfillment: &str) -> OrderStatus {
    let financial = financial.unwrap_or("").to_ascii_uppercase();
    if cancelled || matches!(financial.as_str(), "VOIDED" | "EXPIRED") {
        OrderStatus::Cancelled
    } else if financial == "REFUNDED" {
        OrderStatus::Refunded
    } else if fulfillment.eq_ignore_ascii_case("FULFILLED") {
        OrderStatus::Fulfilled
    } else if matches!(financial.as_str(), "PAID" | "PARTIALLY_REFUNDED") {
        OrderStatus::Paid
    } else {
        OrderStatus::Open
    }
}

fn order_from_node(node: OrderNode, digits: u32) -> Result<PlatformOrder, PlatformError> {
    let total_minor =
        parse_amount(&node.total_price_set.shop_money.amount, digits).map_err(|e| invalid(&node.id, e))?;
    let mut lines = Vec::with_capacity(node.line_items.nodes.len());
    for line in node.line_items.nodes {
        // A line whose quantity was edited to zero sold nothing.
        let Ok(quantity @ 1..) = i32::try_from(line.quantity) else { continue };
        let total_minor =
            parse_amount(&line.discounted_total_set.shop_money.amount, digits).map_err(|e| invalid(&node.id, e))?;
        lines.push(PlatformOrderLine {
            product_external_id: line.product.map(|p| p.id),
            variant_external_id: line.variant.map(|v| v.id),
            quantity,
            total_minor,
        });
    }
    Ok(PlatformOrder {
        status: order_status(
            node.cancelled_at.is_some(),
            node.display_financial_status.as_deref(),
            &node.display_fulfillment_status,
        ),
        placed_at: node.processed_at.unwrap_or(node.created_at),
        updated_at: node.updated_at,
        external_id: node.id,
        total_minor,
        lines,
    })
}

/// The credentials to use now: an expiring token within [`REFRESH_MARGIN`] of its expiry is exchanged for a new
/// pair first, and the pair is stored (one write) before it is used.
pub async fn fresh_credentials(
    platforms: &Platforms,
    shop: &ShopDomain,
    credentials: Credentials,
    secrets: &dyn Secrets,
    name: &SecretName,
    deadline: Instant,
) -> Result<Credentials, PlatformError> {
    let Credentials::Shopify { refresh_token: Some(refresh_token), expires_at: Some(expires_at), .. } = &credentials
    else {
        return Ok(credentials);
    };
    if *expires_at - Utc::now() > REFRESH_MARGIN {
        return Ok(credentials);
    }
    let grant = json!({ "grant_type": "refresh_token", "refresh_token": refresh_token.expose_secret() });
    let granted = token_grant(platforms, shop, grant, "refreshing the access token", deadline).await?;
    let renewed = granted.into_credentials(Some(refresh_token))?;
    secrets
        .put(name, renewed.to_secret())
        .await
        .map_err(|e| PlatformError::Credentials(format!("the refreshed token could not be stored: {e}")))?;
    tracing::info!(shop = %shop, "refreshed an expiring Shopify access token");
    Ok(renewed)
}

/// Exchanges an install's authorization `code` for an offline token, asking for the expiring kind (`expiring=1`)
/// that Shopify requires of public apps: an access token with its lifetime and a refresh token. A code Shopify
/// refuses (forged, used, expired, for another shop) is [`PlatformError::Unauthorized`]; a token without every
/// scope of `SHOPIFY_SCOPES` (a `write_` scope covers its `read_`) is [`PlatformError::Rejected`], since the sync
/// would fail on what is missing.
pub async fn exchange_code(
    platforms: &Platforms,
    shop: &ShopDomain,
    code: &str,
    deadline: Instant,
) -> Result<Credentials, PlatformError> {
    let grant = json!({ "code": code, "expiring": 1 });
    let granted = token_grant(platforms, shop, grant, "exchanging the authorization code", deadline).await?;
    let missing = missing_scopes(&platforms.shopify.scopes, granted.scope.as_deref().unwrap_or_default());
    if !missing.is_empty() {
        return Err(PlatformError::Rejected(format!("Shopify did not grant {}", missing.join(", "))));
    }
    granted.into_credentials(None)
}

/// The scopes of `requested` that `granted` (both comma-separated) does not cover.
fn missing_scopes<'a>(requested: &'a str, granted: &str) -> Vec<&'a str> {
    let granted: Vec<&str> = granted.split(',').map(str::trim).collect();
    requested
        .split(',')
        .map(str::trim)
        .filter(|scope| {
            let by_write = scope.strip_prefix("read_").map(|rest| format!("write_{rest}"));
            !granted.contains(scope) && by_write.is_none_or(|write| !granted.contains(&write.as_str()))
        })
        .collect()
}

/// What the token endpoint answers.
#[derive(Deserialize)]
struct Granted {
    access_token: String,
    expires_in: Option<i64>,
    refresh_token: Option<String>,
    /// The scopes granted, comma-separated.
    scope: Option<String>,
}

impl Granted {
    /// The stored form; a refresh that returns no new refresh token keeps `previous`.
    fn into_credentials(self, previous: Option<&SecretString>) -> Result<Credentials, PlatformError> {
        let expires_at = self
            .expires_in
            .map(|secs| super::token_expiry(secs, Utc::now()))
            .transpose()
            .map_err(|e| PlatformError::Malformed(format!("token endpoint: expires_in {e}")))?;
        let refresh_token = self.refresh_token.map(SecretString::from).or_else(|| previous.cloned());
        if expires_at.is_some() && refresh_token.is_none() {
            return Err(PlatformError::Malformed(
                "token endpoint: an expiring token came without a refresh token".into(),
            ));
        }
        Ok(Credentials::Shopify { access_token: SecretString::from(self.access_token), refresh_token, expires_at })
    }
}

/// One request to the shop's token endpoint (`SHOPIFY_TOKEN_URL_TEMPLATE`) with the app's client credentials and
/// `grant`'s fields; `doing` names it in errors.
async fn token_grant(
    platforms: &Platforms,
    shop: &ShopDomain,
    mut grant: Value,
    doing: &str,
    deadline: Instant,
) -> Result<Granted, PlatformError> {
    let settings = &platforms.shopify;
    let (Some(client_id), Some(client_secret)) = (&settings.client_id, &settings.client_secret) else {
        return Err(PlatformError::Credentials(format!(
            "{doing} needs SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET, which are not set"
        )));
    };
    grant["client_id"] = json!(client_id);
    grant["client_secret"] = json!(client_secret.expose_secret());
    let url = settings.token_url_template.replace("{shop}", shop.as_ref());
    let parsed = reqwest::Url::parse(&url).map_err(|e| PlatformError::Transport(e.to_string()))?;
    platforms.sync.store_egress().check_literal(&parsed)?;
    let fetched = http::send(platforms.retry_policy(), deadline, || {
        Ok(platforms.api_client.post(parsed.clone()).json(&grant).header(reqwest::header::ACCEPT, "application/json"))
    })
    .await?;
    if fetched.status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(PlatformError::Unavailable("the token endpoint is rate limiting; retrying later".into()));
    }
    if !fetched.status.is_success() {
        return Err(PlatformError::Unauthorized(format!(
            "{doing} answered HTTP {} ({})",
            fetched.status,
            excerpt(&fetched.body)
        )));
    }
    serde_json::from_slice(&fetched.body)
        .map_err(|_| PlatformError::Malformed(format!("{doing}: {}", excerpt(&fetched.body))))
}

/// The GraphQL id of a REST webhook record: `admin_graphql_api_id` when present, else built from `id`.
fn gid(value: &Value, kind: &str) -> Option<String> {
    if let Some(gid) = value.get("admin_graphql_api_id").and_then(Value::as_str) {
        return Some(gid.to_owned());
    }
    match value.get("id")? {
        Value::Number(n) => Some(format!("gid://shopify/{kind}/{n}")),
        Value::String(s) if !s.is_empty() => Some(format!("gid://shopify/{kind}/{s}")),
        _ => None,
    }
}

/// The product id a `products/delete` webhook names.
pub fn webhook_deleted_product(payload: &Value) -> Option<String> {
    gid(payload, "Product")
}

/// The order id an `orders/delete` webhook names.
pub fn webhook_deleted_order(payload: &Value) -> Option<String> {
    gid(payload, "Order")
}

/// The inventory item an `inventory_levels/update` webhook names.
pub fn webhook_inventory_item(payload: &Value) -> Option<String> {
    match payload.get("inventory_item_id")? {
        Value::Number(n) => Some(format!("gid://shopify/InventoryItem/{n}")),
        _ => None,
    }
}

#[derive(Deserialize)]
struct RestProduct {
    title: String,
    #[serde(default)]
    body_html: Option<String>,
    #[serde(default)]
    vendor: Option<String>,
    #[serde(default)]
    product_type: Option<String>,
    status: String,
    updated_at: DateTime<Utc>,
    #[serde(default)]
    variants: Vec<Value>,
}

#[derive(Deserialize)]
struct RestVariant {
    #[serde(default)]
    sku: Option<String>,
    title: String,
    price: String,
    #[serde(default)]
    inventory_quantity: Option<i64>,
}

/// A `products/create|update` webhook body (the REST representation) as a product. `None` when it cannot stand
/// alone (the REST form may cut long variant lists): the caller refetches the product instead.
pub fn webhook_product(payload: &Value, digits: u32) -> Result<Option<PlatformProduct>, PlatformError> {
    let id = gid(payload, "Product").ok_or_else(|| PlatformError::Malformed("the product has no id".into()))?;
    let rest: RestProduct =
        serde_json::from_value(payload.clone()).map_err(|e| PlatformError::Malformed(format!("{id}: {e}")))?;
    if rest.variants.len() >= 100 {
        return Ok(None);
    }
    let mut variants = Vec::with_capacity(rest.variants.len());
    for value in &rest.variants {
        let variant_id = gid(value, "ProductVariant")
            .ok_or_else(|| PlatformError::Malformed(format!("{id}: a variant has no id")))?;
        let variant: RestVariant = serde_json::from_value(value.clone())
            .map_err(|e| PlatformError::Malformed(format!("{variant_id}: {e}")))?;
        let price_minor = parse_amount(&variant.price, digits).map_err(|e| invalid(&variant_id, e))?;
        variants.push(VariantInput {
            external_id: variant_id,
            sku: variant.sku.unwrap_or_default(),
            title: variant.title,
            price_minor,
            cost_minor: None,
            inventory: variant.inventory_quantity.unwrap_or(0),
        });
    }
    Ok(Some(PlatformProduct {
        input: ProductInput {
            external_id: id,
            title: rest.title,
            description: plain_text(rest.body_html.as_deref().unwrap_or("")),
            vendor: rest.vendor.unwrap_or_default(),
            category: rest.product_type.unwrap_or_default(),
            status: product_status(&rest.status),
            variants,
        },
        updated_at: rest.updated_at,
    }))
}

#[derive(Deserialize)]
struct RestOrder {
    created_at: DateTime<Utc>,
    #[serde(default)]
    processed_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    #[serde(default)]
    cancelled_at: Option<DateTime<Utc>>,
    #[serde(default)]
    financial_status: Option<String>,
    #[serde(default)]
    fulfillment_status: Option<String>,
    total_price: String,
    #[serde(default)]
    line_items: Vec<RestLine>,
}

#[derive(Deserialize)]
struct RestLine {
    #[serde(default)]
    product_id: Option<u64>,
    #[serde(default)]
    variant_id: Option<u64>,
    quantity: i64,
    price: String,
    #[serde(default)]
    discount_allocations: Vec<RestDiscount>,
}

#[derive(Deserialize)]
struct RestDiscount {
    amount: String,
}

/// An `orders/*` webhook body (the REST representation) as an order. Line totals are price × quantity less the
/// line's discount allocations, which is what `discountedTotalSet` reports in GraphQL.
pub fn webhook_order(payload: &Value, digits: u32) -> Result<PlatformOrder, PlatformError> {
    let id = gid(payload, "Order").ok_or_else(|| PlatformError::Malformed("the order has no id".into()))?;
    let rest: RestOrder =
        serde_json::from_value(payload.clone()).map_err(|e| PlatformError::Malformed(format!("{id}: {e}")))?;
    let total_minor = parse_amount(&rest.total_price, digits).map_err(|e| invalid(&id, e))?;
    let mut lines = Vec::with_capacity(rest.line_items.len());
    for line in rest.line_items {
        let Ok(quantity @ 1..) = i32::try_from(line.quantity) else { continue };
        let price = parse_amount(&line.price, digits).map_err(|e| invalid(&id, e))?;
        let mut discounts = 0i64;
        for discount in &line.discount_allocations {
            discounts += parse_amount(&discount.amount, digits).map_err(|e| invalid(&id, e))?;
        }
        lines.push(PlatformOrderLine {
            product_external_id: line.product_id.map(|p| format!("gid://shopify/Product/{p}")),
            variant_external_id: line.variant_id.map(|v| format!("gid://shopify/ProductVariant/{v}")),
            quantity,
            total_minor: price * i64::from(quantity) - discounts,
        });
    }
    let fulfillment = rest.fulfillment_status.unwrap_or_default();
    Ok(PlatformOrder {
        status: order_status(rest.cancelled_at.is_some(), rest.financial_status.as_deref(), &fulfillment),
        placed_at: rest.processed_at.unwrap_or(rest.created_at),
        updated_at: rest.updated_at,
        external_id: id,
        total_minor,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_stay_under_the_cost_cap() {
        let products = page_size(MAX_QUERY_COST, |n| products_cost(n, VARIANTS_PER_PRODUCT));
        let orders = page_size(MAX_QUERY_COST, |n| orders_cost(n, LINES_PER_ORDER));
        assert!(products_cost(products, VARIANTS_PER_PRODUCT) <= MAX_QUERY_COST);
        assert!(products_cost(products + 1, VARIANTS_PER_PRODUCT) > MAX_QUERY_COST);
        assert!(orders_cost(orders, LINES_PER_ORDER) <= MAX_QUERY_COST);
        assert_eq!(page_size(MAX_QUERY_COST, variants_cost), 250);
        assert_eq!(page_size(100, |n| products_cost(n, MIN_VARIANTS_PER_PRODUCT)), 6, "a small bucket shrinks pages");
    }

    #[test]
    fn a_write_scope_covers_its_read_scope_and_nothing_else() {
        let requested = "read_products,read_orders,read_inventory";
        assert!(missing_scopes(requested, "read_products,read_orders,read_inventory").is_empty());
        assert!(missing_scopes(requested, "write_products,read_orders,write_inventory").is_empty());
        assert_eq!(missing_scopes(requested, "read_products"), ["read_orders", "read_inventory"]);
        assert_eq!(missing_scopes("write_products", "read_products"), ["write_products"]);
        assert_eq!(missing_scopes(requested, ""), ["read_products", "read_orders", "read_inventory"]);
    }

    #[test]
    fn webhook_topics_map_to_their_graphql_names() {
        let names: Vec<String> = WEBHOOK_TOPICS.iter().map(|t| graphql_topic(t)).collect();
        assert!(names.contains(&"INVENTORY_LEVELS_UPDATE".to_owned()), "{names:?}");
        assert!(names.contains(&"APP_UNINSTALLED".to_owned()));
        assert!(names.contains(&"ORDERS_UPDATED".to_owned()));
        assert_eq!(page_size(MAX_QUERY_COST, subscriptions_cost), 250);
    }

    #[test]
    fn single_variant_stores_get_larger_pages() {
        // Each variant costs 3: the variant, its inventory item and that item's unit cost.
        assert_eq!(page_size(MAX_QUERY_COST, |n| products_cost(n, MIN_VARIANTS_PER_PRODUCT)), 66);
        assert_eq!(page_size(MAX_QUERY_COST, |n| products_cost(n, VARIANTS_PER_PRODUCT)), 15);
    }

    #[test]
    fn the_search_filter_quotes_the_date() {
        let since = DateTime::parse_from_rfc3339("2026-11-01T08:30:15.123Z").expect("date").with_timezone(&Utc);
        assert_eq!(updated_since(since), "updated_at:>'2026-11-01T08:30:15Z'");
    }

    #[test]
    fn the_wait_is_the_missing_points_over_the_restore_rate() {
        let bucket = Bucket {
            status: ThrottleStatus { maximum_available: 1000.0, currently_available: 100.0, restore_rate: 50.0 },
            at: Instant::now(),
        };
        let wait = bucket.wait_for(600.0).as_secs_f64();
        assert!((9.9..=10.0).contains(&wait), "{wait}");
        assert_eq!(bucket.wait_for(50.0), Duration::ZERO);
        let hostile = Bucket {
            status: ThrottleStatus { maximum_available: 1e308, currently_available: 0.0, restore_rate: 1e-308 },
            at: Instant::now(),
        };
        assert_eq!(
            hostile.wait_for(1000.0),
            MAX_BUCKET_WAIT,
            "a near-zero restore rate neither panics nor waits forever"
        );
    }

    #[test]
    fn order_statuses_map_with_cancellation_first() {
        assert_eq!(order_status(true, Some("PAID"), "FULFILLED"), OrderStatus::Cancelled);
        assert_eq!(order_status(false, Some("REFUNDED"), "FULFILLED"), OrderStatus::Refunded);
        assert_eq!(order_status(false, Some("PAID"), "FULFILLED"), OrderStatus::Fulfilled);
        assert_eq!(order_status(false, Some("PAID"), "UNFULFILLED"), OrderStatus::Paid);
        assert_eq!(order_status(false, Some("PENDING"), "UNFULFILLED"), OrderStatus::Open);
        assert_eq!(order_status(false, None, "UNFULFILLED"), OrderStatus::Open);
    }

    #[test]
    fn rest_webhook_orders_subtract_line_discounts() {
        let payload = json!({
            "id": 450789469, "created_at": "2026-11-02T10:00:00-05:00", "updated_at": "2026-11-02T10:05:00-05:00",
            "financial_status": "paid", "fulfillment_status": null, "total_price": "41.97",
            "line_items": [
                {"product_id": 632910392, "variant_id": 808950810, "quantity": 3, "price": "12.99",
                 "discount_allocations": [{"amount": "3.00"}]},
                {"product_id": null, "variant_id": null, "quantity": 0, "price": "5.00"}
            ]
        });
        let order = webhook_order(&payload, 2).expect("order");
        assert_eq!(order.external_id, "gid://shopify/Order/450789469");
        assert_eq!(order.status, OrderStatus::Paid);
        assert_eq!(order.total_minor, 4197);
        assert_eq!(order.lines.len(), 1, "the zero-quantity line is dropped");
        assert_eq!(order.lines[0].total_minor, 3 * 1299 - 300);
        assert_eq!(order.lines[0].product_external_id.as_deref(), Some("gid://shopify/Product/632910392"));
        assert_eq!(order.placed_at.to_rfc3339(), "2026-11-02T15:00:00+00:00");
    }

    #[test]
    fn a_rest_webhook_product_with_a_long_variant_list_is_refetched_instead() {
        let variants: Vec<Value> =
            (0..100).map(|i| json!({"id": i, "title": "x", "price": "1.00", "inventory_quantity": 1})).collect();
        let payload = json!({"id": 1, "title": "Tee", "status": "active", "updated_at": "2026-11-02T10:00:00Z",
                             "variants": variants});
        assert_eq!(webhook_product(&payload, 2).expect("readable"), None);
    }
}
