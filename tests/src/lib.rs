//! Test harness: [`spawn_app`] runs the real router on a loopback port over a fresh database (one uuid-named
//! PostgreSQL database per test, or a SQLite file in a temporary folder), and [`handler_binary`] finds the built
//! `handler` for tests that spawn whole processes. [`gotrue_fake`] and [`platform_fakes`] are loopback protocol fakes; the
//! binaries under `src/bin` run them as processes for the browser tests (`tests/browser`).
//!
//! PostgreSQL is reached through `TEST_DATABASE_URL` (an admin connection; default
//! `postgres://postgres@127.0.0.1:5432/postgres`); `scripts/test.sh` starts a server when none answers.

pub mod azure_fakes;
pub mod gotrue_fake;
pub mod platform_fakes;
pub mod worker;

use std::{
    collections::HashMap,
    net::{Ipv4Addr, TcpListener as StdListener},
    path::PathBuf,
    time::Duration,
};

use functions::AppState;
use secrecy::SecretString;
use shared::{
    config::Settings,
    telemetry::{self, LogFormat},
};
use sqlx::{Connection, Executor, PgConnection};
use tokio::net::TcpListener;
use uuid::Uuid;

/// The issuer test tokens carry.
pub const TEST_ISSUER: &str = "https://test-project.supabase.co/auth/v1";

/// Which database backs a test app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh PostgreSQL database.
    Postgres,
    /// A fresh SQLite file.
    Sqlite,
}

/// A running app and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// A client with no default headers.
    pub client: reqwest::Client,
    /// The app's shared state (its database pool included).
    pub state: AppState,
    /// The settings the app was built from, as name → value.
    pub env: HashMap<String, String>,
    _data: Option<tempfile::TempDir>,
}

impl TestApp {
    /// `GET {address}{path}`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).send().await.expect("request reaches the app")
    }

    /// `GET` with a bearer token.
    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .bearer_auth(token)
            .send()
            .await
            .expect("request reaches the app")
    }

    /// `POST` a JSON body.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client.post(format!("{}{path}", self.address)).json(body).send().await.expect("request reaches the app")
    }

    /// `POST` a JSON body with a bearer token.
    pub async fn post_json_as(&self, token: &str, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request reaches the app")
    }

    /// A valid token for `user`, signed with this app's secret.
    pub fn token_for(&self, user: Uuid) -> String {
        let secret = SecretString::from(self.env["SUPABASE_JWT_SECRET"].clone());
        shared::auth::mint_token(&secret, TEST_ISSUER, user, None, Duration::from_secs(600)).expect("mint a token")
    }
}

/// An app on a fresh PostgreSQL database.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(Backend::Postgres).await
}

