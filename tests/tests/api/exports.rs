//! CSV exports on both backends, end to end: `POST /api/v1/exports` records and queues, the `WriteExport` queue
//! function (delivered as the host delivers) writes the file page by page, `GET` gives a download URL a plain
//! client fetches; the `SweepExports` timer queues a lost export again and deletes expired files. The files are
//! parsed back as RFC 4180 CSV and compared cell by cell with what was stored.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use shared::{
    analytics::OrderStatus,
    catalogue::{ProductInput, ProductStatus, VariantInput},
    db::{Database, orders::OrderInput},
};
use tests::{Backend, TestApp, spawn_app_on, spawn_app_with, worker};
use uuid::Uuid;

use crate::store_sync::{Merchant, merchant};

const BACKENDS: [Backend; 2] = [Backend::Postgres, Backend::Sqlite];
/// More than two pages of the writer's 500 rows.
const PRODUCTS: usize = 1_102;

fn product(external_id: String, title: String) -> ProductInput {
    ProductInput {
        external_id: external_id.clone(),
        title,
        description: String::new(),
        vendor: "Acme".into(),
        category: "Chairs".into(),
        status: ProductStatus::Active,
        variants: vec![VariantInput {
            external_id: format!("{external_id}-v"),
            sku: external_id.to_uppercase(),
            title: "Default".into(),
            price_minor: 1250,
            cost_minor: None,
            inventory: 3,
        }],
    }
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a time")
}

async fn request(app: &TestApp, m: &Merchant, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut builder = app.request_in(method, &m.token, m.organization, path);
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    let response = builder.send().await.expect("response");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Asks for an export and answers its id, checking the `202`.
async fn ask(app: &TestApp, m: &Merchant, body: Value) -> Uuid {
    let (status, view) = request(app, m, Method::POST, "/api/v1/exports", Some(body)).await;
    assert_eq!(status, 202, "{view}");
    assert_eq!(view["status"], "queued", "{view}");
    view["id"].as_str().and_then(|id| id.parse().ok()).expect("export id")
}

/// Delivers the message the outbox would have queued, as the host delivers it; answers the log line.
async fn write(app: &TestApp, m: &Merchant, export: Uuid) -> String {
    let message = json!({ "organization": m.organization, "export": export });
    let reply = worker::deliver(&app.client, &app.address, "WriteExport", "message", &message).await.expect("delivery");
    reply["Logs"][0].as_str().unwrap_or_default().to_owned()
}

/// The export, which must be ready, and its file's records (header first).
async fn download(app: &TestApp, m: &Merchant, export: Uuid) -> (Value, Vec<Vec<String>>) {
    let (status, view) = request(app, m, Method::GET, &format!("/api/v1/exports/{export}"), None).await;
    assert_eq!((status, view["status"].as_str()), (200, Some("ready")), "{view}");
    let url = view["download"]["url"].as_str().expect("a download URL");
    let response = app.client.get(url).send().await.expect("download");
    assert_eq!(response.status(), 200, "the URL needs no credentials");
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let bytes = response.bytes().await.expect("the file");
    assert_eq!(view["bytes"].as_i64(), Some(bytes.len() as i64), "{view}");
    assert!(bytes.windows(2).any(|pair| pair == b"\r\n"), "CRLF line ends");
    let records = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes.as_ref())
        .records()
        .map(|record| record.expect("RFC 4180").iter().map(str::to_owned).collect())
        .collect();
    (view, records)
}

async fn set_export_times(db: &Database, export: Uuid, column: &str) {
    let sql = format!("UPDATE exports SET {column} = $1 WHERE id = $2");
    let past = Utc::now() - chrono::Duration::minutes(1);
    match db {
        Database::Postgres(pool) => sqlx::query(&sql).bind(past).bind(export).execute(pool).await.map(drop),
        Database::Sqlite(pool) => sqlx::query(&sql).bind(past).bind(export).execute(pool).await.map(drop),
    }
    .expect("update the export");
}

