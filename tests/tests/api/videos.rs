//! Video uploads end to end: `POST /api/v1/videos` hands out an upload URL, the client PUTs the file, the
//! `BlobCreated` invocation reaches `/VideoUploaded` as the Functions host sends it, and the video ends `ready` (with
//! the probe's facts and channel fitness) or `failed` (with a reason) — on the folder store and on Azurite.

use serde_json::{Value, json};
use tests::{Backend, TestApp, spawn_app_on, spawn_app_with};
use uuid::Uuid;

use crate::video_probe::{expected, fixtures_dir, mismatches};

const BLOB_CREATED: &str = include_str!("../../fixtures/functions-host/blob-created.json");

struct Tenant {
    token: String,
    organization: Uuid,
}

async fn tenant(app: &TestApp) -> Tenant {
    let token = app.token_for(Uuid::new_v4());
    let organization = app.create_organization(&token, "Acme", "Europe/Paris").await;
    Tenant { token, organization }
}

async fn create_video(app: &TestApp, who: &Tenant, body: Value) -> reqwest::Response {
    app.request_in(reqwest::Method::POST, &who.token, who.organization, "/api/v1/videos")
        .json(&body)
        .send()
        .await
        .expect("request reaches the app")
}

async fn get_video(app: &TestApp, who: &Tenant, id: &str) -> reqwest::Response {
    app.request_in(reqwest::Method::GET, &who.token, who.organization, &format!("/api/v1/videos/{id}"))
        .send()
        .await
        .expect("request reaches the app")
}

/// PUTs `bytes` to an upload as the client would: the URL and headers exactly as given, nothing else.
async fn put_upload(upload: &Value, bytes: Vec<u8>) -> reqwest::Response {
    assert_eq!(upload["method"], "PUT");
    let mut request = reqwest::Client::new().put(upload["url"].as_str().expect("url")).body(bytes);
    for (name, value) in upload["headers"].as_object().expect("headers") {
        request = request.header(name, value.as_str().expect("header value"));
    }
    request.send().await.expect("PUT reaches the store")
}

/// The Functions host's Event Grid invocation (the committed real-shaped fixture) for one blob version.
fn blob_created(blob_name: &str, url: &str, etag: &str, length: u64, sequencer: &str) -> Value {
    let mut invocation: Value = serde_json::from_str(BLOB_CREATED).expect("fixture");
    let event = &mut invocation["Data"]["event"];
    event["id"] = json!(Uuid::new_v4());
    event["subject"] = json!(format!("/blobServices/default/containers/videos/blobs/{blob_name}"));
    event["data"]["url"] = json!(url);
    event["data"]["eTag"] = json!(etag);
    event["data"]["contentLength"] = json!(length);
    event["data"]["sequencer"] = json!(sequencer);
    invocation
}

async fn invoke(app: &TestApp, invocation: &Value) -> reqwest::Response {
    app.client
        .post(format!("{}/VideoUploaded", app.address))
        .header("x-azure-functions-invocationid", Uuid::new_v4().to_string())
        .json(invocation)
        .send()
        .await
        .expect("invocation reaches the app")
}

/// The blob name the API chose, from the video's id and organization.
fn blob_name(who: &Tenant, created: &Value, extension: &str) -> String {
    format!("{}/{}.{extension}", who.organization, created["id"].as_str().expect("id"))
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(name)).expect(name)
}

fn expected_for(name: &str) -> Value {
    expected().into_iter().find(|f| f["file"] == name).expect("expected values")
}

/// A real MP4 made larger than the API's 1 MiB body limit by a `free` box at the end (still a valid file).
fn padded_mp4() -> Vec<u8> {
    let mut bytes = fixture("landscape-faststart.mp4");
    let padding = 1536 * 1024u32;
    bytes.extend_from_slice(&padding.to_be_bytes());
    bytes.extend_from_slice(b"free");
    bytes.resize(bytes.len() + padding as usize - 8, 0);
    bytes
}

