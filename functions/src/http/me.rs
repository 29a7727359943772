//! `GET /api/v1/me`: who the bearer token speaks for, and the organizations they belong to.

use axum::{Json, extract::State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::AuthUser,
    error::ApiError,
    http::{
        openapi::{TooManyRequests, Unauthorized, Unavailable},
        views::tenancy::Membership,
    },
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}

#[derive(Serialize, ToSchema)]
struct Me {
    user_id: Uuid,
    email: Option<String>,
    is_super_admin: bool,
    organizations: Vec<Membership>,
}

/// Who the bearer token speaks for, and the organizations they belong to.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "organizations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller.", body = Me),
        (status = 401, response = Unauthorized),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
#[tracing::instrument(name = "describing the caller", skip_all, fields(user = %user.user_id))]
async fn me(State(state): State<AppState>, AuthUser(user): AuthUser) -> Result<Json<Me>, ApiError> {
    let organizations = state.db.memberships(user.user_id).await?.into_iter().map(Membership::from).collect();
    Ok(Json(Me { user_id: user.user_id, email: user.email, is_super_admin: user.is_super_admin, organizations }))
}
