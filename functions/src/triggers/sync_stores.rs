//! `SyncStores` (timer): the tick that drives store synchronisation.

use axum::extract::State;

use super::{Invocation, TriggerError};
use crate::{
    protocol::{InvocationResponse, TimerInfo},
    state::AppState,
};

/// The timer binding's `name` in `function.json`.
const BINDING: &str = "timer";

#[tracing::instrument(name = "syncing stores", skip_all, fields(invocation = invocation.id.as_deref()))]
pub async fn run(State(_state): State<AppState>, invocation: Invocation) -> Result<InvocationResponse, TriggerError> {
    let timer: TimerInfo = invocation.request.binding(BINDING)?;
    let scheduled = timer.schedule_status.as_ref().and_then(|s| s.next).map(|t| t.to_rfc3339());
    tracing::info!(past_due = timer.is_past_due, scheduled, "store sync tick");
    Ok(InvocationResponse::logged(vec![format!(
        "store sync tick (scheduled {}, past due: {}); no store connectors are enabled in this build",
        scheduled.as_deref().unwrap_or("unknown"),
        timer.is_past_due
    )]))
}
