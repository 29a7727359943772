//! The Azure Functions custom-handler protocol for non-HTTP triggers: the invocation the host POSTs to
//! `/<FunctionName>` and the reply it expects, with the payloads our triggers receive (timer, queue, Event Grid).
//!
//! The host's encoding has quirks that these types absorb (see `shared/reference/functions-host-protocol.md` §5):
//! plain values in `Data`/`Metadata` may arrive JSON-encoded a second time (`"\"clip.mp4\""`), keys ending in
//! `Trigger` are dropped, `ScheduleStatus` may be `null`, and an Event Grid event may be an object or a string.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

/// Header carrying the invocation id on every host request.
pub const INVOCATION_ID_HEADER: &str = "x-azure-functions-invocationid";

/// The body of `POST /<FunctionName>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvocationRequest {
    /// One entry per trigger or input binding, keyed by the binding's `name`.
    #[serde(default)]
    pub data: Map<String, Value>,
    /// The trigger's binding data, plus `sys` and (with a retry policy) `RetryContext`.
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// A binding or metadata value that is missing or has the wrong shape.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct PayloadError {
    what: String,
    reason: String,
}

impl InvocationRequest {
    /// Reads `Data.<name>` as `T`, accepting the value itself or a JSON string that encodes it.
    pub fn binding<T: DeserializeOwned>(&self, name: &str) -> Result<T, PayloadError> {
        let what = format!("Data.{name}");
        let value = self.data.get(name).ok_or_else(|| PayloadError { what: what.clone(), reason: "missing".into() })?;
        decode_layered(value).map_err(|reason| PayloadError { what, reason })
    }

    /// Reads a string from `Metadata`, removing the extra JSON layer the host adds to plain values.
    pub fn metadata_string(&self, key: &str) -> Option<String> {
        match self.metadata.get(key)? {
            Value::String(s) => Some(match serde_json::from_str::<String>(s) {
                Ok(inner) => inner,
                Err(_) => s.clone(),
            }),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// `Metadata.sys`, when present and well-formed.
    pub fn sys(&self) -> Option<Sys> {
        self.metadata.get("sys").and_then(|v| decode_layered(v).ok())
    }

    /// `Metadata.RetryContext`, present when a host retry policy applies.
    pub fn retry_context(&self) -> Option<RetryContext> {
        self.metadata.get("RetryContext").and_then(|v| decode_layered(v).ok())
    }
}

/// Decodes `value` as `T`; if that fails and the value is a string, decodes the JSON inside the string (again, if
/// that is a string too: a queue message's JSON text may arrive JSON-encoded once more).
fn decode_layered<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    match T::deserialize(value) {
        Ok(decoded) => Ok(decoded),
        Err(direct) => match value {
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(inner @ Value::String(_)) => decode_layered(&inner),
                Ok(inner) => T::deserialize(inner).map_err(|error| format!("{error} (in JSON string)")),
                Err(error) => Err(format!("{error} (in JSON string)")),
            },
            _ => Err(direct.to_string()),
        },
    }
}

/// `Metadata.sys`: which function the host invoked, and when.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Sys {
    /// The function's name.
    pub method_name: String,
    /// The host's clock at invocation.
    #[serde(default, deserialize_with = "lenient_time")]
    pub utc_now: Option<DateTime<Utc>>,
    /// A random GUID per invocation.
    #[serde(default)]
    pub rand_guid: Option<String>,
}

/// `Metadata.RetryContext`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryContext {
    /// How many retries came before this attempt.
    pub retry_count: u32,
    /// The policy's limit.
    pub max_retry_count: u32,
}

/// The reply to an invocation. Any 2xx with this JSON completes the invocation; a non-2xx fails it, which makes the
/// host retry (Event Grid) or log the failure (timers).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvocationResponse {
    /// Output binding values, keyed by binding name.
    pub outputs: Map<String, Value>,
    /// Lines the host writes to the invocation's log.
    pub logs: Vec<String>,
    /// The `$return` binding's value.
    pub return_value: Value,
}

impl InvocationResponse {
    /// A completed invocation with these log lines and no outputs.
    pub fn logged(logs: Vec<String>) -> Self {
        Self { logs, ..Self::default() }
    }

    /// Adds the value of output binding `name` (for a queue binding, an array is one message per element).
    pub fn with_output(mut self, name: &str, value: Value) -> Self {
        self.outputs.insert(name.to_owned(), value);
        self
    }
}

/// The timer binding's value (`TimerInfo`, PascalCase as the host serialises it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimerInfo {
    /// The schedule's flags.
    #[serde(default)]
    pub schedule: TimerSchedule,
    /// The schedule monitor's record; `null` when monitoring is off or has no record yet.
    #[serde(default)]
    pub schedule_status: Option<ScheduleStatus>,
    /// The invocation started later than scheduled (e.g. the app was down).
    #[serde(default)]
    pub is_past_due: bool,
}

