//! The Key Vault secrets adapter against a Key Vault protocol fake over TLS (a throwaway CA trusted through
//! `KEY_VAULT_CA_FILE`) and a fake App Service managed-identity endpoint. The adapter runs in a probe process of its
//! own (`secrets_probe`), because `ManagedIdentityCredential` reads `IDENTITY_ENDPOINT`/`IDENTITY_HEADER` from the
//! process environment; the last tests start the real `handler` the same way the Functions host would.

use std::{process::Stdio, time::Duration};

use serde_json::Value;
use tests::azure_fakes::{AzureFakes, VAULT_RESOURCE};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
};
use uuid::Uuid;

/// The adapter in its own process, spoken to one line at a time.
struct Probe {
    _child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    _ca: tempfile::NamedTempFile,
}

impl Probe {
    async fn start(fakes: &AzureFakes, extra: &[(&str, &str)]) -> Self {
        let ca = ca_file(fakes);
        let mut child = Command::new(env!("CARGO_BIN_EXE_secrets_probe"))
            .env_clear()
            .envs(fakes.env(ca.path()))
            .envs(extra.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the probe");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Self { _child: child, stdin, stdout, _ca: ca }
    }

    async fn call(&mut self, command: &str) -> Value {
        self.stdin.write_all(format!("{command}\n").as_bytes()).await.expect("write a command");
        let line = tokio::time::timeout(Duration::from_secs(60), self.stdout.next_line())
            .await
            .expect("the probe answers within a minute")
            .expect("read an answer")
            .expect("the probe is alive");
        serde_json::from_str(&line).expect("a JSON answer")
    }
}

fn ca_file(fakes: &AzureFakes) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temporary file");
    std::fs::write(file.path(), &fakes.ca_pem).expect("write the CA");
    file
}

#[tokio::test]
async fn a_secret_is_read_over_tls_with_a_token_from_the_managed_identity() {
    let fakes = AzureFakes::start().await;
    fakes.set("shopify-client-secret", "shpss_value-1");
    let mut probe = Probe::start(&fakes, &[]).await;

    let answer = probe.call("get shopify-client-secret").await;

    assert_eq!(answer["ok"], "shpss_value-1", "{answer}");
    let seen = fakes.lock();
    assert_eq!(seen.token_log, vec![(VAULT_RESOURCE.to_owned(), true)], "one token, for the challenge's resource");
    let statuses: Vec<(Option<&str>, u16)> = seen.vault_log.iter().map(|(_, _, t, s)| (t.as_deref(), *s)).collect();
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert_eq!(statuses[0], (None, 401), "the first request goes without a token and is challenged");
    assert_eq!(statuses[1].1, 200);
    assert!(statuses[1].0.is_some_and(|t| t.starts_with("token-")), "the retry carries the issued token");
}

#[tokio::test]
async fn a_vault_certificate_from_an_untrusted_ca_is_refused() {
    let fakes = AzureFakes::start().await;
    fakes.set("any", "value");
    let mut probe = Probe::start(&fakes, &[("KEY_VAULT_CA_FILE", "")]).await;

    let answer = probe.call("get any").await;

    assert_eq!(answer["kind"], "unavailable", "{answer}");
    assert!(fakes.lock().vault_log.is_empty(), "no request got past the handshake");
}

#[tokio::test]
async fn a_missing_secret_reads_as_absent() {
    let fakes = AzureFakes::start().await;
    let mut probe = Probe::start(&fakes, &[]).await;

    let answer = probe.call("get never-stored").await;

    assert_eq!(answer, serde_json::json!({ "missing": true }));
}

#[tokio::test]
async fn a_forbidden_secret_is_an_access_error_that_names_it() {
    let fakes = AzureFakes::start().await;
    fakes.set("locked", "do-not-print-me");
    fakes.forbid("locked");
    let mut probe = Probe::start(&fakes, &[]).await;

    let answer = probe.call("get locked").await;

    assert_eq!(answer["kind"], "denied", "{answer}");
    let message = answer["error"].as_str().expect("message");
    assert!(message.contains("`locked`") && message.contains("403"), "{message}");
    assert!(!message.contains("do-not-print-me"), "{message}");
}

#[tokio::test]
async fn a_vault_that_is_down_fails_within_the_timeout_with_a_clear_error() {
    let fakes = AzureFakes::start().await;
    let closed = format!("https://127.0.0.1:{}/", tests::free_port());
    let mut probe = Probe::start(&fakes, &[("KEY_VAULT_URL", &closed), ("KEY_VAULT_TIMEOUT_SECS", "2")]).await;

    let answer = probe.call("get anything").await;

    assert_eq!(answer["kind"], "unavailable", "{answer}");
    assert!(answer["error"].as_str().expect("message").contains("`anything`"), "{answer}");
}

