"""Status reports and replies pushed as JSON arrays, again until acknowledged.

Tencent Cloud pushes to the URLs registered in its console, unsigned, several items per
POST; it counts a push as taken only when the answer is HTTP 200 with a JSON body whose
``result`` is 0 (``{"result":0,"errmsg":"OK"}``), and pushes anything else again. Items
queued for one URL within ``delay`` seconds go out together, ``batch`` at most per POST;
an unacknowledged POST is repeated after ``backoff * 2**attempt`` seconds, ``retries``
times at most, from the sandbox's scheduler threads.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from dispatcher.sandbox.callbacks import Scheduler
from dispatcher.sandbox.http_client import HttpClient, Unreachable
from dispatcher.sandbox.tencent.wire import ACKNOWLEDGED

log = logging.getLogger(__name__)
HEADERS = {"Content-Type": "application/json; charset=utf-8"}


@dataclass(frozen=True)
class PushResult:
    """One POST: the HTTP status (None without an answer), whether it was acknowledged,
    and what went wrong otherwise."""

    status: int | None
    acknowledged: bool
    error: str | None


def acknowledged(status: int, body: bytes) -> bool:
    """Only HTTP 200 with a JSON object whose ``result`` is 0 counts as taken."""
    if status != 200:
        return False
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    result = answer.get("result") if isinstance(answer, dict) else None
    return type(result) is int and result == ACKNOWLEDGED


class Pusher:
    """Queues items per (kind, URL) and posts them in batches; ``kind`` names counters."""

    def __init__(self, scheduler: Scheduler, count: Callable[[str, int], None],
                 batch: int, delay: float, retries: int, backoff: float,
                 timeout: float) -> None:
        self.scheduler, self.count = scheduler, count
        self.batch, self.delay, self.retries, self.backoff = batch, delay, retries, backoff
        self.client = HttpClient(timeout, user_agent="dispatcher sandbox (Tencent Cloud SMS)")
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def add(self, kind: str, url: str, item: dict[str, Any]) -> None:
        """Queue ``item``; the first item of a quiet spell schedules the flush."""
        key = (kind, url)
        with self._lock:
            waiting = self._pending.setdefault(key, [])
            waiting.append(item)
            first = len(waiting) == 1
        if first:
            self.scheduler.at(self.delay, lambda: self._flush(key))

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def post_now(self, kind: str, url: str, items: list[dict[str, Any]]) -> PushResult:
        """Push in this thread, again with sleeps until acknowledged or out of retries."""
        for attempt in range(self.retries + 1):
            result = self._post(kind, url, items)
            if result.acknowledged or attempt == self.retries:
                break
            self.count(f"{kind}.retried", 1)
            time.sleep(self.backoff * 2 ** attempt)
        if not result.acknowledged:
            self.count(f"{kind}.failed", len(items))
        return result

    def post(self, kind: str, url: str, items: list[dict[str, Any]], attempt: int = 0) -> None:
        """Push in this thread; an unacknowledged push is scheduled again."""
        result = self._post(kind, url, items)
        if result.acknowledged:
            return
        if attempt < self.retries:
            self.count(f"{kind}.retried", 1)
            self.scheduler.at(self.backoff * 2 ** attempt,
                              lambda: self.post(kind, url, items, attempt + 1))
            return
        self.count(f"{kind}.failed", len(items))
        log.warning("%s push of %d items to %s gave up: %s", kind, len(items), url,
                    result.error)

    def close(self) -> None:
        self.clear()
        self.client.close()

    def _flush(self, key: tuple[str, str]) -> None:
        with self._lock:
            items = self._pending.pop(key, [])
        kind, url = key
        for start in range(0, len(items), self.batch):
            chunk = items[start:start + self.batch]
            self.scheduler.at(0, partial(self.post, kind, url, chunk))

    def _post(self, kind: str, url: str, items: list[dict[str, Any]]) -> PushResult:
        body = json.dumps(items, ensure_ascii=False).encode()
        self.count(f"{kind}.posts", 1)
        self.count(f"{kind}.pushed", len(items))
        try:
            reply = self.client.request("POST", url, HEADERS, body)
        except Unreachable as exc:
            return PushResult(None, False, str(exc))
        if acknowledged(reply.status, reply.body):
            self.count(f"{kind}.acknowledged", len(items))
            return PushResult(reply.status, True, None)
        return PushResult(reply.status, False,
                          f"HTTP {reply.status}: not acknowledged with result 0")
