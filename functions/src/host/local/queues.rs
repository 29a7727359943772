//! In-process storage queues, as the Functions host runs them on a storage account: a queue-triggered function
//! takes each message (a few at once), a failed delivery is made visible again after the visibility timeout with
//! its dequeue count raised, and a message that failed `MAX_DEQUEUE_COUNT` times goes to the poison queue — here a
//! JSON-lines file, `<data-dir>/poison/<queue>-poison.jsonl`, so it is never lost. Messages still queued when the
//! process stops are gone; the timers that queued them find the same work again (see `SyncStores`).

use std::{collections::HashMap, path::PathBuf, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use uuid::Uuid;

use super::Invoker;

/// Deliveries of a message before it is poison (`host.json` `extensions.queues.maxDequeueCount`).
pub const MAX_DEQUEUE_COUNT: u32 = 5;
/// How long a failed message stays invisible (`host.json` `extensions.queues.visibilityTimeout`).
pub const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);
/// Messages of one queue handled at once (`host.json` `extensions.queues.batchSize`).
pub const BATCH_SIZE: usize = 4;

/// One queued message.
#[derive(Debug)]
pub struct Message {
    id: Uuid,
    body: Value,
    dequeue_count: u32,
    inserted: DateTime<Utc>,
}

/// The sending side of every queue some function takes. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LocalQueues {
    senders: Arc<HashMap<String, mpsc::UnboundedSender<Message>>>,
}

/// The receiving side of one queue.
pub type Receiver = mpsc::UnboundedReceiver<Message>;

impl LocalQueues {
    /// A queue for each name, with its receiver.
    pub fn new<'a>(queues: impl IntoIterator<Item = &'a str>) -> (Self, HashMap<String, Receiver>) {
        let (mut senders, mut receivers) = (HashMap::new(), HashMap::new());
        for queue in queues {
            let (sender, receiver) = mpsc::unbounded_channel();
            senders.insert(queue.to_owned(), sender);
            receivers.insert(queue.to_owned(), receiver);
        }
        (Self { senders: Arc::new(senders) }, receivers)
    }

    /// Queues a new message on `queue`. A queue nobody takes is a manifest fault, which a test rules out.
    pub fn send(&self, queue: &str, body: Value) {
        let message = Message { id: Uuid::new_v4(), body, dequeue_count: 0, inserted: Utc::now() };
        self.resend(queue, message);
    }

    fn resend(&self, queue: &str, message: Message) {
        match self.senders.get(queue) {
            Some(sender) => {
                // The receiver lives as long as the host; a send fails only while the host shuts down.
                let _ = sender.send(message);
            }
            None => tracing::error!(queue, "a message for a queue no function takes was dropped"),
        }
    }
}

/// Takes `queue`'s messages for `function` until the host stops.
pub async fn consume(
    invoker: Invoker,
    function: String,
    binding: String,
    queue: String,
    mut receiver: Receiver,
    poison_dir: PathBuf,
) {
    let slots = Arc::new(Semaphore::new(BATCH_SIZE));
    while let Some(mut message) = receiver.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let (invoker, function, binding, queue, poison_dir) =
            (invoker.clone(), function.clone(), binding.clone(), queue.clone(), poison_dir.clone());
        tokio::spawn(async move {
            message.dequeue_count += 1;
            let data = serde_json::Map::from_iter([(binding, message.body.clone())]);
            let metadata = serde_json::Map::from_iter([
                ("Id".to_owned(), json!(message.id)),
                ("DequeueCount".to_owned(), json!(message.dequeue_count)),
                ("InsertionTime".to_owned(), json!(message.inserted)),
            ]);
            let outcome = invoker.invoke(&function, data, metadata).await;
            drop(slot);
            let Err(error) = outcome else { return };
            if message.dequeue_count >= MAX_DEQUEUE_COUNT {
                tracing::error!(
                    function,
                    queue,
                    error,
                    "message failed {MAX_DEQUEUE_COUNT} times: moved to the poison queue"
                );
                poison(&poison_dir, &queue, &message);
            } else {
                tracing::warn!(
                    function,
                    queue,
                    error,
                    delivery = message.dequeue_count,
                    "message failed; delivered again later"
                );
                tokio::time::sleep(VISIBILITY_TIMEOUT).await;
                invoker.queues.resend(&queue, message);
            }
        });
    }
}

