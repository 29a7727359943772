//! WooCommerce through its REST API v3 (`<site>/wp-json/wc/v3/…`).
//!
//! - **Pages** of 100 (WordPress refuses more), following the `Link: <…>; rel="next"` header rather than building
//!   URLs, with `X-WP-TotalPages` for progress. Only links on the store's own site are followed, and credential
//!   parameters are stripped before a link is kept as a checkpoint.
//! - **Incremental** with `modified_after` and `dates_are_gmt=true`, ordered by id so pages stay stable while the
//!   store changes.
//! - **Variable products** keep price and stock on their variations, fetched from `/products/{id}/variations`.
//! - **Authentication** as the docs require: HTTP Basic over HTTPS (falling back to `consumer_key`/`consumer_secret`
//!   query parameters when the server strips the header), OAuth 1.0a with HMAC-SHA256 over plain HTTP.
//! - **Money** strings parsed exactly into minor units.
//! - **Unit cost** from the WooCommerce Cost of Goods extension's `_wc_cog_cost` meta field (on a simple product
//!   and on each variation), where the store has it; without it (or empty) the cost is unknown.
//! - **Webhooks** created (`POST /webhooks`) for the topics the sync applies unless the site has them already, and
//!   deleted on disconnect.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;
use tokio::time::Instant;

use super::{
    Credentials, Page, PlatformError, PlatformOrder, PlatformOrderLine, PlatformProduct, Platforms, address::SiteUrl,
    apportion_refund, excerpt, http, oauth1, parse_amount, parse_utc, plain_text,
};
use crate::{
    analytics::OrderStatus,
    catalogue::{ProductInput, ProductStatus, VariantInput},
};

/// The topics the sync applies: what a key approval subscribes to and what a store's `webhook` field lists.
pub const WEBHOOK_TOPICS: &[&str] =
    &["product.created", "product.updated", "product.deleted", "order.created", "order.updated", "order.deleted"];

/// WordPress's ceiling for `per_page`.
pub const PER_PAGE: u32 = 100;
/// `429` answers tolerated for one request.
const MAX_RATE_LIMITED: u32 = 5;

/// A connection to one WooCommerce site.
#[derive(Debug)]
pub struct WooConnector {
    platforms: Platforms,
    site: SiteUrl,
    consumer_key: SecretString,
    consumer_secret: SecretString,
    digits: u32,
    /// The server strips `Authorization`: send the keys as query parameters (HTTPS only).
    query_auth: bool,
}

#[derive(Deserialize)]
struct WooCategory {
    name: String,
}

#[derive(Deserialize)]
struct WooProduct {
    id: u64,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    short_description: String,
    status: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    regular_price: String,
    stock_quantity: Option<i64>,
    #[serde(default)]
    meta_data: Vec<WooMeta>,
    #[serde(default)]
    categories: Vec<WooCategory>,
    date_modified_gmt: Option<String>,
    date_created_gmt: Option<String>,
}

#[derive(Deserialize)]
struct WooAttribute {
    #[serde(default)]
    option: String,
}

#[derive(Deserialize)]
struct WooVariation {
    id: u64,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    regular_price: String,
    stock_quantity: Option<i64>,
    #[serde(default)]
    meta_data: Vec<WooMeta>,
    #[serde(default)]
    attributes: Vec<WooAttribute>,
}

/// One custom field of a product or variation.
#[derive(Deserialize)]
struct WooMeta {
    key: String,
    #[serde(default)]
    value: Value,
}

/// The meta field the WooCommerce Cost of Goods extension keeps a unit cost in.
const COST_META_KEY: &str = "_wc_cog_cost";

#[derive(Deserialize)]
struct WooOrder {
    id: u64,
    status: String,
    date_created_gmt: String,
    date_modified_gmt: Option<String>,
    total: String,
    #[serde(default)]
    line_items: Vec<WooLine>,
    /// The customer's id; 0 for a guest checkout.
    #[serde(default)]
    customer_id: u64,
    /// The order's refunds: the order lists each with its (negative) total only; `GET /orders/{id}/refunds` tells
    /// which lines they were for ([`WooRefundDetail`]).
    #[serde(default)]
    refunds: Vec<WooRefund>,
}

#[derive(Deserialize)]
struct WooRefund {
    total: String,
}

/// A refund as `GET /orders/{id}/refunds` lists it: its amount and the lines it refunded, if any (none for a refund
/// of an amount).
#[derive(Deserialize)]
struct WooRefundDetail {
    amount: String,
    #[serde(default)]
    line_items: Vec<WooRefundLine>,
}

/// A refunded line: negative quantity and total (before tax), and the order line it refunds in `meta_data`.
#[derive(Deserialize)]
struct WooRefundLine {
    #[serde(default)]
    quantity: i64,
    total: String,
    #[serde(default)]
    meta_data: Vec<WooMeta>,
}

