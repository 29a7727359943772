#!/usr/bin/env bash
# Run every check and test of the workspace: rustfmt, clippy, build, doc tests, then the test suite
# (cargo-nextest when installed, else `cargo test`). Extra arguments go to the test runner:
#
#   scripts/test.sh                  # everything
#   scripts/test.sh some_filter      # only tests matching the filter (doc tests are then skipped)
#
# Services the integration tests need are taken from the environment or started here, and the
# script exports what it found or started:
#
#   TEST_DATABASE_URL   PostgreSQL superuser URL; the test harness creates (and drops) one database
#                       `test_<uuid as 32 hex>` per test on that server. If unset: the local server on
#                       127.0.0.1:5432 when it answers, else a throwaway cluster (initdb in a temp dir,
#                       trust auth, fsync off, 127.0.0.1 only) that is removed on exit.
#   AZURITE_BLOB_URL    Azurite blob endpoint including the account, e.g.
#                       http://127.0.0.1:10000/devstoreaccount1, and AZURITE_QUEUE_URL its queue endpoint
#                       (http://127.0.0.1:10001/devstoreaccount1). If unset: node_modules/.bin/azurite (`npm ci`
#                       first when missing or outdated) with its blob and queue services on free ports, stopped
#                       on exit.
#
# Without arguments it also checks that the committed dashboard build (web/dist) matches a fresh `web/build.sh`
# (when node is installed) and runs the browser tests (tests/browser, Playwright driving /usr/bin/chromium against
# `handler dev --demo`; under CI=true they must run, elsewhere they are skipped when Chromium or Playwright is
# missing). Screenshots land in tests/browser/artifacts/. Then scripts/api-fuzz.sh runs Schemathesis over every
# operation of the OpenAPI document against `handler dev --demo` (from the venv target/schemathesis; required under
# CI=true, skipped elsewhere when missing).
#
#   TEST_FORCE_THROWAWAY_PG=1   ignore TEST_DATABASE_URL and the server on :5432 and always start a
#                               throwaway cluster (to test this script's own fallback path).
#
# Only what this script started is stopped on exit; a server it merely found is never touched.
# Honours CARGO_TARGET_DIR (cargo does) and, under CI=true, uses the nextest profile `ci`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'test.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
now_ms() { date +%s%3N; }

# --- cleanup: stop exactly what we started ---------------------------------------------------

TMP_DIR=""      # Azurite workspace and logs
PG_DIR=""       # throwaway cluster (under /tmp so the postgres user can reach it)
PG_BIN=""       # bin dir of the PostgreSQL version used for the throwaway cluster
PG_STARTED=""   # data dir of a cluster we (tried to) start
PG_PID=""       # our child running the postmaster (runuser, or postgres itself when not root)
AZURITE_PID=""  # the node process running Azurite

# initdb and postgres refuse to run as root: run them as the postgres OS user then.
as_pg() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

stop_azurite() {
    local pid=$AZURITE_PID i
    [[ -n $pid ]] || return 0
    AZURITE_PID=""
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

stop_pg() {
    local data=$PG_STARTED pid=$PG_PID i
    [[ -n $data ]] || return 0
    PG_STARTED="" PG_PID=""
    if [[ -f $data/postmaster.pid ]] &&
        ! as_pg "$PG_BIN/pg_ctl" stop -D "$data" -m immediate -w -t 30 >/dev/null 2>&1; then
        # pg_ctl could not do it: SIGQUIT (immediate shutdown) to the postmaster of *our* data dir.
        i=$(head -n1 "$data/postmaster.pid" 2>/dev/null || true)
        [[ ! $i =~ ^[0-9]+$ ]] || kill -QUIT "$i" 2>/dev/null || true
    fi
    if [[ -n $pid ]]; then
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    log "stopped throwaway PostgreSQL"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $AZURITE_PID ]]; then
        stop_azurite
        log "stopped Azurite"
    fi
    stop_pg
    [[ -z $TMP_DIR ]] || rm -rf "$TMP_DIR"
    [[ -z $PG_DIR ]] || rm -rf "$PG_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

