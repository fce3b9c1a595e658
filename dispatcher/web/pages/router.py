"""The operators' dashboard: server-rendered pages over the core functions.

Every page needs a signed-in user (READ, which every role holds); an action also needs
its permission (APPROVE or OPERATE) and the session's CSRF token, checked before
anything else. Errors on these pages are HTML pages, never JSON: a 403 says which roles
may act. Phone numbers are masked unless the user holds UNMASK.

The routes live in ``pages_campaigns``, ``pages_logs`` and ``pages_venues``; this module
holds what they share and assembles them in :func:`pages_router`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from channels.base import Channel, is_group_address
from dispatcher.accounts.users import PERMISSIONS, READ, UNMASK, User
from dispatcher.audience.phones import mask
from dispatcher.config import Config
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.i18n import N_, _
from dispatcher.i18n.labels import label
from dispatcher.web.auth import LoginRequired, page_user
from dispatcher.web.pages.common import render

FLASH = "flash"  # the session key of the message shown once after an action
_PHONE_IN_TEXT = re.compile(r"\+\d{7,15}")
_signed_in = page_user(READ)


def pages_router() -> APIRouter:
    """``/``, ``/campaigns``, ``/campaigns/{id}`` and its actions, ``/logs``,
    ``/logs.csv``, ``/screens``, ``/cinemas``."""
    # Imported here: those modules import this one's helpers.
    from dispatcher.web.pages.campaigns import add_routes as campaign_routes
    from dispatcher.web.pages.exports import add_routes as export_routes
    from dispatcher.web.pages.logs import add_routes as log_routes
    from dispatcher.web.pages.venues import add_routes as venue_routes

    router = APIRouter(include_in_schema=False, route_class=PageRoute)

    @router.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse("/campaigns", status_code=303)

    campaign_routes(router)
    log_routes(router)
    export_routes(router)
    venue_routes(router)
    return router


class PageRoute(APIRoute):
    """A page route whose errors are pages: an HTTPException keeps its status, a
    NotFoundError is a 404 and any other DispatcherError a 409 (never a 500)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_error_pages(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                return error_page(request, exc.status_code, str(exc.detail))
            except NotFoundError as exc:
                return error_page(request, 404, str(exc))
            except DispatcherError as exc:
                return error_page(request, 409, str(exc))

        return with_error_pages


_TITLES = {400: N_("Bad request"), 403: N_("Not allowed"), 404: N_("Not found"),
           409: N_("Cannot do that"), 429: N_("Too many requests")}
_OTHER_TITLE = N_("Error")


def error_page(request: Request, status: int, message: str) -> Response:
    """The error as a page in the request's language; ``message`` is translated where it
    was made (the core's own messages are shown as they are)."""
    user = getattr(request.state, "user", None)
    return render(request, "error.html", user, status_code=status,
                  title=_(_TITLES.get(status, _OTHER_TITLE)), error=message)


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