#[tokio::test]
async fn an_identity_endpoint_that_is_down_fails_with_a_clear_error() {
    let fakes = AzureFakes::start().await;
    fakes.set("any", "value");
    let closed = format!("http://127.0.0.1:{}/msi/token", tests::free_port());
    let mut probe = Probe::start(&fakes, &[("IDENTITY_ENDPOINT", &closed), ("KEY_VAULT_TIMEOUT_SECS", "2")]).await;

    let answer = probe.call("get any").await;

    assert_eq!(answer["kind"], "unavailable", "{answer}");
}

#[tokio::test]
async fn a_token_close_to_expiry_is_refreshed_before_it_is_used_again() {
    let fakes = AzureFakes::start().await;
    fakes.set("rotating-key", "v1");
    // Inside the SDK's five-minute refresh window: each use asks the identity endpoint for a new token.
    fakes.next_token_lifetimes(&[120, 120, 3600]);
    let mut probe = Probe::start(&fakes, &[("KEY_VAULT_CACHE_SECS", "0")]).await;

    let first = probe.call("get rotating-key").await;
    let second = probe.call("get rotating-key").await;

    assert_eq!((first["ok"].as_str(), second["ok"].as_str()), (Some("v1"), Some("v1")));
    let seen = fakes.lock();
    assert_eq!(seen.token_log.len(), 2, "a second token was fetched: {:?}", seen.token_log);
    let used: Vec<&str> =
        seen.vault_log.iter().filter(|entry| entry.3 == 200).filter_map(|entry| entry.2.as_deref()).collect();
    assert_eq!(used.len(), 2);
    assert_ne!(used[0], used[1], "each read used a fresh token");
}

#[tokio::test]
async fn a_token_that_has_expired_is_replaced_and_the_read_succeeds() {
    let fakes = AzureFakes::start().await;
    fakes.set("api-key", "value");
    // The first token is already expired when it arrives (a clock skew, a token cached too long).
    fakes.next_token_lifetimes(&[-60]);
    let mut probe = Probe::start(&fakes, &[]).await;

    let answer = probe.call("get api-key").await;

    assert_eq!(answer["ok"], "value", "{answer}");
    let seen = fakes.lock();
    assert_eq!(seen.token_log.len(), 2, "a fresh token replaced the expired one");
    assert!(seen.vault_log.iter().any(|entry| entry.2.is_some() && entry.3 == 401), "the stale token was refused");
}