#[tokio::test]
async fn creating_a_video_refuses_bad_types_sizes_and_products_up_front() {
    let app = spawn_app_with(Backend::Sqlite, &[("MAX_VIDEO_BYTES", "1000000")]).await;
    let who = tenant(&app).await;
    let valid = json!({ "file_name": "clip.mp4", "content_type": "video/mp4", "size_bytes": 1000 });
    let cases = [
        (json!({ "content_type": "image/png" }), "content_type", "not a video type"),
        (json!({ "content_type": "video/avi" }), "content_type", "a video type we cannot probe"),
        (json!({ "size_bytes": 1_000_001 }), "size_bytes", "over MAX_VIDEO_BYTES"),
        (json!({ "size_bytes": 0 }), "size_bytes", "empty"),
        (json!({ "file_name": "" }), "file_name", "no name"),
        (json!({ "product_id": Uuid::new_v4() }), "product_id", "a product of nobody"),
    ];
    for (change, field, why) in cases {
        let mut body = valid.clone();
        for (key, value) in change.as_object().expect("object") {
            body[key] = value.clone();
        }

        let response = create_video(&app, &who, body).await;

        assert_eq!(response.status(), 422, "{why}");
        let problem: Value = response.json().await.expect("problem");
        assert_eq!(problem["errors"][0]["field"], field, "{why}: {problem}");
    }
    let list: Value = app
        .request_in(reqwest::Method::GET, &who.token, who.organization, "/api/v1/videos")
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("JSON");
    assert_eq!(list["items"], json!([]), "nothing was created");
}

#[tokio::test]
async fn the_upload_url_is_built_from_app_url_not_from_the_host_header() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app_with(backend, &[("APP_URL", "https://advisor.example.com/base/")]).await;
        let who = tenant(&app).await;

        let response = app
            .request_in(reqwest::Method::POST, &who.token, who.organization, "/api/v1/videos")
            .header(reqwest::header::HOST, "attacker.example.com")
            .json(&json!({ "file_name": "clip.mp4", "content_type": "video/mp4", "size_bytes": 10 }))
            .send()
            .await
            .expect("response");

        assert_eq!(response.status(), 201, "{backend:?}");
        let created: Value = response.json().await.expect("JSON");
        let url = created["upload"]["url"].as_str().expect("url");
        assert!(url.starts_with("https://advisor.example.com/base/api/v1/videos/"), "{backend:?}: {url}");
        assert!(!url.contains("attacker"), "{backend:?}: {url}");
    }
}

#[tokio::test]
async fn a_local_upload_then_its_blob_created_event_makes_the_video_ready_with_facts_and_fitness() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app_on(backend).await;
        let who = tenant(&app).await;
        let bytes = padded_mp4();

        let response = create_video(
            &app,
            &who,
            json!({ "file_name": "Summer sale.mp4", "content_type": "video/mp4", "size_bytes": bytes.len() }),
        )
        .await;
        assert_eq!(response.status(), 201, "{backend:?}");
        assert!(response.headers()["location"].to_str().expect("ASCII").starts_with("/api/v1/videos/"));
        let created: Value = response.json().await.expect("JSON");
        assert_eq!(created["status"], "pending");
        assert_eq!(created["upload"]["headers"]["x-ms-blob-type"], "BlockBlob");
        assert!(created["upload"]["url"].as_str().expect("url").starts_with(&app.address), "served by this app");

        let put = put_upload(&created["upload"], bytes.clone()).await;
        assert_eq!(put.status(), 201, "{}", put.text().await.unwrap_or_default());
        let name = blob_name(&who, &created, "mp4");
        let store = app.state.blobs.as_ref().expect("store");
        let properties = store.properties("videos", &name).await.expect("the upload landed");
        assert_eq!(properties.length, bytes.len() as u64);

        let event =
            blob_created(&name, "file:///x", &properties.etag, properties.length, "00000000000000010000000000000001");
        let reply = invoke(&app, &event).await;
        assert_eq!(reply.status(), 200);
        let reply: Value = reply.json().await.expect("invocation reply");
        assert!(reply["Logs"][1].as_str().expect("log").contains("ready"), "{reply}");

        let video: Value = get_video(&app, &who, created["id"].as_str().expect("id")).await.json().await.expect("JSON");
        assert_eq!(video["status"], "ready", "{video}");
        let mut want = expected_for("landscape-faststart.mp4");
        want["size_bytes"] = json!(bytes.len());
        want["duration_seconds"] = json!(2.0);
        let wrong = mismatches(&video["probe"], &want);
        assert!(wrong.is_empty(), "{wrong:?}");
        let channels: Vec<&str> = video["fitness"]
            .as_array()
            .expect("fitness")
            .iter()
            .map(|c| c["channel"].as_str().expect("channel"))
            .collect();
        assert_eq!(channels, ["short_form", "product_page", "youtube"]);
        let short_form = &video["fitness"][0];
        assert_eq!(short_form["verdict"], "needs_fixes", "landscape 640×360 does not fit vertical feeds");
        let aspect = short_form["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["aspect"] == "aspect_ratio")
            .expect("aspect");
        assert_eq!(aspect["measured"], "640×360 displayed, ratio 1.7778");

        // The same event again (Event Grid redelivers) is a no-op.
        let again: Value = invoke(&app, &event).await.json().await.expect("reply");
        assert!(again["Logs"][1].as_str().expect("log").contains("already ready"), "{again}");
    }
}

