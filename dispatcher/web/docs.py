"""The API documentation (/docs, /redoc) with its assets served by the app itself.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on an office network without
internet access they are blank. The assets come from the ``fastapi-offline`` package
(Swagger UI bundle and CSS, ReDoc standalone, a favicon) and are mounted under
:data:`STATIC_PATH`; the pages name only those local URLs (no Google Fonts either).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/docs"
REDOC_PATH = "/redoc"
STATIC_PATH = "/static/api-docs"
SWAGGER_JS = f"{STATIC_PATH}/swagger-ui-bundle.js"
SWAGGER_CSS = f"{STATIC_PATH}/swagger-ui.css"
REDOC_JS = f"{STATIC_PATH}/redoc.standalone.js"
FAVICON = f"{STATIC_PATH}/favicon.png"
# The bundles still name outside URLs of their own (ReDoc's sidebar logo comes from
# cdn.redoc.ly): the browser is told to fetch images, fonts and data from this host only,
# so the pages neither wait on nor reveal themselves to the internet.
SAME_ORIGIN_ONLY = "img-src 'self' data:; font-src 'self' data:; connect-src 'self'"


def assets_dir() -> Path:
    """The folder of the packaged assets (part of fastapi-offline's wheel)."""
    return Path(str(files("fastapi_offline") / "static"))


def install_docs(app: FastAPI) -> None:
    """Mount the assets and add /docs and /redoc to ``app`` (made with docs_url=None,
    redoc_url=None so FastAPI's CDN pages are not there too)."""
    app.mount(STATIC_PATH, StaticFiles(directory=assets_dir()), name="api-docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect = app.swagger_ui_oauth2_redirect_url or f"{DOCS_PATH}/oauth2-redirect"

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _same_origin(get_swagger_ui_html(openapi_url=root + openapi_url,
                                                title=f"{app.title} - API docs",
                                                swagger_js_url=root + SWAGGER_JS,
                                                swagger_css_url=root + SWAGGER_CSS,
                                                swagger_favicon_url=root + FAVICON,
                                                oauth2_redirect_url=root + oauth2_redirect))

    @app.get(oauth2_redirect, include_in_schema=False)
    def swagger_ui_oauth2_redirect() -> HTMLResponse:  # as FastAPI's own /docs has it
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_PATH, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _same_origin(get_redoc_html(openapi_url=root + openapi_url,
                                           title=f"{app.title} - API reference",
                                           redoc_js_url=root + REDOC_JS,
                                           redoc_favicon_url=root + FAVICON,
                                           with_google_fonts=False))


def _same_origin(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = SAME_ORIGIN_ONLY
    return page