/// An app on a fresh database of the given backend, migrated, serving on a loopback port.
pub async fn spawn_app_on(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// [`spawn_app_on`] with settings added to (or replacing) [`app_env`]'s; an empty value removes the setting.
pub async fn spawn_app_with(backend: Backend, extra_env: &[(&str, &str)]) -> TestApp {
    init_test_logging();
    let data = tempfile::tempdir().expect("temporary folder");
    let database_url = match backend {
        Backend::Postgres => fresh_postgres_database().await,
        Backend::Sqlite => format!("sqlite://{}", data.path().join("advisor.db").display()),
    };
    let mut env = app_env(database_url);
    env.insert("VIDEO_STORAGE_DIR".to_owned(), data.path().join("blobs").display().to_string());
    env.insert("SECRETS_DIR".to_owned(), data.path().join("secrets").display().to_string());
    for (name, value) in extra_env {
        match *value {
            "" => env.remove(*name),
            value => env.insert((*name).to_owned(), value.to_owned()),
        };
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind a loopback port");
    let address = format!("http://{}", listener.local_addr().expect("local address"));
    // The app's public address is where the test reaches it, unless the test says otherwise.
    if !extra_env.iter().any(|(name, _)| *name == "APP_URL") {
        env.insert("APP_URL".to_owned(), address.clone());
    }
    let settings = Settings::load(&|name: &str| env.get(name).cloned()).expect("valid test settings");
    let state = AppState::build(settings).expect("app state");
    state.db.migrate().await.expect("migrations apply");
    let router = functions::app(state.clone());
    // With the TCP peer, as every host serves (the anonymous rate limit may count by it).
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    TestApp { address, client: reqwest::Client::new(), state, env, _data: Some(data) }
}

/// The settings a test app runs with, as the app-setting names a host would provide.
pub fn app_env(database_url: String) -> HashMap<String, String> {
    HashMap::from([
        ("DATABASE_URL".to_owned(), database_url),
        ("SUPABASE_JWT_SECRET".to_owned(), format!("test-secret-{}", Uuid::new_v4().simple())),
        ("AUTH_ISSUER".to_owned(), TEST_ISSUER.to_owned()),
        ("LOG_FORMAT".to_owned(), "json".to_owned()),
        // Suites fire requests faster than any client would; rate limits are tested where they are switched on.
        ("RATE_LIMIT_PER_MINUTE".to_owned(), "0".to_owned()),
        ("RATE_LIMIT_ANONYMOUS_PER_MINUTE".to_owned(), "0".to_owned()),
        // The JWKS and Azure OpenAI fakes listen on loopback.
        ("ALLOW_PRIVATE_ENDPOINTS".to_owned(), "true".to_owned()),
    ])
}

/// Creates an empty database `test_<uuid>` on the test server and returns its URL.
pub async fn fresh_postgres_database() -> String {
    let admin_url =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("test_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at TEST_DATABASE_URL must answer (run scripts/test.sh): {e}"));
    admin.execute(format!(r#"CREATE DATABASE "{name}""#).as_str()).await.expect("create the test database");
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url.as_str(), String::new()),
    };
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    format!("{server}/{name}{query}")
}

/// Logs go nowhere unless `TEST_LOG` is set, so failures print only what the test says.
fn init_test_logging() {
    if std::env::var_os("TEST_LOG").is_some() {
        telemetry::init(LogFormat::Pretty, "debug,sqlx=warn", std::io::stdout);
    } else {
        telemetry::init(LogFormat::Json, "off", std::io::sink);
    }
}

/// The `handler` executable of this build (`target/<profile>/handler`, next to the test binary's `deps/`).
pub fn handler_binary() -> PathBuf {
    let test_binary = std::env::current_exe().expect("path of the test binary");
    let profile_dir = test_binary.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<test>");
    let binary = profile_dir.join(format!("handler{}", std::env::consts::EXE_SUFFIX));
    assert!(binary.exists(), "{} is missing: run `cargo build --workspace --bins` first", binary.display());
    binary
}

/// A loopback port that was free a moment ago, for processes that must be told their port up front.
pub fn free_port() -> u16 {
    StdListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).expect("a free port").port()
}

/// How a request body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` declared up front.
    Length,
    /// `Transfer-Encoding: chunked`, the length known only at the end.
    Chunked,
}

