//! Queue-consumer scaling benchmark: a `SyncStores` tick queues one message per due store, and 1, 2 and 4
//! `handler serve` processes take them from one queue, as Functions instances scaled out on one storage queue do.
//! Prints stores synced per minute for each, and where the CPU went, to say what limits the figure.
//!
//! Each scenario: a fresh PostgreSQL database, `BENCH_STORES` Shopify stores (default 2,000; a few products and
//! orders each) connected through the API, on the GraphQL protocol fake with `BENCH_LATENCY_MS` (default 50) added
//! to every answer, as a platform across the internet takes; then one tick, whose `stores` messages go on one
//! shared queue. This process plays the Functions host: each consumer takes `BATCH` messages at once (`host.json`
//! `batchSize`), and a run that queues its message again (`next`) goes back on the queue. Timed from the tick to
//! the last message.
//!
//! CPU columns are shares of the machine's cores over the timed span: the consumers, PostgreSQL (every `postgres`
//! process), this process (the fake and the host's part) and everything else.
//!
//! Run with `bench/queue_consumers.sh` (builds the release `handler` first). PostgreSQL from `TEST_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`).

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt;
use serde_json::json;
use tests::{
    platform_fakes::{
        shopify::{FakeShop, FakeShopify, ShopifyConfig},
        shopify_catalogue,
    },
    worker::{self, Worker},
};

/// Messages one consumer handles at once (`host.json` `extensions.queues.batchSize`).
const BATCH: usize = 4;
/// Stores per organization.
const STORES_PER_ORGANIZATION: usize = 50;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Clock ticks per second for `/proc` CPU times.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds of one process (`utime + stime`).
fn process_cpu(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    let Some((_, after_name)) = stat.rsplit_once(')') else { return 0.0 };
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / TICKS_PER_SECOND
}

/// CPU seconds of every process whose name is `name`.
fn processes_cpu(name: &str) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0.0 };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == name))
        .map(process_cpu)
        .sum()
}

/// Busy CPU seconds of the whole machine.
fn machine_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<f64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal
    let busy: f64 = fields.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, v)| v).sum();
    busy / TICKS_PER_SECOND
}

#[derive(Default, Clone, Copy)]
struct Cpu {
    consumers: f64,
    postgres: f64,
    bench: f64,
    machine: f64,
}

fn cpu_now(workers: &[Worker]) -> Cpu {
    Cpu {
        consumers: workers.iter().map(|w| process_cpu(w.pid())).sum(),
        postgres: processes_cpu("postgres"),
        bench: process_cpu(std::process::id()),
        machine: machine_cpu(),
    }
}

struct Row {
    consumers: usize,
    stores: usize,
    runs: usize,
    seconds: f64,
    cpu: Cpu,
}

async fn connect_all(worker: &Worker, token: &str, shops: &[String]) {
    let organizations = shops.len().div_ceil(STORES_PER_ORGANIZATION);
    let mut ids = Vec::new();
    for i in 0..organizations {
        ids.push(worker.create_organization(token, &format!("Bench {i}"), "UTC").await.to_string());
    }
    let connects = shops.iter().enumerate().map(|(i, shop)| {
        let organization = ids[i / STORES_PER_ORGANIZATION].clone();
        async move {
            let response = worker
                .client
                .post(format!("{}/api/v1/stores", worker.base))
                .bearer_auth(token)
                .header("x-organization-id", organization)
                .json(&json!({ "platform": "shopify", "shop_domain": shop, "access_token": format!("shpat_{shop}") }))
                .send()
                .await
                .expect("connect");
            assert_eq!(response.status(), 201, "connect {shop}");
        }
    });
    futures::stream::iter(connects).buffer_unordered(16).collect::<Vec<()>>().await;
}

