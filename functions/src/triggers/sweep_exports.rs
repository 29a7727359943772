//! `SweepExports` (timer): the exports' housekeeping. It queues again (the `exports` queue output) every export that
//! waited past its time — its message lost, or its writer gone — fails those that used up their attempts, and
//! deletes the files of expired exports (the export stays listed, `expired`). Only an outage fails it; the next
//! tick goes on.

use axum::extract::State;
use chrono::Utc;
use shared::exports::{EXPORTS_CONTAINER, REQUEUE_AFTER};

use super::{Invocation, TriggerError};
use crate::{
    protocol::{InvocationResponse, TimerInfo},
    state::AppState,
};

/// The timer binding's `name` in `function.json`.
const BINDING: &str = "timer";
/// The queue output binding's `name`: one message per export to write.
const EXPORTS_OUTPUT: &str = "exports";
/// Most exports requeued, and most files deleted, per tick.
const PER_TICK: u32 = 500;

#[tracing::instrument(name = "sweeping exports", skip_all, fields(invocation = invocation.id.as_deref()))]
pub async fn run(State(state): State<AppState>, invocation: Invocation) -> Result<InvocationResponse, TriggerError> {
    let timer: TimerInfo = invocation.request.binding(BINDING)?;
    let transient = |error: shared::db::DbError| TriggerError::Transient(anyhow::Error::new(error).context("sweep"));
    let now = Utc::now();
    let given_up = state.db.give_up_exports(now).await.map_err(transient)?;
    let requeued = state.db.requeue_exports(now, now + REQUEUE_AFTER, PER_TICK).await.map_err(transient)?;
    let mut deleted = 0;
    if let Some(blobs) = &state.blobs {
        for (organization, id, name) in state.db.expired_exports(now, PER_TICK).await.map_err(transient)? {
            blobs.delete(EXPORTS_CONTAINER, &name).await.map_err(|error| {
                TriggerError::Transient(anyhow::Error::new(error).context(format!("deleting export {id}")))
            })?;
            state.db.mark_export_expired(organization, id).await.map_err(transient)?;
            deleted += 1;
        }
    }
    let logs = vec![format!(
        "export sweep (past due: {}): {} queued again, {given_up} given up, {deleted} expired file(s) deleted",
        timer.is_past_due,
        requeued.len()
    )];
    let messages = requeued.into_iter().map(|message| serde_json::to_value(message).unwrap_or_default()).collect();
    Ok(InvocationResponse::logged(logs).with_output(EXPORTS_OUTPUT, serde_json::Value::Array(messages)))
}
