//! The function app's bindings, as data. Each function has exactly one `function.json`, under
//! `functions/azure/<FunctionName>/`; the binary embeds them so that `handler package` writes them out, the local
//! host reads timer schedules and blob paths from them, and a test checks them against the router.
//!
//! Queue bindings (a `queueTrigger`, and `queue` outputs whose values are the messages to send) name a queue; the
//! local host runs those queues itself, and the Azure host on the app's storage account.
//!
//! `eventGridTrigger` bindings carry one key of ours, `path` (`<container>/{name}/{pattern}`): the blobs whose
//! `BlobCreated` events the function takes. The Functions host ignores it; the local host watches that container,
//! and the Bicep template derives the Event Grid subscription's subject filter from it.

use std::sync::LazyLock;

use include_dir::{Dir, include_dir};
use serde::Deserialize;
use shared::{config::Lookup, schedule::Schedule};

static AZURE_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/azure");

/// One function of the app.
#[derive(Debug, Clone)]
pub struct Function {
    /// The folder name, which is also the route a non-HTTP invocation is POSTed to.
    pub name: String,
    /// The `function.json` text as committed.
    pub json: &'static str,
    /// What triggers it.
    pub trigger: Trigger,
    /// Its queue output bindings: an invocation's `Outputs.<binding>` are messages for `queue`.
    pub queue_outputs: Vec<QueueOutput>,
}

/// A `queue` output binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOutput {
    /// The binding's `name` (the key under `Outputs`).
    pub binding: String,
    /// The queue its messages go to.
    pub queue: String,
}

/// The trigger binding of a function.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// An HTTP request forwarded by the host to `/api/<route>`.
    Http {
        /// The route template below the `api` prefix.
        route: String,
        /// Allowed methods, upper case; empty means all.
        methods: Vec<String>,
    },
    /// A timer.
    Timer {
        /// The binding's `name` (the key under `Data`).
        binding: String,
        /// When it fires.
        schedule: ScheduleSource,
        /// Fire once when the host starts.
        run_on_startup: bool,
    },
    /// A message on a storage queue.
    Queue {
        /// The binding's `name` (the key under `Data`).
        binding: String,
        /// The queue it takes messages from.
        queue: String,
    },
    /// An Event Grid event about a blob.
    EventGrid {
        /// The binding's `name` (the key under `Data`).
        binding: String,
        /// The blob path pattern whose events it takes.
        path: BlobPath,
    },
}

#[derive(Deserialize)]
struct FunctionJson {
    bindings: Vec<BindingJson>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
enum BindingJson {
    #[serde(rename_all = "camelCase")]
    HttpTrigger {
        route: String,
        #[serde(default)]
        methods: Vec<String>,
    },
    #[serde(rename_all = "camelCase")]
    TimerTrigger {
        name: String,
        schedule: String,
        #[serde(default)]
        run_on_startup: bool,
    },
    #[serde(rename_all = "camelCase")]
    QueueTrigger {
        name: String,
        queue_name: String,
    },
    #[serde(rename_all = "camelCase")]
    Queue {
        name: String,
        queue_name: String,
    },
    EventGridTrigger {
        name: String,
        path: String,
    },
    #[serde(other)]
    Output,
}

/// Why the embedded manifest is unusable. Only a broken build can produce one; a test parses every file.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A `function.json` does not parse or lacks a trigger.
    #[error("functions/azure/{function}/function.json: {reason}")]
    Invalid {
        /// The function's folder name.
        function: String,
        /// What is wrong.
        reason: String,
    },
}

impl Function {
    /// The messages an invocation's `outputs` hold for this function's queue output bindings, with their queue: an
    /// array is one message per element (as the Functions host writes it), `null` none.
    pub fn queued_messages(
        &self,
        outputs: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<(String, serde_json::Value)> {
        let mut messages = Vec::new();
        for output in &self.queue_outputs {
            match outputs.get(&output.binding) {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::Array(items)) => {
                    messages.extend(items.iter().map(|item| (output.queue.clone(), item.clone())));
                }
                Some(item) => messages.push((output.queue.clone(), item.clone())),
            }
        }
        messages
    }
}

/// The function triggered by `queue`, with its binding name.
pub fn consumer_of(queue: &str) -> Option<(&'static Function, &'static str)> {
    FUNCTIONS.as_ref().ok()?.iter().find_map(|function| match &function.trigger {
        Trigger::Queue { binding, queue: taken } if taken == queue => Some((function, binding.as_str())),
        _ => None,
    })
}

/// The embedded manifest, parsed once.
static FUNCTIONS: LazyLock<Result<Vec<Function>, ManifestError>> = LazyLock::new(functions);

