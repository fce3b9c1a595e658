"""Aliyun's HTTP batch pushes: receipts (report_url) and replies (reply_url) as JSON arrays.

Items wait in a queue per kind and URL; ``delay`` seconds after the first one arrives the
queue is flushed as POSTs of up to ``batch`` items each, from the scheduler's worker
threads. Aliyun counts a push as received only when the answer is HTTP 200 with JSON
``{"code": 0, ...}``; anything else (another status, other JSON, no answer) is pushed
again after ``backoff * 2**attempt`` seconds, up to ``retries`` more times, then given up
and counted. Aliyun does not sign its pushes, so neither does the sandbox.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from dispatcher.sandbox.callbacks import Scheduler
from dispatcher.sandbox.http_client import HttpClient, Unreachable

log = logging.getLogger(__name__)

Item = dict[str, Any]
HEADERS = {"Content-Type": "application/json;charset=UTF-8"}


def acknowledged(status: int, body: bytes) -> bool:
    """Only HTTP 200 with a JSON object whose ``code`` is the integer 0."""
    if status != 200:
        return False
    try:
        value = json.loads(body)
    except ValueError:
        return False
    return isinstance(value, dict) and type(value.get("code")) is int and value["code"] == 0


class Pusher:
    """Queues items and pushes them in batches; ``count(name, amount)`` takes counters
    ``{kind}.pushed`` (items in every POST), ``.acknowledged``, ``.retried``, ``.failed``
    and ``.posts``."""

    def __init__(self, scheduler: Scheduler, count: Callable[[str, int], None], *,
                 delay: float, batch: int, retries: int, backoff: float,
                 timeout: float) -> None:
        self.scheduler, self.count = scheduler, count
        self.delay, self.batch, self.retries, self.backoff = delay, batch, retries, backoff
        self.http = HttpClient(timeout, user_agent="Aliyun-SMS-Push (dispatcher sandbox)")
        self._lock = threading.Lock()
        self._queues: dict[tuple[str, str], list[Item]] = {}

    def push(self, kind: str, url: str, items: list[Item]) -> None:
        if not items:
            return
        with self._lock:
            queue = self._queues.get((kind, url))
            if queue is not None:
                queue.extend(items)
                return
            self._queues[(kind, url)] = list(items)
        self.scheduler.at(self.delay, lambda: self._flush(kind, url))

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()

    def close(self) -> None:
        self.http.close()

    def _flush(self, kind: str, url: str) -> None:
        with self._lock:
            items = self._queues.pop((kind, url), [])
        for start in range(0, len(items), self.batch):
            chunk = items[start:start + self.batch]
            self.scheduler.at(0, partial(self._send, kind, url, chunk, 0))

    def _send(self, kind: str, url: str, items: list[Item], attempt: int) -> None:
        body = json.dumps(items, ensure_ascii=False).encode()
        self.count(f"{kind}.posts", 1)
        self.count(f"{kind}.pushed", len(items))
        try:
            reply = self.http.request("POST", url, HEADERS, body)
            ok, problem = acknowledged(reply.status, reply.body), f"HTTP {reply.status}"
        except Unreachable as exc:
            ok, problem = False, str(exc)
        if ok:
            self.count(f"{kind}.acknowledged", len(items))
        elif attempt < self.retries:
            self.count(f"{kind}.retried", len(items))
            self.scheduler.at(self.backoff * 2 ** attempt,
                              partial(self._send, kind, url, items, attempt + 1))
        else:
            self.count(f"{kind}.failed", len(items))
            log.warning("%s push of %d to %s not acknowledged: %s", kind, len(items), url,
                        problem)
