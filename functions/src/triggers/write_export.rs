//! `WriteExport` (queue `exports`): writes the one export a message names. Claiming the export is the guard against
//! two writers: a message delivered twice, or one for an export already written, completes without writing. A
//! failure a retry may get past (a database or storage outage) hands the export back and fails the message, so the
//! host delivers it again; any other failure marks the export failed, with the reason the merchant sees.

use axum::extract::State;
use chrono::{Duration, Utc};
use shared::{
    db::exports::FinishedExport,
    exports::{EXPORT_RETENTION, ExportMessage, REQUEUE_AFTER, write_export},
};

use super::{Invocation, TriggerError};
use crate::{protocol::InvocationResponse, state::AppState};

/// The queue trigger binding's `name` in `function.json`.
const BINDING: &str = "message";
/// How long a writer's claim holds before the sweep takes the export to be abandoned (its writer died).
const CLAIM: Duration = Duration::minutes(15);

#[tracing::instrument(name = "writing a queued export", skip_all, fields(invocation = invocation.id.as_deref()))]
pub async fn run(State(state): State<AppState>, invocation: Invocation) -> Result<InvocationResponse, TriggerError> {
    let message: ExportMessage = invocation.request.binding(BINDING)?;
    let ExportMessage { organization, export: id } = message;
    let transient = |error: shared::db::DbError| TriggerError::Transient(anyhow::Error::new(error).context("export"));
    let Some(blobs) = state.blobs.clone() else {
        return Err(TriggerError::Transient(anyhow::anyhow!("export storage is not configured")));
    };
    let Some(org) = state.db.organization(organization).await.map_err(transient)? else {
        return Ok(InvocationResponse::logged(vec![format!("export {id}: the organization is gone; message dropped")]));
    };
    let Some(export) = state.db.claim_export(organization, id, Utc::now() + CLAIM).await.map_err(transient)? else {
        return Ok(InvocationResponse::logged(vec![format!("export {id}: written, failed or being written already")]));
    };
    match write_export(&state.db, &blobs, &org, &export).await {
        Ok(written) => {
            let finished = FinishedExport {
                rows: i64::try_from(written.rows).unwrap_or(i64::MAX),
                bytes: i64::try_from(written.bytes).unwrap_or(i64::MAX),
                blob_name: &written.blob_name,
                expires_at: Utc::now() + EXPORT_RETENTION,
            };
            state.db.finish_export(organization, id, &finished).await.map_err(transient)?;
            let kind = export.request.kind().as_str();
            Ok(InvocationResponse::logged(vec![format!(
                "export {id} ({kind}): {} rows, {} bytes written (attempt {})",
                written.rows, written.bytes, export.attempts
            )]))
        }
        Err(error) if error.is_transient() => {
            state.db.release_export(organization, id, Utc::now() + REQUEUE_AFTER).await.map_err(transient)?;
            Err(TriggerError::Transient(anyhow::Error::new(error).context(format!("export {id}"))))
        }
        Err(error) => {
            state.db.fail_export(organization, id, &error.to_string()).await.map_err(transient)?;
            Ok(InvocationResponse::logged(vec![format!("export {id}: failed: {error}")]))
        }
    }
}
