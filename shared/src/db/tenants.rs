//! Organizations (tenants) and their members.

use serde::Serialize;
use uuid::Uuid;

use super::{Database, DbError};

/// A user's membership in one organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Membership {
    /// The organization.
    pub organization_id: Uuid,
    /// Its display name.
    pub name: String,
    /// `member` or `admin`.
    pub role: String,
}

const MEMBERSHIPS: &str = "SELECT o.id AS organization_id, o.name, m.role FROM members m \
     JOIN organizations o ON o.id = m.organization_id WHERE m.user_id = $1 ORDER BY o.name, o.id";

impl Database {
    /// Every organization `user_id` belongs to.
    pub async fn memberships(&self, user_id: Uuid) -> Result<Vec<Membership>, DbError> {
        Ok(match self {
            Self::Postgres(pool) => sqlx::query_as(MEMBERSHIPS).bind(user_id).fetch_all(pool).await?,
            Self::Sqlite(pool) => sqlx::query_as(MEMBERSHIPS).bind(user_id).fetch_all(pool).await?,
        })
    }

    /// Makes `user_id` an admin of the organization called `name`, creating it if no organization of theirs has
    /// that name. Returns the organization's id. Used by `handler token --org` on development instances.
    pub async fn ensure_admin_of(&self, user_id: Uuid, name: &str) -> Result<Uuid, DbError> {
        if let Some(existing) = self.memberships(user_id).await?.into_iter().find(|m| m.name == name) {
            return Ok(existing.organization_id);
        }
        let id = Uuid::new_v4();
        const ORG: &str = "INSERT INTO organizations (id, name) VALUES ($1, $2)";
        const ADMIN: &str = "INSERT INTO members (organization_id, user_id, role) VALUES ($1, $2, 'admin')";
        match self {
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query(ORG).bind(id).bind(name).execute(&mut *tx).await?;
                sqlx::query(ADMIN).bind(id).bind(user_id).execute(&mut *tx).await?;
                tx.commit().await?;
            }
            Self::Sqlite(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query(ORG).bind(id).bind(name).execute(&mut *tx).await?;
                sqlx::query(ADMIN).bind(id).bind(user_id).execute(&mut *tx).await?;
                tx.commit().await?;
            }
        }
        Ok(id)
    }
}
