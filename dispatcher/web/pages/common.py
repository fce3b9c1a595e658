"""What every server-rendered page shares: the templates, the page context, the signed-in
reader and what they may see."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from channels.base import Channel, is_group_address
from dispatcher import i18n
from dispatcher.accounts.users import PERMISSIONS, READ, UNMASK, User
from dispatcher.audience.phones import mask
from dispatcher.config import Config
from dispatcher.i18n import _
from dispatcher.i18n.labels import label
from dispatcher.web.auth import LoginRequired, csrf_token, page_user

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


# Who reads the page, and what they may see ------------------------------------------

FLASH = "flash"  # the session key of the message shown once after an action
_PHONE_IN_TEXT = re.compile(r"\+\d{7,15}")
_signed_in = page_user(READ)


def reader(request: Request) -> User:
    """:func:`page_user` (READ), but a sign-in returns to the same page and filters."""
    try:
        user = _signed_in(request)
    except LoginRequired:
        query = request.url.query
        raise LoginRequired(request.url.path + (f"?{query}" if query else "")) from None
    request.state.user = user  # for error pages
    return user


Reader = Annotated[User, Depends(reader)]


def require(user: User, permission: str, doing: str) -> None:
    """403 naming the roles that may do it, unless ``user`` may, in the page's language.
    ``doing`` ("Approving") is marked with ``N_`` by the caller and translated here (text
    the caller translated already passes through unchanged)."""
    if not user.can(permission):
        roles = _(" or ").join(label("role", role) for role, held in PERMISSIONS.items()
                               if permission in held)
        raise HTTPException(403, _("{doing} needs the {roles} role; you are signed in as "
                                   "{user} ({role}).").format(
            doing=_(doing), roles=roles, user=user.shown_name, role=label("role", user.role)))


def config_of(request: Request) -> Config:
    config: Config = request.app.state.config
    return config


def channels_of(request: Request) -> Mapping[str, Channel]:
    channels: Mapping[str, Channel] = request.app.state.channels
    return channels


def shown_target(target: str, user: User) -> str:
    """The address as ``user`` may see it (group addresses such as ``all@0`` are no one's)."""
    return target if user.can(UNMASK) or is_group_address(target) else mask(target)


def shown_text(text: str | None, user: User) -> str | None:
    """Free text (a provider's error) with the phone numbers in it masked."""
    if text is None or user.can(UNMASK):
        return text
    return _PHONE_IN_TEXT.sub(lambda found: mask(found.group()), text)


def local_time(value: datetime | str | None, config: Config) -> str:
    """``2019-06-03 09:00:00`` in the deployment's time zone; "" for None."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is not None:
        moment = moment.astimezone(config.tz)
    return moment.strftime("%Y-%m-%d %H:%M:%S")
