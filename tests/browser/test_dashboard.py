"""The merchant dashboard in a real browser, page by page, against `handler dev --demo` (see conftest.py). The tests
run in file order: the WooCommerce store connected early is the source of the hostile product title checked later."""

import csv
import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from playwright.sync_api import expect

from conftest import DESKTOP, PHONE, ROOT, SUPABASE_USER, sign_in_as_developer

VIDEO = ROOT / "tests" / "fixtures" / "videos" / "landscape-faststart.mp4"


def go_to(page, section):
    page.page.get_by_role("navigation", name="Main").get_by_role("link", name=section).click()


def status_tab(page, name):
    """Shows one status's advice and waits until the page shows it (not the tab before)."""
    tab = page.page.get_by_role("navigation", name="Advice by status").get_by_role("link", name=name)
    tab.click()
    expect(tab).to_have_attribute("aria-current", "page")


def money(decimal):
    return f"${float(decimal):,.2f}"


def test_the_page_is_served_with_its_own_policy_and_cached_assets(stack, open_page):
    page = open_page()
    response = page.page.goto(f"{stack.base}/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, policy
    assert f"connect-src 'self' {stack.gotrue_url}" in policy, policy
    assert "unsafe" not in policy, policy
    assert response.headers["cache-control"] == "no-cache"
    script = page.page.locator("script[src]").get_attribute("src")
    asset = page.page.request.get(f"{stack.base}{script}", headers={"accept-encoding": "br"})
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["content-encoding"] == "br"


def test_signing_in_as_the_developer_shows_the_overview_with_the_apis_revenue(stack, open_page):
    page = open_page()
    sign_in_as_developer(page, stack)
    expect(page.page.locator(".chart[data-drawn]")).to_be_visible()
    expect(page.page.locator(".advice-summary .headline")).to_be_visible(timeout=60_000)
    start = page.page.locator("#range-from").input_value()
    end = page.page.locator("#range-to").input_value()
    series = stack.get(f"/api/v1/analytics/timeseries?metric=revenue&from={start}&to={end}")
    tile = page.page.locator(".tile[data-metric=revenue] .tile-value")
    assert tile.get_attribute("data-value") == series["total"]
    expect(tile).to_have_text(money(series["total"]))
    page.shot("overview-desktop")
    customers = stack.get(f"/api/v1/analytics/customers?from={start}&to={end}")
    card = page.page.locator(".customers")
    expect(card.locator(".tile[data-segment=returning] .tile-value")).to_have_text(money(customers["returning"]["revenue"]))
    expect(card.locator(".tile[data-segment=new] .tile-value")).to_have_text(money(customers["new"]["revenue"]))
    expect(card.locator("table.cohorts tbody tr")).to_have_count(len(customers["cohorts"]))
    card.scroll_into_view_if_needed()
    page.shot("overview-customers-desktop")

    page.page.get_by_role("radio", name="Week").click()
    expect(page.page.get_by_role("radio", name="Week")).to_have_attribute("aria-checked", "true")
    page.page.locator("#range-preset").select_option("90")
    expect(page.page.locator("#range-from")).not_to_have_value(start)
    expect(page.page.locator("#range-preset")).to_have_value("90")
    start = page.page.locator("#range-from").input_value()
    end = page.page.locator("#range-to").input_value()
    series = stack.get(f"/api/v1/analytics/timeseries?metric=revenue&bucket=week&from={start}&to={end}")
    expect(page.page.locator(".tile[data-metric=revenue] .tile-value")).to_have_attribute("data-value", series["total"])


def test_searching_as_you_type_finds_a_product_by_a_prefix(stack, open_page):
    page = open_page()
    sign_in_as_developer(page, stack)
    go_to(page, "Products")
    search = page.page.get_by_role("searchbox")
    search.press_sequentially("chai", delay=40)
    expect(page.page.locator("#product-table")).to_have_attribute("data-query", "chai")
    titles = page.page.locator("#product-table tbody th a").all_inner_texts()
    assert titles, "no product matched the prefix"
    assert all(re.search(r"\bchai", t, re.IGNORECASE) for t in titles), titles
    page.shot("products-desktop")


def test_a_failed_unit_cost_save_keeps_what_was_typed(stack, open_page):
    page = open_page()
    sign_in_as_developer(page, stack)
    page.page.goto(f"{stack.base}/#/products?q=chair")
    row = page.page.locator("#product-table tbody tr[data-product]").first
    product = row.get_attribute("data-product")
    cost = row.get_by_role("textbox")
    cost.fill("12.5.0")
    cost.press("Enter")
    expect(row.locator(".cell-error")).not_to_be_empty()
    expect(cost).to_have_value("12.5.0")
    expect(cost).to_have_attribute("aria-invalid", "true")
    cost.fill("4.20")
    cost.press("Enter")
    expect(cost).not_to_have_attribute("aria-invalid", "true")
    expect(row.locator(".cell-error")).to_be_empty()
    assert stack.get(f"/api/v1/products/{product}")["unit_cost"] == "4.20"


def test_the_filtered_product_list_exports_to_a_csv_download(stack, open_page):
    page = open_page()
    sign_in_as_developer(page, stack)
    page.page.goto(f"{stack.base}/#/products?q=chair")
    expect(page.page.locator("#product-table")).to_have_attribute("data-query", "chair")
    page.page.get_by_role("button", name="Export CSV").click()
    link = page.page.get_by_role("link", name=re.compile(r"^Download products-\d{4}-\d{2}-\d{2}\.csv$"))
    expect(link).to_be_visible(timeout=60_000)
    page.shot("products-export")
    response = page.page.request.get(link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.text(), newline="")))
    assert rows[0][:4] == ["id", "store_id", "external_id", "title"], rows[0]
    matching, cursor = [], None
    while True:
        listed = stack.get("/api/v1/products?q=chair&limit=200" + (f"&cursor={cursor}" if cursor else ""))
        matching += [item["id"] for item in listed["items"]]
        cursor = listed["next_cursor"]
        if not cursor:
            break
    assert sorted(row[0] for row in rows[1:]) == sorted(matching), "the whole filtered list, every page"


