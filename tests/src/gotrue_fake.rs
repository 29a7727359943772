//! A Supabase Auth (GoTrue) fake on loopback, holding to the documented REST protocol the dashboard speaks:
//! `POST /auth/v1/token?grant_type=password|refresh_token|pkce`, `POST /auth/v1/otp` (a magic link in the PKCE flow:
//! the link's `/auth/v1/verify` redirects to `redirect_to?code=…`, and the code is exchanged with the verifier whose
//! S256 challenge came with the request), `POST /auth/v1/logout` (revokes the user's refresh tokens) and the empty
//! JWKS of an HS256 project. Every call must carry the project's `apikey`. Access tokens are HS256 with the
//! project's secret and `iss` = `{address}/auth/v1`, as Supabase issues them; refresh tokens rotate (a used one is
//! refused). Browsers call it cross-origin, so it answers CORS like Supabase does.
//!
//! Test hooks (not Supabase's): `GET /_fake/requests` lists the grants and calls served, `GET /_fake/link?email=`
//! the last magic link sent to an address.

use std::{
    collections::HashMap,
    net::Ipv4Addr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tower_http::cors::{Any, CorsLayer};
use uuid::Uuid;

/// How the fake project is set up.
#[derive(Debug, Clone)]
pub struct GoTrueConfig {
    /// The project's `anon` key, required as `apikey` on every call.
    pub anon_key: String,
    /// The HS256 secret access tokens are signed with (the app's `SUPABASE_JWT_SECRET`).
    pub jwt_secret: String,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Users as (e-mail, password).
    pub users: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct User {
    id: Uuid,
    email: String,
    password: String,
}

#[derive(Default)]
struct Inner {
    refresh_tokens: HashMap<String, Uuid>,
    /// Magic-link token → (user, S256 challenge, redirect).
    links: HashMap<String, (Uuid, String, String)>,
    /// Auth code → (user, challenge).
    codes: HashMap<String, (Uuid, String)>,
    last_link: HashMap<String, String>,
    requests: Vec<String>,
}

struct Fake {
    config: GoTrueConfig,
    address: String,
    users: Vec<User>,
    inner: Mutex<Inner>,
}

type Shared = Arc<Fake>;

/// A running fake.
pub struct FakeGoTrue {
    /// `http://127.0.0.1:<port>`: the app's `SUPABASE_URL`.
    pub address: String,
    fake: Shared,
}

impl FakeGoTrue {
    /// Starts the fake on a loopback port.
    pub async fn start(config: GoTrueConfig) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let users = config
            .users
            .iter()
            .map(|(email, password)| User { id: Uuid::new_v4(), email: email.clone(), password: password.clone() })
            .collect();
        let fake = Arc::new(Fake { config, address: address.clone(), users, inner: Mutex::new(Inner::default()) });
        let cors =
            CorsLayer::new().allow_origin(Any).allow_methods(Any).allow_headers(Any).max_age(Duration::from_secs(600));
        let router = Router::new()
            .route("/auth/v1/token", post(token))
            .route("/auth/v1/otp", post(otp))
            .route("/auth/v1/verify", get(verify))
            .route("/auth/v1/logout", post(logout))
            .route("/auth/v1/.well-known/jwks.json", get(|| async { Json(json!({ "keys": [] })) }))
            .route("/_fake/requests", get(requests))
            .route("/_fake/link", get(last_link))
            .layer(cors)
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { address, fake }
    }

    /// The id the fake gave the user with this e-mail.
    pub fn user_id(&self, email: &str) -> Option<Uuid> {
        self.fake.users.iter().find(|u| u.email == email).map(|u| u.id)
    }

    /// The calls served so far, as `grant_type=…`, `otp`, `verify`, `logout`.
    pub fn requests(&self) -> Vec<String> {
        self.fake.inner.lock().expect("lock").requests.clone()
    }
}

/// GoTrue's error shape.
fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({ "error": error, "error_description": description }))).into_response()
}

fn has_api_key(fake: &Fake, headers: &HeaderMap) -> bool {
    headers.get("apikey").and_then(|v| v.to_str().ok()) == Some(fake.config.anon_key.as_str())
}

fn record(fake: &Fake, what: String) {
    fake.inner.lock().expect("lock").requests.push(what);
}

fn random_token() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

/// A session as GoTrue answers it, with a fresh (rotated) refresh token.
fn session(fake: &Fake, user: &User) -> Response {
    let secret = SecretString::from(fake.config.jwt_secret.clone());
    let issuer = format!("{}/auth/v1", fake.address);
    let access_token =
        shared::auth::mint_token(&secret, &issuer, user.id, Some(user.email.clone()), fake.config.access_ttl)
            .expect("mint an access token");
    let refresh_token = random_token();
    fake.inner.lock().expect("lock").refresh_tokens.insert(refresh_token.clone(), user.id);
    let expires_in = fake.config.access_ttl.as_secs();
    Json(json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": expires_in,
        "expires_at": chrono::Utc::now().timestamp() + expires_in as i64,
        "refresh_token": refresh_token,
        "user": { "id": user.id, "email": user.email, "aud": "authenticated", "role": "authenticated" },
    }))
    .into_response()
}

