//! `SyncStores` (timer): one tick of the store sync engine. It leases due stores one at a time, syncs each within
//! `SYNC_TIME_BUDGET_SECS` from its last checkpoint, and leaves the rest for the next tick or another instance. A
//! store's own failure is recorded on its sync job and does not fail the invocation; a database outage does (the
//! host logs it and the next tick tries again).

use axum::extract::State;

use super::{Invocation, TriggerError};
use crate::{
    protocol::{InvocationResponse, TimerInfo},
    state::AppState,
};

/// The timer binding's `name` in `function.json`.
const BINDING: &str = "timer";

#[tracing::instrument(name = "syncing stores", skip_all, fields(invocation = invocation.id.as_deref()))]
pub async fn run(State(state): State<AppState>, invocation: Invocation) -> Result<InvocationResponse, TriggerError> {
    let timer: TimerInfo = invocation.request.binding(BINDING)?;
    let scheduled = timer.schedule_status.as_ref().and_then(|s| s.next).map(|t| t.to_rfc3339());
    let report = state
        .sync_engine()
        .tick(state.settings.sync.time_budget)
        .await
        .map_err(|error| TriggerError::Transient(anyhow::Error::new(error).context("store sync tick")))?;
    let mut logs = vec![format!(
        "store sync tick (scheduled {}, past due: {}): {} store run(s)",
        scheduled.as_deref().unwrap_or("unknown"),
        timer.is_past_due,
        report.runs.len()
    )];
    logs.extend(report.runs.iter().map(|run| {
        let p = run.progress;
        format!(
            "store {}: {} ({} pages; {} created, {} updated, {} unchanged, {} failed){}",
            run.store,
            run.status.as_str(),
            p.pages,
            p.created,
            p.updated,
            p.unchanged,
            p.failed,
            run.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
        )
    }));
    record_sync_lag(&state).await;
    Ok(InvocationResponse::logged(logs))
}

/// Reports each enabled store's `sync.lag` after the tick; a failed read costs the metric, not the invocation.
async fn record_sync_lag(state: &AppState) {
    match state.db.sync_freshness().await {
        Ok(stores) => {
            let now = chrono::Utc::now();
            let lag = &shared::telemetry::metrics::metrics().sync_lag;
            for (store, synced) in stores {
                let seconds = (now - synced).num_milliseconds().max(0) as f64 / 1000.0;
                lag.record(seconds, &[opentelemetry::KeyValue::new("store.id", store.to_string())]);
            }
        }
        Err(error) => tracing::warn!(%error, "sync lag not recorded"),
    }
}
