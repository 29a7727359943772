//! The merchant dashboard: one page and its assets, built from `web/src` by `web/build.sh` into `web/dist` and
//! embedded in the binary at compile time, so every host serves it with no second deployment and a fresh clone
//! needs no Node.js.
//!
//! - `GET /api/app/` is the page on every host; in Azure it is the `Dashboard` function, since the Functions host
//!   forwards only routes below its `api` prefix. `GET /` serves the same page where the process answers the root
//!   itself (`handler dev`, a Lambda function URL); there it is also what the Functions host's readiness probe gets.
//! - `GET /api/app/assets/{file}`: content-hashed file names, so each is cached for a year as immutable; the page
//!   itself is `no-cache` (revalidated with its ETag), so a release is picked up on the next load.
//! - Every file is stored brotli- and gzip-compressed beside its plain bytes and served in the best encoding the
//!   browser accepts.
//! - The page gets its own Content-Security-Policy (the API's `default-src 'none'` would block it): scripts and
//!   styles from this origin only (no inline code, no eval), connections to this origin, the Supabase project and
//!   the video upload endpoint, and no framing.
//!
//! The page knows the API only through its public routes, like any other client.

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use include_dir::{Dir, File, include_dir};
use secrecy::ExposeSecret;
use shared::{blob::ConnectionString, config::BlobStorageSettings};

use crate::{error::Problem, state::AppState};

/// `web/dist`, as `web/build.sh` left it.
static DIST: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../web/dist");

/// Where the page lives on every host.
pub const APP_PATH: &str = "/api/app/";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The page and its assets.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/api/app", get(|| async { Redirect::permanent(APP_PATH) }))
        .route(APP_PATH, get(page))
        // The page routes by URL fragment; any other path below it is the page too, so a link never dead-ends.
        .route("/api/app/{*path}", get(page))
        .route("/api/app/assets/{file}", get(asset))
}

/// Whether `path` is the page or one of its assets: static bytes, served to anonymous browsers without counting
/// against the rate limit that protects the API.
pub fn is_app_path(path: &str) -> bool {
    path == "/" || path == "/api/app" || path.starts_with(APP_PATH)
}

/// A content coding the files are stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    fn suffix(self) -> &'static str {
        match self {
            Self::Brotli => ".br",
            Self::Gzip => ".gz",
            Self::Identity => "",
        }
    }

    fn header(self) -> Option<&'static str> {
        match self {
            Self::Brotli => Some("br"),
            Self::Gzip => Some("gzip"),
            Self::Identity => None,
        }
    }

    /// The best coding `Accept-Encoding` allows (RFC 9110 §12.5.3): brotli, then gzip, else none. A coding with
    /// `q=0` is refused, `*` stands for any coding not named.
    fn negotiate(headers: &HeaderMap) -> Self {
        let quality = |name: &str| -> Option<bool> {
            let mut wildcard = None;
            for entry in headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()) {
                for item in entry.split(',') {
                    let mut parts = item.split(';');
                    let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
                    let accepted = parts
                        .filter_map(|p| p.trim().strip_prefix("q="))
                        .map(|q| q.trim().parse::<f32>().is_ok_and(|q| q > 0.0))
                        .next()
                        .unwrap_or(true);
                    if coding == name {
                        return Some(accepted);
                    }
                    if coding == "*" {
                        wildcard = Some(accepted);
                    }
                }
            }
            wildcard
        };
        if quality("br") == Some(true) {
            Self::Brotli
        } else if quality("gzip") == Some(true) {
            Self::Gzip
        } else {
            Self::Identity
        }
    }
}

