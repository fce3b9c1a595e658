"""``/login`` and ``/logout``: sessions for the pages, with failed logins limited.

Signing out ends the session on the server (the user's session version is bumped), so a
copy of the cookie taken before is refused afterwards.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from dispatcher.accounts.users import User, authenticate, remembered_locale, session_version
from dispatcher.i18n import _
from dispatcher.web.auth import (
    LoginLimiter,
    check_csrf,
    engine_of,
    session_user,
    sign_in,
    sign_out,
)
from dispatcher.web.pages.common import render, safe_next
from dispatcher.web.pages.router import PageRoute


def login_router(limiter: LoginLimiter | None = None) -> APIRouter:
    limits = limiter or LoginLimiter()
    router = APIRouter(include_in_schema=False, route_class=PageRoute)  # errors as pages

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/campaigns") -> Response:
        return render(request, "login.html", session_user(request), next_path=safe_next(next))

    @router.post("/login")
    async def login(request: Request, name: str = Form(""), password: str = Form(""),
                    csrf: str = Form(""), next: str = Form("/campaigns")) -> Response:
        check_csrf(request, csrf)
        client = request.client.host if request.client else "unknown"
        if limits.blocked(name, client):
            return render(request, "login.html", None, status_code=429,
                          next_path=safe_next(next),
                          error=_("Too many failed sign-ins: wait {minutes} minutes and "
                                  "try again.").format(minutes=_minutes(limits.window)))
        signed = await run_in_threadpool(_check, engine_of(request), name, password)
        if signed is None:
            limits.failed(name, client)
            return render(request, "login.html", None, status_code=401,
                          next_path=safe_next(next),
                          error=_("Wrong user name or password."))
        limits.succeeded(name, client)
        sign_in(request, *signed)
        return RedirectResponse(safe_next(next), status_code=303)

    @router.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:  # sync: writes the db
        check_csrf(request, csrf)
        sign_out(request)
        return RedirectResponse("/login", status_code=303)

    return router


def _check(engine: Engine, name: str,
           password: str) -> tuple[User, int, str | None] | None:
    """The user, the session version and the remembered language to sign in with, if the
    password is right."""
    user = authenticate(engine, name, password)
    version = None if user is None else session_version(engine, user.name)
    if user is None or version is None:
        return None
    return user, version, remembered_locale(engine, user.name)


def _minutes(seconds: float) -> int:
    """The wait a locked-out person is told, in whole minutes (at least one)."""
    return max(1, round(seconds / 60))
