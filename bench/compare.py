#!/usr/bin/env python3
"""Side-by-side benchmark: the FastAPI seed stack and `handler serve` on ONE PostgreSQL, with the same data.

    python3 bench/compare.py [--seed-stack ../shared/bench/seed-stack] [--quick] [--no-build] [--explain]

What it does, in one run:
- one throwaway PostgreSQL 15 cluster (the seed stack's own `pg.sh`, `--pg-dir`, `--pg-port`) holds two databases:
  `retail`, seeded by the seed stack's `setup_db.py` with its 50,000 products and 1,000,000 events all in ONE
  account (its 20 users folded into one), and `advisor`, our schema (`handler migrate`) holding the SAME rows:
  the same products (text, category, price, status), the same events, one order per purchase event (its quantity
  and revenue), one organization; our rollups come from `handler rollups rebuild`. Both are kept between runs
  (`--reseed` starts again).
- both servers run at once (uvicorn 1 worker as the seed stack benchmarks itself; `handler serve` release build),
  with 10 database connections each, and are measured alternately endpoint by endpoint with `wrk -t1 -c32`
  (warm-up, then the timed run), `--rounds` rounds (3; `--quick`: one short round); medians are printed.
- during every timed run it reads /proc: the CPU of the server, of PostgreSQL and of wrk, and `other%`, everything
  else on the machine (its busy time minus those, in % of all cores). Figures with a high other% are contaminated;
  a round waits (up to `--max-wait` s) for the machine to be quiet first.
- event ingest posts 100 events a request (the seed stack's own batch: the same 100 products); our batches carry
  fresh client ids on every request (a repeated id is a duplicate, stored once). Posted events are deleted after
  each round (ours with a rollup rebuild), so every round reads the same data.
- `--explain` prints `EXPLAIN (ANALYZE, BUFFERS)` of the queries each endpoint runs (PostgreSQL's auto_explain on
  one request per endpoint) instead of timing.

The last line printed is one JSON object of the ratios (ours / seed) and absolute figures. Tests never time; this is
a script that prints a table. Needs wrk (`apt-get install wrk`), psql, PostgreSQL 15 server binaries and python3.11
for the seed stack's virtual environment (created under target/bench/ from its requirements.txt).
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BINARY = os.path.join(TARGET, "release", "handler")
VENV = os.path.join(TARGET, "bench", "seed-venv")
SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
HZ = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
# The seed stack's user 0 (setup_db.user_id(0)): its one account here, and our organization's member.
SEED_USER = uuid.uuid5(uuid.UUID("6f1c2a4e-0000-4000-8000-5eed5eed5eed"), "seed-user-0")
ORGANIZATION = uuid.UUID("0b5e55ed-0000-4000-8000-00000000be9c")
STORE = uuid.UUID("0b5e55ed-0000-4000-8000-0000000057e0")
# The seed data's fixed window (setup_db.SEED_END = 2025-11-01): the 30 and 90 days before it.
DAYS_30 = ("2025-10-02", "2025-10-31")
DAYS_90 = ("2025-08-03", "2025-10-31")

# Seed data (one account) translated into our schema. Money: numeric dollars -> integer cents.
LOAD_OURS = f"""
INSERT INTO organizations (id, name, timezone, currency) VALUES ('{ORGANIZATION}', 'Bench', 'UTC', 'USD');
INSERT INTO members (organization_id, user_id, role) VALUES ('{ORGANIZATION}', '{SEED_USER}', 'admin');
INSERT INTO stores (id, organization_id, platform, name) VALUES ('{STORE}', '{ORGANIZATION}', 'demo', 'Bench');
"""
PRODUCTS_OUT = """COPY (SELECT id, external_id, title, description, category, status, (price * 100)::bigint,
    inventory, updated_at FROM products ORDER BY external_id) TO STDOUT"""
PRODUCTS_IN = f"""CREATE TEMP TABLE p (id uuid, external_id text, title text, description text, category text,
    status text, price_minor bigint, inventory bigint, updated_at timestamptz);