T0=$(now_ms)
TMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/retail-test.XXXXXX")

# --- Azurite (launched first: it boots while PostgreSQL is prepared) -------------------------

AZURITE_BIN=node_modules/.bin/azurite
AZURITE_DIR=$TMP_DIR/azurite
AZURITE_PORT=""
AZURITE_ATTEMPTS=0

launch_azurite() {
    AZURITE_ATTEMPTS=$((AZURITE_ATTEMPTS + 1))
    # Outside Linux's ephemeral range (32768+), away from Azurite's default 10000.
    # Three consecutive ports (blob, queue, table), outside Linux's ephemeral range (32768+), away from Azurite's
    # defaults 10000-10002.
    AZURITE_PORT=$((20000 + RANDOM % 10000))
    while port_open "$AZURITE_PORT" || port_open $((AZURITE_PORT + 1)) || port_open $((AZURITE_PORT + 2)); do
        AZURITE_PORT=$((20000 + RANDOM % 10000))
    done
    "$AZURITE_BIN" --silent --disableTelemetry --skipApiVersionCheck --location "$AZURITE_DIR" \
        --blobHost 127.0.0.1 --blobPort "$AZURITE_PORT" --queueHost 127.0.0.1 --queuePort $((AZURITE_PORT + 1)) \
        --tableHost 127.0.0.1 --tablePort $((AZURITE_PORT + 2)) </dev/null >"$AZURITE_DIR/azurite.log" 2>&1 &
    AZURITE_PID=$!
}

await_azurite() {
    local i
    while :; do
        for ((i = 0; i < 600; i++)); do
            kill -0 "$AZURITE_PID" 2>/dev/null || break
            if port_open "$AZURITE_PORT" && port_open $((AZURITE_PORT + 1)); then
                export AZURITE_BLOB_URL="http://127.0.0.1:$AZURITE_PORT/devstoreaccount1"
                export AZURITE_QUEUE_URL="http://127.0.0.1:$((AZURITE_PORT + 1))/devstoreaccount1"
                log "started Azurite on $AZURITE_BLOB_URL and $AZURITE_QUEUE_URL (pid $AZURITE_PID)"
                return 0
            fi
            sleep 0.05
        done
        stop_azurite # died (port taken meanwhile?) or hung for 30 s: try another port
        if ((AZURITE_ATTEMPTS >= 5)); then
            cat "$AZURITE_DIR/azurite.log" >&2 || true
            die "could not start Azurite"
        fi
        launch_azurite
    done
}

if [[ -n ${AZURITE_BLOB_URL:-} ]]; then
    log "using Azurite at $AZURITE_BLOB_URL (from AZURITE_BLOB_URL)"
else
    command -v node >/dev/null || die "node is required to run Azurite (or set AZURITE_BLOB_URL)"
    # (Re)install when missing or not the version package.json pins.
    if [[ ! -x $AZURITE_BIN ]] || ! node -e '
        const want = require("./package.json").devDependencies.azurite;
        let have; try { have = require("./node_modules/azurite/package.json").version; } catch {}
        process.exit(want === have ? 0 : 1);' 2>/dev/null; then
        log "installing Azurite (npm ci)"
        npm ci --no-audit --no-fund --loglevel=error >&2
    fi
    mkdir -p "$AZURITE_DIR"
    launch_azurite
fi

# --- PostgreSQL ------------------------------------------------------------------------------

# Highest installed version's bin dir (/usr/lib/postgresql/<ver>/bin), or nothing.
find_pg_bin() {
    local d
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
        if [[ -x $d/initdb && -x $d/postgres && -x $d/pg_ctl && -x $d/pg_isready ]]; then
            echo "$d"
            return 0
        fi
    done
    true
}

