//! The merchant dashboard as the API serves it: the embedded page and assets (encodings, caching, the page's own
//! policy), the committed build being fresh, how a browser signs in (the public config, development sign-in refused
//! off `handler dev`, Supabase Auth through the GoTrue fake), and the API additions its pages use: the overview's
//! figures against the previous period, unit cost and 30-day revenue in the product list, categories, and snoozing
//! advice — each on both backends where it reads the database.

use std::{path::Path, time::Duration};

use reqwest::{Method, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tests::{
    Backend, TEST_ISSUER,
    gotrue_fake::{FakeGoTrue, GoTrueConfig},
    spawn_app_on, spawn_app_with,
};
use uuid::Uuid;

use crate::advice::Shop;

fn web_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../web"))
}

fn build_info() -> Value {
    let text = std::fs::read_to_string(web_dir().join("dist/build.json")).expect("web/dist/build.json");
    serde_json::from_str(&text).expect("build.json is JSON")
}

/// Every file below `dir`, as sorted `/`-separated paths relative to `base`.
fn files_below(base: &Path, dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read a folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            files_below(base, &path, found);
        } else {
            let relative = path.strip_prefix(base).expect("below the base").to_string_lossy().replace('\\', "/");
            found.push(relative);
        }
    }
}

/// What `web/build.mjs` hashes: each input as `path\nlength\n<bytes>\n`, in sorted path order.
fn inputs_hash() -> String {
    let web = web_dir();
    let mut inputs =
        vec!["build.mjs".to_owned(), "build.sh".to_owned(), "package-lock.json".to_owned(), "package.json".to_owned()];
    files_below(web, &web.join("src"), &mut inputs);
    inputs.sort();
    let mut hash = Sha256::new();
    for input in inputs {
        let bytes = std::fs::read(web.join(&input)).expect("an input");
        hash.update(format!("{input}\n{}\n", bytes.len()).as_bytes());
        hash.update(&bytes);
        hash.update(b"\n");
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_committed_dashboard_build_is_fresh() {
    let info = build_info();

    assert_eq!(
        info["inputs_sha256"].as_str(),
        Some(inputs_hash().as_str()),
        "web/dist was built from other sources: run web/build.sh and commit web/dist"
    );
    let dist = web_dir().join("dist");
    let mut built = Vec::new();
    files_below(&dist, &dist, &mut built);
    built.retain(|name| name != "build.json");
    built.sort();
    let mut listed: Vec<String> = info["files"].as_object().expect("files").keys().cloned().collect();
    listed.sort();
    assert_eq!(built, listed, "web/dist holds exactly the files its build wrote");
    let licences = std::fs::read_to_string(dist.join("LICENSES.txt")).expect("LICENSES.txt");
    assert!(licences.contains("uplot 1.6.32 (MIT)"), "bundled libraries are listed with version and licence");
}

/// Ways a page turns a string into markup or code. Merchant and platform text (names, titles) must reach the DOM
/// only as text (`textContent`, `createTextNode`, attributes), so none of these may appear in the dashboard source.
const HTML_AND_CODE_SINKS: [&str; 6] =
    ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval", "Function"];

/// The sinks `source` uses, by name: each where no identifier goes on before it (`document.writeln` counts as
/// `document.write`); `eval` and `Function` as whole words, `Function` only after `new`.
fn sinks_in(source: &str) -> Vec<&'static str> {
    let identifier = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    HTML_AND_CODE_SINKS
        .into_iter()
        .filter(|sink| {
            source.match_indices(sink).any(|(at, _)| {
                let before = &source[..at];
                let word_after = !source[at + sink.len()..].starts_with(identifier);
                match *sink {
                    "eval" => !before.ends_with(identifier) && word_after,
                    "Function" => {
                        let before = before.trim_end();
                        before.strip_suffix("new").is_some_and(|rest| !rest.ends_with(identifier)) && word_after
                    }
                    _ => !before.ends_with(identifier),
                }
            })
        })
        .collect()
}

#[test]
fn the_sink_scan_finds_markup_and_code_sinks_and_only_those() {
    let cases = [
        ("row.innerHTML = name", vec!["innerHTML"]),
        ("cell.outerHTML=`<b>${t}</b>`", vec!["outerHTML"]),
        ("list.insertAdjacentHTML('beforeend', html)", vec!["insertAdjacentHTML"]),
        ("document.writeln(y)", vec!["document.write"]),
        ("window.eval(code)", vec!["eval"]),
        ("const f = new  Function('a', body)", vec!["Function"]),
        ("a.innerHTML = x; eval(y)", vec!["innerHTML", "eval"]),
        ("el.textContent = name; evaluate(); retrieval; myeval(); renewFunction(x); new FunctionList()", vec![]),
    ];
    for (source, expected) in cases {
        assert_eq!(sinks_in(source), expected, "{source}");
    }
}

#[test]
fn the_dashboard_source_puts_no_string_into_markup_or_code() {
    let web = web_dir();
    let mut files = Vec::new();
    files_below(web, &web.join("src"), &mut files);
    let scripts: Vec<&String> = files.iter().filter(|f| f.ends_with(".js") || f.ends_with(".html")).collect();
    assert!(scripts.len() >= 10, "the dashboard's sources were found: {scripts:?}");

    let offending: Vec<(String, Vec<&str>)> = scripts
        .into_iter()
        .map(|file| (file.clone(), sinks_in(&std::fs::read_to_string(web.join(file)).expect("a source"))))
        .filter(|(_, sinks)| !sinks.is_empty())
        .collect();

    assert!(offending.is_empty(), "render merchant text with textContent / createTextNode instead: {offending:?}");
}

async fn get(app: &tests::TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.client.get(format!("{}{path}", app.address));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("a response")
}

#[tokio::test]
async fn the_page_is_served_compressed_uncached_and_under_its_own_policy() {
    let app = spawn_app_with(Backend::Sqlite, &[("SUPABASE_URL", "https://abcdefgh.supabase.co")]).await;

    for (path, accept, coding) in [
        ("/api/app/", "gzip, deflate, br", Some("br")),
        ("/", "gzip", Some("gzip")),
        ("/api/app/", "identity", None),
        ("/api/app/any/client/route", "br", Some("br")),
    ] {
        let response = get(&app, path, &[("accept-encoding", accept)]).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8", "{path}");
        assert_eq!(
            headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().expect("ascii")),
            coding,
            "{path} {accept}"
        );
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert_eq!(headers[header::VARY], "accept-encoding");
        let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
        for directive in ["script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "default-src 'none'"] {
            assert!(policy.contains(directive), "{policy}");
        }
        assert!(policy.contains("connect-src 'self' https://abcdefgh.supabase.co;"), "{policy}");
        assert!(!policy.contains("unsafe"), "no inline script or eval: {policy}");
        assert_eq!(headers["x-frame-options"], "DENY", "the API's other strict headers stay");
    }

    let first = get(&app, "/api/app/", &[("accept-encoding", "br")]).await;
    let etag = first.headers()[header::ETAG].to_str().expect("ascii").to_owned();
    let again = get(&app, "/api/app/", &[("accept-encoding", "br"), ("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304, "an unchanged page is revalidated, not resent");
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_only_their_plain_names_are_served() {
    let app = spawn_app_on(Backend::Sqlite).await;
    let info = build_info();
    let script = info["assets"]["script"].as_str().expect("the script's path");
    let style = info["assets"]["style"].as_str().expect("the style's path");

    for (path, content_type) in [(script, "text/javascript; charset=utf-8"), (style, "text/css; charset=utf-8")] {
        let plain = get(&app, path, &[]).await;
        assert_eq!(plain.status(), 200, "{path}");
        assert_eq!(plain.headers()[header::CONTENT_TYPE], content_type);
        assert_eq!(plain.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let on_disk = std::fs::read(web_dir().join("dist").join(path.trim_start_matches("/api/app/"))).expect("file");
        assert_eq!(plain.bytes().await.expect("body").as_ref(), on_disk.as_slice(), "the embedded bytes");

        let gzip = get(&app, path, &[("accept-encoding", "gzip")]).await;
        assert_eq!(gzip.headers()[header::CONTENT_ENCODING], "gzip");
        let brotli = get(&app, path, &[("accept-encoding", "br;q=1, gzip;q=0.5")]).await;
        assert_eq!(brotli.headers()[header::CONTENT_ENCODING], "br");
    }
    for missing in
        [format!("{script}.br"), "/api/app/assets/nothing-here.js".to_owned(), "/api/app/assets/.hidden".to_owned()]
    {
        let response = get(&app, &missing, &[]).await;
        assert_eq!(response.status(), 404, "{missing}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json", "{missing}");
    }
}

#[tokio::test]
async fn the_page_and_its_assets_are_outside_the_anonymous_rate_limit() {
    let app = spawn_app_with(Backend::Sqlite, &[("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "6")]).await;
    let script = build_info()["assets"]["script"].as_str().expect("script").to_owned();
    for _ in 0..10 {
        assert_eq!(get(&app, "/api/app/", &[]).await.status(), 200);
        assert_eq!(get(&app, &script, &[]).await.status(), 200);
    }
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(get(&app, "/api/v1/app-config", &[]).await.status().as_u16());
    }
    assert!(statuses.contains(&429), "the API's anonymous routes still are: {statuses:?}");
}

#[tokio::test]
async fn the_config_names_supabase_only_when_both_settings_are_there() {
    let none = spawn_app_on(Backend::Sqlite).await;
    let url_only = spawn_app_with(Backend::Sqlite, &[("SUPABASE_URL", "https://abcdefgh.supabase.co")]).await;
    let both = spawn_app_with(
        Backend::Sqlite,
        &[("SUPABASE_URL", "https://abcdefgh.supabase.co/"), ("SUPABASE_ANON_KEY", "public-anon-key")],
    )
    .await;

    let config = |app: tests::TestApp| async move {
        let response = app.get("/api/v1/app-config").await;
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.expect("JSON")
    };

    assert_eq!(config(none).await, json!({ "supabase": null, "dev_sign_in": false }));
    assert_eq!(config(url_only).await, json!({ "supabase": null, "dev_sign_in": false }));
    assert_eq!(
        config(both).await,
        json!({ "supabase": { "url": "https://abcdefgh.supabase.co", "anon_key": "public-anon-key" }, "dev_sign_in": false })
    );
}

#[tokio::test]
async fn development_sign_in_is_refused_off_the_dev_host() {
    let app = spawn_app_on(Backend::Sqlite).await;

    let response = app.post_json("/api/v1/dev/sign-in", &json!({})).await;

    assert_eq!(response.status(), 403);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    let problem: Value = response.json().await.expect("JSON");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("handler dev")), "{problem}");
    assert!(problem.get("access_token").is_none());
}

#[tokio::test]
async fn a_supabase_session_from_the_gotrue_fake_is_accepted_refreshed_and_revoked() {
    // Arrange: the app trusts the fake project (its issuer and HS256 secret), as a deployment trusts Supabase.
    let secret = format!("gotrue-secret-{}", Uuid::new_v4().simple());
    let fake = FakeGoTrue::start(GoTrueConfig {
        anon_key: "anon-key".into(),
        jwt_secret: secret.clone(),
        access_ttl: Duration::from_secs(60),
        users: vec![("owner@example.com".into(), "s3cret-pass".into())],
    })
    .await;
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("SUPABASE_URL", &fake.address),
            ("SUPABASE_ANON_KEY", "anon-key"),
            ("SUPABASE_JWT_SECRET", &secret),
            ("AUTH_ISSUER", ""),
        ],
    )
    .await;
    let gotrue = |path: &str, body: Value, token: Option<&str>| {
        let mut request =
            app.client.post(format!("{}/auth/v1/{path}", fake.address)).header("apikey", "anon-key").json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    // Act and assert: a password sign-in gives a token the API accepts for that user.
    let wrong = gotrue("token?grant_type=password", json!({"email": "owner@example.com", "password": "nope"}), None)
        .await
        .expect("sign-in");
    assert_eq!(wrong.status(), 400);
    let session: Value =
        gotrue("token?grant_type=password", json!({"email": "owner@example.com", "password": "s3cret-pass"}), None)
            .await
            .expect("sign-in")
            .json()
            .await
            .expect("JSON");
    let access = session["access_token"].as_str().expect("access token");
    let me: Value = app.get_as(access, "/api/v1/me").await.json().await.expect("JSON");
    assert_eq!(me["user_id"], json!(fake.user_id("owner@example.com").expect("the user")));
    assert_eq!(me["email"], "owner@example.com");

    // A refresh rotates: the new token works, the used refresh token does not again.
    let refresh = session["refresh_token"].as_str().expect("refresh token");
    let renewed: Value = gotrue("token?grant_type=refresh_token", json!({ "refresh_token": refresh }), None)
        .await
        .expect("refresh")
        .json()
        .await
        .expect("JSON");
    let renewed_access = renewed["access_token"].as_str().expect("a new access token");
    assert_eq!(app.get_as(renewed_access, "/api/v1/me").await.status(), 200);
    let reused =
        gotrue("token?grant_type=refresh_token", json!({ "refresh_token": refresh }), None).await.expect("refresh");
    assert_eq!(reused.status(), 400, "a refresh token is good for one refresh");

    // Sign-out revokes the session's refresh tokens.
    let logout = gotrue("logout", json!({}), Some(renewed_access)).await.expect("logout");
    assert_eq!(logout.status(), 204);
    let after = gotrue("token?grant_type=refresh_token", json!({ "refresh_token": renewed["refresh_token"] }), None)
        .await
        .expect("refresh");
    assert_eq!(after.status(), 400);
    assert_eq!(
        fake.requests(),
        [
            "grant_type=password",
            "grant_type=password",
            "grant_type=refresh_token",
            "grant_type=refresh_token",
            "logout",
            "grant_type=refresh_token"
        ]
    );
    assert_ne!(TEST_ISSUER, format!("{}/auth/v1", fake.address), "the app checked the fake's issuer, not the tests'");
}

async fn the_overview_compares_the_range_with_the_previous_period(backend: Backend) {
    // Arrange: 10 beans a day at 12.50 for the 35 days before today.
    let (shop, _) = Shop::with_beans(backend, &[]).await;

    // Act: the default range, the 30 days ending yesterday.
    let (status, overview) = shop.get("/api/v1/analytics/overview").await;

    // Assert: 30 days of 125.00 against the 5 selling days of the previous 30.
    assert_eq!(status, 200, "{overview}");
    let figure = |metric: &str| {
        overview["figures"].as_array().expect("figures").iter().find(|f| f["metric"] == metric).cloned().expect(metric)
    };
    assert_eq!(
        figure("revenue"),
        json!({ "metric": "revenue", "value": "3750.00", "previous": "625.00", "change": 5.0 })
    );
    assert_eq!(figure("orders"), json!({ "metric": "orders", "value": 30, "previous": 5, "change": 5.0 }));
    assert_eq!(figure("aov"), json!({ "metric": "aov", "value": "125.00", "previous": "125.00", "change": 0.0 }));
    assert_eq!(
        figure("conversion_rate"),
        json!({ "metric": "conversion_rate", "value": null, "previous": null, "change": null })
    );
    let revenue = overview["revenue"].as_array().expect("revenue points");
    assert_eq!(revenue.len(), 30);
    assert!(revenue.iter().all(|p| p["value"] == "125.00"), "{revenue:?}");
    let previous: Vec<&Value> =
        overview["previous_revenue"].as_array().expect("previous points").iter().map(|p| &p["value"]).collect();
    assert_eq!(previous.len(), 30);
    assert_eq!(previous.iter().filter(|v| **v == "125.00").count(), 5);
    assert_eq!(previous.iter().filter(|v| **v == "0.00").count(), 25);
    assert_eq!(overview["currency"], "USD");

    // The same range through the time series gives the same total, and weeks add up to it too.
    let (from, to) = (overview["from"].as_str().expect("from"), overview["to"].as_str().expect("to"));
    let (_, series) = shop.get(&format!("/api/v1/analytics/timeseries?metric=revenue&from={from}&to={to}")).await;
    assert_eq!(series["total"], figure("revenue")["value"]);
    let (_, weekly) = shop.get(&format!("/api/v1/analytics/overview?bucket=week&from={from}&to={to}")).await;
    assert_eq!(weekly["figures"], overview["figures"]);
    assert_eq!(weekly["bucket"], "week");

    let (status, bad) = shop.get("/api/v1/analytics/overview?bucket=hour&form=2026-01-01").await;
    assert_eq!(status, 400, "{bad}");
    let fields: Vec<&str> =
        bad["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["form", "bucket"], "each bad parameter is named");
}

#[tokio::test]
async fn on_postgres_the_overview_compares_the_range_with_the_previous_period() {
    the_overview_compares_the_range_with_the_previous_period(Backend::Postgres).await;
}

#[tokio::test]
async fn on_sqlite_the_overview_compares_the_range_with_the_previous_period() {
    the_overview_compares_the_range_with_the_previous_period(Backend::Sqlite).await;
}

async fn the_product_list_shows_unit_costs_30_day_revenue_and_categories(backend: Backend) {
    let (shop, beans) = Shop::with_beans(backend, &[]).await;
    let cups = shop.product("cups", "Paper cups", 300, 500).await;
    let patch = shop
        .app
        .request_in(Method::PATCH, &shop.token, shop.organization, &format!("/api/v1/products/{beans}"))
        .json(&json!({ "unit_cost": "6.10" }))
        .send()
        .await
        .expect("PATCH");
    assert_eq!(patch.status(), 200);

    let (status, page) = shop.get("/api/v1/products?sort=title").await;

    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().expect("items");
    let row = |id: Uuid| items.iter().find(|p| p["id"] == json!(id)).expect("listed");
    assert_eq!((&row(beans)["unit_cost"], &row(beans)["revenue_30d"]), (&json!("6.10"), &json!("3750.00")));
    assert_eq!((&row(cups)["unit_cost"], &row(cups)["revenue_30d"]), (&Value::Null, &json!("0.00")));
    let (_, found) = shop.get("/api/v1/products?q=espresso").await;
    assert_eq!(found["items"][0]["revenue_30d"], "3750.00", "searches carry the figures too: {found}");

    let (status, categories) = shop.get("/api/v1/products/categories").await;
    assert_eq!(status, 200);
    assert_eq!(categories, json!({ "items": [{ "name": "Coffee", "products": 2 }], "next_cursor": null }));

    // Another organization sees neither the products nor their categories.
    let stranger = shop.app.token_for(Uuid::new_v4());
    let other = shop.app.create_organization(&stranger, "Elsewhere", "UTC").await;
    let response =
        shop.app.request_in(Method::GET, &stranger, other, "/api/v1/products/categories").send().await.expect("GET");
    assert_eq!(response.json::<Value>().await.expect("JSON")["items"], json!([]));
}

#[tokio::test]
async fn on_postgres_the_product_list_shows_unit_costs_30_day_revenue_and_categories() {
    the_product_list_shows_unit_costs_30_day_revenue_and_categories(Backend::Postgres).await;
}

#[tokio::test]
async fn on_sqlite_the_product_list_shows_unit_costs_30_day_revenue_and_categories() {
    the_product_list_shows_unit_costs_30_day_revenue_and_categories(Backend::Sqlite).await;
}

async fn snoozed_advice_leaves_lists_and_the_briefing_until_reopened(backend: Backend) {
    // Arrange
    let (shop, beans) = Shop::with_beans(backend, &[]).await;
    let (_, page) = shop.get("/api/v1/advice?kind=restock").await;
    let id = page["items"][0]["id"].as_str().expect("an id").to_owned();
    assert_eq!(page["items"][0]["snoozed_until"], Value::Null);
    let (_, about) = shop.get(&format!("/api/v1/advice?product={beans}")).await;
    assert!(about["items"].as_array().expect("items").iter().any(|i| i["id"] == json!(id)), "{about}");
    let (_, none) = shop.get(&format!("/api/v1/advice?product={}", Uuid::new_v4())).await;
    assert_eq!(none["items"], json!([]));

    // Act
    let (status, snoozed) = shop.post(&format!("/api/v1/advice/{id}/snooze"), &json!({ "days": 7 })).await;

    // Assert: out of the open list and the briefing's counts, in the snoozed list, still so after a refresh.
    assert_eq!(status, 200, "{snoozed}");
    let until =
        chrono::DateTime::parse_from_rfc3339(snoozed["snoozed_until"].as_str().expect("until")).expect("RFC 3339");
    let days = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "7 days ahead, not {days} hours");
    assert_eq!(snoozed["status"], "open");
    assert_eq!(shop.get("/api/v1/advice?kind=restock").await.1["items"], json!([]));
    assert_eq!(shop.get("/api/v1/advice?kind=restock&status=snoozed").await.1["items"][0]["id"], json!(id));
    let (_, summary) = shop.get("/api/v1/advice/summary").await;
    assert!(summary["open"].get("restock").is_none_or(|n| *n == 0), "{summary}");
    shop.refresh().await;
    assert_eq!(shop.get("/api/v1/advice?kind=restock&status=snoozed").await.1["items"][0]["id"], json!(id));

    // Reopening ends the snooze.
    let (_, reopened) = shop.post(&format!("/api/v1/advice/{id}/status"), &json!({ "status": "open" })).await;
    assert_eq!(reopened["snoozed_until"], Value::Null);
    assert_eq!(shop.get("/api/v1/advice?kind=restock").await.1["items"][0]["id"], json!(id));

    // Bad lengths are refused naming the field; another organization's advice is not found.
    for days in [json!(0), json!(91), json!(-3), json!(9_223_372_036_854_775_807_i64), json!(i64::MIN)] {
        let (status, problem) = shop.post(&format!("/api/v1/advice/{id}/snooze"), &json!({ "days": days })).await;
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("days")), "{days}: {problem}");
    }
    let (status, _) = shop.post(&format!("/api/v1/advice/{id}/snooze"), &json!({ "weeks": 1 })).await;
    assert_eq!(status, 422, "unknown fields are refused");
    let (status, problem) = shop.get("/api/v1/advice?status=later").await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (400, Some("status")));
    let stranger = shop.app.token_for(Uuid::new_v4());
    let other = shop.app.create_organization(&stranger, "Elsewhere", "UTC").await;
    let response = shop
        .app
        .request_in(Method::POST, &stranger, other, &format!("/api/v1/advice/{id}/snooze"))
        .json(&json!({ "days": 1 }))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 404);
    assert_eq!(shop.get(&format!("/api/v1/advice/{id}")).await.1["snoozed_until"], Value::Null, "unchanged");
}

#[tokio::test]
async fn on_postgres_snoozed_advice_leaves_lists_and_the_briefing_until_reopened() {
    snoozed_advice_leaves_lists_and_the_briefing_until_reopened(Backend::Postgres).await;
}

#[tokio::test]
async fn on_sqlite_snoozed_advice_leaves_lists_and_the_briefing_until_reopened() {
    snoozed_advice_leaves_lists_and_the_briefing_until_reopened(Backend::Sqlite).await;
}
