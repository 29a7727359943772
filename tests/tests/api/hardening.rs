//! Production hardening of the HTTP API: per-tenant rate limits (429 problem+json with `Retry-After`), the CORS
//! allow-list, security headers, per-route body limits (a 413 even clients that write the whole body first can read),
//! and a graceful shutdown that finishes in-flight requests.

use std::{process::Stdio, sync::Arc, time::Duration};

use axum::{Router, routing::get};
use base64::Engine;
use reqwest::{Method, StatusCode};
use tests::{Backend, Framing, TestApp, spawn_app_with};
use tokio::sync::{Notify, oneshot};
use uuid::Uuid;

/// An app where each organization and user gets a burst of 3, and each anonymous address a burst of 1, running as
/// in Azure (behind the front end that appends the caller's address to `X-Forwarded-For`).
async fn limited_app() -> TestApp {
    spawn_app_with(
        Backend::Sqlite,
        &[
            ("RATE_LIMIT_PER_MINUTE", "60"),
            ("RATE_LIMIT_BURST", "3"),
            ("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "6"),
            ("WEBSITE_INSTANCE_ID", "7b1f0e3c4d"),
        ],
    )
    .await
}

async fn member_of_new_organization(app: &TestApp, name: &str) -> (String, Uuid) {
    let token = app.token_for(Uuid::new_v4());
    let organization = app.create_organization(&token, name, "Europe/Paris").await;
    (token, organization)
}

async fn products(app: &TestApp, token: &str, organization: Uuid) -> reqwest::Response {
    app.request_in(Method::GET, token, organization, "/api/v1/products").send().await.expect("request")
}

#[tokio::test]
async fn an_organization_over_its_limit_gets_429_problem_json_while_another_is_unaffected() {
    let app = limited_app().await;
    let (busy_token, busy) = member_of_new_organization(&app, "Busy Shop").await;
    let (calm_token, calm) = member_of_new_organization(&app, "Calm Shop").await;

    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(products(&app, &busy_token, busy).await.status());
    }
    let limited = products(&app, &busy_token, busy).await;
    let other = products(&app, &calm_token, calm).await;

    assert_eq!(statuses, vec![StatusCode::OK; 3], "the burst passes");
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["content-type"], "application/problem+json");
    let retry_after: u64 = limited.headers()["retry-after"].to_str().expect("ASCII").parse().expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let problem: serde_json::Value = limited.json().await.expect("JSON");
    assert_eq!(problem["status"], 429);
    assert_eq!(other.status(), StatusCode::OK, "another tenant is unaffected");
}

#[tokio::test]
async fn naming_another_organization_does_not_spend_its_budget() {
    let app = limited_app().await;
    let (victim_token, victim) = member_of_new_organization(&app, "Victim Shop").await;
    let (attacker_token, _) = member_of_new_organization(&app, "Attacker Shop").await;

    let mut refused = Vec::new();
    for _ in 0..10 {
        refused.push(products(&app, &attacker_token, victim).await.status());
    }
    let mut own = Vec::new();
    for _ in 0..3 {
        own.push(products(&app, &victim_token, victim).await.status());
    }

    assert!(refused.iter().all(|s| *s == StatusCode::NOT_FOUND), "{refused:?}");
    assert_eq!(own, vec![StatusCode::OK; 3], "the victim still has its whole burst");
}

#[tokio::test]
async fn anonymous_callers_are_limited_by_the_address_the_front_end_appended() {
    let app = limited_app().await;
    let call = |forwarded: &'static str| {
        app.client.get(format!("{}/api/v1/me", app.address)).header("x-forwarded-for", forwarded).send()
    };

    let first = call("203.0.113.7:50123").await.expect("request").status();
    let second = call("203.0.113.7:50999").await.expect("request").status();
    let spoofed = call("198.51.100.1, 203.0.113.7:51000").await.expect("request").status();
    let elsewhere = call("203.0.113.8:40000").await.expect("request").status();

    assert_eq!(first, StatusCode::UNAUTHORIZED);
    assert_eq!(second, StatusCode::TOO_MANY_REQUESTS, "same address, another port");
    assert_eq!(spoofed, StatusCode::TOO_MANY_REQUESTS, "a client-written entry on the left changes nothing");
    assert_eq!(elsewhere, StatusCode::UNAUTHORIZED, "another address has its own budget");
}

#[tokio::test]
async fn refused_tokens_count_against_the_address_like_anonymous_calls() {
    let app = limited_app().await;
    let call = || {
        app.client
            .get(format!("{}/api/v1/me", app.address))
            .bearer_auth("not-a-token")
            .header("x-forwarded-for", "192.0.2.44")
            .send()
    };

    let first = call().await.expect("request").status();
    let second = call().await.expect("request").status();

    assert_eq!((first, second), (StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS));
}

