#!/usr/bin/env bash
# Builds a release `handler` and zips a deployable artifact.
#
#   infra/package.sh azure  [--target TRIPLE] [--out DIR]   # Functions app folder → DIR/function-app.zip
#   infra/package.sh lambda [--target TRIPLE] [--out DIR]   # Lambda custom runtime → DIR/lambda.zip (bootstrap)
#
# Default target: x86_64-unknown-linux-gnu (Azure Functions on Linux and Lambda x86_64 both run glibc). The Azure
# folder is written by `handler package` itself, so it always matches the function.json files the binary embeds.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

kind=${1:-}; shift || true
[[ $kind == azure || $kind == lambda ]] || usage
target=x86_64-unknown-linux-gnu
out=dist
while [[ $# -gt 0 ]]; do
    case $1 in
        --target) target=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) usage ;;
    esac
done

cargo build --release --locked --bin handler --target "$target"
binary="${CARGO_TARGET_DIR:-target}/$target/release/handler"
host_binary="${CARGO_TARGET_DIR:-target}/release/handler"
[[ $target == "$(rustc -vV | sed -n 's/^host: //p')" ]] && host_binary=$binary
[[ -x $host_binary ]] || cargo build --release --locked --bin handler

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

case $kind in
    azure)
        "$host_binary" package "$stage/app" --executable "$binary"
        (cd "$stage/app" && zip -qr -X "$out/function-app.zip" .)
        echo "wrote $out/function-app.zip" ;;
    lambda)
        cp "$binary" "$stage/bootstrap"
        (cd "$stage" && zip -q -X "$out/lambda.zip" bootstrap)
        echo "wrote $out/lambda.zip" ;;
esac