/// The meta field a refund line names its order line in.
const REFUNDED_ITEM_KEY: &str = "_refunded_item_id";

impl WooRefundLine {
    /// The id of the order line refunded.
    fn refunded_item(&self) -> Option<u64> {
        match &self.meta_data.iter().find(|m| m.key == REFUNDED_ITEM_KEY)?.value {
            Value::String(text) => text.trim().parse().ok(),
            Value::Number(number) => number.as_u64(),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct WooLine {
    /// The line's id, which refunds name.
    #[serde(default)]
    id: u64,
    #[serde(default)]
    product_id: u64,
    #[serde(default)]
    variation_id: u64,
    quantity: i64,
    total: String,
}

/// The body of a WooCommerce error (`{code, message, data: {status}}`).
#[derive(Deserialize)]
struct WooError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl WooConnector {
    /// A connector for `site` with these credentials; money is read with `digits` decimals.
    pub fn new(
        platforms: &Platforms,
        site: &SiteUrl,
        credentials: &Credentials,
        digits: u32,
    ) -> Result<Self, PlatformError> {
        let Credentials::Woocommerce { consumer_key, consumer_secret, .. } = credentials else {
            return Err(PlatformError::Credentials("the stored credentials are not WooCommerce's".into()));
        };
        Ok(Self {
            platforms: platforms.clone(),
            site: site.clone(),
            consumer_key: consumer_key.clone(),
            consumer_secret: consumer_secret.clone(),
            digits,
            query_auth: false,
        })
    }

    fn first_page(&self, path: &str, since: Option<DateTime<Utc>>) -> reqwest::Url {
        let mut url = self.site.api(path);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("per_page", &PER_PAGE.to_string()).append_pair("page", "1");
            query.append_pair("orderby", "id").append_pair("order", "asc");
            if let Some(since) = since {
                query
                    .append_pair("modified_after", &since.format("%Y-%m-%dT%H:%M:%S").to_string())
                    .append_pair("dates_are_gmt", "true");
            }
        }
        url
    }

    /// Where a stored `next` link points, checked again (it is data we keep between runs).
    fn resume_at(&self, after: &str) -> Result<reqwest::Url, PlatformError> {
        let url = reqwest::Url::parse(after)
            .map_err(|_| PlatformError::Malformed("a stored next link is not a URL".into()))?;
        if self.site.contains(&url) {
            Ok(url)
        } else {
            Err(PlatformError::Malformed("a next link points off the site".into()))
        }
    }

    /// One page of products modified after `since`, continuing at the `after` link.
    pub async fn products_page(
        &mut self,
        since: Option<DateTime<Utc>>,
        after: Option<&str>,
        deadline: Instant,
    ) -> Result<Page<PlatformProduct>, PlatformError> {
        let url = match after {
            Some(after) => self.resume_at(after)?,
            None => self.first_page("products", since),
        };
        let (values, next, total_pages) = self.list(&url, deadline).await?;
        let mut items = Vec::with_capacity(values.len());
        let mut invalid = Invalid::default();
        for value in values {
            let product: WooProduct = match serde_json::from_value(value) {
                Ok(product) => product,
                Err(error) => {
                    invalid.add(format!("a product: {error}"));
                    continue;
                }
            };
            let variations =
                if product.kind == "variable" { Some(self.variations(product.id, deadline).await?) } else { None };
            match product_from(product, variations, self.digits) {
                Ok(product) => items.push(product),
                Err(detail) => invalid.add(detail),
            }
        }
        invalid.check()?;
        Ok(Page { items, next, total_pages, watermark: None })
    }

    /// One page of orders modified after `since`, continuing at the `after` link.
    pub async fn orders_page(
        &mut self,
        since: Option<DateTime<Utc>>,
        after: Option<&str>,
        deadline: Instant,
    ) -> Result<Page<PlatformOrder>, PlatformError> {
        let url = match after {
            Some(after) => self.resume_at(after)?,
            None => self.first_page("orders", since),
        };
        let (values, next, total_pages) = self.list(&url, deadline).await?;
        let mut items = Vec::with_capacity(values.len());
        let mut invalid = Invalid::default();
        for value in values {
            match serde_json::from_value::<WooOrder>(value) {
                Ok(order) => {
                    let refunds = self.refunds_of(&order, deadline).await?;
                    match order_from(order, self.digits, refunds.as_deref()) {
                        Ok(order) => items.push(order),
                        Err(detail) => invalid.add(detail),
                    }
                }
                Err(error) => invalid.add(format!("an order: {error}")),
            }
        }
        invalid.check()?;
        Ok(Page { items, next, total_pages, watermark: None })
    }

    /// Refetches orders by id, with which lines their refunds were for; deleted ones are skipped.
    pub async fn refresh_orders(
        &mut self,
        ids: &[String],
        deadline: Instant,
    ) -> Result<Vec<PlatformOrder>, PlatformError> {
        let mut orders = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(order) = self.record::<WooOrder>("orders", id, deadline).await? else { continue };
            let refunds = self.refunds_of(&order, deadline).await?;
            orders.push(
                order_from(order, self.digits, refunds.as_deref())
                    .map_err(|detail| PlatformError::InvalidRecords { count: 1, detail })?,
            );
        }
        Ok(orders)
    }

    /// The refunds of an order that has any, as `GET /orders/{id}/refunds` details them (`None` without refunds).
    async fn refunds_of(
        &mut self,
        order: &WooOrder,
        deadline: Instant,
    ) -> Result<Option<Vec<WooRefundDetail>>, PlatformError> {
        if order.refunds.is_empty() {
            return Ok(None);
        }
        let path = format!("orders/{}/refunds", order.id);
        self.every(&path, &format!("order {}: a refund", order.id), deadline).await.map(Some)
    }

    /// Refetches products by id (with their variations); deleted ones are skipped.
    pub async fn refresh_products(
        &mut self,
        ids: &[String],
        deadline: Instant,
    ) -> Result<Vec<PlatformProduct>, PlatformError> {
        let mut products = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(product) = self.record::<WooProduct>("products", id, deadline).await? else { continue };
            let variations =
                if product.kind == "variable" { Some(self.variations(product.id, deadline).await?) } else { None };
            products.push(
                product_from(product, variations, self.digits)
                    .map_err(|detail| PlatformError::InvalidRecords { count: 1, detail })?,
            );
        }
        Ok(products)
    }

