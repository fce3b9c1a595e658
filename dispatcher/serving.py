"""Serving an ASGI app on loopback from a background thread (demo, tests, benchmarks,
sandboxes) or in the foreground (``dispatcher sandbox ...``).

``dispatcher serve`` runs uvicorn in the foreground with its own settings;
:class:`BackgroundServer` runs an app inside another program and stops it cleanly.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

# uvicorn settings of every server started here: no access log, no lifespan events.
QUIET: dict[str, Any] = {"log_level": "warning", "access_log": False, "lifespan": "off"}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class BackgroundServer:
    """``with BackgroundServer(app) as server: requests.get(server.url + "/...")``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        config = uvicorn.Config(app, host=host, port=self.port, **QUIET)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=f"http-{self.port}",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def run_foreground(app: Any, host: str, port: int) -> None:
    """Serve ``app`` until Ctrl-C; a request still held back (a simulated timeout) delays
    the exit by one second at most."""
    uvicorn.run(app, host=host, port=port, timeout_graceful_shutdown=1, **QUIET)
