//! The commerce platforms we sync from: Shopify (GraphQL Admin API only) and WooCommerce (REST API v3). Each
//! connector turns the platform's pages into our inputs ([`PlatformProduct`], [`PlatformOrder`]) and obeys the
//! platform's own rate-limit signals; the sync engine ([`crate::sync`]) decides what to fetch and stores it.
//!
//! # Layout
//! - [`address`]: shop domains and site URLs parsed at the edge (the SSRF guard is [`crate::egress`]).
//! - [`http`]: one request with bounded retries (5xx, timeouts) and jittered backoff, within a deadline.
//! - [`shopify`]: GraphQL queries sized under the cost cap, throttling from `throttleStatus`, nested pagination,
//!   install code exchange and expiring-token refresh, webhook subscriptions, and webhook payloads.
//! - [`woocommerce`]: `Link`-header pagination, variations, HTTP Basic over TLS and OAuth 1.0a over plain HTTP,
//!   webhook creation, and webhook payloads.
//!
//! Endpoints are settings (`SHOPIFY_ADMIN_URL_TEMPLATE`; a WooCommerce store is its own site URL), so tests point
//! the connectors at protocol fakes on loopback.

use std::{fmt, sync::Arc, time::Duration};

use chrono::{DateTime, NaiveDateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::{
    analytics::OrderStatus,
    catalogue::ProductInput,
    config::{ShopifySettings, SyncSettings},
    domain::ParseError,
    egress::{EgressPolicy, RefusedAddress},
};

pub mod address;
pub mod http;
pub mod oauth1;
pub mod shopify;
pub mod woocommerce;

/// A platform a store can be connected from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Shopify.
    Shopify,
    /// WooCommerce.
    Woocommerce,
}

impl Platform {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shopify => "shopify",
            Self::Woocommerce => "woocommerce",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match text {
            "shopify" => Ok(Self::Shopify),
            "woocommerce" => Ok(Self::Woocommerce),
            _ => Err(ParseError::new(format!("`{text}` is not one of shopify, woocommerce"))),
        }
    }
}

/// What a connector could not do. The text is safe to store in a sync job and show to the merchant: it never
/// contains credentials or more than a short excerpt of a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// The time budget ran out before the request could be made or answered; the work is left for later.
    #[error("the time budget ran out")]
    OutOfTime,
    /// The platform kept failing (5xx, timeouts, dropped connections) through every retry.
    #[error("the platform is unavailable: {0}")]
    Unavailable(String),
    /// The platform refused our credentials (401/403), or refreshing them failed.
    #[error("the platform refused the credentials: {0}")]
    Unauthorized(String),
    /// The platform refused the request itself (another 4xx, or GraphQL errors).
    #[error("the platform refused the request: {0}")]
    Rejected(String),
    /// The response cannot be read (not JSON, truncated, missing fields, wrong types).
    #[error("malformed response: {0}")]
    Malformed(String),
    /// The page was readable but some of its records are not valid (an amount that is not money, a date that is
    /// not a date); the page is refused as a whole.
    #[error("{count} record(s) on the page are invalid: {detail}")]
    InvalidRecords {
        /// How many records on the page are invalid.
        count: u64,
        /// The first problem.
        detail: String,
    },
    /// The store's address resolves somewhere stores may not point.
    #[error("{0}")]
    ForbiddenAddress(String),
    /// The stored credentials are missing or unreadable, or the app lacks what they need.
    #[error("credentials problem: {0}")]
    Credentials(String),
    /// Any other transport failure (a redirect we do not follow, a TLS error).
    #[error("request failed: {0}")]
    Transport(String),
}

/// A product with the platform's last-modified time (which orders versions of one record).
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformProduct {
    /// The product, ready to upsert.
    pub input: ProductInput,
    /// When the platform last changed it.
    pub updated_at: DateTime<Utc>,
}

/// An order as the platform describes it; product and variant ids are still the platform's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformOrder {
    /// The platform's order id.
    pub external_id: String,
    /// When it was placed.
    pub placed_at: DateTime<Utc>,
    /// When the platform last changed it.
    pub updated_at: DateTime<Utc>,
    /// Where it stands.
    pub status: OrderStatus,
    /// Total with shipping and tax, minor units.
    pub total_minor: i64,
    /// Its lines.
    pub lines: Vec<PlatformOrderLine>,
    /// The platform's id of its customer; `None` for a guest checkout.
    pub customer_external_id: Option<String>,
}