#[tokio::test]
async fn products_and_orders_export_to_csv_files_that_only_their_organization_can_fetch() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let token = app.token_for(Uuid::new_v4());
        let organization = app.create_organization(&token, "Export shop", "America/New_York").await;
        let (m, other) = (Merchant { token, organization }, merchant(&app, "Other shop").await);
        let db = &app.state.db;
        let store = db.create_store(m.organization, "demo", "Demo").await.expect("store");
        let mut catalogue: Vec<ProductInput> =
            (0..PRODUCTS - 2).map(|i| product(format!("p{i:04}"), format!("Chair {i}"))).collect();
        catalogue.push(product("formula".into(), "=HYPERLINK(\"http://evil\",\"x\")".into()));
        catalogue.push(product("quoted".into(), "Chair, \"deluxe\"\nnew line".into()));
        db.upsert_products(m.organization, store, &catalogue).await.expect("products");
        let orders = [
            ("1001", "2026-01-15T03:30:00Z", OrderStatus::Paid, 1299),
            ("1002", "2026-01-15T05:30:00Z", OrderStatus::Refunded, 500),
            ("-1003", "2026-02-01T12:00:00Z", OrderStatus::Open, 1),
        ];
        let inputs: Vec<OrderInput> = orders
            .iter()
            .map(|(id, placed, status, total)| OrderInput {
                external_id: (*id).into(),
                placed_at: at(placed),
                status: *status,
                total_minor: *total,
                lines: vec![],
                customer: None,
            })
            .collect();
        db.upsert_orders(m.organization, store, &inputs).await.expect("orders");

        // Products: every one, over three pages, formulas neutralised, quotes and line breaks kept.
        let products = ask(&app, &m, json!({ "kind": "products" })).await;
        let log = write(&app, &m, products).await;
        assert!(log.contains(&format!("{PRODUCTS} rows")), "{backend:?}: {log}");
        let (view, records) = download(&app, &m, products).await;
        assert_eq!(view["rows"], PRODUCTS, "{backend:?}");
        assert_eq!(records.len(), PRODUCTS + 1, "{backend:?}: a header and every product once");
        assert_eq!(records[0][..4], ["id", "store_id", "external_id", "title"], "{backend:?}");
        let title = |external_id: &str| {
            records.iter().find(|r| r[2] == external_id).map(|r| r[3].clone()).expect("the product's row")
        };
        assert_eq!(title("formula"), "'=HYPERLINK(\"http://evil\",\"x\")", "{backend:?}: neutralised");
        assert_eq!(title("quoted"), "Chair, \"deluxe\"\nnew line", "{backend:?}");
        let row = records.iter().find(|r| r[2] == "p0007").expect("a row");
        assert_eq!((row[7].as_str(), row[8].as_str(), row[10].as_str()), ("USD", "12.50", "3"), "{backend:?}");
        let ids: std::collections::HashSet<&str> = records[1..].iter().map(|r| r[0].as_str()).collect();
        assert_eq!(ids.len(), PRODUCTS, "{backend:?}: no row twice across pages");

        // A second delivery of the same message writes nothing.
        let again = write(&app, &m, products).await;
        assert!(again.contains("already"), "{backend:?}: {again}");

        // Orders of one local day: 03:30 UTC on the 15th is 22:30 on the 14th in New York.
        let filters = json!({ "from": "2026-01-14", "to": "2026-01-14" });
        let orders = ask(&app, &m, json!({ "kind": "orders", "filters": filters })).await;
        write(&app, &m, orders).await;
        let (_, records) = download(&app, &m, orders).await;
        assert_eq!(records.len(), 2, "{backend:?}: the header and order 1001 only: {records:?}");
        assert_eq!(records[1][2..7], ["1001", "2026-01-14 22:30:00", "paid", "USD", "12.99"], "{backend:?}");
        let all = ask(&app, &m, json!({ "kind": "orders" })).await;
        write(&app, &m, all).await;
        let (_, records) = download(&app, &m, all).await;
        assert_eq!(records.len(), 4, "{backend:?}: every order without a range");
        assert_eq!(records[3][2], "'-1003", "{backend:?}: a platform id that starts a formula is neutralised");
        assert_eq!(records[3][6], "0.01", "{backend:?}");

        // Another organization sees none of it; a tampered or expired URL fetches nothing.
        let (status, _) = request(&app, &other, Method::GET, &format!("/api/v1/exports/{products}"), None).await;
        assert_eq!(status, 404, "{backend:?}: another organization's export");
        let (_, listed) = request(&app, &other, Method::GET, "/api/v1/exports", None).await;
        assert_eq!(listed["items"], json!([]), "{backend:?}");
        let (_, view) = request(&app, &m, Method::GET, &format!("/api/v1/exports/{products}"), None).await;
        let url = view["download"]["url"].as_str().expect("URL").to_owned();
        let forged = url.replace(&m.organization.to_string(), &other.organization.to_string());
        assert_eq!(app.client.get(&forged).send().await.expect("response").status(), 403, "{backend:?}");
        let tampered = url.replace("signature=", "signature=x");
        assert_eq!(app.client.get(&tampered).send().await.expect("response").status(), 403, "{backend:?}");
        let (_, listed) = request(&app, &m, Method::GET, "/api/v1/exports", None).await;
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(3), "{backend:?}");
    }
}

