//! `POST /api/v1/organizations`: a signed-in user creates an organization and becomes its admin.

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::Deserialize;
use shared::{
    db::tenants::NewOrganization,
    domain::{CurrencyCode, OrganizationName, TimeZoneName},
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::AuthUser,
    error::ApiError,
    extract::AppJson,
    http::openapi::{
        BadRequest, PayloadTooLarge, TooManyRequests, Unauthorized, Unavailable, Unprocessable, UnsupportedMediaType,
        currency_code, display_name, time_zone,
    },
    http::views::tenancy::Organization,
    state::AppState,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateOrganization {
    /// Display name: 1 to 200 characters after trimming, no control characters.
    #[schema(schema_with = display_name)]
    name: OrganizationName,
    /// IANA time zone: days, weeks and months of every figure begin and end in it. Default `UTC`.
    #[serde(default)]
    #[schema(schema_with = time_zone)]
    timezone: TimeZoneName,
    /// ISO 4217 code of the organization's money. Default `USD`.
    #[serde(default)]
    #[schema(schema_with = currency_code)]
    currency: CurrencyCode,
}

/// Creates an organization; the caller becomes its admin.
#[utoipa::path(
    post,
    path = "/api/v1/organizations",
    tag = "organizations",
    security(("bearer" = [])),
    request_body = CreateOrganization,
    responses(
        (status = 201, description = "Created.", body = Organization,
            headers(("Location" = String, description = "The organization's URL."))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = Unprocessable),
        (status = 429, response = TooManyRequests),
        (status = 503, response = Unavailable),
    )
)]
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
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(Organization::from(organization))))
}
