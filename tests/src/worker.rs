//! The real `handler` binary run as an Azure Functions custom handler would be (port in
//! `FUNCTIONS_CUSTOMHANDLER_PORT`, `handler serve`), for tests that drive it through the host protocol or kill it.

use std::{collections::HashMap, process::Stdio, time::Duration};

use serde_json::Value;
use tokio::process::{Child, Command};

/// A timer invocation as the host sends it (`tests/fixtures/functions-host/timer.json`).
pub const TIMER_INVOCATION: &str = include_str!("../fixtures/functions-host/timer.json");

/// A running worker process.
pub struct Worker {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A client without a timeout (timer invocations run as long as their budget).
    pub client: reqwest::Client,
}

impl Worker {
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

    /// Sends the `SyncStores` timer invocation and returns the invocation reply.
    pub async fn tick(&self) -> Result<Value, reqwest::Error> {
        let response = self
            .client
            .post(format!("{}/SyncStores", self.base))
            .header("content-type", "application/json; charset=utf-8")
            .header("x-azure-functions-invocationid", uuid::Uuid::new_v4().to_string())
            .body(TIMER_INVOCATION)
            .send()
            .await?;
        assert_eq!(response.status(), 200, "the tick completes");
        response.json().await
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