/// One order line with the platform's ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformOrderLine {
    /// The product sold, when the line names one still in the catalogue.
    pub product_external_id: Option<String>,
    /// The variant sold.
    pub variant_external_id: Option<String>,
    /// Units.
    pub quantity: i32,
    /// Line total after line discounts, minor units.
    pub total_minor: i64,
    /// Units refunded (or removed by an edit), 0 to `quantity`.
    pub refunded_quantity: i32,
    /// The amount refunded for the line, minor units, 0 to `total_minor`.
    pub refunded_minor: i64,
}

impl PlatformOrderLine {
    /// A line nothing of which was refunded.
    pub fn sold(product: Option<String>, variant: Option<String>, quantity: i32, total_minor: i64) -> Self {
        Self {
            product_external_id: product,
            variant_external_id: variant,
            quantity,
            total_minor,
            refunded_quantity: 0,
            refunded_minor: 0,
        }
    }

    /// The same line with only `kept` of its units left (Shopify's `currentQuantity`): the others are refunded, with
    /// their share of the line total (rounded to the nearest minor unit).
    pub fn keeping(mut self, kept: i32) -> Self {
        let refunded = self.quantity - kept.clamp(0, self.quantity);
        self.refunded_quantity = refunded;
        self.refunded_minor = share(self.total_minor, i64::from(refunded), i64::from(self.quantity));
        self
    }
}

/// `amount × part / whole`, rounded half away from zero; 0 when `whole` is 0.
fn share(amount: i64, part: i64, whole: i64) -> i64 {
    if whole == 0 {
        return 0;
    }
    let exact = i128::from(amount) * i128::from(part);
    let whole = i128::from(whole);
    let rounded = (exact + exact.signum() * whole / 2) / whole;
    i64::try_from(rounded).unwrap_or(amount)
}

/// Spreads an amount refunded for a whole order and no line in particular (a WooCommerce refund of an amount) over
/// what is left of its lines, in proportion, never more than a line has left, so the lines' net totals sum to what
/// the customer kept of them.
pub fn apportion_refund(lines: &mut [PlatformOrderLine], refunded_minor: i64) {
    let left_of = |line: &PlatformOrderLine| (line.total_minor.max(0) - line.refunded_minor).max(0);
    let total: i64 = lines.iter().map(left_of).sum();
    let refunded = refunded_minor.clamp(0, total);
    let mut left = refunded;
    let last = lines.len().saturating_sub(1);
    for (index, line) in lines.iter_mut().enumerate() {
        let room = left_of(line);
        let part = if index == last { left } else { share(refunded, room, total) };
        let part = part.clamp(0, room);
        line.refunded_minor += part;
        left -= part;
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The records on it.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<String>,
    /// Total pages of the listing, when the platform says (WooCommerce's `X-WP-TotalPages`).
    pub total_pages: Option<u64>,
    /// On a listing's last page, where its watermark goes when not at its newest record: the moment a Shopify
    /// bulk operation started, so what changed while it ran is read again by the next pass.
    pub watermark: Option<DateTime<Utc>>,
}

/// Which listing a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// Products with their variants.
    Products,
    /// Orders with their lines.
    Orders,
}

impl Resource {
    /// The name used in checkpoints and progress.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Products => "products",
            Self::Orders => "orders",
        }
    }
}

/// A store's credentials as kept in the secrets port (one JSON value, so a refreshed token pair replaces the old
/// one in a single write).
#[derive(Clone, Deserialize)]
#[serde(tag = "platform", rename_all = "snake_case")]
pub enum Credentials {
    /// A Shopify offline token, expiring (with its refresh token) or not.
    Shopify {
        /// `X-Shopify-Access-Token`.
        access_token: SecretString,
        /// Exchanged for a new pair before `expires_at`.
        #[serde(default)]
        refresh_token: Option<SecretString>,
        /// When the access token stops working.
        #[serde(default)]
        expires_at: Option<DateTime<Utc>>,
    },
    /// A WooCommerce REST API key pair, and the secret the store's webhooks are signed with.
    Woocommerce {
        /// `ck_…`.
        consumer_key: SecretString,
        /// `cs_…`.
        consumer_secret: SecretString,
        /// Signs `X-WC-Webhook-Signature`.
        webhook_secret: SecretString,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shopify { expires_at, refresh_token, .. } => f
                .debug_struct("Shopify")
                .field("expires_at", expires_at)
                .field("refreshable", &refresh_token.is_some())
                .finish_non_exhaustive(),
            Self::Woocommerce { .. } => f.debug_struct("Woocommerce").finish_non_exhaustive(),
        }
    }
}

