//! `GET /api/openapi.json`: the OpenAPI document of the REST API. Each resource module registers its handlers with
//! `utoipa_axum::routes!`, which routes a handler and documents it in the same call, so the document and the router
//! come from one list. This module holds what the operations share: the document's skeleton, the `bearer` security
//! scheme and the problem+json error responses that operations list by status (`response = Unauthorized`).

use std::sync::LazyLock;

use axum::http::header;
use utoipa::{
    Modify, OpenApi, ToResponse,
    openapi::{
        ContentBuilder, Ref, RefOr, Response, ResponseBuilder,
        header::HeaderBuilder,
        schema::{Object, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    error::{FieldError, PROBLEM_JSON, Problem},
    state::AppState,
};

/// The document's skeleton; `http::documented()` fills in the paths.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Retail AI Advisor API",
        description = "Catalogue, analytics, videos and advice for a retail organization. Authenticate with a \
                       Supabase access token (`Authorization: Bearer …`); act within an organization with \
                       `X-Organization-Id` (optional for a caller who belongs to exactly one). Every error is \
                       `application/problem+json` (RFC 9457). Lists answer `{\"items\": [...], \"next_cursor\": …}`; \
                       pass `next_cursor` back as `cursor` for the next page."
    ),
    modifiers(&BearerScheme),
    components(
        schemas(Problem, FieldError),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            Unprocessable,
            TooManyRequests,
            Unavailable
        )
    )
)]
pub struct ApiDoc;

/// What every free-text name or credential field takes: no control characters and at least one character that is
/// not white space (values are trimmed).
const PRINTABLE_TEXT: &str =
    r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";

/// A display name (an organization's, a store's): 1 to 200 characters after trimming, no control characters.
pub fn display_name() -> Object {
    printable(200, false)
}

/// [`display_name`], or `null` for the default.
pub fn display_name_or_null() -> Object {
    printable(200, true)
}

/// A credential pasted from a platform (token, key, secret): 1 to 512 characters after trimming, no control
/// characters.
pub fn credential_text() -> Object {
    printable(512, false)
}

/// [`credential_text`], or `null` for none.
pub fn credential_text_or_null() -> Object {
    printable(512, true)
}

/// An event's client id: 1 to 100 characters, none of them control characters (kept as given, not trimmed).
pub fn client_id() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(100))
        .pattern(Some(r"^[^\u0000-\u001F\u007F-\u009F]+$"))
        .build()
}

/// An ISO 4217 currency code: three letters (upper-cased when stored).
pub fn currency_code() -> Object {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[A-Za-z]{3}$")).examples(["GBP"]).build()
}

/// An IANA time zone name, one of those the server knows.
pub fn time_zone() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
        .examples(["Europe/London"])
        .build()
}

/// A metric's figure: money as a decimal string, a count or a rate as a number, `null` when undefined.
pub fn figure() -> Schema {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^-?[0-9]+(\.[0-9]+)?$")))
        .item(ObjectBuilder::new().schema_type(Type::Number))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build()
        .into()
}

fn printable(max_length: usize, nullable: bool) -> Object {
    let kind = if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { SchemaType::new(Type::String) };
    ObjectBuilder::new()
        .schema_type(kind)
        .min_length(Some(1))
        .max_length(Some(max_length))
        .pattern(Some(PRINTABLE_TEXT))
        .build()
}

/// Adds the `bearer` scheme that authenticated operations name in `security(("bearer" = []))`.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "A Supabase access token: ES256/RS256 (checked against the project's JWKS) or legacy HS256, \
                 audience `authenticated`. `handler token` prints one for the dev host.",
            ))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// A problem+json response referencing the `Problem` schema, with response headers by name.
fn problem(description: &str, headers: &[(&str, &str)]) -> RefOr<Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
    let mut response = ResponseBuilder::new().description(description).content(PROBLEM_JSON, content);
    for (name, about) in headers {
        let header =
            HeaderBuilder::new().schema(ObjectBuilder::new().schema_type(Type::String)).description(Some(*about));
        response = response.header(*name, header.build());
    }
    response.build().into()
}

/// Declares reusable problem responses: unit types an operation names in `responses((status = …, response = T))`.
macro_rules! problem_responses {
    ($($(#[$doc:meta])* $name:ident => $description:literal $(, $header:literal: $about:literal)*;)+) => {$(
        $(#[$doc])*
        pub struct $name;

        impl<'s> ToResponse<'s> for $name {
            fn response() -> (&'s str, RefOr<Response>) {
                (stringify!($name), problem($description, &[$(($header, $about)),*]))
            }
        }
    )+};
}

problem_responses! {
    /// 400.
    BadRequest => "Malformed input: a path, query or header value that does not parse, an unknown or repeated \
        query parameter, or a body that is not JSON. `errors` names the fields.";
    /// 401.
    Unauthorized => "No bearer token, or one that is malformed, expired, forged or meant for another audience.",
        "WWW-Authenticate": "`Bearer`, with `error=\"invalid_token\"` when a token was refused.";
    /// 403.
    Forbidden => "Authenticated, but the caller's role does not allow this.";
    /// 404.
    NotFound => "No such resource in the caller's organization. Another organization's resources, and \
        organizations the caller is not a member of, answer the same.";
    /// 409.
    Conflict => "The request conflicts with the current state.";
    /// 413.
    PayloadTooLarge => "The body is larger than this operation accepts.";
    /// 415.
    UnsupportedMediaType => "The body is not `application/json`.";
    /// 422.
    Unprocessable => "Well-formed JSON of the wrong shape or with invalid values; `errors` names each field.";
    /// 429.
    TooManyRequests => "Over the rate limit of the organization, user or address.",
        "Retry-After": "Whole seconds until the next request will pass.";
    /// 503.
    Unavailable => "A dependency (database, token keys, storage) is unavailable; retry shortly.";
}

/// The document, built once from the registered routes.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let (_, document) = super::documented().split_for_parts();
    document.to_json().unwrap_or_default()
});

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI document of this API.", content_type = "application/json"))
)]
async fn openapi_json() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}
