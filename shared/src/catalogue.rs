//! The catalogue as the rest of the app sees it: products with variants, the writes that bring them in (sync, demo
//! data) and the query that lists them. Storage lives in [`crate::db::catalogue`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::ParseError;

/// Where a product stands in the merchant's store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    /// On sale.
    Active,
    /// Not yet published.
    Draft,
    /// Withdrawn.
    Archived,
}

impl ProductStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Draft => "draft",
            Self::Archived => "archived",
        }
    }

    /// Reads a stored or client-sent name.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match text {
            "active" => Ok(Self::Active),
            "draft" => Ok(Self::Draft),
            "archived" => Ok(Self::Archived),
            _ => Err(ParseError::new(format!("`{text}` is not one of active, draft, archived"))),
        }
    }
}

/// A product as a platform describes it, ready to upsert.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductInput {
    /// The platform's id for it, unique within the store.
    pub external_id: String,
    /// Title.
    pub title: String,
    /// Plain-text description.
    pub description: String,
    /// Vendor or brand.
    pub vendor: String,
    /// Category or product type.
    pub category: String,
    /// Publication status.
    pub status: ProductStatus,
    /// Its variants (at least one for a sellable product).
    pub variants: Vec<VariantInput>,
}

/// A variant as a platform describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantInput {
    /// The platform's id for it, unique within the product.
    pub external_id: String,
    /// Stock-keeping unit.
    pub sku: String,
    /// e.g. "Large / Blue".
    pub title: String,
    /// Selling price, minor units.
    pub price_minor: i64,
    /// Unit cost from the platform, when it reports one; `None` leaves a stored cost as it is (see
    /// [`crate::costs`]).
    pub cost_minor: Option<i64>,
    /// Units in stock.
    pub inventory: i64,
}

/// How an upsert batch went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpsertCounts {
    /// Rows that did not exist.
    pub created: u64,
    /// Rows that existed and changed.
    pub updated: u64,
    /// Rows that existed unchanged.
    pub unchanged: u64,
}

/// Sort orders for product lists. Each is a total order (ties broken by id), which keyset pagination needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductSort {
    /// Best full-text match first (requires a search).
    Relevance,
    /// Most recently updated first.
    Updated,
    /// A to Z.
    Title,
    /// Cheapest first (unpriced last).
    Price,
    /// Dearest first (unpriced last).
    PriceDesc,
}

/// A product list request, already validated.
#[derive(Debug, Clone)]
pub struct ProductQuery {
    /// Full-text search, 1-200 characters.
    pub search: Option<String>,
    /// Exact category.
    pub category: Option<String>,
    /// Only this store's products.
    pub store: Option<Uuid>,
    /// Only this status.
    pub status: Option<ProductStatus>,
    /// Lowest price at least this (minor units).
    pub min_price: Option<i64>,
    /// Lowest price at most this (minor units).
    pub max_price: Option<i64>,
    /// Order.
    pub sort: ProductSort,
    /// Page size, 1-200.
    pub limit: u32,
    /// Continue after this position.
    pub after: Option<ProductCursor>,
}

/// A position in a product list: the sort key of the last row shown and its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductCursor {
    /// The sort it belongs to; a cursor is refused under another sort.
    pub sort: ProductSort,
    /// The last row's sort key.
    pub key: CursorKey,
    /// The last row's id.
    pub id: Uuid,
}

/// A sort key value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CursorKey {
    /// Relevance score.
    Rank(f64),
    /// Price in minor units (unpriced sorts as `i64::MAX`).
    Price(i64),
    /// Title or timestamp text.
    Text(String),
}

/// A product in a list.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ProductSummary {
    /// Our id.
    pub id: Uuid,
    /// The store it comes from.
    pub store_id: Uuid,
    /// The platform's id.
    pub external_id: String,
    /// Title.
    pub title: String,
    /// Vendor.
    pub vendor: String,
    /// Category.
    pub category: String,
    /// Status name.
    pub status: String,
    /// Lowest variant price, minor units.
    pub price_minor: Option<i64>,
    /// Units in stock across variants.
    pub inventory: i64,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Relevance (searches only), or 0.
    #[serde(skip)]
    pub rank: f64,
}

/// One page of products.
#[derive(Debug, Clone)]
pub struct ProductPage {
    /// The rows.
    pub items: Vec<ProductSummary>,
    /// Where the next page starts, if there is one.
    pub next: Option<ProductCursor>,
}

/// A product with everything we hold about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProductDetail {
    /// The list fields.
    #[serde(flatten)]
    pub summary: ProductSummary,
    /// Description.
    pub description: String,
    /// Merchant-set unit cost, minor units.
    pub unit_cost_minor: Option<i64>,
    /// Merchant-set supplier lead time.
    pub lead_time_days: Option<i32>,
    /// Merchant-set target stock cover.
    pub target_cover_days: Option<i32>,
    /// Variants, by title.
    pub variants: Vec<Variant>,
}

/// A stored variant.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Variant {
    /// Our id.
    pub id: Uuid,
    /// The platform's id.
    pub external_id: String,
    /// SKU.
    pub sku: String,
    /// Title.
    pub title: String,
    /// Price, minor units.
    pub price_minor: i64,
    /// Platform cost, minor units.
    pub cost_minor: Option<i64>,
    /// Units in stock.
    pub inventory: i64,
}

/// Merchant-owned fields a PATCH may change. `Some(None)` clears a field; `None` leaves it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductPatch {
    /// Unit cost, minor units.
    pub unit_cost_minor: Option<Option<i64>>,
    /// Supplier lead time, 0-365 days.
    pub lead_time_days: Option<Option<i32>>,
    /// Target stock cover, 1-365 days.
    pub target_cover_days: Option<Option<i32>>,
}