def test_a_woocommerce_store_connects_and_its_sync_completes(stack, open_page):
    page = open_page()
    sign_in_as_developer(page, stack)
    go_to(page, "Stores")
    page.page.get_by_text("Advanced: paste credentials").click()
    form = page.page.get_by_role("form", name="Connect a store")
    form.get_by_text("WooCommerce").click()
    form.get_by_label("Site URL").fill("ftp://shop.example.com")
    form.get_by_label("Consumer key").fill(stack.woo["consumer_key"])
    form.get_by_label("Consumer secret").fill(stack.woo["consumer_secret"])
    form.get_by_role("button", name="Connect store").click()
    site_error = form.locator(".field[data-field=site_url] .field-error")
    expect(site_error).to_be_visible()
    expect(form.get_by_label("Consumer key")).to_have_value(stack.woo["consumer_key"])

    form.get_by_label("Site URL").fill(stack.woo["site_url"])
    form.get_by_role("button", name="Connect store").click()
    store = page.page.locator("article.store[data-platform=woocommerce]")
    expect(store).to_be_visible()
    store.get_by_role("button", name="Sync now").click()
    expect(store.locator("[data-last-job=succeeded]")).to_be_visible(timeout=60_000)
    expect(store.locator("tr[data-job-status=succeeded]").first).to_be_visible()
    expect(store.locator("[data-total-products]")).to_have_attribute("data-total-products", str(stack.woo["products"]))
    page.shot("stores-desktop")


def test_installing_on_shopify_approves_and_comes_back_connected(stack, open_page):
    page = open_page()
    sign_in_as_developer(page, stack)
    go_to(page, "Stores")
    form = page.page.get_by_role("form", name="Install on Shopify")
    # A bare name is taken as <name>.myshopify.com; through the fake's approval page and the callback, back here.
    form.get_by_label("Shop name").fill(stack.shopify["shop"].removesuffix(".myshopify.com"))
    form.get_by_role("button", name="Install on Shopify").click()
    page.page.wait_for_url(re.compile(r"/api/app/#/stores$"))
    banner = page.page.locator("[data-install-result=connected]")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Store connected")
    store = page.page.locator("article.store[data-platform=shopify]")
    expect(store).to_contain_text(stack.shopify["shop"])
    shops = [s for s in stack.get("/api/v1/stores")["items"] if s["address"] == stack.shopify["shop"]]
    assert len(shops) == 1 and shops[0]["status"] == "enabled", shops
    page.shot("stores-shopify-installed-desktop", full_page=True)
    # The banner is for the return only: a reload shows none.
    page.page.reload()
    expect(page.page.locator("article.store[data-platform=shopify]")).to_be_visible()
    expect(page.page.locator("[data-install-result]")).to_have_count(0)


