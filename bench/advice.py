#!/usr/bin/env python3
"""Advisor benchmark: time and peak memory to recompute all advice for one large organization on PostgreSQL.

Run from the repository root (builds the release binary first unless --no-build):

    python3 bench/advice.py [--no-build] [--products 50000] [--lines 1000000] [--days 365] [--keep]

It creates a fresh database on the server of TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
applies the migrations with `handler migrate`, and generates one organization in SQL: --products active products
(one variant each, with list price, cost and stock spread so every stock rule has work), --lines order lines on
--lines / 2 paid orders of two lines over the last --days days (product popularity skewed: a few products sell a lot,
most a little; one line in five discounted by 10 or 20%), the daily rollups computed from those rows exactly as the app would (organization time zone UTC),
and storefront views written straight into the rollups (raw events are not read by the advisor). Then it times
`handler advice refresh --org <id>` with /usr/bin/time, three times:

  1. cold: the first computation, every recommendation inserted;
  2. unchanged: the same facts again (what a forced recompute costs when nothing changed: nothing is written);
  3. after a day's changes: 1% of products restocked or sold out, then recomputed (a diff is written).

Tests never time; this prints a table. The database is dropped at the end unless --keep.
"""
import argparse
import os
import re
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "handler")
ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def psql(url, sql, quiet=True):
    args = ["psql", url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-t", "-A", "-c", sql]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"psql failed: {out.stderr.strip()}")
    return out.stdout.strip()


def database_url(name):
    base, _, query = ADMIN_URL.partition("?")
    server = base.rsplit("/", 1)[0]
    return f"{server}/{name}" + (f"?{query}" if query else "")


def generate(url, products, lines, days):
    org, store = str(uuid.uuid4()), str(uuid.uuid4())
    orders = lines // 2
    steps = [
        ("organization and store", f"""
            INSERT INTO organizations (id, name, timezone, currency) VALUES ('{org}', 'Bench Retail', 'UTC', 'USD');
            INSERT INTO stores (id, organization_id, platform, name) VALUES ('{store}', '{org}', 'demo', 'Bench');
        """),
        (f"{products:,} products and variants", f"""
            SELECT setseed(0.42);
            CREATE UNLOGGED TABLE bench_products AS
              SELECT n, gen_random_uuid() AS id, (500 + floor(random() * 19500))::bigint AS price
              FROM generate_series(1, {products}) n;
            INSERT INTO products (id, organization_id, store_id, external_id, title, status, price_minor, inventory,
                                  created_at, updated_at)
              SELECT id, '{org}', '{store}', 'p' || n, 'Product ' || n, 'active', price, 0,
                     now() - interval '{days + 30} days', now() - interval '1 day'
              FROM bench_products;
            INSERT INTO variants (id, organization_id, product_id, external_id, sku, title, price_minor, cost_minor,
                                  inventory, updated_at)
              SELECT gen_random_uuid(), '{org}', id, 'v' || n, 'SKU-' || n, 'Default', price,
                     (price * (0.4 + random() * 0.3))::bigint, 0, now() - interval '1 day'
              FROM bench_products;
        """),
        (f"{orders:,} orders with {lines:,} lines over {days} days", f"""
            SELECT setseed(0.43);
            INSERT INTO orders (id, organization_id, store_id, external_id, placed_at, status, total_minor, updated_at)
              SELECT gen_random_uuid(), '{org}', '{store}', 'o' || g,
                     date_trunc('second', now() - random() * interval '{days} days'), 'paid', 0, now() - interval '1 day'
              FROM generate_series(1, {orders}) g;
            CREATE UNLOGGED TABLE bench_lines AS
              SELECT o.id AS order_id, l AS line_no,
                     (1 + floor(power(random(), 3) * {products}))::int AS n,
                     (1 + floor(random() * 3))::int AS quantity,
                     -- One line in five carries a 10% or 20% discount: prices vary, as price suggestions need.
                     CASE WHEN random() < 0.2 THEN 0.8 + 0.1 * floor(random() * 2) ELSE 1 END AS paid
              FROM orders o CROSS JOIN generate_series(1, 2) l WHERE o.organization_id = '{org}';
            INSERT INTO order_lines (order_id, organization_id, line_no, product_id, variant_id, quantity, total_minor)
              SELECT b.order_id, '{org}', b.line_no, p.id, NULL, b.quantity, round(b.quantity * p.price * b.paid)
              FROM bench_lines b JOIN bench_products p ON p.n = b.n;
            UPDATE orders o SET total_minor = t.total FROM
              (SELECT order_id, sum(total_minor) AS total FROM order_lines WHERE organization_id = '{org}'
               GROUP BY order_id) t
              WHERE o.id = t.order_id;
        """),
        ("daily rollups (as the app maintains them)", f"""
            INSERT INTO daily_product_totals (organization_id, product_id, day, orders, units, revenue_minor, views,
                                              add_to_carts, purchases)
              SELECT '{org}', l.product_id, (o.placed_at AT TIME ZONE 'UTC')::date, count(DISTINCT o.id),
                     sum(l.quantity), sum(l.total_minor), 0, 0, 0
              FROM orders o JOIN order_lines l ON l.organization_id = o.organization_id AND l.order_id = o.id
              WHERE o.organization_id = '{org}' GROUP BY 2, 3;
            SELECT setseed(0.44);
            -- Storefront views: 20-60 per order, and 10 times that for one product in 50 (conversion gaps).
            UPDATE daily_product_totals t SET views = t.orders * (20 + floor(random() * 40))::bigint
                   * CASE WHEN p.n % 50 = 0 THEN 10 ELSE 1 END,
                   add_to_carts = t.orders * 2, purchases = t.orders
              FROM bench_products p WHERE p.id = t.product_id AND t.organization_id = '{org}';
            INSERT INTO daily_totals (organization_id, day, orders, units, revenue_minor, views, add_to_carts, purchases)
              SELECT '{org}', d.day, d.orders, d.units, d.revenue, v.views, v.carts, d.orders
              FROM (SELECT (o.placed_at AT TIME ZONE 'UTC')::date AS day, count(*) AS orders,
                           sum(u.units) AS units, sum(o.total_minor) AS revenue
                    FROM orders o JOIN (SELECT order_id, sum(quantity) AS units FROM order_lines
                                        WHERE organization_id = '{org}' GROUP BY order_id) u ON u.order_id = o.id
                    WHERE o.organization_id = '{org}' GROUP BY 1) d
              JOIN (SELECT day, sum(views) AS views, sum(add_to_carts) AS carts FROM daily_product_totals
                    WHERE organization_id = '{org}' GROUP BY day) v ON v.day = d.day;
        """),
        ("stock levels (days of cover spread from 0 to 400, one product in ten idle)", f"""
            SELECT setseed(0.45);
            UPDATE variants v SET inventory = CASE
                WHEN random() < 0.1 THEN (2 + floor(random() * 40))::bigint
                ELSE ceil(coalesce(s.units, 0) / 90.0 * (floor(power(random(), 2) * 400)))::bigint END
              FROM products p LEFT JOIN (SELECT product_id, sum(units) AS units FROM daily_product_totals
                  WHERE organization_id = '{org}' AND day >= current_date - 90 GROUP BY product_id) s
                ON s.product_id = p.id
              WHERE p.id = v.product_id AND v.organization_id = '{org}';
            UPDATE products p SET inventory = v.inventory FROM variants v
              WHERE v.product_id = p.id AND p.organization_id = '{org}';
            DROP TABLE bench_lines; DROP TABLE bench_products;
        """),
        ("vacuum and analyze", "VACUUM ANALYZE"),
    ]
    for label, sql in steps:
        started = time.monotonic()
        psql(url, sql)
        print(f"  {label}: {time.monotonic() - started:.1f} s", flush=True)
    return org


def refresh(url, org):
    env = dict(os.environ, DATABASE_URL=url, LOG_FORMAT="json", RUST_LOG="warn")
    out = subprocess.run(
        ["/usr/bin/time", "-f", "TIME %e %M", BINARY, "advice", "refresh", "--org", org],
        env=env, capture_output=True, text=True,
    )
    if out.returncode != 0:
        sys.exit(f"handler advice refresh failed:\n{out.stdout}\n{out.stderr}")
    wall, rss_kb = re.search(r"TIME ([\d.]+) (\d+)", out.stderr).groups()
    return float(wall), int(rss_kb) / 1024, out.stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "functions", "--bin", "handler"], cwd=ROOT, check=True)
    name = f"bench_advice_{uuid.uuid4().hex[:12]}"
    psql(ADMIN_URL, f'CREATE DATABASE "{name}"')
    url = database_url(name)
    try:
        subprocess.run([BINARY, "migrate"], env=dict(os.environ, DATABASE_URL=url, RUST_LOG="warn"), check=True,
                       capture_output=True)
        print(f"generating data in {name}:", flush=True)
        org = generate(url, args.products, args.lines, args.days)
        counts = psql(url, f"""SELECT (SELECT count(*) FROM products WHERE organization_id = '{org}') || ' ' ||
                                      (SELECT count(*) FROM order_lines WHERE organization_id = '{org}') || ' ' ||
                                      (SELECT count(*) FROM daily_product_totals WHERE organization_id = '{org}')""")
        n_products, n_lines, n_rollups = (int(x) for x in counts.split())

        runs = []
        runs.append(("cold (all inserted)",) + refresh(url, org))
        runs.append(("unchanged (nothing written)",) + refresh(url, org))
        psql(url, f"""SELECT setseed(0.46);
            UPDATE variants SET inventory = CASE WHEN random() < 0.5 THEN 0 ELSE inventory + 500 END,
                   updated_at = now()
              WHERE organization_id = '{org}' AND random() < 0.01;
            UPDATE products p SET inventory = v.inventory, updated_at = now() FROM variants v
              WHERE v.product_id = p.id AND p.organization_id = '{org}' AND v.updated_at > now() - interval '1 minute';""")
        runs.append(("after 1% of stock changed",) + refresh(url, org))
        kinds = psql(url, f"""SELECT string_agg(kind || ' ' || n, ', ' ORDER BY kind) FROM
            (SELECT kind, count(*) AS n FROM recommendations WHERE organization_id = '{org}' AND resolved_at IS NULL
             GROUP BY kind) k""")

        print()
        print(f"organization: {n_products:,} products, {n_lines:,} order lines, {n_rollups:,} product-day rollups")
        print(f"recommendations kept: {kinds}")
        print()
        print(f"| {'run':<30} | {'wall time (s)':>13} | {'peak RSS (MiB)':>14} |")
        print(f"|{'-' * 32}|{'-' * 15}|{'-' * 16}|")
        for label, wall, rss, _ in runs:
            print(f"| {label:<30} | {wall:>13.2f} | {rss:>14.1f} |")
        print()
        for label, _, _, out in runs:
            print(f"{label}: {out}")
    finally:
        if not args.keep:
            psql(ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    main()
