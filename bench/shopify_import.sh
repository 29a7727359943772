#!/usr/bin/env bash
# Shopify import benchmark at the Standard plan's limits (2,000-point bucket, 100 points/s): a 2,000-product /
# 5,000-order shop and a 50,000-order one imported through bulk operations, with the points spent, peak memory and
# the incremental sync of 100 changed orders after. Builds the release `handler` first; the bench itself is
# bench/shopify_import.rs (a `cargo bench` target of the tests crate). PostgreSQL: TEST_DATABASE_URL or
# 127.0.0.1:5432.
#
#   bench/shopify_import.sh                                        # 50 ms latency, bulk operations of 5 s
#   BENCH_PAGED=1 bench/shopify_import.sh                           # also the small shop page by page (minutes)
#   BENCH_LATENCY_MS=100 BENCH_BULK_RUN_MS=30000 bench/shopify_import.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -p functions --bin handler
cargo bench -p tests --bench shopify_import
