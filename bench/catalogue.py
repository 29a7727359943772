#!/usr/bin/env python3
"""Catalogue and analytics benchmark on PostgreSQL, our own figures only: product search, a category list, a 90-day
revenue time series and the top-products ranking for an organization with 50,000 products and 1,000,000 analytics
events (plus one order per purchase event), under `wrk -t1 -c32` on loopback. Its data differs from the seed
stack's (`waterproof` matches 6,250 products in one organization): to compare with the FastAPI seed stack, use
`bench/compare.py`, which runs both on one PostgreSQL with the same rows — figures from another run or machine do
not compare.

    python3 bench/catalogue.py [--no-build] [--duration 10] [--database-url postgres://postgres@127.0.0.1:5432/postgres]

The raw rows are written with set-based SQL straight into our schema (after `handler migrate`) and the rollups by
`handler rollups rebuild`, in a throwaway database that is dropped at the end. Tests never time; this prints a table.
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import date, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BINARY = os.path.join(TARGET, "release", "handler")
SECRET = "bench-secret-0123456789abcdef0123456789abcdef"

SEED = """
INSERT INTO organizations (id, name, timezone, currency) VALUES ('{org}', 'Bench', 'UTC', 'USD');
INSERT INTO members (organization_id, user_id, role) VALUES ('{org}', '{user}', 'admin');
INSERT INTO stores (id, organization_id, platform, name) VALUES ('{store}', '{org}', 'demo', 'Bench');
INSERT INTO products (id, organization_id, store_id, external_id, title, description, vendor, category, status,
                      price_minor, inventory, created_at, updated_at)
SELECT gen_random_uuid(), '{org}', '{store}', 'p' || i,
       (ARRAY['Waterproof','Lightweight','Classic','Organic','Wireless','Vintage','Compact','Premium'])[1 + i % 8] || ' ' ||
       (ARRAY['jacket','backpack','headphones','mug','lamp','boots','blender','keyboard','tent','watch'])[1 + (i / 8) % 10] || ' ' || i,
       'A ' || (ARRAY['durable','stylish','handmade','ergonomic'])[1 + i % 4] || ' product for everyday use, model ' || i,
       (ARRAY['Acme','Globex','Initech','Umbrella'])[1 + i % 4],
       (ARRAY['electronics','outdoor','home','apparel','kitchen'])[1 + i % 5],
       'active', 500 + (i * 7919) % 20000, (i * 31) % 200, now(), now() - i * interval '1 second'
FROM generate_series(1, 50000) AS i;
INSERT INTO variants (id, organization_id, product_id, external_id, sku, title, price_minor, cost_minor, inventory)
SELECT gen_random_uuid(), organization_id, id, external_id || '-v', 'SKU-' || external_id, 'Default', price_minor,
       price_minor / 2, inventory FROM products WHERE organization_id = '{org}';
CREATE TEMP TABLE product_ids AS SELECT array_agg(id ORDER BY external_id) AS ids FROM products WHERE organization_id = '{org}';
INSERT INTO analytics_events (organization_id, client_id, kind, product_id, occurred_at)
SELECT '{org}', 'e' || i,
       CASE WHEN i % 20 = 0 THEN 'purchase' WHEN i % 10 = 0 THEN 'add_to_cart' ELSE 'view' END,
       (SELECT ids FROM product_ids)[1 + (i * 7) % 50000],
       timestamptz '{start}' + ((i * 7777) % (90 * 86400)) * interval '1 second'
FROM generate_series(1::bigint, 1000000) AS i;
INSERT INTO orders (id, organization_id, store_id, external_id, placed_at, status, total_minor)
SELECT gen_random_uuid(), '{org}', '{store}', 'o' || e.client_id, e.occurred_at, 'fulfilled',
       p.price_minor * (1 + length(e.client_id) % 3)