#[tokio::test]
async fn a_rotated_secret_is_served_from_the_cache_until_the_ttl_passes() {
    let fakes = AzureFakes::start().await;
    fakes.set("webhook-secret", "before");
    let mut long_cache = Probe::start(&fakes, &[("KEY_VAULT_CACHE_SECS", "3600")]).await;
    let mut short_cache = Probe::start(&fakes, &[("KEY_VAULT_CACHE_SECS", "0.2")]).await;
    assert_eq!(long_cache.call("get webhook-secret").await["ok"], "before");
    assert_eq!(short_cache.call("get webhook-secret").await["ok"], "before");

    fakes.set("webhook-secret", "after");

    assert_eq!(long_cache.call("get webhook-secret").await["ok"], "before", "within the TTL: the cached value");
    let mut picked_up = false;
    for _ in 0..100 {
        if short_cache.call("get webhook-secret").await["ok"] == "after" {
            picked_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(picked_up, "once the TTL has passed the new version is read");
}

#[tokio::test]
async fn store_credentials_are_written_replaced_and_deleted_in_the_vault() {
    let fakes = AzureFakes::start().await;
    let name = format!("store-{}", Uuid::new_v4());
    let mut probe = Probe::start(&fakes, &[]).await;

    assert_eq!(probe.call(&format!("put {name} first")).await["ok"], Value::Null);
    assert_eq!(probe.call(&format!("put {name} second")).await["ok"], Value::Null);
    let read = probe.call(&format!("get {name}")).await;
    let stored = fakes.latest(&name);
    let deleted = probe.call(&format!("delete {name}")).await;
    let deleted_again = probe.call(&format!("delete {name}")).await;
    let after = probe.call(&format!("get {name}")).await;

    assert_eq!(read["ok"], "second");
    assert_eq!(stored.as_deref(), Some("second"), "the vault holds the newest version");
    assert_eq!(
        (deleted["ok"].clone(), deleted_again["ok"].clone()),
        (Value::Null, Value::Null),
        "deleting twice is fine"
    );
    assert_eq!(after, serde_json::json!({ "missing": true }), "a delete also clears the cache");
    assert_eq!(fakes.latest(&name), None);
}

#[tokio::test]
async fn settings_from_the_vault_are_read_at_start_and_refreshed_in_the_background() {
    let fakes = AzureFakes::start().await;
    fakes.set("supabase-jwt-secret", "jwt-1");
    fakes.set("openai", "sk-1");
    let env =
        [("SECRETS_FROM_VAULT", "SUPABASE_JWT_SECRET, AZURE_OPENAI_API_KEY=openai"), ("KEY_VAULT_CACHE_SECS", "0.2")];
    let mut probe = Probe::start(&fakes, &env).await;

    let loaded = probe.call("startup").await;
    fakes.set("supabase-jwt-secret", "jwt-2");
    let rotated = probe.call("rotation SUPABASE_JWT_SECRET").await;

    assert_eq!(loaded["ok"], serde_json::json!({ "SUPABASE_JWT_SECRET": "jwt-1", "AZURE_OPENAI_API_KEY": "sk-1" }));
    assert_eq!(rotated["ok"], "jwt-2");
}

#[tokio::test]
async fn missing_vault_settings_stop_the_start_naming_each_setting_and_secret_but_no_value() {
    let fakes = AzureFakes::start().await;
    fakes.set("supabase-jwt-secret", "present-value-xyz");
    fakes.set("db", "postgres://u:hunter2@h/db");
    fakes.forbid("db");
    let env = [("SECRETS_FROM_VAULT", "SUPABASE_JWT_SECRET,AZURE_OPENAI_API_KEY,DATABASE_URL=db")];
    let mut probe = Probe::start(&fakes, &env).await;

    let answer = probe.call("startup").await;

    let message = answer["error"].as_str().expect("an error");
    assert!(message.contains("AZURE_OPENAI_API_KEY: secret `azure-openai-api-key` does not exist"), "{message}");
    assert!(message.contains("DATABASE_URL") && message.contains("`db`"), "{message}");
    assert!(!message.contains("SUPABASE_JWT_SECRET"), "a readable one is not a problem: {message}");
    assert!(!message.contains("present-value-xyz") && !message.contains("hunter2"), "{message}");
}

/// Starts `handler serve` as the Functions host would, with its secrets in the vault only.
async fn start_handler(fakes: &AzureFakes, ca: &tempfile::NamedTempFile, secrets_from_vault: &str) -> (Child, String) {
    let port = tests::free_port();
    let child = Command::new(tests::handler_binary())
        .arg("serve")
        .envs(fakes.env(ca.path()))
        .env("SECRETS_FROM_VAULT", secrets_from_vault)
        .env("AUTH_ISSUER", tests::TEST_ISSUER)
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env_remove("DATABASE_URL")
        .env_remove("SUPABASE_JWT_SECRET")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the handler");
    (child, format!("http://127.0.0.1:{port}"))
}

#[tokio::test]
async fn the_app_starts_reads_its_secrets_from_the_vault_and_serves() {
    let fakes = AzureFakes::start().await;
    let database_url = tests::fresh_postgres_database().await;
    let migrate = Command::new(tests::handler_binary())
        .arg("migrate")
        .env("DATABASE_URL", &database_url)
        .output()
        .await
        .expect("run migrate");
    assert!(migrate.status.success(), "migrate: {}", String::from_utf8_lossy(&migrate.stderr));
    let jwt_secret = format!("vault-jwt-secret-{}", Uuid::new_v4().simple());
    fakes.set("supabase-jwt-secret", &jwt_secret);
    fakes.set("database-url", &database_url);
    let ca = ca_file(&fakes);
    let (_child, base) = start_handler(&fakes, &ca, "SUPABASE_JWT_SECRET,DATABASE_URL").await;
    let client = reqwest::Client::new();
    tests::wait_until_answering(&client, &format!("{base}/"), Duration::from_secs(30)).await;
    let user = Uuid::new_v4();
    let token = shared::auth::mint_token(
        &secrecy::SecretString::from(jwt_secret),
        tests::TEST_ISSUER,
        user,
        None,
        Duration::from_secs(600),
    )
    .expect("token");

    let me = client.get(format!("{base}/api/v1/me")).bearer_auth(&token).send().await.expect("request");
    let created = client
        .post(format!("{base}/api/v1/organizations"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "name": "Vault Shop", "timezone": "Europe/Paris" }))
        .send()
        .await
        .expect("request");

    assert_eq!(me.status(), 200, "the token signed with the vault's secret is accepted");
    assert_eq!(created.status(), 201, "the database URL from the vault works");
    let reads: Vec<String> = fakes.lock().vault_log.iter().filter(|e| e.3 == 200).map(|e| e.1.clone()).collect();
    assert!(
        reads.iter().any(|p| p.contains("supabase-jwt-secret")) && reads.iter().any(|p| p.contains("database-url"))
    );
}

#[tokio::test]
async fn the_app_refuses_to_start_when_a_vault_secret_is_missing_and_says_which() {
    let fakes = AzureFakes::start().await;
    fakes.set("database-url", "postgres://u:hunter2@127.0.0.1:9/nothing");
    let ca = ca_file(&fakes);
    let (child, _) = start_handler(&fakes, &ca, "DATABASE_URL,SUPABASE_JWT_SECRET").await;

    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the handler exits by itself")
        .expect("output");

    assert!(!output.status.success());
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(printed.contains("SUPABASE_JWT_SECRET: secret `supabase-jwt-secret` does not exist"), "{printed}");
    assert!(!printed.contains("hunter2"), "no value is printed: {printed}");
}
