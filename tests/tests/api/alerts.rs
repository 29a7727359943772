//! Alerts through the API and the `SendAlerts` timer, against loopback fakes of a Slack incoming webhook, a Teams
//! workflow webhook and Azure Communication Services Email (which checks each request's HMAC signature the way ACS
//! does): what each message says, the cooldown, retries with backoff, the weekly digest, delivery records, and the
//! egress rules on channel URLs.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    routing::post,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::db::Database;
use tests::Backend;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::advice::Shop;

/// What a fake channel received, and what it answers next.
#[derive(Clone, Default)]
struct Fake {
    received: Arc<Mutex<Vec<Value>>>,
    /// Statuses to answer, first to last; 200 (202 for ACS) once they run out.
    script: Arc<Mutex<VecDeque<u16>>>,
    /// ACS's access key; requests not signed with it are refused with a 401. Without one, a bearer token is taken.
    acs_key: Option<Arc<Vec<u8>>>,
    /// The bearer tokens ACS was sent.
    tokens: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    /// Serves the fake on a loopback port and answers its base URL.
    async fn start(self, script: &[u16]) -> (Self, String) {
        self.script.lock().expect("script").extend(script.iter().copied());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let router = Router::new().route("/hook", post(hook)).route("/emails:send", post(acs)).with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        (self, address)
    }

    fn received(&self) -> Vec<Value> {
        self.received.lock().expect("received").clone()
    }

    fn next_status(&self, success: u16) -> StatusCode {
        let status = self.script.lock().expect("script").pop_front().unwrap_or(success);
        StatusCode::from_u16(status).expect("a status")
    }
}

async fn hook(State(fake): State<Fake>, body: Bytes) -> StatusCode {
    let status = fake.next_status(200);
    if status.is_success() {
        fake.received.lock().expect("received").push(serde_json::from_slice(&body).expect("a JSON body"));
    }
    status
}

