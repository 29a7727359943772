//! Store sync: how merchant data gets in. A `SyncStores` timer tick claims the due stores (`FOR UPDATE SKIP LOCKED`
//! on PostgreSQL) and queues one message each; the queue-triggered `SyncStore` leases its store (a lease expiry,
//! fenced on the owner: the guard against two workers on one store), syncs it within the run's time budget (a run
//! that runs out queues its message again) and checkpoints the cursor after every page it writes (renewing the lease
//! in the same transaction). When the database falls behind the platform, the pages that queued up meanwhile are written together and the cursor
//! after the last of them is checkpointed. Webhooks bring near-real-time changes between ticks through the same
//! upsert path.
//!
//! # Layout
//! - this module: what is stored about a connection and its runs ([`StoreRecord`], [`SyncJob`], [`Checkpoint`]).
//! - [`engine`]: the tick, one queued run of one store, the pages and their checkpoints.
//! - [`webhooks`]: HMAC verification, dedup and application of Shopify and WooCommerce deliveries.
//! - [`compliance`]: Shopify's mandatory compliance requests (data requests and erasures), recorded and audited.
//!
//! # Resuming
//! A checkpoint holds, per listing (products, then orders), the watermark of the last complete pass and the pass in
//! progress: its lower bound and the platform's cursor for the next page. A killed run leaves its last checkpoint
//! behind; the next holder of the lease continues from that page. Upserts are idempotent on `(store, external id)`,
//! so the pages that may be read twice (fetched and written, killed before their checkpoint) change nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    domain::ParseError,
    platforms::{Platform, Resource, address::StoreAddress},
    secrets::SecretName,
};

pub mod compliance;
pub mod engine;
pub mod webhooks;

pub use engine::{QueuedRun, RunReport, SyncEngine};

/// The refresh kind of an order a webhook could not apply exactly (a WooCommerce order with refunds, whose lines
/// the payload does not name): the next sync fetches it again. Other queued refreshes are products.
pub const ORDER_REFRESH: &str = "order";

/// A store's connection as stored, its values parsed when the row is read (see `db::sync`).
#[derive(Debug, Clone)]
pub struct StoreConnection {
    /// The store.
    pub store_id: Uuid,
    /// Its organization.
    pub organization_id: Uuid,
    /// Where the store is, on which platform.
    pub address: StoreAddress,
    /// The credentials' name in the secrets port.
    pub credential_ref: SecretName,
    /// Whether it syncs and takes webhooks.
    pub status: ConnectionStatus,
    /// The checkpoint JSON.
    pub checkpoint: String,
    /// Failed runs in a row.
    pub consecutive_failures: i32,
    /// When the credentials were proven to act for this shop or site (see [`CredentialsState`]).
    pub credentials_verified_at: Option<DateTime<Utc>>,
}

impl StoreConnection {
    /// The platform the store is on.
    pub fn platform(&self) -> Platform {
        self.address.platform()
    }

    /// Whether the connection has proven its credentials: only then does it receive webhooks.
    pub fn credentials(&self) -> CredentialsState {
        CredentialsState::of(self.credentials_verified_at)
    }
}

/// Whether a connection is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// Synced and taking webhooks.
    Enabled,
    /// Left alone until the merchant reconnects it (`disabled_reason` says why).
    Disabled,
}

impl ConnectionStatus {
    /// Reads a stored name.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match text {
            "enabled" => Ok(Self::Enabled),
            "disabled" => Ok(Self::Disabled),
            _ => Err(ParseError::new(format!("`{text}` is not one of enabled, disabled"))),
        }
    }
}

/// Whether a connection has proven that its credentials act for the shop or site it names. Shopify signs every
/// webhook with the app's one client secret, so a delivery proves which shop it is about but not which organization
/// owns that shop: anyone can type a shop domain and a made-up token. A connection is proven by a token verified
/// against the shop when it is connected (or an OAuth install), or by any successful platform call of its sync, and
/// only proven connections receive webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsState {
    /// Not proven yet: syncs may run with the credentials (the platform decides), webhooks are not applied.
    Unverified,
    /// Proven.
    Verified,
}

impl CredentialsState {
    /// The state a stored verification time stands for.
    pub fn of(verified_at: Option<DateTime<Utc>>) -> Self {
        if verified_at.is_some() { Self::Verified } else { Self::Unverified }
    }

    /// The name shown by the stores API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unverified => "unverified",
            Self::Verified => "verified",
        }
    }
}

/// A connection leased by `owner`.
#[derive(Debug, Clone)]
pub struct LeasedStore {
    /// The connection.
    pub connection: StoreConnection,
    /// Who holds it: one id per tick or request.
    pub owner: Uuid,
}

