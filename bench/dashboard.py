#!/usr/bin/env python3
"""Speed of the merchant dashboard in headless Chromium (Debian's, driven by Playwright) against `handler dev --demo`
on a free loopback port with a throwaway data directory. Prints a table; asserts nothing.

  python3 bench/dashboard.py [--handler target/release/handler] [--runs 7]

- overview transfer: JavaScript and CSS bytes on the wire (compressed) for the overview, from Resource Timing;
- overview render: navigation start to the revenue chart drawn (the page's `chart-drawn:Revenue` mark), signed in,
  with an empty cache (cold) and a warm one (hashed assets are cached as immutable);
- round trips: the longest chain of requests that each started after the previous one answered, before the chart
  drew (page → assets → API calls), and the API calls among them;
- search: keystroke to updated table (the page's `search: keystroke to table` measure) typing demo words.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from conftest import CHROMIUM, CHROMIUM_ARGS, free_port  # noqa: E402

WORDS = ["chair", "binder", "phone", "table", "paper", "storage", "lamp", "printer"]


def chain_depth(entries):
    """The longest sequence of requests each starting after the previous one's response ended."""
    entries = sorted(entries, key=lambda e: e["startTime"])
    depth = {}
    for i, e in enumerate(entries):
        before = [depth[j] for j in range(i) if entries[j]["responseEnd"] <= e["startTime"]]
        depth[i] = 1 + max(before, default=0)
    return max(depth.values(), default=0)


def main():
    parser = argparse.ArgumentParser()
    default = ROOT / "target" / ("release" if (ROOT / "target/release/handler").exists() else "debug") / "handler"
    parser.add_argument("--handler", default=str(default))
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    data = tempfile.mkdtemp(prefix="dashboard-bench-")
    port = free_port()
    handler = subprocess.Popen([args.handler, "dev", "--demo", "--port", str(port), "--data-dir", data], cwd=data,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "warn"})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(900):
            try:
                urllib.request.urlopen(f"{base}/api/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            page.goto(f"{base}/")
            page.get_by_role("button", name="Sign in as the development user").click()
            page.wait_for_selector(".chart[data-drawn]")
            page.wait_for_selector(".advice-summary .headline", timeout=120_000)  # advice computed once, off the clock

            results = {"cold": [], "warm": []}
            transfer = depth = api_depth = None
            for mode in ["cold", "warm"] * args.runs:
                cdp.send("Network.setCacheDisabled", {"cacheDisabled": mode == "cold"})
                page.goto(f"{base}/#/overview")
                page.reload()
                page.wait_for_selector(".chart[data-drawn]")
                timing = page.evaluate("""() => {
                    const drawn = performance.getEntriesByName("chart-drawn:Revenue")[0].startTime;
                    const resources = performance.getEntriesByType("resource").map(r => ({
                        name: r.name, type: r.initiatorType, startTime: r.startTime, responseEnd: r.responseEnd,
                        encoded: r.encodedBodySize, transfer: r.transferSize }));
                    const nav = performance.getEntriesByType("navigation")[0];
                    return { drawn, resources, nav: { startTime: 0, responseEnd: nav.responseEnd } };
                }""")
                results[mode].append(timing["drawn"])
                if mode == "cold" and transfer is None:
                    assets = [r for r in timing["resources"] if r["name"].endswith((".js", ".css"))]
                    transfer = sum(r["encoded"] for r in assets)
                    before = [r for r in timing["resources"] if r["responseEnd"] <= timing["drawn"]]
                    depth = chain_depth([timing["nav"], *before])
                    api_depth = chain_depth([r for r in before if "/api/v1/" in r["name"]])

            page.goto(f"{base}/#/products")
            search = page.get_by_role("searchbox")
            search.wait_for()
            page.evaluate("() => performance.clearMeasures()")
            for word in WORDS:
                search.fill("")
                for letter in word:
                    search.press(letter)
                    page.wait_for_timeout(180)
                page.wait_for_timeout(300)
            searches = page.evaluate("() => performance.getEntriesByName('search: keystroke to table').map(m => m.duration)")
            browser.close()
    finally:
        handler.terminate()
        handler.wait()

    def row(name, values, unit="ms"):
        values = sorted(values)
        return f"| {name} | {statistics.median(values):.0f} {unit} | {values[0]:.0f}–{values[-1]:.0f} {unit} | {len(values)} |"

    print(f"handler: {args.handler}")
    print("| measurement | median | min–max | samples |")
    print("| --- | ---: | ---: | ---: |")
    print(row("overview rendered, empty cache (navigation → chart drawn)", results["cold"]))
    print(row("overview rendered, warm cache", results["warm"]))
    print(row("search: keystroke → table updated", searches))
    print(f"| overview JS + CSS transferred (compressed) | {transfer / 1024:.1f} KB | | 1 |")
    print(f"| sequential round trips before the chart (page, assets, API) | {depth} | | 1 |")
    print(f"| of which API calls | {api_depth} | | 1 |")


if __name__ == "__main__":
    main()
