"""``/login`` and ``/logout``: sessions for the pages, with failed logins limited."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dispatcher.users import authenticate
from dispatcher.web.auth import (
    LoginLimiter,
    check_csrf,
    engine_of,
    session_user,
    sign_in,
    sign_out,
)
from dispatcher.web.pages_common import render, safe_next


def login_router(limiter: LoginLimiter | None = None) -> APIRouter:
    limits = limiter or LoginLimiter()
    router = APIRouter(include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/campaigns") -> Response:
        return render(request, "login.html", session_user(request), next_path=safe_next(next))

    @router.post("/login")
    async def login(request: Request, name: str = Form(""), password: str = Form(""),
                    csrf: str = Form(""), next: str = Form("/campaigns")) -> Response:
        check_csrf(request, csrf)
        client = request.client.host if request.client else "unknown"
        keys = (f"user:{name}", f"addr:{client}")
        if limits.blocked(*keys):
            return render(request, "login.html", None, status_code=429,
                          next_path=safe_next(next),
                          error="Too many failed sign-ins: wait 15 minutes and try again.")
        user = await run_in_threadpool(authenticate, engine_of(request), name, password)
        if user is None:
            limits.failed(*keys)
            return render(request, "login.html", None, status_code=401,
                          next_path=safe_next(next), error="Wrong user name or password.")
        limits.succeeded(*keys)
        sign_in(request, user)
        return RedirectResponse(safe_next(next), status_code=303)

    @router.post("/logout")
    async def logout(request: Request, csrf: str = Form("")) -> Response:
        check_csrf(request, csrf)
        sign_out(request)
        return RedirectResponse("/login", status_code=303)

    return router
