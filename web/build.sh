#!/usr/bin/env bash
# Builds the merchant dashboard: web/src → web/dist, which is committed and embedded in the `handler` binary (so a
# fresh clone needs only cargo). The one build command; reproducible from package-lock.json:
#
#   web/build.sh           # npm ci when node_modules is missing or stale, then bundle into web/dist
#   web/build.sh --check   # bundle into a temporary folder and fail when web/dist differs from it
#
# web/dist/build.json records the SHA-256 of the inputs (this script, build.mjs, package.json, package-lock.json,
# every file under src/); a Rust test recomputes it, so committed output that is stale fails the suite even where
# Node.js is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

command -v node >/dev/null || { echo "web/build.sh: node is required" >&2; exit 1; }
if [[ ! -x node_modules/.bin/esbuild || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error >&2
fi

if [[ ${1:-} == --check ]]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/dashboard-build.XXXXXX")
    trap 'rm -rf "$out"' EXIT
    node build.mjs "$out"
    node build.mjs --compare "$out" dist
else
    node build.mjs dist
fi
