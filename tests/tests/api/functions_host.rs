//! The real binary under a simulated Azure Functions host: started as the host starts a custom handler (port in
//! `FUNCTIONS_CUSTOMHANDLER_PORT`, arguments from `host.json`), probed on `GET /` until it answers, then sent a
//! timer invocation, a queue message, an Event Grid invocation and forwarded HTTP requests, and finally stopped with SIGTERM.

use std::{collections::HashMap, process::Stdio, time::Duration};

use serde_json::Value;
use tokio::process::{Child, Command};

const TIMER: &str = include_str!("../../fixtures/functions-host/timer.json");
const BLOB_CREATED: &str = include_str!("../../fixtures/functions-host/blob-created.json");
const QUEUE_MESSAGE: &str = include_str!("../../fixtures/functions-host/queue-message.json");
const HOST_VERSION: &str = "4.1040.300.1";

struct Worker {
    child: Child,
    base: String,
    client: reqwest::Client,
}

/// Starts the worker as the host would, after the deployment step has migrated the database.
async fn start_worker(env: &HashMap<String, String>, use_host_json_arguments: bool) -> Worker {
    let migrate = Command::new(tests::handler_binary()).arg("migrate").envs(env).output().await.expect("run migrate");
    assert!(migrate.status.success(), "migrate: {}", String::from_utf8_lossy(&migrate.stderr));

    let host: Value = serde_json::from_str(functions::package::HOST_JSON).expect("host.json");
    let arguments: Vec<String> = if use_host_json_arguments {
        serde_json::from_value(host["customHandler"]["description"]["arguments"].clone()).expect("arguments")
    } else {
        Vec::new()
    };
    let port = tests::free_port();
    let child = Command::new(tests::handler_binary())
        .args(&arguments)
        .envs(env)
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("FUNCTIONS_CUSTOMHANDLER_WORKER_ID", uuid::Uuid::new_v4().to_string())
        .env("FUNCTIONS_HTTPWORKER_PORT", port.to_string())
        .env("FUNCTIONS_APP_ROOT_PATH", std::env::temp_dir())
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the handler");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    tests::wait_until_answering(&client, &format!("{base}/"), Duration::from_secs(30)).await;
    Worker { child, base, client }
}

impl Worker {
    async fn invoke(&self, function: &str, body: &str) -> Value {
        let response = self
            .client
            .post(format!("{}/{function}", self.base))
            .header("content-type", "application/json; charset=utf-8")
            .header("x-azure-functions-invocationid", uuid::Uuid::new_v4().to_string())
            .header("x-azure-functions-hostversion", HOST_VERSION)
            .header("user-agent", format!("Azure-Functions-Host/{HOST_VERSION}"))
            .body(body.to_owned())
            .send()
            .await
            .expect("invocation reaches the worker");
        assert_eq!(response.status(), 200, "{function}");
        assert!(response.headers()["content-type"].to_str().expect("ASCII").starts_with("application/json"));
        response.json().await.expect("JSON reply")
    }

