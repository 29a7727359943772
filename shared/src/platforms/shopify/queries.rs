//! The GraphQL documents the sync sends, the node types their answers parse into, and the mapping of those
//! nodes to platform records.

use super::*;

/// A variant's fields, as a literal for `concat!`: its unit cost is its inventory item's (`read_inventory`), in the
/// shop's currency.
macro_rules! variant_fields {
    () => {
        "id sku title price inventoryQuantity inventoryItem { unitCost { amount currencyCode } }"
    };
}

pub(super) const PRODUCT_FIELDS: &str = concat!(
    "id title description vendor productType status updatedAt \
     variants(first: $variantsFirst) { pageInfo { hasNextPage endCursor } nodes { ",
    variant_fields!(),
    " } }"
);

pub(super) fn products_query() -> String {
    format!(
        "query SyncProducts($first: Int!, $after: String, $query: String, $variantsFirst: Int!) {{ \
         products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{ \
         pageInfo {{ hasNextPage endCursor }} nodes {{ {PRODUCT_FIELDS} }} }} }}"
    )
}

pub(super) const VARIANTS_QUERY: &str = concat!(
    "query ProductVariants($id: ID!, $first: Int!, $after: String) { \
     product(id: $id) { variants(first: $first, after: $after) { pageInfo { hasNextPage endCursor } nodes { ",
    variant_fields!(),
    " } } } }"
);

pub(super) const ORDERS_QUERY: &str = "query SyncOrders($first: Int!, $after: String, $query: String, $linesFirst: Int!) { \
     orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) { \
     pageInfo { hasNextPage endCursor } nodes { id createdAt processedAt updatedAt cancelledAt \
     displayFinancialStatus displayFulfillmentStatus totalPriceSet { shopMoney { amount currencyCode } } \
     customer { id } lineItems(first: $linesFirst) { pageInfo { hasNextPage endCursor } \
     nodes { id quantity currentQuantity product { id } variant { id } discountedTotalSet { shopMoney { amount currencyCode } } } } } } }";

pub(super) const LINE_ITEMS_QUERY: &str = "query OrderLineItems($id: ID!, $first: Int!, $after: String) { \
     order(id: $id) { lineItems(first: $first, after: $after) { pageInfo { hasNextPage endCursor } \
     nodes { id quantity currentQuantity product { id } variant { id } discountedTotalSet { shopMoney { amount currencyCode } } } } } }";

