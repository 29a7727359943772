//! Layers around every route: a request id, a tracing span per request, panic capture, a body-size gate, and the
//! guarantee that every error response is problem+json, including those axum and tower produce themselves (unknown
//! route, wrong method, oversized body).

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderName, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::{
    error::{PROBLEM_JSON, Problem},
    protocol::INVOCATION_ID_HEADER,
    state::AppState,
};

/// The header that carries the request id in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Adds the cross-cutting layers to `router`.
pub fn wrap(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    router
        .fallback(no_route)
        .layer(middleware::from_fn_with_state(state.clone(), reject_oversized_bodies))
        .layer(middleware::map_response(problem_for_bare_errors))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR, "an internal error occurred; it has been logged")
                .into_response()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
            tracing::info_span!("request", method = %request.method(), path = request.uri().path(), request_id = id)
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, InvocationOrRandomId))
}

/// Reuses the Functions host's invocation id when there is one, so our logs and the host's correlate; otherwise a
/// random UUID.
#[derive(Clone, Copy)]
struct InvocationOrRandomId;

impl MakeRequestId for InvocationOrRandomId {
    fn make_request_id<B>(&mut self, request: &Request<B>) -> Option<RequestId> {
        let id = match request.headers().get(INVOCATION_ID_HEADER) {
            Some(value) => value.clone(),
            None => HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).ok()?,
        };
        Some(RequestId::new(id))
    }
}

async fn no_route(request: Request) -> Problem {
    Problem::for_status(StatusCode::NOT_FOUND, format!("no route for {} {}", request.method(), request.uri().path()))
}

/// Refuses a body whose declared length is over the limit before reading any of it. Bodies without a length
/// (chunked) are capped while being read by `DefaultBodyLimit`.
async fn reject_oversized_bodies(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // The folder store's upload route takes whole videos; it enforces the video limit itself while streaming.
    let limit = if crate::http::videos::is_upload_path(request.uri().path()) {
        usize::try_from(state.settings.video.max_bytes).unwrap_or(usize::MAX)
    } else {
        state.settings.max_request_body_bytes
    };
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE, format!("request body exceeds {limit} bytes"))
            .into_response();
    }
    next.run(request).await
}

/// Gives a problem+json body to any error response that has no body type of its own (405 from the router, 413 or
/// 408 from a tower layer), keeping its headers (`Allow`, …).
async fn problem_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => "this route does not accept that method".to_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let body = serde_json::to_vec(&Problem::for_status(status, detail)).unwrap_or_default();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
