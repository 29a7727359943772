//! `GET/POST /api/v1/organizations/{id}/members`, `DELETE /api/v1/organizations/{id}/members/{user_id}`: admins
//! manage who belongs to their organization. The organization in the path must be one the caller administers;
//! anything else is 404.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use shared::db::tenants::{self, Role};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::AuthUser,
    error::ApiError,
    extract::{AppJson, AppPath},
    http::openapi::{
        BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, TooManyRequests, Unauthorized, Unavailable,
        Unprocessable, UnsupportedMediaType,
    },
    http::views::tenancy::{self as wire, Member},
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, add)).routes(routes!(remove))
}

#[derive(Serialize, ToSchema)]
struct Members {
    items: Vec<Member>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewMember {
    /// The user's id (their JWT `sub`).
    user_id: Uuid,
    /// Default `member`.
    #[serde(default = "default_role")]
    role: wire::Role,
}

fn default_role() -> wire::Role {
    wire::Role::Member
}

/// The caller must be an admin of the organization; a non-member gets the same 404 as a missing organization.
async fn as_admin(state: &AppState, user: Uuid, organization_id: Uuid) -> Result<(), ApiError> {
    match state.db.organization_of_member(user, organization_id).await? {
        None => {
            tracing::info!(target: "audit", event = "tenant_access_denied", organization = %organization_id, user = %user, "not a member of the organization named");
            Err(ApiError::NotFound)
        }
        Some((_, Role::Member)) => {
            tracing::info!(target: "audit", event = "admin_action_denied", organization = %organization_id, user = %user, "member management refused to a member");
            Err(ApiError::Forbidden("managing members needs the admin role".into()))
        }
        Some((_, Role::Admin)) => Ok(()),
    }
}

/// The organization's members (admins only).
#[utoipa::path(
    get,
    path = "/api/v1/organizations/{organization_id}/members",
    tag = "organizations",
    security(("bearer" = [])),
    params(("organization_id" = Uuid, Path, description = "An organization the caller administers.")),
    responses(
        (status = 200, description = "Every member; `next_cursor` is always null.", body = Members),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "listing members", skip_all, fields(organization = %organization_id))]
async fn list(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(organization_id): AppPath<Uuid>,
) -> Result<Json<Members>, ApiError> {
    as_admin(&state, user.user_id, organization_id).await?;
    let items = state.db.members(organization_id).await?.into_iter().map(Member::from).collect();
    Ok(Json(Members { items, next_cursor: None }))
}

/// Adds a member or changes a member's role (admins only). Demoting the last admin is a 409.
#[utoipa::path(
    post,
    path = "/api/v1/organizations/{organization_id}/members",
    tag = "organizations",
    security(("bearer" = [])),
    params(("organization_id" = Uuid, Path, description = "An organization the caller administers.")),
    request_body = NewMember,
    responses(
        (status = 201, description = "The member as stored.", body = Member),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "adding a member", skip_all, fields(organization = %organization_id))]
async fn add(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath(organization_id): AppPath<Uuid>,
    AppJson(body): AppJson<NewMember>,
) -> Result<(StatusCode, Json<Member>), ApiError> {
    as_admin(&state, user.user_id, organization_id).await?;
    let member = tenants::Member { user_id: body.user_id, role: body.role.into() };
    if member.role == Role::Member && is_last_admin(&state, organization_id, member.user_id).await? {
        return Err(ApiError::Conflict("an organization keeps at least one admin".into()));
    }
    state.db.put_member(organization_id, &member).await?;
    tracing::info!(target: "audit", event = "member_added", organization = %organization_id, member = %member.user_id, role = member.role.as_str(), by = %user.user_id, "member added");
    Ok((StatusCode::CREATED, Json(Member::from(member))))
}

/// Removes a member (admins only). Removing the last admin is a 409.
#[utoipa::path(
    delete,
    path = "/api/v1/organizations/{organization_id}/members/{user_id}",
    tag = "organizations",
    security(("bearer" = [])),
    params(
        ("organization_id" = Uuid, Path, description = "An organization the caller administers."),
        ("user_id" = Uuid, Path, description = "The member to remove."),
    ),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "removing a member", skip_all, fields(organization = %organization_id))]
async fn remove(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppPath((organization_id, member)): AppPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    as_admin(&state, user.user_id, organization_id).await?;
    if is_last_admin(&state, organization_id, member).await? {
        return Err(ApiError::Conflict("an organization keeps at least one admin".into()));
    }
    if !state.db.remove_member(organization_id, member).await? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(target: "audit", event = "member_removed", organization = %organization_id, member = %member, by = %user.user_id, "member removed");
    Ok(StatusCode::NO_CONTENT)
}

async fn is_last_admin(state: &AppState, organization_id: Uuid, user: Uuid) -> Result<bool, ApiError> {
    let admins: Vec<Uuid> = state
        .db
        .members(organization_id)
        .await?
        .into_iter()
        .filter(|m| m.role == Role::Admin)
        .map(|m| m.user_id)
        .collect();
    Ok(admins == [user])
}
