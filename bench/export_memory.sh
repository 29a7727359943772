#!/usr/bin/env bash
# Export benchmark: rows per second and the worker's peak memory writing an orders export of a tenth of, and of all,
# BENCH_EXPORT_ORDERS (default 1,000,000) orders (bench/export_memory.rs, a `cargo bench` target of the tests crate). Builds the release
# `handler` first. PostgreSQL: TEST_DATABASE_URL or 127.0.0.1:5432; BENCH_BACKEND=sqlite for SQLite.
#
#   bench/export_memory.sh
#   BENCH_EXPORT_ORDERS=100000 BENCH_BACKEND=sqlite bench/export_memory.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -p functions --bin handler
cargo bench -p tests --bench export_memory
