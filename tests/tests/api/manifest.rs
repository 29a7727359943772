//! One source of truth: every `function.json` is answered by the router, and every trigger route has a
//! `function.json`.

use std::collections::BTreeSet;

use functions::manifest::{self, Trigger};
use tests::{Backend, spawn_app_on};

/// A concrete path for a route template (`v1/{*rest}` → `v1/me`, `webhooks/{*rest}` → `webhooks/shopify`).
fn sample_path(route: &str) -> String {
    let rest = if route.starts_with("webhooks/") { "shopify" } else { "me" };
    let concrete: Vec<String> = route
        .split('/')
        .map(|segment| match segment {
            "{*rest}" => rest.to_owned(),
            s if s.starts_with('{') => uuid::Uuid::nil().to_string(),
            s => s.to_owned(),
        })
        .collect();
    format!("/api/{}", concrete.join("/"))
}

#[tokio::test]
async fn every_function_json_is_answered_by_the_router() {
    let app = spawn_app_on(Backend::Sqlite).await;
    for function in manifest::functions().expect("manifest parses") {
        match &function.trigger {
            Trigger::Http { route, methods } => {
                let path = sample_path(route);
                let method = methods.first().map_or("GET", String::as_str);
                let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
                let response = app
                    .client
                    .request(method.clone(), format!("{}{path}", app.address))
                    .send()
                    .await
                    .expect("response");
                assert_ne!(response.status(), 405, "{}: {method} {path} is not routed", function.name);
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                let detail = body["detail"].as_str().unwrap_or_default();
                assert!(!detail.starts_with("no route"), "{}: {method} {path} has no route", function.name);
            }
            Trigger::Timer { .. } | Trigger::Queue { .. } | Trigger::EventGrid { .. } => {
                // An empty invocation reaches the handler, which rejects it for its missing binding.
                let response = app.post_json(&format!("/{}", function.name), &serde_json::json!({})).await;
                assert_eq!(response.status(), 400, "{} is not routed", function.name);
                let body: serde_json::Value = response.json().await.expect("problem");
                assert!(body["detail"].as_str().unwrap_or_default().contains("Data."), "{}: {body}", function.name);
            }
        }
    }
}

#[test]
fn every_trigger_route_has_a_function_json() {
    let declared: BTreeSet<String> = manifest::functions()
        .expect("manifest parses")
        .into_iter()
        .filter(|f| !matches!(f.trigger, Trigger::Http { .. }))
        .map(|f| f.name)
        .collect();
    let routed: BTreeSet<String> = functions::triggers::names().map(str::to_owned).collect();
    assert_eq!(routed, declared);
}

#[test]
fn the_manifest_has_each_trigger_kind_we_deploy() {
    let functions = manifest::functions().expect("manifest parses");
    let has = |pred: fn(&Trigger) -> bool| functions.iter().any(|f| pred(&f.trigger));
    assert!(has(|t| matches!(t, Trigger::Http { .. })), "httpTrigger");
    assert!(has(|t| matches!(t, Trigger::Timer { .. })), "timerTrigger");
    assert!(has(|t| matches!(t, Trigger::Queue { .. })), "queueTrigger");
    assert!(has(|t| matches!(t, Trigger::EventGrid { .. })), "eventGridTrigger");
}

/// `func start` reads `local.settings.json`, made from the example: a setting a binding names (`%NAME%`, or a
/// `connection`) missing there leaves it unresolved, and the host refuses to start that function.
#[test]
fn local_settings_example_holds_every_setting_a_function_json_names() {
    let example: serde_json::Value =
        serde_json::from_str(include_str!("../../../local.settings.example.json")).expect("example parses");
    let values = example["Values"].as_object().expect("a Values object");
    let value = |setting: &str| values.get(setting).and_then(serde_json::Value::as_str).unwrap_or_default();
    let mut named = BTreeSet::new();
    for function in manifest::functions().expect("manifest parses") {
        for setting in function.json.split('%').skip(1).step_by(2) {
            assert!(!value(setting).is_empty(), "{}: {setting} is not in local.settings.example.json", function.name);
            named.insert(setting.to_owned());
        }
        let json: serde_json::Value = serde_json::from_str(function.json).expect("function.json parses");
        for connection in json["bindings"].as_array().into_iter().flatten().filter_map(|b| b["connection"].as_str()) {
            // A connection is one setting, or settings sharing its name as a prefix (`<name>__accountName`).
            let set = !value(connection).is_empty() || values.keys().any(|k| k.starts_with(&format!("{connection}__")));
            assert!(set, "{}: connection {connection} is not in local.settings.example.json", function.name);
        }
        if let Trigger::Timer { schedule: manifest::ScheduleSource::Setting(setting), .. } = &function.trigger {
            let schedule = value(setting);
            assert!(shared::schedule::Schedule::parse(schedule).is_ok(), "{setting}: {schedule:?} is no NCRONTAB");
        }
    }
    assert!(named.len() >= 2, "the timers name their schedule settings: {named:?}");
}