#[tokio::test]
async fn health_checks_trigger_invocations_and_platform_webhooks_are_never_limited() {
    let app = limited_app().await;
    for _ in 0..10 {
        assert_eq!(app.get("/api/health").await.status(), StatusCode::OK);
        assert_eq!(app.get("/").await.status(), StatusCode::OK, "the host's readiness probe");
        let webhook = app.post_json("/api/webhooks/shopify", &serde_json::json!({ "id": 1 })).await.status();
        assert_ne!(webhook, StatusCode::TOO_MANY_REQUESTS, "webhooks are judged by their HMAC, not their rate");
    }
}

#[tokio::test]
async fn cors_answers_listed_origins_only() {
    let app =
        spawn_app_with(Backend::Sqlite, &[("CORS_ALLOWED_ORIGINS", "https://app.example.com, http://localhost:3000")])
            .await;
    let unconfigured = spawn_app_with(Backend::Sqlite, &[]).await;
    let preflight = |app: &TestApp, origin: &'static str| {
        app.client
            .request(Method::OPTIONS, format!("{}/api/v1/products", app.address))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization, x-organization-id")
            .send()
    };

    let allowed = preflight(&app, "https://app.example.com").await.expect("preflight");
    let other = preflight(&app, "https://evil.example.com").await.expect("preflight");
    let none = preflight(&unconfigured, "https://app.example.com").await.expect("preflight");

    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://app.example.com");
    let allowed_headers = allowed.headers()["access-control-allow-headers"].to_str().expect("ASCII");
    assert!(allowed_headers.contains("authorization") && allowed_headers.contains("x-organization-id"));
    assert!(!allowed.headers().contains_key("access-control-allow-credentials"), "tokens travel in headers");
    assert!(!other.headers().contains_key("access-control-allow-origin"), "an unlisted origin gets nothing");
    assert!(!none.headers().contains_key("access-control-allow-origin"), "no list, no cross-origin access");
}

#[tokio::test]
async fn every_response_carries_the_security_headers_errors_included() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;

    for response in [app.get("/api/health").await, app.get("/api/v1/nowhere").await, app.get("/api/v1/me").await] {
        let headers = response.headers();
        for (name, value) in [
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "no-referrer"),
            ("cache-control", "no-store"),
        ] {
            assert_eq!(headers.get(name).and_then(|v| v.to_str().ok()), Some(value), "{name} on {}", response.status());
        }
        assert!(headers["content-security-policy"].to_str().expect("ASCII").contains("frame-ancestors 'none'"));
        assert!(headers["strict-transport-security"].to_str().expect("ASCII").starts_with("max-age="));
    }
}

#[tokio::test]
async fn body_limits_follow_the_route() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    let token = app.token_for(Uuid::new_v4());
    let organization = app.create_organization(&token, "Limits", "Europe/Paris").await;
    let large_document = serde_json::json!({ "name": "x".repeat(100 * 1024), "timezone": "Europe/Paris" });
    let batch: Vec<serde_json::Value> = (0..1500)
        .map(|i| serde_json::json!({ "kind": "view", "product_id": Uuid::new_v4(), "occurred_at": "2026-01-01T00:00:00Z", "seq": i }))
        .collect();

    let document = app.post_json_as(&token, "/api/v1/organizations", &large_document).await;
    let chunked = tests::send_chunked(
        &app.address,
        "POST",
        "/api/v1/organizations",
        &[("authorization", &format!("Bearer {token}")), ("content-type", "application/json")],
        serde_json::to_string(&large_document).expect("JSON").as_bytes(),
    )
    .await;
    let events = app
        .request_in(Method::POST, &token, organization, "/api/v1/analytics/events")
        .json(&serde_json::json!({ "events": batch }))
        .send()
        .await
        .expect("request");

    assert_eq!(document.status(), StatusCode::PAYLOAD_TOO_LARGE, "a 100 KiB organization is refused up front");
    assert_eq!(document.headers()["content-type"], "application/problem+json");
    assert_eq!(chunked.status, 413, "and while reading when the length is not declared: {}", chunked.body);
    let authority = app.address.trim_start_matches("http://");
    let bearer = format!("Bearer {token}");
    let written_first = tests::post_whole_body_then_read(
        authority,
        "/api/v1/organizations",
        &[("authorization", &bearer)],
        10_000_000,
        Framing::Chunked,
    )
    .await
    .expect("an answer, not a reset");
    assert!(written_first.starts_with("HTTP/1.1 413"), "chunked, written whole before reading: {written_first}");
    assert!(written_first.to_ascii_lowercase().contains("connection: close"), "{written_first}");
    assert_ne!(events.status(), StatusCode::PAYLOAD_TOO_LARGE, "an event batch of the same size is read");
}