/// POSTs a JSON body of `size` bytes to `path` with the `headers` given, the way Python's urllib does: the whole body
/// is written before anything is read. Answers the status line and headers the server sent, or the I/O error (a
/// reset) the client saw.
pub async fn post_whole_body_then_read(
    address: &str,
    path: &str,
    headers: &[(&str, &str)],
    size: usize,
    framing: Framing,
) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let length = match framing {
        Framing::Length => format!("Content-Length: {size}"),
        Framing::Chunked => "Transfer-Encoding: chunked".to_owned(),
    };
    let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let head =
        format!("POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n{extra}{length}\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    let mut body = vec![b' '; size];
    body[0] = b'[';
    body[size - 1] = b']';
    match framing {
        Framing::Length => stream.write_all(&body).await?,
        Framing::Chunked => {
            for chunk in body.chunks(64 * 1024) {
                stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
                stream.write_all(chunk).await?;
                stream.write_all(b"\r\n").await?;
            }
            stream.write_all(b"0\r\n\r\n").await?;
        }
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    Ok(text.split("\r\n\r\n").next().unwrap_or_default().to_owned())
}

/// Polls `url` until it answers anything, as the Functions host does before sending work (25 ms apart).
pub async fn wait_until_answering(client: &reqwest::Client, url: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while client.get(url).send().await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "{url} did not answer within {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A response read off a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl RawResponse {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Sends a request whose body is framed with `Transfer-Encoding: chunked` and no `Content-Length`, as the Functions
/// host has been observed to send invocations, and reads the whole response (the connection is closed after it).
pub async fn send_chunked(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let authority = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(authority).await.expect("connect");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nhost: {authority}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    for chunk in body.chunks(16 * 1024) {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    // The server may answer (413) and close before reading everything; a failed write is then expected.
    let _ = stream.write_all(&bytes).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    parse_raw_response(&raw)
}

fn parse_raw_response(raw: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = if headers.iter().any(|(n, v)| n == "transfer-encoding" && v == "chunked") {
        decode_chunked(body)
    } else {
        body.to_owned()
    };
    RawResponse { status, headers, body }
}

fn decode_chunked(mut body: &str) -> String {
    let mut decoded = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        decoded.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    decoded
}

impl TestApp {
    /// Runs one occurrence of timer `function` as the Functions host does (its queued messages delivered too, see
    /// [`worker::run_timer`]) and returns the log lines: the timer's, then each delivery's.
    pub async fn invoke_timer(&self, function: &str) -> Vec<String> {
        let run = worker::run_timer(&self.client, &self.address, function).await.expect("the timer and its messages");
        let timer =
            run.timer["Logs"].as_array().expect("logs").iter().map(|l| l.as_str().unwrap_or_default().to_owned());
        timer.chain(run.delivery_logs()).collect()
    }

    /// Creates an organization as `token`'s user (who becomes its admin) and returns its id.
    pub async fn create_organization(&self, token: &str, name: &str, timezone: &str) -> Uuid {
        let response = self
            .post_json_as(token, "/api/v1/organizations", &serde_json::json!({ "name": name, "timezone": timezone }))
            .await;
        assert_eq!(response.status(), 201, "create organization {name}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        body["id"].as_str().and_then(|id| id.parse().ok()).expect("organization id")
    }

    /// A request builder with a bearer token and an organization header.
    pub fn request_in(
        &self,
        method: reqwest::Method,
        token: &str,
        organization: Uuid,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(token)
            .header("x-organization-id", organization.to_string())
    }
}

/// Azurite's queue endpoint with the account (`AZURITE_QUEUE_URL`, exported by `scripts/test.sh`).
pub fn azurite_queue_url() -> String {
    std::env::var("AZURITE_QUEUE_URL").unwrap_or_else(|_| {
        panic!("AZURITE_QUEUE_URL must name a running Azurite, e.g. http://127.0.0.1:10001/devstoreaccount1 (run scripts/test.sh)")
    })
}

/// Azurite's blob endpoint with the account (`AZURITE_BLOB_URL`, exported by `scripts/test.sh`).
pub fn azurite_url() -> String {
    std::env::var("AZURITE_BLOB_URL").unwrap_or_else(|_| {
        panic!("AZURITE_BLOB_URL must name a running Azurite, e.g. http://127.0.0.1:10000/devstoreaccount1 (run scripts/test.sh)")
    })
}

/// A fresh, uniquely named container on Azurite, and a store on Azurite's development account.
pub async fn azurite_store() -> (shared::blob::BlobStore, String) {
    let connection = shared::blob::ConnectionString::azurite(&azurite_url()).expect("Azurite connection");
    let store = shared::blob::BlobStore::Azure(std::sync::Arc::new(
        shared::blob::AzureBlobStore::from_connection_string(connection).expect("Azure store"),
    ));
    let container = format!("t{}", Uuid::new_v4().simple());
    store.create_container(&container).await.expect("create an Azurite container");
    (store, container)
}
