//! Sending a message to a queue-triggered function from outside the Functions host's bindings: an HTTP request
//! (which the host forwards, so it has no output bindings) that hands work to a queue function. In Azure the
//! message goes to the host's own storage account (Azure Storage Queues), in `handler dev` to the local host's
//! in-process queue. On Lambda there is no queue yet: the work waits for the timer that sweeps it up.
//!
//! Whatever is sent this way is also recorded in the database first, and a timer queues again what waited too
//! long, so a message that is lost (a queue outage, a dev host stopped) only delays the work.

use std::sync::Arc;

use serde_json::Value;

mod storage;

pub use storage::{QueueError, StorageQueues};

/// Queues one message on the local host: `(queue, message)`.
pub type SendLocal = dyn Fn(&str, Value) + Send + Sync;

/// Where messages for queue functions go. Cheap to clone.
#[derive(Clone)]
pub enum Outbox {
    /// Azure Storage Queues.
    Storage(Arc<StorageQueues>),
    /// The local host's queues: a function that queues one message.
    InProcess(Arc<SendLocal>),
    /// No queue: a timer finds the recorded work and queues it through its output binding.
    Deferred,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// It is on the queue.
    Queued,
    /// There is no queue here; the sweeping timer will queue the work.
    Deferred,
}

impl Outbox {
    /// `storage`, `in-process` or `deferred`, for health reports and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Storage(_) => "storage",
            Self::InProcess(_) => "in-process",
            Self::Deferred => "deferred",
        }
    }

    /// Sends `message` to `queue`.
    pub async fn send(&self, queue: &str, message: Value) -> Result<Sent, QueueError> {
        match self {
            Self::Storage(queues) => queues.send(queue, &message).await.map(|()| Sent::Queued),
            Self::InProcess(send) => {
                send(queue, message);
                Ok(Sent::Queued)
            }
            Self::Deferred => Ok(Sent::Deferred),
        }
    }
}
