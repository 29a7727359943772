//! `GET /api/problems/{slug}`: the page a problem's `type` URI names, from [`crate::problem_types`]. Anonymous and
//! static, so a developer can follow the URI from any error body.

use axum::{
    http::header,
    response::{IntoResponse, Response},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::openapi::{BadRequest, NotFound, TooManyRequests};
use crate::{error::ApiError, extract::AppPath, problem_types::ProblemType, state::AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(problem_type))
}

/// The page describing a problem type: its title, status and when it happens.
#[utoipa::path(
    get,
    path = "/api/problems/{slug}",
    tag = "meta",
    params(("slug" = String, Path, description = "The last segment of a problem's `type` URI.", example = "not-found")),
    responses(
        (status = 200, description = "A short page describing the problem type.", content_type = "text/html"),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 429, response = TooManyRequests),
    )
)]
async fn problem_type(AppPath(slug): AppPath<String>) -> Result<Response, ApiError> {
    let kind = ProblemType::by_slug(&slug).ok_or_else(|| ApiError::NotFoundWith(format!("no problem type {slug}")))?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page(kind)).into_response())
}

/// The page: only the registry's own text, which holds no markup, so nothing needs escaping.
fn page(kind: &ProblemType) -> String {
    let status = kind.status.map_or_else(|| "varies".to_owned(), |status| status.as_u16().to_string());
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body>\
         <h1>{title}</h1>\n<p>Problem type <code>{uri}</code>, HTTP status {status}.</p>\n<p>{happens}</p>\n\
         </body></html>\n",
        title = kind.title,
        uri = kind.uri(),
        happens = kind.happens,
    )
}
