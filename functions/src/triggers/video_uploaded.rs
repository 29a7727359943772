//! `VideoUploaded` (Event Grid): a blob landed in the `videos` container.

use axum::extract::State;

use super::{Invocation, TriggerError};
use crate::{
    manifest::{self, Trigger},
    protocol::{BLOB_CREATED, BlobCreatedData, BlobSubject, EventGridEvent, InvocationResponse},
    state::AppState,
};

const FUNCTION: &str = "VideoUploaded";

/// The event binding's `name` in `function.json`.
const BINDING: &str = "event";

#[tracing::instrument(name = "receiving a video upload", skip_all, fields(invocation = invocation.id.as_deref()))]
pub async fn run(State(_state): State<AppState>, invocation: Invocation) -> Result<InvocationResponse, TriggerError> {
    let event: EventGridEvent = invocation.request.binding(BINDING)?;
    if event.event_type != BLOB_CREATED {
        return Ok(completed(format!("ignored event {} of type {}", event.id, event.event_type)));
    }
    let data: BlobCreatedData = serde_json::from_value(event.data.clone())
        .map_err(|e| TriggerError::Malformed(format!("BlobCreated event {} data: {e}", event.id)))?;
    let Some(blob) = BlobSubject::parse(&event.subject) else {
        return Err(TriggerError::Malformed(format!("event {} subject is not a blob: {}", event.id, event.subject)));
    };
    let Some(Trigger::EventGrid { path: pattern, .. }) = manifest::function(FUNCTION).map(|f| &f.trigger) else {
        return Err(TriggerError::Malformed(format!("{FUNCTION} has no eventGridTrigger binding")));
    };
    let captures = (blob.container == pattern.container()).then(|| pattern.captures(&blob.name)).flatten();
    let Some(captures) = captures else {
        return Ok(completed(format!("ignored blob {}/{}: not a video upload path", blob.container, blob.name)));
    };
    let field = |name: &str| captures.iter().find(|(key, _)| *key == name).map_or("", |(_, value)| value.as_str());
    Ok(completed(format!(
        "video upload received: tenant {}, video {}, etag {}, {} bytes",
        field("tenant"),
        field("video"),
        data.e_tag,
        data.content_length.map_or_else(|| "unknown".into(), |n| n.to_string())
    )))
}

fn completed(line: String) -> InvocationResponse {
    tracing::info!("{line}");
    InvocationResponse::logged(vec![line])
}
