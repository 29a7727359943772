//! Layers around every route: a request id, a tracing span per request, panic capture, CORS from an allow-list,
//! security headers, per-route body limits, the rate limit for callers without credentials, and the guarantee that
//! every error response is problem+json, including those axum and tower produce themselves (unknown route, wrong
//! method, oversized body). Authenticated callers are rate-limited where they are identified: per user in
//! [`crate::extract::AuthUser`], per organization in [`crate::auth::Tenant`].

use std::{
    pin::Pin,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};

use crate::{
    auth::ORGANIZATION_HEADER,
    error::{ApiError, PROBLEM_JSON, Problem},
    protocol::INVOCATION_ID_HEADER,
    rate_limit::{Quota, RateKey},
    state::AppState,
};

/// The header that carries the request id in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Adds the cross-cutting layers to `router`.
pub fn wrap(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    // Body limits are a route layer, so they run only once routing has picked a handler; the method fallback is set
    // after it, so a method a path does not accept is a 405 with `Allow` whatever the body, never a 413.
    let router = router
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_request_bodies))
        .method_not_allowed_fallback(wrong_method)
        .fallback(no_route)
        .layer(middleware::from_fn_with_state(state.clone(), limit_anonymous_callers))
        .layer(middleware::map_response(problem_for_bare_errors));
    let router = security_headers()
        .into_iter()
        .fold(router, |router, (name, value)| router.layer(SetResponseHeaderLayer::if_not_present(name, value)));
    // Outside the limiter: a preflight is answered here and never counts against anyone.
    let router = match cors(&state.settings.http.cors_allowed_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router
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
    let detail = format!("no route for {} {}", request.method(), request.uri().path());
    discard_body(request.into_body()).await;
    Problem::for_status(StatusCode::NOT_FOUND, detail)
}

/// A path that is routed, but not for this method; the router adds the `Allow` header.
async fn wrong_method(request: Request) -> Problem {
    let detail = format!("{} does not accept {}", request.uri().path(), request.method());
    discard_body(request.into_body()).await;
    Problem::for_status(StatusCode::METHOD_NOT_ALLOWED, detail)
}

/// Headers every response carries. The API serves JSON to scripts, never pages: nothing may frame, sniff or cache it,
/// and a browser must keep to HTTPS.
fn security_headers() -> [(HeaderName, HeaderValue); 7] {
    [
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("same-origin")),
    ]
}

/// CORS for the listed origins only (`CORS_ALLOWED_ORIGINS`); no list, no layer, so browsers refuse every
/// cross-origin read. Credentials travel in the `Authorization` header, never cookies, so none are allowed.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()).collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static(ORGANIZATION_HEADER),
                HeaderName::from_static(REQUEST_ID_HEADER),
            ])
            .expose_headers([HeaderName::from_static(REQUEST_ID_HEADER), header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}

/// The largest body of a JSON document sent to an ordinary route (an organization, a member, a product patch).
const DOCUMENT_BODY_BYTES: usize = 64 * 1024;

/// The body limit of a route. Only routes that take data in bulk get `MAX_REQUEST_BODY_BYTES`: event batches,
/// platform webhooks (`/api/webhooks/...`), and the host's trigger invocations (an Event Grid batch may approach
/// 1 MB). Video uploads to the folder store take whole videos and check `MAX_VIDEO_BYTES` themselves while streaming.
pub fn body_limit(state: &AppState, method: &Method, path: &str) -> usize {
    let bulk = state.settings.max_request_body_bytes;
    if crate::http::videos::is_upload_path(path) {
        return usize::try_from(state.settings.video.max_bytes).unwrap_or(usize::MAX);
    }
    let Some(api_path) = path.strip_prefix("/api/") else { return bulk };
    if matches!(*method, Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS) {
        return 0;
    }
    if api_path == "v1/analytics/events" || api_path.starts_with("webhooks/") {
        bulk
    } else {
        DOCUMENT_BODY_BYTES.min(bulk)
    }
}

/// The most of an over-limit body read (and discarded) before its 413 is sent.
const DRAIN_MAX_BYTES: usize = 64 * 1024 * 1024;
/// The longest an over-limit body is read before its 413 is sent.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Refuses a body whose declared length is over its route's limit without using any of it, and caps a body without
/// a length (chunked) while it is read: past the limit the read fails and the extractor answers 413. Whenever an
/// answer comes before the body was read to its end (that 413, or a 401, 404 or 422 decided without it), the rest is
/// read and discarded before the answer goes out with `Connection: close`.
async fn limit_request_bodies(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = body_limit(&state, request.method(), request.uri().path());
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        discard_body(request.into_body()).await;
        let response =
            Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE, format!("request body exceeds {limit} bytes"))
                .into_response();
        return closing(response);
    }
    let unread = UnreadRest::default();
    let request = request.map(|body| Body::new(http_body_util::Limited::new(unread.watch(body), limit)));
    let response = next.run(request).await;
    match unread.take() {
        Some(rest) => {
            discard_body(rest).await;
            closing(response)
        }
        None => response,
    }
}