/// The function called `name`, if the manifest has it (and parses).
pub fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.as_ref().ok()?.iter().find(|f| f.name == name)
}

/// Every function, sorted by name.
pub fn functions() -> Result<Vec<Function>, ManifestError> {
    let mut functions: Vec<Function> = AZURE_DIR
        .dirs()
        .filter_map(|dir| {
            Some((dir.path().file_name()?.to_str()?.to_owned(), dir.get_file(dir.path().join("function.json"))?))
        })
        .map(|(name, file)| parse(name, file.contents_utf8().unwrap_or_default()))
        .collect::<Result<_, _>>()?;
    functions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(functions)
}

fn parse(name: String, json: &'static str) -> Result<Function, ManifestError> {
    let invalid = |reason: String| ManifestError::Invalid { function: name.clone(), reason };
    let parsed: FunctionJson = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
    let mut queue_outputs = Vec::new();
    let mut triggers = Vec::new();
    for binding in parsed.bindings {
        triggers.push(match binding {
            BindingJson::HttpTrigger { route, methods } => {
                Ok(Trigger::Http { route, methods: methods.iter().map(|m| m.to_ascii_uppercase()).collect() })
            }
            BindingJson::TimerTrigger { name, schedule, run_on_startup } => ScheduleSource::parse(&schedule)
                .map(|schedule| Trigger::Timer { binding: name, schedule, run_on_startup }),
            BindingJson::QueueTrigger { name, queue_name } => Ok(Trigger::Queue { binding: name, queue: queue_name }),
            BindingJson::EventGridTrigger { name, path } => {
                BlobPath::parse(&path).map(|path| Trigger::EventGrid { binding: name, path })
            }
            BindingJson::Queue { name, queue_name } => {
                queue_outputs.push(QueueOutput { binding: name, queue: queue_name });
                continue;
            }
            BindingJson::Output => continue,
        });
    }
    let mut triggers = triggers.into_iter();
    let trigger = triggers.next().ok_or_else(|| invalid("no trigger binding".into()))?.map_err(&invalid)?;
    if triggers.next().is_some() {
        return Err(invalid("more than one trigger binding".into()));
    }
    Ok(Function { name, json, trigger, queue_outputs })
}

/// A timer's `schedule`: an NCRONTAB expression, or `%NAME%`, which the host resolves from the app setting `NAME`
/// (so operators change a schedule without a redeploy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleSource {
    /// A literal expression.
    Literal(Schedule),
    /// The app setting holding the expression.
    Setting(String),
}

impl ScheduleSource {
    fn parse(text: &str) -> Result<Self, String> {
        match text.strip_prefix('%').and_then(|t| t.strip_suffix('%')) {
            Some(name) if !name.is_empty() && !name.contains('%') => Ok(Self::Setting(name.to_owned())),
            _ => Schedule::parse(text).map(Self::Literal).map_err(|e| format!("schedule `{text}`: {e}")),
        }
    }

    /// The schedule, reading a `%NAME%` reference through `lookup`.
    pub fn resolve(&self, lookup: &impl Lookup) -> Result<Schedule, String> {
        match self {
            Self::Literal(schedule) => Ok(schedule.clone()),
            Self::Setting(name) => {
                let text = lookup.get(name).ok_or_else(|| format!("app setting {name} (the schedule) is not set"))?;
                Schedule::parse(&text).map_err(|e| format!("app setting {name}: `{text}`: {e}"))
            }
        }
    }
}

/// A blob path pattern such as `videos/{tenant}/{video}`: a fixed container, then literal or `{named}` segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobPath {
    container: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Named(String),
}

