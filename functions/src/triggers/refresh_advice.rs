//! `RefreshAdvice` (timer, hourly by default): finds the organizations whose advice is due (never computed, a new
//! local day, or data written since the last refresh), oldest first, and queues one `RefreshOrganizationAdvice`
//! message for each (the `organizations` queue output). Only a database outage fails it.

use axum::extract::State;

use super::{Invocation, TriggerError, refresh_organization_advice::OrganizationMessage};
use crate::{
    protocol::{InvocationResponse, TimerInfo},
    state::AppState,
};

/// The timer binding's `name` in `function.json`.
const BINDING: &str = "timer";
/// The queue output binding's `name`: one message per due organization.
const ORGANIZATIONS_OUTPUT: &str = "organizations";

#[tracing::instrument(name = "refreshing advice", skip_all, fields(invocation = invocation.id.as_deref()))]
pub async fn run(State(state): State<AppState>, invocation: Invocation) -> Result<InvocationResponse, TriggerError> {
    let timer: TimerInfo = invocation.request.binding(BINDING)?;
    let scan = shared::advisor::refresh::due_organizations(&state.db)
        .await
        .map_err(|error| TriggerError::Transient(anyhow::Error::new(error).context("advice refresh tick")))?;
    let logs = vec![format!(
        "advice refresh tick (past due: {}): {} organization(s), {} queued, {} up to date",
        timer.is_past_due,
        scan.organizations,
        scan.due.len(),
        scan.organizations - scan.due.len()
    )];
    let messages = scan.due.into_iter().map(|organization| OrganizationMessage { organization }.to_json()).collect();
    Ok(InvocationResponse::logged(logs).with_output(ORGANIZATIONS_OUTPUT, serde_json::Value::Array(messages)))
}
