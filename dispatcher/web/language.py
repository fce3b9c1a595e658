"""The language of each request, and the dashboard's language choice.

Order: ``?lang=`` (this request only), the choice remembered in the session (made on the
dashboard, stored on the user so the next sign-in keeps it), the browser's
``Accept-Language``, then ``[web] locale`` (``zh-CN`` unless configured).
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from dispatcher import i18n
from dispatcher.accounts.users import remember_locale
from dispatcher.web.auth import SESSION_LOCALE, check_csrf, engine_of, session_user
from dispatcher.web.pages.common import safe_next
from dispatcher.web.pages.router import PageRoute


def request_locale(request: Request, default: str) -> str:
    chosen = i18n.normalise(request.query_params.get("lang"))
    if chosen is None and "session" in request.scope:
        remembered = request.session.get(SESSION_LOCALE)
        chosen = remembered if remembered in i18n.LOCALES else None
    if chosen is None:
        chosen = i18n.negotiate(request.headers.get("accept-language"))
    return chosen or default


class LocaleMiddleware:
    """Sets the locale of every HTTP request's context (inside the session middleware,
    so the remembered choice is readable)."""

    def __init__(self, app: ASGIApp, default: str) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            i18n.set_locale(request_locale(Request(scope), self.default))
        await self.app(scope, receive, send)


def language_router() -> APIRouter:
    router = APIRouter(include_in_schema=False, route_class=PageRoute)  # errors as pages

    @router.post("/language")
    def choose(request: Request, lang: str = Form(""), csrf: str = Form(""),
               next: str = Form("/campaigns")) -> Response:  # sync: may write the db
        check_csrf(request, csrf)
        locale = i18n.normalise(lang)
        if locale is not None:
            request.session[SESSION_LOCALE] = locale
            user = session_user(request)
            if user is not None:
                remember_locale(engine_of(request), user.name, locale)
        return RedirectResponse(safe_next(next), status_code=303)

    return router
