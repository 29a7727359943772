#!/usr/bin/env bash
# Store-sync ingest benchmark: products/s and orders/s from the Shopify protocol fake (throttling off) into
# PostgreSQL and SQLite, with the syncing worker's peak RSS. Builds the release `handler` first; the bench itself is
# bench/ingest.rs (a `cargo bench` target of the tests crate). PostgreSQL: TEST_DATABASE_URL or 127.0.0.1:5432.
#
#   bench/ingest.sh                                  # 20,000 products, 20,000 orders
#   BENCH_PRODUCTS=5000 BENCH_ORDERS=5000 bench/ingest.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -p functions --bin handler
cargo bench -p tests --bench ingest