apt_install() {
    [[ $EUID -eq 0 ]] || die "missing $*; install it (or set TEST_DATABASE_URL)"
    log "installing $* with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "$@" >&2
}

PSQL=""
ensure_psql() {
    local bin
    [[ -z $PSQL ]] || return 0
    if PSQL=$(command -v psql); then return 0; fi
    bin=$(find_pg_bin)
    if [[ -n $bin && -x $bin/psql ]]; then
        PSQL=$bin/psql
        return 0
    fi
    apt_install postgresql-client
    PSQL=$(command -v psql) || die "psql not found after installing postgresql-client"
}

pg_answers() { PGCONNECT_TIMEOUT=5 "$PSQL" -X -q -At -d "$1" -c 'select 1' >/dev/null 2>&1; }

start_throwaway_pg() {
    local port=55433 attempt i locale=C
    PG_BIN=$(find_pg_bin)
    if [[ -z $PG_BIN ]]; then
        apt_install postgresql
        PG_BIN=$(find_pg_bin)
        [[ -n $PG_BIN ]] || die "no initdb under /usr/lib/postgresql/*/bin after installing postgresql"
    fi
    if [[ $EUID -eq 0 ]] && ! id -u postgres >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin postgres
    fi
    PG_DIR=$(mktemp -d /tmp/retail-test-pg.XXXXXX)
    [[ $EUID -ne 0 ]] || chown postgres: "$PG_DIR"
    # Same collation as Debian's default cluster when the locale exists.
    if grep -qix 'c\.utf-\?8' <<<"$(locale -a 2>/dev/null)"; then locale=C.UTF-8; fi
    if ! as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale="$locale" \
        --no-sync >"$TMP_DIR/initdb.log" 2>&1; then
        cat "$TMP_DIR/initdb.log" >&2
        die "initdb failed"
    fi
    # The postmaster runs as our own child (not daemonized by pg_ctl) so that this script reaps it:
    # here PID 1 may not reap orphans, which would leave a zombie behind.
    for ((attempt = 1; ; attempt++)); do
        while port_open "$port"; do port=$((port + 1)); done
        PG_STARTED=$PG_DIR/data
        as_pg "$PG_BIN/postgres" -D "$PG_DIR/data" -c port="$port" -c listen_addresses=127.0.0.1 \
            -c unix_socket_directories="$PG_DIR" -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
            -c max_connections=200 </dev/null >"$TMP_DIR/postgres.log" 2>&1 &
        PG_PID=$!
        for ((i = 0; i < 1200; i++)); do
            kill -0 "$PG_PID" 2>/dev/null || break
            if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1; then
                break 2
            fi
            sleep 0.05
        done
        # Died (most likely someone took the port between the check and the bind) or never got ready.
        stop_pg >/dev/null 2>&1
        if ((attempt >= 5)); then
            tail -n 20 "$TMP_DIR/postgres.log" >&2 || true
            die "could not start a throwaway PostgreSQL cluster"
        fi
        port=$((port + 1))
    done
    export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    log "started throwaway PostgreSQL $(basename "$(dirname "$PG_BIN")") at $TEST_DATABASE_URL (data in $PG_DIR)"
}

DEFAULT_PG_URL=postgres://postgres@127.0.0.1:5432/postgres
if [[ -n ${TEST_FORCE_THROWAWAY_PG:-} && ${TEST_FORCE_THROWAWAY_PG} != 0 ]]; then
    ensure_psql
    start_throwaway_pg
elif [[ -n ${TEST_DATABASE_URL:-} ]]; then
    ensure_psql
    log "using PostgreSQL at ${TEST_DATABASE_URL} (from TEST_DATABASE_URL)"
else
    ensure_psql
    if { ! command -v pg_isready >/dev/null || pg_isready -q -h 127.0.0.1 -p 5432 -t 3; } &&
        pg_answers "$DEFAULT_PG_URL"; then
        export TEST_DATABASE_URL=$DEFAULT_PG_URL
        log "using PostgreSQL at $TEST_DATABASE_URL"
    else
        start_throwaway_pg
    fi
