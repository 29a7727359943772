//! The app's webhook subscriptions on a store's platform: made when an install completes (so no merchant registers
//! webhooks by hand), removed when the store is disconnected. Both are idempotent: a reinstall finds its
//! subscriptions and adds only what is missing; a removal touches only subscriptions delivering to this app.

use tokio::time::Instant;
use uuid::Uuid;

use crate::{
    config::AppUrl,
    platforms::{
        Credentials, PlatformError, Platforms, address::StoreAddress, shopify::ShopifyConnector,
        woocommerce::WooConnector,
    },
};

/// Where Shopify delivers: one route for every shop, told apart by `X-Shopify-Shop-Domain`.
pub const SHOPIFY_DELIVERY_PATH: &str = "/api/webhooks/shopify";

/// Where a WooCommerce store delivers: each store signs with its own secret, so the path names the store.
pub fn woocommerce_delivery_path(store: Uuid) -> String {
    format!("/api/webhooks/woocommerce?store={store}")
}

/// A store whose platform delivers to this app.
pub struct Subscriber<'a> {
    /// The platform clients.
    pub platforms: &'a Platforms,
    /// This app's public base URL: deliveries go below it.
    pub app_url: &'a AppUrl,
    /// The store.
    pub store: Uuid,
    /// Where it is, on which platform.
    pub address: &'a StoreAddress,
    /// Its current credentials.
    pub credentials: &'a Credentials,
}

impl Subscriber<'_> {
    /// Subscribes every topic the sync applies; returns how many subscriptions were created.
    pub async fn subscribe(&self, deadline: Instant) -> Result<u32, PlatformError> {
        match self.credentials {
            Credentials::Shopify { .. } => {
                let uri = self.app_url.join(SHOPIFY_DELIVERY_PATH);
                self.shopify()?.register_webhooks(&uri, deadline).await
            }
            Credentials::Woocommerce { webhook_secret, .. } => {
                let url = self.app_url.join(&woocommerce_delivery_path(self.store));
                self.woocommerce()?.register_webhooks(&url, webhook_secret, deadline).await
            }
        }
    }

    /// Removes this app's subscriptions for the store; returns how many were removed.
    pub async fn unsubscribe(&self, deadline: Instant) -> Result<u32, PlatformError> {
        match self.credentials {
            Credentials::Shopify { .. } => {
                let uri = self.app_url.join(SHOPIFY_DELIVERY_PATH);
                self.shopify()?.remove_webhooks(&uri, deadline).await
            }
            Credentials::Woocommerce { .. } => {
                let url = self.app_url.join(&woocommerce_delivery_path(self.store));
                self.woocommerce()?.remove_webhooks(&url, deadline).await
            }
        }
    }

    fn shopify(&self) -> Result<ShopifyConnector, PlatformError> {
        match self.address {
            StoreAddress::Shop(shop) => ShopifyConnector::new(self.platforms, shop, self.credentials, 0),
            StoreAddress::Site(_) => {
                Err(PlatformError::Credentials("Shopify credentials for a WooCommerce site".into()))
            }
        }
    }

    fn woocommerce(&self) -> Result<WooConnector, PlatformError> {
        match self.address {
            StoreAddress::Site(site) => WooConnector::new(self.platforms, site, self.credentials, 0),
            StoreAddress::Shop(_) => {
                Err(PlatformError::Credentials("WooCommerce credentials for a Shopify shop".into()))
            }
        }
    }
}