impl Credentials {
    /// Reads the stored JSON.
    pub fn from_secret(value: &SecretString) -> Result<Self, PlatformError> {
        serde_json::from_str(value.expose_secret())
            .map_err(|_| PlatformError::Credentials("the stored credentials cannot be read".into()))
    }

    /// The JSON to store.
    pub fn to_secret(&self) -> SecretString {
        #[derive(Serialize)]
        #[serde(tag = "platform", rename_all = "snake_case")]
        enum Exposed<'a> {
            Shopify {
                access_token: &'a str,
                #[serde(skip_serializing_if = "Option::is_none")]
                refresh_token: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                expires_at: Option<DateTime<Utc>>,
            },
            Woocommerce {
                consumer_key: &'a str,
                consumer_secret: &'a str,
                webhook_secret: &'a str,
            },
        }
        let exposed = match self {
            Self::Shopify { access_token, refresh_token, expires_at } => Exposed::Shopify {
                access_token: access_token.expose_secret(),
                refresh_token: refresh_token.as_ref().map(|t| t.expose_secret()),
                expires_at: *expires_at,
            },
            Self::Woocommerce { consumer_key, consumer_secret, webhook_secret } => Exposed::Woocommerce {
                consumer_key: consumer_key.expose_secret(),
                consumer_secret: consumer_secret.expose_secret(),
                webhook_secret: webhook_secret.expose_secret(),
            },
        };
        SecretString::from(serde_json::to_string(&exposed).unwrap_or_default())
    }
}

/// The HTTP clients and settings every connector shares. Built once per process; cheap to clone.
#[derive(Debug, Clone)]
pub struct Platforms {
    /// Shopify endpoints and app credentials.
    pub shopify: Arc<ShopifySettings>,
    /// Timeouts, retries and the address policy.
    pub sync: Arc<SyncSettings>,
    /// For Shopify's Admin API and token URLs, per shop: guarded by the store policy, follows no redirects.
    pub api_client: reqwest::Client,
    /// For merchant-supplied hosts (WooCommerce sites): guarded by the store policy, follows no redirects.
    pub store_client: reqwest::Client,
}

impl Platforms {
    /// Builds the clients.
    pub fn new(shopify: ShopifySettings, sync: SyncSettings) -> Result<Self, PlatformError> {
        let user_agent = concat!("retail-ai-advisor/", env!("CARGO_PKG_VERSION"));
        let client = || {
            sync.store_egress()
                .client_builder()
                .user_agent(user_agent)
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| PlatformError::Transport(e.to_string()))
        };
        let (api_client, store_client) = (client()?, client()?);
        Ok(Self { shopify: Arc::new(shopify), sync: Arc::new(sync), api_client, store_client })
    }

    /// The retry policy platform requests follow.
    pub fn retry_policy(&self) -> http::RetryPolicy {
        http::RetryPolicy {
            max_retries: self.sync.max_retries,
            base: self.sync.retry_base,
            timeout: self.sync.request_timeout,
        }
    }
}

impl SyncSettings {
    /// Which addresses store URLs may reach, as these settings ask.
    pub fn store_egress(&self) -> EgressPolicy {
        EgressPolicy { allow_private: self.allow_private_store_urls }
    }
}

impl From<RefusedAddress> for PlatformError {
    fn from(refused: RefusedAddress) -> Self {
        Self::ForbiddenAddress(refused.to_string())
    }
}

