//! `RefreshOrganizationAdvice` (queue `refresh-advice`): recomputes the advice of the one organization a message
//! names, if it is still due (a duplicate delivery computes nothing) and no other instance is refreshing it. A
//! refresh that fails on the organization's own data is logged and completes the message; a database outage fails
//! it, so the host delivers it again (and, after `maxDequeueCount` deliveries, moves it to the poison queue).

use axum::extract::State;
use serde::Deserialize;
use shared::advisor::refresh::{self, QueuedRefresh, RefreshError};
use uuid::Uuid;

use super::{Invocation, TriggerError};
use crate::{protocol::InvocationResponse, state::AppState};

/// The queue trigger binding's `name` in `function.json`.
const BINDING: &str = "message";

/// A `refresh-advice` message: whose advice to recompute.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationMessage {
    /// The organization.
    pub organization: Uuid,
}

impl OrganizationMessage {
    /// The message as queued: a JSON object (the host writes it as JSON text).
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({ "organization": self.organization })
    }
}

#[tracing::instrument(name = "refreshing an organization's advice", skip_all, fields(invocation = invocation.id.as_deref()))]
pub async fn run(State(state): State<AppState>, invocation: Invocation) -> Result<InvocationResponse, TriggerError> {
    let OrganizationMessage { organization } = invocation.request.binding(BINDING)?;
    let line = match refresh::refresh_queued(&state.db, &state.settings.advisor, organization).await {
        Ok(QueuedRefresh::Refreshed(r)) => format!(
            "organization {organization}: {} products, {} recommendations ({} new, {} changed, {} unchanged, {} \
             reopened, {} resolved) in {} ms",
            r.products,
            r.kept,
            r.store.created,
            r.store.updated,
            r.store.unchanged,
            r.store.reopened,
            r.store.resolved,
            r.elapsed.as_millis()
        ),
        Ok(QueuedRefresh::UpToDate) => format!("organization {organization}: up to date"),
        Ok(QueuedRefresh::LeasedElsewhere) => format!("organization {organization}: another instance is refreshing it"),
        Ok(QueuedRefresh::Gone) => format!("organization {organization}: no longer exists; message dropped"),
        Err(RefreshError::Db(error)) if error.is_unavailable() => {
            return Err(TriggerError::Transient(anyhow::Error::new(error).context("queued advice refresh")));
        }
        Err(error) => {
            tracing::error!(tenant = %organization, %error, "advice refresh failed");
            format!("organization {organization}: refresh failed: {error}")
        }
    };
    Ok(InvocationResponse::logged(vec![line]))
}
