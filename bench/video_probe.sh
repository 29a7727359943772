#!/usr/bin/env bash
# Video probe benchmark (not a test): bytes read and time per probe of a 1 GB fast-start MP4 and a 1 GB MP4 with its
# moov at the end, stored in Azurite. Prints a Markdown table. Needs ~2.5 GB free disk for Azurite's copy.
#
#   bench/video_probe.sh            # starts Azurite from node_modules (npm ci first if missing) on a free port
#   AZURITE_BLOB_URL=… bench/video_probe.sh   # uses a running Azurite
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

AZURITE_PID="" AZ_DIR=""
cleanup() {
    [[ -z $AZURITE_PID ]] || kill "$AZURITE_PID" 2>/dev/null || true
    [[ -z $AZ_DIR ]] || rm -rf "$AZ_DIR"
}
trap cleanup EXIT

if [[ -z ${AZURITE_BLOB_URL:-} ]]; then
    [[ -x node_modules/.bin/azurite-blob ]] || npm ci --no-audit --no-fund --loglevel=error
    AZ_DIR=$(mktemp -d "${TMPDIR:-/tmp}/probe-bench.XXXXXX")
    PORT=$((20000 + RANDOM % 10000))
    node_modules/.bin/azurite-blob --silent --disableTelemetry --skipApiVersionCheck --location "$AZ_DIR" \
        --blobHost 127.0.0.1 --blobPort "$PORT" </dev/null >"$AZ_DIR/azurite.log" 2>&1 &
    AZURITE_PID=$!
    for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
    export AZURITE_BLOB_URL="http://127.0.0.1:$PORT/devstoreaccount1"
fi
cargo run --quiet --release -p shared --example video_probe_bench