def test_an_invalid_shop_name_shows_a_readable_message(stack, open_page):
    page = open_page()
    sign_in_as_developer(page, stack)
    go_to(page, "Stores")
    form = page.page.get_by_role("form", name="Install on Shopify")
    form.get_by_label("Shop name").fill("not a shop!")
    form.get_by_role("button", name="Install on Shopify").click()
    error = form.locator(".field[data-field=shop] .field-error")
    expect(error).to_be_visible()
    assert "{" not in error.inner_text() and error.inner_text().strip(), error.inner_text()
    expect(form.get_by_label("Shop name")).to_have_value("not a shop!")
    assert "/api/app/" in page.page.url or page.page.url.startswith(stack.base)
    page.shot("stores-install-error-phone")


def test_connecting_woocommerce_through_key_approval(stack, open_page):
    page = open_page(viewport=PHONE)
    sign_in_as_developer(page, stack)
    go_to(page, "Stores")
    form = page.page.get_by_role("form", name="Connect WooCommerce")
    form.get_by_label("Site URL").fill(stack.woo["approval_site_url"])
    form.get_by_role("button", name="Connect WooCommerce").click()
    page.page.wait_for_url(re.compile(r"#/stores$"))
    expect(page.page.locator("[data-install-result=connected]")).to_be_visible()
    assert "success=" not in page.page.url, page.page.url
    expect(page.page.locator("article.store[data-platform=woocommerce]", has_text="approval")).to_be_visible()
    page.shot("stores-woocommerce-approved-phone", full_page=True)
    width = page.page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the Stores page scrolls sideways at phone width ({width}px)"


def test_a_hostile_product_title_stays_text(stack, open_page):
    page = open_page()
    sign_in_as_developer(page, stack)
    page.page.goto(f"{stack.base}/#/products?q=sneaky")
    link = page.page.locator("#product-table tbody th a").first
    expect(link).to_have_text(stack.woo["hostile_title"])
    assert page.page.locator("#product-table img").count() == 0
    assert page.page.title() != "owned"
    link.click()
    expect(page.page.locator("h1.page-title")).to_have_text(stack.woo["hostile_title"])
    assert page.page.locator("main img").count() == 0
    assert page.page.title() != "owned"


def test_dismissing_an_advice_survives_a_reload(stack, open_page):
    page = open_page()
    sign_in_as_developer(page, stack)
    go_to(page, "Advice")
    first = page.page.locator("article.advice-item").first
    expect(first).to_be_visible(timeout=60_000)
    advice = first.get_attribute("data-advice-id")
    first.get_by_role("button", name="Dismiss").click()
    expect(page.page.locator(f'[data-advice-id="{advice}"]')).to_have_count(0)
    page.page.reload()
    expect(page.page.locator("article.advice-item").first).to_be_visible()
    expect(page.page.locator(f'[data-advice-id="{advice}"]')).to_have_count(0)
    status_tab(page, "Dismissed")
    expect(page.page.locator(f'[data-advice-id="{advice}"]')).to_be_visible()

    status_tab(page, "Open")
    second = page.page.locator("article.advice-item").first
    expect(second).to_be_visible()
    snoozed = second.get_attribute("data-advice-id")
    second.get_by_role("button", name="Snooze").click()
    expect(page.page.locator(f'[data-advice-id="{snoozed}"]')).to_have_count(0)
    status_tab(page, "Snoozed")
    expect(page.page.locator(f'[data-advice-id="{snoozed}"]')).to_be_visible()

    status_tab(page, "Open")
    page.page.get_by_label("Ask the advisor").fill("What should I reorder this week?")
    page.page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.page.locator(".answer p").first).not_to_be_empty()
    page.shot("advice-desktop")


def test_a_video_uploads_with_progress_and_shows_its_verdicts(stack, open_page):
    page = open_page()
    sign_in_as_developer(page, stack)
    go_to(page, "Videos")
    page.page.get_by_label("Video file").set_input_files(str(VIDEO))
    page.page.get_by_role("button", name="Upload and analyse").click()
    result = page.page.locator(".upload-result article.video")
    expect(result).to_have_attribute("data-status", "ready", timeout=60_000)
    progress = page.page.get_by_role("progressbar", name="Upload progress")
    assert progress.get_attribute("value") == progress.get_attribute("max")
    verdicts = result.locator(".channel[data-verdict]")
    assert verdicts.count() >= 3
    expect(result.locator(".facts")).to_contain_text("Fast start")
    page.shot("videos-desktop")


