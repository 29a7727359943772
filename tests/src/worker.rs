//! The real `handler` binary run as an Azure Functions custom handler would be (port in
//! `FUNCTIONS_CUSTOMHANDLER_PORT`, `handler serve`), for tests that drive it through the host protocol or kill it.

use std::{collections::HashMap, process::Stdio, time::Duration};

use serde_json::Value;
use tokio::process::{Child, Command};

/// A timer invocation as the host sends it (`tests/fixtures/functions-host/timer.json`).
pub const TIMER_INVOCATION: &str = include_str!("../fixtures/functions-host/timer.json");

/// What a timer occurrence did: the timer's reply and the reply of each queued message's delivery, in order.
#[derive(Debug)]
pub struct SyncTick {
    /// The timer's reply.
    pub timer: Value,
    /// One reply per queued message (those the deliveries queued included).
    pub deliveries: Vec<Value>,
}

impl SyncTick {
    /// The log lines of the deliveries, one per message.
    pub fn delivery_logs(&self) -> Vec<String> {
        self.deliveries
            .iter()
            .flat_map(|reply| reply["Logs"].as_array().cloned().unwrap_or_default())
            .map(|line| line.as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// Plays the Functions host for one scheduled sync against `base`: the `SyncStores` timer, then each message it
/// queued, as [`run_timer`] delivers them.
pub async fn sync_tick(client: &reqwest::Client, base: &str) -> Result<SyncTick, reqwest::Error> {
    run_timer(client, base, "SyncStores").await
}

/// Plays the Functions host for one occurrence of timer `function` against `base`: POSTs the timer invocation, then
/// delivers each message its queue outputs hold to the function its queue triggers (one at a time, as the embedded
/// manifest says), and the messages those deliveries queue, until no message is left. Every invocation must
/// complete.
pub async fn run_timer(client: &reqwest::Client, base: &str, function: &str) -> Result<SyncTick, reqwest::Error> {
    let timer = invoke_function(client, base, function, TIMER_INVOCATION.to_owned()).await?;
    let mut queue: std::collections::VecDeque<(String, Value)> = queued(function, &timer).into();
    let mut deliveries = Vec::new();
    while let Some((queue_name, message)) = queue.pop_front() {
        let (consumer, binding) = functions::manifest::consumer_of(&queue_name).expect("a function takes the queue");
        let reply = deliver(client, base, &consumer.name, binding, &message).await?;
        queue.extend(queued(&consumer.name, &reply));
        deliveries.push(reply);
    }
    Ok(SyncTick { timer, deliveries })
}

/// The messages a reply of `function` queues, with their queues.
fn queued(function: &str, reply: &Value) -> Vec<(String, Value)> {
    let manifest = functions::manifest::function(function).expect("a function of the manifest");
    let outputs = reply["Outputs"].as_object().cloned().unwrap_or_default();
    manifest.queued_messages(&outputs)
}

/// The `SyncStores` timer alone: its reply, with the messages it queued (`Outputs.stores`).
pub async fn sync_timer(client: &reqwest::Client, base: &str) -> Result<(Value, Vec<Value>), reqwest::Error> {
    let timer = invoke_function(client, base, "SyncStores", TIMER_INVOCATION.to_owned()).await?;
    let queued = messages(&timer, "stores");
    Ok((timer, queued))
}

/// Delivers one `sync-stores` message to `SyncStore` as the host does, and returns the reply.
pub async fn deliver_store_message(
    client: &reqwest::Client,
    base: &str,
    message: &Value,
) -> Result<Value, reqwest::Error> {
    deliver(client, base, "SyncStore", "message", message).await
}

/// Delivers one queue message to `function` (its trigger binding `binding`) as the host does: the message as JSON
/// text, double-encoded metadata.
pub async fn deliver(
    client: &reqwest::Client,
    base: &str,
    function: &str,
    binding: &str,
    message: &Value,
) -> Result<Value, reqwest::Error> {
    let invocation = serde_json::json!({
        "Data": { binding: message.to_string() },
        "Metadata": {
            "DequeueCount": "1",
            "Id": format!("\"{}\"", uuid::Uuid::new_v4()),
            "sys": { "MethodName": function, "UtcNow": chrono::Utc::now(), "RandGuid": uuid::Uuid::new_v4() }
        }
    });
    invoke_function(client, base, function, invocation.to_string()).await
}

/// The messages of queue output `binding` in an invocation reply (an array, or one value).
pub fn messages(reply: &Value, binding: &str) -> Vec<Value> {
    match &reply["Outputs"][binding] {
        Value::Null => Vec::new(),
        Value::Array(items) => items.clone(),
        item => vec![item.clone()],
    }
}

async fn invoke_function(
    client: &reqwest::Client,
    base: &str,
    function: &str,
    body: String,
) -> Result<Value, reqwest::Error> {
    let response = client
        .post(format!("{base}/{function}"))
        .header("content-type", "application/json; charset=utf-8")
        .header("x-azure-functions-invocationid", uuid::Uuid::new_v4().to_string())
        .body(body)
        .send()
        .await?;
    assert_eq!(response.status(), 200, "{function} completes");
    response.json().await
}

/// A running worker process.
pub struct Worker {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A client without a timeout (timer invocations run as long as their budget).
    pub client: reqwest::Client,
}

/// A token that workers started with `env` accept, for a new user (valid two hours: long enough for a benchmark).
pub fn token_for(env: &HashMap<String, String>) -> String {
    let secret = secrecy::SecretString::from(env["SUPABASE_JWT_SECRET"].clone());
    shared::auth::mint_token(&secret, crate::TEST_ISSUER, uuid::Uuid::new_v4(), None, Duration::from_secs(7200))
        .expect("token")
}

impl Worker {
    /// Creates an organization through the worker's API, the token's user its admin; returns its id.
    pub async fn create_organization(&self, token: &str, name: &str, timezone: &str) -> uuid::Uuid {
        let organization: Value = self
            .client
            .post(format!("{}/api/v1/organizations", self.base))
            .bearer_auth(token)
            .json(&serde_json::json!({ "name": name, "timezone": timezone }))
            .send()
            .await
            .expect("organization")
            .json()
            .await
            .expect("JSON");
        organization["id"].as_str().and_then(|id| id.parse().ok()).expect("organization id")
    }

    /// Migrates `DATABASE_URL` (the deployment step), then starts the worker and waits until it answers `GET /`.
    pub async fn start(env: &HashMap<String, String>) -> Self {
        let migrate = Command::new(crate::handler_binary()).arg("migrate").envs(env).output().await.expect("migrate");
        assert!(migrate.status.success(), "migrate: {}", String::from_utf8_lossy(&migrate.stderr));
        Self::start_without_migrating(env).await
    }

    /// Starts another worker on an already migrated database.
    pub async fn start_without_migrating(env: &HashMap<String, String>) -> Self {
        let port = crate::free_port();
        let log = std::env::var_os("TEST_LOG").is_some();
        let child = Command::new(crate::handler_binary())
            .arg("serve")
            .envs(env)
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("FUNCTIONS_CUSTOMHANDLER_WORKER_ID", uuid::Uuid::new_v4().to_string())
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .stdout(if log { Stdio::inherit() } else { Stdio::null() })
            .stderr(if log { Stdio::inherit() } else { Stdio::null() })
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the handler");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        crate::wait_until_answering(&client, &format!("{base}/"), Duration::from_secs(30)).await;
        Self { child, base, client }
    }

    /// One scheduled sync, as the Functions host runs it: the `SyncStores` timer, then each message it queued.
    pub async fn tick(&self) -> Result<SyncTick, reqwest::Error> {
        sync_tick(&self.client, &self.base).await
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// SIGKILL: no shutdown, no cleanup, as a crashed or recycled instance.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill");
    }

    /// Peak resident memory so far (`VmHWM`, kB), on Linux.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status.lines().find_map(|line| line.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?.trim().parse().ok())
    }
}
