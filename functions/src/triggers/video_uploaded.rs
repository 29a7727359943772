//! `VideoUploaded` (Event Grid `BlobCreated` on the `videos` container): probes the uploaded file with ranged reads
//! and records the result against the blob version (ETag) the event announced.
//!
//! Idempotence: Event Grid delivers at least once and in no guaranteed order, and the host retries failures. The
//! analysis is claimed per blob version in one conditional update (`claim_video_analysis`): an event for a version
//! already analysed, or older (by `sequencer`) than one already claimed, is a completed no-op; a copy arriving while
//! another invocation analyses the same version fails retryably without reading the blob (the retry finds the result,
//! or takes over a claim its holder left behind); the result is written only while its claim still stands, and
//! every read is pinned to the ETag. A file that cannot be analysed (corrupt,
//! unsupported, too large) completes with the video `failed` and a reason — retrying cannot help; a storage or
//! database failure answers non-2xx so the host retries.

use axum::extract::State;
use shared::{
    blob::{BlobError, BlobStore, BlobVersion, same_etag},
    db::videos::{Analysis, AnalysisClaim, Claim},
    video::{
        VIDEOS_CONTAINER, parse_blob_name,
        probe::{ProbeError, ProbeLimits, probe},
    },
};
use uuid::Uuid;

use super::{Invocation, TriggerError};
use crate::{
    manifest::{self, Trigger},
    protocol::{BLOB_CREATED, BlobCreatedData, BlobSubject, EventGridEvent, InvocationResponse},
    state::AppState,
};

const FUNCTION: &str = "VideoUploaded";

/// The event binding's `name` in `function.json`.
const BINDING: &str = "event";

/// Range requests one probe may make (a fragmented file needs one or two per fragment to find its end).
const MAX_PROBE_REQUESTS: u32 = 256;

#[tracing::instrument(name = "analysing a video upload", skip_all, fields(invocation = invocation.id.as_deref()))]
pub async fn run(State(state): State<AppState>, invocation: Invocation) -> Result<InvocationResponse, TriggerError> {
    let event: EventGridEvent = invocation.request.binding(BINDING)?;
    if event.event_type != BLOB_CREATED {
        return Ok(InvocationResponse::logged(vec![format!(
            "ignored event {} of type {}",
            event.id, event.event_type
        )]));
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
        return Ok(InvocationResponse::logged(vec![format!(
            "ignored blob {}/{}: not a video upload path",
            blob.container, blob.name
        )]));
    };
    let field = |name: &str| captures.iter().find(|(key, _)| *key == name).map_or("", |(_, value)| value.as_str());
    let (tenant, file) = (field("tenant"), field("video"));
    let mut logs = vec![format!(
        "video upload received: tenant {tenant}, video {file}, etag {}, {} bytes",
        data.e_tag,
        data.content_length.map_or_else(|| "unknown".into(), |n| n.to_string())
    )];
    let Some((organization, video, _)) = parse_blob_name(tenant, file) else {
        logs.push(format!("ignored blob {}: not a name this app issues", blob.name));
        return Ok(InvocationResponse::logged(logs));
    };
    let store = state.blobs.as_ref().ok_or_else(|| transient("no blob store is configured"))?;
    let upload = Upload { organization, video, name: &blob.name, etag: data.e_tag.trim_matches('"') };
    logs.push(analyse(&state, store, &upload, data.sequencer.as_deref()).await?);
    Ok(InvocationResponse::logged(logs))
}

/// The blob version an event announced.
struct Upload<'a> {
    organization: Uuid,
    video: Uuid,
    name: &'a str,
    etag: &'a str,
}

/// Claims, probes and records; returns the outcome as a log line.
async fn analyse(
    state: &AppState,
    store: &BlobStore,
    upload: &Upload<'_>,
    sequencer: Option<&str>,
) -> Result<String, TriggerError> {
    let Upload { organization, video, name, etag } = *upload;
    let claim = state.db.claim_video_analysis(organization, video, etag, sequencer).await.map_err(transient)?;
    let claim = match claim {
        Claim::Claimed(claim) => claim,
        // Only one copy of an event probes the blob; the others come back once it is done (or its claim lapsed).
        Claim::InProgress => {
            return Err(transient(format!("video {video}: this upload is being analysed by another invocation")));
        }
        Claim::NoSuchVideo => return Ok(format!("no video {video} in organization {organization}: ignored")),
        Claim::AlreadyDone(status) => return Ok(format!("video {video} already {status} for ETag {etag}: no-op")),
        Claim::Superseded => return Ok(format!("video {video}: a newer upload was already seen; stale event ignored")),
    };
    let properties = match store.properties(VIDEOS_CONTAINER, name).await {
        Ok(properties) => properties,
        Err(BlobError::NotFound) => {
            return finish(state, upload, claim, Analysis::Failed("the uploaded file no longer exists".into())).await;
        }
        Err(error) => return Err(transient(error)),
    };
    if !same_etag(&properties.etag, etag) {
        return Ok(format!("video {video}: the blob changed since this event; the newer event will analyse it"));
    }
    let max_bytes = state.settings.video.max_bytes;
    if properties.length > max_bytes {
        let reason = format!("the file is {} bytes, over the {max_bytes}-byte limit", properties.length);
        return finish(state, upload, claim, Analysis::Failed(reason)).await;
    }
    let source = BlobVersion { store, container: VIDEOS_CONTAINER, name, etag: &properties.etag };
    let limits = ProbeLimits { max_bytes: state.settings.video.probe_max_bytes, max_requests: MAX_PROBE_REQUESTS };
    let report = probe(&source, properties.length, limits).await;
    shared::telemetry::metrics::metrics().probe_bytes_read.add(report.bytes_read, &[]);
    let cost = format!("read {} bytes in {} requests", report.bytes_read, report.requests);
    let analysis = match report.result {
        Ok(found) => Analysis::Ready(found),
        Err(ProbeError::Source(BlobError::Changed)) => {
            return Ok(format!("video {video}: the blob changed during analysis; the newer event will analyse it"));
        }
        Err(ProbeError::Source(BlobError::NotFound)) => Analysis::Failed("the uploaded file no longer exists".into()),
        Err(ProbeError::Source(error)) => return Err(transient(error)),
        Err(other) => Analysis::Failed(other.reason().unwrap_or_else(|| other.to_string())),
    };
    let line = finish(state, upload, claim, analysis).await?;
    Ok(format!("{line} ({cost})"))
}

async fn finish(
    state: &AppState,
    upload: &Upload<'_>,
    claim: AnalysisClaim,
    analysis: Analysis,
) -> Result<String, TriggerError> {
    let Upload { organization, video, etag, .. } = *upload;
    let recorded =
        state.db.finish_video_analysis(organization, video, etag, claim, &analysis).await.map_err(transient)?;
    Ok(match (recorded, &analysis) {
        (false, _) => format!("video {video}: a newer upload (or a retry) took over; this result was dropped"),
        (true, Analysis::Ready(found)) => format!(
            "video {video} ready: {} {}x{}, {}",
            found.video_codec,
            found.display_width,
            found.display_height,
            found.duration_seconds.map_or_else(|| "duration unknown".into(), |d| format!("{d:.2} s"))
        ),
        (true, Analysis::Failed(reason)) => format!("video {video} failed: {reason}"),
    })
}

fn transient(error: impl std::fmt::Display) -> TriggerError {
    TriggerError::Transient(anyhow::anyhow!("{error}"))
}
