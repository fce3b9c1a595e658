"""The operators' dashboard: server-rendered pages over the core functions.

Every page needs a signed-in user (READ, which every role holds); an action also needs
its permission (APPROVE or OPERATE) and the session's CSRF token, checked before
anything else. Errors on these pages are HTML pages, never JSON: a 403 says which roles
may act. Phone numbers are masked unless the user holds UNMASK.

The routes live in ``campaigns``, ``logs``, ``exports`` and ``venues`` beside this module,
what they share in ``common``; this module assembles them in :func:`pages_router` and
turns their errors into pages (:class:`PageRoute`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.i18n import N_, _
from dispatcher.web.pages.campaigns import add_routes as campaign_routes
from dispatcher.web.pages.common import render
from dispatcher.web.pages.exports import add_routes as export_routes
from dispatcher.web.pages.logs import add_routes as log_routes
from dispatcher.web.pages.venues import add_routes as venue_routes


def pages_router() -> APIRouter:
    """``/``, ``/campaigns``, ``/campaigns/{id}`` and its actions, ``/logs``,
    ``/logs.csv``, ``/screens``, ``/cinemas``."""
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