/// A store as the stores API shows it, with its connection and sync state when it has one.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoreRecord {
    /// The store.
    pub id: Uuid,
    /// `shopify`, `woocommerce` or `demo`.
    pub platform: String,
    /// Display name.
    pub name: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// Shop domain or site URL (connected stores).
    pub address: Option<String>,
    /// `enabled` or `disabled` (connected stores).
    pub status: Option<String>,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// When it is next due.
    pub next_sync_at: Option<DateTime<Utc>>,
    /// When a sync last read both listings to the end.
    pub last_completed_at: Option<DateTime<Utc>>,
    /// When the current lease ends, if one was taken.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Failed runs in a row.
    pub consecutive_failures: Option<i32>,
    /// The checkpoint JSON.
    pub checkpoint: Option<String>,
    /// When the credentials were proven (connected stores).
    pub credentials_verified_at: Option<DateTime<Utc>>,
    /// The latest run.
    #[sqlx(skip)]
    pub last_job: Option<SyncJob>,
}

/// One sync run.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SyncJob {
    /// Its id.
    pub id: Uuid,
    /// `timer` or `manual`.
    pub trigger: String,
    /// `running`, `succeeded`, `partial`, `failed` or `interrupted`.
    pub status: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Pages read and stored.
    pub pages: i64,
    /// Records created.
    pub created: i64,
    /// Records changed.
    pub updated: i64,
    /// Records already up to date.
    pub unchanged: i64,
    /// Records that could not be applied.
    pub failed: i64,
    /// What went wrong.
    pub error: Option<String>,
}

/// Everything a store has brought in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct StoreTotals {
    /// Products.
    pub products: i64,
    /// Variants.
    pub variants: i64,
    /// Units in stock.
    pub inventory: i64,
    /// Orders.
    pub orders: i64,
    /// Sum of order totals, minor units.
    pub order_total_minor: i64,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobTrigger {
    /// The schedule: a `SyncStore` message the `SyncStores` timer queued (or its continuation).
    Timer,
    /// `POST /api/v1/stores/{id}/sync`.
    Manual,
}

impl JobTrigger {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timer => "timer",
            Self::Manual => "manual",
        }
    }
}

/// How a run stands or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// In progress.
    Running,
    /// Read both listings to the end.
    Succeeded,
    /// Stopped at the time budget; the next run continues from the checkpoint.
    Partial,
    /// Stopped on an error; the next run retries from the checkpoint after a backoff.
    Failed,
    /// Its instance stopped (killed, or lost the lease) before finishing.
    Interrupted,
}

impl JobStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }
}

/// A run's counts so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobProgress {
    /// Pages read and stored.
    pub pages: u64,
    /// Records created.
    pub created: u64,
    /// Records changed.
    pub updated: u64,
    /// Records already up to date (or older than what is stored).
    pub unchanged: u64,
    /// Records that could not be applied.
    pub failed: u64,
}

/// Where a store's sync stands, per listing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Products with variants.
    #[serde(default)]
    pub products: ListingCursor,
    /// Orders with lines.
    #[serde(default)]
    pub orders: ListingCursor,
}

impl Checkpoint {
    /// The cursor of one listing.
    pub fn listing(&self, resource: Resource) -> &ListingCursor {
        match resource {
            Resource::Products => &self.products,
            Resource::Orders => &self.orders,
        }
    }

    /// The cursor of one listing, to change.
    pub fn listing_mut(&mut self, resource: Resource) -> &mut ListingCursor {
        match resource {
            Resource::Products => &mut self.products,
            Resource::Orders => &mut self.orders,
        }
    }

    /// Reads stored JSON; anything unreadable starts over (a full pass, which upserts make harmless).
    pub fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// The JSON to store.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// One listing's position.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListingCursor {
    /// The newest platform `updated_at` of the last complete pass (for a pass read through a Shopify bulk
    /// operation, when the operation started): the next pass asks for what changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<DateTime<Utc>>,
    /// When the last complete pass ended: a listing not read for long is read whole again (a Shopify bulk
    /// operation), whatever its watermark says (a quiet store's watermark stays old).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
    /// The pass in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<Pass>,
}

/// A pass through one listing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pass {
    /// Only records changed after this (none: everything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// A first read, or the first after a long gap: a platform with a bulk export reads through it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bulk: bool,
    /// The platform's cursor for the next page (none: the first page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The newest `updated_at` seen so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<DateTime<Utc>>,
    /// Pages stored so far.
    #[serde(default)]
    pub pages: u64,
    /// Pages in the listing, when the platform says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_pages: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_garbage_starts_over() {
        let mut checkpoint = Checkpoint::default();
        checkpoint.orders.pass = Some(Pass { after: Some("eyJsYXN0X2lkIjo0Mn0=".into()), pages: 3, ..Pass::default() });
        let back = Checkpoint::parse(&checkpoint.to_json());
        assert_eq!(back, checkpoint);
        assert_eq!(Checkpoint::parse("not json"), Checkpoint::default());
        assert_eq!(Checkpoint::parse("{}"), Checkpoint::default());
    }
}