FROM analytics_events e JOIN products p ON p.id = e.product_id
WHERE e.organization_id = '{org}' AND e.kind = 'purchase';
INSERT INTO order_lines (order_id, organization_id, line_no, product_id, quantity, total_minor)
SELECT o.id, o.organization_id, 1, e.product_id, 1 + length(e.client_id) % 3, o.total_minor
FROM orders o JOIN analytics_events e ON e.organization_id = o.organization_id AND 'o' || e.client_id = o.external_id;
ANALYZE;
"""


def psql(url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url], input=sql, text=True, check=True,
                   stdout=subprocess.DEVNULL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port):
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError("handler did not become healthy")


def wrk(url, token, duration):
    args = ["wrk", "-t1", "-c32", "--timeout", "10s", "--latency", "-H", f"Authorization: Bearer {token}"]
    subprocess.run(args + ["-d2s", url], capture_output=True)
    out = subprocess.run(args + [f"-d{duration}s", url], capture_output=True, text=True, check=True).stdout

    def ms(label):
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rps, ms("50%"), ms("99%"), int(errors.group(1)) if errors else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL",
                                                                  "postgres://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "handler"], cwd=ROOT, check=True)
    name = f"bench_catalogue_{os.getpid()}"
    server = args.database_url.rsplit("/", 1)[0]
    db_url = f"{server}/{name}"
    psql(args.database_url, f'CREATE DATABASE "{name}"')
    proc = None
    try:
        # The per-tenant limiter would answer most of this load with 429: measure the work, not the limiter.
        env = dict(os.environ, DATABASE_URL=db_url, SUPABASE_JWT_SECRET=SECRET, RUST_LOG="warn",
                   RATE_LIMIT_PER_MINUTE="0", RATE_LIMIT_ANONYMOUS_PER_MINUTE="0")
        for key in ("SUPABASE_URL", "SUPABASE_JWKS_URL", "AUTH_ISSUER", "AWS_LAMBDA_RUNTIME_API"):
            env.pop(key, None)
        subprocess.run([BINARY, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        org, user, store = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        yesterday = date.today() - timedelta(days=1)
        start = yesterday - timedelta(days=89)
        seeded = time.monotonic()
        psql(db_url, SEED.format(org=org, user=user, store=store, start=f"{start}T00:00:00Z"))
        # The rollups (daily and monthly) come from our own recomputation of the raw rows.
        subprocess.run([BINARY, "rollups", "rebuild", "--org", str(org)], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        psql(db_url, "ANALYZE")
        seed_seconds = time.monotonic() - seeded
        with tempfile.TemporaryDirectory() as data_dir:
            token = subprocess.run([BINARY, "token", "--user", str(user), "--data-dir", data_dir], env=env,
                                   capture_output=True, text=True, check=True).stdout.strip()
        port = free_port()
        env["FUNCTIONS_CUSTOMHANDLER_PORT"] = str(port)
        env["DATABASE_MAX_CONNECTIONS"] = "10"
        proc = subprocess.Popen([BINARY, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(port)
        base = f"http://127.0.0.1:{port}/api/v1"
        cases = [
            ("products?q=waterproof&limit=50 (full-text, ranked)", f"{base}/products?q=waterproof&limit=50"),
            ("products?category=electronics&limit=50", f"{base}/products?category=electronics&limit=50"),
            ("timeseries revenue, 90 days by day", f"{base}/analytics/timeseries?metric=revenue&bucket=day&from={start}&to={yesterday}"),
            ("top-products by revenue, 90 days", f"{base}/analytics/top-products?by=revenue&from={start}&to={yesterday}&limit=10"),
        ]
        print(f"seeded 50,000 products, 1,000,000 events, 50,000 orders in {seed_seconds:.0f} s\n")
        print("| endpoint (wrk -t1 -c32) | req/s | p50 ms | p99 ms | non-2xx |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for label, url in cases:
            rps, p50, p99, errors = wrk(url, token, args.duration)
            print(f"| {label} | {rps:,.0f} | {p50:.1f} | {p99:.1f} | {errors} |")
        with open(f"/proc/{proc.pid}/status") as f:
            peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        print(f"\npeak RSS of the handler: {peak / 1024:.1f} MiB")
    finally:
        if proc:
            proc.terminate()
            proc.wait()
        psql(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