pub(super) fn refresh_query() -> String {
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
pub(super) struct PageInfo {
    pub(super) has_next_page: bool,
    pub(super) end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Connection<T> {
    pub(super) page_info: PageInfo,
    pub(super) nodes: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProductNode {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) vendor: String,
    pub(super) product_type: String,
    pub(super) status: String,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) variants: Connection<VariantNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VariantNode {
    pub(super) id: String,
    pub(super) sku: Option<String>,
    pub(super) title: String,
    pub(super) price: String,
    pub(super) inventory_quantity: Option<i64>,
    pub(super) inventory_item: Option<InventoryItemNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InventoryItemNode {
    /// `null` when the merchant has not entered a cost.
    pub(super) unit_cost: Option<Money>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OrderNode {
    pub(super) id: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) processed_at: Option<DateTime<Utc>>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) cancelled_at: Option<DateTime<Utc>>,
    pub(super) display_financial_status: Option<String>,
    pub(super) display_fulfillment_status: String,
    pub(super) total_price_set: MoneyBag,
    /// `null` for a guest checkout (or without the `read_customers` scope).
    #[serde(default)]
    pub(super) customer: Option<IdNode>,
    pub(super) line_items: Connection<LineItemNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LineItemNode {
    pub(super) quantity: i64,
    /// The quantity after refunds and edits removed units.
    #[serde(default)]
    pub(super) current_quantity: Option<i64>,
    pub(super) product: Option<IdNode>,
    pub(super) variant: Option<IdNode>,
    pub(super) discounted_total_set: MoneyBag,
}

#[derive(Deserialize)]
pub(super) struct IdNode {
    pub(super) id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MoneyBag {
    pub(super) shop_money: Money,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Money {
    pub(super) amount: String,
}

#[derive(Deserialize)]
pub(super) struct ProductsData {
    pub(super) products: Connection<ProductNode>,
}

#[derive(Deserialize)]
pub(super) struct OrdersData {
    pub(super) orders: Connection<OrderNode>,
}

#[derive(Deserialize)]
pub(super) struct VariantsData {
    pub(super) product: Option<VariantsOf>,
}

#[derive(Deserialize)]
pub(super) struct VariantsOf {
    pub(super) variants: Connection<VariantNode>,
}

#[derive(Deserialize)]
pub(super) struct LineItemsData {
    pub(super) order: Option<LineItemsOf>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LineItemsOf {
    pub(super) line_items: Connection<LineItemNode>,
}

#[derive(Deserialize)]
pub(super) struct RefreshData {
    pub(super) nodes: Vec<Option<Value>>,
}

pub(super) fn missing_cursor(what: &str) -> PlatformError {
    PlatformError::Malformed(format!("{what}: hasNextPage without an endCursor"))
}

pub(super) fn next_cursor(page_info: &PageInfo) -> Result<Option<String>, PlatformError> {
    match (page_info.has_next_page, &page_info.end_cursor) {
        (false, _) => Ok(None),
        (true, Some(cursor)) if !cursor.is_empty() => Ok(Some(cursor.clone())),
        (true, _) => Err(missing_cursor("pageInfo")),
    }
}

/// Collects per-record problems; a page with any is refused whole.
#[derive(Default)]
pub(super) struct Invalid {
    pub(super) count: u64,
    pub(super) first: Option<String>,
}

impl Invalid {
    pub(super) fn add(&mut self, detail: String) {
        self.count += 1;
        self.first.get_or_insert(detail);
    }

    pub(super) fn check(self) -> Result<(), PlatformError> {
        match self.first {
            None => Ok(()),
            Some(detail) => Err(PlatformError::InvalidRecords { count: self.count, detail }),
        }
    }
}

pub(super) fn invalid(record: &str, detail: impl std::fmt::Display) -> PlatformError {
    PlatformError::InvalidRecords { count: 1, detail: format!("{record}: {detail}") }
}

pub(super) fn product_status(text: &str) -> ProductStatus {
    match text.to_ascii_uppercase().as_str() {
        "ACTIVE" => ProductStatus::Active,
        "ARCHIVED" => ProductStatus::Archived,
        // DRAFT, UNLISTED and anything newer: not on general sale.
        _ => ProductStatus::Draft,
    }
}

pub(super) fn product_from_node(node: ProductNode, digits: u32) -> Result<PlatformProduct, PlatformError> {
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
pub(super) fn order_status(cancelled: bool, financial: Option<&str>, fulfillment: &str) -> OrderStatus {
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

pub(super) fn order_from_node(node: OrderNode, digits: u32) -> Result<PlatformOrder, PlatformError> {
    let total_minor =
        parse_amount(&node.total_price_set.shop_money.amount, digits).map_err(|e| invalid(&node.id, e))?;
    let mut lines = Vec::with_capacity(node.line_items.nodes.len());
    for line in node.line_items.nodes {
        // A line whose quantity was edited to zero sold nothing.
        let Ok(quantity @ 1..) = i32::try_from(line.quantity) else { continue };
        let total_minor =
            parse_amount(&line.discounted_total_set.shop_money.amount, digits).map_err(|e| invalid(&node.id, e))?;
        let sold =
            PlatformOrderLine::sold(line.product.map(|p| p.id), line.variant.map(|v| v.id), quantity, total_minor);
        // Refunded and removed units leave `currentQuantity`; shops on older API versions may not send it.
        let kept = line.current_quantity.and_then(|kept| i32::try_from(kept).ok()).unwrap_or(quantity);
        lines.push(sold.keeping(kept));
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
        customer_external_id: node.customer.map(|customer| customer.id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_filter_quotes_the_date() {
        let since = DateTime::parse_from_rfc3339("2026-11-01T08:30:15.123Z").expect("date").with_timezone(&Utc);
        assert_eq!(updated_since(since), "updated_at:>'2026-11-01T08:30:15Z'");
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
}
