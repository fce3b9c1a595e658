"""The dashboard in real headless Chromium (Playwright) against a loopback server.

An operator and an approver, each in a browser context of their own, work on the
campaign of ``test_pages`` (version 2 awaiting approval, two failed rows): the operator
filters the delivery log to the failed rows, the approver approves, the operator
requeues the failures. A screenshot is saved after each step to ``DISPATCHER_ARTIFACTS``
(default ``test-artifacts/`` at the repository root). The pages must load nothing from
another host: every such request is refused and fails the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright
from sqlalchemy import Engine

from dispatcher import registry
from dispatcher.config import parse_config
from dispatcher.serving import BackgroundServer
from dispatcher.web.app import create_app
from tests.conftest import services_required
from tests.web.test_pages import PASSWORD, make_app_engine

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 15_000


def artifacts_dir() -> Path:
    configured = os.environ.get("DISPATCHER_ARTIFACTS")
    folder = Path(configured) if configured else Path(__file__).parents[2] / "test-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def server(sqlite_url: str) -> Iterator[BackgroundServer]:
    engine: Engine = make_app_engine(sqlite_url)
    config = parse_config({"web": {"public_url": "http://127.0.0.1"}})
    with BackgroundServer(create_app(engine, config, registry.build_channels({}))) as running:
        yield running
    engine.dispose()


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if services_required():
            pytest.fail(f"{reason} (DISPATCHER_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                          args=ARGS)
        yield launched
        launched.close()


def test_operator_and_approver_work_a_campaign(browser: Browser,
                                              server: BackgroundServer) -> None:
    shots = artifacts_dir()
    offsite: list[str] = []

    def signed_in(name: str) -> Page:
        # English: these steps read the English words (test_browser_chinese reads zh-CN)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        context.set_default_timeout(TIMEOUT_MS)

        def local_only(route: Route) -> None:
            if route.request.url.startswith(server.url):
                route.continue_()
            else:
                offsite.append(route.request.url)
                route.abort()

        context.route("**/*", local_only)
        page = context.new_page()
        page.goto(f"{server.url}/campaigns/drive")  # -> /login?next=/campaigns/drive
        page.get_by_label("User").fill(name)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.url}/campaigns/drive")
        return page

    operator = signed_in("operator")
    expect(operator.locator("header")).to_contain_text("operator (operator)")
    expect(operator.locator("#status")).to_have_text("draft")
    operator.screenshot(path=str(shots / "01-signed-in.png"), full_page=True)

    operator.get_by_role("link", name="Delivery log").click()
    operator.get_by_label("Status").select_option("failed")
    operator.get_by_role("button", name="Filter").click()
    operator.wait_for_url(lambda url: "/logs?" in url and "status=failed" in url)
    states = operator.locator("#log td.state")
    expect(states).to_have_count(2)
    assert states.all_inner_texts() == ["failed", "failed"]
    expect(operator.locator("#log td.target").first).to_contain_text("+861380000000")
    operator.screenshot(path=str(shots / "02-log-failed.png"), full_page=True)

    approver = signed_in("approver")
    expect(approver.get_by_role("button", name="Retry failed")).to_have_count(0)
    approver.get_by_role("button", name="Approve version 2").click()
    expect(approver.get_by_role("status")).to_have_text("Version 2 approved by approver.")
    expect(approver.locator("#status")).to_have_text("running")
    expect(approver.locator("#history")).to_contain_text("approver")
    approver.screenshot(path=str(shots / "03-approved.png"), full_page=True)

    operator.goto(f"{server.url}/campaigns/drive")
    expect(operator.locator("#status")).to_have_text("running")
    operator.get_by_role("button", name="Retry failed").click()
    expect(operator.get_by_role("status")).to_have_text("Requeued 2 failed row(s).")
    operator.screenshot(path=str(shots / "04-retried.png"), full_page=True)

    operator.goto(f"{server.url}/logs?status=failed")
    expect(operator.get_by_text("No rows match.")).to_be_visible()
    operator.screenshot(path=str(shots / "05-log-no-failures.png"), full_page=True)
    assert offsite == []


def test_api_docs_render_with_the_network_blocked(browser: Browser,
                                                  server: BackgroundServer) -> None:
    """/docs and /redoc in a browser that can reach nothing but the loopback server."""
    blocked: list[str] = []

    def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/*", loopback_only)
    page = context.new_page()
    page.goto(f"{server.url}/docs")
    expect(page.locator(".opblock").first).to_be_visible()  # the operations, rendered
    expect(page.locator(".opblock-summary-path", has_text="/api/campaigns").first) \
        .to_be_visible()
    page.screenshot(path=str(artifacts_dir() / "06-api-docs-offline.png"))

    page.goto(f"{server.url}/redoc")
    expect(page.locator("[data-section-id^='operation/']").first).to_be_attached()

    page.goto(f"{server.url}/no-such-page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    page.get_by_role("link", name="Go to the campaigns").click()
    page.wait_for_url(f"{server.url}/login?next=/campaigns")
    context.close()
    assert blocked == []
