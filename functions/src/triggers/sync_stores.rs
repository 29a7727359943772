//! `SyncStores` (timer): finds the due stores and queues one `SyncStore` message for each (the `stores` queue
//! output), so the platform spreads the syncs over as many instances as the queue needs. The tick also forgets old
//! webhook deliveries. Only a database outage fails it (the next tick tries again).

use axum::extract::State;

use super::{Invocation, TriggerError, sync_store::StoreMessage};
use crate::{
    protocol::{InvocationResponse, TimerInfo},
    state::AppState,
};

/// The timer binding's `name` in `function.json`.
const BINDING: &str = "timer";
/// The queue output binding's `name`: one message per due store.
const STORES_OUTPUT: &str = "stores";

#[tracing::instrument(name = "syncing stores", skip_all, fields(invocation = invocation.id.as_deref()))]
pub async fn run(State(state): State<AppState>, invocation: Invocation) -> Result<InvocationResponse, TriggerError> {
    let timer: TimerInfo = invocation.request.binding(BINDING)?;
    let scheduled = timer.schedule_status.as_ref().and_then(|s| s.next).map(|t| t.to_rfc3339());
    let due = state
        .sync_engine()
        .tick()
        .await
        .map_err(|error| TriggerError::Transient(anyhow::Error::new(error).context("store sync tick")))?;
    let logs = vec![format!(
        "store sync tick (scheduled {}, past due: {}): {} due store(s) queued",
        scheduled.as_deref().unwrap_or("unknown"),
        timer.is_past_due,
        due.len()
    )];
    record_sync_metrics(&state).await;
    let messages = due.into_iter().map(|store| StoreMessage::from(store).to_json()).collect();
    Ok(InvocationResponse::logged(logs).with_output(STORES_OUTPUT, serde_json::Value::Array(messages)))
}

/// Reports each enabled store's `sync.lag` and the `sync.queue.depth` after the tick; a failed read costs the metric,
/// not the invocation.
async fn record_sync_metrics(state: &AppState) {
    let metrics = shared::telemetry::metrics::metrics();
    match state.db.queued_store_count(chrono::Utc::now()).await {
        Ok(depth) => metrics.sync_queue_depth.record(depth, &[]),
        Err(error) => tracing::warn!(%error, "sync queue depth not recorded"),
    }
    match state.db.sync_freshness().await {
        Ok(stores) => {
            let now = chrono::Utc::now();
            let lag = &metrics.sync_lag;
            for (store, synced) in stores {
                let seconds = (now - synced).num_milliseconds().max(0) as f64 / 1000.0;
                lag.record(seconds, &[opentelemetry::KeyValue::new("store.id", store.to_string())]);
            }
        }
        Err(error) => tracing::warn!(%error, "sync lag not recorded"),
    }
}