async fn scenario(consumers: usize, stores: usize, latency: Duration) -> Row {
    let fake = FakeShopify::start(ShopifyConfig { latency, restore_rate: 1e12, ..ShopifyConfig::default() }).await;
    let shops: Vec<String> = (0..stores).map(|i| format!("shop-{i}.myshopify.com")).collect();
    for (i, shop) in shops.iter().enumerate() {
        let (products, orders) = shopify_catalogue(4, 0, 0, 6, i as u64);
        fake.add_shop(
            shop,
            FakeShop { products, orders, access_token: format!("shpat_{shop}"), ..FakeShop::default() },
        );
    }
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut env = tests::app_env(tests::fresh_postgres_database().await);
    env.insert("SHOPIFY_ADMIN_URL_TEMPLATE".into(), fake.admin_url_template());
    env.insert("SECRETS_DIR".into(), dir.path().join("secrets").display().to_string());
    env.insert("ALLOW_PRIVATE_STORE_URLS".into(), "true".into());
    env.insert("RUST_LOG".into(), "warn".into());
    let first = Worker::start(&env).await;
    let mut workers = vec![first];
    for _ in 1..consumers {
        workers.push(Worker::start_without_migrating(&env).await);
    }
    let token = worker::token_for(&env);
    connect_all(&workers[0], &token, &shops).await;

    let before = cpu_now(&workers);
    let started = Instant::now();
    let (_, queued) = worker::sync_timer(&workers[0].client, &workers[0].base).await.expect("tick");
    assert_eq!(queued.len(), stores, "every new store is due");
    let queue = Arc::new(Mutex::new(VecDeque::from(queued)));
    let runs = Arc::new(Mutex::new(0usize));
    let takers = workers.iter().flat_map(|worker| {
        (0..BATCH).map(|_| {
            let (queue, runs) = (queue.clone(), runs.clone());
            let (client, base) = (worker.client.clone(), worker.base.clone());
            async move {
                loop {
                    let Some(message) = queue.lock().expect("queue").pop_front() else { return };
                    let reply = worker::deliver_store_message(&client, &base, &message).await.expect("delivery");
                    let line = reply["Logs"][0].as_str().unwrap_or_default().to_owned();
                    assert!(line.contains(": succeeded (") || line.contains(": partial ("), "{line}");
                    *runs.lock().expect("runs") += 1;
                    queue.lock().expect("queue").extend(worker::messages(&reply, "next"));
                }
            }
        })
    });
    futures::future::join_all(takers).await;
    let seconds = started.elapsed().as_secs_f64();
    let after = cpu_now(&workers);
    let cpu = Cpu {
        consumers: after.consumers - before.consumers,
        postgres: after.postgres - before.postgres,
        bench: after.bench - before.bench,
        machine: after.machine - before.machine,
    };
    let runs = *runs.lock().expect("runs");
    for worker in workers {
        worker.kill().await;
    }
    Row { consumers, stores, runs, seconds, cpu }
}

#[tokio::main]
async fn main() {
    let stores = setting("BENCH_STORES", 2_000) as usize;
    let latency = Duration::from_millis(setting("BENCH_LATENCY_MS", 50));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let mut rows = Vec::new();
    for consumers in [1, 2, 4] {
        let row = scenario(consumers, stores, latency).await;
        eprintln!("{consumers} consumer(s): {:.1} s", row.seconds);
        rows.push(row);
    }
    println!(
        "\n{stores} stores, platform latency {} ms, {BATCH} messages at once per consumer, {cores} cores\n",
        latency.as_millis()
    );
    println!(
        "| consumers | runs | seconds | stores/min | × one | consumers CPU | PostgreSQL CPU | bench+fake CPU | other CPU | machine busy |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let base = rows[0].stores as f64 / rows[0].seconds;
    for row in &rows {
        let rate = row.stores as f64 / row.seconds;
        let share = |cpu: f64| format!("{:.0}%", 100.0 * cpu / (row.seconds * cores));
        let other = row.cpu.machine - row.cpu.consumers - row.cpu.postgres - row.cpu.bench;
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.2} | {} | {} | {} | {} | {} |",
            row.consumers,
            row.runs,
            row.seconds,
            rate * 60.0,
            rate / base,
            share(row.cpu.consumers),
            share(row.cpu.postgres),
            share(row.cpu.bench),
            share(other.max(0.0)),
            share(row.cpu.machine),
        );
    }
    let last = rows.last().expect("rows");
    let busy = last.cpu.machine / (last.seconds * cores);
    let top = [("the consumers", last.cpu.consumers), ("PostgreSQL", last.cpu.postgres), ("the fake", last.cpu.bench)]
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or("?", |(name, _)| name);
    let limit = if busy > 0.85 {
        format!("the CPUs (machine {:.0}% busy; most of it {top})", busy * 100.0)
    } else {
        format!(
            "not yet the CPUs (machine {:.0}% busy, {top} the largest share): the platform's latency and the \
             consumers' concurrency",
            busy * 100.0
        )
    };
    println!("\nAt {} consumers the limit is {limit}.", last.consumers);
}
