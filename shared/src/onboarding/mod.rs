//! Connecting a store on the platforms' own terms: a Shopify app install (OAuth authorization code grant) and a
//! WooCommerce key approval (`/wc-auth/v1/authorize`). Both send the merchant to the platform with a state nonce and
//! take the platform's callback back; the state is what ties that unauthenticated callback to the organization and
//! admin who started it.
//!
//! # Layout
//! - this module: install states — random, single use, short-lived, bound to organization, user, platform and
//!   address — for both platforms.
//! - [`shopify`]: the authorize URL and the callback's query HMAC.
//! - [`woocommerce`]: the key-approval URL and the keys the site posts back.
//! - [`subscriptions`]: the webhook subscriptions an install makes and a disconnect removes.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{TimeDelta, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    db::{Database, DbError, onboarding::StoredInstallState},
    platforms::Platform,
};

pub mod shopify;
pub mod subscriptions;
pub mod woocommerce;

/// How long a merchant has to approve an install.
pub const STATE_LIFETIME: TimeDelta = TimeDelta::minutes(10);

/// An install under way: who started it, for which store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingInstall {
    /// The platform.
    pub platform: Platform,
    /// The shop domain or site URL asked for, normalised.
    pub address: String,
    /// The organization the store will belong to.
    pub organization: Uuid,
    /// The admin who started the install.
    pub user: Uuid,
}

/// Why a callback's state is refused. None of them says whether the state ever existed for someone else.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Never issued, or already used.
    #[error("the state is unknown or was already used; start the install again")]
    Unknown,
    /// Issued more than [`STATE_LIFETIME`] ago.
    #[error("the state expired; start the install again")]
    Expired,
    /// Issued for another platform or another store than the callback names.
    #[error("the state was issued for another store; start the install again")]
    Foreign,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// 256 random bits, base64url: what the platform carries back.
fn new_nonce() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn state_hash(nonce: &str) -> String {
    Sha256::digest(nonce.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl PendingInstall {
    /// Keeps this install and returns the state nonce to send the platform.
    pub async fn issue(&self, db: &Database) -> Result<String, DbError> {
        let nonce = new_nonce();
        let stored = StoredInstallState {
            platform: self.platform.as_str().to_owned(),
            address: self.address.clone(),
            organization_id: self.organization,
            user_id: self.user,
            expires_at: Utc::now() + STATE_LIFETIME,
        };
        db.put_install_state(&state_hash(&nonce), &stored).await?;
        Ok(nonce)
    }

    /// Takes the install `nonce` stands for, once: a second callback with the same state finds nothing. The state is
    /// used up even when it is refused for its age or its platform, so it cannot be tried again.
    pub async fn redeem(db: &Database, nonce: &str, platform: Platform) -> Result<Self, StateError> {
        let stored = db.take_install_state(&state_hash(nonce)).await?.ok_or(StateError::Unknown)?;
        if stored.expires_at <= Utc::now() {
            return Err(StateError::Expired);
        }
        if Platform::parse(&stored.platform).ok() != Some(platform) {
            return Err(StateError::Foreign);
        }
        Ok(Self { platform, address: stored.address, organization: stored.organization_id, user: stored.user_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_long_random_and_url_safe_and_only_their_hash_is_kept() {
        let (a, b) = (new_nonce(), new_nonce());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "{a}");
        assert_eq!(state_hash(&a).len(), 64);
        assert!(!state_hash(&a).contains(&a));
    }
}
