//! Supabase-compatible bearer tokens, through the HTTP API (`GET /api/v1/me`): ES256 and RS256 tokens checked against
//! a JWKS fake on loopback (which counts its fetches), legacy HS256 tokens checked with the secret, and every way a
//! token can be wrong. The fetch-policy tests shrink the cache TTL and throttle through their settings instead of
//! sleeping for minutes.

use std::{
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{Json, Router, extract::State, routing::get};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use p256::pkcs8::EncodePrivateKey;
use rsa::{
    pkcs1::EncodeRsaPrivateKey,
    pkcs8::{EncodePublicKey, LineEnding},
};
use serde_json::{Value, json};
use tests::{Backend, TEST_ISSUER, TestApp, spawn_app_with};
use uuid::Uuid;

/// The path Supabase publishes its keys under.
const JWKS_PATH: &str = "/auth/v1/.well-known/jwks.json";

/// RSA key generation takes a while in debug builds: one RSA key pair serves the whole test binary.
static RSA_KEY: LazyLock<rsa::RsaPrivateKey> =
    LazyLock::new(|| rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("an RSA key pair"));

/// A signing key: the private half signs test tokens, the public half (`jwk`) is what the fake JWKS publishes.
struct TestKey {
    kid: String,
    algorithm: Algorithm,
    private: EncodingKey,
    jwk: Value,
}

impl TestKey {
    /// A fresh P-256 key, as Supabase's recommended signing keys are.
    fn es256() -> Self {
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let der = secret.to_pkcs8_der().expect("PKCS#8 DER");
        Self::new(Algorithm::ES256, EncodingKey::from_ec_der(der.as_bytes()))
    }

    /// The shared RSA key, under a fresh key id.
    fn rs256() -> Self {
        let der = RSA_KEY.to_pkcs1_der().expect("PKCS#1 DER");
        Self::new(Algorithm::RS256, EncodingKey::from_rsa_der(der.as_bytes()))
    }

    fn new(algorithm: Algorithm, private: EncodingKey) -> Self {
        let kid = Uuid::new_v4().to_string();
        let mut jwk = Jwk::from_encoding_key(&private, algorithm).expect("public JWK");
        jwk.common.key_id = Some(kid.clone());
        let mut jwk = serde_json::to_value(jwk).expect("JWK as JSON");
        // What Supabase's JWKS says of each key.
        jwk["key_ops"] = json!(["verify"]);
        Self { kid, algorithm, private, jwk }
    }

    /// This key under another key id: a key that was never published, posing as one that was.
    fn posing_as(&self, kid: &str) -> Self {
        Self { kid: kid.to_owned(), ..Self::es256() }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.private).expect("sign")
    }
}

