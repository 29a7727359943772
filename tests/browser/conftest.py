"""Browser tests of the merchant dashboard: Playwright driving Debian's Chromium against a real `handler dev --demo`
on a free loopback port with its own data directory, beside the WooCommerce and Supabase Auth protocol fakes
(`tests/src/bin`), and the Shopify fake, whose approval page the dashboard's "Install on Shopify" goes through
(its authorize, token and Admin API URLs configured as the handler's templates). Screenshots of every page, desktop and phone width, go to `tests/browser/artifacts/` (or
`$BROWSER_ARTIFACTS`), which is not committed.

Environment: `HANDLER_BIN` and `FAKES_DIR` (default: target/debug), `CHROMIUM` (default: /usr/bin/chromium).
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "target" / "debug"
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", Path(__file__).parent / "artifacts"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Chromium on a machine with no network but the loopback: no background calls home, no QUIC, no GPU.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

SUPABASE_USER = ("merchant@example.com", "correct horse battery staple")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_fake(binary, env):
    """Starts a fake binary, reads its JSON line; it ends when its stdin closes."""
    process = subprocess.Popen(
        [str(Path(os.environ.get("FAKES_DIR", TARGET)) / binary)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, **env},
        text=True,
    )
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"{binary} printed nothing (exit code {process.poll()})")
    return process, json.loads(line)


def stop(process):
    if process.poll() is None:
        if process.stdin:
            process.stdin.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Stack:
    """The running app and fakes, with a small API client for checking what the page shows."""

    def __init__(self, base, woo, shopify, gotrue_url, anon_key):
        self.base = base
        self.woo = woo
        self.shopify = shopify
        self.gotrue_url = gotrue_url
        self.anon_key = anon_key
        self.token = self.post("/api/v1/dev/sign-in", {})["access_token"]

    def request(self, method, path, body=None, token=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return json.loads(text) if text else None

    def post(self, path, body):
        return self.request("POST", path, body)

    def get(self, path):
        return self.request("GET", path, token=self.token)

    def gotrue_requests(self):
        with urllib.request.urlopen(f"{self.gotrue_url}/_fake/requests", timeout=10) as response:
            return json.loads(response.read())

    def magic_link(self, email):
        with urllib.request.urlopen(f"{self.gotrue_url}/_fake/link?email={email}", timeout=10) as response:
            return json.loads(response.read())["link"]


@pytest.fixture(scope="session")
def stack():
    jwt_secret = secrets.token_hex(32)
    anon_key = f"anon-{secrets.token_hex(8)}"
    gotrue, gotrue_info = spawn_fake("gotrue_fake", {
        "GOTRUE_FAKE_ANON_KEY": anon_key,
        "GOTRUE_FAKE_JWT_SECRET": jwt_secret,
        # Short-lived access tokens, so the page's refresh before expiry happens within a test.
        "GOTRUE_FAKE_ACCESS_TTL_SECS": "8",
        "GOTRUE_FAKE_USERS": f"{SUPABASE_USER[0]}:{SUPABASE_USER[1]}",
    })
    woo, woo_info = spawn_fake("woocommerce_fake", {})
    shopify, shopify_info = spawn_fake("shopify_fake", {})
    data_dir = tempfile.mkdtemp(prefix="dashboard-browser-")
    port = free_port()
    log = open(Path(data_dir) / "handler.log", "w")
    handler = subprocess.Popen(
        [os.environ.get("HANDLER_BIN", str(TARGET / "handler")), "dev", "--demo", "--port", str(port), "--data-dir", data_dir],
        cwd=data_dir,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "SUPABASE_URL": gotrue_info["url"],
            "SUPABASE_ANON_KEY": anon_key,
            "SUPABASE_JWT_SECRET": jwt_secret,
            "SHOPIFY_CLIENT_ID": shopify_info["client_id"],
            "SHOPIFY_CLIENT_SECRET": shopify_info["client_secret"],
            "SHOPIFY_AUTHORIZE_URL_TEMPLATE": shopify_info["authorize_url_template"],
            "SHOPIFY_TOKEN_URL_TEMPLATE": shopify_info["token_url_template"],
            "SHOPIFY_ADMIN_URL_TEMPLATE": shopify_info["admin_url_template"],
            "RUST_LOG": "warn",
        },
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        if handler.poll() is not None:
            raise RuntimeError(f"handler dev exited with {handler.returncode}: {Path(data_dir, 'handler.log').read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("handler dev did not answer within 180 s")
            time.sleep(0.2)
    try:
        yield Stack(base, woo_info, shopify_info, gotrue_info["url"], anon_key)
    finally:
        stop(handler)
        stop(woo)
        stop(shopify)
        stop(gotrue)
        log.close()


@pytest.fixture(scope="session")
def browser():
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Page:
    """A Playwright page that fails the test on script errors and CSP violations, and saves screenshots."""

    def __init__(self, page, name):
        self.page = page
        self.name = name
        self.problems = []
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("console", self._console)

    def _console(self, message):
        text = message.text
        if "Content Security Policy" in text or (message.type == "error" and "Failed to load resource" not in text):
            self.problems.append(f"console {message.type}: {text}")

    def shot(self, label, full_page=False):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{label}.png"), full_page=full_page)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def open_page(browser, request):
    """Opens pages in fresh contexts (own sessionStorage): `open_page(viewport=..., color_scheme=...)`. A failed test
    leaves a screenshot of each of its pages in the artefacts folder."""
    contexts = []
    pages = []

    def opener(viewport=DESKTOP, color_scheme="light"):
        context = browser.new_context(viewport=viewport, locale="en-US", timezone_id="UTC", color_scheme=color_scheme)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = Page(context.new_page(), "page")
        pages.append(page)
        return page

    yield opener
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for index, page in enumerate(pages):
            page.shot(f"failed-{request.node.name}-{index}", full_page=True)
    for page in pages:
        # 401s on purpose (an expired session) log "Failed to load resource", which is filtered above.
        assert not page.problems, page.problems
    for context in contexts:
        context.close()


def sign_in_as_developer(page, stack):
    page.page.goto(f"{stack.base}/")
    page.page.get_by_role("button", name="Sign in as the development user").click()
    page.page.wait_for_selector("nav[aria-label=Main]")
