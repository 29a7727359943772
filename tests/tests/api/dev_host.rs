//! `handler dev` on embedded defaults: serves the API on SQLite, fires timers on their schedule, runs the queues
//! between functions and raises `BlobCreated` events for files in the blob folder, through the same invocation
//! protocol as Azure.

use std::{
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

struct DevHost {
    child: Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

/// Settings a developer's shell might hold that would steer the dev host away from its embedded defaults.
const INHERITED: [&str; 16] = [
    "DATABASE_URL",
    "SUPABASE_JWT_SECRET",
    "SUPABASE_URL",
    "SUPABASE_JWKS_URL",
    "AUTH_ISSUER",
    "AUTH_JWKS_CACHE_SECS",
    "AUTH_JWKS_MIN_REFETCH_SECS",
    "FUNCTIONS_CUSTOMHANDLER_PORT",
    "AWS_LAMBDA_RUNTIME_API",
    "VIDEO_STORAGE_CONNECTION_STRING",
    "VIDEO_STORAGE_SAS_URL",
    "VIDEO_STORAGE_ACCOUNT_URL",
    "VIDEO_STORAGE_DIR",
    "TRUSTED_PROXY_HOPS",
    "WEBSITE_INSTANCE_ID",
    "APP_URL",
];

async fn start(workdir: &Path, port: u16) -> DevHost {
    start_with(workdir, port, &[]).await
}

/// [`start`] with settings added to the environment.
async fn start_with(workdir: &Path, port: u16, env: &[(&str, &str)]) -> DevHost {
    let mut command = Command::new(tests::handler_binary());
    command
        .args(["dev", "--port", &port.to_string(), "--data-dir", "data"])
        .current_dir(workdir)
        .env("LOG_FORMAT", "json")
        .env("SYNC_STORES_SCHEDULE", "* * * * * *")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for name in INHERITED {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let mut child = command.spawn().expect("spawn handler dev");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut reader = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let sink = Arc::clone(&lines);
    tokio::spawn(async move {
        while let Ok(Some(line)) = reader.next_line().await {
            sink.lock().expect("lock").push(line);
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    tests::wait_until_answering(&reqwest::Client::new(), &format!("{base}/api/health"), Duration::from_secs(30)).await;
    DevHost { child, base, lines }
}

impl DevHost {
    fn count(&self, needle: &str) -> usize {
        self.lines.lock().expect("lock").iter().filter(|l| l.contains(needle)).count()
    }

    async fn wait_for(&self, needle: &str, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.count(needle) == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no `{needle}` in output: {:#?}",
                self.lines.lock().expect("lock")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(mut self) {
        let pid = self.child.id().expect("running").to_string();
        Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill");
        let status =
            tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.expect("exits").expect("status");
        assert!(status.success(), "{status}");
    }
}

/// `handler token --org Acme` in `workdir`: the dev user's token, as admin of a new organization `Acme`.
async fn dev_token(workdir: &Path) -> String {
    let token = Command::new(tests::handler_binary())
        .args(["token", "--data-dir", "data", "--org", "Acme"])
        .current_dir(workdir)
        .env_remove("SUPABASE_JWT_SECRET")
        .env_remove("DATABASE_URL")
        .output()
        .await
        .expect("handler token");
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    String::from_utf8(token.stdout).expect("UTF-8").trim().to_owned()
}

fn write_blob(workdir: &Path, name: &str) {
    let path = workdir.join("data/blobs/videos").join(name);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
    std::fs::write(path, b"\x00\x00\x00\x18ftypmp42").expect("blob");
}

#[tokio::test]
async fn the_dev_host_serves_fires_timers_raises_blob_events_and_loses_none_across_restarts() {
    let workdir = tempfile::tempdir().expect("temporary folder");
    let port = tests::free_port();
    let dev = start(workdir.path(), port).await;

    let health: serde_json::Value =
        reqwest::get(format!("{}/api/health", dev.base)).await.expect("health").json().await.expect("JSON");
    assert_eq!(health["checks"]["database"]["detail"], "sqlite", "embedded defaults: {health}");
    assert!(workdir.path().join("data/advisor.db").exists());

    dev.wait_for("store sync tick", Duration::from_secs(5)).await;

    write_blob(workdir.path(), "t-1/clip.mp4");
    dev.wait_for("video upload received: tenant t-1, video clip.mp4", Duration::from_secs(10)).await;

    let token = dev_token(workdir.path()).await;
    let me =
        reqwest::Client::new().get(format!("{}/api/v1/me", dev.base)).bearer_auth(&token).send().await.expect("me");
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.expect("JSON");
    assert_eq!(me["organizations"][0]["name"], "Acme", "{me}");
    dev.stop().await;

    // A file that lands while the host is down is announced at the next start; the one already delivered is not.
    write_blob(workdir.path(), "t-1/second.mp4");
    let dev = start(workdir.path(), port).await;
    dev.wait_for("video upload received: tenant t-1, video second.mp4", Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(dev.count("video upload received: tenant t-1, video clip.mp4"), 0, "no repeat after restart");
    dev.stop().await;
}

/// The scheduled instant a `store sync tick` output line is about: from the host's line of the invocation's `Logs`
/// (`store sync tick (scheduled <instant>, …`), or from a structured `scheduled` field.
fn tick_instant(line: &str) -> String {
    let event: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    if let Some(scheduled) = event["scheduled"].as_str() {
        return scheduled.to_owned();
    }
    let message = event["message"].as_str().unwrap_or(line);
    let after = message.split_once("scheduled ").map_or("", |(_, rest)| rest);
    after.split([',', ')']).next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn in_dev_each_trigger_event_prints_one_line() {
    let workdir = tempfile::tempdir().expect("temporary folder");
    let dev = start(workdir.path(), tests::free_port()).await;

    write_blob(workdir.path(), "t-1/once.mp4");
    dev.wait_for("video upload received: tenant t-1, video once.mp4", Duration::from_secs(10)).await;
    dev.wait_for("store sync tick", Duration::from_secs(5)).await;
    // Ticks fire every second: wait for a few, and for any second copy of a line to arrive.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    assert_eq!(dev.count("video upload received: tenant t-1, video once.mp4"), 1, "{:#?}", dev.lines.lock());
    let ticks: Vec<String> = dev
        .lines
        .lock()
        .expect("lock")
        .iter()
        .filter(|l| l.contains("store sync tick"))
        .map(|l| tick_instant(l))
        .collect();
    let mut instants = ticks.clone();
    instants.sort();
    instants.dedup();
    assert!(ticks.len() >= 2, "{ticks:?}");
    assert_eq!(ticks.len(), instants.len(), "one line per timer occurrence: {ticks:#?}");
    dev.stop().await;
}

#[tokio::test]
async fn in_dev_an_upload_to_the_local_url_is_announced_by_the_host_and_the_video_becomes_ready() {
    let workdir = tempfile::tempdir().expect("temporary folder");
    let dev = start(workdir.path(), tests::free_port()).await;
    let token = dev_token(workdir.path()).await;
    let client = reqwest::Client::new();
    let bytes = std::fs::read(crate::video_probe::fixtures_dir().join("vertical.webm")).expect("fixture");

    let created: serde_json::Value = client
        .post(format!("{}/api/v1/videos", dev.base))
        .bearer_auth(&token)
        .json(
            &serde_json::json!({ "file_name": "teaser.webm", "content_type": "video/webm", "size_bytes": bytes.len() }),
        )
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("JSON");
    let id = created["id"].as_str().expect("id").to_owned();
    let spoofed: serde_json::Value = client
        .post(format!("{}/api/v1/videos", dev.base))
        .bearer_auth(&token)
        .header(reqwest::header::HOST, "attacker.example.com")
        .json(&serde_json::json!({ "file_name": "other.webm", "content_type": "video/webm", "size_bytes": 10 }))
        .send()
        .await
        .expect("create with a spoofed Host")
        .json()
        .await
        .expect("JSON");
    for upload in [&created["upload"], &spoofed["upload"]] {
        let url = upload["url"].as_str().expect("upload url");
        assert!(url.starts_with(&format!("{}/api/v1/videos/", dev.base)), "the dev host's own address: {url}");
    }
    let mut put = client.put(created["upload"]["url"].as_str().expect("upload url")).body(bytes);
    for (name, value) in created["upload"]["headers"].as_object().expect("headers") {
        put = put.header(name, value.as_str().expect("value"));
    }
    let put = put.send().await.expect("PUT");
    assert_eq!(put.status(), 201);

    dev.wait_for(&format!("video {id} ready"), Duration::from_secs(15)).await;
    let video: serde_json::Value = client
        .get(format!("{}/api/v1/videos/{id}", dev.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("show")
        .json()
        .await
        .expect("JSON");
    assert_eq!(video["status"], "ready", "{video}");
    assert_eq!(
        (video["probe"]["container"].as_str(), video["probe"]["display_height"].as_u64()),
        (Some("webm"), Some(640))
    );
    assert_eq!(video["fitness"][0]["checks"][0]["status"], "pass", "9:16 fits short-form: {video}");
    let leftovers: Vec<_> = std::fs::read_dir(workdir.path().join("data/blobs/videos"))
        .expect("tenant folders")
        .flatten()
        .flat_map(|tenant| std::fs::read_dir(tenant.path()).expect("folder").flatten())
        .map(|file| file.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, [format!("{id}.webm")], "only the finished upload, no temporary file");
    dev.stop().await;
}

#[tokio::test]
async fn the_dev_host_serves_the_dashboard_and_signs_in_its_development_user() {
    let workdir = tempfile::tempdir().expect("temporary folder");
    let dev = start(workdir.path(), tests::free_port()).await;
    let client = reqwest::Client::new();

    let page = client.get(format!("{}/", dev.base)).send().await.expect("GET /");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("text").contains("Retail AI Advisor"), "the dashboard's page");
    let config: serde_json::Value =
        client.get(format!("{}/api/v1/app-config", dev.base)).send().await.expect("config").json().await.expect("JSON");
    assert_eq!(config, serde_json::json!({ "supabase": null, "dev_sign_in": true }));

    let not_json = client.post(format!("{}/api/v1/dev/sign-in", dev.base)).send().await.expect("POST");
    assert_eq!(not_json.status(), 415, "a JSON body is required, so a cross-site form cannot sign anyone in");
    let session: serde_json::Value = client
        .post(format!("{}/api/v1/dev/sign-in", dev.base))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    let token = session["access_token"].as_str().expect("a token");
    let me: serde_json::Value = client
        .get(format!("{}/api/v1/me", dev.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("JSON");
    let dev_user = std::fs::read_to_string(workdir.path().join("data/dev-user")).expect("the dev user file");
    assert_eq!(me["user_id"], dev_user.trim(), "the data directory's development user");
    assert_eq!(session["user"]["id"], dev_user.trim());
    assert_eq!(session["token_type"], "bearer");
    dev.stop().await;
}

#[tokio::test]
async fn in_dev_a_spoofed_forwarded_for_header_does_not_escape_the_anonymous_limit() {
    let workdir = tempfile::tempdir().expect("temporary folder");
    let dev = start_with(workdir.path(), tests::free_port(), &[("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "6")]).await;
    let client = reqwest::Client::new();

    let mut statuses = Vec::new();
    for n in 0..3 {
        let spoofed = format!("198.51.100.{n}");
        let response = client
            .get(format!("{}/api/v1/me", dev.base))
            .header("x-forwarded-for", spoofed)
            .send()
            .await
            .expect("answer");
        statuses.push(response.status().as_u16());
    }

    assert_eq!(statuses, [401, 429, 429], "nothing sits in front of the dev host: the TCP peer is the client");
    dev.stop().await;
}

#[tokio::test]
async fn handler_dev_answers_413_to_a_client_that_writes_the_whole_body_first() {
    let workdir = tempfile::tempdir().expect("temporary folder");
    let port = tests::free_port();
    let host = start(workdir.path(), port).await;

    crate::hardening::over_limit_bodies_are_answered_413_to_clients_that_write_first(&format!("127.0.0.1:{port}"))
        .await;
    host.stop().await;
}

#[tokio::test]
async fn in_dev_the_sync_timer_queues_a_connected_store_and_the_queue_function_syncs_it() {
    use tests::platform_fakes::{
        shopify::{FakeShop, FakeShopify, ShopifyConfig},
        shopify_catalogue, shopify_totals,
    };
    let fake = FakeShopify::start(ShopifyConfig::default()).await;
    let shop = "dev-shop.myshopify.com";
    let (products, orders) = shopify_catalogue(120, 3, 2, 40, 7);
    let expected = shopify_totals(&products, &orders);
    fake.add_shop(shop, FakeShop { products, orders, access_token: "shpat_dev".to_owned(), ..FakeShop::default() });
    let workdir = tempfile::tempdir().expect("temporary folder");
    let (admin, token_url) = (fake.admin_url_template(), fake.token_url_template());
    let env = [("SHOPIFY_ADMIN_URL_TEMPLATE", admin.as_str()), ("SHOPIFY_TOKEN_URL_TEMPLATE", token_url.as_str())];
    let dev = start_with(workdir.path(), tests::free_port(), &env).await;
    let token = dev_token(workdir.path()).await;
    let client = reqwest::Client::new();

    let connected = client
        .post(format!("{}/api/v1/stores", dev.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "platform": "shopify", "shop_domain": shop, "access_token": "shpat_dev" }))
        .send()
        .await
        .expect("connect");
    assert_eq!(connected.status(), 201);
    let store = connected.json::<serde_json::Value>().await.expect("JSON")["id"].as_str().expect("id").to_owned();

    dev.wait_for(&format!("store {store} (delivery 1): succeeded"), Duration::from_secs(30)).await;
    let shown: serde_json::Value = client
        .get(format!("{}/api/v1/stores/{store}", dev.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("store")
        .json()
        .await
        .expect("JSON");
    assert_eq!(shown["totals"]["products"], expected.products, "{shown}");
    assert_eq!(shown["totals"]["orders"], expected.orders, "{shown}");
    assert_eq!(shown["sync"]["last_job"]["trigger"], "timer", "{shown}");
    // Ticks every second go on, but the store is not due again for a minute: it ran once.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(dev.count(&format!("store {store} (delivery")), 1, "{:#?}", dev.lines.lock());
    dev.stop().await;
}
