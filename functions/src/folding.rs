//! Folds event deltas into the rollups shortly after ingest (PostgreSQL; see [`shared::db::rollups`]).
//!
//! An event batch appends its change to the rollups instead of updating them, so concurrent batches never wait on
//! each other. Reads stay exact without any fold (they add the deltas still pending); folding keeps what they add
//! small. One fold runs per instance at a time, [`FOLD_DELAY`] after the first batch that needs one, and takes every
//! batch committed by then; across instances an advisory lock lets one fold at a time.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use shared::db::{Backend, Database, rollups::FoldMode};

/// How long after a batch its fold starts: long enough to take many concurrent batches in one fold.
pub const FOLD_DELAY: Duration = Duration::from_millis(100);

/// Schedules folds for one process.
#[derive(Debug, Default)]
pub struct RollupFolder {
    scheduled: AtomicBool,
}

impl RollupFolder {
    /// Called after an event batch is stored: folds it (and every batch stored meanwhile) in soon.
    pub fn after_ingest(self: &Arc<Self>, db: &Database) {
        if db.backend() != Backend::Postgres || self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let (folder, db) = (Arc::clone(self), db.clone());
        tokio::spawn(async move {
            tokio::time::sleep(FOLD_DELAY).await;
            // Batches stored from now on schedule the next fold.
            folder.scheduled.store(false, Ordering::Release);
            if let Err(error) = db.fold_rollup_deltas(FoldMode::IfIdle).await {
                tracing::warn!(%error, "folding event deltas into the rollups failed; the next batch retries");
            }
        });
    }
}