#[tokio::test]
async fn twenty_concurrent_copies_of_one_blob_created_event_read_the_blob_once() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app_on(backend).await;
        let who = tenant(&app).await;
        let created: Value =
            create_video(&app, &who, json!({ "file_name": "a.mp4", "content_type": "video/mp4", "size_bytes": 100 }))
                .await
                .json()
                .await
                .expect("JSON");
        let name = blob_name(&who, &created, "mp4");
        let store = app.state.blobs.as_ref().expect("store");
        let written = store.write("videos", &name, fixture("vertical.mp4"), "video/mp4").await.expect("upload");
        let event = blob_created(&name, "file:///x", &written.etag, written.length, "0000000000000001");

        let replies = futures::future::join_all((0..20).map(|_| async {
            let reply = invoke(&app, &event).await;
            (reply.status().as_u16(), reply.text().await.expect("body"))
        }))
        .await;

        let analysed = replies.iter().filter(|(status, body)| *status == 200 && body.contains("bytes in")).count();
        assert_eq!(analysed, 1, "{backend:?}: exactly one copy read the blob: {replies:?}");
        for (status, body) in &replies {
            let fine =
                (*status == 200 && (body.contains("ready:") || body.contains("already ready"))) || *status == 500;
            assert!(fine, "{backend:?}: each other copy is a no-op or a retryable failure: {status} {body}");
            assert!(!body.contains("took over"), "{backend:?}: no false takeover: {body}");
        }
        let retried: Value = invoke(&app, &event).await.json().await.expect("reply");
        assert!(retried["Logs"][1].as_str().expect("log").contains("already ready"), "{backend:?}: {retried}");
        let video: Value = get_video(&app, &who, created["id"].as_str().expect("id")).await.json().await.expect("JSON");
        assert_eq!(video["status"], "ready", "{backend:?}");
    }
}

#[tokio::test]
async fn an_older_event_arriving_after_a_newer_upload_is_ignored() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let who = tenant(&app).await;
    let created: Value =
        create_video(&app, &who, json!({ "file_name": "a.mp4", "content_type": "video/mp4", "size_bytes": 100 }))
            .await
            .json()
            .await
            .expect("JSON");
    let name = blob_name(&who, &created, "mp4");
    let store = app.state.blobs.as_ref().expect("store");
    let first = store.write("videos", &name, fixture("corrupt.mp4"), "video/mp4").await.expect("first upload");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let second = store.write("videos", &name, fixture("vertical.mp4"), "video/mp4").await.expect("second upload");

    // The newer version's event arrives first, then the older one's.
    let newer = invoke(&app, &blob_created(&name, "file:///x", &second.etag, second.length, "0000000000000002")).await;
    let older = invoke(&app, &blob_created(&name, "file:///x", &first.etag, first.length, "0000000000000001")).await;

    assert_eq!(newer.status(), 200);
    assert_eq!(older.status(), 200, "a stale event completes: retrying it cannot help");
    let older: Value = older.json().await.expect("reply");
    assert!(older["Logs"][1].as_str().expect("log").contains("stale"), "{older}");
    let video: Value = get_video(&app, &who, created["id"].as_str().expect("id")).await.json().await.expect("JSON");
    assert_eq!(video["status"], "ready");
    assert_eq!(video["probe"]["display_height"], 640, "the newer (vertical) upload's facts: {video}");
}

