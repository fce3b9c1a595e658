"""Running a request-answering sandbox (Twilio, WeChat, partner app) on loopback: in a
background thread for Python callers, or in the foreground for ``dispatcher sandbox``;
and holding its answers back (latency, simulated timeouts) without hanging its stop."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dispatcher.sandbox.callbacks import Scheduler
from dispatcher.serving import BackgroundServer, run_foreground

SHORT_HOLD_S = 0.25  # held in one sleep; a longer hold checks for an end every 0.1 s


class Servable(Protocol):
    """A sandbox: its ASGI app, the URL it is served at, and what it stops at the end."""

    app: Any
    url: str | None

    def close(self) -> None:
        """Stop the sandbox's own threads; its state stays readable."""


@contextmanager
def serve_in_background(box: Servable, host: str = "127.0.0.1", port: int | None = None,
                        before_stop: Callable[[], None] | None = None) -> Iterator[str]:
    """Serve ``box`` on ``host:port`` (a free port by default) in a thread; yield (and set
    ``box.url`` to) the base URL. On the way out ``before_stop`` runs first (to end
    answers held back, which would delay the server's stop), then the server stops, then
    ``box.close()``."""
    server = BackgroundServer(box.app, host=host, port=port).start()
    box.url = server.url
    try:
        yield server.url
    finally:
        if before_stop is not None:
            before_stop()
        server.stop()
        box.close()


def serve_in_foreground(box: Servable, host: str, port: int) -> None:
    """Serve ``box`` until Ctrl-C, then ``box.close()``."""
    try:
        run_foreground(box.app, host, port)
    finally:
        box.close()


async def hold(request: Request, seconds: float, closing: threading.Event) -> None:
    """Hold an answer back ``seconds``; a long hold ends early when the client hangs up
    or ``closing`` is set, so a stopped server never hangs on a simulated timeout."""
    if seconds <= SHORT_HOLD_S:
        if seconds > 0:
            await asyncio.sleep(seconds)
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0 and not closing.is_set():
        await asyncio.sleep(min(left, 0.1))
        if await request.is_disconnected():
            return


class HoldingSandbox:
    """A sandbox that holds answers back (see :func:`hold`) and posts webhooks from its
    own ``scheduler``: serving it sets ``closing`` before the server stops, and
    :meth:`close` ends held answers and stops the webhook threads."""

    app: Any
    url: str | None
    scheduler: Scheduler
    closing: threading.Event

    def serve(self, host: str = "127.0.0.1", port: int | None = None
              ) -> AbstractContextManager[str]:
        """Run on ``host:port`` (a free port by default) in a thread; yield the base URL."""
        return serve_in_background(self, host, port, before_stop=self.closing.set)

    def close(self) -> None:
        self.closing.set()
        self.scheduler.close()


def listing(found: list[dict[str, Any]], request: Request) -> Response:
    """A sandbox's log as JSON, or with ``?format=ndjson`` one JSON object a line (a run
    of a million messages is read as a stream)."""
    if request.query_params.get("format") == "ndjson":
        lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in found)
        return Response(lines, media_type="application/x-ndjson")
    return JSONResponse(found)
