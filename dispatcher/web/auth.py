"""Who is asking: sessions for pages, API tokens for /api, CSRF for forms, login limits.

- Pages: a signed session cookie (Starlette's SessionMiddleware, itsdangerous) holds the
  user's name, the user's session version and a CSRF token. :func:`page_user` answers
  303 to /login without a live session (none, signed out, disabled user, or an older
  session version) and 403 without the permission; every POST form must carry ``csrf``
  equal to the session's (:func:`check_csrf`), or 403. Signing out bumps the user's
  session version on the server, so a copy of the cookie is worthless afterwards.
- API: ``Authorization: Bearer dsp_...`` (``dispatcher user token NAME``);
  :func:`api_user` answers 401 without a valid token, 403 without the permission. The
  API takes no cookies, so a page elsewhere cannot act through a signed-in browser.
- Logins: at most ``MAX_FAILURES`` failed tries per user name and per client address
  within ``WINDOW`` (429 after), counted in this process. A success clears the name's
  count only, never the address's.
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

from dispatcher.accounts import users
from dispatcher.accounts.users import User, token_user
from dispatcher.i18n import _
from dispatcher.i18n.labels import label

MAX_FAILURES = 5
WINDOW = 15 * 60.0  # seconds
SESSION_USER = "user"
SESSION_VERSION = "version"
SESSION_CSRF = "csrf"
SESSION_LOCALE = "locale"  # the dashboard language chosen (see dispatcher.web.language)
MAX_NAME_KEY = 64  # characters of a tried user name kept as its counter's key


class LoginRequired(Exception):
    """No signed-in user: the page handler's caller redirects to /login."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def session_user(request: Request) -> User | None:
    """The session's user, unless the session ended (see :mod:`dispatcher.accounts.users`)."""
    name = request.session.get(SESSION_USER)
    version = request.session.get(SESSION_VERSION)
    if not isinstance(name, str) or type(version) is not int:  # bool is no version
        return None
    return users.session_user(engine_of(request), name, version)


def page_user(permission: str) -> Callable[[Request], User]:
    """A dependency: the signed-in user holding ``permission``."""
    def dependency(request: Request) -> User:
        user = session_user(request)
        if user is None:
            raise LoginRequired(request.url.path)
        if not user.can(permission):  # a page's words: in the page's language
            raise HTTPException(403, _("Your role ({role}) may not open this page.").format(
                role=label("role", user.role)))
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
        # Forms are pages' only: the message is in the page's language.
        raise HTTPException(403, _("The form has expired or did not come from this site: "
                                   "reload the page and try again."))


def sign_in(request: Request, user: User, version: int, locale: str | None = None) -> None:
    """Start a session of ``user`` at their current session ``version``, in the language
    the user chose before (``locale``) or the one chosen on the sign-in page."""
    chosen = locale or request.session.get(SESSION_LOCALE)
    request.session.clear()  # a new session: no fixation
    if isinstance(chosen, str):
        request.session[SESSION_LOCALE] = chosen
    request.session[SESSION_USER] = user.name
    request.session[SESSION_VERSION] = version
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    """End the session on the server too: every session of its user stops working.

    A session that has ended already changes nothing on the server, so an old copy of a
    cookie cannot be used to sign its user out again and again."""
    user = session_user(request)
    if user is not None:
        users.end_sessions(engine_of(request), user.name)
    request.session.clear()


class LoginLimiter:
    """Failed sign-ins per user name and per client address in a sliding window.

    A success clears the failures of the name signed in with, never those of the
    address: else four wrong guesses at others' names and one sign-in with one's own,
    repeated, would never reach the limit.
    """

    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._sweep_at = _SWEEP_AT
        self._lock = threading.Lock()

    def blocked(self, name: str, address: str) -> bool:
        with self._lock:
            return any(len(self._recent(key)) >= self.max_failures
                       for key in _keys(name, address))

    def failed(self, name: str, address: str) -> None:
        with self._lock:
            for key in _keys(name, address):
                self._failures[key].append(self.clock())
            if len(self._failures) > self._sweep_at:
                self._sweep()

    def succeeded(self, name: str, address: str) -> None:
        """``name`` signed in from ``address``: forget the name's failures only."""
        name_key, _address_key = _keys(name, address)
        with self._lock:
            self._failures.pop(name_key, None)

    def _recent(self, key: str) -> deque[float]:
        found = self._failures.get(key)
        if found is None:
            return deque()
        while found and found[0] < self.clock() - self.window:
            found.popleft()
        return found

    def _sweep(self) -> None:
        """Forget keys without recent failures (many names tried once must not pile up);
        the next sweep waits till the keys double, so sweeping costs O(1) a failure."""
        for key in [key for key in self._failures if not self._recent(key)]:
            del self._failures[key]
        self._sweep_at = max(_SWEEP_AT, 2 * len(self._failures))


_SWEEP_AT = 10_000  # keys held before those without recent failures are dropped


def _keys(name: str, address: str) -> tuple[str, str]:
    return f"name:{name[:MAX_NAME_KEY]}", f"addr:{address}"
