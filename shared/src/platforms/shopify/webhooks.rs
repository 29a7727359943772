//! Webhooks: the topics an install subscribes, the subscription mutations, and REST webhook payloads parsed into
//! platform records.

use super::*;

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
pub(super) fn graphql_topic(topic: &str) -> String {
    topic.to_ascii_uppercase().replace('/', "_")
}

impl ShopifyConnector {
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
    pub(super) async fn webhook_subscriptions(
        &mut self,
        deadline: Instant,
    ) -> Result<Vec<Subscription>, PlatformError> {
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
}

/// A webhook subscription as listed.
#[derive(Deserialize)]
pub(super) struct Subscription {
    pub(super) id: String,
    pub(super) topic: String,
    #[serde(default)]
    pub(super) uri: String,
}

/// The common part of a mutation's answer.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MutationResult {
    #[serde(default)]
    pub(super) user_errors: Vec<UserError>,
}

#[derive(Deserialize)]
pub(super) struct UserError {
    #[serde(default)]
    pub(super) message: String,
}

pub(super) fn user_errors(topic: &str, errors: &[UserError]) -> PlatformError {
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    PlatformError::Rejected(format!("webhook subscription {topic}: {}", messages.join("; ")))
}

/// The GraphQL id of a REST webhook record: `admin_graphql_api_id` when present, else built from `id`.
pub(super) fn gid(value: &Value, kind: &str) -> Option<String> {
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
pub(super) struct RestProduct {
    pub(super) title: String,
    #[serde(default)]
    pub(super) body_html: Option<String>,
    #[serde(default)]
    pub(super) vendor: Option<String>,
    #[serde(default)]
    pub(super) product_type: Option<String>,
    pub(super) status: String,
    pub(super) updated_at: DateTime<Utc>,
    #[serde(default)]
    pub(super) variants: Vec<Value>,
}

#[derive(Deserialize)]
pub(super) struct RestVariant {
    #[serde(default)]
    pub(super) sku: Option<String>,
    pub(super) title: String,
    pub(super) price: String,
    #[serde(default)]
    pub(super) inventory_quantity: Option<i64>,
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
pub(super) struct RestOrder {
    pub(super) created_at: DateTime<Utc>,
    #[serde(default)]
    pub(super) processed_at: Option<DateTime<Utc>>,
    pub(super) updated_at: DateTime<Utc>,
    #[serde(default)]
    pub(super) cancelled_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(super) financial_status: Option<String>,
    #[serde(default)]
    pub(super) fulfillment_status: Option<String>,
    pub(super) total_price: String,
    #[serde(default)]
    pub(super) line_items: Vec<RestLine>,
    /// `null` for a guest checkout; only its id is read.
    #[serde(default)]
    pub(super) customer: Option<RestCustomer>,
}

#[derive(Deserialize)]
pub(super) struct RestCustomer {
    pub(super) id: u64,
}

#[derive(Deserialize)]
pub(super) struct RestLine {
    #[serde(default)]
    pub(super) product_id: Option<u64>,
    #[serde(default)]
    pub(super) variant_id: Option<u64>,
    pub(super) quantity: i64,
    /// The quantity after refunds and edits removed units.
    #[serde(default)]
    pub(super) current_quantity: Option<i64>,
    pub(super) price: String,
    #[serde(default)]
    pub(super) discount_allocations: Vec<RestDiscount>,
}

#[derive(Deserialize)]
pub(super) struct RestDiscount {
    pub(super) amount: String,
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
        let sold = PlatformOrderLine::sold(
            line.product_id.map(|p| format!("gid://shopify/Product/{p}")),
            line.variant_id.map(|v| format!("gid://shopify/ProductVariant/{v}")),
            quantity,
            price * i64::from(quantity) - discounts,
        );
        let kept = line.current_quantity.and_then(|kept| i32::try_from(kept).ok()).unwrap_or(quantity);
        lines.push(sold.keeping(kept));
    }
    let fulfillment = rest.fulfillment_status.unwrap_or_default();
    Ok(PlatformOrder {
        status: order_status(rest.cancelled_at.is_some(), rest.financial_status.as_deref(), &fulfillment),
        placed_at: rest.processed_at.unwrap_or(rest.created_at),
        updated_at: rest.updated_at,
        external_id: id,
        total_minor,
        lines,
        customer_external_id: rest.customer.map(|customer| format!("gid://shopify/Customer/{}", customer.id)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_topics_map_to_their_graphql_names() {
        let names: Vec<String> = WEBHOOK_TOPICS.iter().map(|t| graphql_topic(t)).collect();
        assert!(names.contains(&"INVENTORY_LEVELS_UPDATE".to_owned()), "{names:?}");
        assert!(names.contains(&"APP_UNINSTALLED".to_owned()));
        assert!(names.contains(&"ORDERS_UPDATED".to_owned()));
        assert_eq!(page_size(MAX_QUERY_COST, subscriptions_cost), 250);
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
        assert_eq!((order.lines[0].refunded_quantity, order.lines[0].refunded_minor), (0, 0), "no current_quantity");
    }

    #[test]
    fn a_partly_refunded_rest_webhook_order_keeps_its_current_quantity() {
        let payload = json!({
            "id": 450789470, "created_at": "2026-11-02T10:00:00Z", "updated_at": "2026-11-03T10:00:00Z",
            "financial_status": "partially_refunded", "fulfillment_status": "fulfilled", "total_price": "36.00",
            "line_items": [{"product_id": 1, "variant_id": 2, "quantity": 3, "current_quantity": 1, "price": "12.00"}]
        });
        let order = webhook_order(&payload, 2).expect("order");
        assert_eq!(order.status, OrderStatus::Fulfilled, "a partial refund leaves the sale standing");
        assert_eq!((order.lines[0].refunded_quantity, order.lines[0].refunded_minor), (2, 2400));
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
