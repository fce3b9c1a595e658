"""What every server-rendered page shares: the templates and the page context."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from dispatcher import i18n
from dispatcher.accounts.users import User
from dispatcher.i18n.labels import label
from dispatcher.web.auth import csrf_token

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))
# Jinja2Templates escapes HTML by default (autoescape for .html): user text never runs.
# {{ _("...") }}, {% trans %} and label(kind, name) speak the request's language.
TEMPLATES.env.add_extension("jinja2.ext.i18n")
TEMPLATES.env.install_gettext_callables(  # type: ignore[attr-defined]
    gettext=i18n.gettext, ngettext=i18n.ngettext, pgettext=i18n.pgettext,
    npgettext=i18n.npgettext, newstyle=True)
TEMPLATES.env.globals["label"] = label


@pass_context
def when(context: Mapping[str, Any], value: datetime | str | None,
         seconds: bool = False) -> str:
    """A time as people here read it: in the page's time zone (``display_tz``: the
    campaign's, else ``timezone`` from config), ``2026-12-07 19:30``. The zone is named
    once on the page (``display_tz``), never UTC unless that is the zone."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the database keeps UTC
    zone = ZoneInfo(str(context.get("display_tz") or "Asia/Shanghai"))
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if seconds
                                            else "%Y-%m-%d %H:%M")


TEMPLATES.env.filters["when"] = when


def render(request: Request, template: str, user: User | None, status_code: int = 200,
           **values: Any) -> HTMLResponse:
    locale = i18n.current_locale()
    context = {"user": user, "csrf": csrf_token(request), "locale": locale,
               "display_tz": request.app.state.config.timezone,
               "html_lang": i18n.HTML_LANG[locale], "locales": i18n.LOCALE_NAMES,
               "here": _here(request), **values}
    response: HTMLResponse = TEMPLATES.TemplateResponse(request, template, context,
                                                        status_code=status_code)
    return response


def safe_next(path: str | None) -> str:
    """Only local paths after login: never an open redirect to another site."""
    if not path or not path.startswith("/") or path.startswith("//"):
        return "/campaigns"
    return path


def _here(request: Request) -> str:
    """This page's path and query without ``lang``: where a language choice returns to."""
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "lang"])
    return request.url.path + (f"?{query}" if query else "")
