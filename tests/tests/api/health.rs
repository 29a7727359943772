use tests::{Backend, spawn_app_on};

#[tokio::test]
async fn health_reports_version_and_each_dependency_on_both_backends() {
    for (backend, name) in [(Backend::Postgres, "postgres"), (Backend::Sqlite, "sqlite")] {
        let app = spawn_app_on(backend).await;

        let response = app.get("/api/health").await;

        assert_eq!(response.status(), 200, "{name}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["status"], "ok", "{name}: {body}");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(body["checks"]["database"]["status"], "ok", "{name}: {body}");
        assert_eq!(body["checks"]["database"]["detail"], name);
        assert_eq!(body["checks"]["auth"]["status"], "ok", "{name}: {body}");
    }
}

#[tokio::test]
async fn health_is_503_and_names_the_database_when_it_is_down() {
    let app = spawn_app_on(Backend::Sqlite).await;
    app.state.db.close().await;

    let response = app.get("/api/health").await;

    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["database"]["status"], "down", "{body}");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_callers() {
    let app = tests::spawn_app_on(Backend::Sqlite).await;

    let generated = app.get("/api/health").await;
    let kept = app.client.get(format!("{}/api/health", app.address)).header("x-request-id", "abc-123").send().await;

    let generated = generated.headers()["x-request-id"].to_str().expect("ASCII").to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
    assert_eq!(kept.expect("response").headers()["x-request-id"], "abc-123");
}
