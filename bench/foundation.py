#!/usr/bin/env python3
"""Foundation benchmark: cold start, memory, binary size and /api/health latency of the `handler` binary.

Run from the repository root (builds the release binary first unless --no-build):

    python3 bench/foundation.py [--no-build] [--runs 5] [--duration 10]

Cold start is process spawn to the first 200 from GET /api/health with the custom handler's own arguments
(`handler serve`, port from FUNCTIONS_CUSTOMHANDLER_PORT), polled every 5 ms, median of --runs spawns — the same
method as the FastAPI seed stack in shared/bench/seed-stack (2.13 s there). The database is a SQLite file so the
figure measures the binary, not a server; /api/health does a real database round trip. Load uses wrk
(`apt-get install wrk`) with one thread and 32 connections on loopback, like the seed stack's numbers
(2,591 req/s, p50 12.3 ms, p99 22.5 ms for its /health, which touches no database). Tests never time; this prints.
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "handler")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(port, data_dir):
    env = dict(os.environ)
    env.update({
        "FUNCTIONS_CUSTOMHANDLER_PORT": str(port),
        "DATABASE_URL": f"sqlite://{data_dir}/advisor.db",
        "SUPABASE_JWT_SECRET": "bench-secret-0123456789abcdef0123456789abcdef",
        "RUST_LOG": "warn",
    })
    env.pop("AWS_LAMBDA_RUNTIME_API", None)
    return subprocess.Popen([BINARY, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_healthy(port, deadline_s=30.0):
    url = f"http://127.0.0.1:{port}/api/health"
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError("handler did not become healthy")


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def migrate(data_dir):
    env = dict(os.environ, DATABASE_URL=f"sqlite://{data_dir}/advisor.db")
    subprocess.run([BINARY, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)


def cold_starts(runs, data_dir):
    times = []
    for _ in range(runs):
        port = free_port()
        started = time.monotonic()
        proc = spawn(port, data_dir)
        try:
            wait_healthy(port)
            times.append(time.monotonic() - started)
        finally:
            stop(proc)
    return times


def load(duration, data_dir):
    port = free_port()
    proc = spawn(port, data_dir)
    try:
        wait_healthy(port)
        idle = rss_kib(proc.pid, "VmRSS")
        subprocess.run(["wrk", "-t1", "-c32", "-d2s", f"http://127.0.0.1:{port}/api/health"], capture_output=True)
        out = subprocess.run(
            ["wrk", "-t1", "-c32", f"-d{duration}s", "--timeout", "10s", "--latency", f"http://127.0.0.1:{port}/api/health"],
            capture_output=True, text=True, check=True).stdout
        peak = rss_kib(proc.pid, "VmHWM")
        return idle, peak, out
    finally:
        stop(proc)


def wrk_figures(out):
    def ms(label):
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, ms("50%"), ms("90%"), ms("99%"), int(errors.group(1)) if errors else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "handler"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as data_dir:
        migrate(data_dir)
        starts = cold_starts(args.runs, data_dir)
        idle, peak, out = load(args.duration, data_dir)
    rps, p50, p90, p99, errors = wrk_figures(out)
    size = os.path.getsize(BINARY)
    print("| measurement | handler (Rust) | seed stack (FastAPI) |")
    print("| --- | ---: | ---: |")
    print(f"| cold start: spawn → first 200 /api/health (median of {args.runs}) | {statistics.median(starts) * 1000:.1f} ms "
          f"(min {min(starts) * 1000:.1f}, max {max(starts) * 1000:.1f}) | 2130 ms |")
    print(f"| RSS idle after start / peak after load (VmHWM) | {idle / 1024:.1f} MiB / {peak / 1024:.1f} MiB | 132 / 145 MiB |")
    print(f"| binary size (stripped release) | {size / 1024 / 1024:.2f} MiB | n/a |")
    print(f"| GET /api/health, wrk -t1 -c32 -d{args.duration}s: req/s | {rps:,.0f} | 2,591 |")
    print(f"| latency p50 / p90 / p99 | {p50:.2f} / {p90:.2f} / {p99:.2f} ms | 12.3 / – / 22.5 ms |")
    print(f"| non-2xx responses | {errors} | |")
    print("\nNote: our /api/health runs a database round trip (SQLite) on every call; the seed stack's /health does not.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
