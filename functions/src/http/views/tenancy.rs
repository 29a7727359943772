//! Organizations, memberships and members as the API shows them.

use serde::Serialize;
use shared::db::tenants;
use utoipa::ToSchema;
use uuid::Uuid;

use super::wire_enum;

wire_enum! {
    /// Member roles.
    pub enum Role mirrors tenants::Role {
        /// Reads and works with the organization's data.
        Member,
        /// Also manages members and stores.
        Admin,
    }
}

/// An organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct Organization {
    /// Its id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// IANA time zone: days, weeks and months of every figure begin and end in it.
    pub timezone: String,
    /// ISO 4217 code of its money.
    pub currency: String,
}

impl From<tenants::Organization> for Organization {
    fn from(organization: tenants::Organization) -> Self {
        Self {
            id: organization.id,
            name: organization.name,
            timezone: organization.timezone.to_string(),
            currency: organization.currency.to_string(),
        }
    }
}

/// A user's membership in one organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct Membership {
    /// The organization.
    pub organization_id: Uuid,
    /// Its display name.
    pub name: String,
    /// The user's role in it.
    pub role: Role,
}

impl From<tenants::Membership> for Membership {
    fn from(membership: tenants::Membership) -> Self {
        Self { organization_id: membership.organization_id, name: membership.name, role: membership.role.into() }
    }
}

/// A member as listed to admins.
#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    /// The user's id (JWT `sub`).
    pub user_id: Uuid,
    /// Their role.
    pub role: Role,
}

impl From<tenants::Member> for Member {
    fn from(member: tenants::Member) -> Self {
        Self { user_id: member.user_id, role: member.role.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::views::wire_name;

    #[test]
    fn the_wire_names_are_the_stored_names() {
        for role in Role::ALL {
            assert_eq!(tenants::Role::from(*role).as_str(), wire_name(role));
        }
    }
}
