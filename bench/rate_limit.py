#!/usr/bin/env python3
"""Load test of the per-tenant rate limiter, on loopback only, bounded in time and count.

Starts `handler serve` (as the Functions host would) on a SQLite database in a temporary folder with
RATE_LIMIT_PER_MINUTE / RATE_LIMIT_BURST, creates two organizations with `handler token --org`, then for
--seconds (default 10, at most --max-requests in all):
  - "busy": --workers threads hammer GET /api/v1/products as fast as they can;
  - "calm": one thread sends --calm-rps requests per second, well under the limit.
Prints, per tenant, what was sent, let through (200) and refused (429), the rate let through against the limit
(burst + rate x time), and the calm tenant's latency. The limiter holds when "busy" gets no more than its budget and
"calm" gets every request through.

  python3 bench/rate_limit.py                      # uses target/release/handler if built, else target/debug/handler
  python3 bench/rate_limit.py --binary path/to/handler --seconds 5
"""

import argparse
import http.client
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_binary(explicit):
    if explicit:
        return pathlib.Path(explicit)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    for profile in ("release", "debug"):
        candidate = target / profile / "handler"
        if candidate.exists():
            return candidate
    sys.exit("no handler binary: run `cargo build --release --bin handler` (or pass --binary)")


def token(binary, data_dir, org, user=None):
    args = [str(binary), "token", "--org", org, "--data-dir", str(data_dir), "--ttl-hours", "1"]
    if user:
        args += ["--user", user]
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=120)
    return out.stdout.strip()


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = {}
        self.latencies = []
        self.first_429 = None

    def add(self, status, latency, at):
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.latencies.append(latency)
            if status == 429 and self.first_429 is None:
                self.first_429 = at


def hammer(port, bearer, tally, stop_at, budget):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {bearer}"}
    while time.monotonic() < stop_at and budget.take():
        started = time.monotonic()
        conn.request("GET", "/api/v1/products?limit=1", headers=headers)
        response = conn.getresponse()
        response.read()
        tally.add(response.status, time.monotonic() - started, started)
    conn.close()


def steady(port, bearer, tally, stop_at, budget, rps):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {bearer}"}
    interval = 1.0 / rps
    next_at = time.monotonic()
    while time.monotonic() < stop_at and budget.take():
        started = time.monotonic()
        conn.request("GET", "/api/v1/products?limit=1", headers=headers)
        response = conn.getresponse()
        response.read()
        tally.add(response.status, time.monotonic() - started, started)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    conn.close()


class Budget:
    """The most requests the whole run may send."""

    def __init__(self, n):
        self.left = n
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=50_000)
    parser.add_argument("--per-minute", type=int, default=600)
    parser.add_argument("--burst", type=int, default=60)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--calm-rps", type=float, default=5.0)
    args = parser.parse_args()
    seconds = min(args.seconds, 60.0)

    binary = find_binary(args.binary)
    with tempfile.TemporaryDirectory(prefix="rate-limit-bench-") as tmp:
        data = pathlib.Path(tmp)
        busy = token(binary, data, "Busy Shop")
        calm = token(binary, data, "Calm Shop", user="7b1f1f5e-1c1d-4c5e-9a53-3c0f6d4f0a11")
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("AWS_LAMBDA_RUNTIME_API",)},
            "DATABASE_URL": f"sqlite://{data / 'advisor.db'}",
            "SUPABASE_JWT_SECRET": (data / "jwt-secret").read_text().strip(),
            "FUNCTIONS_CUSTOMHANDLER_PORT": str(port),
            "RATE_LIMIT_PER_MINUTE": str(args.per_minute),
            "RATE_LIMIT_BURST": str(args.burst),
            "LOG_FORMAT": "json",
            "RUST_LOG": "warn",
        }
        server = subprocess.Popen([str(binary), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        sys.exit("the handler did not start")
                    time.sleep(0.05)

            budget = Budget(args.max_requests)
            busy_tally, calm_tally = Tally(), Tally()
            start = time.monotonic()
            stop_at = start + seconds
            threads = [
                threading.Thread(target=hammer, args=(port, busy, busy_tally, stop_at, budget))
                for _ in range(args.workers)
            ]
            threads.append(
                threading.Thread(target=steady, args=(port, calm, calm_tally, stop_at, budget, args.calm_rps))
            )
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - start
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()

    allowed = args.burst + args.per_minute / 60 * elapsed
    print(f"binary: {binary}")
    print(f"limit: {args.per_minute}/min per organization, burst {args.burst}; run {elapsed:.1f} s, "
          f"{args.workers} busy workers, calm at {args.calm_rps:g} req/s")
    print()
    print(f"| tenant | sent | 200 | 429 | other | let through/s | budget (burst + rate x time) | p50 ms | p99 ms |")
    print(f"|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, tally in (("busy", busy_tally), ("calm", calm_tally)):
        sent = sum(tally.statuses.values())
        ok = tally.statuses.get(200, 0)
        limited = tally.statuses.get(429, 0)
        other = sent - ok - limited
        print(f"| {name} | {sent} | {ok} | {limited} | {other} | {ok / elapsed:.1f} | "
              f"{allowed:.0f} | {percentile(tally.latencies, 50) * 1000:.2f} | {percentile(tally.latencies, 99) * 1000:.2f} |")
    busy_ok = busy_tally.statuses.get(200, 0)
    calm_sent = sum(calm_tally.statuses.values())
    holds = busy_ok <= allowed + 1 and calm_tally.statuses.get(200, 0) == calm_sent and calm_sent > 0
    print()
    print(json.dumps({"busy_let_through": busy_ok, "busy_budget": round(allowed), "calm_all_through": calm_sent
                      == calm_tally.statuses.get(200, 0), "limiter_holds": holds}))
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