/// Parses a platform money string (`"19.99"`, `"20.0"`, `"1500.00"` for a zero-decimal currency) into minor units
/// with `digits` decimals, exactly: extra decimals are accepted only when they are zeros.
pub fn parse_amount(text: &str, digits: u32) -> Result<i64, ParseError> {
    let trimmed = text.trim();
    let normalised = match trimmed.split_once('.') {
        Some((whole, fraction)) if fraction.len() > digits as usize => {
            let (kept, extra) = fraction.split_at(digits as usize);
            if !extra.bytes().all(|b| b == b'0') {
                return Err(ParseError::new(format!("`{text}` has more than {digits} decimals")));
            }
            if kept.is_empty() { whole.to_owned() } else { format!("{whole}.{kept}") }
        }
        _ => trimmed.to_owned(),
    };
    crate::money::parse_minor(&normalised, digits)
}

/// Parses an RFC 3339 timestamp, or a naive one taken as UTC (WooCommerce's `*_gmt` fields have no offset). Years
/// outside 1900..=9999 are refused: no store record is that old, and every later computation on a platform's
/// timestamp (watermarks, overlaps, day buckets) then stays far from chrono's limits.
pub fn parse_utc(text: &str) -> Result<DateTime<Utc>, ParseError> {
    let at = match DateTime::parse_from_rfc3339(text) {
        Ok(at) => at.with_timezone(&Utc),
        Err(_) => NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .map(|naive| naive.and_utc())
            .map_err(|_| ParseError::new(format!("`{text}` is not a timestamp")))?,
    };
    if !(1900..=9999).contains(&chrono::Datelike::year(&at)) {
        return Err(ParseError::new(format!("`{text}` is not between the years 1900 and 9999")));
    }
    Ok(at)
}

/// The longest lifetime an access token may be given: Shopify's expiring offline tokens live an hour, and nothing
/// a platform or a merchant says lets one outlive a year.
pub const MAX_TOKEN_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::days(366);

/// When a token given `expires_in` seconds at `now` expires: refused unless it is 1 second to
/// [`MAX_TOKEN_LIFETIME`], so a hostile or broken value can neither panic the arithmetic nor pin a token forever.
pub fn token_expiry(expires_in: i64, now: DateTime<Utc>) -> Result<DateTime<Utc>, ParseError> {
    let lifetime = chrono::TimeDelta::try_seconds(expires_in)
        .filter(|lifetime| *lifetime > chrono::TimeDelta::zero() && *lifetime <= MAX_TOKEN_LIFETIME)
        .ok_or_else(|| {
            ParseError::new(format!("must be between 1 and {} seconds", MAX_TOKEN_LIFETIME.num_seconds()))
        })?;
    now.checked_add_signed(lifetime).ok_or_else(|| ParseError::new("is out of range"))
}

