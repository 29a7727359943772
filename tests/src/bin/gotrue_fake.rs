//! The Supabase Auth (GoTrue) fake as a standalone process, for the browser tests. Reads its project from the
//! environment — `GOTRUE_FAKE_ANON_KEY`, `GOTRUE_FAKE_JWT_SECRET`, `GOTRUE_FAKE_ACCESS_TTL_SECS` (default 3600) and
//! `GOTRUE_FAKE_USERS` (`email:password,…`) — prints `{"url": …}` on one line, then serves until stdin closes.

use std::time::Duration;

use tests::gotrue_fake::{FakeGoTrue, GoTrueConfig};

#[tokio::main]
async fn main() {
    let setting = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is required"));
    let ttl = std::env::var("GOTRUE_FAKE_ACCESS_TTL_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(3600);
    let users = setting("GOTRUE_FAKE_USERS")
        .split(',')
        .filter_map(|pair| pair.split_once(':'))
        .map(|(email, password)| (email.to_owned(), password.to_owned()))
        .collect();
    let fake = FakeGoTrue::start(GoTrueConfig {
        anon_key: setting("GOTRUE_FAKE_ANON_KEY"),
        jwt_secret: setting("GOTRUE_FAKE_JWT_SECRET"),
        access_ttl: Duration::from_secs(ttl),
        users,
    })
    .await;
    println!("{}", serde_json::json!({ "url": fake.address }));
    // Serves until the parent closes our stdin (or exits).
    let _ = tokio::task::spawn_blocking(|| std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new())).await;
}