    /// Every variation of a variable product, across its pages.
    async fn variations(&mut self, product: u64, deadline: Instant) -> Result<Vec<WooVariation>, PlatformError> {
        let path = format!("products/{product}/variations");
        self.every(&path, &format!("product {product}: a variation"), deadline).await
    }

    /// One record of `resource` by its id; `None` when the site has no such record (deleted, or not a number).
    async fn record<T: DeserializeOwned>(
        &mut self,
        resource: &str,
        id: &str,
        deadline: Instant,
    ) -> Result<Option<T>, PlatformError> {
        let Ok(numeric) = id.parse::<u64>() else { return Ok(None) };
        let fetched = self.get(&self.site.api(&format!("{resource}/{numeric}")), deadline).await?;
        if fetched.status.as_u16() == 404 {
            return Ok(None);
        }
        let value = self.json(fetched)?;
        let record = resource.trim_end_matches('s');
        serde_json::from_value(value).map(Some).map_err(|e| PlatformError::Malformed(format!("{record} {id}: {e}")))
    }

    /// Every record of the listing at `path`, across its pages; `what` names a record in errors.
    async fn every<T: DeserializeOwned>(
        &mut self,
        path: &str,
        what: &str,
        deadline: Instant,
    ) -> Result<Vec<T>, PlatformError> {
        let mut url = self.site.api(path);
        url.query_pairs_mut().append_pair("per_page", &PER_PAGE.to_string()).append_pair("page", "1");
        let mut records = Vec::new();
        loop {
            let (values, next, _) = self.list(&url, deadline).await?;
            for value in values {
                records.push(
                    serde_json::from_value(value)
                        .map_err(|e| PlatformError::InvalidRecords { count: 1, detail: format!("{what}: {e}") })?,
                );
            }
            match next {
                Some(next) => url = self.resume_at(&next)?,
                None => return Ok(records),
            }
        }
    }

    /// A listing page: its records, the checked `next` link, and the total page count.
    async fn list(
        &mut self,
        url: &reqwest::Url,
        deadline: Instant,
    ) -> Result<(Vec<Value>, Option<String>, Option<u64>), PlatformError> {
        let fetched = self.get(url, deadline).await?;
        let total_pages = header_number(&fetched, "x-wp-totalpages");
        let next = match next_link(&fetched) {
            Some(link) => {
                let mut link = reqwest::Url::parse(&link)
                    .map_err(|_| PlatformError::Malformed("the Link header's next URL is not a URL".into()))?;
                if !self.site.contains(&link) {
                    return Err(PlatformError::Malformed("the Link header points off the site".into()));
                }
                strip_credentials(&mut link);
                Some(link.to_string())
            }
            None => None,
        };
        match self.json(fetched)? {
            Value::Array(values) => Ok((values, next, total_pages)),
            other => Err(PlatformError::Malformed(format!("expected a JSON array, got {}", kind_of(&other)))),
        }
    }

