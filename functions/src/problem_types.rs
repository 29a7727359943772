//! The one registry of problem types: every `type` URI a problem+json body carries names an entry here, and
//! `GET /api/problems/{slug}` serves each entry as a short page, so the URIs resolve. They live below `/api`, the
//! prefix the Functions host forwards, so they resolve against the app's origin on every host.

use axum::http::StatusCode;

/// Where the problem type pages are served; a type's URI is this followed by its slug.
pub const PROBLEM_TYPE_PATH: &str = "/api/problems/";

/// One kind of problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    /// The status it is answered with; `None` for the generic type, whose status varies.
    pub status: Option<StatusCode>,
    /// The last segment of its URI.
    pub slug: &'static str,
    /// Its `title`.
    pub title: &'static str,
    /// When it happens and what the client can do, for its page.
    pub happens: &'static str,
}

impl ProblemType {
    /// The `type` URI, relative to the app's origin.
    pub fn uri(&self) -> String {
        format!("{PROBLEM_TYPE_PATH}{}", self.slug)
    }

    /// The type a status is answered with: its own entry, else the generic one (a status that only a tower layer
    /// or the HTTP stack produces).
    pub fn for_status(status: StatusCode) -> &'static Self {
        PROBLEM_TYPES.iter().find(|kind| kind.status == Some(status)).unwrap_or(&GENERIC)
    }

    /// The registered type with this slug.
    pub fn by_slug(slug: &str) -> Option<&'static Self> {
        PROBLEM_TYPES.iter().find(|kind| kind.slug == slug)
    }
}

const fn kind(status: StatusCode, slug: &'static str, title: &'static str, happens: &'static str) -> ProblemType {
    ProblemType { status: Some(status), slug, title, happens }
}

/// The type of an error status without an entry of its own; the body's `status` says which.
const GENERIC: ProblemType = ProblemType {
    status: None,
    slug: "http-error",
    title: "HTTP Error",
    happens: "An error the HTTP stack answered without a more specific kind (for example a request timeout). The \
              body's status and detail say what went wrong.",
};

/// Every problem type the API answers with.
pub static PROBLEM_TYPES: &[ProblemType] = &[
    kind(
        StatusCode::BAD_REQUEST,
        "bad-request",
        "Bad Request",
        "The request is malformed: a path, query or header value that does not parse, an unknown or repeated query \
         parameter, or a body that is not JSON; or an install callback whose state is unknown, used, expired or for \
         another store, or whose code the platform refused. `errors` names the fields; fix them and send again.",
    ),
    kind(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Unauthorized",
        "No bearer token came, or the token is malformed, expired, forged or meant for another audience; or a \
         platform webhook's signature or a Shopify install callback's `hmac` is missing or does not match. Sign in \
         again and retry with a fresh token.",
    ),
    kind(
        StatusCode::FORBIDDEN,
        "forbidden",
        "Forbidden",
        "The caller is authenticated, but its role in the organization does not allow this operation.",
    ),
    kind(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not Found",
        "No such route, or no such resource in the caller's organization. Another organization's resources answer \
         the same, so their existence is not revealed.",
    ),
    kind(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method Not Allowed",
        "The route exists but does not accept this method, whatever the body; the `Allow` header lists the methods \
         it does accept.",
    ),
    kind(
        StatusCode::CONFLICT,
        "conflict",
        "Conflict",
        "The request conflicts with the current state, for example removing an organization's last admin.",
    ),
    kind(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Payload Too Large",
        "The body is larger than this route accepts: 64 KiB for an ordinary JSON document, MAX_REQUEST_BODY_BYTES \
         for event batches and webhooks, MAX_VIDEO_BYTES for a video. The connection is closed after the answer.",
    ),
    kind(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "Unsupported Media Type",
        "The body's Content-Type is not one this route reads (most routes read `application/json`).",
    ),
    kind(
        StatusCode::UNPROCESSABLE_ENTITY,
        "unprocessable-entity",
        "Unprocessable Entity",
        "Well-formed JSON of the wrong shape or with invalid values; `errors` names each field and what is wrong.",
    ),
    kind(
        StatusCode::TOO_MANY_REQUESTS,
        "too-many-requests",
        "Too Many Requests",
        "The organization, user or client address is over its rate limit. Wait the `Retry-After` seconds, then retry.",
    ),
    kind(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal-server-error",
        "Internal Server Error",
        "Something failed inside the app; the cause is logged under the response's `x-request-id`, never shown.",
    ),
    kind(
        StatusCode::SERVICE_UNAVAILABLE,
        "service-unavailable",
        "Service Unavailable",
        "A dependency (the database, the token keys, storage) is unavailable for now; retry shortly.",
    ),
    GENERIC,
];
