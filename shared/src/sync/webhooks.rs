//! Webhook deliveries from Shopify and WooCommerce: the HMAC over the raw body is checked in constant time before
//! anything else; the delivery id is claimed per store in the transaction that applies it (so concurrent copies are
//! applied once, and a failed apply leaves no claim behind); a delivery already applied is acknowledged and skipped;
//! records go through the same upsert path as sync pages (with the same version check, so a late delivery never overwrites newer data). What a payload
//! cannot say on its own (a variable product's variations, an inventory level's product) is queued for the store's
//! next sync, which is made due at once.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    ConnectionStatus, CredentialsState, ORDER_REFRESH, StoreConnection, SyncEngine,
    compliance::{self, ComplianceRequest},
};
use crate::{
    db::{DbError, compliance::ComplianceTopic, rollups::FoldMode, sync::DeliveryClaim},
    platforms::{
        Credentials, Platform, PlatformError,
        address::{ShopDomain, SiteUrl, StoreAddress},
        shopify, woocommerce,
    },
};

/// What a delivery led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Applied to this many stores.
    Applied(usize),
    /// Every store concerned had already applied it.
    Duplicate,
    /// Work was queued for the next sync.
    Queued,
    /// Nothing to do (an unknown shop, a topic we do not use, a disconnected store).
    Ignored(&'static str),
    /// WooCommerce's test ping when a webhook is created.
    Ping,
}

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The signature is missing or does not match: nothing was stored.
    #[error("the webhook signature is missing or does not match")]
    Unauthorized,
    /// The delivery is not something we can read.
    #[error("{0}")]
    BadRequest(String),
    /// The database failed; the platform will retry.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A Shopify delivery: headers and raw body.
#[derive(Debug, Clone, Copy)]
pub struct ShopifyDelivery<'a> {
    /// `X-Shopify-Topic`.
    pub topic: &'a str,
    /// `X-Shopify-Shop-Domain`.
    pub shop_domain: &'a str,
    /// `X-Shopify-Hmac-Sha256` (base64).
    pub hmac: Option<&'a str>,
    /// `X-Shopify-Webhook-Id`.
    pub webhook_id: Option<&'a str>,
    /// `X-Shopify-Event-Id`: shared by the duplicates of one event.
    pub event_id: Option<&'a str>,
    /// The raw body, exactly as received.
    pub body: &'a [u8],
}

/// A WooCommerce delivery: headers, raw body and the store named in the delivery URL.
#[derive(Debug, Clone, Copy)]
pub struct WooDelivery<'a> {
    /// `?store=<id>` on the delivery URL we hand out.
    pub store: Option<Uuid>,
    /// `X-WC-Webhook-Topic`, e.g. `product.updated`.
    pub topic: Option<&'a str>,
    /// `X-WC-Webhook-Source`: the site's URL.
    pub source: Option<&'a str>,
    /// `X-WC-Webhook-Signature` (base64).
    pub signature: Option<&'a str>,
    /// `X-WC-Webhook-Delivery-ID`.
    pub delivery_id: Option<&'a str>,
    /// `X-WC-Webhook-ID`.
    pub webhook_id: Option<&'a str>,
    /// The raw body.
    pub body: &'a [u8],
}

/// Whether `signature` is base64(HMAC-SHA256(key, body)), compared in constant time.
pub fn signature_matches(key: &[u8], body: &[u8], signature: &str) -> bool {
    let Ok(expected) = STANDARD.decode(signature.trim()) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return false };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The key a delivery is remembered by, when the platform gives none: the body's hash.
