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
    ("GET", "/api/problems/{slug}"),
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
    ("GET", "/api/v1/exports"),
    ("POST", "/api/v1/exports"),
    ("GET", "/api/v1/exports/{id}"),
    ("GET", "/api/v1/exports/{id}/file"),
    ("POST", "/api/v1/analytics/events"),
    ("GET", "/api/v1/analytics/customers"),
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
    ("GET", "/api/v1/alerts/channels"),
    ("POST", "/api/v1/alerts/channels"),
    ("DELETE", "/api/v1/alerts/channels/{id}"),
    ("POST", "/api/v1/alerts/channels/{id}/test"),
    ("GET", "/api/v1/alerts/deliveries"),
    ("GET", "/api/v1/stores"),
    ("POST", "/api/v1/stores"),
    ("GET", "/api/v1/stores/{id}"),
    ("DELETE", "/api/v1/stores/{id}"),
    ("POST", "/api/v1/stores/{id}/sync"),
    ("GET", "/api/v1/stores/{id}/sync-jobs"),
    ("GET", "/api/v1/compliance/requests"),
    ("GET", "/api/v1/compliance/requests/{id}"),
    ("GET", "/api/v1/shopify/install"),
    ("GET", "/api/shopify/callback"),
    ("GET", "/api/v1/woocommerce/connect"),
    ("POST", "/api/woocommerce/callback"),
    ("POST", "/api/webhooks/shopify"),
    ("POST", "/api/webhooks/woocommerce"),
    ("GET", "/api/v1/app-config"),
    ("POST", "/api/v1/dev/sign-in"),
    ("GET", "/api/app/"),
    ("GET", "/api/app/assets/{file}"),
];

/// The one part of the router that is not the API, with the reason: every other route must be documented.
const NOT_THE_API: &[(&str, &str)] =
    &[("/api/app/", "the dashboard's page and assets: HTML, scripts and styles for a browser, not the API")];

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
    NOT_THE_API.iter().any(|(prefix, _)| path.starts_with(prefix))
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

    assert!(operations.len() >= 36, "too few operations: {operations:?}");
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
            assert!(!documented.contains(&key), "{method} {path} is documented: it is the API, not the dashboard");
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
        let signed = is_signed(operation);
        assert_eq!(
            authenticated || signed,
            responses.contains_key("401"),
            "{method} {path}: 401 goes with `security` or a signature header"
        );
    }
}

/// Platform webhooks are authenticated by a signature header over their raw body instead of a bearer token, and
/// Shopify's install callback by the `hmac` over its query.
fn is_signed(operation: &Value) -> bool {
    let signature = |p: &Value| match p["in"].as_str() {
        Some("header") => {
            ["X-Shopify-Hmac-Sha256", "X-WC-Webhook-Signature"].contains(&p["name"].as_str().unwrap_or(""))
        }
        Some("query") => p["name"] == "hmac",
        _ => false,
    };
    operation["parameters"].as_array().is_some_and(|ps| ps.iter().any(signature))
}

/// The statuses an operation's inputs make possible, each of which it must document.
#[tokio::test]
async fn every_operation_documents_the_statuses_its_inputs_can_cause() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let document = document(&app).await;

    for (method, path) in operations(&document) {
        let operation = &document["paths"][&path][method.to_ascii_lowercase()];
        let responses = operation["responses"].as_object().expect("responses");
        let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
        let mut expected: Vec<(&str, &str)> = Vec::new();
        if operation["security"].as_array().is_some_and(|s| !s.is_empty()) {
            expected.extend([("401", "a token"), ("429", "the rate limit"), ("503", "token keys and the database")]);
        }
        if parameters.iter().any(|p| p["name"] == "X-Organization-Id") {
            expected.extend([("400", "X-Organization-Id"), ("404", "an organization not the caller's")]);
        }
        if parameters.iter().any(|p| p["in"] == "path") {
            expected.extend([("400", "a path parameter"), ("404", "a path parameter")]);
        }
        if parameters.iter().any(|p| p["in"] == "query") {
            expected.push(("400", "a query parameter"));
        }
        if operation["requestBody"].is_object() {
            expected.extend([("400", "a body"), ("413", "a body")]);
            let content = operation["requestBody"]["content"].as_object().expect("content");
            // A JSON body read into a type (webhooks read raw bytes: their signature covers them).
            if content.contains_key("application/json") && content.len() == 1 && !is_signed(operation) {
                expected.extend([("415", "a JSON body"), ("422", "a JSON body")]);
            }
        }
        for (status, why) in expected {
            assert!(responses.contains_key(status), "{method} {path} can answer {status} ({why}) but does not say so");
        }
    }
}

#[tokio::test]
async fn operations_acting_within_an_organization_name_its_header() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let document = document(&app).await;

    let tenant_scoped = [
        "/api/v1/products",
        "/api/v1/videos",
        "/api/v1/exports",
        "/api/v1/analytics/",
        "/api/v1/advice",
        "/api/v1/alerts",
        "/api/v1/stores",
    ];
    for (method, path) in operations(&document) {
        if !tenant_scoped.iter().any(|prefix| path.starts_with(prefix))
            || path.ends_with("/content")
            || path.ends_with("/file")
        {
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
