#!/usr/bin/env bash
# Fuzzes the REST API against its own OpenAPI document with Schemathesis (every operation, every check: no 5xx, no
# response outside the document, no schema-valid request refused but for the rules tests/schemathesis/schemathesis.toml
# names). It runs a fresh `handler dev --demo` on a free loopback port with its own data directory, as the demo's
# admin, with rate limits off; Shopify is a loopback stand-in that refuses every access token as the Admin API does
# (401), since nothing else answers on these machines.
#
#   scripts/api-fuzz.sh                 # HANDLER_BIN (default target/debug/handler), SCHEMATHESIS (default
#                                       # target/schemathesis/bin/st, the venv .ci/run creates)
#   scripts/api-fuzz.sh --max-examples 200   # extra arguments go to `st run`
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
HANDLER=${HANDLER_BIN:-target/debug/handler}
ST=${SCHEMATHESIS:-target/schemathesis/bin/st}
log() { printf 'api-fuzz: %s\n' "$*" >&2; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

DATA=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$DATA"
}
trap cleanup EXIT

SHOPIFY_PORT=$(free_port)
python3 - "$SHOPIFY_PORT" <<'PY' &
import http.server, sys

class RefuseEveryToken(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = b'{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}'
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), RefuseEveryToken).serve_forever()
PY
PIDS+=($!)

PORT=$(free_port)
RATE_LIMIT_PER_MINUTE=0 RATE_LIMIT_ANONYMOUS_PER_MINUTE=0 \
    SHOPIFY_CLIENT_ID=api-fuzz-client SHOPIFY_CLIENT_SECRET=api-fuzz-secret \
    SHOPIFY_ADMIN_URL_TEMPLATE="http://127.0.0.1:$SHOPIFY_PORT/{shop}/admin/api/{version}/graphql.json" \
    "$HANDLER" dev --demo --port "$PORT" --data-dir "$DATA" >"$DATA/dev.log" 2>&1 &
PIDS+=($!)
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 300); do
    curl -sf "$BASE/api/health" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -sf "$BASE/api/health" >/dev/null || { cat "$DATA/dev.log" >&2; log "error: handler dev did not answer"; exit 1; }

TOKEN=$("$HANDLER" token --data-dir "$DATA")
ORGANIZATION=$(curl -sf -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/me" | python3 -c \
    'import json, sys; print(next(o["organization_id"] for o in json.load(sys.stdin)["organizations"] if o["name"] == "Demo Superstore"))')
log "fuzzing $BASE as the demo's admin"
"$ST" --config-file tests/schemathesis/schemathesis.toml run "$BASE/api/openapi.json" \
    -H "Authorization: Bearer $TOKEN" -H "X-Organization-Id: $ORGANIZATION" --checks all --no-color "$@"