\\copy p FROM pstdin
INSERT INTO products (id, organization_id, store_id, external_id, title, description, vendor, category, status,
    price_minor, inventory, created_at, updated_at)
SELECT id, '{ORGANIZATION}', '{STORE}', external_id, title, description, '', category, status, price_minor,
    inventory, updated_at, updated_at FROM p;
INSERT INTO variants (id, organization_id, product_id, external_id, sku, title, price_minor, cost_minor, inventory)
SELECT gen_random_uuid(), '{ORGANIZATION}', id, external_id || '-v', 'SKU-' || external_id, 'Default', price_minor,
    price_minor / 2, inventory FROM p;"""
EVENTS_OUT = """COPY (SELECT id, product_id, kind, quantity, (revenue * 100)::bigint, occurred_at
    FROM analytics_events ORDER BY id) TO STDOUT"""
EVENTS_IN = f"""CREATE TEMP TABLE e (id bigint, product_id uuid, kind text, quantity int, revenue_minor bigint,
    occurred_at timestamptz);
\\copy e FROM pstdin
INSERT INTO analytics_events (organization_id, client_id, kind, product_id, occurred_at, received_at)
SELECT '{ORGANIZATION}', 'seed-' || id, kind, product_id, occurred_at, occurred_at FROM e;
CREATE TEMP TABLE o AS SELECT gen_random_uuid() AS order_id, * FROM e WHERE kind = 'purchase';
INSERT INTO orders (id, organization_id, store_id, external_id, placed_at, status, total_minor, updated_at)
SELECT order_id, '{ORGANIZATION}', '{STORE}', 'o' || id, occurred_at, 'paid', revenue_minor, occurred_at FROM o;
INSERT INTO order_lines (order_id, organization_id, line_no, product_id, quantity, total_minor)
SELECT order_id, '{ORGANIZATION}', 1, product_id, quantity, revenue_minor FROM o;
VACUUM ANALYZE;"""

OUR_EVENTS_LUA = """-- POST 100 events a request, with fresh client ids on every request.
local products = {%s}
local kinds = {}
for i = 1, 100 do kinds[i] = (i %% 100 < 80) and "view" or ((i %% 100 < 94) and "add_to_cart" or "purchase") end
local n = 0
local tag = tostring(math.random(1, 1e9))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local at = os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", os.time() - 60)
request = function()
  n = n + 1
  local items = {}
  for i = 1, 100 do
    items[i] = '{"client_id":"bench-' .. tag .. '-' .. n .. '-' .. i .. '","kind":"' .. kinds[i] ..
      '","product_id":"' .. products[i] .. '","occurred_at":"' .. at .. '"}'
  end
  return wrk.format(nil, nil, nil, '{"events":[' .. table.concat(items, ",") .. ']}')
end
"""
SEED_EVENTS_LUA = """-- POST the seed stack's own 100-event batch (its bench does the same).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = %s
"""
# A different 90-day range on every call (365 of them, more than the ranking cache holds): the uncached cost.
UNCACHED_LUA = """local n = 0
local base = os.time({year = 2025, month = 10, day = 31, hour = 12})
request = function()
  n = n + 1
  local to = base - (n %% 365) * 86400
  local path = string.format("%s&from=%%s&to=%%s", os.date("!%%Y-%%m-%%d", to - 89 * 86400), os.date("!%%Y-%%m-%%d", to))
  return wrk.format("GET", path)
