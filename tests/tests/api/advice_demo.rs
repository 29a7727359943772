//! Acceptance of the advisor on the demo organization: loaded into a fresh database, its advice holds at least four
//! kinds of recommendation, each with evidence a merchant can check by hand (recomputed here from the figures the
//! API shows), and the summary reads as sentences without OpenAI.

use std::collections::BTreeMap;

use serde_json::Value;
use tests::{Backend, spawn_app_on};
use uuid::Uuid;

fn figure(item: &Value, name: &str) -> Option<Value> {
    item["evidence"]["figures"].as_array()?.iter().find(|f| f["name"] == name).map(|f| f["value"].clone())
}

fn int(item: &Value, name: &str) -> i64 {
    figure(item, name).and_then(|v| v.as_i64()).unwrap_or_else(|| panic!("{name} in {item:#}"))
}

/// A money figure ("123.45") in cents.
fn cents(item: &Value, name: &str) -> i64 {
    let text = figure(item, name).and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| panic!("{name}"));
    shared::money::parse_minor(&text, 2).expect("a decimal amount")
}

async fn the_demo_gets_advice_of_four_kinds_with_evidence_to_check_by_hand(backend: Backend) {
    // Arrange
    let app = spawn_app_on(backend).await;
    let admin = Uuid::new_v4();
    shared::demo::load(&app.state.db, admin).await.expect("the demo loads");
    let token = app.token_for(admin);

    // Act
    let summary: Value = app.get_as(&token, "/api/v1/advice/summary").await.json().await.expect("JSON");

    // Assert: the briefing reads without OpenAI and counts at least four kinds.
    assert_eq!(summary["source"], "rules", "{summary:#}");
    assert_eq!(summary["fallback_reason"], "Azure OpenAI is not configured");
    assert!(summary["headline"].as_str().is_some_and(|h| h.ends_with('.') && h.len() > 40), "{summary:#}");
    let paragraphs = summary["paragraphs"].as_array().expect("paragraphs");
    assert!(paragraphs.len() >= 3, "{summary:#}");
    assert!(paragraphs.iter().all(|p| p.as_str().is_some_and(|p| p.ends_with('.'))), "{summary:#}");
    let open: BTreeMap<String, i64> = summary["open"]
        .as_object()
        .expect("counts")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(open.len() >= 4, "at least four kinds: {open:?}");

    for kind in open.keys() {
        let page: Value =
            app.get_as(&token, &format!("/api/v1/advice?kind={kind}&limit=20")).await.json().await.expect("JSON");
        let items = page["items"].as_array().expect("items");
        assert!(!items.is_empty(), "{kind}: {page:#}");
        for item in items {
            assert!(item["title"].as_str().is_some_and(|t| !t.is_empty()), "{item:#}");
            assert!(item["action"].as_str().is_some_and(|t| !t.is_empty()), "{item:#}");
            assert!(item["evidence"]["formula"].as_str().is_some_and(|f| !f.is_empty()), "{item:#}");
            let figures = item["evidence"]["figures"].as_array().expect("figures");
            assert!(
                !figures.is_empty() && figures.iter().all(|f| f["display"].as_str().is_some_and(|d| !d.is_empty()))
            );
            // Recompute what a merchant would, from the figures shown.
            match kind.as_str() {
                "restock" => {
                    let (units, days, stock) =
                        (int(item, "units_sold"), int(item, "days_observed"), int(item, "inventory"));
                    let (lead, target) = (int(item, "lead_time_days"), int(item, "target_cover_days"));
                    let expected = (units * (lead + target) + days - 1) / days - stock;
                    assert_eq!(int(item, "reorder_quantity"), expected, "⌈units × (L + T) ÷ days⌉ − stock: {item:#}");
                }
                "dead_stock" if figure(item, "unit_cost").is_some() => {
                    assert_eq!(cents(item, "capital"), int(item, "inventory") * cents(item, "unit_cost"), "{item:#}");
                }
                "slow_mover" => {
                    assert_eq!(
                        int(item, "excess_units"),
                        int(item, "inventory") - int(item, "units_needed"),
                        "{item:#}"
                    );
                }
                "conversion_gap" => {
                    let (views, orders) = (int(item, "views") as f64, int(item, "orders") as f64);
                    let rate = figure(item, "conversion_rate").and_then(|v| v.as_f64()).expect("a rate");
                    assert!((rate - orders / views).abs() < 1e-6, "{item:#}");
                }
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn on_sqlite_the_demo_gets_advice_of_four_kinds_with_evidence_to_check_by_hand() {
    the_demo_gets_advice_of_four_kinds_with_evidence_to_check_by_hand(Backend::Sqlite).await;
}

#[tokio::test]
async fn on_postgres_the_demo_gets_advice_of_four_kinds_with_evidence_to_check_by_hand() {
    the_demo_gets_advice_of_four_kinds_with_evidence_to_check_by_hand(Backend::Postgres).await;
}
