//! Storage of install states ([`crate::onboarding`]): written when an admin starts an install, taken back exactly
//! once by the platform's callback. Stored by the hash of the nonce only.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Database, DbError, now_micros, on_pool};

/// An install state as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredInstallState {
    /// `shopify` or `woocommerce`.
    pub platform: String,
    /// The shop domain or site URL the install was started for.
    pub address: String,
    /// The organization that started it.
    pub organization_id: Uuid,
    /// The admin who started it.
    pub user_id: Uuid,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
}

impl Database {
    /// Keeps a new install state under `state_hash`, and forgets the ones that expired before now.
    pub async fn put_install_state(&self, state_hash: &str, state: &StoredInstallState) -> Result<(), DbError> {
        let now = now_micros();
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM onboarding_states WHERE expires_at < $1").bind(now).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO onboarding_states (state_hash, platform, address, organization_id, user_id, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(state_hash)
            .bind(&state.platform)
            .bind(&state.address)
            .bind(state.organization_id)
            .bind(state.user_id)
            .bind(now)
            .bind(state.expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Removes the install state under `state_hash` and returns it: one statement, so of two callbacks racing with
    /// one state exactly one gets it. Expired states are returned too (the caller tells the merchant why).
    pub async fn take_install_state(&self, state_hash: &str) -> Result<Option<StoredInstallState>, DbError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "DELETE FROM onboarding_states WHERE state_hash = $1 \
             RETURNING platform, address, organization_id, user_id, expires_at"
        )
        .bind(state_hash)
        .fetch_optional(pool)
        .await?))
    }
}