end
"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """The seed stack's throwaway PostgreSQL cluster, driven through its pg.sh."""

    def __init__(self, seed_dir, pg_dir, port):
        self.pg_sh = os.path.join(seed_dir, "pg.sh")
        self.pg_dir, self.port = pg_dir, port
        self.env = dict(os.environ, PGDIR=pg_dir, PGPORT=str(port))

    def ensure_running(self):
        if not os.path.exists(os.path.join(self.pg_dir, "data", "PG_VERSION")):
            run([self.pg_sh, "init"], env=self.env, stdout=subprocess.DEVNULL)
        if subprocess.run([self.pg_sh, "status"], env=self.env, capture_output=True).returncode != 0:
            run([self.pg_sh, "start"], env=self.env, stdout=subprocess.DEVNULL)

    def url(self, database):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, database, sql, stdin=None, capture=False):
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", self.url(database)]
        out = subprocess.run(cmd, input=sql if stdin is None else None, stdin=stdin, text=True, check=True,
                             capture_output=capture, stdout=None if capture else subprocess.DEVNULL)
        return out.stdout.strip() if capture else None

    def query(self, database, sql):
        return self.psql(database, sql, capture=True)

    def pipe(self, source_db, out_sql, target_db, in_sql):
        """COPY rows out of one database straight into another."""
        out = subprocess.Popen(["psql", "-X", "-q", "-At", self.url(source_db), "-c", out_sql],
                               stdout=subprocess.PIPE)
        # `\copy ... FROM pstdin` in the script reads psql's own standard input: the first psql's output.
        with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
            script.write(in_sql)
            script.flush()
            run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.url(target_db), "-f", script.name],
                stdin=out.stdout, stdout=subprocess.DEVNULL)
        if out.wait() != 0:
            raise RuntimeError("COPY out failed")

    def settle(self, limit_s=120):
        """Waits until no query of either benchmark database is running: a server keeps working on requests wrk
        has given up on, and that work must not be counted against the next run."""
        end = time.monotonic() + limit_s
        while time.monotonic() < end and self.query("postgres", "SELECT count(*) FROM pg_stat_activity WHERE "
                                                    "datname IN ('retail', 'advisor') AND state = 'active'") != "0":
            time.sleep(0.2)

    def exists(self, database):
        return self.query("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{database}'") == "1"

    def postmaster_pid(self):
        with open(os.path.join(self.pg_dir, "data", "postmaster.pid")) as f:
            return int(f.readline())


def ensure_venv(seed_dir):
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(os.path.join(VENV, "bin", "uvicorn")):
        run(["python3.11", "-m", "venv", VENV])
        run([python, "-m", "pip", "install", "-q", "-r", os.path.join(seed_dir, "requirements.txt")])
    return python


def seed_databases(cluster, seed_dir, python, reseed):
    if reseed or not cluster.exists("retail") or cluster.query("retail", "SELECT count(DISTINCT user_id) FROM products") != "1":
        print("seeding the seed stack's database (setup_db.py, its 20 users folded into one) ...", flush=True)
        driver = ("import asyncio, sys; sys.path.insert(0, sys.argv[1]); import setup_db; "
                  "setup_db.N_USERS = 1; asyncio.run(setup_db.main())")
        run([python, "-c", driver, seed_dir], cwd=seed_dir, stdout=subprocess.DEVNULL,
            env=dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(cluster.port), PGDATABASE="retail",
                     PYTHONDONTWRITEBYTECODE="1"))
        reseed = True
    env = our_env(cluster)
    if reseed or not cluster.exists("advisor"):
        print("loading the same rows into our schema ...", flush=True)
        cluster.psql("postgres", 'DROP DATABASE IF EXISTS advisor WITH (FORCE)')
        cluster.psql("postgres", 'CREATE DATABASE advisor')
        run([BINARY, "migrate"], env=env, stdout=subprocess.DEVNULL)
        cluster.psql("advisor", LOAD_OURS)
        cluster.pipe("retail", PRODUCTS_OUT, "advisor", PRODUCTS_IN)
        cluster.pipe("retail", EVENTS_OUT, "advisor", EVENTS_IN)
        started = time.monotonic()
        rebuild(env)
        print(f"  rollups rebuilt from 1,000,000 events and their orders in {time.monotonic() - started:.1f} s")
    else:
        run([BINARY, "migrate"], env=env, stdout=subprocess.DEVNULL)