/// Checks an expiry given as a time: at most [`MAX_TOKEN_LIFETIME`] away from `now`, in either direction (a token
/// that expired already is refreshed before its first use).
pub fn check_token_expiry(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, ParseError> {
    let distance = at.signed_duration_since(now).abs();
    if distance > MAX_TOKEN_LIFETIME {
        return Err(ParseError::new(format!("must be within {} days of now", MAX_TOKEN_LIFETIME.num_days())));
    }
    Ok(at)
}

/// Plain text from an HTML fragment (product descriptions): tags dropped, common entities decoded, whitespace
/// collapsed. Not a sanitiser: the result is only ever shown as text.
pub fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let decoded = text
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#039;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A short, printable excerpt of a response body for error messages (never more than 60 characters).
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(240)]);
    let cleaned: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if cleaned.chars().count() > 60 { format!("{}…", cleaned.chars().take(60).collect::<String>()) } else { cleaned }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_keeping_some_units_refunds_the_rest_with_their_share_of_the_total() {
        let line = PlatformOrderLine::sold(None, None, 3, 1000).keeping(2);
        assert_eq!((line.refunded_quantity, line.refunded_minor), (1, 333), "1000 / 3, rounded");
        let all = PlatformOrderLine::sold(None, None, 3, 1000).keeping(0);
        assert_eq!((all.refunded_quantity, all.refunded_minor), (3, 1000));
        let odd = PlatformOrderLine::sold(None, None, 2, 999).keeping(1);
        assert_eq!(odd.refunded_minor, 500, "half a minor unit rounds away from zero");
        let more = PlatformOrderLine::sold(None, None, 2, 800).keeping(5);
        assert_eq!((more.refunded_quantity, more.refunded_minor), (0, 0), "more than sold keeps everything");
    }

    #[test]
    fn an_order_refund_is_spread_over_its_lines_by_their_totals_and_never_exceeds_them() {
        let lines = || vec![PlatformOrderLine::sold(None, None, 2, 1800), PlatformOrderLine::sold(None, None, 1, 900)];
        let mut spread = lines();
        apportion_refund(&mut spread, 900);
        assert_eq!(spread.iter().map(|l| l.refunded_minor).collect::<Vec<_>>(), [600, 300]);
        let mut uneven = lines();
        apportion_refund(&mut uneven, 100);
        assert_eq!(uneven.iter().map(|l| l.refunded_minor).sum::<i64>(), 100, "the remainder lands on the last line");
        let mut capped = lines();
        apportion_refund(&mut capped, 5000);
        assert_eq!(capped.iter().map(|l| l.refunded_minor).collect::<Vec<_>>(), [1800, 900], "shipping refunds too");
        apportion_refund(&mut [], 500);
        let mut after_an_item_refund = lines();
        after_an_item_refund[0].refunded_minor = 1800;
        apportion_refund(&mut after_an_item_refund, 300);
        assert_eq!(
            after_an_item_refund.iter().map(|l| l.refunded_minor).collect::<Vec<_>>(),
            [1800, 300],
            "what is left"
        );
    }

    #[test]
    fn amounts_parse_exactly_and_tolerate_only_zero_padding() {
        assert_eq!(parse_amount("19.99", 2), Ok(1999));
        assert_eq!(parse_amount("20.0", 2), Ok(2000));
        assert_eq!(parse_amount("1500.00", 0), Ok(1500));
        assert_eq!(parse_amount("5.1000", 2), Ok(510));
        assert!(parse_amount("19.999", 2).is_err());
        assert!(parse_amount("abc", 2).is_err());
        assert!(parse_amount("1e3", 2).is_err());
    }

    #[test]
    fn credentials_round_trip_without_printing() {
        let credentials = Credentials::Woocommerce {
            consumer_key: SecretString::from("ck_visible"),
            consumer_secret: SecretString::from("cs_hidden"),
            webhook_secret: SecretString::from("wh_hidden"),
        };
        let stored = credentials.to_secret();
        let back = Credentials::from_secret(&stored).expect("readable");
        assert!(!format!("{back:?}").contains("hidden"));
        let Credentials::Woocommerce { consumer_secret, .. } = back else { panic!("platform kept") };
        assert_eq!(consumer_secret.expose_secret(), "cs_hidden");
    }

    #[test]
    fn html_descriptions_become_plain_text() {
        assert_eq!(plain_text("<p>Warm &amp; <b>dry</b></p>\n<ul><li>Wool</li></ul>"), "Warm & dry Wool");
        assert_eq!(plain_text("no tags"), "no tags");
    }

    #[test]
    fn timestamps_with_or_without_offset_are_utc() {
        assert_eq!(parse_utc("2026-11-01T10:00:00Z").expect("rfc3339").to_rfc3339(), "2026-11-01T10:00:00+00:00");
        assert_eq!(parse_utc("2026-11-01T10:00:00").expect("naive").to_rfc3339(), "2026-11-01T10:00:00+00:00");
        assert!(parse_utc("yesterday").is_err());
        for extreme in
            ["+262142-12-31T23:59:59", "-262143-01-01T00:00:00", "0000-01-01T00:00:00Z", "1899-12-31T23:59:59"]
        {
            assert!(parse_utc(extreme).is_err(), "{extreme}");
        }
    }

    #[test]
    fn token_lifetimes_from_outside_are_bounded_and_never_overflow() {
        let now = Utc::now();
        assert_eq!(token_expiry(3600, now).expect("an hour"), now + chrono::TimeDelta::hours(1));
        for hostile in [0, -5, i64::MAX, i64::MIN, 9_223_372_036_854, 9_223_372_036_854_775, 31_708_801] {
            assert!(token_expiry(hostile, now).is_err(), "{hostile}");
        }
        assert!(check_token_expiry(now + chrono::TimeDelta::days(30), now).is_ok());
        assert!(check_token_expiry(now - chrono::TimeDelta::minutes(5), now).is_ok(), "expired: refreshed first");
        assert!(check_token_expiry(DateTime::<Utc>::MAX_UTC, now).is_err());
        assert!(check_token_expiry(DateTime::<Utc>::MIN_UTC, now).is_err());
    }
}