#[derive(Deserialize)]
struct Grant {
    grant_type: String,
}

async fn token(
    State(fake): State<Shared>,
    Query(Grant { grant_type }): Query<Grant>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !has_api_key(&fake, &headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "message": "Invalid API key" }))).into_response();
    }
    record(&fake, format!("grant_type={grant_type}"));
    let text = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let user = match grant_type.as_str() {
        "password" => fake.users.iter().find(|u| u.email == text("email") && u.password == text("password")),
        "refresh_token" => {
            let owner = fake.inner.lock().expect("lock").refresh_tokens.remove(&text("refresh_token"));
            owner.and_then(|id| fake.users.iter().find(|u| u.id == id))
        }
        "pkce" => {
            let flow = fake.inner.lock().expect("lock").codes.remove(&text("auth_code"));
            let verifier = text("code_verifier");
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            flow.filter(|(_, expected)| *expected == challenge)
                .and_then(|(id, _)| fake.users.iter().find(|u| u.id == id))
        }
        _ => return refuse(StatusCode::BAD_REQUEST, "unsupported_grant_type", "unsupported grant_type"),
    };
    match user {
        Some(user) => session(&fake, user),
        None if grant_type == "password" => {
            refuse(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid login credentials")
        }
        None => refuse(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid Refresh Token or code"),
    }
}

#[derive(Deserialize)]
struct Redirected {
    redirect_to: Option<String>,
}

async fn otp(
    State(fake): State<Shared>,
    Query(Redirected { redirect_to }): Query<Redirected>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !has_api_key(&fake, &headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "message": "Invalid API key" }))).into_response();
    }
    record(&fake, "otp".into());
    let email = body.get("email").and_then(Value::as_str).unwrap_or_default();
    let challenge = body.get("code_challenge").and_then(Value::as_str).unwrap_or_default();
    if body.get("code_challenge_method").and_then(Value::as_str) != Some("s256") || challenge.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "validation_failed", "PKCE flow requires an s256 code_challenge");
    }
    // Like GoTrue, an unknown address gets the same answer as a known one.
    if let Some(user) = fake.users.iter().find(|u| u.email == email) {
        let link_token = random_token();
        let redirect = redirect_to.unwrap_or_default();
        let link = format!("{}/auth/v1/verify?token={link_token}&type=magiclink", fake.address);
        let mut inner = fake.inner.lock().expect("lock");
        inner.links.insert(link_token, (user.id, challenge.to_owned(), redirect));
        inner.last_link.insert(email.to_owned(), link);
    }
    Json(json!({})).into_response()
}

#[derive(Deserialize)]
struct Verify {
    token: String,
}

async fn verify(State(fake): State<Shared>, Query(Verify { token }): Query<Verify>) -> Response {
    record(&fake, "verify".into());
    let mut inner = fake.inner.lock().expect("lock");
    let Some((user, challenge, redirect)) = inner.links.remove(&token) else {
        return refuse(StatusCode::FORBIDDEN, "otp_expired", "Email link is invalid or has expired");
    };
    let code = Uuid::new_v4().to_string();
    inner.codes.insert(code.clone(), (user, challenge));
    let separator = if redirect.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{redirect}{separator}code={code}")).into_response()
}

async fn logout(State(fake): State<Shared>, headers: HeaderMap) -> Response {
    if !has_api_key(&fake, &headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "message": "Invalid API key" }))).into_response();
    }
    record(&fake, "logout".into());
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let Some(user) = subject(bearer) else {
        return refuse(StatusCode::UNAUTHORIZED, "bad_jwt", "invalid JWT");
    };
    fake.inner.lock().expect("lock").refresh_tokens.retain(|_, owner| *owner != user);
    StatusCode::NO_CONTENT.into_response()
}

/// The `sub` of an access token (the fake signed it; the app verifies it properly).
fn subject(token: &str) -> Option<Uuid> {
    let payload = token.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("sub")?.as_str()?.parse().ok()
}

async fn requests(State(fake): State<Shared>) -> Json<Vec<String>> {
    Json(fake.inner.lock().expect("lock").requests.clone())
}

#[derive(Deserialize)]
struct LinkFor {
    email: String,
}

async fn last_link(State(fake): State<Shared>, Query(LinkFor { email }): Query<LinkFor>) -> Response {
    match fake.inner.lock().expect("lock").last_link.get(&email) {
        Some(link) => Json(json!({ "link": link })).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