#[tokio::test]
async fn broken_and_unsupported_uploads_end_failed_with_a_reason_and_a_completed_invocation() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let who = tenant(&app).await;
    for file in ["empty.mp4", "truncated.mp4", "corrupt.mp4", "not-a-video.mp4", "audio-only-amr.3gp"] {
        let extension = file.rsplit_once('.').map(|(_, e)| e).expect("extension");
        let content_type = if extension == "3gp" { "video/3gpp" } else { "video/mp4" };
        let created: Value =
            create_video(&app, &who, json!({ "file_name": file, "content_type": content_type, "size_bytes": 1 }))
                .await
                .json()
                .await
                .expect("JSON");
        let name = blob_name(&who, &created, extension);
        let written = app
            .state
            .blobs
            .as_ref()
            .expect("store")
            .write("videos", &name, fixture(file), content_type)
            .await
            .expect("write");

        let reply = invoke(&app, &blob_created(&name, "file:///x", &written.etag, written.length, "01")).await;

        assert_eq!(reply.status(), 200, "{file}: a file that cannot be analysed completes the invocation");
        let video: Value = get_video(&app, &who, created["id"].as_str().expect("id")).await.json().await.expect("JSON");
        assert_eq!(video["status"], "failed", "{file}: {video}");
        let reason = video["failure_reason"].as_str().unwrap_or_default();
        assert!(reason.starts_with("corrupt: ") || reason.starts_with("unsupported: "), "{file}: {reason}");
        assert!(video["probe"].is_null() && video["fitness"].is_null(), "{file}");
    }
}

#[tokio::test]
async fn a_storage_outage_fails_the_invocation_so_the_host_retries() {
    // A store whose endpoint refuses connections: signing still works, reading does not.
    let dead = shared::blob::ConnectionString::azurite_text(&format!(
        "http://127.0.0.1:{}/devstoreaccount1",
        tests::free_port()
    ));
    let app = spawn_app_with(Backend::Sqlite, &[("VIDEO_STORAGE_CONNECTION_STRING", &dead)]).await;
    let who = tenant(&app).await;
    let created: Value =
        create_video(&app, &who, json!({ "file_name": "a.mp4", "content_type": "video/mp4", "size_bytes": 10 }))
            .await
            .json()
            .await
            .expect("JSON");
    let name = blob_name(&who, &created, "mp4");

    let reply = invoke(&app, &blob_created(&name, "https://x/videos/a.mp4", "0x1", 10, "01")).await;

    assert!(reply.status().is_server_error(), "{}", reply.status());
    let video: Value = get_video(&app, &who, created["id"].as_str().expect("id")).await.json().await.expect("JSON");
    assert_eq!(video["status"], "analyzing", "left for the retry");
    let health: Value = app.get("/api/health").await.json().await.expect("JSON");
    assert_eq!(health["checks"]["blob_store"]["status"], "down", "{health}");
}

#[tokio::test]
async fn another_organization_cannot_see_or_upload_to_a_video() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let (owner, stranger) = (tenant(&app).await, tenant(&app).await);
    let created: Value =
        create_video(&app, &owner, json!({ "file_name": "a.mp4", "content_type": "video/mp4", "size_bytes": 10 }))
            .await
            .json()
            .await
            .expect("JSON");
    let id = created["id"].as_str().expect("id");

    assert_eq!(get_video(&app, &stranger, id).await.status(), 404);
    let tampered = created["upload"]["url"]
        .as_str()
        .expect("url")
        .replace(&owner.organization.to_string(), &stranger.organization.to_string());
    let mut upload = created["upload"].clone();
    upload["url"] = json!(tampered);
    assert_eq!(put_upload(&upload, b"x".to_vec()).await.status(), 403, "the signature covers the organization");
    let mut expired = created["upload"].clone();
    expired["url"] = json!(created["upload"]["url"].as_str().expect("url").replace("expires=", "expires=1"));
    assert_eq!(put_upload(&expired, b"x".to_vec()).await.status(), 403);
}

