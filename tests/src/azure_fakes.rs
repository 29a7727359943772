//! Protocol fakes of Azure Key Vault (secrets, over TLS with a throwaway CA) and of the App Service managed-identity
//! endpoint (plain HTTP on loopback, as the platform's own is), sharing one record of what was asked.
//!
//! The vault behaves as the service does for what we use: an unauthenticated request gets 401 with a
//! `WWW-Authenticate` challenge naming `https://vault.azure.net`; a bearer token must be one the identity endpoint
//! issued, for that resource, and not expired; `GET /secrets/{name}/{version?}` answers the latest (or given) version,
//! 404 `SecretNotFound` or 403 `Forbidden`; `PUT` adds a version; `DELETE` removes the secret.

use std::{
    collections::{HashMap, HashSet},
    net::Ipv4Addr,
    sync::{Arc, Mutex},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The resource the vault's challenge names, as Azure's does.
pub const VAULT_RESOURCE: &str = "https://vault.azure.net";

/// What the fakes hold and saw.
#[derive(Debug, Default)]
pub struct FakeState {
    /// name → versions, oldest first.
    secrets: HashMap<String, Vec<String>>,
    /// Names whose reads answer 403.
    forbidden: HashSet<String>,
    /// Issued token → its expiry (unix seconds).
    tokens: HashMap<String, i64>,
    /// Lifetimes (seconds, may be negative) for the next tokens; 3600 once empty.
    next_lifetimes: Vec<i64>,
    /// Every vault request: method, path, the bearer token it carried, the status answered.
    pub vault_log: Vec<(String, String, Option<String>, u16)>,
    /// Every token request: the resource asked for, and whether the identity header was right.
    pub token_log: Vec<(String, bool)>,
}

/// A running Key Vault fake and managed-identity endpoint.
pub struct AzureFakes {
    /// `https://127.0.0.1:<port>/`.
    pub vault_url: String,
    /// `http://127.0.0.1:<port>/msi/token`, for `IDENTITY_ENDPOINT`.
    pub identity_endpoint: String,
    /// The value `IDENTITY_HEADER` must hold.
    pub identity_header: String,
    /// The fake CA's certificate (PEM), the only one that vouches for the vault.
    pub ca_pem: String,
    state: Arc<Mutex<FakeState>>,
}

impl AzureFakes {
    /// Starts both fakes on loopback ports.
    pub async fn start() -> Self {
        let identity_header = format!("header-{}", uuid::Uuid::new_v4().simple());
        let state = Arc::new(Mutex::new(FakeState::default()));

        let (ca_pem, tls) = tls_config();
        let vault_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind the vault");
        let vault_address = vault_listener.local_addr().expect("vault address");
        let vault = Router::new()
            .route("/secrets/{name}", get(get_latest).put(put_secret).delete(delete_secret))
            .route("/secrets/{name}/", get(get_latest))
            .route("/secrets/{name}/{version}", get(get_version))
            .with_state(Arc::clone(&state));
        tokio::spawn(serve_tls(vault_listener, tls, vault));

        let identity_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind the identity endpoint");
        let identity_address = identity_listener.local_addr().expect("identity address");
        let identity = Router::new()
            .route("/msi/token", get(issue_token))
            .with_state((Arc::clone(&state), identity_header.clone()));
        tokio::spawn(async move { axum::serve(identity_listener, identity).await });

        Self {
            vault_url: format!("https://{vault_address}/"),
            identity_endpoint: format!("http://{identity_address}/msi/token"),
            identity_header,
            ca_pem,
            state,
        }
    }

    /// Adds `value` as the newest version of `name`.
    pub fn set(&self, name: &str, value: &str) {
        self.lock().secrets.entry(name.to_owned()).or_default().push(value.to_owned());
    }

    /// The newest version of `name`, if any.
    pub fn latest(&self, name: &str) -> Option<String> {
        self.lock().secrets.get(name).and_then(|versions| versions.last().cloned())
    }

    /// Makes reads of `name` answer 403, as without a role assignment.
    pub fn forbid(&self, name: &str) {
        self.lock().forbidden.insert(name.to_owned());
    }

    /// The next tokens live this many seconds (negative: issued already expired), in order.
    pub fn next_token_lifetimes(&self, lifetimes: &[i64]) {
        self.lock().next_lifetimes = lifetimes.to_vec();
    }

    /// A look at what the fakes saw.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The environment a process needs to reach the vault through the fake identity.
    pub fn env(&self, ca_file: &std::path::Path) -> Vec<(String, String)> {
        vec![
            ("KEY_VAULT_URL".into(), self.vault_url.clone()),
            ("KEY_VAULT_CA_FILE".into(), ca_file.display().to_string()),
            ("IDENTITY_ENDPOINT".into(), self.identity_endpoint.clone()),
            ("IDENTITY_HEADER".into(), self.identity_header.clone()),
        ]
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A CA, and a server certificate it signed for `127.0.0.1` and `localhost`.
fn tls_config() -> (String, rustls::ServerConfig) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Key Vault fake CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().expect("server key");
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("server params");
    leaf_params.distinguished_name.push(DnType::CommonName, "vault fake");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).expect("server certificate");

    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .expect("server TLS config");
    (ca_cert.pem(), config)
}

async fn serve_tls(listener: TcpListener, mut config: rustls::ServerConfig, router: Router) {
    use hyper_util::{
        rt::{TokioExecutor, TokioIo},
        server::conn::auto,
        service::TowerToHyperService,
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    while let Ok((tcp, _)) = listener.accept().await {
        let (acceptor, router) = (acceptor.clone(), router.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(router))
                .await;
        });
    }
}

