//! Tenant isolation: a merchant never sees or changes another organization's data. Every attempt is 404, the same
//! answer as for an id that does not exist, so ids reveal nothing.

use reqwest::Method;
use serde_json::{Value, json};
use shared::catalogue::{ProductInput, ProductStatus, VariantInput};
use tests::{Backend, spawn_app_on};
use uuid::Uuid;

#[tokio::test]
async fn every_endpoint_refuses_another_organizations_data_with_404() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let app = spawn_app_on(backend).await;
        let alice = app.token_for(Uuid::new_v4());
        let mallory_id = Uuid::new_v4();
        let mallory = app.token_for(mallory_id);
        let victim = app.create_organization(&alice, "Victim", "UTC").await;
        let own = app.create_organization(&mallory, "Mallory", "UTC").await;
        let store = app.state.db.create_store(victim, "demo", "Demo").await.expect("store");
        let secret = ProductInput {
            external_id: "1".into(),
            title: "Secret prototype".into(),
            description: String::new(),
            vendor: String::new(),
            category: "secret".into(),
            status: ProductStatus::Active,
            variants: vec![VariantInput {
                external_id: "1".into(),
                sku: "S".into(),
                title: String::new(),
                price_minor: 100,
                cost_minor: None,
                inventory: 1,
            }],
        };
        let (_, ids) = app.state.db.upsert_products(victim, store, &[secret]).await.expect("upsert");
        let product = ids["1"];

        let attempts: Vec<(Method, String, Option<Uuid>, Option<Value>)> = vec![
            (Method::GET, format!("/api/v1/products/{product}"), Some(own), None),
            (Method::PATCH, format!("/api/v1/products/{product}"), Some(own), Some(json!({ "lead_time_days": 1 }))),
            (Method::GET, "/api/v1/products".into(), Some(victim), None),
            (Method::GET, format!("/api/v1/products/{product}"), Some(victim), None),
            (Method::GET, format!("/api/v1/organizations/{victim}/members"), None, None),
            (
                Method::POST,
                format!("/api/v1/organizations/{victim}/members"),
                None,
                Some(json!({ "user_id": mallory_id, "role": "admin" })),
            ),
            (Method::DELETE, format!("/api/v1/organizations/{victim}/members/{mallory_id}"), None, None),
            (Method::GET, format!("/api/v1/analytics/timeseries?metric=revenue&product={product}"), Some(own), None),
            (Method::GET, "/api/v1/analytics/timeseries?metric=revenue".into(), Some(victim), None),
            (Method::GET, "/api/v1/analytics/top-products".into(), Some(victim), None),
            (
                Method::POST,
                "/api/v1/analytics/events".into(),
                Some(victim),
                Some(
                    json!({ "events": [{ "client_id": "x", "kind": "view", "occurred_at": "2026-01-01T00:00:00Z" }] }),
                ),
            ),
            (Method::GET, "/api/v1/videos".into(), Some(victim), None),
        ];
        for (method, path, organization, body) in attempts {
            let mut request =
                app.client.request(method.clone(), format!("{}{path}", app.address)).bearer_auth(&mallory);
            if let Some(organization) = organization {
                request = request.header("x-organization-id", organization.to_string());
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.expect("response");
            assert_eq!(response.status(), 404, "{backend:?}: {method} {path} as {organization:?}");
        }

        let own_list: Value = app
            .request_in(Method::GET, &mallory, own, "/api/v1/products?q=secret")
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("JSON");
        assert_eq!(own_list["items"], json!([]), "{backend:?}: search stays inside the organization");
        let untouched = app.state.db.product(victim, product).await.expect("query").expect("product");
        assert_eq!(untouched.lead_time_days, None, "{backend:?}: nothing changed");
        let members = app.state.db.members(victim).await.expect("members");
        assert_eq!(members.len(), 1, "{backend:?}: nobody was added");
    }
}

#[tokio::test]
async fn the_organization_header_is_needed_only_with_several_organizations() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let token = app.token_for(Uuid::new_v4());
    let none = app.get_as(&token, "/api/v1/products").await;
    assert_eq!(none.status(), 404, "no organization yet");
    app.create_organization(&token, "One", "UTC").await;
    assert_eq!(app.get_as(&token, "/api/v1/products").await.status(), 200, "the only one is the default");
    app.create_organization(&token, "Two", "UTC").await;
    let ambiguous = app.get_as(&token, "/api/v1/products").await;
    assert_eq!(ambiguous.status(), 400);
    let problem: Value = ambiguous.json().await.expect("JSON");
    assert!(problem["detail"].as_str().expect("detail").contains("x-organization-id"), "{problem}");
    let malformed = app
        .client
        .get(format!("{}/api/v1/products", app.address))
        .bearer_auth(&token)
        .header("x-organization-id", "42")
        .send()
        .await
        .expect("response");
    assert_eq!(malformed.status(), 400);
}

#[tokio::test]
async fn only_admins_manage_members_and_the_last_admin_stays() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let admin_id = Uuid::new_v4();
    let admin = app.token_for(admin_id);
    let member_id = Uuid::new_v4();
    let member = app.token_for(member_id);
    let organization = app.create_organization(&admin, "Acme", "UTC").await;
    let members = format!("/api/v1/organizations/{organization}/members");

    let added = app.post_json_as(&admin, &members, &json!({ "user_id": member_id })).await;
    assert_eq!(added.status(), 201);
    assert_eq!(app.get_as(&member, &members).await.status(), 403, "members may not list members");
    let remove_admin = app
        .client
        .delete(format!("{}{members}/{admin_id}", app.address))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("response");
    assert_eq!(remove_admin.status(), 409, "the last admin cannot leave");
    let listed: Value = app.get_as(&admin, &members).await.json().await.expect("JSON");
    assert_eq!(listed["items"].as_array().expect("items").len(), 2);
    let removed = app
        .client
        .delete(format!("{}{members}/{member_id}", app.address))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("response");
    assert_eq!(removed.status(), 204);
    assert_eq!(app.get_as(&member, "/api/v1/products").await.status(), 404, "a removed member loses access");
}