/// The file at `path` in the best coding the request accepts (every coding is built; identity is the fallback).
fn negotiated(path: &str, headers: &HeaderMap) -> Option<(&'static File<'static>, Coding)> {
    let wanted = Coding::negotiate(headers);
    [wanted, Coding::Identity]
        .into_iter()
        .find_map(|coding| DIST.get_file(format!("{path}{}", coding.suffix())).map(|file| (file, coding)))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn respond(file: &'static File<'static>, coding: Coding, content_type: &'static str, cache: &str) -> Response {
    let mut response = file.contents().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(cache) = HeaderValue::from_str(cache) {
        headers.insert(header::CACHE_CONTROL, cache);
    }
    if let Some(coding) = coding.header() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    response
}

/// The page. Its ETag is the build's input hash (see `web/dist/build.json`), so an unchanged release answers 304.
async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some((file, coding)) = negotiated("index.html", &headers) else {
        return Problem::for_status(StatusCode::NOT_FOUND, "the dashboard was not built into this binary")
            .into_response();
    };
    let etag = format!("\"{}-{}\"", build_id(), coding.header().unwrap_or("identity"));
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut response = if unchanged {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        response
    } else {
        respond(file, coding, content_type("index.html"), "no-cache")
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    if let Ok(policy) = HeaderValue::from_str(&page_policy(&state)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// A hashed asset. Only plain names are served; the compressed copies are chosen by negotiation, never named.
async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let servable = !file.ends_with(".br") && !file.ends_with(".gz") && !file.contains('/') && !file.starts_with('.');
    let path = format!("assets/{file}");
    match negotiated(&path, &headers).filter(|_| servable) {
        Some((found, coding)) => respond(found, coding, content_type(&path), IMMUTABLE),
        None => Problem::for_status(StatusCode::NOT_FOUND, format!("no dashboard asset {file}")).into_response(),
    }
}

/// The build's input hash, recorded by `web/build.sh` in `build.json`.
fn build_id() -> &'static str {
    static ID: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        DIST.get_file("build.json")
            .and_then(|file| serde_json::from_slice::<serde_json::Value>(file.contents()).ok())
            .and_then(|build| build["inputs_sha256"].as_str().map(str::to_owned))
            .unwrap_or_default()
    });
    &ID
}

/// The page's Content-Security-Policy. `connect-src` lists what the page calls besides this origin: Supabase Auth
/// (when configured) and the blob endpoint videos are uploaded to directly (Azure Storage; the folder store of
/// `handler dev` takes uploads on this origin).
fn page_policy(state: &AppState) -> String {
    let settings = &state.settings;
    let mut connect = vec!["'self'".to_owned()];
    connect.extend(settings.auth.supabase_url.as_deref().and_then(origin));
    connect.extend(upload_origin(&settings.video.storage));
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
         connect-src {}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        connect.join(" ")
    )
}

/// `scheme://host[:port]` of an http(s) URL, if it is one.
fn origin(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    let scheme = uri.scheme_str().filter(|scheme| matches!(*scheme, "https" | "http"))?;
    let host = uri.host()?;
    Some(match uri.port_u16() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// The blob endpoint upload URLs point at, when it is not this origin.
fn upload_origin(storage: &BlobStorageSettings) -> Option<String> {
    match storage {
        BlobStorageSettings::ManagedIdentity { account_url, .. } => origin(account_url),
        BlobStorageSettings::ConnectionString(connection) => {
            ConnectionString::parse(connection.expose_secret()).ok().and_then(|parsed| origin(&parsed.blob_endpoint))
        }
        BlobStorageSettings::SasUrl(_) | BlobStorageSettings::Folder(_) | BlobStorageSettings::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn the_best_accepted_coding_is_chosen() {
        let cases = [
            ("gzip, deflate, br, zstd", Coding::Brotli, "what Chromium sends"),
            ("gzip, deflate", Coding::Gzip, "no brotli"),
            ("br;q=0, gzip;q=0.5", Coding::Gzip, "brotli refused"),
            ("identity", Coding::Identity, "identity only"),
            ("*", Coding::Brotli, "anything"),
            ("*;q=0, gzip", Coding::Gzip, "anything but what is named, refused"),
            ("BR", Coding::Brotli, "coding names are case-insensitive"),
            ("", Coding::Identity, "empty"),
        ];
        for (header, expected, why) in cases {
            assert_eq!(Coding::negotiate(&accepting(header)), expected, "{why}: {header}");
        }
        assert_eq!(Coding::negotiate(&HeaderMap::new()), Coding::Identity, "no header");
    }

    #[test]
    fn origins_keep_scheme_host_and_port_only() {
        assert_eq!(origin("https://abc.supabase.co/").as_deref(), Some("https://abc.supabase.co"));
        assert_eq!(origin("http://127.0.0.1:54321/auth/v1").as_deref(), Some("http://127.0.0.1:54321"));
        assert_eq!(origin("javascript:alert(1)"), None);
        assert_eq!(origin("not a url"), None);
    }
}