type Shared = Arc<Mutex<FakeState>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, FakeState> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// App Service managed identity, API version 2019-08-01.
async fn issue_token(
    State((state, expected_header)): State<(Shared, String)>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let resource = query.get("resource").cloned().unwrap_or_default();
    let header_ok = headers.get("x-identity-header").and_then(|v| v.to_str().ok()) == Some(expected_header.as_str());
    let mut state = lock(&state);
    state.token_log.push((resource.clone(), header_ok));
    if !header_ok || query.get("api-version").map(String::as_str) != Some("2019-08-01") {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": "invalid_request" }))).into_response();
    }
    let lifetime = if state.next_lifetimes.is_empty() { 3600 } else { state.next_lifetimes.remove(0) };
    let token = format!("token-{}", uuid::Uuid::new_v4().simple());
    let expires_on = now() + lifetime;
    state.tokens.insert(token.clone(), expires_on);
    Json(json!({
        "access_token": token,
        "expires_on": expires_on.to_string(),
        "resource": resource,
        "token_type": "Bearer",
    }))
    .into_response()
}

/// Checks the bearer token like the vault does: `None` when it is good, else the 401 challenge (logged).
fn challenge(state: &Shared, method: &str, path: &str, headers: &HeaderMap) -> Option<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let mut state = lock(state);
    let valid = token.as_ref().and_then(|t| state.tokens.get(t)).is_some_and(|expires_on| *expires_on > now());
    if valid {
        return None;
    }
    state.vault_log.push((method.to_owned(), path.to_owned(), token, 401));
    let challenge = format!(
        r#"Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001", resource="{VAULT_RESOURCE}""#
    );
    let body = json!({ "error": { "code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token." } });
    Some((StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, challenge)], Json(body)).into_response())
}

fn log(state: &Shared, method: &str, path: &str, headers: &HeaderMap, status: StatusCode) {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_start_matches("Bearer ").to_owned());
    lock(state).vault_log.push((method.to_owned(), path.to_owned(), token, status.as_u16()));
}

fn secret_body(address: &str, name: &str, version: usize, value: &str) -> Value {
    json!({
        "value": value,
        "id": format!("https://{address}/secrets/{name}/{version:032x}"),
        "contentType": "text/plain",
        "attributes": { "enabled": true, "created": 1_700_000_000, "updated": 1_700_000_000, "recoveryLevel": "Recoverable+Purgeable" },
    })
}

async fn read(state: Shared, name: String, version: Option<String>, headers: HeaderMap) -> Response {
    let path = format!("/secrets/{name}/{}", version.clone().unwrap_or_default());
    if let Some(challenge) = challenge(&state, "GET", &path, &headers) {
        return challenge;
    }
    let (status, body) = {
        let guard = lock(&state);
        if guard.forbidden.contains(&name) {
            let body = json!({ "error": { "code": "Forbidden", "message": "Caller is not authorized to perform action on resource.", "innererror": { "code": "ForbiddenByRbac" } } });
            (StatusCode::FORBIDDEN, body)
        } else {
            let versions = guard.secrets.get(&name).cloned().unwrap_or_default();
            let index = match &version {
                None => versions.len().checked_sub(1),
                Some(v) => usize::from_str_radix(v, 16).ok().filter(|i| *i < versions.len()),
            };
            match index {
                Some(i) => (StatusCode::OK, secret_body("vault", &name, i, &versions[i])),
                None => {
                    let message = format!("A secret with (name/id) {name} was not found in this key vault.");
                    (StatusCode::NOT_FOUND, json!({ "error": { "code": "SecretNotFound", "message": message } }))
                }
            }
        }
    };
    log(&state, "GET", &path, &headers, status);
    (status, Json(body)).into_response()
}

async fn get_latest(State(state): State<Shared>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    read(state, name, None, headers).await
}

async fn get_version(
    State(state): State<Shared>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    read(state, name, Some(version), headers).await
}

async fn put_secret(
    State(state): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    let path = format!("/secrets/{name}");
    if let Some(challenge) = challenge(&state, "PUT", &path, &headers) {
        return challenge;
    }
    let Some(Json(body)) = body else {
        log(&state, "PUT", &path, &headers, StatusCode::BAD_REQUEST);
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": { "code": "BadParameter" } }))).into_response();
    };
    let value = body["value"].as_str().unwrap_or_default().to_owned();
    let version = {
        let mut guard = lock(&state);
        let versions = guard.secrets.entry(name.clone()).or_default();
        versions.push(value.clone());
        versions.len() - 1
    };
    log(&state, "PUT", &path, &headers, StatusCode::OK);
    Json(secret_body("vault", &name, version, &value)).into_response()
}

async fn delete_secret(State(state): State<Shared>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let path = format!("/secrets/{name}");
    if let Some(challenge) = challenge(&state, "DELETE", &path, &headers) {
        return challenge;
    }
    let removed = lock(&state).secrets.remove(&name);
    let status = if removed.is_some() { StatusCode::OK } else { StatusCode::NOT_FOUND };
    log(&state, "DELETE", &path, &headers, status);
    let body = match removed {
        Some(_) => {
            json!({ "id": format!("https://vault/secrets/{name}"), "recoveryId": format!("https://vault/deletedsecrets/{name}") })
        }
        None => {
            json!({ "error": { "code": "SecretNotFound", "message": format!("A secret with (name/id) {name} was not found in this key vault.") } })
        }
    };
    (status, Json(body)).into_response()
}
