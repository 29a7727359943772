//! `GET /api/openapi.json` describes the router exactly: every documented operation is routed, and every route the
//! router serves is documented.

use std::collections::BTreeSet;

use serde_json::Value;
use tests::{Backend, TestApp, spawn_app_on};

/// Every route the router serves, as `(method, path template)`. A route added to the router belongs here, and then
/// the tests below hold it to the document.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/openapi.json"),
    ("GET", "/api/health"),
    ("GET", "/api/v1/me"),
    ("POST", "/api/v1/organizations"),
    ("GET", "/api/v1/organizations/{organization_id}/members"),
    ("POST", "/api/v1/organizations/{organization_id}/members"),
    ("DELETE", "/api/v1/organizations/{organization_id}/members/{user_id}"),
    ("GET", "/api/v1/products"),
    ("GET", "/api/v1/products/categories"),
    ("GET", "/api/v1/products/{id}"),
    ("PATCH", "/api/v1/products/{id}"),
    ("GET", "/api/v1/videos"),
    ("POST", "/api/v1/videos"),
    ("GET", "/api/v1/videos/{id}"),
    ("PUT", "/api/v1/videos/{id}/content"),
    ("POST", "/api/v1/analytics/events"),
    ("GET", "/api/v1/analytics/timeseries"),
    ("GET", "/api/v1/analytics/overview"),
    ("GET", "/api/v1/analytics/top-products"),
    ("GET", "/api/v1/advice"),
    ("GET", "/api/v1/advice/summary"),
    ("POST", "/api/v1/advice/ask"),
    ("POST", "/api/v1/advice/refresh"),
    ("GET", "/api/v1/advice/{id}"),
    ("POST", "/api/v1/advice/{id}/status"),
    ("POST", "/api/v1/advice/{id}/snooze"),
    ("GET", "/api/v1/stores"),
    ("POST", "/api/v1/stores"),
    ("GET", "/api/v1/stores/{id}"),
    ("DELETE", "/api/v1/stores/{id}"),
    ("POST", "/api/v1/stores/{id}/sync"),
    ("GET", "/api/v1/stores/{id}/sync-jobs"),
    ("POST", "/api/webhooks/shopify"),
    ("POST", "/api/webhooks/woocommerce"),
    ("GET", "/api/v1/app-config"),
    ("POST", "/api/v1/dev/sign-in"),
    ("GET", "/api/app/"),
    ("GET", "/api/app/assets/{file}"),
];

/// Routes served but not yet described, each with the reason. Documenting one means deleting its row here.
const UNDOCUMENTED: &[(&str, &str)] = &[
    ("/api/v1/advice", "advice: documentation follows in its own change"),
    ("/api/v1/stores", "stores: documentation follows in its own change"),
    ("/api/webhooks/", "platform webhooks: documentation follows in its own change"),
    ("/api/app/", "the dashboard's page and assets: HTML, scripts and styles, not the API"),
];

const HTTP_METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn document(app: &TestApp) -> Value {
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.expect("the document is JSON")
}