#[tokio::test]
async fn videos_list_newest_first_in_keyset_pages() {
    let app = spawn_app_on(Backend::Postgres).await;
    let who = tenant(&app).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let created: Value = create_video(
            &app,
            &who,
            json!({ "file_name": format!("{n}.mp4"), "content_type": "video/mp4", "size_bytes": 10 }),
        )
        .await
        .json()
        .await
        .expect("JSON");
        ids.push(created["id"].clone());
    }
    let page = |path: String| {
        let request = app.request_in(reqwest::Method::GET, &who.token, who.organization, &path);
        async move { request.send().await.expect("list").json::<Value>().await.expect("JSON") }
    };

    let first = page("/api/v1/videos?limit=2".into()).await;
    let cursor = first["next_cursor"].as_str().expect("more").to_owned();
    let second = page(format!("/api/v1/videos?limit=2&cursor={cursor}")).await;

    let seen: Vec<Value> = first["items"]
        .as_array()
        .expect("items")
        .iter()
        .chain(second["items"].as_array().expect("items"))
        .map(|v| v["id"].clone())
        .collect();
    ids.reverse();
    assert_eq!(seen, ids);
    assert_eq!(second["next_cursor"], Value::Null);
}

#[tokio::test]
async fn on_azurite_a_sas_upload_then_the_functions_host_event_makes_the_video_ready() {
    let connection = shared::blob::ConnectionString::azurite_text(&tests::azurite_url());
    let app = spawn_app_with(Backend::Postgres, &[("VIDEO_STORAGE_CONNECTION_STRING", &connection)]).await;
    let store = app.state.blobs.as_ref().expect("store");
    store.create_container("videos").await.expect("container");
    let who = tenant(&app).await;
    let bytes = fixture("moov-at-end.mp4");
    let health: Value = app.get("/api/health").await.json().await.expect("JSON");
    assert_eq!(health["checks"]["blob_store"]["status"], "ok", "{health}");

    let created: Value = create_video(
        &app,
        &who,
        json!({ "file_name": "clip.mp4", "content_type": "video/mp4", "size_bytes": bytes.len() }),
    )
    .await
    .json()
    .await
    .expect("JSON");
    let url = created["upload"]["url"].as_str().expect("url");
    assert!(url.starts_with(&tests::azurite_url()) && url.contains("sig="), "a SAS URL on Storage: {url}");
    assert!(url.contains("sp=cw"), "write-only: {url}");
    let put = put_upload(&created["upload"], bytes.clone()).await;
    assert_eq!(put.status(), 201, "{}", put.text().await.unwrap_or_default());
    let etag = put.headers()["etag"].to_str().expect("ASCII").to_owned();
    let name = blob_name(&who, &created, "mp4");
    let blob_url = url.split('?').next().expect("url").to_owned();

    let reply =
        invoke(&app, &blob_created(&name, &blob_url, &etag, bytes.len() as u64, "0000000000000000000000000000A001"))
            .await;

    assert_eq!(reply.status(), 200);
    let reply: Value = reply.json().await.expect("JSON");
    assert!(reply["Logs"][1].as_str().expect("log").contains("ready"), "{reply}");
    let video: Value = get_video(&app, &who, created["id"].as_str().expect("id")).await.json().await.expect("JSON");
    assert_eq!(video["status"], "ready", "{video}");
    let wrong = mismatches(&video["probe"], &expected_for("moov-at-end.mp4"));
    assert!(wrong.is_empty(), "{wrong:?}");
    let page =
        video["fitness"].as_array().expect("fitness").iter().find(|c| c["channel"] == "product_page").expect("page");
    let fast_start =
        page["checks"].as_array().expect("checks").iter().find(|c| c["aspect"] == "fast_start").expect("check");
    assert_eq!(fast_start["status"], "fail", "moov at the end must be fixed for web playback: {fast_start}");
}
