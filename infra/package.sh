#!/usr/bin/env bash
# Builds a release `handler` without the demo dataset (`--no-default-features`) and zips a deployable artifact.
#
#   infra/package.sh azure  [--target TRIPLE] [--out DIR] [--binary PATH]   # Functions app → DIR/function-app.zip
#   infra/package.sh lambda [--target TRIPLE] [--out DIR] [--binary PATH]   # Lambda runtime → DIR/lambda.zip
#
# --binary ships an already-built `handler` (for this host) instead of building a release: the layout test uses it.
# The zips are what infra/README.md deploys as they are: function-app.zip has host.json, `handler` and one
# <FunctionName>/function.json per function at its root; lambda.zip has the executable as `bootstrap`.
#
# Default target: x86_64-unknown-linux-gnu (Azure Functions on Linux and Lambda x86_64 both run glibc). The Azure
# folder is written by `handler package` itself, so it always matches the function.json files the binary embeds.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

kind=${1:-}; shift || true
[[ $kind == azure || $kind == lambda ]] || usage
target=x86_64-unknown-linux-gnu
out=dist
prebuilt=""
while [[ $# -gt 0 ]]; do
    case $1 in
        --target) target=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --binary) prebuilt=$2; shift 2 ;;
        *) usage ;;
    esac
done

if [[ -n $prebuilt ]]; then
    [[ -x $prebuilt ]] || { echo "not an executable: $prebuilt" >&2; exit 2; }
    binary=$prebuilt
    host_binary=$prebuilt
else
    cargo build --release --locked --no-default-features --bin handler --target "$target"
    binary="${CARGO_TARGET_DIR:-target}/$target/release/handler"
    host_binary="${CARGO_TARGET_DIR:-target}/release/handler"
    [[ $target == "$(rustc -vV | sed -n 's/^host: //p')" ]] && host_binary=$binary
    [[ -x $host_binary ]] || cargo build --release --locked --no-default-features --bin handler
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

case $kind in
    azure)
        "$host_binary" package "$stage/app" --executable "$binary"
        rm -f "$out/function-app.zip"
        (cd "$stage/app" && zip -qr -X "$out/function-app.zip" .)
        echo "wrote $out/function-app.zip" ;;
    lambda)
        cp "$binary" "$stage/bootstrap"
        rm -f "$out/lambda.zip"
        (cd "$stage" && zip -q -X "$out/lambda.zip" bootstrap)
        echo "wrote $out/lambda.zip" ;;
esac