/// Every `(METHOD, path)` the document describes.
fn operations(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("`paths` is an object");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("a path item is an object");
            item.keys()
                .filter(|key| HTTP_METHODS.contains(&key.as_str()))
                .map(|method| (method.to_ascii_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn is_undocumented(path: &str) -> bool {
    UNDOCUMENTED.iter().any(|(prefix, _)| path.starts_with(prefix))
}

/// A concrete URL path for a template: every `{parameter}` becomes the nil UUID.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|segment| if segment.starts_with('{') { uuid::Uuid::nil().to_string() } else { segment.to_owned() })
        .collect::<Vec<_>>()
        .join("/")
}

/// Sends `method path` with an empty JSON body and no credentials, and fails unless a route answered: not the
/// fallback's 404 (`no route for …`) and not 405.
async fn assert_routed(app: &TestApp, method: &str, template: &str) {
    let path = concrete(template);
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let response = app
        .client
        .request(method.clone(), format!("{}{path}", app.address))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("response");
    let status = response.status();
    assert_ne!(status, 405, "{method} {template}: the router has the path but not the method");
    let body: Value = response.json().await.unwrap_or_default();
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(!detail.starts_with("no route"), "{method} {template}: the router has no such route ({status}, {body})");
}

#[tokio::test]
async fn the_document_is_openapi_3_for_this_version() {
    let app = spawn_app_on(Backend::Sqlite).await;

    let document = document(&app).await;

    let openapi = document["openapi"].as_str().expect("`openapi` names the version");
    assert!(openapi.starts_with("3."), "OpenAPI 3.x, not {openapi}");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"), "the crate version");
    assert!(document["info"]["title"].is_string(), "info.title is required");
    let bearer = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http", "{bearer}");
    assert_eq!(bearer["scheme"], "bearer", "{bearer}");
    assert!(document["components"]["schemas"]["Problem"].is_object(), "the problem+json schema");
}

/// Every `$ref` in `value`, wherever it is nested.
fn references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                found.insert(reference.clone());
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_reference_in_the_document_resolves() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let document = document(&app).await;

    let mut found = BTreeSet::new();
    references(&document, &mut found);

    assert!(found.contains("#/components/schemas/Problem"), "{found:?}");
    for reference in found {
        let pointer = reference.strip_prefix('#').expect("a local reference");
        assert!(document.pointer(pointer).is_some(), "{reference} points at nothing");
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let document = document(&app).await;

    let operations = operations(&document);

    assert!(operations.len() >= 17, "too few operations: {operations:?}");
    for (method, path) in &operations {
        assert_routed(&app, method, path).await;
    }
}

#[tokio::test]
async fn every_route_is_served_and_documented() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let documented = operations(&document(&app).await);

    for (method, path) in ROUTES {
        assert_routed(&app, method, path).await;
        let key = ((*method).to_owned(), (*path).to_owned());
        if is_undocumented(path) {
            assert!(!documented.contains(&key), "{method} {path} is documented now: delete its UNDOCUMENTED row");
        } else {
            assert!(documented.contains(&key), "{method} {path} is routed but not in the document");
        }
    }
    let listed: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    let unlisted: Vec<_> = documented.difference(&listed).collect();
    assert!(unlisted.is_empty(), "documented but missing from ROUTES: {unlisted:?}");
}

#[tokio::test]
async fn every_operation_documents_its_errors_as_problems() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let document = document(&app).await;

    for (method, path) in operations(&document) {
        let operation = &document["paths"][&path][method.to_ascii_lowercase()];
        let responses = operation["responses"].as_object().expect("responses");
        for (status, response) in responses.iter().filter(|(status, _)| status.starts_with('4')) {
            let reference = response["$ref"].as_str().unwrap_or_default();
            assert!(
                reference.starts_with("#/components/responses/"),
                "{method} {path} {status}: a shared problem response, not {response}"
            );
            let name = reference.trim_start_matches("#/components/responses/");
            let shared = &document["components"]["responses"][name]["content"]["application/problem+json"];
            assert_eq!(shared["schema"]["$ref"], "#/components/schemas/Problem", "{name}");
        }
        let authenticated = operation["security"].as_array().is_some_and(|s| !s.is_empty());
        assert_eq!(authenticated, responses.contains_key("401"), "{method} {path}: 401 goes with `security`");
    }
}

#[tokio::test]
async fn operations_acting_within_an_organization_name_its_header() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let document = document(&app).await;

    let tenant_scoped = ["/api/v1/products", "/api/v1/videos", "/api/v1/analytics/"];
    for (method, path) in operations(&document) {
        if !tenant_scoped.iter().any(|prefix| path.starts_with(prefix)) || path.ends_with("/content") {
            continue;
        }
        let parameters = document["paths"][&path][method.to_ascii_lowercase()]["parameters"].as_array().cloned();
        let header = parameters
            .unwrap_or_default()
            .into_iter()
            .find(|p| p["name"] == "X-Organization-Id" && p["in"] == "header");
        assert!(header.is_some(), "{method} {path} does not document X-Organization-Id");
    }
}