    /// The body as JSON, or the error the status stands for.
    fn json(&self, fetched: http::Fetched) -> Result<Value, PlatformError> {
        let status = fetched.status.as_u16();
        if !(200..300).contains(&status) {
            let detail = match serde_json::from_slice::<WooError>(&fetched.body) {
                Ok(error) if !error.code.is_empty() => format!("{}: {}", error.code, error.message),
                _ => excerpt(&fetched.body),
            };
            return Err(match status {
                301 | 302 | 303 | 307 | 308 => PlatformError::Transport(format!(
                    "the site redirects (HTTP {status}); connect it with the address it redirects to"
                )),
                401 | 403 => PlatformError::Unauthorized(format!("HTTP {status}: {detail}")),
                404 => PlatformError::Rejected(format!(
                    "HTTP 404: {detail} (the REST API needs WooCommerce 3.5+ and pretty permalinks)"
                )),
                _ => PlatformError::Rejected(format!("HTTP {status}: {detail}")),
            });
        }
        serde_json::from_slice(&fetched.body)
            .map_err(|_| PlatformError::Malformed(format!("the response is not JSON ({})", excerpt(&fetched.body))))
    }

    /// GETs `url` with authentication, honouring `429 Retry-After`.
    async fn get(&mut self, url: &reqwest::Url, deadline: Instant) -> Result<http::Fetched, PlatformError> {
        self.call(&reqwest::Method::GET, url, None, deadline).await
    }