impl BlobPath {
    /// Parses a pattern; the container must be literal.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let mut parts = pattern.split('/');
        let container =
            parts.next().filter(|c| !c.is_empty() && !c.contains('{')).ok_or("the container must be a literal name")?;
        let segments: Vec<Segment> = parts
            .map(|part| match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if !name.is_empty() => Ok(Segment::Named(name.to_owned())),
                _ if part.is_empty() || part.contains(['{', '}']) => Err(format!("bad segment `{part}`")),
                _ => Ok(Segment::Literal(part.to_owned())),
            })
            .collect::<Result<_, _>>()?;
        if segments.is_empty() {
            return Err("a blob name pattern must follow the container".into());
        }
        Ok(Self { container: container.to_owned(), segments })
    }

    /// The container this pattern lives in.
    pub fn container(&self) -> &str {
        &self.container
    }

    /// Matches a blob name (without the container), returning each `{named}` segment's value.
    pub fn captures(&self, blob_name: &str) -> Option<Vec<(&str, String)>> {
        let parts: Vec<&str> = blob_name.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut captures = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Named(name) if !part.is_empty() => captures.push((name.as_str(), part.to_owned())),
                _ => return None,
            }
        }
        Some(captures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_function_json_parses() {
        let functions = functions().expect("valid manifest");
        let names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Api",
                "Dashboard",
                "Health",
                "OpenApi",
                "Problems",
                "RefreshAdvice",
                "RefreshOrganizationAdvice",
                "SendAlerts",
                "ShopifyCallback",
                "SweepExports",
                "SyncStore",
                "SyncStores",
                "VideoUploaded",
                "Webhooks",
                "WooCommerceCallback",
                "WriteExport"
            ]
        );
    }

    #[test]
    fn the_export_sweep_queues_for_the_function_that_writes_one_export() {
        let sweep = function("SweepExports").expect("SweepExports");
        let writer = function("WriteExport").expect("WriteExport");
        let Trigger::Queue { queue, .. } = &writer.trigger else { panic!("WriteExport is queue-triggered") };
        assert_eq!(queue, shared::exports::EXPORT_QUEUE, "the queue the API sends to");
        assert_eq!(sweep.queue_outputs, [QueueOutput { binding: "exports".into(), queue: queue.clone() }]);
    }

    #[test]
    fn the_sync_tick_queues_for_the_function_that_syncs_one_store() {
        let tick = function("SyncStores").expect("SyncStores");
        let consumer = function("SyncStore").expect("SyncStore");
        let Trigger::Queue { queue, .. } = &consumer.trigger else { panic!("SyncStore is queue-triggered") };
        assert_eq!(tick.queue_outputs, [QueueOutput { binding: "stores".into(), queue: queue.clone() }]);
        assert_eq!(consumer.queue_outputs, [QueueOutput { binding: "next".into(), queue: queue.clone() }]);
        assert_eq!(consumer_of(queue).map(|(f, binding)| (f.name.as_str(), binding)), Some(("SyncStore", "message")));
    }

    #[test]
    fn every_queue_written_to_has_a_consumer() {
        for function in functions().expect("valid manifest") {
            for output in &function.queue_outputs {
                assert!(consumer_of(&output.queue).is_some(), "{}: nobody takes {}", function.name, output.queue);
            }
        }
    }

    #[test]
    fn queue_outputs_are_one_message_per_array_element() {
        let tick = function("SyncStores").expect("SyncStores");
        let outputs = serde_json::json!({ "stores": [{ "a": 1 }, { "a": 2 }], "other": [3] });
        let messages = tick.queued_messages(outputs.as_object().expect("object"));
        assert_eq!(
            messages,
            [
                ("sync-stores".to_owned(), serde_json::json!({ "a": 1 })),
                ("sync-stores".to_owned(), serde_json::json!({ "a": 2 }))
            ]
        );
        let single = serde_json::json!({ "stores": { "a": 1 } });
        assert_eq!(tick.queued_messages(single.as_object().expect("object")).len(), 1);
        let none = serde_json::json!({ "stores": null });
        assert!(tick.queued_messages(none.as_object().expect("object")).is_empty());
    }

    #[test]
    fn the_upload_trigger_watches_the_container_uploads_go_to() {
        let Some(Trigger::EventGrid { path, .. }) = function("VideoUploaded").map(|f| &f.trigger) else {
            panic!("VideoUploaded is an Event Grid function");
        };
        assert_eq!(path.container(), shared::video::VIDEOS_CONTAINER);
        let name = "3f8b3c1e-8f4a-4b1a-9d5e-2f0c6a7b8c9d/1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f.mp4";
        assert!(path.captures(name).is_some(), "the API's blob names match the trigger's path");
    }

    #[test]
    fn blob_paths_capture_named_segments_only_on_an_exact_shape() {
        let path = BlobPath::parse("videos/{tenant}/{video}").expect("valid");
        assert_eq!(path.container(), "videos");
        assert_eq!(
            path.captures("t-42/clip.mp4"),
            Some(vec![("tenant", "t-42".to_owned()), ("video", "clip.mp4".to_owned())])
        );
        assert_eq!(path.captures("t-42/extra/clip.mp4"), None, "too deep");
        assert_eq!(path.captures("clip.mp4"), None, "too shallow");
        assert_eq!(path.captures("/clip.mp4"), None, "empty segment");
        for bad in ["{c}/x", "videos", "videos/{}", "videos/a{b"] {
            assert!(BlobPath::parse(bad).is_err(), "{bad}");
        }
    }
}
