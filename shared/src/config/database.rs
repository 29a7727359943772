//! Database settings: where the pool connects and how it behaves.

use super::*;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`: `postgres://…` or `sqlite://…`. Secret: it may hold a password.
    pub url: SecretString,
    /// `DATABASE_MAX_CONNECTIONS` (default 5): serverless instances are many and short-lived, so each keeps few.
    pub max_connections: u32,
    /// `DATABASE_ACQUIRE_TIMEOUT_SECS` (default 5): how long a request waits for a pooled connection.
    pub acquire_timeout: Duration,
    /// `DATABASE_TRANSACTION_POOLER`: the URL points at a transaction-mode pooler (PgBouncer, Supavisor), so
    /// statements must not be cached per connection. Defaults to true on port 6543, Supabase's pooler port.
    pub transaction_pooler: Option<bool>,
    /// `AUTO_MIGRATE` (default false): `serve` and Lambda apply pending migrations when they start. Meant for
    /// single-instance deployments; with many instances run `handler migrate` once before switching traffic.
    pub auto_migrate: bool,
}
