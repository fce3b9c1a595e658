"""Who is asking: sessions for pages, API tokens for /api, CSRF for forms, login limits.

- Pages: a signed session cookie (Starlette's SessionMiddleware, itsdangerous) holds the
  user's name and a CSRF token. :func:`page_user` answers 303 to /login without a
  session and 403 without the permission; every POST form must carry ``csrf`` equal to
  the session's (:func:`check_csrf`), or 403.
- API: ``Authorization: Bearer dsp_...`` (``dispatcher user token NAME``);
  :func:`api_user` answers 401 without a valid token, 403 without the permission. The
  API takes no cookies, so a page elsewhere cannot act through a signed-in browser.
- Logins: at most ``MAX_FAILURES`` failed tries per user and per address within
  ``WINDOW`` (429 after), counted in this process.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from fastapi import HTTPException, Request
from sqlalchemy import Engine

from dispatcher.users import User, get_user, token_user

MAX_FAILURES = 5
WINDOW = 15 * 60.0  # seconds
SESSION_USER = "user"
SESSION_CSRF = "csrf"


class LoginRequired(Exception):
    """No signed-in user: the page handler's caller redirects to /login."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def session_user(request: Request) -> User | None:
    name = request.session.get(SESSION_USER)
    return get_user(engine_of(request), name) if isinstance(name, str) else None


def page_user(permission: str) -> Callable[[Request], User]:
    """A dependency: the signed-in user holding ``permission``."""
    def dependency(request: Request) -> User:
        user = session_user(request)
        if user is None:
            raise LoginRequired(request.url.path)
        if not user.can(permission):
            raise HTTPException(403, f"your role ({user.role}) may not do this")
        return user
    return dependency


def api_user(permission: str) -> Callable[[Request], User]:
    """A dependency: the API token's user holding ``permission``."""
    def dependency(request: Request) -> User:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        user = token_user(engine_of(request), token) if token else None
        if user is None:
            raise HTTPException(401, "send an API token: Authorization: Bearer dsp_...",
                                headers={"WWW-Authenticate": "Bearer"})
        if not user.can(permission):
            raise HTTPException(403, f"your role ({user.role}) may not do this")
        return user
    return dependency


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use); forms send it back as ``csrf``."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = request.session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return token


def check_csrf(request: Request, sent: str | None) -> None:
    expected = request.session.get(SESSION_CSRF)
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(expected, sent):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page")


def sign_in(request: Request, user: User) -> None:
    request.session.clear()  # a new session: no fixation
    request.session[SESSION_USER] = user.name
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    request.session.clear()


class LoginLimiter:
    """Failed logins per key (user name, client address) in a sliding window."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, *keys: str) -> bool:
        with self._lock:
            return any(len(self._recent(key)) >= self.max_failures for key in keys)

    def failed(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._recent(key).append(self.clock())

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _recent(self, key: str) -> deque[float]:
        found = self._failures[key]
        while found and found[0] < self.clock() - self.window:
            found.popleft()
        return found