    /// A forwarded request: original path and query (with the `code` key), original headers plus the host's.
    async fn forward(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self
            .client
            .get(format!("{}{path}", self.base))
            .header("x-azure-functions-hostversion", HOST_VERSION)
            .header("x-azure-functions-invocationid", uuid::Uuid::new_v4().to_string())
            .header("user-agent", format!("curl/8.5.0 Azure-Functions-Host/{HOST_VERSION}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("forwarded request reaches the worker")
    }

    /// SIGTERM, as the host sends on shutdown; the worker must exit cleanly.
    async fn stop(mut self) {
        let pid = self.child.id().expect("running").to_string();
        let kill = Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill");
        assert!(kill.success());
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("the worker exits after SIGTERM")
            .expect("exit status");
        assert!(status.success(), "graceful exit, got {status}");
    }
}

#[tokio::test]
async fn a_simulated_functions_host_drives_every_trigger_kind_through_the_real_binary() {
    let env = tests::app_env(tests::fresh_postgres_database().await);
    let worker = start_worker(&env, true).await;

    let timer = worker.invoke("SyncStores", TIMER).await;
    assert!(timer["Logs"][0].as_str().expect("log").contains("past due: false"), "{timer}");
    assert_eq!(timer["Outputs"]["stores"], serde_json::json!([]), "no store is due: {timer}");

    let message = worker.invoke("SyncStore", QUEUE_MESSAGE).await;
    assert!(message["Logs"][0].as_str().expect("log").ends_with("no longer connected; message dropped"), "{message}");

    let event = worker.invoke("VideoUploaded", BLOB_CREATED).await;
    assert!(event["Logs"][0].as_str().expect("log").starts_with("video upload received: tenant t-42"), "{event}");

    let health = worker.forward("/api/health?code=function-key", None).await;
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.expect("JSON");
    assert_eq!(health["checks"]["database"]["detail"], "postgres");

    let missing = worker.forward("/api/v1/nothing", None).await;
    assert_eq!(missing.status(), 404, "errors pass through as they are");
    assert_eq!(missing.headers()["content-type"], "application/problem+json");

    let user = uuid::Uuid::new_v4();
    let secret = secrecy::SecretString::from(env["SUPABASE_JWT_SECRET"].clone());
    let token =
        shared::auth::mint_token(&secret, tests::TEST_ISSUER, user, None, Duration::from_secs(60)).expect("token");
    let me = worker.forward("/api/v1/me", Some(&token)).await;
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<Value>().await.expect("JSON")["user_id"], user.to_string());

    worker.stop().await;
}

#[tokio::test]
async fn with_no_subcommand_the_port_variable_alone_starts_the_custom_handler() {
    let env = tests::app_env(tests::fresh_postgres_database().await);
    let worker = start_worker(&env, false).await;
    let health = worker.forward("/api/health", None).await;
    assert_eq!(health.status(), 200);
    worker.stop().await;
}

#[tokio::test]
async fn a_missing_setting_stops_startup_with_its_name() {
    let output = Command::new(tests::handler_binary())
        .args(["serve", "--port", "0"])
        .env_remove("DATABASE_URL")
        .output()
        .await
        .expect("run handler");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}

/// Anonymous `GET /api/v1/me` with this `X-Forwarded-For`, as the host forwards it; the status.
async fn anonymous_call(worker: &Worker, forwarded: &str) -> u16 {
    let response = worker
        .client
        .get(format!("{}/api/v1/me", worker.base))
        .header("x-forwarded-for", forwarded)
        .header("x-azure-functions-invocationid", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .expect("forwarded request reaches the worker");
    response.status().as_u16()
}

#[tokio::test]
async fn the_anonymous_limit_counts_the_address_the_front_end_vouches_for_and_never_a_spoofed_one() {
    let mut env = tests::app_env(tests::fresh_postgres_database().await);
    env.insert("RATE_LIMIT_ANONYMOUS_PER_MINUTE".into(), "6".into());

    // A local Functions host (core tools), nothing in front: the TCP peer counts, whatever the header says.
    let local = start_worker(&env, false).await;
    let spoofed = [anonymous_call(&local, "198.51.100.1").await, anonymous_call(&local, "198.51.100.2").await];
    local.stop().await;

    // In Azure the front end appends the caller's address; entries the client wrote on its left are ignored.
    env.insert("WEBSITE_INSTANCE_ID".into(), "7b1f0e3c4d".into());
    let azure = start_worker(&env, false).await;
    let first = anonymous_call(&azure, "198.51.100.1, 203.0.113.7:50123").await;
    let respoofed = anonymous_call(&azure, "198.51.100.2, 203.0.113.7:50999").await;
    let another_client = anonymous_call(&azure, "198.51.100.1, 203.0.113.8:40000").await;
    azure.stop().await;

    assert_eq!(spoofed, [401, 429], "outside Azure a fresh X-Forwarded-For per request changes nothing");
    assert_eq!((first, respoofed, another_client), (401, 429, 401));
}
