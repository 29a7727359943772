//! The demo organization (`handler dev --demo`), checked against the bundled Superstore file read independently
//! here: `gzip -dc` and a hand-written CSV reader, amounts rounded to cents on their decimal digits, none of the
//! loader's code. On both backends, and end to end through the real binary.

use std::{
    collections::HashSet,
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use shared::{analytics::Tz, db::Database};
use sqlx::types::chrono::{DateTime, NaiveDate, Utc};
use tests::{Backend, TestApp, spawn_app_on};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};
use uuid::Uuid;

/// The figures of the bundled file.
#[derive(Debug)]
struct Expected {
    /// Distinct `Product ID`s.
    product_ids: usize,
    /// Distinct (`Product ID`, `Product Name`) pairs: the demo's products.
    products: usize,
    orders: usize,
    lines: usize,
    units: i64,
    /// The sum of every line's `Sales` rounded half-up to cents.
    revenue_minor: i64,
    /// The same for the lines of the last 90 days of the file.
    last_90_days_revenue_minor: i64,
}

fn expected() -> Expected {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/superstore.csv.gz");
    let output = std::process::Command::new("gzip").arg("-dc").arg(&path).output().expect("gzip runs");
    assert!(output.status.success(), "gzip -dc {}", path.display());
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let mut rows = text.lines().map(csv_fields);
    let header = rows.next().expect("a header row");
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} column"));
    let (order, date, product, name, sales, quantity) = (
        column("Order ID"),
        column("Order Date"),
        column("Product ID"),
        column("Product Name"),
        column("Sales"),
        column("Quantity"),
    );
    let rows: Vec<Vec<String>> = rows.collect();
    let day = |row: &Vec<String>| row[date].parse::<NaiveDate>().expect("an ISO date");
    let last_day = rows.iter().map(day).max().expect("rows");
    let mut last_90_days_revenue_minor = 0;
    let (mut product_ids, mut products, mut orders) = (HashSet::new(), HashSet::new(), HashSet::new());
    let (mut lines, mut units, mut revenue_minor) = (0, 0, 0);
    for row in rows {
        product_ids.insert(row[product].clone());
        products.insert((row[product].clone(), row[name].clone()));
        orders.insert(row[order].clone());
        lines += 1;
        units += row[quantity].parse::<i64>().expect("whole units");
        revenue_minor += cents_half_up(&row[sales]);
        if last_day.signed_duration_since(day(&row)).num_days() < 90 {
            last_90_days_revenue_minor += cents_half_up(&row[sales]);
        }
    }
    Expected {
        product_ids: product_ids.len(),
        products: products.len(),
        orders: orders.len(),
        lines,
        units,
        revenue_minor,
        last_90_days_revenue_minor,
    }
}

/// One CSV record: comma-separated, fields optionally in double quotes with `""` for a quote. (The file has no
/// line breaks inside fields.)
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().expect("a field").push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().expect("a field").push(c),
        }
    }
    fields
}

/// A non-negative decimal like `957.5775` in cents, rounded half-up on its digits: 95758.
fn cents_half_up(text: &str) -> i64 {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = format!("{fraction:0<4}");
    let cents = whole.parse::<i64>().expect("dollars") * 100 + digits[..2].parse::<i64>().expect("cents");
    cents + i64::from(digits[2..].parse::<i64>().expect("sub-cents") >= 50)
}

/// What the database holds for an organization, in aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    products: i64,
    variants: i64,
    orders: i64,
    order_lines: i64,
    units: i64,
    line_revenue_minor: i64,
    order_totals_minor: i64,
    inventory: i64,
    events: i64,
    rollup_revenue_minor: i64,
    rollup_units: i64,
    rollup_views: i64,
    last_placed_at: Option<DateTime<Utc>>,
}

