//! Storage of store connections and their sync: leases (`FOR UPDATE SKIP LOCKED` with an expiry on PostgreSQL, one
//! conditional `UPDATE` on single-writer SQLite), fenced checkpoints, sync-job history, webhook delivery dedup,
//! record versions and the refresh queue.
//!
//! Every statement filters on the organization, except the two that must look across tenants and only return rows
//! that scope everything after them: leasing the next due store (the timer) and finding the stores behind a webhook's
//! shop domain or site.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Database, DbError,
    catalogue::{last_of_each, upsert_products_in},
    now_micros, on_pool,
    orders::{OrderInput, OrderLineInput},
    tx::{WriteTx, on_tx},
};
use crate::{
    catalogue::{ProductInput, UpsertCounts},
    domain::CurrencyCode,
    platforms::{PlatformOrder, PlatformProduct, address::StoreAddress},
    secrets::SecretName,
    sync::{
        ConnectionStatus, CredentialsState, JobProgress, JobStatus, JobTrigger, LeasedStore, StoreConnection,
        StoreRecord, StoreTotals, SyncJob,
    },
};

mod connections;
mod deliveries;
mod jobs;
mod records;

pub use connections::*;
pub use deliveries::*;
pub use jobs::*;
use records::*;

/// When a write's commit may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Once the write is on disk: what anything acknowledged to someone else needs (a webhook's 200).
    Immediate,
    /// Before the log is flushed (PostgreSQL `synchronous_commit = off` for the transaction; SQLite in WAL mode
    /// already commits so). A database crash may lose the last fraction of a second of such commits, always the
    /// newest ones first, which is harmless for what a sync writes: data and the checkpoint after it are lost
    /// together, and the next run reads those pages again. A killed *worker* loses nothing: the server has it.
    /// Without it every page would wait for a disk flush, which caps a sync at a few hundred pages a second.
    Deferred,
}
