//! `SyncStore` (queue `sync-stores`): syncs the one store a message names, within `SYNC_TIME_BUDGET_SECS`, from its
//! last checkpoint. The store's lease is the guard against two workers on one store: a message delivered twice, or
//! while another run holds the store, completes without syncing. A run that runs out of time queues its message
//! again (the `next` output) and the next delivery goes on from the checkpoint. A store's own failure is recorded on
//! its sync job and completes the message; a database outage fails it, so the host delivers it again (and, after
//! `maxDequeueCount` deliveries, moves it to the poison queue).

use axum::extract::State;
use serde::Deserialize;
use shared::{
    db::sync::QueuedStore,
    sync::{JobStatus, QueuedRun, RunReport},
};
use uuid::Uuid;

use super::{Invocation, TriggerError};
use crate::{protocol::InvocationResponse, state::AppState};

/// The queue trigger binding's `name` in `function.json`.
const BINDING: &str = "message";
/// The queue output binding's `name`: this message again, for a run that must go on.
const NEXT_OUTPUT: &str = "next";

/// A `sync-stores` message: which store to sync.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreMessage {
    /// The store's organization.
    pub organization: Uuid,
    /// The store.
    pub store: Uuid,
}

impl StoreMessage {
    /// The message as queued: a JSON object (the host writes it as JSON text).
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({ "organization": self.organization, "store": self.store })
    }
}

impl From<QueuedStore> for StoreMessage {
    fn from(queued: QueuedStore) -> Self {
        Self { organization: queued.organization, store: queued.store }
    }
}

#[tracing::instrument(name = "syncing a queued store", skip_all, fields(invocation = invocation.id.as_deref()))]
pub async fn run(State(state): State<AppState>, invocation: Invocation) -> Result<InvocationResponse, TriggerError> {
    let message: StoreMessage = invocation.request.binding(BINDING)?;
    let delivery = invocation.request.metadata_string("DequeueCount").unwrap_or_else(|| "1".to_owned());
    let queued = QueuedStore { organization: message.organization, store: message.store };
    let outcome = state
        .sync_engine()
        .sync_queued(queued, state.settings.sync.time_budget)
        .await
        .map_err(|error| TriggerError::Transient(anyhow::Error::new(error).context("queued store sync")))?;
    let store = message.store;
    let response = match outcome {
        QueuedRun::Ran(run) => {
            let line = format!("store {store} (delivery {delivery}): {}", describe(&run));
            let response = InvocationResponse::logged(vec![line]);
            if run.status == JobStatus::Partial {
                response.with_output(NEXT_OUTPUT, message.to_json())
            } else {
                response
            }
        }
        QueuedRun::NotDue => InvocationResponse::logged(vec![format!("store {store}: not due (synced since)")]),
        QueuedRun::Busy => InvocationResponse::logged(vec![format!("store {store}: another worker is syncing it")]),
        QueuedRun::Unavailable => {
            InvocationResponse::logged(vec![format!("store {store}: no longer connected; message dropped")])
        }
    };
    Ok(response)
}

/// How a run ended, with its counts.
fn describe(run: &RunReport) -> String {
    let p = run.progress;
    format!(
        "{} ({} pages; {} created, {} updated, {} unchanged, {} failed){}",
        run.status.as_str(),
        p.pages,
        p.created,
        p.updated,
        p.unchanged,
        p.failed,
        run.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
    )
}