/// Appends a poison message to its file, as the host writes it to `<queue>-poison`.
fn poison(dir: &std::path::Path, queue: &str, message: &Message) {
    let line = json!({ "id": message.id, "inserted": message.inserted, "dequeue_count": message.dequeue_count,
                       "message": message.body });
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut file =
            std::fs::OpenOptions::new().create(true).append(true).open(dir.join(format!("{queue}-poison.jsonl")))?;
        std::io::Write::write_all(&mut file, format!("{line}\n").as_bytes())
    };
    if let Err(error) = write() {
        tracing::error!(queue, %error, message = %line, "the poison message could not be written; it is only in this log");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use axum::{Router, http::StatusCode, routing::post};

    use super::*;

    /// A message its function always fails is delivered `MAX_DEQUEUE_COUNT` times, a visibility timeout apart, with
    /// its dequeue count raised each time, then written to the poison file.
    #[tokio::test(start_paused = true)]
    async fn a_message_that_keeps_failing_is_retried_then_poisoned() {
        let counts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = counts.clone();
        let router = Router::new().route(
            "/Failing",
            post(move |axum::Json(body): axum::Json<Value>| {
                let seen = seen.clone();
                async move {
                    seen.lock().expect("lock").push(body["Metadata"]["DequeueCount"].as_u64().unwrap_or(0));
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            }),
        );
        let (queues, mut receivers) = LocalQueues::new(["q"]);
        let invoker = Invoker { router, queues: queues.clone() };
        let poison_dir = tempfile::tempdir().expect("temporary folder");
        let receiver = receivers.remove("q").expect("receiver");
        let started = tokio::time::Instant::now();
        tokio::spawn(consume(
            invoker,
            "Failing".into(),
            "message".into(),
            "q".into(),
            receiver,
            poison_dir.path().into(),
        ));

        queues.send("q", json!({ "store": 7 }));

        let file = poison_dir.path().join("q-poison.jsonl");
        while !file.exists() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert_eq!(*counts.lock().expect("lock"), [1, 2, 3, 4, 5]);
        assert!(started.elapsed() >= VISIBILITY_TIMEOUT * (MAX_DEQUEUE_COUNT - 1), "{:?}", started.elapsed());
        let line: Value = serde_json::from_str(std::fs::read_to_string(&file).expect("poison").trim()).expect("JSON");
        assert_eq!((line["message"].clone(), line["dequeue_count"].clone()), (json!({ "store": 7 }), json!(5)));
    }

    /// A message that succeeds is delivered once.
    #[tokio::test(start_paused = true)]
    async fn a_message_that_succeeds_is_delivered_once() {
        let calls = Arc::new(AtomicU32::new(0));
        let seen = calls.clone();
        let router = Router::new().route(
            "/Working",
            post(move || {
                seen.fetch_add(1, Ordering::SeqCst);
                async { axum::Json(json!({ "Outputs": {}, "Logs": [], "ReturnValue": null })) }
            }),
        );
        let (queues, mut receivers) = LocalQueues::new(["q"]);
        let invoker = Invoker { router, queues: queues.clone() };
        let receiver = receivers.remove("q").expect("receiver");
        let poison_dir = tempfile::tempdir().expect("temporary folder");
        tokio::spawn(consume(
            invoker,
            "Working".into(),
            "message".into(),
            "q".into(),
            receiver,
            poison_dir.path().into(),
        ));

        queues.send("q", json!({ "store": 8 }));
        tokio::time::sleep(VISIBILITY_TIMEOUT * 3).await;

        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(!poison_dir.path().join("q-poison.jsonl").exists());
    }

    #[test]
    fn the_local_queues_behave_as_host_json_configures_the_azure_host() {
        let host: Value = serde_json::from_str(crate::package::HOST_JSON).expect("host.json");
        let queues = &host["extensions"]["queues"];
        assert_eq!(queues["maxDequeueCount"], MAX_DEQUEUE_COUNT);
        assert_eq!(queues["batchSize"], BATCH_SIZE);
        let timeout = queues["visibilityTimeout"].as_str().expect("a time span");
        let seconds: Vec<u64> = timeout.split(':').map(|part| part.parse().expect("hh:mm:ss")).collect();
        assert_eq!(seconds[0] * 3600 + seconds[1] * 60 + seconds[2], VISIBILITY_TIMEOUT.as_secs());
    }
}
