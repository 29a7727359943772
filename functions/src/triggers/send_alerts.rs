//! `SendAlerts` (timer, every 5 minutes by default): tells each organization's channels of new urgent
//! recommendations (once per subject per cooldown) and sends the weekly digest once an organization's week has
//! begun ([`shared::alerts::dispatch`]). A channel that refuses is recorded as a failed delivery and tried again
//! later; a database outage fails the invocation (the next tick tries again).

use axum::extract::State;
use shared::{alerts::dispatch::Dispatcher, db::now_micros};

use super::{Invocation, TriggerError};
use crate::{
    protocol::{InvocationResponse, TimerInfo},
    state::AppState,
};

/// The timer binding's `name` in `function.json`.
const BINDING: &str = "timer";

#[tracing::instrument(name = "sending alerts", skip_all, fields(invocation = invocation.id.as_deref()))]
pub async fn run(State(state): State<AppState>, invocation: Invocation) -> Result<InvocationResponse, TriggerError> {
    let timer: TimerInfo = invocation.request.binding(BINDING)?;
    let dispatcher = Dispatcher {
        db: &state.db,
        secrets: state.secrets.as_ref(),
        sender: &state.alerts,
        settings: &state.settings.alerts,
        app_url: state.settings.app_url.as_ref(),
    };
    let report = dispatcher
        .run(now_micros())
        .await
        .map_err(|error| TriggerError::Transient(anyhow::Error::new(error).context("alerts tick")))?;
    let mut logs = vec![format!(
        "alerts tick (past due: {}): {} organization(s) with channels, {} sent, {} failed, {} within the cooldown",
        timer.is_past_due, report.organizations, report.sent, report.failed, report.cooled_down
    )];
    logs.extend(report.errors.iter().map(|(organization, error)| format!("organization {organization}: {error}")));
    Ok(InvocationResponse::logged(logs))
}