    /// Sends `method url` (with a JSON `body`) with authentication, honouring `429 Retry-After`.
    async fn call(
        &mut self,
        method: &reqwest::Method,
        url: &reqwest::Url,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<http::Fetched, PlatformError> {
        self.platforms.sync.store_egress().check_literal(url)?;
        let mut rate_limited = 0;
        loop {
            let fetched =
                http::send(self.platforms.retry_policy(), deadline, || Ok(self.request(method, url, body))).await?;
            match fetched.status.as_u16() {
                401 if self.site.is_https() && !self.query_auth && mentions_missing_key(&fetched.body) => {
                    // The docs' fallback for servers that strip the Authorization header.
                    self.query_auth = true;
                }
                429 if rate_limited < MAX_RATE_LIMITED => {
                    rate_limited += 1;
                    let wait = fetched.retry_after().unwrap_or(Duration::from_secs(1));
                    if Instant::now() + wait >= deadline {
                        return Err(PlatformError::OutOfTime);
                    }
                    tokio::time::sleep(wait).await;
                }
                _ => return Ok(fetched),
            }
        }
    }

    fn request(&self, method: &reqwest::Method, url: &reqwest::Url, body: Option<&Value>) -> reqwest::RequestBuilder {
        let client = &self.platforms.store_client;
        let (key, secret) = (self.consumer_key.expose_secret(), self.consumer_secret.expose_secret());
        let request = if !self.site.is_https() {
            client.request(method.clone(), oauth1::sign(method.as_str(), url, key, secret))
        } else if self.query_auth {
            let mut url = url.clone();
            url.query_pairs_mut().append_pair("consumer_key", key).append_pair("consumer_secret", secret);
            client.request(method.clone(), url)
        } else {
            client.request(method.clone(), url.clone()).basic_auth(key, Some(secret))
        };
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        request.header(reqwest::header::ACCEPT, "application/json")
    }

    /// Creates a webhook (`POST /webhooks`) delivering to `delivery_url`, signed with `secret`, for every topic in
    /// [`WEBHOOK_TOPICS`] the site does not deliver there yet, so a second approval creates nothing twice. Returns
    /// how many it created.
    pub async fn register_webhooks(
        &mut self,
        delivery_url: &str,
        secret: &SecretString,
        deadline: Instant,
    ) -> Result<u32, PlatformError> {
        let existing = self.webhooks(deadline).await?;
        let mut created = 0;
        for topic in WEBHOOK_TOPICS {
            if existing.iter().any(|w| w.delivery_url == delivery_url && w.topic == *topic) {
                continue;
            }
            let body = serde_json::json!({
                "name": format!("Retail AI Advisor: {topic}"), "topic": topic, "delivery_url": delivery_url,
                "secret": secret.expose_secret(), "status": "active",
            });
            let fetched = self.call(&reqwest::Method::POST, &self.site.api("webhooks"), Some(&body), deadline).await?;
            self.json(fetched)?;
            created += 1;
        }
        Ok(created)
    }

    /// Deletes (`DELETE /webhooks/{id}?force=true`) every webhook of the site that delivers to `delivery_url`.
    /// Returns how many it removed.
    pub async fn remove_webhooks(&mut self, delivery_url: &str, deadline: Instant) -> Result<u32, PlatformError> {
        let mut removed = 0;
        for webhook in self.webhooks(deadline).await?.into_iter().filter(|w| w.delivery_url == delivery_url) {
            let mut url = self.site.api(&format!("webhooks/{}", webhook.id));
            url.query_pairs_mut().append_pair("force", "true");
            let fetched = self.call(&reqwest::Method::DELETE, &url, None, deadline).await?;
            self.json(fetched)?;
            removed += 1;
        }
        Ok(removed)
    }

    /// Every webhook of the site, across pages.
    async fn webhooks(&mut self, deadline: Instant) -> Result<Vec<WooWebhook>, PlatformError> {
        let mut url = self.site.api("webhooks");
        url.query_pairs_mut().append_pair("per_page", &PER_PAGE.to_string()).append_pair("page", "1");
        let mut webhooks = Vec::new();
        loop {
            let (values, next, _) = self.list(&url, deadline).await?;
            for value in values {
                webhooks.push(
                    serde_json::from_value(value).map_err(|e| PlatformError::Malformed(format!("a webhook: {e}")))?,
                );
            }
            match next {
                Some(next) => url = self.resume_at(&next)?,
                None => return Ok(webhooks),
            }
        }
    }
}

/// A webhook as the site lists it.
#[derive(Deserialize)]
struct WooWebhook {
    id: u64,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    delivery_url: String,
}

fn mentions_missing_key(body: &[u8]) -> bool {
    serde_json::from_slice::<WooError>(body).is_ok_and(|e| e.message.to_ascii_lowercase().contains("consumer key"))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn header_number(fetched: &http::Fetched, name: &str) -> Option<u64> {
    fetched.headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The `rel="next"` target of an RFC 8288 `Link` header.
pub fn next_link(fetched: &http::Fetched) -> Option<String> {
    fetched.headers.get_all(reqwest::header::LINK).iter().filter_map(|v| v.to_str().ok()).find_map(|header| {
        header.split(',').find_map(|part| {
            let (target, params) = part.trim().split_once('>')?;
            let target = target.trim().strip_prefix('<')?;
            let is_next = params.split(';').any(|param| {
                let param = param.trim();
                param
                    .strip_prefix("rel=")
                    .is_some_and(|rel| rel.trim_matches('"').split_whitespace().any(|r| r.eq_ignore_ascii_case("next")))
            });
            is_next.then(|| target.to_owned())
        })
    })
}

/// Removes `oauth_*` and key parameters a server may echo into its pagination links.
fn strip_credentials(url: &mut reqwest::Url) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !oauth1::is_credential_param(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.set_query(None);
    if !kept.is_empty() {
        url.query_pairs_mut().extend_pairs(kept);
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

/// `price`, else `regular_price`, else nothing to sell it for yet (0).
fn price_of(id: u64, price: &str, regular: &str, digits: u32) -> Result<i64, String> {
    let text = if !price.trim().is_empty() { price } else { regular };
    if text.trim().is_empty() {
        return Ok(0);
    }
    match parse_amount(text, digits) {
        Ok(minor) if minor >= 0 => Ok(minor),
        Ok(_) => Err(format!("{id}: negative price")),
        Err(error) => Err(format!("{id}: {error}")),
    }
}

/// The unit cost in `_wc_cog_cost`: a decimal string (or number) in the store's currency; absent or empty when the
/// store keeps none.
fn cost_of(id: u64, meta: &[WooMeta], digits: u32) -> Result<Option<i64>, String> {
    let Some(field) = meta.iter().find(|m| m.key == COST_META_KEY) else { return Ok(None) };
    let text = match &field.value {
        Value::String(text) if text.trim().is_empty() => return Ok(None),
        Value::String(text) => text.trim().to_owned(),
        Value::Number(number) => number.to_string(),
        Value::Null => return Ok(None),
        _ => return Err(format!("{id}: {COST_META_KEY} is not an amount")),
    };
    match parse_amount(&text, digits) {
        Ok(minor) if minor >= 0 => Ok(Some(minor)),
        Ok(_) => Err(format!("{id}: negative unit cost")),
        Err(error) => Err(format!("{id}: {COST_META_KEY}: {error}")),
    }
}

fn product_status(text: &str) -> ProductStatus {
    match text {
        "publish" => ProductStatus::Active,
        "trash" => ProductStatus::Archived,
        // draft, pending, private, future
        _ => ProductStatus::Draft,
    }
}

fn modified_at(modified: Option<&str>, created: Option<&str>, id: u64) -> Result<DateTime<Utc>, String> {
    match modified.or(created) {
        Some(text) => parse_utc(text).map_err(|e| format!("{id}: {e}")),
        None => Ok(DateTime::UNIX_EPOCH),
    }
}

fn product_from(
    product: WooProduct,
    variations: Option<Vec<WooVariation>>,
    digits: u32,
) -> Result<PlatformProduct, String> {
    let updated_at =
        modified_at(product.date_modified_gmt.as_deref(), product.date_created_gmt.as_deref(), product.id)?;
    let variants = match variations {
        Some(variations) => variations
            .into_iter()
            .map(|v| {
                Ok(VariantInput {
                    external_id: v.id.to_string(),
                    price_minor: price_of(v.id, &v.price, &v.regular_price, digits)?,
                    sku: v.sku,
                    title: v.attributes.iter().map(|a| a.option.as_str()).collect::<Vec<_>>().join(" / "),
                    cost_minor: cost_of(v.id, &v.meta_data, digits)?,
                    inventory: v.stock_quantity.unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, String>>()?,
        None => vec![VariantInput {
            external_id: product.id.to_string(),
            price_minor: price_of(product.id, &product.price, &product.regular_price, digits)?,
            sku: product.sku.clone(),
            title: String::new(),
            cost_minor: cost_of(product.id, &product.meta_data, digits)?,
            inventory: product.stock_quantity.unwrap_or(0),
        }],
    };
    let description =
        if product.description.trim().is_empty() { &product.short_description } else { &product.description };
    Ok(PlatformProduct {
        input: ProductInput {
            external_id: product.id.to_string(),
            title: product.name,
            description: plain_text(description),
            vendor: String::new(),
            category: product.categories.into_iter().next().map(|c| c.name).unwrap_or_default(),
            status: product_status(&product.status),
            variants,
        },
        updated_at,
    })
}

fn order_status(text: &str) -> OrderStatus {
    match text {
        "processing" => OrderStatus::Paid,
        "completed" => OrderStatus::Fulfilled,
        "cancelled" | "failed" | "trash" => OrderStatus::Cancelled,
        "refunded" => OrderStatus::Refunded,
        // pending, on-hold, checkout-draft, custom statuses
        _ => OrderStatus::Open,
    }
}

/// An order as a platform record. With `refunds` detailed (the sync fetches them), each refunded line carries its
/// own refunded units and amount, and only refunds of an amount are spread over the lines; without (a webhook's
/// payload lists refunds by total only), every refund is spread over the lines by their totals.
fn order_from(order: WooOrder, digits: u32, refunds: Option<&[WooRefundDetail]>) -> Result<PlatformOrder, String> {
    let placed_at = parse_utc(&order.date_created_gmt).map_err(|e| format!("order {}: {e}", order.id))?;
    let updated_at = match &order.date_modified_gmt {
        Some(text) => parse_utc(text).map_err(|e| format!("order {}: {e}", order.id))?,
        None => placed_at,
    };
    let money = |text: &str| parse_amount(text, digits).map_err(|e| format!("order {}: {e}", order.id));
    let total_minor = money(&order.total)?;
    let mut line_ids = Vec::with_capacity(order.line_items.len());
    let mut lines = Vec::with_capacity(order.line_items.len());
    for line in &order.line_items {
        let Ok(quantity @ 1..) = i32::try_from(line.quantity) else { continue };
        let total_minor = money(&line.total)?;
        let product = (line.product_id != 0).then(|| line.product_id.to_string());
        let variant = match line.variation_id {
            0 => product.clone(),
            id => Some(id.to_string()),
        };
        line_ids.push(line.id);
        lines.push(PlatformOrderLine::sold(product, variant, quantity, total_minor));
    }
    let mut amounts = 0i64;
    match refunds {
        Some(refunds) => {
            for refund in refunds {
                if refund.line_items.is_empty() {
                    amounts += money(&refund.amount)?.abs();
                }
                for refunded in &refund.line_items {
                    let item = refunded.refunded_item();
                    let Some(index) = line_ids.iter().position(|id| Some(*id) == item) else {
                        return Err(format!(
                            "order {}: a refund names line {item:?}, which it does not have",
                            order.id
                        ));
                    };
                    let line = &mut lines[index];
                    let units = i32::try_from(refunded.quantity.unsigned_abs()).unwrap_or(i32::MAX);
                    line.refunded_quantity = (line.refunded_quantity.saturating_add(units)).min(line.quantity);
                    line.refunded_minor =
                        (line.refunded_minor + money(&refunded.total)?.abs()).min(line.total_minor.max(0));
                }
            }
        }
        None => {
            for refund in &order.refunds {
                amounts += money(&refund.total)?.abs();
            }
        }
    }
    apportion_refund(&mut lines, amounts);
    Ok(PlatformOrder {
        external_id: order.id.to_string(),
        placed_at,
        updated_at,
        status: order_status(&order.status),
        total_minor,
        lines,
        customer_external_id: (order.customer_id != 0).then(|| order.customer_id.to_string()),
    })
}

/// A `product.created|updated` webhook body as a product. `None` for a variable product: its variations are not in
/// the payload, so the caller refetches it.
pub fn webhook_product(payload: &Value, digits: u32) -> Result<Option<PlatformProduct>, PlatformError> {
    let product: WooProduct =
        serde_json::from_value(payload.clone()).map_err(|e| PlatformError::Malformed(format!("product: {e}")))?;
    if product.kind == "variable" {
        return Ok(None);
    }
    product_from(product, None, digits).map(Some).map_err(|detail| PlatformError::InvalidRecords { count: 1, detail })
}

/// An `order.created|updated` webhook body as an order.
pub fn webhook_order(payload: &Value, digits: u32) -> Result<PlatformOrder, PlatformError> {
    let order: WooOrder =
        serde_json::from_value(payload.clone()).map_err(|e| PlatformError::Malformed(format!("order: {e}")))?;
    order_from(order, digits, None).map_err(|detail| PlatformError::InvalidRecords { count: 1, detail })
}

/// Whether an order webhook's body lists refunds (which lines they were for takes another request).
pub fn has_refunds(payload: &Value) -> bool {
    payload.get("refunds").and_then(Value::as_array).is_some_and(|refunds| !refunds.is_empty())
}

/// The record id a `*.deleted` webhook names.
pub fn webhook_deleted_id(payload: &Value) -> Option<String> {
    match payload.get("id")? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};
    use serde_json::json;

    use super::*;

    fn fetched_with_link(link: &str) -> http::Fetched {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::LINK, HeaderValue::from_str(link).expect("header"));
        http::Fetched { status: reqwest::StatusCode::OK, headers, body: Vec::new() }
    }

    #[test]
    fn the_next_link_is_found_among_other_relations() {
        let link = r#"<https://s.test/wp-json/wc/v3/products?page=1>; rel="prev", <https://s.test/wp-json/wc/v3/products?page=3>; rel="next", <https://s.test/wp-json/wc/v3/products?page=9>; rel="last""#;
        assert_eq!(
            next_link(&fetched_with_link(link)).as_deref(),
            Some("https://s.test/wp-json/wc/v3/products?page=3")
        );
        assert_eq!(next_link(&fetched_with_link(r#"<https://s.test/x?page=1>; rel="prev""#)), None);
    }

    #[test]
    fn echoed_credentials_are_stripped_from_links() {
        let mut url = reqwest::Url::parse(
            "http://s.test/wp-json/wc/v3/products?page=2&oauth_signature=abc&oauth_nonce=n&consumer_key=ck_1&per_page=100",
        )
        .expect("url");
        strip_credentials(&mut url);
        assert_eq!(url.as_str(), "http://s.test/wp-json/wc/v3/products?page=2&per_page=100");
    }

    #[test]
    fn variable_products_take_price_and_stock_from_variations() {
        let product: WooProduct = serde_json::from_value(json!({
            "id": 7, "name": "Tee", "status": "publish", "type": "variable", "price": "",
            "categories": [{"name": "Tops"}], "date_modified_gmt": "2026-11-01T10:00:00"
        }))
        .expect("product");
        let variations = vec![
            serde_json::from_value(json!({"id": 71, "sku": "T-S", "price": "9.50", "stock_quantity": 3,
                "attributes": [{"name": "Size", "option": "S"}, {"name": "Colour", "option": "Red"}]}))
            .expect("variation"),
            serde_json::from_value(json!({"id": 72, "price": "", "regular_price": "11", "stock_quantity": null}))
                .expect("variation"),
        ];
        let product = product_from(product, Some(variations), 2).expect("valid");
        assert_eq!(product.input.category, "Tops");
        assert_eq!(product.input.variants[0].title, "S / Red");
        assert_eq!(product.input.variants[0].price_minor, 950);
        assert_eq!(product.input.variants[1].price_minor, 1100);
        assert_eq!(product.input.variants[1].inventory, 0);
        assert_eq!(product.updated_at.to_rfc3339(), "2026-11-01T10:00:00+00:00");
    }

    #[test]
    fn unit_costs_come_from_the_cost_of_goods_meta_field_and_are_unknown_without_it() {
        let simple = |meta: Value| {
            let product: WooProduct = serde_json::from_value(json!({
                "id": 8, "name": "Mug", "status": "publish", "type": "simple", "price": "9.00", "meta_data": meta
            }))
            .expect("product");
            product_from(product, None, 2).map(|p| p.input.variants[0].cost_minor)
        };
        assert_eq!(simple(json!([{"id": 1, "key": "_wc_cog_cost", "value": "4.2"}])), Ok(Some(420)));
        assert_eq!(simple(json!([{"id": 1, "key": "_wc_cog_cost", "value": 3}])), Ok(Some(300)));
        assert_eq!(simple(json!([{"id": 1, "key": "_wc_cog_cost", "value": ""}])), Ok(None), "empty: unknown");
        assert_eq!(simple(json!([{"id": 1, "key": "_other", "value": "1.00"}])), Ok(None), "no such field: unknown");
        assert_eq!(simple(json!([])), Ok(None));
        assert!(simple(json!([{"id": 1, "key": "_wc_cog_cost", "value": "-1.00"}])).is_err());
        assert!(simple(json!([{"id": 1, "key": "_wc_cog_cost", "value": "cheap"}])).is_err());
    }

    #[test]
    fn order_lines_keep_exact_money_and_map_statuses() {
        let order: WooOrder = serde_json::from_value(json!({
            "id": 99, "status": "completed", "date_created_gmt": "2026-11-01T09:00:00",
            "date_modified_gmt": "2026-11-02T09:00:00", "total": "30.10",
            "line_items": [{"product_id": 7, "variation_id": 71, "quantity": 2, "total": "19.00"},
                           {"product_id": 8, "variation_id": 0, "quantity": 1, "total": "6.10"}]
        }))
        .expect("order");
        let order = order_from(order, 2, None).expect("valid");
        assert_eq!(order.status, OrderStatus::Fulfilled);
        assert_eq!(order.total_minor, 3010);
        assert_eq!(order.lines[0].variant_external_id.as_deref(), Some("71"));
        assert_eq!(order.lines[1].variant_external_id.as_deref(), Some("8"), "a simple product is its own variant");
        assert_eq!(order.lines.iter().map(|l| l.refunded_minor).sum::<i64>(), 0, "no refunds");

        let refunded: WooOrder = serde_json::from_value(json!({
            "id": 100, "status": "completed", "date_created_gmt": "2026-11-01T09:00:00", "total": "30.10",
            "line_items": [{"product_id": 7, "quantity": 2, "total": "19.00"}],
            "refunds": [{"id": 5, "reason": "", "total": "-4.00"}, {"id": 6, "reason": "", "total": "-1.50"}]
        }))
        .expect("order");
        let refunded = order_from(refunded, 2, None).expect("valid");
        assert_eq!(refunded.lines[0].refunded_minor, 550, "every refund of the order");
    }

    #[test]
    fn detailed_refunds_land_on_the_lines_they_name_and_only_amounts_are_spread() {
        let order = || -> WooOrder {
            serde_json::from_value(json!({
                "id": 100, "status": "completed", "date_created_gmt": "2026-11-01T09:00:00", "total": "30.00",
                "line_items": [{"id": 1, "product_id": 7, "quantity": 2, "total": "20.00"},
                               {"id": 2, "product_id": 8, "quantity": 1, "total": "10.00"}],
                "refunds": [{"id": 5, "total": "-10.00"}, {"id": 6, "total": "-3.00"}]
            }))
            .expect("order")
        };
        let details: Vec<WooRefundDetail> = serde_json::from_value(json!([
            { "id": 5, "amount": "10.00", "line_items": [{ "id": 9, "quantity": -1, "total": "-10.00",
              "meta_data": [{ "id": 3, "key": "_refunded_item_id", "value": "1" }] }] },
            { "id": 6, "amount": "3.00", "line_items": [] }
        ]))
        .expect("refunds");
        let lines = order_from(order(), 2, Some(&details)).expect("valid").lines;
        let refunded: Vec<(i32, i64)> = lines.iter().map(|l| (l.refunded_quantity, l.refunded_minor)).collect();
        // One unit of line 1 (10.00); the 3.00 of no line spread over what is left: 10.00 and 10.00.
        assert_eq!(refunded, [(1, 1150), (0, 150)]);
        let stray: Vec<WooRefundDetail> = serde_json::from_value(json!([
            { "amount": "1.00", "line_items": [{ "quantity": -1, "total": "-1.00",
              "meta_data": [{ "key": "_refunded_item_id", "value": 77 }] }] }
        ]))
        .expect("refunds");
        assert!(order_from(order(), 2, Some(&stray)).is_err(), "a refund of a line the order lacks is refused");
    }

    #[tokio::test]
    async fn https_sites_use_basic_auth_and_plain_http_sites_oauth_signatures() {
        let settings =
            crate::config::Settings::load(&|name: &str| (name == "DATABASE_URL").then(|| "sqlite://x.db".to_owned()))
                .expect("settings");
        let platforms = Platforms::new(settings.shopify, settings.sync).expect("clients");
        let credentials = Credentials::Woocommerce {
            consumer_key: SecretString::from("ck_key"),
            consumer_secret: SecretString::from("cs_secret"),
            webhook_secret: SecretString::from("wh"),
        };
        let https = SiteUrl::parse("https://shop.example.com").expect("site");
        let plain = SiteUrl::parse("http://shop.example.com").expect("site");
        let tls = WooConnector::new(&platforms, &https, &credentials, 2).expect("connector");
        let http = WooConnector::new(&platforms, &plain, &credentials, 2).expect("connector");

        let basic = tls.request(&reqwest::Method::GET, &https.api("products"), None).build().expect("request");
        let signed = http.request(&reqwest::Method::GET, &plain.api("products"), None).build().expect("request");

        let authorization = basic.headers()[reqwest::header::AUTHORIZATION].to_str().expect("ASCII");
        assert!(authorization.starts_with("Basic "), "{authorization}");
        assert!(!basic.url().as_str().contains("cs_secret"));
        assert!(signed.headers().get(reqwest::header::AUTHORIZATION).is_none());
        let params: Vec<String> = signed.url().query_pairs().map(|(k, _)| k.into_owned()).collect();
        assert!(params.contains(&"oauth_signature".to_owned()) && params.contains(&"oauth_nonce".to_owned()));
        assert!(!signed.url().as_str().contains("cs_secret"), "the secret is never sent over plain HTTP");
    }
}
