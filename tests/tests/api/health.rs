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

/// As if this binary were newer than the schema: forgets the newest applied migration (keeping its row aside in
/// `forgotten_migration`) and returns its version.
async fn forget_the_newest_migration(db: &Database) -> i64 {
    let newest = "SELECT MAX(version) FROM _sqlx_migrations";
    let version: i64 = match db {
        Database::Postgres(pool) => sqlx::query_scalar(newest).fetch_one(pool).await,
        Database::Sqlite(pool) => sqlx::query_scalar(newest).fetch_one(pool).await,
    }
    .expect("newest");
    execute(
        db,
        &format!("CREATE TABLE forgotten_migration AS SELECT * FROM _sqlx_migrations WHERE version = {version}"),
    )
    .await;
    execute(db, &format!("DELETE FROM _sqlx_migrations WHERE version = {version}")).await;
    version
}

/// As `handler migrate` leaves it (the migration's tables are still there): the forgotten row back in place.
async fn restore_the_forgotten_migration(db: &Database) {
    execute(db, "INSERT INTO _sqlx_migrations SELECT * FROM forgotten_migration").await;
}

async fn execute(db: &Database, sql: &str) {
    match db {
        Database::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        Database::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test]
async fn health_is_503_and_names_the_pending_migration_when_the_schema_is_behind_on_both_backends() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let app = spawn_app_on(backend).await;
        let version = forget_the_newest_migration(&app.state.db).await;

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

/// `handler serve` on a database nobody migrated, on either backend: health names every migration; with
/// `AUTO_MIGRATE=true` the process applies them itself and is healthy.
#[tokio::test]
async fn serve_on_an_unmigrated_database_is_unhealthy_unless_auto_migrate_is_on() {
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/migrations/postgres"))
        .expect("migrations folder")
        .count();
    let data = tempfile::tempdir().expect("temporary folder");
    let runs = [
        (Backend::Postgres, "false", 503),
        (Backend::Postgres, "true", 200),
        (Backend::Sqlite, "false", 503),
        (Backend::Sqlite, "true", 200),
    ];
    for (run, (backend, auto_migrate, expected_status)) in runs.into_iter().enumerate() {
        let database_url = match backend {
            Backend::Postgres => tests::fresh_postgres_database().await,
            Backend::Sqlite => format!("sqlite://{}", data.path().join(format!("advisor-{run}.db")).display()),
        };
        let env = tests::app_env(database_url);
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

        assert_eq!(response.status(), expected_status, "{backend:?} AUTO_MIGRATE={auto_migrate}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        if expected_status == 503 {
            let detail = body["checks"]["schema"]["detail"].as_str().expect("detail");
            assert!(detail.starts_with(&format!("{migrations} migration(s) pending: 0001_tenants, ")), "{detail}");
        } else {
            assert_eq!(body["checks"]["schema"]["status"], "ok", "{body}");
        }
    }
}

/// On a schema behind the binary the triggers do no work (it would fail halfway on missing tables): they fail at once
/// with a 503 naming the pending migration, and run once it is applied.
#[tokio::test]
async fn triggers_refuse_to_run_naming_the_pending_migration_until_it_is_applied_on_both_backends() {
    let timer: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/functions-host/timer.json")).expect("the timer fixture");
    let blob_created: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/functions-host/blob-created.json")).expect("the fixture");
    let message: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/functions-host/queue-message.json")).expect("the fixture");
    let invocations = [
        ("SyncStores", &timer),
        ("SyncStore", &message),
        ("RefreshAdvice", &timer),
        ("RefreshOrganizationAdvice", &message),
        ("VideoUploaded", &blob_created),
    ];
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let app = spawn_app_on(backend).await;
        let version = forget_the_newest_migration(&app.state.db).await;

        for (function, invocation) in invocations {
            let response = app.post_json(&format!("/{function}"), invocation).await;

            assert_eq!(response.status(), 503, "{backend:?} {function}");
            assert_eq!(response.headers()["content-type"], "application/problem+json");
            let problem: serde_json::Value = response.json().await.expect("JSON");
            let detail = problem["detail"].as_str().expect("detail");
            assert!(detail.contains("schema is behind"), "{detail}");
            assert!(detail.contains(&format!("1 migration(s) pending: {version:04}_")), "{detail}");
            assert!(detail.contains("handler migrate"), "{detail}");
        }

        restore_the_forgotten_migration(&app.state.db).await;

        for function in ["SyncStores", "RefreshAdvice"] {
            let response = app.post_json(&format!("/{function}"), &timer).await;
            assert_eq!(response.status(), 200, "{backend:?} {function} once the migration is applied");
        }
        assert_eq!(app.get("/api/health").await.status(), 200, "{backend:?}");
    }
}
