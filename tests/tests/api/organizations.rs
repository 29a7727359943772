use serde_json::json;
use tests::{Backend, spawn_app_on};
use uuid::Uuid;

#[tokio::test]
async fn a_user_creates_an_organization_and_sees_it_on_both_backends() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let app = spawn_app_on(backend).await;
        let user = Uuid::new_v4();
        let token = app.token_for(user);

        let created = app
            .post_json_as(
                &token,
                "/api/v1/organizations",
                &json!({ "name": " Acme ", "timezone": "Europe/Paris", "currency": "eur" }),
            )
            .await;

        assert_eq!(created.status(), 201, "{backend:?}");
        let location = created.headers()["location"].to_str().expect("ASCII").to_owned();
        let organization: serde_json::Value = created.json().await.expect("JSON");
        assert_eq!(organization["name"], "Acme");
        assert_eq!(organization["timezone"], "Europe/Paris");
        assert_eq!(organization["currency"], "EUR");
        assert_eq!(location, format!("/api/v1/organizations/{}", organization["id"].as_str().expect("id")));

        let me: serde_json::Value = app.get_as(&token, "/api/v1/me").await.json().await.expect("JSON");
        assert_eq!(me["user_id"], user.to_string());
        assert_eq!(
            me["organizations"],
            json!([{ "organization_id": organization["id"], "name": "Acme", "role": "admin" }])
        );

        let stranger: serde_json::Value =
            app.get_as(&app.token_for(Uuid::new_v4()), "/api/v1/me").await.json().await.expect("JSON");
        assert_eq!(stranger["organizations"], json!([]), "{backend:?}: another user sees nothing");
    }
}

#[tokio::test]
async fn invalid_fields_are_422_problems_that_name_the_field() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let token = app.token_for(Uuid::new_v4());
    let cases = [
        (json!({ "name": "" }), "name", "blank name"),
        (json!({ "name": "Acme", "timezone": "Mars/Olympus" }), "timezone", "unknown zone"),
        (json!({ "name": "Acme", "currency": "EURO" }), "currency", "bad currency"),
        (json!({ "name": 42 }), "name", "wrong type"),
        (json!({ "name": "Acme", "owner": "me" }), "owner", "unknown field"),
        (json!({}), "name", "missing field"),
    ];
    for (body, field, why) in cases {
        let response = app.post_json_as(&token, "/api/v1/organizations", &body).await;
        assert_eq!(response.status(), 422, "{why}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{why}");
        let problem: serde_json::Value = response.json().await.expect("JSON");
        assert!(problem["detail"].as_str().expect("detail").contains(field), "{why}: {problem}");
    }
    let me: serde_json::Value = app.get_as(&token, "/api/v1/me").await.json().await.expect("JSON");
    assert_eq!(me["organizations"], json!([]), "nothing was stored");
}