fi
pg_answers "$TEST_DATABASE_URL" || die "PostgreSQL at $TEST_DATABASE_URL does not answer"

# Drop per-test databases that earlier (crashed or interrupted) runs left behind. Databases someone
# is connected to are kept: they belong to a test run that is still going on this server.
STALE_DBS_SQL="SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)', d.datname)
  FROM pg_database d
 WHERE d.datname ~ '^test_[0-9a-f]{8}(-?[0-9a-f]{4}){3}-?[0-9a-f]{12}\$'
   AND d.datname <> current_database()
   AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)"
stale=$("$PSQL" -X -q -At -d "$TEST_DATABASE_URL" -c "$STALE_DBS_SQL" | wc -l) || stale=0
if ((stale > 0)); then
    if printf '%s\n\\gexec\n' "$STALE_DBS_SQL" | "$PSQL" -X -q -At -d "$TEST_DATABASE_URL" >/dev/null; then
        log "dropped $stale leftover test database(s)"
    else
        log "warning: could not drop every leftover test database"
    fi
fi

[[ -z $AZURITE_PID ]] || await_azurite
log "services ready in $(($(now_ms) - T0)) ms"

# --- checks and tests ------------------------------------------------------------------------

run() {
    log "+ $*"
    "$@"
}

# rustfmt colours its diff even into a log file: only colour it for a terminal.
fmt_color=never
[[ ! -t 1 ]] || fmt_color=auto
run cargo fmt --all -- --check --color "$fmt_color"
run cargo clippy --workspace --all-targets -- -D warnings
# Deployment templates: cfn-lint and checkov, offline (installed with pip under CI).
run infra/check.sh
# The integration tests spawn the built `handler` binary, so it must exist before they run.
run cargo build --workspace --bins
# The README's first command is `cargo run --release -- dev`: `cargo run` must pick `handler` by itself.
run cargo run --quiet -- --help >/dev/null

in_ci() { [[ -n ${CI:-} && ${CI} != false && ${CI} != 0 ]]; }

if (($# == 0)); then
    if command -v node >/dev/null; then
        run web/build.sh --check
    elif in_ci; then
        die "node is required to check the committed dashboard build"
    else
        log "node not found: skipping the dashboard build check (the input-hash test still runs)"
    fi
    if [[ -x ${CHROMIUM:-/usr/bin/chromium} ]] && python3 -c 'import playwright, pytest' 2>/dev/null; then
        run python3 -m pytest tests/browser -q
    elif in_ci; then
        die "the browser tests need chromium (apt) and tests/browser/requirements.txt (pip); .ci/run installs them"
    else
        log "chromium or playwright missing: skipping the browser tests (see tests/browser/requirements.txt)"
    fi
    if [[ -x ${SCHEMATHESIS:-target/schemathesis/bin/st} ]]; then
        run scripts/api-fuzz.sh
    elif in_ci; then
        die "the API fuzz run needs Schemathesis in target/schemathesis (tests/schemathesis/requirements.txt); .ci/run installs it"
    else
        log "Schemathesis missing: skipping the API fuzz run (python3 -m venv target/schemathesis && target/schemathesis/bin/pip install -r tests/schemathesis/requirements.txt)"
    fi
fi

if cargo nextest --version >/dev/null 2>&1; then
    # nextest does not run doc tests. Run them first so that nextest's summary closes the output.
    if (($# == 0)); then
        run cargo test --workspace --doc
    else
        log "extra arguments given: skipping doc tests"
    fi
    if in_ci; then
        export NEXTEST_PROFILE=${NEXTEST_PROFILE:-ci}
    fi
    run cargo nextest run --workspace "$@"
else
    log "cargo-nextest not found: using cargo test"
    run cargo test --workspace "$@"
fi
