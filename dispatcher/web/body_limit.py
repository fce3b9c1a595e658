"""A cap on every request body: 413, before the body is read whole.

A request announcing more than its cap in ``Content-Length`` is answered 413 before a
byte of its body is read. A body sent without one (chunked) is counted as it arrives:
once past the cap, reading stops with :class:`BodyTooLarge`, an HTTPException the app
answers 413 wherever the body was being read (``request.body()``, a form, FastAPI's own
parameters). Nothing past the cap is ever held in memory.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class BodyTooLarge(HTTPException):
    def __init__(self, cap: int) -> None:
        super().__init__(413, f"the request body is larger than {cap} bytes, the most "
                              "this URL accepts")


class BodyLimit:
    """ASGI middleware: ``default`` bytes per body, or the cap of the first pattern in
    ``caps`` (regular expressions over the path, whole-match) that matches."""

    def __init__(self, app: ASGIApp, default: int,
                 caps: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.caps = [(re.compile(pattern), cap) for pattern, cap in (caps or {}).items()]

    def cap(self, path: str) -> int:
        return next((cap for pattern, cap in self.caps if pattern.fullmatch(path)),
                    self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            _log_refusal(scope, cap)
            await _refuse(scope, receive, send, cap)
            return
        received, started = 0, False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    _log_refusal(scope, cap)
                    raise BodyTooLarge(cap)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:  # read outside a route (the routes' errors are answered there)
            if started:
                raise
            await _refuse(scope, receive, send, cap)


async def _refuse(scope: Scope, receive: Receive, send: Send, cap: int) -> None:
    """413 as FastAPI answers an HTTPException."""
    response = JSONResponse({"detail": BodyTooLarge(cap).detail}, status_code=413)
    await response(scope, receive, send)


def _log_refusal(scope: Scope, cap: int) -> None:
    client = scope.get("client")
    log.warning("refused a request body over %d bytes: %s %s from %s", cap, scope["method"],
                scope["path"], client[0] if client else "unknown client")


def _content_length(scope: Scope) -> int | None:
    """The declared length; None without one. The server (h11, httptools) has refused a
    request whose Content-Length is not a number before it gets here."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            if not (text.isascii() and text.isdigit()):
                return None
            return int(text) if len(text) < 20 else sys.maxsize
    return None
