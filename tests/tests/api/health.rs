use std::{process::Stdio, time::Duration};

use shared::db::Database;
use tests::{Backend, spawn_app_on};
use tokio::process::Command;

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

#[tokio::test]
async fn health_is_503_and_names_the_pending_migration_when_the_schema_is_behind_on_both_backends() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let app = spawn_app_on(backend).await;
        // As if this binary were newer than the schema: forget the newest migration.
        let forget = "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)";
        let newest = "SELECT MAX(version) FROM _sqlx_migrations";
        let version: i64 = match &app.state.db {
            Database::Postgres(pool) => {
                let version = sqlx::query_scalar(newest).fetch_one(pool).await.expect("newest");
                sqlx::query(forget).execute(pool).await.expect("forget it");
                version
            }
            Database::Sqlite(pool) => {
                let version = sqlx::query_scalar(newest).fetch_one(pool).await.expect("newest");
                sqlx::query(forget).execute(pool).await.expect("forget it");
                version
            }
        };

        let response = app.get("/api/health").await;

        assert_eq!(response.status(), 503, "{backend:?}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert_eq!(body["status"], "degraded", "{body}");
        assert_eq!(body["checks"]["database"]["status"], "ok", "{body}");
        assert_eq!(body["checks"]["schema"]["status"], "behind", "{body}");
        let detail = body["checks"]["schema"]["detail"].as_str().expect("detail");
        assert!(detail.contains(&format!("{version:04}_")), "{detail}");
        assert!(detail.contains("handler migrate"), "{detail}");
    }
}

/// `handler serve` on a database nobody migrated: health names every migration; with `AUTO_MIGRATE=true` the
/// process applies them itself and is healthy.
#[tokio::test]
async fn serve_on_an_unmigrated_database_is_unhealthy_unless_auto_migrate_is_on() {
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/migrations/postgres"))
        .expect("migrations folder")
        .count();
    for (auto_migrate, expected_status) in [("false", 503), ("true", 200)] {
        let env = tests::app_env(tests::fresh_postgres_database().await);
        let port = tests::free_port();
        let _child = Command::new(tests::handler_binary())
            .args(["serve", "--port", &port.to_string()])
            .envs(&env)
            .env("AUTO_MIGRATE", auto_migrate)
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the handler");
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/api/health");
        tests::wait_until_answering(&client, &url, Duration::from_secs(30)).await;

        let response = client.get(&url).send().await.expect("health answers");

        assert_eq!(response.status(), expected_status, "AUTO_MIGRATE={auto_migrate}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        if expected_status == 503 {
            let detail = body["checks"]["schema"]["detail"].as_str().expect("detail");
            assert!(detail.starts_with(&format!("{migrations} migration(s) pending: 0001_tenants, ")), "{detail}");
        } else {
            assert_eq!(body["checks"]["schema"]["status"], "ok", "{body}");
        }
    }
}
