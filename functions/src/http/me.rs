//! `GET /api/v1/me`: who the bearer token speaks for, and the organizations they belong to.

use axum::{Json, Router, extract::State, routing::get};
use serde::Serialize;
use shared::db::tenants::Membership;
use uuid::Uuid;

use crate::{error::ApiError, extract::AuthUser, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/me", get(me))
}

#[derive(Serialize)]
struct Me {
    user_id: Uuid,
    email: Option<String>,
    is_super_admin: bool,
    organizations: Vec<Membership>,
}

#[tracing::instrument(name = "describing the caller", skip_all, fields(user = %user.user_id))]
async fn me(State(state): State<AppState>, AuthUser(user): AuthUser) -> Result<Json<Me>, ApiError> {
    let organizations = state.db.memberships(user.user_id).await?;
    Ok(Json(Me { user_id: user.user_id, email: user.email, is_super_admin: user.is_super_admin, organizations }))
}
