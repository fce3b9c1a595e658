"""404 for people and for programs: a page for a browser, today's JSON for everyone else.

A browser (its Accept header prefers text/html) that asks for a path the app does not
have gets a small dashboard page that says so and links to the campaigns. API clients,
providers and screens keep FastAPI's JSON answer, ``{"detail": ...}``, and so does every
path under /api and /hooks whatever it accepts: a program reads the status and the JSON.
"""

from __future__ import annotations

import math

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from dispatcher import i18n
from dispatcher.delivery.callback_urls import HOOKS_PREFIX
from dispatcher.web.pages.common import TEMPLATES

MACHINE_PREFIXES = ("/api", HOOKS_PREFIX)
HTML_TYPES = {"text/html", "application/xhtml+xml"}
# Types an API client may ask for by name or by wildcard: when one of them is accepted as
# much as HTML (curl and httpx send */*), the answer stays JSON.
JSON_TYPES = {"application/json", "application/*", "*/*"}


def prefers_html(accept: str) -> bool:
    """Whether an Accept header ranks HTML strictly above JSON (q values, RFC 9110)."""
    html_q = json_q = 0.0
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = _quality(params)
        media = media.lower()
        if media in HTML_TYPES:
            html_q = max(html_q, quality)
        elif media in JSON_TYPES:
            json_q = max(json_q, quality)
    return html_q > json_q


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return min(max(quality, 0.0), 1.0) if math.isfinite(quality) else 0.0
    return 1.0


def _for_machines(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in MACHINE_PREFIXES)


async def not_found(request: Request, exc: Exception) -> Response:
    """The app's handler for 404 (``app.exception_handler(404)``)."""
    assert isinstance(exc, HTTPException)
    if _for_machines(request.url.path) or not prefers_html(request.headers.get("accept", "")):
        return await http_exception_handler(request, exc)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != "Not Found" else ""
    # No session is read or written: a stray URL sets no cookie (and no CSRF token, so
    # the page has no language form: ?lang= still works).
    locale = i18n.current_locale()
    response: Response = TEMPLATES.TemplateResponse(
        request, "not_found.html", {"user": None, "csrf": "", "path": request.url.path,
                                    "detail": detail, "locale": locale,
                                    "html_lang": i18n.HTML_LANG[locale]}, status_code=404)
    return response
