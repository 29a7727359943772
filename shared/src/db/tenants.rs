//! Organizations (tenants) and their members.

use uuid::Uuid;

use super::{Database, DbError, on_pool};
use crate::domain::{CurrencyCode, OrganizationName, ParseError, TimeZoneName};

/// A user's membership in one organization.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Membership {
    /// The organization.
    pub organization_id: Uuid,
    /// Its display name.
    pub name: String,
    /// The user's role in it, parsed when the row is read.
    #[sqlx(try_from = "String")]
    pub role: Role,
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
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Organization {
    /// Its id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// IANA time zone, parsed when the row is read (a stored name the database no longer knows fails the read).
    #[sqlx(try_from = "String")]
    pub timezone: TimeZoneName,
    /// ISO 4217 code, parsed when the row is read.
    #[sqlx(try_from = "String")]
    pub currency: CurrencyCode,
}

/// Member roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads and works with the organization's data.
    Member,
    /// Also manages members and stores.
    Admin,
}

impl Role {
    /// Reads a stored name.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match text {
            "member" => Ok(Self::Member),
            "admin" => Ok(Self::Admin),
            _ => Err(ParseError::new(format!("`{text}` is not one of member, admin"))),
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
        }
    }
}

impl TryFrom<String> for Role {
    type Error = ParseError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

/// The organization a request acts within, as [`Database::acting_membership`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActingMembership {
    /// The organization named (or the caller's only one), with the caller's role in it.
    One(Organization, Role),
    /// The caller is not a member of the organization named, or of any when none was named.
    NotAMember,
    /// None was named and the caller belongs to several.
    Several,
}

/// A member as listed to admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The user's id (JWT `sub`).
    pub user_id: Uuid,
    /// Their role.
    pub role: Role,
}

const ORGANIZATION_OF_MEMBER: &str = "SELECT o.id, o.name, o.timezone, o.currency, m.role FROM members m \
     JOIN organizations o ON o.id = m.organization_id WHERE m.user_id = $1 AND m.organization_id = $2";
const ACTING_MEMBERSHIP: &str = "SELECT o.id, o.name, o.timezone, o.currency, m.role FROM members m \
     JOIN organizations o ON o.id = m.organization_id WHERE m.user_id = $1 \
     AND ($2 IS NULL OR m.organization_id = $2) LIMIT 2";
const MEMBERS: &str = "SELECT user_id, role FROM members WHERE organization_id = $1 ORDER BY created_at, user_id";
const UPSERT_MEMBER: &str = "INSERT INTO members (organization_id, user_id, role) VALUES ($1, $2, $3) \
     ON CONFLICT (organization_id, user_id) DO UPDATE SET role = excluded.role";
const DELETE_MEMBER: &str = "DELETE FROM members WHERE organization_id = $1 AND user_id = $2";

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

    /// The organization `user_id` acts within: `named`, or their only one when `None` — one round trip, since every
    /// request asks.
    pub async fn acting_membership(&self, user_id: Uuid, named: Option<Uuid>) -> Result<ActingMembership, DbError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            organization: Organization,
            #[sqlx(try_from = "String")]
            role: Role,
        }
        let mut rows: Vec<Row> =
            on_pool!(self, |pool| sqlx::query_as(ACTING_MEMBERSHIP).bind(user_id).bind(named).fetch_all(pool).await?);
        Ok(match rows.len() {
            0 => ActingMembership::NotAMember,
            1 => {
                let row = rows.remove(0);
                ActingMembership::One(row.organization, row.role)
            }
            _ => ActingMembership::Several,
        })
    }

    /// The organization `organization_id` with `user_id`'s role in it, or `None` when they are not a member (or it
    /// does not exist: callers must not tell the two apart).
    pub async fn organization_of_member(
        &self,
        user_id: Uuid,
        organization_id: Uuid,
    ) -> Result<Option<(Organization, Role)>, DbError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            organization: Organization,
            #[sqlx(try_from = "String")]
            role: Role,
        }
        let row: Option<Row> = match self {
            Self::Postgres(pool) => {
                sqlx::query_as(ORGANIZATION_OF_MEMBER).bind(user_id).bind(organization_id).fetch_optional(pool).await?
            }
            Self::Sqlite(pool) => {
                sqlx::query_as(ORGANIZATION_OF_MEMBER).bind(user_id).bind(organization_id).fetch_optional(pool).await?
            }
        };
        Ok(row.map(|r| (r.organization, r.role)))
    }

    /// One organization by id. For work that is not a caller's request (timers): a request finds its organization
    /// through the caller's membership.
    pub async fn organization(&self, id: Uuid) -> Result<Option<Organization>, DbError> {
        const SQL: &str = "SELECT id, name, timezone, currency FROM organizations WHERE id = $1";
        Ok(on_pool!(self, |pool| sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?))
    }

    /// The members of an organization.
    pub async fn members(&self, organization_id: Uuid) -> Result<Vec<Member>, DbError> {
        let rows: Vec<(Uuid, String)> = match self {
            Self::Postgres(pool) => sqlx::query_as(MEMBERS).bind(organization_id).fetch_all(pool).await?,
            Self::Sqlite(pool) => sqlx::query_as(MEMBERS).bind(organization_id).fetch_all(pool).await?,
        };
        rows.into_iter()
            .map(|(user_id, role)| Ok(Member { user_id, role: Role::parse(&role).map_err(DbError::corrupt)? }))
            .collect()
    }

    /// Adds a member, or changes their role.
    pub async fn put_member(&self, organization_id: Uuid, member: &Member) -> Result<(), DbError> {
        let role = member.role.as_str();
        on_pool!(self, |pool| sqlx::query(UPSERT_MEMBER)
            .bind(organization_id)
            .bind(member.user_id)
            .bind(role)
            .execute(pool)
            .await
            .map(drop)?);
        Ok(())
    }

    /// Removes a member; `false` if they were not one.
    pub async fn remove_member(&self, organization_id: Uuid, user_id: Uuid) -> Result<bool, DbError> {
        let removed = match self {
            Self::Postgres(pool) => {
                sqlx::query(DELETE_MEMBER).bind(organization_id).bind(user_id).execute(pool).await?.rows_affected()
            }
            Self::Sqlite(pool) => {
                sqlx::query(DELETE_MEMBER).bind(organization_id).bind(user_id).execute(pool).await?.rows_affected()
            }
        };
        Ok(removed > 0)
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
