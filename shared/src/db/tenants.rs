//! Organizations (tenants) and their members.

use serde::Serialize;
use uuid::Uuid;

use super::{Database, DbError};
use crate::domain::{CurrencyCode, OrganizationName, TimeZoneName};

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

/// What it takes to create an organization.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    /// Display name.
    pub name: OrganizationName,
    /// Where its days begin and end.
    pub timezone: TimeZoneName,
    /// The currency its money figures are in.
    pub currency: CurrencyCode,
}

/// A stored organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Organization {
    /// Its id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// IANA time zone.
    pub timezone: String,
    /// ISO 4217 code.
    pub currency: String,
}

const MEMBERSHIPS: &str = "SELECT o.id AS organization_id, o.name, m.role FROM members m \
     JOIN organizations o ON o.id = m.organization_id WHERE m.user_id = $1 ORDER BY o.name, o.id";
const INSERT_ORGANIZATION: &str = "INSERT INTO organizations (id, name, timezone, currency) VALUES ($1, $2, $3, $4) \
     RETURNING id, name, timezone, currency";
const INSERT_ADMIN: &str = "INSERT INTO members (organization_id, user_id, role) VALUES ($1, $2, 'admin')";

impl Database {
    /// Every organization `user_id` belongs to.
    pub async fn memberships(&self, user_id: Uuid) -> Result<Vec<Membership>, DbError> {
        Ok(match self {
            Self::Postgres(pool) => sqlx::query_as(MEMBERSHIPS).bind(user_id).fetch_all(pool).await?,
            Self::Sqlite(pool) => sqlx::query_as(MEMBERSHIPS).bind(user_id).fetch_all(pool).await?,
        })
    }

    /// Creates an organization with `admin` as its first admin, in one transaction.
    pub async fn create_organization(&self, admin: Uuid, new: &NewOrganization) -> Result<Organization, DbError> {
        let id = Uuid::new_v4();
        macro_rules! create {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await?;
                let organization: Organization = sqlx::query_as(INSERT_ORGANIZATION)
                    .bind(id)
                    .bind(new.name.as_ref())
                    .bind(new.timezone.as_ref())
                    .bind(new.currency.as_ref())
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(INSERT_ADMIN).bind(id).bind(admin).execute(&mut *tx).await?;
                tx.commit().await?;
                organization
            }};
        }
        Ok(match self {
            Self::Postgres(pool) => create!(pool),
            Self::Sqlite(pool) => create!(pool),
        })
    }

    /// Makes `user_id` an admin of an organization called `name`, creating it unless one of theirs has that name.
    /// Returns the organization's id. Used by `handler token --org` on development instances.
    pub async fn ensure_admin_of(&self, user_id: Uuid, name: &OrganizationName) -> Result<Uuid, DbError> {
        if let Some(existing) = self.memberships(user_id).await?.into_iter().find(|m| m.name == name.as_ref()) {
            return Ok(existing.organization_id);
        }
        let new = NewOrganization {
            name: name.clone(),
            timezone: TimeZoneName::default(),
            currency: CurrencyCode::default(),
        };
        Ok(self.create_organization(user_id, &new).await?.id)
    }
}
