"""API docs without internet, the 404 a browser sees, and what ``dispatcher serve`` says.

/docs and /redoc must name only assets the app serves itself (an office network has no
CDN); an unknown path answers a browser with a page and every program with today's JSON.
The browser half of the docs check (the network blocked) is in ``test_browser``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from fastapi.testclient import TestClient

from dispatcher import registry
from dispatcher.cli import main
from dispatcher.config import parse_config
from dispatcher.serving import free_port
from dispatcher.storage.db import make_engine
from dispatcher.web.app import create_app
from dispatcher.web.not_found import prefers_html

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
# Referenced assets: src=, href= and the spec's url: '...' in the page's script.
REFERENCE = re.compile(r"""(?:src|href|spec-url)=["']([^"']+)["']|url:\s*'([^']+)'""")


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    engine = make_engine(sqlite_url)
    config = parse_config({"web": {"public_url": "http://testserver"}})
    with TestClient(create_app(engine, config, registry.build_channels({})),
                    follow_redirects=False, headers={"Accept-Language": "en"}) as test_client:
        yield test_client
    engine.dispose()


@pytest.mark.parametrize(("page", "marker"), [("/docs", "SwaggerUIBundle"),
                                              ("/redoc", "<redoc")])
def test_docs_pages_name_only_local_assets_that_answer(client: TestClient, page: str,
                                                       marker: str) -> None:
    answer = client.get(page)
    html = answer.text
    assert marker in html
    # What a bundle still names outside (ReDoc's logo) the browser is told not to fetch.
    assert "img-src 'self' data:" in answer.headers["content-security-policy"]
    assert "//" not in re.sub(r"<!--.*?-->", "", html, flags=re.S), "an absolute URL"
    found = [a or b for a, b in REFERENCE.findall(html)]
    assert "/openapi.json" in found and len(found) >= 3, found
    for url in found:
        assert url.startswith("/") and not url.startswith("//"), url
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert len(answer.content) > 1000, url  # the real file, not an empty stub


def test_the_assets_are_the_real_swagger_ui_and_redoc(client: TestClient) -> None:
    js = client.get("/static/api-docs/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in js.text[:2000]
    assert js.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert client.get("/static/api-docs/swagger-ui.css").headers["content-type"].startswith(
        "text/css")
    assert "Redoc" in client.get("/static/api-docs/redoc.standalone.js").text[:5000]
    assert client.get("/static/api-docs/../app.py").status_code == 404


# Paths the app does not have, in several shapes: ids with _ % - and Chinese, very long.
UNKNOWN = ["/nowhere", "/campaign_drive", "/campaigns-typo/x", "/100%25done", "/宣传活动",
           "/" + "long-" * 400, "/static/api-docs/missing.js", "/a/b/c/d?x=1"]


@pytest.mark.parametrize("path", UNKNOWN)
def test_a_browser_gets_a_page_that_links_to_the_campaigns(client: TestClient,
                                                          path: str) -> None:
    answer = client.get(path, headers={"Accept": BROWSER})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "Page not found" in answer.text
    assert '<a href="/campaigns">' in answer.text
    assert "set-cookie" not in answer.headers  # a stray URL starts no session


def test_the_page_escapes_the_path(client: TestClient) -> None:
    answer = client.get("/<script>alert(1)</script>", headers={"Accept": "text/html"})
    assert answer.status_code == 404
    assert "<script>" not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text


PROGRAMS = ["", "*/*", "application/json", "application/json, text/html",
            "text/html;q=0.5, application/json", "text/html;q=0, */*",
            "text/html;q=oops", "text/plain", "application/xml", "text/*"]


@pytest.mark.parametrize("accept", PROGRAMS)
@pytest.mark.parametrize("path", ["/nowhere", "/宣传活动", "/feeds"])
def test_programs_keep_the_json_404(client: TestClient, path: str, accept: str) -> None:
    answer = client.get(path, headers={"Accept": accept})
    assert answer.status_code == 404
    assert answer.json() == {"detail": "Not Found"}


@pytest.mark.parametrize("path", ["/api", "/api/nowhere", "/api/campaigns/no_such-id%25",
                                  "/api/campaigns/宣传", "/hooks", "/hooks/sms/nowhere",
                                  "/hooks/nope/status", "/api/" + "x" * 3000])
@pytest.mark.parametrize("accept", [BROWSER, "text/html", "application/json"])
def test_api_and_hooks_always_answer_json(client: TestClient, path: str, accept: str) -> None:
    answer = client.get(path, headers={"Accept": accept,
                                       "Authorization": "Bearer dsp_not-a-token"})
    assert answer.headers["content-type"] == "application/json"
    assert "detail" in answer.json()
    assert "Page not found" not in answer.text


@pytest.mark.parametrize(("accept", "html"), [
    (BROWSER, True), ("text/html", True), ("application/xhtml+xml", True),
    ("TEXT/HTML; q=1", True), ("application/json;q=0.4, text/html;q=0.5", True),
    ("", False), ("*/*", False), ("text/html, application/json", False),
    ("text/html;q=0.8, */*", False), ("text/html;q=2, */*", False),
    ("text/html;q=nan", False), (",,;;", False), ("text/*", False)])
def test_prefers_html(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


def test_serve_help_says_what_it_serves(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    for part in ("dashboard", "REST API", "/docs", "webhooks", "/metrics", "/healthz"):
        assert part in result.output, part


def test_serve_prints_the_dashboard_and_docs_urls(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "d.db"}"\n'
                      f'[web]\nlisten = "127.0.0.1:{port}"\n'
                      f'public_url = "http://127.0.0.1:{port}/"\n', encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "dispatcher", "--config", str(config),
                                "serve"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines = _lines_until_listening(process)
        base = f"http://127.0.0.1:{port}"
        assert f"  dashboard: {base}/campaigns" in lines, lines
        docs = next(line for line in lines if "API docs:" in line)
        assert docs.startswith(f"  API docs: {base}/docs "), docs
        assert requests.get(f"{base}/docs", timeout=10).status_code == 200  # it is there
    finally:
        process.terminate()
        process.wait(timeout=10)


def _lines_until_listening(process: subprocess.Popen[str], timeout: float = 30) -> list[str]:
    """The command's output lines up to uvicorn's "running on" line."""
    assert process.stdout is not None
    lines: list[str] = []
    watchdog = threading.Timer(timeout, process.kill)  # a silent hang ends the read
    watchdog.start()
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if "Uvicorn running" in line:
                return lines
    finally:
        watchdog.cancel()
    raise AssertionError(f"dispatcher serve did not start within {timeout} s: {lines}")
