//! The database port. Production runs on PostgreSQL (Supabase); `handler dev` runs on a SQLite file. Queries are
//! written per backend behind one interface, so each backend uses its own strengths (PostgreSQL full-text search and
//! `SKIP LOCKED` leases, SQLite FTS5) while callers never branch on the backend.

use std::{str::FromStr, time::Duration};

use secrecy::ExposeSecret;
use sqlx::{
    ConnectOptions, PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::config::DatabaseSettings;

pub mod advice;
pub mod alerts;
pub mod analytics;
pub mod catalogue;
pub mod compliance;
pub mod costs;
pub mod customers;
pub mod exports;
pub mod onboarding;
pub mod orders;
pub mod product_figures;
pub mod rollups;
pub mod sync;
pub mod tenants;
mod tx;
pub mod videos;

/// Runs the same code on whichever pool `$db` holds. Queries are plain SQL that both backends accept (`$1`
/// placeholders included); where the SQL must differ, callers match on [`Database`] themselves.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Database::Postgres($pool) => $body,
            $crate::db::Database::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Now, truncated to whole microseconds: the precision PostgreSQL keeps, so a timestamp read back from either backend
/// equals the one written (keyset cursors depend on it).
pub fn now_micros() -> chrono::DateTime<chrono::Utc> {
    let now = chrono::Utc::now();
    chrono::DurationRound::duration_trunc(now, chrono::Duration::microseconds(1)).unwrap_or(now)
}

/// Supabase's transaction-mode pooler (Supavisor) listens here; session mode and direct connections use 5432.
const TRANSACTION_POOLER_PORT: u16 = 6543;

/// A database failure. Callers map it to their own layer's error; the text is for logs, not for clients.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// `DATABASE_URL` names no supported backend or cannot be parsed.
    #[error("DATABASE_URL is not a postgres:// or sqlite:// URL ({0})")]
    InvalidUrl(String),
    /// The driver reported an error.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl DbError {
    /// The database could not be reached or had no free connection in time: a retry later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Sqlx(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed))
    }

    /// A stored value that no longer parses into its domain type. Every value is parsed before it is written, so this is
    /// a corrupt row, reported as the driver's decode error, never read as a default.
    pub(crate) fn corrupt(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Sqlx(sqlx::Error::Decode(Box::new(error)))
    }

    /// A unique constraint refused the write: the row exists already (a concurrent writer got there first).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Self::Sqlx(sqlx::Error::Database(db)) if db.is_unique_violation())
    }
}

/// Which engine a [`Database`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Backend {
    /// The lower-case name used in health reports and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

/// A connection pool on one of the two backends. Cheap to clone.
#[derive(Debug, Clone)]
pub enum Database {
    /// PostgreSQL.
    Postgres(PgPool),
    /// SQLite.
    Sqlite(SqlitePool),
}

impl Database {
    /// Builds the pool without connecting: the first query connects. A cold instance answers the host's readiness
    /// probe at once and pays for a connection only when a request needs one.
    pub fn connect_lazy(settings: &DatabaseSettings) -> Result<Self, DbError> {
        let url = settings.url.expose_secret();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut options = PgConnectOptions::from_str(url).map_err(|e| DbError::InvalidUrl(redact(&e)))?;
            // A transaction-mode pooler hands each transaction a different server connection, where a statement
            // cached on "this" connection may not exist. Unnamed statements are re-prepared every time instead.
            if settings.transaction_pooler.unwrap_or(options.get_port() == TRANSACTION_POOLER_PORT) {
                options = options.statement_cache_capacity(0);
            }
            let options = options.log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .min_connections(0)
                .acquire_timeout(settings.acquire_timeout)
                .idle_timeout(Duration::from_secs(60))
                .connect_lazy_with(options);
            Ok(Self::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| DbError::InvalidUrl(redact(&e)))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .connect_lazy_with(options);
            Ok(Self::Sqlite(pool))
        } else {
            Err(DbError::InvalidUrl("unknown scheme".into()))
        }
    }

    /// The engine behind this pool.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Applies the embedded migrations for this backend. Safe to run concurrently: sqlx takes an advisory lock on
    /// PostgreSQL, and SQLite serialises writers.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Self::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
            Self::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// The embedded migrations this database has not applied yet. A binary running on an older schema fails on
    /// missing tables, so health reports these instead of `ok` and the triggers refuse to start their work.
    pub async fn pending_migrations(&self) -> Result<PendingMigrations, DbError> {
        const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success";
        let migrator = match self {
            Self::Postgres(_) => &POSTGRES_MIGRATIONS,
            Self::Sqlite(_) => &SQLITE_MIGRATIONS,
        };
        let applied: Vec<i64> = match on_pool!(self, |pool| sqlx::query_scalar(APPLIED).fetch_all(pool).await) {
            Ok(versions) => versions,
            // No bookkeeping table yet: a new database, nothing applied.
            Err(sqlx::Error::Database(error)) if is_missing_table(error.as_ref()) => Vec::new(),
            Err(error) => return Err(error.into()),
        };
        Ok(PendingMigrations(
            migrator
                .iter()
                .filter(|migration| {
                    !migration.migration_type.is_down_migration() && !applied.contains(&migration.version)
                })
                .map(|migration| format!("{:04}_{}", migration.version, migration.description.replace(' ', "_")))
                .collect(),
        ))
    }

    /// Closes every connection; waits for checked-out ones to come back.
    pub async fn close(&self) {
        match self {
            Self::Postgres(pool) => pool.close().await,
            Self::Sqlite(pool) => pool.close().await,
        }
    }
}

/// The embedded migrations a database has not applied, oldest first, named as their files are (`0015_performance`).
/// Displayed as the operator's next step: how many, which, and `handler migrate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMigrations(Vec<String>);

impl PendingMigrations {
    /// Whether the schema is as new as the binary.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for PendingMigrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} migration(s) pending: {}; run `handler migrate`", self.0.len(), self.0.join(", "))
    }
}

static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// PostgreSQL's `undefined_table` (42P01); SQLite reports "no such table" without a code of its own.
fn is_missing_table(error: &dyn sqlx::error::DatabaseError) -> bool {
    error.code().as_deref() == Some("42P01") || error.message().starts_with("no such table")
}

/// Parse errors may echo the URL, password included; keep only the error's kind.
fn redact(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Configuration(_) => "malformed connection URL".into(),
        other => other.to_string(),
    }
}