/// The response, with the connection closed after it.
fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Where a request body that was dropped before its end (a read refused past the limit, an answer that did not need
/// it) leaves what is left of it, so that it can be drained after the handler has answered.
#[derive(Clone, Default)]
struct UnreadRest(Arc<Mutex<Option<Body>>>);

impl UnreadRest {
    fn watch(&self, body: Body) -> Watched {
        Watched { body: Some(body), rest: self.clone() }
    }

    fn take(&self) -> Option<Body> {
        self.0.lock().ok().and_then(|mut rest| rest.take())
    }
}

/// A body that hands its unread rest to its [`UnreadRest`] when dropped.
struct Watched {
    body: Option<Body>,
    rest: UnreadRest,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let Some(body) = self.body.as_mut() else { return std::task::Poll::Ready(None) };
        let polled = Pin::new(body).poll_frame(cx);
        if matches!(polled, std::task::Poll::Ready(None)) {
            self.body = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.as_ref().map(http_body::Body::size_hint).unwrap_or_default()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(body) = self.body.take().filter(|body| !http_body::Body::is_end_stream(body))
            && let Ok(mut rest) = self.rest.0.lock()
        {
            *rest = Some(body);
        }
    }
}

/// Reads and drops a refused body, up to [`DRAIN_MAX_BYTES`] and [`DRAIN_TIMEOUT`]: many clients (Python's urllib,
/// SDKs, proxies) write the whole body before reading, and would see a reset instead of the 413, 404 or 405 if the
/// connection closed while they were still sending.
async fn discard_body(body: Body) {
    use http_body_util::BodyExt;
    let mut body = body;
    let drain = async {
        let mut read = 0;
        while read < DRAIN_MAX_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => read += frame.data_ref().map_or(0, |data| data.len()),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
}

/// Counts API calls that carry no credentials against the client's address. Never limited: health checks (the
/// platform's probes), the host's trigger invocations (not under `/api`), the dashboard's embedded page and assets
/// (static bytes, no database), and platform webhooks, which arrive in bursts from a few platform addresses, are
/// authenticated by their HMAC, and would be retried and eventually unsubscribed by the platform if refused. Calls
/// with a token are counted once the token is checked.
async fn limit_anonymous_callers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let counted = path.starts_with("/api/")
        && path != "/api/health"
        && !path.starts_with("/api/webhooks/")
        && !crate::http::app::is_app_path(path)
        && request.method() != Method::OPTIONS;
    if counted
        && !request.headers().contains_key(header::AUTHORIZATION)
        && let Some(quota) = Quota::anonymous(&state.settings.http)
    {
        let (parts, body) = request.into_parts();
        let key = state.client_address.of(&parts).map_or(RateKey::UnknownAddress, RateKey::Address);
        if let Err(error) = state.limiter.charge(key, quota, parts.uri.path()) {
            return ApiError::into_response(error);
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    next.run(request).await
}

/// Gives a problem+json body to any error response that has no body type of its own (413 or 408 from a tower layer),
/// keeping its headers.
async fn problem_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let detail = status.canonical_reason().unwrap_or("error");
    let body = serde_json::to_vec(&Problem::for_status(status, detail)).unwrap_or_default();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
