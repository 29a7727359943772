//! `POST /api/v1/organizations`: a signed-in user creates an organization and becomes its admin.

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::post,
};
use serde::Deserialize;
use shared::{
    db::tenants::NewOrganization,
    domain::{CurrencyCode, OrganizationName, TimeZoneName},
};

use crate::{
    error::ApiError,
    extract::{AppJson, AuthUser},
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/organizations", post(create))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOrganization {
    name: OrganizationName,
    #[serde(default)]
    timezone: TimeZoneName,
    #[serde(default)]
    currency: CurrencyCode,
}

#[tracing::instrument(name = "creating an organization", skip_all, fields(user = %user.user_id))]
async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    AppJson(body): AppJson<CreateOrganization>,
) -> Result<impl IntoResponse, ApiError> {
    let new = NewOrganization { name: body.name, timezone: body.timezone, currency: body.currency };
    let organization = state.db.create_organization(user.user_id, &new).await?;
    tracing::info!(target: "audit", event = "organization_created", organization = %organization.id, "organization created");
    let location = format!("/api/v1/organizations/{}", organization.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(organization)))
}