def test_an_expired_session_returns_to_sign_in(stack, open_page):
    page = open_page()
    sign_in_as_developer(page, stack)
    page.page.evaluate("""() => {
        const session = JSON.parse(sessionStorage.getItem("raa.session"));
        session.access_token = "not.a.token";
        sessionStorage.setItem("raa.session", JSON.stringify(session));
    }""")
    page.page.reload()
    expect(page.page.get_by_role("button", name="Sign in as the development user")).to_be_visible()
    expect(page.page.get_by_text("Your session has ended")).to_be_visible()


def test_supabase_sign_in_refreshes_before_expiry_and_signs_out(stack, open_page):
    page = open_page()
    page.page.goto(f"{stack.base}/")
    page.page.get_by_label("E-mail", exact=True).fill(SUPABASE_USER[0])
    page.page.get_by_label("Password", exact=True).fill("wrong password")
    page.page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.page.get_by_text("Invalid login credentials")).to_be_visible()
    page.page.get_by_label("Password", exact=True).fill(SUPABASE_USER[1])
    page.page.get_by_role("button", name="Sign in", exact=True).click()

    # A new user with no organization creates one.
    expect(page.page.get_by_role("heading", name="Create your organization")).to_be_visible()
    page.shot("create-organization-desktop")
    page.page.get_by_label("Shop or company name").fill("Browser Test Shop")
    page.page.get_by_role("button", name="Create organization").click()
    expect(page.page.get_by_text("Connect your store to see your figures")).to_be_visible()
    first_token = page.page.evaluate("() => JSON.parse(sessionStorage.getItem('raa.session')).access_token")

    # Tokens live 8 s here; the page refreshes them before they expire and keeps working.
    page.page.wait_for_function(
        "token => JSON.parse(sessionStorage.getItem('raa.session')).access_token !== token", arg=first_token, timeout=20_000)
    assert "grant_type=refresh_token" in stack.gotrue_requests()
    page.page.wait_for_timeout(9_000)
    go_to(page, "Products")
    expect(page.page.get_by_text("No products yet")).to_be_visible()
    assert page.page.get_by_role("button", name="Sign out").is_visible()
    assert "token" not in page.page.url

    page.page.get_by_role("button", name="Sign out").click()
    expect(page.page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    assert "logout" in stack.gotrue_requests()
    assert page.page.evaluate("() => sessionStorage.getItem('raa.session')") is None


def test_a_magic_link_signs_in_with_pkce_and_no_token_in_the_url(stack, open_page):
    page = open_page()
    page.page.goto(f"{stack.base}/")
    page.page.get_by_label("E-mail", exact=True).fill(SUPABASE_USER[0])
    page.page.get_by_role("button", name="E-mail me a sign-in link").click()
    expect(page.page.get_by_text("We sent a sign-in link")).to_be_visible()
    page.page.goto(stack.magic_link(SUPABASE_USER[0]))
    expect(page.page.get_by_role("navigation", name="Main")).to_be_visible()
    assert "code=" not in page.page.url and "token" not in page.page.url, page.page.url
    assert "grant_type=pkce" in stack.gotrue_requests()


class SlackWebhook(BaseHTTPRequestHandler):
    """A Slack incoming webhook on loopback: records each JSON body and answers `ok`, as Slack does."""

    received = []

    def do_POST(self):  # noqa: N802 (the standard library's name)
        length = int(self.headers.get("content-length", "0"))
        SlackWebhook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_an_alert_channel_is_added_refused_tested_and_listed(stack, open_page):
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlackWebhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = open_page()
        sign_in_as_developer(page, stack)
        go_to(page, "Alerts")
        form = page.page.get_by_role("form", name="Add an alert channel")
        form.get_by_label("Name").fill("#ops")
        form.get_by_label("Incoming webhook URL").fill("https://169.254.169.254/latest/meta-data")
        form.get_by_role("button", name="Add channel").click()
        url_error = form.locator(".field[data-field=url] .field-error")
        expect(url_error).to_contain_text("metadata")
        expect(form.get_by_label("Name")).to_have_value("#ops")

        form.get_by_label("Incoming webhook URL").fill(f"http://127.0.0.1:{server.server_port}/hook")
        form.get_by_role("button", name="Add channel").click()
        channel = page.page.locator("li.channel[data-kind=slack]")
        expect(channel).to_contain_text("#ops")
        expect(channel).not_to_contain_text(str(server.server_port))
        channel.get_by_role("button", name="Send test").click()
        expect(page.page.locator("tr[data-delivery-status=sent]").first).to_contain_text("test alert")
        assert SlackWebhook.received and SlackWebhook.received[-1]["text"].startswith("Retail AI Advisor test alert")
        page.shot("alerts-desktop")
    finally:
        server.shutdown()


def test_every_page_at_desktop_and_phone_width(stack, open_page):
    for label, viewport, scheme in [("desktop", DESKTOP, "light"), ("phone", PHONE, "light"), ("desktop-dark", DESKTOP, "dark")]:
        page = open_page(viewport=viewport, color_scheme=scheme)
        page.page.goto(f"{stack.base}/")
        page.shot(f"sign-in-{label}")
        page.page.get_by_role("button", name="Sign in as the development user").click()
        expect(page.page.locator(".chart[data-drawn]")).to_be_visible()
        expect(page.page.locator(".advice-summary .headline")).to_be_visible(timeout=60_000)
        page.shot(f"overview-{label}")
        for section, ready in [("products", "#product-table tbody tr"), ("advice", "article.advice-item"),
                               ("stores", "article.store"), ("videos", "article.video"), ("alerts", "li.channel")]:
            page.page.goto(f"{stack.base}/#/{section}")
            expect(page.page.locator(ready).first).to_be_visible()
            page.shot(f"{section}-{label}")
        page.page.goto(f"{stack.base}/#/products?q=chair")
        page.page.locator("#product-table tbody th a").first.click()
        expect(page.page.locator(".chart[data-drawn]")).to_be_visible()
        page.shot(f"product-{label}")
        if viewport == PHONE:
            width = page.page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"the page scrolls sideways at phone width ({width}px)"


def test_a_member_of_several_organizations_switches_between_them(stack, open_page):
    # Last in the file: from here on the development user belongs to two organizations.
    stack.request("POST", "/api/v1/organizations", {"name": "Second Shop", "timezone": "Europe/Paris", "currency": "EUR"},
                  token=stack.token)
    page = open_page()
    sign_in_as_developer(page, stack)
    switcher = page.page.get_by_label("Organization")
    expect(switcher).to_be_visible()
    switcher.select_option(label="Second Shop")
    expect(page.page.get_by_text("Connect your store to see your figures")).to_be_visible()
    expect(page.page.locator(".tile[data-metric=revenue] .tile-value")).to_have_text("€0.00")
    page.page.reload()
    expect(page.page.get_by_label("Organization")).to_have_value(
        page.page.get_by_label("Organization").locator("option", has_text="Second Shop").get_attribute("value"))
    switcher = page.page.get_by_label("Organization")
    switcher.select_option(label="Demo Superstore")
    expect(page.page.locator(".chart[data-drawn]")).to_be_visible()
    expect(page.page.get_by_text("Connect your store to see your figures")).to_have_count(0)


def test_an_organization_named_with_markup_renders_as_literal_text(stack, open_page):
    # After the test above: the development user gets a third organization, named with markup that would run script.
    hostile = "<img src=x onerror=alert(1)>"
    stack.request("POST", "/api/v1/organizations", {"name": hostile, "timezone": "UTC", "currency": "USD"},
                  token=stack.token)
    page = open_page()
    dialogs = []
    page.page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sign_in_as_developer(page, stack)

    switcher = page.page.get_by_label("Organization")
    option = switcher.locator("option", has_text=hostile)
    expect(option).to_have_count(1)
    expect(option).to_have_text(hostile)
    switcher.select_option(label=hostile)
    expect(page.page.get_by_text("Connect your store to see your figures")).to_be_visible()
    expect(page.page.get_by_label("Organization").locator("option:checked")).to_have_text(hostile)
    page.shot("hostile-organization-desktop")

    assert page.page.locator("img[src=x]").count() == 0, "the name became an element"
    assert dialogs == [], f"the name ran script: {dialogs}"
