//! Who is calling: [`AuthUser`], a caller whose bearer token checked out, and [`Tenant`], such a caller acting within
//! one of their organizations. Callers name the organization in `X-Organization-Id`, or leave it out when they belong
//! to exactly one. Not being a member looks exactly like the organization not existing (404), so ids reveal nothing.
//! Each is counted against the rate limit once it is proven: per user, per organization, or, for a refused token,
//! per client address.

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};
use shared::{
    auth::Principal,
    db::tenants::{ActingMembership, Organization, Role},
};
use utoipa::openapi::{
    Required,
    path::{Parameter, ParameterBuilder, ParameterIn},
    schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type},
};
use uuid::Uuid;

use crate::{
    error::ApiError,
    rate_limit::{Quota, RateKey},
    state::AppState,
};

/// The header naming the organization.
pub const ORGANIZATION_HEADER: &str = "x-organization-id";

/// The authenticated caller. Anonymous requests and bad tokens are both 401, with `WWW-Authenticate` (bad tokens add
/// `error="invalid_token"`); the reason a token was refused goes to the `audit` log only. When the signing keys
/// cannot be fetched the token can be neither accepted nor refused, so the answer is 503 and the client may retry.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Principal);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = authenticate(parts, state).await?;
        // Routes outside an organization are counted per user; `Tenant` counts per organization instead.
        if let Some(quota) = Quota::member(&state.settings.http) {
            state.limiter.charge(RateKey::User(user.user_id), quota, parts.uri.path())?;
        }
        Ok(Self(user))
    }
}

/// Checks the bearer token. A refused token is also counted against the client's address, like an anonymous call,
/// so guessing tokens is as slow as any other unauthenticated traffic.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("a bearer token is required".into()))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into()))?;
    match state.tokens.verify(token).await {
        Ok(principal) => Ok(principal),
        Err(error) if error.is_unavailable() => {
            tracing::warn!(target: "audit", event = "auth_unavailable", reason = %error, path = parts.uri.path(), "token not checked");
            Err(ApiError::Unavailable("tokens cannot be checked right now; retry shortly".into()))
        }
        Err(error) => {
            let client = state.client_address.of(parts);
            tracing::info!(target: "audit", event = "auth_failure", reason = %error, path = parts.uri.path(), client = ?client, "token rejected");
            if let Some(quota) = Quota::anonymous(&state.settings.http) {
                let key = client.map_or(RateKey::UnknownAddress, RateKey::Address);
                state.limiter.charge(key, quota, parts.uri.path())?;
            }
            Err(ApiError::InvalidToken("the bearer token is invalid or expired".into()))
        }
    }
}

/// An authenticated member acting within one of their organizations.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Who is calling.
    pub user: Principal,
    /// The organization (its time zone and currency shape every figure).
    pub organization: Organization,
    /// The caller's role in it.
    pub role: Role,
}

impl Tenant {
    /// The organization's id, for scoping queries.
    pub fn id(&self) -> Uuid {
        self.organization.id
    }

    /// Refuses non-admins, with an audit line: a member trying admin actions is worth knowing about.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Member => {
                tracing::info!(target: "audit", event = "admin_action_denied", organization = %self.organization.id, user = %self.user.user_id, "admin action refused to a member");
                Err(ApiError::Forbidden("this action needs the admin role".into()))
            }
        }
    }
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = authenticate(parts, state).await?;
        let named = match parts.headers.get(ORGANIZATION_HEADER) {
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|v| Uuid::parse_str(v.trim()).ok())
                    .ok_or_else(|| ApiError::bad_field(ORGANIZATION_HEADER, "must be an organization id (UUID)"))?,
            ),
            None => None,
        };
        let (organization, role) = match state.db.acting_membership(user.user_id, named).await? {
            ActingMembership::One(organization, role) => (organization, role),
            ActingMembership::NotAMember => match named {
                Some(organization_id) => {
                    tracing::info!(target: "audit", event = "tenant_access_denied", organization = %organization_id, user = %user.user_id, "not a member of the organization named");
                    return Err(ApiError::NotFound);
                }
                None => {
                    return Err(ApiError::NotFoundWith(
                        "you belong to no organization; create one with POST /api/v1/organizations".into(),
                    ));
                }
            },
            ActingMembership::Several => {
                return Err(ApiError::bad_field(ORGANIZATION_HEADER, "required: you belong to several organizations"));
            }
        };
        // Counted only now that membership is proven: naming another organization cannot spend its budget.
        if let Some(quota) = Quota::member(&state.settings.http) {
            state.limiter.charge(RateKey::Organization(organization.id), quota, parts.uri.path())?;
        }
        Ok(Self { user, organization, role })
    }
}

/// Documents what `Tenant` reads: the optional `X-Organization-Id` header. A handler that takes a `Tenant` lists it
/// in `params(Tenant)`, so the document names the header exactly where the extractor reads it.
impl utoipa::IntoParams for Tenant {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let uuid =
            ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
        vec![
            ParameterBuilder::new()
                .name("X-Organization-Id")
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .description(Some(
                    "The organization to act within; an organization the caller is not a member of is 404. A caller \
                     who belongs to exactly one may leave it out (it is then that one); for a caller in several it \
                     is 400 without it.",
                ))
                .schema(Some(uuid))
                .build(),
        ]
    }
}