fn body_key(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("body:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// WooCommerce's ping: the form body `webhook_id=<n>`.
fn is_ping(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .ok()
        .and_then(|text| text.trim().strip_prefix("webhook_id="))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

impl SyncEngine {
    async fn digits(&self, organization: Uuid) -> Result<u32, DbError> {
        Ok(self.db().organization_currency(organization).await?.unwrap_or_default().minor_digits())
    }

    /// Handles a Shopify delivery.
    #[tracing::instrument(name = "receiving a Shopify webhook", skip_all, fields(topic = delivery.topic))]
    pub async fn shopify_webhook(&self, delivery: ShopifyDelivery<'_>) -> Result<WebhookOutcome, WebhookError> {
        let settings = &self.platforms().shopify;
        let keys: Vec<&SecretString> =
            settings.client_secret.iter().chain(settings.previous_client_secret.iter()).collect();
        if keys.is_empty() {
            tracing::warn!("a Shopify webhook arrived but SHOPIFY_CLIENT_SECRET is not set to verify it");
        }
        let verified = delivery.hmac.is_some_and(|hmac| {
            keys.iter().any(|key| signature_matches(key.expose_secret().as_bytes(), delivery.body, hmac))
        });
        if !verified {
            tracing::info!(target: "audit", event = "webhook_rejected", platform = "shopify", "bad signature");
            return Err(WebhookError::Unauthorized);
        }
        let shop = ShopDomain::parse(delivery.shop_domain)
            .map_err(|_| WebhookError::BadRequest("X-Shopify-Shop-Domain is not a myshopify.com domain".into()))?;
        // The signature proves the shop, not the organization: only connections that proved their token get data.
        let connections = proven(self.db().connections_at(&StoreAddress::Shop(shop.clone())).await?);
        if connections.is_empty() {
            return Ok(WebhookOutcome::Ignored("no store with verified credentials is connected for this shop"));
        }
        let key = match (delivery.event_id, delivery.webhook_id) {
            (Some(event), _) if !event.is_empty() => format!("event:{event}"),
            (_, Some(webhook)) if !webhook.is_empty() => format!("webhook:{webhook}"),
            _ => body_key(delivery.body),
        };
        let payload: Value = serde_json::from_slice(delivery.body)
            .map_err(|_| WebhookError::BadRequest("the body is not JSON".into()))?;
        if let Some(topic) = ComplianceTopic::parse(delivery.topic) {
            let request = ComplianceRequest::parse(topic, &payload).map_err(WebhookError::BadRequest)?;
            return self.shopify_compliance(&connections, &shop, &key, delivery.webhook_id, &request).await;
        }
        let mut outcome = WebhookOutcome::Duplicate;
        for connection in connections {
            // Read before the claim: the claim's transaction must not wait on a second pooled connection.
            let digits = self.digits(connection.organization_id).await?;
            let Some(mut claim) = self.claim(&connection, &key, delivery.topic, delivery.webhook_id).await? else {
                continue;
            };
            let applied = apply_shopify(&mut claim, &connection, delivery.topic, &payload, digits).await?;
            claim.commit().await?;
            if matches!(applied, WebhookOutcome::Applied(_)) && delivery.topic == "app/uninstalled" {
                self.forget_credentials(&connection, UNINSTALLED).await;
            }
            outcome = merge(outcome, applied);
        }
        Ok(outcome)
    }

    /// Carries out a compliance request for every proven store of the shop, connected or not (`shop/redact` comes
    /// after the app was uninstalled), each recorded and audited ([`compliance`]).
    async fn shopify_compliance(
        &self,
        connections: &[StoreConnection],
        shop: &ShopDomain,
        key: &str,
        webhook_id: Option<&str>,
        request: &ComplianceRequest,
    ) -> Result<WebhookOutcome, WebhookError> {
        let topic = request.topic.as_str();
        let mut outcome = WebhookOutcome::Duplicate;
        for connection in connections {
            if request.topic == ComplianceTopic::ShopRedact {
                // The erasure rebuilds the rollups, which replaces pending deltas: fold them in first.
                self.db().fold_rollup_deltas(FoldMode::Complete).await?;
            }
            let Some(mut claim) = self.claim(connection, key, topic, webhook_id).await? else {
                continue;
            };
            let done = compliance::carry_out(&mut claim, shop.as_ref(), request).await?;
            claim.commit().await?;
            tracing::info!(target: "audit", event = "compliance_request", topic, tenant = %connection.organization_id,
                store = %connection.store_id, outcome = %done, "compliance request carried out");
            if request.topic == ComplianceTopic::ShopRedact {
                self.forget_credentials(connection, "the shop asked for its data to be erased").await;
            }
            outcome = merge(outcome, WebhookOutcome::Applied(1));
        }
        Ok(outcome)
    }

    /// Claims a delivery for one store ([`crate::db::Database::claim_delivery`]); `None` when already applied.
    async fn claim(
        &self,
        connection: &StoreConnection,
        key: &str,
        topic: &str,
        webhook_id: Option<&str>,
    ) -> Result<Option<DeliveryClaim>, DbError> {
        self.db().claim_delivery(connection.organization_id, connection.store_id, key, topic, webhook_id).await
    }

    /// After a disconnect has committed: the credentials go too.
    async fn forget_credentials(&self, connection: &StoreConnection, reason: &str) {
        if let Err(error) = self.secrets().delete(&connection.credential_ref).await {
            tracing::warn!(%error, "the credentials of a disconnected store could not be deleted");
        }
        tracing::info!(tenant = %connection.organization_id, store = %connection.store_id, reason, "store disconnected");
    }

    /// Handles a WooCommerce delivery (or its creation ping).
    #[tracing::instrument(name = "receiving a WooCommerce webhook", skip_all, fields(topic = delivery.topic))]
    pub async fn woocommerce_webhook(&self, delivery: WooDelivery<'_>) -> Result<WebhookOutcome, WebhookError> {
        if delivery.signature.is_none() && is_ping(delivery.body) {
            return Ok(WebhookOutcome::Ping);
        }
        let Some(signature) = delivery.signature else {
            return Err(WebhookError::Unauthorized);
        };
        let candidates = match (delivery.store, delivery.source) {
            (Some(store), _) => self.db().connection_by_store(store).await?.into_iter().collect(),
            (None, Some(source)) => match SiteUrl::parse(source) {
                Ok(site) => self.db().connections_at(&StoreAddress::Site(site)).await?,
                Err(_) => Vec::new(),
            },
            (None, None) => Vec::new(),
        };
        let mut verified = Vec::new();
        for connection in candidates.into_iter().filter(|c| c.platform() == Platform::Woocommerce) {
            let secret = match self.secrets().get(&connection.credential_ref).await {
                Ok(Some(secret)) => secret,
                Ok(None) => continue,
                Err(error) => {
                    tracing::error!(%error, "webhook secret unavailable");
                    continue;
                }
            };
            if let Ok(Credentials::Woocommerce { webhook_secret, .. }) = Credentials::from_secret(&secret)
                && signature_matches(webhook_secret.expose_secret().as_bytes(), delivery.body, signature)
            {
                verified.push(connection);
            }
        }
        if verified.is_empty() {
            tracing::info!(target: "audit", event = "webhook_rejected", platform = "woocommerce", "bad signature");
            return Err(WebhookError::Unauthorized);
        }
        let verified = proven(verified);
        if verified.is_empty() {
            return Ok(WebhookOutcome::Ignored("the store's credentials are not verified yet (its first sync does)"));
        }
        let topic = delivery.topic.unwrap_or_default();
        let key = match delivery.delivery_id {
            Some(id) if !id.is_empty() => format!("delivery:{id}"),
            _ => body_key(delivery.body),
        };
        let payload: Value = serde_json::from_slice(delivery.body)
            .map_err(|_| WebhookError::BadRequest("the body is not JSON".into()))?;
        let mut outcome = WebhookOutcome::Duplicate;
        for connection in verified {
            let digits = self.digits(connection.organization_id).await?;
            let Some(mut claim) = self.claim(&connection, &key, topic, delivery.webhook_id).await? else {
                continue;
            };
            let applied = apply_woocommerce(&mut claim, &connection, topic, &payload, digits).await?;
            claim.commit().await?;
            outcome = merge(outcome, applied);
        }
        Ok(outcome)
    }
}

/// Why an `app/uninstalled` delivery disconnects a store.
const UNINSTALLED: &str = "the app was uninstalled from the shop";

/// Applies a Shopify delivery through its claim (nothing is written unless the claim commits).
async fn apply_shopify(
    claim: &mut DeliveryClaim,
    connection: &StoreConnection,
    topic: &str,
    payload: &Value,
    digits: u32,
) -> Result<WebhookOutcome, WebhookError> {
    if topic == "app/uninstalled" {
        if connection.status == ConnectionStatus::Enabled {
            claim.disconnect(UNINSTALLED).await?;
            return Ok(WebhookOutcome::Applied(1));
        }
        return Ok(WebhookOutcome::Ignored("the store was already disconnected"));
    }
    if connection.status != ConnectionStatus::Enabled {
        return Ok(WebhookOutcome::Ignored("the store is disconnected"));
    }
    let unreadable = |error: PlatformError| WebhookError::BadRequest(error.to_string());
    match topic {
        "products/create" | "products/update" => match shopify::webhook_product(payload, digits).map_err(unreadable)? {
            Some(product) => {
                claim.store_products(vec![product]).await?;
                Ok(WebhookOutcome::Applied(1))
            }
            None => {
                let id = shopify::webhook_deleted_product(payload)
                    .ok_or_else(|| WebhookError::BadRequest("the product has no id".into()))?;
                queue(claim, "product", &id).await
            }
        },
        "products/delete" => {
            let id = shopify::webhook_deleted_product(payload)
                .ok_or_else(|| WebhookError::BadRequest("the product has no id".into()))?;
            claim.delete_products(&[id]).await?;
            Ok(WebhookOutcome::Applied(1))
        }
        "orders/create" | "orders/updated" | "orders/paid" | "orders/cancelled" | "orders/fulfilled"
        | "orders/edited" => {
            let order = shopify::webhook_order(payload, digits).map_err(unreadable)?;
            claim.store_orders(vec![order]).await?;
            Ok(WebhookOutcome::Applied(1))
        }
        "orders/delete" => {
            let id = shopify::webhook_deleted_order(payload)
                .ok_or_else(|| WebhookError::BadRequest("the order has no id".into()))?;
            claim.delete_orders(&[id]).await?;
            Ok(WebhookOutcome::Applied(1))
        }
        "inventory_levels/update" => {
            let item = shopify::webhook_inventory_item(payload)
                .ok_or_else(|| WebhookError::BadRequest("the inventory level has no inventory_item_id".into()))?;
            queue(claim, "inventory_item", &item).await
        }
        // Bulk operations (unused), anything new. Compliance topics never get here.
        _ => Ok(WebhookOutcome::Ignored("a topic this app does not use")),
    }
}

/// Applies a WooCommerce delivery through its claim.
async fn apply_woocommerce(
    claim: &mut DeliveryClaim,
    connection: &StoreConnection,
    topic: &str,
    payload: &Value,
    digits: u32,
) -> Result<WebhookOutcome, WebhookError> {
    if connection.status != ConnectionStatus::Enabled {
        return Ok(WebhookOutcome::Ignored("the store is disconnected"));
    }
    let unreadable = |error: PlatformError| WebhookError::BadRequest(error.to_string());
    let id = || {
        woocommerce::webhook_deleted_id(payload).ok_or_else(|| WebhookError::BadRequest("the record has no id".into()))
    };
    match topic {
        "product.created" | "product.updated" | "product.restored" => {
            match woocommerce::webhook_product(payload, digits).map_err(unreadable)? {
                Some(product) => {
                    claim.store_products(vec![product]).await?;
                    Ok(WebhookOutcome::Applied(1))
                }
                None => queue(claim, "product", &id()?).await,
            }
        }
        "product.deleted" => {
            claim.delete_products(&[id()?]).await?;
            Ok(WebhookOutcome::Applied(1))
        }
        "order.created" | "order.updated" | "order.restored" => {
            let order = woocommerce::webhook_order(payload, digits).map_err(unreadable)?;
            claim.store_orders(vec![order]).await?;
            // The payload lists refunds by total only: applied spread over the lines, and fetched again with the
            // lines they were for by the next sync.
            if woocommerce::has_refunds(payload) {
                claim.queue_refresh(ORDER_REFRESH, &id()?).await?;
            }
            Ok(WebhookOutcome::Applied(1))
        }
        "order.deleted" => {
            claim.delete_orders(&[id()?]).await?;
            Ok(WebhookOutcome::Applied(1))
        }
        _ => Ok(WebhookOutcome::Ignored("a topic this app does not use")),
    }
}

/// Leaves a record for the store's next sync (made due at once).
async fn queue(claim: &mut DeliveryClaim, kind: &str, id: &str) -> Result<WebhookOutcome, WebhookError> {
    claim.queue_refresh(kind, id).await?;
    Ok(WebhookOutcome::Queued)
}

/// The connections whose credentials are proven: the only ones a delivery may change.
fn proven(connections: Vec<StoreConnection>) -> Vec<StoreConnection> {
    connections.into_iter().filter(|c| c.credentials() == CredentialsState::Verified).collect()
}

/// Combines the outcomes for several stores behind one delivery.
fn merge(so_far: WebhookOutcome, next: WebhookOutcome) -> WebhookOutcome {
    match (so_far, next) {
        (WebhookOutcome::Applied(a), WebhookOutcome::Applied(b)) => WebhookOutcome::Applied(a + b),
        (WebhookOutcome::Applied(a), _) | (_, WebhookOutcome::Applied(a)) => WebhookOutcome::Applied(a),
        (WebhookOutcome::Queued, _) | (_, WebhookOutcome::Queued) => WebhookOutcome::Queued,
        (_, next) => next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_over_the_exact_body() {
        let body = br#"{"id":1,"title":"Tee"}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"shpss_secret").expect("key");
        mac.update(body);
        let good = STANDARD.encode(mac.finalize().into_bytes());

        assert!(signature_matches(b"shpss_secret", body, &good));
        assert!(!signature_matches(b"another_secret", body, &good), "wrong key");
        assert!(!signature_matches(b"shpss_secret", br#"{"id":1,"title":"Tee" }"#, &good), "re-serialised body");
        assert!(!signature_matches(b"shpss_secret", body, "not base64!"), "garbage header");
        assert!(!signature_matches(b"shpss_secret", body, ""), "empty header");
    }

    #[test]
    fn the_woocommerce_ping_is_recognised() {
        assert!(is_ping(b"webhook_id=17"));
        assert!(!is_ping(b"webhook_id="));
        assert!(!is_ping(br#"{"webhook_id":17}"#));
    }
}