/// `TimerInfo.Schedule`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TimerSchedule {
    /// Whether the schedule follows daylight-saving changes.
    #[serde(rename = "AdjustForDST", default)]
    pub adjust_for_dst: bool,
}

/// `TimerInfo.ScheduleStatus`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleStatus {
    /// The previous occurrence (`0001-01-01T00:00:00` before the first run).
    #[serde(deserialize_with = "lenient_time")]
    pub last: Option<DateTime<Utc>>,
    /// The occurrence this invocation is for, or the next one.
    #[serde(deserialize_with = "lenient_time")]
    pub next: Option<DateTime<Utc>>,
    /// When the monitor last wrote this record.
    #[serde(default, deserialize_with = "lenient_time")]
    pub last_updated: Option<DateTime<Utc>>,
}

/// Dates from the host come as RFC 3339 with `Z` or an offset, with 0-7 fraction digits, or as .NET's offset-less
/// form for `DateTime` values (taken as UTC). Anything else reads as absent rather than failing the invocation.
fn lenient_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let raw = Option::<String>::deserialize(deserializer)?;
    Ok(raw.and_then(|s| {
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|t| t.and_utc()))
    }))
}

/// An Event Grid event in the Event Grid schema or the CloudEvents 1.0 schema (`type`/`source`/`time`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventGridEvent {
    /// Unique per event; a redelivery repeats it.
    pub id: String,
    /// What the event is about: for Blob Storage, `/blobServices/default/containers/<c>/blobs/<name>`.
    pub subject: String,
    /// e.g. `Microsoft.Storage.BlobCreated`.
    #[serde(alias = "type")]
    pub event_type: String,
    /// When it happened.
    #[serde(default, alias = "time", deserialize_with = "lenient_time")]
    pub event_time: Option<DateTime<Utc>>,
    /// The publishing resource (the storage account's resource id).
    #[serde(default, alias = "source")]
    pub topic: Option<String>,
    /// Event-type-specific payload.
    #[serde(default)]
    pub data: Value,
}

/// The event type raised when a blob is created or replaced.
pub const BLOB_CREATED: &str = "Microsoft.Storage.BlobCreated";

/// `data` of a `Microsoft.Storage.BlobCreated` event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobCreatedData {
    /// The operation that created the blob (`PutBlob`, `PutBlockList`, `CopyBlob`, …).
    pub api: String,
    /// The new blob version's ETag; equal ETags mean the same content.
    pub e_tag: String,
    /// The blob's content type.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The blob's length in bytes.
    #[serde(default)]
    pub content_length: Option<u64>,
    /// `BlockBlob`, …
    #[serde(default)]
    pub blob_type: Option<String>,
    /// The blob's URL.
    pub url: String,
    /// Orders events for one blob: a lexically smaller sequencer is older.
    #[serde(default)]
    pub sequencer: Option<String>,
}

/// Container and blob name of a Blob Storage event subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobSubject {
    /// The container.
    pub container: String,
    /// The blob's name within the container (may contain `/`).
    pub name: String,
}

impl BlobSubject {
    const PREFIX: &'static str = "/blobServices/default/containers/";

    /// Parses `/blobServices/default/containers/<container>/blobs/<name>`.
    pub fn parse(subject: &str) -> Option<Self> {
        let rest = subject.strip_prefix(Self::PREFIX)?;
        let (container, name) = rest.split_once("/blobs/")?;
        (!container.is_empty() && !name.is_empty() && !container.contains('/'))
            .then(|| Self { container: container.to_owned(), name: name.to_owned() })
    }

    /// The subject string for a container and blob name.
    pub fn to_subject(&self) -> String {
        format!("{}{}/blobs/{}", Self::PREFIX, self.container, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_subject_round_trips_and_rejects_other_subjects() {
        let subject = "/blobServices/default/containers/videos/blobs/t-42/clip.mp4";
        let parsed = BlobSubject::parse(subject).expect("valid");
        assert_eq!(parsed, BlobSubject { container: "videos".into(), name: "t-42/clip.mp4".into() });
        assert_eq!(parsed.to_subject(), subject);
        for other in ["/blobServices/default/containers/videos", "/queueServices/default/queues/q", ""] {
            assert_eq!(BlobSubject::parse(other), None, "{other}");
        }
    }

    #[test]
    fn host_dates_parse_in_every_form_seen() {
        let status: ScheduleStatus = serde_json::from_value(serde_json::json!({
            "Last": "0001-01-01T00:00:00",
            "Next": "2024-05-01T03:00:00Z",
            "LastUpdated": "2024-05-01T02:00:00.0123456+00:00"
        }))
        .expect("valid");
        assert_eq!(status.next.expect("next").to_rfc3339(), "2024-05-01T03:00:00+00:00");
        assert!(status.last.is_some() && status.last_updated.is_some());
    }
}