#[tokio::test]
async fn the_sweep_queues_a_lost_export_again_and_deletes_expired_files() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let m = merchant(&app, "Sweep shop").await;
        let filters = json!({ "from": "2026-01-01", "to": "2026-01-07", "bucket": "day" });
        let export = ask(&app, &m, json!({ "kind": "timeseries", "filters": filters })).await;

        // Its message was lost: once it waited past its time, the sweep queues it and the writer writes it.
        let early = app.invoke_timer("SweepExports").await;
        assert!(early[0].contains("0 queued again"), "{backend:?}: not before its time: {early:?}");
        set_export_times(&app.state.db, export, "lease_until").await;
        let logs = app.invoke_timer("SweepExports").await;
        assert!(logs[0].contains("1 queued again"), "{backend:?}: {logs:?}");
        assert!(logs[1].contains("7 rows"), "{backend:?}: {logs:?}");
        let (view, records) = download(&app, &m, export).await;
        assert_eq!(records[0][..3], ["bucket_start", "currency", "revenue"], "{backend:?}");
        assert_eq!(records[1][..4], ["2026-01-01", "USD", "0.00", "0"], "{backend:?}");
        let file = view["download"]["url"].as_str().expect("URL").to_owned();

        // Expired: the file is deleted, the export stays listed without a download.
        set_export_times(&app.state.db, export, "expires_at").await;
        let logs = app.invoke_timer("SweepExports").await;
        assert!(logs[0].contains("1 expired file(s) deleted"), "{backend:?}: {logs:?}");
        let (_, view) = request(&app, &m, Method::GET, &format!("/api/v1/exports/{export}"), None).await;
        assert_eq!((view["status"].as_str(), &view["download"]), (Some("expired"), &Value::Null), "{backend:?}");
        assert_eq!(app.client.get(&file).send().await.expect("response").status(), 404, "{backend:?}");
        let blobs = std::path::Path::new(&app.env["VIDEO_STORAGE_DIR"]).join("exports");
        let left: Vec<_> = walk(&blobs);
        assert!(left.is_empty(), "{backend:?}: no file stays behind: {left:?}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .flat_map(|entry| if entry.path().is_dir() { walk(&entry.path()) } else { vec![entry.path()] })
        .collect()
}

#[tokio::test]
async fn bad_export_requests_are_refused_with_the_field_named_and_nothing_recorded() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let m = merchant(&app, "Careful shop").await;
    let cases = [
        (json!({ "kind": "orders", "filters": { "from": "2026-02-01", "to": "2026-01-01" } }), 422, "filters.from"),
        (
            json!({ "kind": "products", "filters": { "min_price": "9.00", "max_price": "1.00" } }),
            422,
            "filters.min_price",
        ),
        (json!({ "kind": "timeseries", "filters": { "product": Uuid::new_v4() } }), 422, "filters.product"),
        (json!({ "kind": "timeseries", "filters": { "from": "2020-01-01", "to": "2026-01-01" } }), 422, "filters.from"),
        (json!({ "kind": "spreadsheet" }), 422, "kind"),
        (json!({ "kind": "orders", "filters": { "colour": "red" } }), 422, "colour"),
        (json!({ "kind": "orders", "filters": { "status": "lost" } }), 422, "lost"),
    ];
    for (body, expected, field) in cases {
        let (status, problem) = request(&app, &m, Method::POST, "/api/v1/exports", Some(body.clone())).await;
        assert_eq!(status, expected, "{body}: {problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains(field)), "{body}: {problem}");
    }
    let (_, listed) = request(&app, &m, Method::GET, "/api/v1/exports", None).await;
    assert_eq!(listed["items"], json!([]), "nothing recorded");
    let (status, _) = request(&app, &m, Method::GET, &format!("/api/v1/exports/{}", Uuid::new_v4()), None).await;
    assert_eq!(status, 404);
}

/// In Azure the API sends the message itself, to the queue the host's `queueTrigger` reads on its own storage
/// account (`AzureWebJobsStorage`): base64-encoded JSON, the host's default encoding. Azurite plays the account.
#[tokio::test]
async fn in_azure_the_export_message_goes_to_the_host_storage_queue_as_base64_json() {
    use base64::Engine;
    let connection = format!(
        "{}QueueEndpoint={};",
        shared::blob::ConnectionString::azurite_text(&tests::azurite_url()),
        tests::azurite_queue_url()
    );
    let app = spawn_app_with(Backend::Sqlite, &[("AzureWebJobsStorage", &connection)]).await;
    // The Functions host creates the queues its triggers read; here the test does.
    let queues = shared::queue::StorageQueues::from_connection_string(&connection).expect("queues");
    queues.create(shared::exports::EXPORT_QUEUE).await.expect("the exports queue");
    let m = merchant(&app, "Azure shop").await;

    let export = ask(&app, &m, json!({ "kind": "advice" })).await;

    let client = queues.client(shared::exports::EXPORT_QUEUE).expect("client");
    let options = azure_storage_queue::models::QueueClientReceiveMessagesOptions {
        number_of_messages: Some(32),
        ..Default::default()
    };
    let received = client.receive_messages(Some(options)).await.expect("receive").into_model().expect("messages");
    let messages: Vec<Value> = received
        .items
        .unwrap_or_default()
        .into_iter()
        .filter_map(|message| message.message_text)
        .map(|text| {
            let json = base64::engine::general_purpose::STANDARD.decode(text).expect("base64");
            serde_json::from_slice(&json).expect("JSON")
        })
        .collect();
    assert!(
        messages.contains(&json!({ "organization": m.organization, "export": export })),
        "the export's message is on the queue: {messages:?}"
    );
}
