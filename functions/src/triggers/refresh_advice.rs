//! `RefreshAdvice` (timer, hourly by default): recomputes the advice of every organization that is due (never
//! computed, a new local day, or data written since the last refresh), oldest first, within
//! `ADVICE_REFRESH_BUDGET_SECS`; the rest waits for the next tick. One organization's failure is logged and does
//! not fail the invocation; a database outage does (the host logs it and the next tick tries again).

use axum::extract::State;

use super::{Invocation, TriggerError};
use crate::{
    protocol::{InvocationResponse, TimerInfo},
    state::AppState,
};

/// The timer binding's `name` in `function.json`.
const BINDING: &str = "timer";

#[tracing::instrument(name = "refreshing advice", skip_all, fields(invocation = invocation.id.as_deref()))]
pub async fn run(State(state): State<AppState>, invocation: Invocation) -> Result<InvocationResponse, TriggerError> {
    let timer: TimerInfo = invocation.request.binding(BINDING)?;
    let advisor = &state.settings.advisor;
    let report = shared::advisor::refresh::refresh_due(&state.db, advisor, advisor.refresh_budget)
        .await
        .map_err(|error| TriggerError::Transient(anyhow::Error::new(error).context("advice refresh tick")))?;
    let mut logs = vec![format!(
        "advice refresh tick (past due: {}): {} organization(s), {} refreshed, {} up to date, {} leased elsewhere, \
         {} failed, {} deferred",
        timer.is_past_due,
        report.organizations,
        report.refreshed.len(),
        report.up_to_date,
        report.leased_elsewhere,
        report.failed.len(),
        report.deferred
    )];
    logs.extend(report.refreshed.iter().map(|r| {
        format!(
            "organization {}: {} products, {} recommendations ({} new, {} changed, {} unchanged, {} reopened, {} \
             resolved) in {} ms",
            r.organization,
            r.products,
            r.kept,
            r.store.created,
            r.store.updated,
            r.store.unchanged,
            r.store.reopened,
            r.store.resolved,
            r.elapsed.as_millis()
        )
    }));
    logs.extend(report.failed.iter().map(|(organization, error)| format!("organization {organization}: {error}")));
    Ok(InvocationResponse::logged(logs))
}