/// ACS Email's `emails:send`: verifies the body hash and the HMAC-SHA256 signature over
/// `POST\n<path?query>\n<x-ms-date>;<host>;<x-ms-content-sha256>`, as ACS's REST authentication documents.
async fn acs(State(fake): State<Fake>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let content_hash = STANDARD.encode(Sha256::digest(&body));
    let Some(key) = fake.acs_key.as_ref() else {
        // Without a key, ACS takes a Microsoft Entra token; the fake records it for the test to check.
        let Some(token) = header("authorization").strip_prefix("Bearer ").map(str::to_owned) else {
            return StatusCode::UNAUTHORIZED;
        };
        fake.tokens.lock().expect("tokens").push(token);
        fake.received.lock().expect("received").push(serde_json::from_slice(&body).expect("a JSON body"));
        return fake.next_status(202);
    };
    let signed = format!(
        "POST\n{}\n{};{};{}",
        uri.path_and_query().map(|pq| pq.as_str()).unwrap_or_default(),
        header("x-ms-date"),
        header("host"),
        content_hash
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("key");
    mac.update(signed.as_bytes());
    let expected = format!(
        "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={}",
        STANDARD.encode(mac.finalize().into_bytes())
    );
    if header("x-ms-content-sha256") != content_hash || header("authorization") != expected {
        return StatusCode::UNAUTHORIZED;
    }
    if header("repeatability-request-id").parse::<Uuid>().is_err() {
        return StatusCode::BAD_REQUEST;
    }
    let status = fake.next_status(202);
    if status.is_success() {
        fake.received.lock().expect("received").push(serde_json::from_slice(&body).expect("a JSON body"));
    }
    status
}

const FAST_RETRIES: (&str, &str) = ("ALERT_RETRY_BASE_MS", "10");
const LOOPBACK_HOOKS: (&str, &str) = ("ALLOW_PRIVATE_STORE_URLS", "true");

impl Shop {
    async fn add_channel(&self, body: Value) -> Value {
        let (status, channel) = self.post("/api/v1/alerts/channels", &body).await;
        assert_eq!(status, 201, "{channel}");
        channel
    }

    async fn deliveries(&self) -> Vec<Value> {
        let (status, page) = self.get("/api/v1/alerts/deliveries?limit=100").await;
        assert_eq!(status, 200, "{page}");
        page["items"].as_array().cloned().unwrap_or_default()
    }
}

async fn an_urgent_restock_reaches_slack_and_teams_once_per_cooldown(backend: Backend) {
    // Arrange: Espresso beans run out in 5 days with a 7-day lead time.
    let (shop, _) = Shop::with_beans(backend, &[LOOPBACK_HOOKS, FAST_RETRIES]).await;
    shop.refresh().await;
    let (slack, slack_url) = Fake::default().start(&[]).await;
    let (teams, teams_url) = Fake::default().start(&[]).await;
    let hook = format!("{slack_url}/hook");
    let slack_channel = shop.add_channel(json!({ "kind": "slack", "name": "#ops", "url": hook })).await;
    shop.add_channel(json!({ "kind": "teams", "name": "Buying", "url": format!("{teams_url}/hook") })).await;

    // Act
    let first = shop.app.invoke_timer("SendAlerts").await;
    let second = shop.app.invoke_timer("SendAlerts").await;

    // Assert: one message each, naming the product and the order to place, with a link to the advice page.
    let slack_messages = slack.received();
    assert_eq!(slack_messages.len(), 1, "{slack_messages:#?}");
    let text = slack_messages[0]["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Reorder Espresso beans 1 kg now"), "{text}");
    let section = slack_messages[0]["blocks"][1]["text"]["text"].as_str().unwrap_or_default();
    assert!(section.contains("Order") && section.contains("units"), "{section}");
    assert_eq!(slack_messages[0]["blocks"][2]["elements"][0]["url"], format!("{}/#/advice", shop.app.address));
    let teams_messages = teams.received();
    assert_eq!(teams_messages.len(), 1, "{teams_messages:#?}");
    let card = &teams_messages[0]["attachments"][0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert!(card["body"][0]["text"].as_str().is_some_and(|t| t.starts_with("Reorder Espresso beans 1 kg now")));
    assert!(first[0].contains("2 sent, 0 failed, 0 within the cooldown"), "{first:?}");
    assert!(second[0].contains("0 sent, 0 failed, 2 within the cooldown"), "{second:?}");
    let deliveries = shop.deliveries().await;
    assert_eq!(deliveries.len(), 2, "{deliveries:#?}");
    assert!(deliveries.iter().all(|d| d["status"] == "sent" && d["purpose"] == "alert" && d["attempts"] == 1));
    let subject = deliveries[0]["subject"].as_str().unwrap_or_default();
    assert!(subject.starts_with("restock:product:"), "{subject}");
    // The webhook URL is a credential: never shown again.
    let (_, listed) = shop.get("/api/v1/alerts/channels").await;
    assert!(!listed.to_string().contains("/hook") && !slack_channel.to_string().contains("/hook"), "{listed}");
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn an_urgent_restock_reaches_slack_and_teams_once_per_cooldown_on_postgres() {
    an_urgent_restock_reaches_slack_and_teams_once_per_cooldown(Backend::Postgres).await;
}

#[tokio::test]
async fn an_urgent_restock_reaches_slack_and_teams_once_per_cooldown_on_sqlite() {
    an_urgent_restock_reaches_slack_and_teams_once_per_cooldown(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_failing_channel_is_retried_with_backoff_and_every_delivery_is_recorded() {
    // Arrange: one channel fails twice before it takes the message, another refuses it for good.
    let (shop, _) = Shop::with_beans(Backend::Postgres, &[LOOPBACK_HOOKS, FAST_RETRIES]).await;
    shop.refresh().await;
    let (flaky, flaky_url) = Fake::default().start(&[503, 429]).await;
    let (gone, gone_url) = Fake::default().start(&[404, 404, 404, 404, 404]).await;
    let flaky_channel =
        shop.add_channel(json!({ "kind": "slack", "name": "flaky", "url": format!("{flaky_url}/hook") })).await;
    let gone_channel =
        shop.add_channel(json!({ "kind": "slack", "name": "gone", "url": format!("{gone_url}/hook") })).await;

    // Act
    shop.app.invoke_timer("SendAlerts").await;
    let again = shop.app.invoke_timer("SendAlerts").await;

    // Assert: the flaky channel got it on the third attempt; the refusal is not retried, and not again just now.
    assert_eq!(flaky.received().len(), 1);
    assert!(gone.received().is_empty());
    assert_eq!(gone.script.lock().expect("script").len(), 4, "a 404 is not retried");
    assert!(again[0].contains("0 sent, 0 failed, 2 within the cooldown"), "{again:?}");
    let deliveries = shop.deliveries().await;
    let of =
        |channel: &Value| deliveries.iter().find(|d| d["channel_id"] == channel["id"]).cloned().expect("a delivery");
    let sent = of(&flaky_channel);
    assert_eq!((sent["status"].as_str(), sent["attempts"].as_u64()), (Some("sent"), Some(3)), "{sent}");
    let failed = of(&gone_channel);
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["attempts"], 1);
    assert_eq!(failed["error"], "Slack answered 404", "{failed}");
    assert!(!failed.to_string().contains(&gone_url), "the URL is a secret: {failed}");
}

#[tokio::test]
async fn a_channel_url_on_a_private_address_is_refused_and_only_admins_manage_channels() {
    // Arrange: the default egress rules (no private addresses).
    let shop = Shop::open(Backend::Postgres, &[]).await;

    // Act
    let mut refusals = Vec::new();
    for url in [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest",
        "http://hooks.slack.com/x",
    ] {
        refusals.push(shop.post("/api/v1/alerts/channels", &json!({ "kind": "slack", "name": "x", "url": url })).await);
    }
    let (email_status, email) = shop
        .post(
            "/api/v1/alerts/channels",
            &json!({ "kind": "email", "name": "ops", "recipients": ["ops@beans.example"] }),
        )
        .await;
    let member = Uuid::new_v4();
    let added = shop
        .app
        .request_in(
            Method::POST,
            &shop.token,
            shop.organization,
            &format!("/api/v1/organizations/{}/members", shop.organization),
        )
        .json(&json!({ "user_id": member, "role": "member" }))
        .send()
        .await
        .expect("POST");
    let as_member = shop
        .app
        .request_in(Method::POST, &shop.app.token_for(member), shop.organization, "/api/v1/alerts/channels")
        .json(&json!({ "kind": "slack", "name": "x", "url": "https://hooks.slack.com/services/T/B/X" }))
        .send()
        .await
        .expect("POST");

    // Assert
    for ((status, body), expected) in refusals.iter().zip(["loopback", "private", "metadata", "https"]) {
        assert_eq!(*status, 422, "{body}");
        assert_eq!(body["errors"][0]["field"], "url");
        assert!(body["detail"].as_str().is_some_and(|d| d.contains(expected)), "{expected}: {body}");
    }
    assert_eq!(email_status, 422, "{email}");
    assert!(email["detail"].as_str().is_some_and(|d| d.contains("ACS_EMAIL_ENDPOINT")), "{email}");
    assert_eq!(added.status(), 201);
    assert_eq!(as_member.status(), 403);
    let (_, listed) = shop.get("/api/v1/alerts/channels").await;
    assert_eq!(listed["items"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn e_mail_goes_through_acs_signed_with_the_access_key() {
    // Arrange: ACS with one key; one app that has it and one that has another.
    let key = b"a test access key of thirty-two!".to_vec();
    let fake = Fake { acs_key: Some(Arc::new(key.clone())), ..Fake::default() };
    let (acs, acs_url) = fake.start(&[]).await;
    let right = STANDARD.encode(&key);
    let wrong = STANDARD.encode(b"another key of the same length!!");
    let base = [
        ("ACS_EMAIL_ENDPOINT", acs_url.as_str()),
        ("ACS_EMAIL_SENDER", "DoNotReply@advisor.example"),
        ("ALLOW_PRIVATE_ENDPOINTS", "true"),
        FAST_RETRIES,
    ];
    let shop = Shop::open(Backend::Postgres, &[&base[..], &[("ACS_EMAIL_KEY", right.as_str())]].concat()).await;
    let impostor = Shop::open(Backend::Postgres, &[&base[..], &[("ACS_EMAIL_KEY", wrong.as_str())]].concat()).await;
    let recipients = json!(["ops@beans.example", " buyer@beans.example ", "ops@beans.example"]);
    let channel = shop.add_channel(json!({ "kind": "email", "name": "Ops", "recipients": recipients })).await;
    let other =
        impostor.add_channel(json!({ "kind": "email", "name": "Ops", "recipients": ["ops@beans.example"] })).await;

    // Act
    let (status, sent) = shop
        .post(&format!("/api/v1/alerts/channels/{}/test", channel["id"].as_str().unwrap_or_default()), &json!({}))
        .await;
    let (_, refused) = impostor
        .post(&format!("/api/v1/alerts/channels/{}/test", other["id"].as_str().unwrap_or_default()), &json!({}))
        .await;

    // Assert
    assert_eq!(channel["recipients"], json!(["ops@beans.example", "buyer@beans.example"]));
    assert_eq!(status, 200, "{sent}");
    assert_eq!((sent["status"].as_str(), sent["purpose"].as_str()), (Some("sent"), Some("test")), "{sent}");
    let mails = acs.received();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(mails[0]["senderAddress"], "DoNotReply@advisor.example");
    assert_eq!(
        mails[0]["recipients"]["to"],
        json!([{ "address": "ops@beans.example" }, { "address": "buyer@beans.example" }])
    );
    assert_eq!(mails[0]["content"]["subject"], "Retail AI Advisor test alert for \"Ops\"");
    assert!(mails[0]["content"]["html"].as_str().is_some_and(|h| h.contains("#/advice")));
    assert_eq!(refused["status"], "failed", "a request signed with another key is refused: {refused}");
    assert!(refused["error"].as_str().is_some_and(|e| e.contains("answered 401")), "{refused}");
}

#[tokio::test]
async fn the_weekly_digest_goes_once_a_week_to_channels_older_than_the_week() {
    // Arrange: a channel added more than a week ago, and one added now.
    let (shop, _) = Shop::with_beans(Backend::Postgres, &[LOOPBACK_HOOKS, FAST_RETRIES]).await;
    shop.refresh().await;
    let (old, old_url) = Fake::default().start(&[]).await;
    let (new, new_url) = Fake::default().start(&[]).await;
    let old_channel =
        shop.add_channel(json!({ "kind": "slack", "name": "old", "url": format!("{old_url}/hook") })).await;
    shop.add_channel(json!({ "kind": "slack", "name": "new", "url": format!("{new_url}/hook") })).await;
    let Database::Postgres(pool) = &shop.app.state.db else { panic!("a PostgreSQL app") };
    let id: Uuid = old_channel["id"].as_str().and_then(|id| id.parse().ok()).expect("an id");
    sqlx::query("UPDATE alert_channels SET created_at = now() - interval '8 days' WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .expect("backdate the channel");

    // Act
    shop.app.invoke_timer("SendAlerts").await;
    shop.app.invoke_timer("SendAlerts").await;

    // Assert: the old channel has the alert and one digest; the new one only the alert.
    let titles = |fake: &Fake| {
        fake.received().iter().map(|m| m["text"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>()
    };
    let old_titles = titles(&old);
    assert_eq!(old_titles.len(), 2, "{old_titles:?}");
    assert!(old_titles.iter().any(|t| t == "Weekly digest: 1 open recommendation"), "{old_titles:?}");
    let digest = old
        .received()
        .into_iter()
        .find(|m| m["text"].as_str().is_some_and(|t| t.starts_with("Weekly")))
        .expect("a digest");
    let listed = digest["blocks"][1]["text"]["text"].as_str().unwrap_or_default();
    assert!(listed.starts_with("Reorder Espresso beans 1 kg now") && listed.contains("At stake:"), "{listed}");
    assert_eq!(titles(&new).len(), 1);
    let deliveries = shop.deliveries().await;
    let digests: Vec<&Value> = deliveries.iter().filter(|d| d["purpose"] == "digest").collect();
    assert_eq!(digests.len(), 1);
    assert!(digests[0]["subject"].as_str().is_some_and(|s| s.starts_with("digest:")));
}

#[tokio::test]
async fn channels_and_deliveries_are_the_organizations_own() {
    // Arrange
    let (shop, _) = Shop::with_beans(Backend::Postgres, &[LOOPBACK_HOOKS, FAST_RETRIES]).await;
    let (_, url) = Fake::default().start(&[]).await;
    let channel = shop.add_channel(json!({ "kind": "teams", "name": "Buying", "url": format!("{url}/hook") })).await;
    let id = channel["id"].as_str().unwrap_or_default().to_owned();
    shop.post(&format!("/api/v1/alerts/channels/{id}/test"), &json!({})).await;
    let stranger = shop.app.token_for(Uuid::new_v4());
    let theirs = shop.app.create_organization(&stranger, "Rival", "UTC").await;

    // Act
    let request = |method: Method, path: String| shop.app.request_in(method, &stranger, theirs, &path).send();
    let tested = request(Method::POST, format!("/api/v1/alerts/channels/{id}/test")).await.expect("POST");
    let deleted = request(Method::DELETE, format!("/api/v1/alerts/channels/{id}")).await.expect("DELETE");
    let listed: Value =
        request(Method::GET, "/api/v1/alerts/channels".into()).await.expect("GET").json().await.expect("JSON");
    let delivered: Value =
        request(Method::GET, "/api/v1/alerts/deliveries".into()).await.expect("GET").json().await.expect("JSON");
    let removed = shop
        .app
        .request_in(Method::DELETE, &shop.token, shop.organization, &format!("/api/v1/alerts/channels/{id}"))
        .send()
        .await
        .expect("DELETE");

    // Assert
    assert_eq!((tested.status(), deleted.status()), (reqwest::StatusCode::NOT_FOUND, reqwest::StatusCode::NOT_FOUND));
    assert_eq!((listed["items"].clone(), delivered["items"].clone()), (json!([]), json!([])));
    assert_eq!(removed.status(), 204);
    let (_, after) = shop.get("/api/v1/alerts/channels").await;
    assert_eq!(after["items"], json!([]));
    assert_eq!(shop.deliveries().await.len(), 1, "the test delivery stays on record");
}

#[tokio::test]
async fn without_a_key_e_mail_carries_a_managed_identity_token() {
    // Arrange: the real binary under `dev`, the App Service identity endpoint faked on loopback, ACS without a key.
    let identity = tests::azure_fakes::AzureFakes::start().await;
    let (acs, acs_url) = Fake::default().start(&[]).await;
    let workdir = tempfile::tempdir().expect("temporary folder");
    let port = tests::free_port();
    let environment = [
        ("ACS_EMAIL_ENDPOINT", acs_url.as_str()),
        ("ACS_EMAIL_SENDER", "DoNotReply@advisor.example"),
        ("IDENTITY_ENDPOINT", identity.identity_endpoint.as_str()),
        ("IDENTITY_HEADER", identity.identity_header.as_str()),
        ("LOG_FORMAT", "json"),
    ];
    let command = |args: &[&str]| {
        let mut command = tokio::process::Command::new(tests::handler_binary());
        command.args(args).current_dir(workdir.path()).envs(environment).kill_on_drop(true);
        for name in ["DATABASE_URL", "SUPABASE_JWT_SECRET", "SUPABASE_URL", "AUTH_ISSUER", "ACS_EMAIL_KEY"] {
            command.env_remove(name);
        }
        command
    };
    let token = command(&["token", "--data-dir", "data", "--org", "Beans & Co"]).output().await.expect("handler token");
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let token = String::from_utf8(token.stdout).expect("UTF-8").trim().to_owned();
    let mut dev = command(&["dev", "--port", &port.to_string(), "--data-dir", "data"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("handler dev");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    tests::wait_until_answering(&client, &format!("{base}/api/health"), std::time::Duration::from_secs(60)).await;

    // Act
    let channel: Value = client
        .post(format!("{base}/api/v1/alerts/channels"))
        .bearer_auth(&token)
        .json(&json!({ "kind": "email", "name": "Ops", "recipients": ["ops@beans.example"] }))
        .send()
        .await
        .expect("add a channel")
        .json()
        .await
        .expect("JSON");
    let id = channel["id"].as_str().unwrap_or_default();
    let delivery: Value = client
        .post(format!("{base}/api/v1/alerts/channels/{id}/test"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("test")
        .json()
        .await
        .expect("JSON");
    dev.kill().await.expect("stop handler dev");

    // Assert: sent, authorized by a token the identity endpoint issued for Communication Services.
    assert_eq!(delivery["status"], "sent", "{delivery} {channel}");
    assert_eq!(acs.received().len(), 1);
    let sent = acs.tokens.lock().expect("tokens").clone();
    assert!(sent.len() == 1 && sent[0].starts_with("token-"), "{sent:?}");
    let asked: Vec<(String, bool)> = identity.lock().token_log.clone();
    assert_eq!(asked, [("https://communication.azure.com".to_owned(), true)]);
}