/// A JWKS endpoint on loopback whose key list a test can change, counting how often it is fetched.
struct FakeJwks {
    url: String,
    published: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

type Published = (Arc<Mutex<Vec<Value>>>, Arc<AtomicUsize>);

impl FakeJwks {
    async fn serving(keys: &[&TestKey]) -> Self {
        let published = Arc::new(Mutex::new(Vec::new()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let router =
            Router::new().route(JWKS_PATH, get(serve_jwks)).with_state((Arc::clone(&published), Arc::clone(&fetches)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}{JWKS_PATH}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        let jwks = Self { url, published, fetches };
        jwks.publish(keys);
        jwks
    }

    /// Replaces the published keys (a rotation).
    fn publish(&self, keys: &[&TestKey]) {
        *self.published.lock().expect("lock") = keys.iter().map(|key| key.jwk.clone()).collect();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn serve_jwks(State((published, fetches)): State<Published>) -> Json<Value> {
    fetches.fetch_add(1, Ordering::SeqCst);
    Json(json!({ "keys": *published.lock().expect("lock") }))
}

/// An app trusting `jwks`, with the legacy secret too, and the given cache TTL and refetch throttle (seconds).
async fn app_trusting(jwks: &FakeJwks, cache_secs: &str, min_refetch_secs: &str) -> TestApp {
    spawn_app_with(
        Backend::Sqlite,
        &[
            ("SUPABASE_JWKS_URL", &jwks.url),
            ("AUTH_JWKS_CACHE_SECS", cache_secs),
            ("AUTH_JWKS_MIN_REFETCH_SECS", min_refetch_secs),
        ],
    )
    .await
}

fn now() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970");
    i64::try_from(since_epoch.as_secs()).expect("fits")
}

/// The claims Supabase Auth puts in a signed-in user's access token.
fn claims_for(user: Uuid) -> Value {
    json!({
        "iss": TEST_ISSUER, "sub": user, "aud": "authenticated", "role": "authenticated",
        "exp": now() + 3600, "iat": now(), "email": "ada@example.com", "phone": "", "aal": "aal1",
        "session_id": Uuid::new_v4(), "is_anonymous": false,
        "app_metadata": {"provider": "email", "providers": ["email"]}, "user_metadata": {},
    })
}

/// `claims` with `changes` merged in; a `null` change removes the claim.
fn with(claims: &Value, changes: Value) -> Value {
    let mut claims = claims.clone();
    for (name, value) in changes.as_object().expect("an object of changes") {
        match value {
            Value::Null => claims.as_object_mut().expect("object").remove(name),
            value => claims.as_object_mut().expect("object").insert(name.clone(), value.clone()),
        };
    }
    claims
}

/// An HS256 token signed with `secret`, naming `kid` if given.
fn hs256(secret: &[u8], kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("sign")
}

fn legacy_secret(app: &TestApp) -> &[u8] {
    app.env["SUPABASE_JWT_SECRET"].as_bytes()
}

/// An unsigned token (`alg: none`).
fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// `token` with its payload replaced by `claims`, signature kept.
fn with_payload(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2])
}

async fn assert_accepted(app: &TestApp, token: &str, user: Uuid, why: &str) {
    let response = app.get_as(token, "/api/v1/me").await;
    assert_eq!(response.status(), 200, "{why}");
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["user_id"], json!(user), "{why}: {body}");
}

async fn assert_rejected(app: &TestApp, token: &str, why: &str) {
    let response = app.get_as(token, "/api/v1/me").await;
    assert_eq!(response.status(), 401, "{why}");
    let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(challenge.as_deref(), Some(r#"Bearer error="invalid_token""#), "{why}");
    assert_eq!(response.headers()["content-type"], "application/problem+json", "{why}");
}

#[tokio::test]
async fn valid_es256_rs256_and_legacy_hs256_tokens_are_accepted() {
    let (es256, rs256) = (TestKey::es256(), TestKey::rs256());
    let jwks = FakeJwks::serving(&[&es256, &rs256]).await;
    let app = app_trusting(&jwks, "600", "5").await;
    let user = Uuid::new_v4();
    let claims = claims_for(user);

    assert_accepted(&app, &es256.sign(&claims), user, "ES256 from the JWKS").await;
    assert_accepted(&app, &rs256.sign(&claims), user, "RS256 from the JWKS").await;
    assert_accepted(&app, &hs256(legacy_secret(&app), None, &claims), user, "legacy HS256").await;
    assert_accepted(&app, &app.token_for(user), user, "the harness's minted token").await;
    assert_eq!(jwks.fetches(), 1, "both asymmetric keys came from one fetch");
}

#[tokio::test]
async fn an_audience_array_that_includes_authenticated_is_accepted() {
    let es256 = TestKey::es256();
    let jwks = FakeJwks::serving(&[&es256]).await;
    let app = app_trusting(&jwks, "600", "5").await;
    let user = Uuid::new_v4();

    let token = es256.sign(&with(&claims_for(user), json!({"aud": ["https://merchant.example", "authenticated"]})));

    assert_accepted(&app, &token, user, "aud as an array").await;
}

#[tokio::test]
async fn tokens_that_fail_any_check_are_refused_with_invalid_token() {
    let (es256, rs256) = (TestKey::es256(), TestKey::rs256());
    let jwks = FakeJwks::serving(&[&es256, &rs256]).await;
    let app = app_trusting(&jwks, "600", "5").await;
    let user = Uuid::new_v4();
    let claims = claims_for(user);
    // Load the key set, so the cases below are judged against known keys (none of them may trigger a fetch).
    assert_accepted(&app, &es256.sign(&claims), user, "warm-up").await;
    let rsa_public_pem = RSA_KEY.to_public_key().to_public_key_pem(LineEnding::LF).expect("PEM");
    let mut rs256_under_es256_kid = TestKey::rs256();
    rs256_under_es256_kid.kid = es256.kid.clone();
    let mut es256_without_kid = es256.sign(&claims);
    es256_without_kid
        .replace_range(..es256_without_kid.find('.').expect("jwt"), &URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256"}"#));

    let cases = [
        (es256.sign(&with(&claims, json!({"exp": now() - 120}))), "expired two minutes ago (beyond the 30 s leeway)"),
        (es256.sign(&with(&claims, json!({"nbf": now() + 300}))), "not valid for another five minutes"),
        (es256.sign(&with(&claims, json!({"iss": "https://other.supabase.co/auth/v1"}))), "another project's issuer"),
        (es256.sign(&with(&claims, json!({"aud": "https://other.example"}))), "another audience"),
        (es256.sign(&with(&claims, json!({"aud": ["anon", "other"]}))), "an audience array without ours"),
        (es256.sign(&with(&claims, json!({"role": "anon"}))), "the anon role"),
        (es256.sign(&with(&claims, json!({"role": "service_role"}))), "the service role"),
        (es256.sign(&with(&claims, json!({"sub": null}))), "no subject"),
        (es256.sign(&with(&claims, json!({"sub": "user-42"}))), "a subject that is not a UUID"),
        (es256.sign(&with(&claims, json!({"exp": null}))), "no expiry"),
        (es256.sign(&with(&claims, json!({"role": null}))), "no role"),
        (es256.sign(&with(&claims, json!({"iss": null}))), "no issuer"),
        (es256.sign(&with(&claims, json!({"aud": null}))), "no audience"),
        (unsigned(&claims), "alg none"),
        (hs256(rsa_public_pem.as_bytes(), Some(&rs256.kid), &claims), "HS256 keyed with the RSA public key PEM"),
        (hs256(rsa_public_pem.as_bytes(), None, &claims), "HS256 keyed with the RSA public key PEM, no kid"),
        (hs256(legacy_secret(&app), Some(&es256.kid), &claims), "HS256 naming a published ES256 key's kid"),
        (hs256(b"not-the-project-secret-but-long-enough", None, &claims), "HS256 with another secret"),
        (rs256_under_es256_kid.sign(&claims), "RS256 header naming the ES256 key"),
        (es256.posing_as(&es256.kid).sign(&claims), "signed by an unpublished key under a published kid"),
        (es256_without_kid, "ES256 without a kid"),
        (with_payload(&es256.sign(&claims), &with(&claims, json!({"sub": Uuid::new_v4()}))), "payload swapped"),
        (
            with_payload(&rs256.sign(&claims), &with(&claims, json!({"app_metadata": {"super_admin": true}}))),
            "payload edited to grant super admin",
        ),
        ("not.a.jwt".to_owned(), "garbage"),
    ];
    for (token, why) in &cases {
        assert_rejected(&app, token, why).await;
    }
    assert_eq!(jwks.fetches(), 1, "no refused token caused a fetch");
}

#[tokio::test]
async fn asymmetric_tokens_are_refused_when_only_the_legacy_secret_is_configured() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await;
    let user = Uuid::new_v4();

    assert_rejected(&app, &TestKey::es256().sign(&claims_for(user)), "ES256 without a JWKS").await;
    assert_rejected(&app, &TestKey::rs256().sign(&claims_for(user)), "RS256 without a JWKS").await;
    assert_accepted(&app, &app.token_for(user), user, "HS256 still works").await;
}

#[tokio::test]
async fn legacy_tokens_are_refused_when_only_the_jwks_is_configured() {
    let es256 = TestKey::es256();
    let jwks = FakeJwks::serving(&[&es256]).await;
    let app = spawn_app_with(Backend::Sqlite, &[("SUPABASE_JWKS_URL", &jwks.url), ("SUPABASE_JWT_SECRET", "")]).await;
    let user = Uuid::new_v4();

    assert_rejected(&app, &hs256(b"any-secret-at-all-of-32-bytes-or-more", None, &claims_for(user)), "HS256").await;
    assert_accepted(&app, &es256.sign(&claims_for(user)), user, "ES256 still works").await;
}

#[tokio::test]
async fn an_unknown_kid_triggers_one_refetch_that_picks_up_a_rotated_in_key() {
    let (old, new) = (TestKey::es256(), TestKey::rs256());
    let jwks = FakeJwks::serving(&[&old]).await;
    let app = app_trusting(&jwks, "600", "0.2").await;
    let user = Uuid::new_v4();
    assert_accepted(&app, &old.sign(&claims_for(user)), user, "the original key").await;
    assert_eq!(jwks.fetches(), 1);

    jwks.publish(&[&old, &new]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_accepted(&app, &new.sign(&claims_for(user)), user, "the rotated-in key").await;
    assert_accepted(&app, &new.sign(&claims_for(user)), user, "the rotated-in key, again").await;
    assert_accepted(&app, &old.sign(&claims_for(user)), user, "the original key, still published").await;

    assert_eq!(jwks.fetches(), 2, "exactly one refetch, for the unknown kid");
}

#[tokio::test]
async fn concurrent_requests_on_a_cold_cache_share_one_fetch() {
    let es256 = TestKey::es256();
    let jwks = FakeJwks::serving(&[&es256]).await;
    let app = app_trusting(&jwks, "600", "0").await;
    let tokens: Vec<String> = (0..20).map(|_| es256.sign(&claims_for(Uuid::new_v4()))).collect();

    let statuses = concurrent_statuses(&app, &tokens).await;

    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    assert_eq!(jwks.fetches(), 1, "one fetch served all twenty requests, even with no throttle");
}

#[tokio::test]
async fn a_burst_of_unknown_kids_fetches_at_most_once_per_throttle_window() {
    let es256 = TestKey::es256();
    let jwks = FakeJwks::serving(&[&es256]).await;
    let app = app_trusting(&jwks, "600", "1").await;
    let claims = claims_for(Uuid::new_v4());
    let forged: Vec<String> = (0..20).map(|_| es256.posing_as(&Uuid::new_v4().to_string()).sign(&claims)).collect();

    let first = concurrent_statuses(&app, &forged).await;
    let second = concurrent_statuses(&app, &forged).await;
    let fetches_within_the_window = jwks.fetches();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = concurrent_statuses(&app, &forged[..1]).await;

    assert!(first.iter().chain(&second).chain(&after).all(|status| *status == 401), "{first:?} {second:?} {after:?}");
    assert_eq!(fetches_within_the_window, 1, "forty unknown kids within one window cost one fetch");
    assert_eq!(jwks.fetches(), 2, "the next window allows one more");
}

#[tokio::test]
async fn cached_keys_expire_after_the_configured_ttl() {
    let (retired, successor) = (TestKey::es256(), TestKey::es256());
    let jwks = FakeJwks::serving(&[&retired]).await;
    let app = app_trusting(&jwks, "0.5", "0.1").await;
    let user = Uuid::new_v4();
    assert_accepted(&app, &retired.sign(&claims_for(user)), user, "fetched").await;
    assert_accepted(&app, &retired.sign(&claims_for(user)), user, "cached").await;
    assert_eq!(jwks.fetches(), 1, "the second request was served from the cache");

    jwks.publish(&[&successor]);
    tokio::time::sleep(Duration::from_millis(600)).await;

    assert_rejected(&app, &retired.sign(&claims_for(user)), "a key revoked before the cache expired").await;
    assert_eq!(jwks.fetches(), 2, "the expired cache was refreshed");
    assert_accepted(&app, &successor.sign(&claims_for(user)), user, "its successor").await;
}

#[tokio::test]
async fn an_unreachable_jwks_is_a_503_not_a_verdict_on_the_token() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed = format!("http://{}{JWKS_PATH}", listener.local_addr().expect("address"));
    drop(listener);
    let app = spawn_app_with(Backend::Sqlite, &[("SUPABASE_JWKS_URL", &closed)]).await;

    let response = app.get_as(&TestKey::es256().sign(&claims_for(Uuid::new_v4())), "/api/v1/me").await;

    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn a_jwks_name_resolving_to_loopback_is_not_fetched_unless_private_endpoints_are_allowed() {
    let key = TestKey::es256();
    let jwks = FakeJwks::serving(&[&key]).await;
    let by_name = jwks.url.replace("127.0.0.1", "localhost");
    let strict =
        spawn_app_with(Backend::Sqlite, &[("SUPABASE_JWKS_URL", &by_name), ("ALLOW_PRIVATE_ENDPOINTS", "false")]).await;
    let token = key.sign(&claims_for(Uuid::new_v4()));

    let refused = strict.get_as(&token, "/api/v1/me").await;

    assert_eq!(refused.status(), 503, "the keys are unavailable, not the token wrong");
    assert_eq!(jwks.fetches(), 0, "no connection reached the loopback JWKS");
    let relaxed = spawn_app_with(Backend::Sqlite, &[("SUPABASE_JWKS_URL", &by_name)]).await;
    assert_eq!(relaxed.get_as(&token, "/api/v1/me").await.status(), 200, "allowed with ALLOW_PRIVATE_ENDPOINTS");
    assert_eq!(jwks.fetches(), 1);
}

#[tokio::test]
async fn the_super_admin_flag_comes_from_app_metadata_only() {
    let es256 = TestKey::es256();
    let jwks = FakeJwks::serving(&[&es256]).await;
    let app = app_trusting(&jwks, "600", "5").await;
    let claims = claims_for(Uuid::new_v4());
    let cases = [
        (with(&claims, json!({"app_metadata": {"provider": "email", "super_admin": true}})), true, "app_metadata"),
        (with(&claims, json!({"app_metadata": {"super_admin": false}})), false, "flag cleared"),
        (with(&claims, json!({"user_metadata": {"super_admin": true}})), false, "user_metadata is user-editable"),
        (claims.clone(), false, "no flag"),
    ];

    for (claims, expected, why) in cases {
        let principal = app.state.tokens.verify(&es256.sign(&claims)).await.expect(why);
        assert_eq!(principal.is_super_admin, expected, "{why}");
    }
}

#[tokio::test]
async fn health_names_the_token_schemes_without_fetching_keys() {
    let jwks = FakeJwks::serving(&[&TestKey::es256()]).await;
    let both = app_trusting(&jwks, "600", "5").await;
    let legacy_only = spawn_app_with(Backend::Sqlite, &[]).await;
    let cases = [
        (&both, "HS256 secret and JWKS (ES256/RS256) configured", "both"),
        (&legacy_only, "HS256 secret configured", "legacy only"),
    ];

    for (app, detail, why) in cases {
        let body: Value = app.get("/api/health").await.json().await.expect("JSON");
        assert_eq!(body["checks"]["auth"], json!({"status": "ok", "detail": detail}), "{why}");
    }
    assert_eq!(jwks.fetches(), 0, "health does not spend the JWKS throttle");
}

/// `GET /api/v1/me` with each token, all at once; the status codes, in order.
async fn concurrent_statuses(app: &TestApp, tokens: &[String]) -> Vec<u16> {
    let requests: Vec<_> = tokens
        .iter()
        .map(|token| {
            let request = app.client.get(format!("{}/api/v1/me", app.address)).bearer_auth(token);
            tokio::spawn(async move { request.send().await.expect("response").status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::with_capacity(requests.len());
    for request in requests {
        statuses.push(request.await.expect("request task"));
    }
    statuses
}