async fn snapshot(db: &Database, organization: Uuid) -> Snapshot {
    const SQL: &str = "SELECT \
         (SELECT count(*) FROM products WHERE organization_id = $1), \
         (SELECT count(*) FROM variants WHERE organization_id = $1), \
         (SELECT count(*) FROM orders WHERE organization_id = $1), \
         (SELECT count(*) FROM order_lines WHERE organization_id = $1), \
         (SELECT CAST(coalesce(sum(quantity), 0) AS BIGINT) FROM order_lines WHERE organization_id = $1), \
         (SELECT CAST(coalesce(sum(total_minor), 0) AS BIGINT) FROM order_lines WHERE organization_id = $1), \
         (SELECT CAST(coalesce(sum(total_minor), 0) AS BIGINT) FROM orders WHERE organization_id = $1), \
         (SELECT CAST(coalesce(sum(inventory), 0) AS BIGINT) FROM variants WHERE organization_id = $1), \
         (SELECT count(*) FROM analytics_events WHERE organization_id = $1), \
         (SELECT CAST(coalesce(sum(revenue_minor), 0) AS BIGINT) FROM daily_totals WHERE organization_id = $1), \
         (SELECT CAST(coalesce(sum(units), 0) AS BIGINT) FROM daily_totals WHERE organization_id = $1), \
         (SELECT CAST(coalesce(sum(views), 0) AS BIGINT) FROM daily_totals WHERE organization_id = $1)";
    const LAST: &str = "SELECT placed_at FROM orders WHERE organization_id = $1 ORDER BY placed_at DESC LIMIT 1";
    type Row = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
    let (row, last_placed_at): (Row, Option<DateTime<Utc>>) = match db {
        Database::Postgres(pool) => (
            sqlx::query_as(SQL).bind(organization).fetch_one(pool).await.expect("snapshot"),
            sqlx::query_scalar(LAST).bind(organization).fetch_optional(pool).await.expect("last order"),
        ),
        Database::Sqlite(pool) => (
            sqlx::query_as(SQL).bind(organization).fetch_one(pool).await.expect("snapshot"),
            sqlx::query_scalar(LAST).bind(organization).fetch_optional(pool).await.expect("last order"),
        ),
    };
    Snapshot {
        products: row.0,
        variants: row.1,
        orders: row.2,
        order_lines: row.3,
        units: row.4,
        line_revenue_minor: row.5,
        order_totals_minor: row.6,
        inventory: row.7,
        events: row.8,
        rollup_revenue_minor: row.9,
        rollup_units: row.10,
        rollup_views: row.11,
        last_placed_at,
    }
}

fn new_york() -> Tz {
    "America/New_York".parse().expect("a time zone")
}

fn yesterday_in_new_york() -> NaiveDate {
    let today = Utc::now().with_timezone(&new_york()).date_naive();
    today.pred_opt().expect("a day before today")
}

