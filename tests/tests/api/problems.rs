//! Every error is `application/problem+json`, whichever layer produced it.

use serde_json::json;
use tests::{Backend, TestApp, spawn_app_on};

async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status, "{body}");
    for member in ["type", "title", "detail"] {
        assert!(body[member].is_string(), "{member} missing: {body}");
    }
    body
}

async fn app() -> TestApp {
    spawn_app_on(Backend::Sqlite).await
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = app().await;
    let body = problem(app.get("/api/v1/nothing-here").await, 404).await;
    assert_eq!(body["detail"], "no route for GET /api/v1/nothing-here");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem_that_keeps_the_allow_header() {
    let app = app().await;
    let response = app.client.delete(format!("{}/api/health", app.address)).send().await.expect("response");
    let allow = response.headers().get("allow").cloned();
    problem(response, 405).await;
    assert_eq!(allow.expect("Allow header"), "GET,HEAD");
}

#[tokio::test]
async fn a_body_on_a_method_the_route_does_not_accept_is_a_405_not_a_413() {
    let app = app().await;
    let token = app.token_for(uuid::Uuid::new_v4());
    let ten_megabytes = vec![b' '; 10_000_000];
    for path in ["/api/v1/organizations", "/api/webhooks/shopify", "/api/webhooks/woocommerce"] {
        for body in [ten_megabytes.clone(), b"{}".to_vec()] {
            let response = app
                .client
                .get(format!("{}{path}", app.address))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("response");
            let allow = response.headers().get("allow").cloned();
            let problem = problem(response, 405).await;
            assert_eq!(allow.expect("Allow header"), "POST", "{path}");
            assert_eq!(problem["detail"], format!("{path} does not accept GET"));
        }
    }
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = app().await;
    let token = app.token_for(uuid::Uuid::new_v4());
    let response = app
        .client
        .post(format!("{}/api/v1/organizations", app.address))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .expect("response");
    problem(response, 400).await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let app = app().await;
    let token = app.token_for(uuid::Uuid::new_v4());
    let response = app
        .client
        .post(format!("{}/api/v1/organizations", app.address))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("name=Acme")
        .send()
        .await
        .expect("response");
    problem(response, 415).await;
}

#[tokio::test]
async fn an_oversized_body_is_a_413_problem_with_or_without_a_declared_length() {
    let app = app().await;
    let token = app.token_for(uuid::Uuid::new_v4());
    let huge = json!({ "name": "x".repeat(2 * 1024 * 1024) });
    let declared = app.post_json_as(&token, "/api/v1/organizations", &huge).await;
    problem(declared, 413).await;

    let chunked_body = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let chunked = tests::send_chunked(
        &app.address,
        "POST",
        "/api/v1/organizations",
        &[("authorization", &format!("Bearer {token}")), ("content-type", "application/json")],
        chunked_body.as_bytes(),
    )
    .await;
    assert_eq!(chunked.status, 413, "{chunked:?}");
    assert_eq!(chunked.header("content-type"), Some("application/problem+json"));
}

#[tokio::test]
async fn a_missing_or_bad_token_is_a_401_problem_with_a_bearer_challenge() {
    let app = app().await;
    // RFC 6750 §3.1: the `invalid_token` error code only when a bearer token was presented and refused.
    let cases = [
        (None, "Bearer", "no header"),
        (Some("Basic abc"), "Bearer", "not bearer"),
        (Some("Bearer not.a.jwt"), r#"Bearer error="invalid_token""#, "garbage"),
    ];
    for (header, challenge, why) in cases {
        let mut request = app.client.get(format!("{}/api/v1/me", app.address));
        if let Some(value) = header {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("response");
        assert_eq!(response.headers().get("www-authenticate").map(|v| v.to_str().ok()), Some(Some(challenge)), "{why}");
        problem(response, 401).await;
    }
}

#[tokio::test]
async fn every_problem_type_resolves_to_a_page_describing_it() {
    let app = app().await;
    for kind in functions::problem_types::PROBLEM_TYPES {
        let response = app.get(&kind.uri()).await;
        assert_eq!(response.status(), 200, "{}", kind.uri());
        assert_eq!(response.headers()["content-type"], "text/html; charset=utf-8", "{}", kind.uri());
        let page = response.text().await.expect("page");
        assert!(page.contains(&format!("<h1>{}</h1>", kind.title)), "{}: {page}", kind.uri());
        assert!(page.contains(kind.happens), "{}: {page}", kind.uri());
    }
    let unknown = problem(app.get("/api/problems/no-such-problem").await, 404).await;
    assert_eq!(unknown["detail"], "no problem type no-such-problem");
}

#[tokio::test]
async fn the_type_of_an_answered_problem_is_a_registered_page() {
    let app = app().await;
    let answered = [
        problem(app.get("/api/v1/nothing-here").await, 404).await,
        problem(app.get("/api/v1/me").await, 401).await,
        problem(app.client.delete(format!("{}/api/health", app.address)).send().await.expect("response"), 405).await,
    ];
    for body in answered {
        let uri = body["type"].as_str().expect("type");
        let slug = uri.strip_prefix("/api/problems/").unwrap_or_else(|| panic!("{uri} is not below /api/problems/"));
        let kind = functions::problem_types::ProblemType::by_slug(slug).unwrap_or_else(|| panic!("{uri} unregistered"));
        assert_eq!(body["title"], kind.title, "{body}");
        let page = app.get(uri).await;
        assert_eq!(page.status(), 200, "{uri}");
    }
}
