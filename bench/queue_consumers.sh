#!/usr/bin/env bash
# Queue-consumer scaling benchmark: stores synced per minute with 1, 2 and 4 `handler serve` consumers on one
# queue, from the Shopify protocol fake, with where the CPU went. Builds the release `handler` first; the bench
# itself is bench/queue_consumers.rs (a `cargo bench` target of the tests crate). PostgreSQL: TEST_DATABASE_URL or
# 127.0.0.1:5432.
#
#   bench/queue_consumers.sh                               # 2,000 stores, 50 ms platform latency
#   BENCH_STORES=500 BENCH_LATENCY_MS=100 bench/queue_consumers.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -p functions --bin handler
cargo bench -p tests --bench queue_consumers