async fn the_demo_matches_the_bundled_file_and_loads_once(backend: Backend) {
    // Arrange
    let app = spawn_app_on(backend).await;
    let admin = Uuid::new_v4();
    let expected = expected();
    assert_eq!(
        (expected.product_ids, expected.products, expected.orders, expected.lines),
        (1_862, 1_894, 5_009, 9_994),
        "the bundled file is the published one"
    );

    // Act
    let first = shared::demo::load(&app.state.db, admin).await.expect("the demo loads");
    let loaded = snapshot(&app.state.db, first.organization).await;

    // Assert: the catalogue and the orders are the file's, to the unit and the cent.
    assert!(first.written);
    assert_eq!(loaded.products, expected.products as i64);
    assert_eq!(loaded.variants, expected.products as i64, "one variant each");
    assert_eq!(loaded.orders, expected.orders as i64);
    assert_eq!(loaded.order_lines, expected.lines as i64);
    assert_eq!(loaded.units, expected.units);
    assert_eq!(loaded.line_revenue_minor, expected.revenue_minor, "revenue to the cent");
    assert_eq!(loaded.order_totals_minor, expected.revenue_minor, "order totals are the sums of their lines");
    assert_eq!(loaded.rollup_revenue_minor, expected.revenue_minor, "the rollups count every fulfilled order");
    assert_eq!(loaded.rollup_units, expected.units);
    assert_eq!(loaded.events, first.events as i64);
    assert!(loaded.rollup_views > 10_000, "storefront views: {}", loaded.rollup_views);
    let last = loaded.last_placed_at.expect("orders").with_timezone(&new_york());
    assert_eq!(last.date_naive(), yesterday_in_new_york(), "the history ends yesterday in New York");
    assert_eq!(first.history_ends, yesterday_in_new_york());
    assert_eq!(
        app.state.db.stored_rollups(first.organization).await.expect("stored rollups"),
        app.state.db.recompute_rollups(first.organization).await.expect("recomputed rollups"),
        "rollups equal a recomputation from raw rows"
    );

    // A second load finds everything in place and writes nothing.
    let second = shared::demo::load(&app.state.db, admin).await.expect("the demo loads again");
    assert!(!second.written, "{second:?}");
    assert_eq!((second.organization, second.store), (first.organization, first.store));
    assert_eq!(snapshot(&app.state.db, first.organization).await, loaded);

    // A load that was cut short (here: orders missing) is completed by the next, through idempotent upserts.
    let missing: Vec<String> = ["CA-2016-152156", "US-2015-108966"].map(String::from).into();
    let deleted = app.state.db.delete_orders(first.organization, first.store, &missing).await.expect("delete");
    assert_eq!(deleted, 2);
    let third = shared::demo::load(&app.state.db, admin).await.expect("the demo completes");
    assert!(third.written);
    assert_eq!(snapshot(&app.state.db, first.organization).await, loaded, "completed, nothing duplicated");
    assert_eq!(
        app.state.db.stored_rollups(first.organization).await.expect("stored rollups"),
        app.state.db.recompute_rollups(first.organization).await.expect("recomputed rollups"),
    );

    // The catalogue answers through the API with the file's list price.
    let token = app.token_for(admin);
    let found: serde_json::Value =
        app.get_as(&token, "/api/v1/products?q=Bretford%20CR4500&limit=5").await.json().await.expect("JSON");
    let table = &found["items"][0];
    assert_eq!(table["title"], "Bretford CR4500 Series Slim Rectangular Table", "{found}");
    assert_eq!((table["price"].as_str(), table["currency"].as_str()), (Some("348.21"), Some("USD")), "{found}");
}

#[tokio::test]
async fn the_demo_on_postgres_matches_the_bundled_file_and_loads_once() {
    the_demo_matches_the_bundled_file_and_loads_once(Backend::Postgres).await;
}