/// The routes the attack run found resetting clients that write a whole over-limit body before reading.
pub const OVER_LIMIT_ROUTES: [&str; 4] =
    ["/api/v1/advice/ask", "/api/v1/organizations", "/api/v1/analytics/events", "/api/v1/videos"];

/// Posts 10 MB without a token to each route as urllib would, and expects an answer with `Connection: close`, not a
/// reset: the 413 when the length is declared; when it is chunked the size is known only by reading, and the missing
/// token (401) is found first.
pub async fn over_limit_bodies_are_answered_413_to_clients_that_write_first(address: &str) {
    for (path, framing) in OVER_LIMIT_ROUTES.into_iter().flat_map(|p| [(p, Framing::Length), (p, Framing::Chunked)]) {
        let head = tests::post_whole_body_then_read(address, path, &[], 10_000_000, framing)
            .await
            .unwrap_or_else(|e| panic!("{path} ({framing:?}): the client saw {e} instead of an answer"));
        let status = if framing == Framing::Length { "HTTP/1.1 413" } else { "HTTP/1.1 401" };
        assert!(head.starts_with(status), "{path} ({framing:?}): {head}");
        assert!(head.to_ascii_lowercase().contains("connection: close"), "{path} ({framing:?}): {head}");
        assert!(head.contains("application/problem+json"), "{path} ({framing:?}): {head}");
    }
}

#[tokio::test]
async fn handler_serve_answers_413_to_a_client_that_writes_the_whole_body_first() {
    let data = tempfile::tempdir().expect("temporary folder");
    let port = tests::free_port();
    let _child = tokio::process::Command::new(tests::handler_binary())
        .arg("serve")
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("DATABASE_URL", format!("sqlite://{}", data.path().join("db.sqlite").display()))
        .env("SUPABASE_JWT_SECRET", "a-secret-for-the-body-limit-test-only")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the handler");
    let base = format!("http://127.0.0.1:{port}");
    tests::wait_until_answering(&reqwest::Client::new(), &format!("{base}/"), Duration::from_secs(30)).await;

    over_limit_bodies_are_answered_413_to_clients_that_write_first(&format!("127.0.0.1:{port}")).await;
}

/// A JWKS endpoint that holds every request until released.
async fn held_jwks() -> (String, Arc<Notify>, oneshot::Sender<()>) {
    let arrived = Arc::new(Notify::new());
    let (release, released) = oneshot::channel::<()>();
    let released = Arc::new(tokio::sync::Mutex::new(Some(released)));
    let signal = Arc::clone(&arrived);
    let router = Router::new().route(
        "/jwks",
        get(move || {
            let (signal, released) = (Arc::clone(&signal), Arc::clone(&released));
            async move {
                signal.notify_one();
                if let Some(released) = released.lock().await.take() {
                    let _ = released.await;
                }
                axum::Json(serde_json::json!({ "keys": [] }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/jwks", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, arrived, release)
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_and_refuses_new_connections() {
    let (jwks_url, arrived, release) = held_jwks().await;
    let data = tempfile::tempdir().expect("temporary folder");
    let port = tests::free_port();
    let mut child = tokio::process::Command::new(tests::handler_binary())
        .arg("serve")
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("DATABASE_URL", format!("sqlite://{}", data.path().join("db.sqlite").display()))
        .env("SUPABASE_JWKS_URL", &jwks_url)
        .env("ALLOW_PRIVATE_ENDPOINTS", "true")
        .env("SUPABASE_JWT_SECRET", "a-secret-for-the-shutdown-test-only")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the handler");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    tests::wait_until_answering(&client, &format!("{base}/"), Duration::from_secs(30)).await;
    // An ES256 token makes the app fetch the (held) key set: the request stays in flight until we release it.
    let encode = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    let token = format!(
        "{}.{}.{}",
        encode(r#"{"alg":"ES256","kid":"held","typ":"JWT"}"#),
        encode(r#"{"sub":"x"}"#),
        encode("signature")
    );
    let in_flight = tokio::spawn({
        let (client, base) = (client.clone(), base.clone());
        async move { client.get(format!("{base}/api/v1/me")).bearer_auth(token).send().await }
    });
    tokio::time::timeout(Duration::from_secs(30), arrived.notified()).await.expect("the request reached the JWKS");

    let pid = child.id().expect("pid").to_string();
    let kill = tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.expect("run kill");
    assert!(kill.success());
    let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
    let mut refused = false;
    for _ in 0..200 {
        if fresh.get(format!("{base}/api/health")).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = release.send(());
    let finished = tokio::time::timeout(Duration::from_secs(30), in_flight).await.expect("finishes").expect("task");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("exits").expect("status");

    assert!(refused, "new connections are refused once SIGTERM arrived");
    let response = finished.expect("the in-flight request got a whole response");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "answered as usual: no such key");
    assert!(status.success(), "a clean exit: {status:?}");
}
