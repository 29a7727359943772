//! Shopify's mandatory compliance webhooks, carried out through a delivery's claim: every request is recorded with
//! what was done (the audit trail the merchant lists), in the transaction that does it.
//!
//! - `customers/data_request`: recorded with the orders it names; the stores API then shows the merchant what is
//!   held about them (the orders' ids, dates, status, amounts and lines) to pass on to the customer.
//! - `customers/redact`: the app never stores a customer's name, e-mail address, phone or address; orders keep their
//!   ids, dates, status and amounts, and the customer's Shopify id (for repeat purchases and cohorts). That id is
//!   removed from every order of the store that carries it, so the figures stay and nothing links them to the
//!   customer; the request is recorded with how many orders were unlinked and how many of the named ones are held.
//! - `shop/redact`: everything of the shop is erased ([`DeliveryClaim::erase_store`]).
//!
//! The payloads carry the customer's e-mail address and phone: only Shopify's ids are read from them.

use serde::Deserialize;
use serde_json::Value;

use crate::db::{
    DbError,
    compliance::{ComplianceTopic, NewComplianceRequest},
    sync::DeliveryClaim,
};

/// A compliance delivery's payload, as far as the app reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceRequest {
    /// The topic.
    pub topic: ComplianceTopic,
    /// Shopify's customer id (customer topics).
    pub customer_id: Option<String>,
    /// The orders named, as Shopify's gids.
    pub order_ids: Vec<String>,
}

#[derive(Deserialize)]
struct Payload {
    customer: Option<Customer>,
    #[serde(default)]
    orders_requested: Vec<u64>,
    #[serde(default)]
    orders_to_redact: Vec<u64>,
}

#[derive(Deserialize)]
struct Customer {
    id: u64,
}

impl ComplianceRequest {
    /// Reads a payload of `topic`; the error says what is wrong with it.
    pub fn parse(topic: ComplianceTopic, payload: &Value) -> Result<Self, String> {
        let payload = Payload::deserialize(payload).map_err(|e| format!("the {} payload: {e}", topic.as_str()))?;
        let customer_id = payload.customer.map(|c| c.id.to_string());
        if topic != ComplianceTopic::ShopRedact && customer_id.is_none() {
            return Err(format!("the {} payload names no customer", topic.as_str()));
        }
        let orders = match topic {
            ComplianceTopic::CustomerDataRequest => payload.orders_requested,
            ComplianceTopic::CustomerRedact => payload.orders_to_redact,
            ComplianceTopic::ShopRedact => Vec::new(),
        };
        let order_ids = orders.into_iter().map(|id| format!("gid://shopify/Order/{id}")).collect();
        Ok(Self { topic, customer_id, order_ids })
    }
}

/// Carries out a request for one store through its claim and records it; returns what was done.
pub async fn carry_out(claim: &mut DeliveryClaim, shop: &str, request: &ComplianceRequest) -> Result<String, DbError> {
    let outcome = match request.topic {
        ComplianceTopic::CustomerDataRequest => {
            let held = claim.count_orders(&request.order_ids).await?;
            format!(
                "{held} of the {} orders named are held; they are listed with this request (no customer name, e-mail \
                 address, phone or address is stored)",
                request.order_ids.len()
            )
        }
        ComplianceTopic::CustomerRedact => {
            let unlinked = match &request.customer_id {
                Some(id) => claim.forget_customer(&format!("gid://shopify/Customer/{id}")).await?,
                None => 0,
            };
            let held = claim.count_orders(&request.order_ids).await?;
            format!(
                "removed the customer's id from {unlinked} order(s); no customer name, e-mail address, phone or \
                 address is stored; {held} of the {} orders named are held with only their ids, dates, status and \
                 amounts",
                request.order_ids.len()
            )
        }
        ComplianceTopic::ShopRedact => {
            let erased = claim.erase_store().await?;
            format!(
                "erased the store: {} products, {} orders, {} analytics events and {} recommendations, its \
                 connection and sync history; the rollups were rebuilt without them",
                erased.products, erased.orders, erased.events, erased.recommendations
            )
        }
    };
    let record = NewComplianceRequest {
        shop,
        topic: request.topic,
        customer_id: request.customer_id.as_deref(),
        order_ids: &request.order_ids,
        outcome: &outcome,
    };
    claim.record_compliance(&record).await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_ids_are_read_from_the_documented_payloads() {
        let payload = json!({
            "shop_id": 954889, "shop_domain": "shop.myshopify.com",
            "customer": {"id": 191167, "email": "john@example.com", "phone": "555-625-1199"},
            "orders_requested": [299938, 280263], "data_request": {"id": 9999}
        });
        let request = ComplianceRequest::parse(ComplianceTopic::CustomerDataRequest, &payload).expect("read");
        assert_eq!(request.customer_id.as_deref(), Some("191167"));
        assert_eq!(request.order_ids, ["gid://shopify/Order/299938", "gid://shopify/Order/280263"]);
        assert!(!format!("{request:?}").contains("john@example.com"));

        let payload = json!({"shop_id": 954889, "shop_domain": "shop.myshopify.com",
            "customer": {"id": 191167, "email": "john@example.com"}, "orders_to_redact": [299938]});
        let request = ComplianceRequest::parse(ComplianceTopic::CustomerRedact, &payload).expect("read");
        assert_eq!(request.order_ids, ["gid://shopify/Order/299938"]);

        let payload = json!({"shop_id": 954889, "shop_domain": "shop.myshopify.com"});
        let request = ComplianceRequest::parse(ComplianceTopic::ShopRedact, &payload).expect("read");
        assert_eq!((request.customer_id, request.order_ids.len()), (None, 0));
    }

    #[test]
    fn a_customer_request_without_a_customer_is_refused() {
        let payload = json!({"shop_domain": "shop.myshopify.com", "orders_to_redact": [1]});
        let error = ComplianceRequest::parse(ComplianceTopic::CustomerRedact, &payload).expect_err("refused");
        assert!(error.contains("names no customer"), "{error}");
        let error = ComplianceRequest::parse(ComplianceTopic::CustomerDataRequest, &json!({"customer": {"id": "x"}}))
            .expect_err("refused");
        assert!(error.contains("customers/data_request"), "{error}");
    }
}