#[tokio::test]
async fn the_demo_on_sqlite_matches_the_bundled_file_and_loads_once() {
    the_demo_matches_the_bundled_file_and_loads_once(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_demo_stays_in_its_own_organization() {
    // Arrange: the admin already works in another organization.
    let app: TestApp = spawn_app_on(Backend::Sqlite).await;
    let admin = Uuid::new_v4();
    let token = app.token_for(admin);
    let created = app.post_json_as(&token, "/api/v1/organizations", &serde_json::json!({"name": "Acme"})).await;
    assert_eq!(created.status(), 201);
    let acme: serde_json::Value = created.json().await.expect("JSON");

    // Act
    let demo = shared::demo::load(&app.state.db, admin).await.expect("the demo loads");

    // Assert
    assert_ne!(acme["id"].as_str(), Some(demo.organization.to_string().as_str()));
    let acme_id = acme["id"].as_str().expect("an id").parse::<Uuid>().expect("a UUID");
    assert_eq!(snapshot(&app.state.db, acme_id).await.products, 0, "nothing lands in Acme");
    let memberships = app.state.db.memberships(admin).await.expect("memberships");
    let names: Vec<&str> = memberships.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["Acme", "Demo Superstore"]);
}

/// Starts `handler dev --demo` in `workdir` and returns it with its stdout lines once it serves.
async fn start_dev_demo(workdir: &Path, port: u16) -> (tokio::process::Child, Arc<Mutex<Vec<String>>>) {
    let mut command = Command::new(tests::handler_binary());
    command
        .args(["dev", "--demo", "--port", &port.to_string(), "--data-dir", "data"])
        .current_dir(workdir)
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for name in ["DATABASE_URL", "SUPABASE_JWT_SECRET", "SUPABASE_URL", "AUTH_ISSUER", "FUNCTIONS_CUSTOMHANDLER_PORT"] {
        command.env_remove(name);
    }
    let mut child = command.spawn().expect("spawn handler dev --demo");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut reader = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let sink = Arc::clone(&lines);
    tokio::spawn(async move {
        while let Ok(Some(line)) = reader.next_line().await {
            sink.lock().expect("lock").push(line);
        }
    });
    let health = format!("http://127.0.0.1:{port}/api/health");
    tests::wait_until_answering(&reqwest::Client::new(), &health, Duration::from_secs(120)).await;
    (child, lines)
}

async fn stop(mut child: tokio::process::Child) {
    let pid = child.id().expect("running").to_string();
    Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.expect("exits").expect("status");
    assert!(status.success(), "{status}");
}

/// The printed line containing `needle`, waiting a little for stdout to arrive.
async fn printed(lines: &Mutex<Vec<String>>, needle: &str) -> String {
    for _ in 0..100 {
        if let Some(line) = lines.lock().expect("lock").iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no `{needle}` in output: {:#?}", lines.lock().expect("lock"));
}

/// The quoted URL of a printed curl line.
fn url_of(line: &str) -> String {
    line.rsplit('"').nth(1).expect("a quoted URL").to_owned()
}

#[tokio::test]
async fn handler_dev_demo_prints_a_token_and_requests_that_answer_with_demo_data() {
    // Arrange
    let workdir = tempfile::tempdir().expect("temporary folder");
    let port = tests::free_port();

    // Act
    let (dev, lines) = start_dev_demo(workdir.path(), port).await;

    // Assert: the printed token and search request work as printed.
    let summary = printed(&lines, "Demo Superstore:").await;
    assert!(summary.contains("1894 products, 5009 orders") && summary.contains("loaded in"), "{summary}");
    let token = printed(&lines, "export TOKEN=").await;
    let token = token.trim().trim_start_matches("export TOKEN=").to_owned();
    let search = url_of(&printed(&lines, "/api/v1/products?").await);
    let client = reqwest::Client::new();
    let found = client.get(&search).bearer_auth(&token).send().await.expect("search");
    assert_eq!(found.status(), 200);
    let found: serde_json::Value = found.json().await.expect("JSON");
    let items = found["items"].as_array().expect("items");
    assert!(!items.is_empty(), "{found}");
    assert!(items.iter().all(|p| p["title"].as_str().is_some_and(|t| t.contains("Chair"))), "{found}");
    let series = url_of(&printed(&lines, "/api/v1/analytics/timeseries?").await);
    assert!(series.contains(&format!("to={}", yesterday_in_new_york())), "{series}");
    let revenue = client.get(&series).bearer_auth(&token).send().await.expect("time series");
    assert_eq!(revenue.status(), 200);
    let revenue: serde_json::Value = revenue.json().await.expect("JSON");
    assert_eq!(revenue["items"].as_array().map(Vec::len), Some(90), "{revenue}");
    let cents = expected().last_90_days_revenue_minor;
    let total = format!("{}.{:02}", cents / 100, cents % 100);
    assert_eq!(revenue["total"].as_str(), Some(total.as_str()), "the last 90 days of the file, to the cent");
    stop(dev).await;

    // A restart on the same data finds the demo in place.
    let (dev, lines) = start_dev_demo(workdir.path(), port).await;
    let summary = printed(&lines, "Demo Superstore:").await;
    assert!(summary.contains("already loaded"), "{summary}");
    stop(dev).await;
}
