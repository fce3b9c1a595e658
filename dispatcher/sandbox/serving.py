"""Running a request-answering sandbox (Twilio, WeChat, partner app) on loopback: in a
background thread for Python callers, or in the foreground for ``dispatcher sandbox``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from dispatcher.serving import BackgroundServer, run_foreground


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