def rebuild(env):
    run([BINARY, "rollups", "rebuild", "--org", str(ORGANIZATION)], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)


def our_env(cluster):
    env = dict(os.environ, DATABASE_URL=cluster.url("advisor"), SUPABASE_JWT_SECRET=SECRET, RUST_LOG="warn",
               DATABASE_MAX_CONNECTIONS="10", RATE_LIMIT_PER_MINUTE="0", RATE_LIMIT_ANONYMOUS_PER_MINUTE="0")
    for key in ("SUPABASE_URL", "SUPABASE_JWKS_URL", "AUTH_ISSUER", "AWS_LAMBDA_RUNTIME_API",
                "FUNCTIONS_CUSTOMHANDLER_PORT"):
        env.pop(key, None)
    return env


def wait_http(url, proc):
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}) before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"no answer from {url}")


class Server:
    def __init__(self, name, cmd, env, cwd, health):
        self.name = name
        self.port = free_port()
        env = dict(env, PORT=str(self.port), FUNCTIONS_CUSTOMHANDLER_PORT=str(self.port))
        cmd = [c.replace("{port}", str(self.port)) for c in cmd]
        self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        wait_http(self.base + health, self.proc)

    def stop(self):
        self.proc.terminate()  # our own child, by its pid
        self.proc.wait(30)

    def memory_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def ticks(pid, reaped=False):
    """CPU ticks of a process and its threads (utime + stime); with `reaped`, also those of its exited children
    that it has waited for (cutime + cstime)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        own = int(fields[11]) + int(fields[12])
        return own + int(fields[13]) + int(fields[14]) if reaped else own
    except OSError:
        return 0


def tree_ticks(pid):
    """The root's ticks, with its reaped children's, and each live child's ticks by pid."""
    return ticks(pid, reaped=True), {c: ticks(c) for c in children(pid)}


def tree_delta(a, b):
    """CPU a process tree took between two `tree_ticks`: a child that exited in between counts with what it took
    after `a` (the root's reaped time holds its whole life), a new one with all of its time."""
    (root_a, kids_a), (root_b, kids_b) = a, b
    exited = sum(t for pid, t in kids_a.items() if pid not in kids_b)
    return root_b - root_a - exited + sum(t - kids_a.get(pid, 0) for pid, t in kids_b.items())


def children(pid):
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]  # user nice system irq softirq steal


def snapshot(server_pid, pg_pid):
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
    me = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "t": time.monotonic(), "busy": machine_busy(),
        "server": tree_ticks(server_pid),
        "pg": tree_ticks(pg_pid),
        "mine": (usage.ru_utime + usage.ru_stime + me.ru_utime + me.ru_stime) * HZ,
    }


def cpu_shares(a, b):
    wall = (b["t"] - a["t"]) * HZ
    d = {k: b[k] - a[k] for k in ("busy", "mine")}
    d.update({k: tree_delta(a[k], b[k]) for k in ("server", "pg")})
    other = d["busy"] - d["server"] - d["pg"] - d["mine"]
    return {"server_pct": 100 * d["server"] / wall, "pg_pct": 100 * d["pg"] / wall,
            "wrk_pct": 100 * d["mine"] / wall, "other_pct": max(0.0, 100 * other / (wall * NCPU))}


def other_load(seconds, pg_pid):
    a = snapshot(0, pg_pid)
    time.sleep(seconds)
    return cpu_shares(a, snapshot(0, pg_pid))["other_pct"]


def wait_quiet(pg_pid, limit, max_wait):
    end = time.monotonic() + max_wait
    while True:
        load = other_load(3, pg_pid)
        if load <= limit or time.monotonic() > end:
            return load
        print(f"  machine busy ({load:.0f}% of {NCPU} cores used by others), waiting ...", flush=True)
        time.sleep(10)


