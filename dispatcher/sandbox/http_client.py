"""The controllers' HTTP client: one keep-alive ``http.client`` connection per worker
thread and host, as in :mod:`dispatcher.sandbox.callbacks`.

Hundreds of controllers poll and report several times a second from a few threads that
share the GIL with whatever else runs in the process (the dispatcher itself, in tests),
so this stays far lighter than ``requests``. Media are hashed as they stream in and never
kept: a controller only needs to know that the file it would show is the right one.
"""

from __future__ import annotations

import hashlib
import http.client
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
CHUNK = 64 * 1024


class Unreachable(Exception):
    """No HTTP answer: connection refused or reset, timeout, broken response."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class Download:
    status: int
    size: int  # bytes read, at most the expected size + 1
    md5: str


class HttpClient:
    """``request`` and ``download`` on this thread's keep-alive connections."""

    def __init__(self, timeout: float, user_agent: str = "led-controller (dispatcher sandbox)"
                 ) -> None:
        self.timeout = timeout
        self.user_agent = user_agent
        self._local = threading.local()
        self._pools: list[dict[tuple[str, str], http.client.HTTPConnection]] = []
        self._pools_lock = threading.Lock()

    def request(self, method: str, url: str, headers: Mapping[str, str],
                body: bytes | None = None) -> Reply:
        response, conn_key = self._send(method, url, headers, body)
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._drop(conn_key)
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None
        self._settle(response, conn_key)
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)

    def download(self, url: str, headers: Mapping[str, str], expected_size: int) -> Download:
        """GET ``url``, hashing at most ``expected_size + 1`` bytes of a 200's body."""
        response, conn_key = self._send("GET", url, headers, None)
        digest, size = hashlib.md5(usedforsecurity=False), 0
        try:
            while response.status == 200 and size <= expected_size:
                chunk = response.read(min(CHUNK, expected_size + 1 - size))
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
            if response.status != 200 or size > expected_size:
                self._drop(conn_key)  # do not read the rest of an unwanted body
                response.close()
            else:
                self._settle(response, conn_key)
        except (OSError, http.client.HTTPException) as exc:
            self._drop(conn_key)
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None
        return Download(response.status, size, digest.hexdigest())

    def close(self) -> None:
        """Close every thread's connections (once the threads are done with them)."""
        with self._pools_lock:
            pools, self._pools = self._pools, []
        for pool in pools:
            for conn in list(pool.values()):
                conn.close()
            pool.clear()

    def _send(self, method: str, url: str, headers: Mapping[str, str],
              body: bytes | None) -> tuple[http.client.HTTPResponse, tuple[str, str]]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = {"User-Agent": self.user_agent, **headers}
        fresh = False
        while True:
            conn, reused = self._connection(key, fresh)
            try:
                conn.request(method, target, body, sent)
                return conn.getresponse(), key
            except (OSError, http.client.HTTPException) as exc:
                self._drop(key)
                if not (reused and isinstance(exc, _STALE)):
                    raise Unreachable(f"{type(exc).__name__}: {exc}") from None
                fresh = True  # the server closed an idle keep-alive connection: once more

    def _settle(self, response: http.client.HTTPResponse, key: tuple[str, str]) -> None:
        if response.will_close:
            self._drop(key)

    def _pool(self) -> dict[tuple[str, str], http.client.HTTPConnection]:
        pool: dict[tuple[str, str], http.client.HTTPConnection] | None = getattr(
            self._local, "pool", None)
        if pool is None:
            self._local.pool = pool = {}
            with self._pools_lock:
                self._pools.append(pool)
        return pool

    def _connection(self, key: tuple[str, str],
                    fresh: bool) -> tuple[http.client.HTTPConnection, bool]:
        pool = self._pool()
        conn = None if fresh else pool.get(key)
        if conn is not None:
            return conn, True
        scheme, netloc = key
        kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        pool[key] = conn = kind(netloc, timeout=self.timeout)
        return conn, False

    def _drop(self, key: tuple[str, str]) -> None:
        conn = self._pool().pop(key, None)
        if conn is not None:
            conn.close()
