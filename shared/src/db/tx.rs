//! Transactions on either backend, for writes that read before they write, and the macro that runs one body of
//! code on whichever backend a transaction is on.

use super::{Database, DbError};

/// A transaction on either backend, for writes that read before they write.
pub(super) enum WriteTx {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

/// Runs the same code on whichever transaction `$tx` (a `&mut WriteTx`) holds; `$conn` is the
/// `&mut Transaction`, so queries run on `&mut **$conn`.
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match &mut *$tx {
            $crate::db::tx::WriteTx::Postgres($conn) => $body,
            $crate::db::tx::WriteTx::Sqlite($conn) => $body,
        }
    };
}
pub(super) use on_tx;

impl WriteTx {
    pub(super) async fn commit(self) -> Result<(), DbError> {
        match self {
            Self::Postgres(tx) => tx.commit().await?,
            Self::Sqlite(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub(super) fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

impl Database {
    /// Starts a transaction that reads, then writes what it read. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first fails with `SQLITE_BUSY` when another writer
    /// commits in between, and busy-waiting cannot save it. PostgreSQL writers lock the rows they read instead.
    pub(super) async fn begin_write(&self) -> Result<WriteTx, DbError> {
        Ok(match self {
            Self::Postgres(pool) => WriteTx::Postgres(pool.begin().await?),
            Self::Sqlite(pool) => WriteTx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    /// Starts a transaction whose reads all see one snapshot (PostgreSQL `REPEATABLE READ`; a SQLite transaction
    /// always does), taking SQLite's write lock at once if it will write.
    pub(super) async fn begin_snapshot(&self, will_write: bool) -> Result<WriteTx, DbError> {
        Ok(match self {
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await?;
                WriteTx::Postgres(tx)
            }
            Self::Sqlite(pool) if will_write => WriteTx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Self::Sqlite(pool) => WriteTx::Sqlite(pool.begin().await?),
        })
    }
}