def parse_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    value, unit = float(m.group(1)), m.group(2)
    return {"us": value / 1000, "ms": value, "s": value * 1000, "m": value * 60000}[unit]


def wrk(url, headers, script, duration, warmup, server_pid, pg_pid):
    args = ["wrk", "-t1", "-c32", "--timeout", "10s", "--latency"]
    for h in headers:
        args += ["-H", h]
    if script:
        args += ["-s", script]
    subprocess.run(args + [f"-d{warmup}s", url], capture_output=True)
    before = snapshot(server_pid, pg_pid)
    out = subprocess.run(args + [f"-d{duration}s", url], capture_output=True, text=True, check=True).stdout
    cpu = cpu_shares(before, snapshot(server_pid, pg_pid))
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": parse_ms(latency["50"]), "p99": parse_ms(latency["99"]),
            "errors": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, errors.groups())) if errors else 0),
            **cpu}


def token_for_seed(python, seed_dir):
    return subprocess.run([python, os.path.join(seed_dir, "bench_tools.py"), "token"], capture_output=True,
                          text=True, check=True, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1")).stdout.strip()


def token_for_us(env):
    with tempfile.TemporaryDirectory() as data_dir:
        return subprocess.run([BINARY, "token", "--user", str(SEED_USER), "--data-dir", data_dir], env=env,
                              capture_output=True, text=True, check=True).stdout.strip()


def endpoints(cluster, scripts):
    """(label, seed path or None, our path or None, our lua script, seed lua script, events per request)."""
    ts = "/api/v1/analytics/timeseries?metric=revenue&bucket=day"
    top = "/api/v1/analytics/top-products?limit=10"
    return [
        ("products?q=waterproof, 50 rows", "/api/v1/products?q=waterproof&limit=50",
         "/api/v1/products?q=waterproof&status=active&limit=50", None, None, 0),
        ("products?q=waterpr (prefix, as you type)", None,
         "/api/v1/products?q=waterpr&status=active&limit=50", None, None, 0),
        ("products?category=electronics, 50 rows", "/api/v1/products?category=electronics&limit=50",
         "/api/v1/products?category=electronics&status=active&limit=50", None, None, 0),
        ("revenue by day, 30 days (seed: its 30-day summary)",
         "/api/v1/analytics/summary?from=2025-10-02T00:00:00Z&to=2025-11-01T00:00:00Z&bucket=day",
         f"{ts}&from={DAYS_30[0]}&to={DAYS_30[1]}", None, None, 0),
        ("revenue by day, 90 days", None, f"{ts}&from={DAYS_90[0]}&to={DAYS_90[1]}", None, None, 0),
        ("top-products by revenue, 30 days", None, f"{top}&by=revenue&from={DAYS_30[0]}&to={DAYS_30[1]}",
         None, None, 0),
        ("top-products by revenue, 90 days", None, f"{top}&by=revenue&from={DAYS_90[0]}&to={DAYS_90[1]}",
         None, None, 0),
        ("top-products by units, 90 days", None, f"{top}&by=units&from={DAYS_90[0]}&to={DAYS_90[1]}",
         None, None, 0),
        ("top-products by growth, 90 days", None, f"{top}&by=growth&from={DAYS_90[0]}&to={DAYS_90[1]}",
         None, None, 0),
        ("top-products, 90 days, a new range each call", None, f"{top}&by=revenue",
         scripts["uncached"], None, 0),
        ("POST analytics/events, 100 per request", "/api/v1/analytics/events", "/api/v1/analytics/events",
         scripts["ours_events"], scripts["seed_events"], 100),
    ]


def write_scripts(cluster, directory):
    products = cluster.query("retail", f"SELECT string_agg(id::text, ',' ORDER BY external_id) FROM "
                                       f"(SELECT id, external_id FROM products WHERE user_id = '{SEED_USER}' "
                                       f"ORDER BY external_id LIMIT 100) p").split(",")
    seed_body = {"events": []}
    for i, product in enumerate(products):
        kind = "view" if i % 100 < 80 else ("add_to_cart" if i % 100 < 94 else "purchase")
        event = {"product_id": product, "kind": kind, "quantity": 1 if kind == "view" else 1 + i % 3}
        if kind == "purchase":
            event["revenue"] = f"{5 + i * 2.5:.2f}"
        seed_body["events"].append(event)
    scripts = {
        "ours_events": OUR_EVENTS_LUA % ",".join(f'"{p}"' for p in products),
        "seed_events": SEED_EVENTS_LUA % json.dumps(json.dumps(seed_body)),
        "uncached": UNCACHED_LUA % "/api/v1/analytics/top-products?limit=10&by=revenue",
    }
    paths = {}
    for name, text in scripts.items():
        paths[name] = os.path.join(directory, f"{name}.lua")
        with open(paths[name], "w") as f:
            f.write(text)
    return paths


def reset_events(cluster, env):
    cluster.psql("retail", "DELETE FROM analytics_events WHERE id > 1000000; VACUUM ANALYZE analytics_events")
    cluster.psql("advisor", "DELETE FROM analytics_events WHERE client_id LIKE 'bench-%'")
    rebuild(env)
    cluster.psql("advisor", "VACUUM ANALYZE")


def explain(cluster, seed, ours, seed_token, our_token, cases):
    """One request per endpoint with auto_explain logging every statement's plan, printed per endpoint."""
    log = os.path.join(cluster.pg_dir, "server.log")
    settings = ["session_preload_libraries = 'auto_explain'", "auto_explain.log_min_duration = 0",
                "auto_explain.log_analyze = on", "auto_explain.log_buffers = on", "auto_explain.log_timing = on",
                "auto_explain.log_nested_statements = on"]
    for db in ("retail", "advisor"):
        for s in settings:
            cluster.psql("postgres", f"ALTER DATABASE {db} SET {s}")
    try:
        for label, seed_path, our_path, our_script, _, per_request in cases:
            if our_script and per_request == 0:
                continue
            for name, server, path, token in (("seed", seed, seed_path, seed_token), ("ours", ours, our_path, our_token)):
                if not path:
                    continue
                # A fresh connection picks the settings up; pooled ones keep theirs, so restart-free: new backends.
                cluster.psql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                         "WHERE datname IN ('retail', 'advisor') AND pid <> pg_backend_pid()")
                start = os.path.getsize(log)
                body = None
                if per_request:
                    body = json.dumps(events_body(name)).encode()
                request = urllib.request.Request(server.base + path, data=body, headers={
                    "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                for attempt in range(3):
                    try:
                        urllib.request.urlopen(request, timeout=30).read()
                        break
                    except OSError:
                        time.sleep(0.5)
                time.sleep(0.3)
                with open(log, errors="replace") as f:
                    f.seek(start)
                    text = f.read()
                print(f"\n### {label} — {name}: `{path}`\n")
                for plan in re.split(r"\n(?=\S+ \S+ \S+ \[\d+\] LOG:  duration)", text):
                    if "auto_explain" in plan or "Query Text" in plan:
                        print("```\n" + re.sub(r"^\S+ \S+ \S+ \[\d+\] LOG:  ", "", plan.strip(), flags=re.M) + "\n```")
    finally:
        for db in ("retail", "advisor"):
            cluster.psql("postgres", f"ALTER DATABASE {db} RESET ALL")


def events_body(name):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    if name == "seed":
        return {"events": [{"product_id": str(uuid.uuid4()), "kind": "view"}]}
    return {"events": [{"client_id": f"explain-{uuid.uuid4()}", "kind": "view", "occurred_at": now}]}


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def main():
    # A terminated benchmark still stops the servers it started (the `finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-stack", default=os.environ.get("SEED_STACK", os.path.join(ROOT, "..", "shared", "bench", "seed-stack")))
    parser.add_argument("--pg-dir", default="/tmp/retail-bench-pg")
    parser.add_argument("--pg-port", type=int, default=55432)
    parser.add_argument("--quick", action="store_true", help="one short round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--max-wait", type=int, default=600, help="longest wait for a quiet machine per round (s)")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--only", help="run only endpoints whose label contains this")
    parser.add_argument("--binary", help="a handler binary to measure instead of building the release one")
    args = parser.parse_args()
    global BINARY
    if args.binary:
        BINARY, args.no_build = os.path.abspath(args.binary), True
    if args.quick:
        args.rounds, args.duration, args.warmup = 1, 4, 1
    seed_dir = os.path.abspath(args.seed_stack)
    if not os.path.exists(os.path.join(seed_dir, "app.py")):
        sys.exit(f"no seed stack at {seed_dir} (--seed-stack)")
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    if not args.no_build:
        run(["cargo", "build", "--release", "-p", "functions", "--bin", "handler"], cwd=ROOT)
    python = ensure_venv(seed_dir)
    cluster = Cluster(seed_dir, args.pg_dir, args.pg_port)
    cluster.ensure_running()
    seed_databases(cluster, seed_dir, python, args.reseed)
    env = our_env(cluster)
    pg_pid = cluster.postmaster_pid()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    seed_env = dict(os.environ, DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:{cluster.port}/retail",
                    PYTHONPYCACHEPREFIX=os.path.join(TARGET, "bench", "pycache"))
    seed_cmd = [os.path.join(VENV, "bin", "uvicorn"), "app:app", "--host", "127.0.0.1", "--port", "{port}",
                "--workers", "1"]
    seed_token, our_token = token_for_seed(python, seed_dir), token_for_us(env)
    with tempfile.TemporaryDirectory() as scratch:
        scripts = write_scripts(cluster, scratch)
        cases = endpoints(cluster, scripts)
        if args.only:
            cases = [c for c in cases if args.only in c[0]]
        seed = Server("seed", seed_cmd, seed_env, seed_dir, "/health")
        ours = Server("ours", [BINARY, "serve"], env, ROOT, "/api/health")
        try:
            if args.explain:
                explain(cluster, seed, ours, seed_token, our_token, cases)
                return 0
            results = {}
            quiet = []
            for round_no in range(1, args.rounds + 1):
                quiet.append(wait_quiet(pg_pid, 10, args.max_wait))
                print(f"round {round_no}/{args.rounds} (others used {quiet[-1]:.0f}% of the machine before it)",
                      flush=True)
                for label, seed_path, our_path, our_script, seed_script, per_request in cases:
                    for name, server, path, token, script in (
                            ("seed", seed, seed_path, seed_token, seed_script),
                            ("ours", ours, our_path, our_token, our_script)):
                        if not path:
                            continue
                        cluster.settle()
                        r = wrk(server.base + path, [f"Authorization: Bearer {token}"], script, args.duration,
                                args.warmup, server.proc.pid, pg_pid)
                        results.setdefault((label, name), []).append(r)
                        print(f"  {name:4s} {label:48s} {r['rps']:9.0f} req/s  p50 {r['p50']:7.1f} ms  "
                              f"p99 {r['p99']:7.1f} ms  errors {r['errors']}  cpu server {r['server_pct']:.0f}% "
                              f"pg {r['pg_pct']:.0f}% wrk {r['wrk_pct']:.0f}% other {r['other_pct']:.0f}%",
                              flush=True)
                if any(c[5] for c in cases):
                    reset_events(cluster, env)
            rss, hwm = ours.memory_mib()
            seed_rss, seed_hwm = seed.memory_mib()
        finally:
            seed.stop()
            ours.stop()

    print(f"\n{args.rounds} round(s) of wrk -t1 -c32 -d{args.duration}s (after {args.warmup} s of warm-up), medians; "
          f"commit {commit}{' (uncommitted changes)' if dirty else ''}; {NCPU} cores; load average "
          f"{os.getloadavg()[0]:.1f}; others used {max(quiet):.0f}% of the machine before a round at most\n")
    print("| endpoint | seed req/s | p50 ms | p99 ms | handler req/s | p50 ms | p99 ms | ratio | other % (seed / ours) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    summary = {}
    for label, seed_path, our_path, _, _, per_request in cases:
        s, o = results.get((label, "seed")), results.get((label, "ours"))
        cell = lambda runs, k, f: f.format(median(runs, k)) if runs else "—"  # noqa: E731
        unit = per_request or 1
        ratio = f"{median(o, 'rps') / median(s, 'rps'):.1f}×" if s and o and median(s, "rps") else "—"
        other = " / ".join(f"{max(r['other_pct'] for r in runs):.0f}" for runs in (s, o) if runs)
        rate = lambda runs: f"{median(runs, 'rps') * unit:,.0f}" + (" ev/s" if per_request else "")  # noqa: E731
        errors = sum(r["errors"] for r in o or []) + sum(r["errors"] for r in s or [])
        print(f"| {label}{f' ({errors} errors)' if errors else ''} | {rate(s) if s else '—'} | "
              f"{cell(s, 'p50', '{:.1f}')} | {cell(s, 'p99', '{:.1f}')} | {rate(o) if o else '—'} | "
              f"{cell(o, 'p50', '{:.1f}')} | {cell(o, 'p99', '{:.1f}')} | {ratio} | {other} |")
    print(f"\nhandler serve after all of it: VmRSS {rss:.1f} MiB, VmHWM {hwm:.1f} MiB; "
          f"seed (uvicorn): VmRSS {seed_rss:.1f} MiB, VmHWM {seed_hwm:.1f} MiB")

    def get(label, name, key="rps"):
        runs = results.get((label, name))
        return median(runs, key) if runs else None

    def ratio(label, against=None):
        o, s = get(label, "ours"), get(against or label, "seed")
        return round(o / s, 2) if o is not None and s else None
    search, category = cases_label(cases, "q=waterproof"), cases_label(cases, "category")
    ts30, ts90 = cases_label(cases, "30 days (seed"), cases_label(cases, "by day, 90")
    tops = [c[0] for c in cases if c[0].startswith("top-products") and "new range" not in c[0]]
    events = cases_label(cases, "POST")
    uncached = cases_label(cases, "new range")
    summary = {
        "search_ratio": ratio(search) if search else None,
        "search_p99_ratio": round(get(search, "ours", "p99") / get(search, "seed", "p99"), 3)
        if search and get(search, "seed", "p99") else None,
        "category_ratio": ratio(category) if category else None,
        "summary_ratio": ratio(ts30) if ts30 else None,
        "summary_90_ratio": ratio(ts90, ts30) if ts90 and ts30 else None,
        "top_products_rps": round(min(get(t, "ours") for t in tops)) if tops else None,
        "top_products_p99_ms": round(max(get(t, "ours", "p99") for t in tops), 1) if tops else None,
        "top_products_uncached_rps": round(get(uncached, "ours")) if uncached else None,
        "top_products_uncached_p50_ms": round(get(uncached, "ours", "p50"), 1) if uncached else None,
        "ingest_ratio": ratio(events) if events else None,
        "ingest_events_per_s": round(get(events, "ours") * 100) if events else None,
        "seed_ingest_events_per_s": round(get(events, "seed") * 100) if events and get(events, "seed") else None,
        "rss_mib": round(rss, 1), "hwm_mib": round(hwm, 1),
        "other_pct_max": round(max(r["other_pct"] for runs in results.values() for r in runs), 1),
        "rounds": args.rounds, "commit": commit,
    }
    print(json.dumps(summary))
    return 0


def cases_label(cases, fragment):
    return next((c[0] for c in cases if fragment in c[0]), None)


if __name__ == "__main__":
    sys.exit(main())
