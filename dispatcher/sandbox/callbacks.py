"""Signed webhooks from background threads: delayed jobs, retries with backoff, counters.

The API handlers never wait for a webhook: they schedule a job. One timer thread moves
jobs that fall due to a queue, and a few worker threads take them from it (one wake-up
per job, however many workers). A webhook that fails (connection error, timeout, 5xx,
429) is tried again after ``backoff * 2**attempt`` seconds, up to ``retries`` more times;
any other answer or the last failure counts as failed. Nothing a receiver does can crash
the sandbox: every job's exceptions are caught and logged.

Webhooks go out over ``http.client`` with one keep-alive connection per worker and
receiver: a status callback per status change of every message is the sandbox's hottest
path, and it shares the process (and the GIL) with the receiving app in tests and demos.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlencode, urlsplit

from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)

Job = Callable[[], None]
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class Scheduler:
    """Runs ``job`` after ``delay`` seconds on one of ``workers`` daemon threads."""

    def __init__(self, workers: int, name: str = "sandbox-webhooks") -> None:
        self._size, self._name = workers, name
        self._cond = threading.Condition()  # guards everything below but the queue
        self._heap: list[tuple[float, int, Job]] = []
        self._order = itertools.count()
        self._ready: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._queued = 0  # jobs put on _ready and not yet taken
        self._running = 0
        self._threads: list[threading.Thread] = []
        self._closed = False

    def at(self, delay: float, job: Job) -> None:
        with self._cond:
            if self._closed:
                return
            if not self._threads:
                self._start()
            if delay <= 0:
                self._queued += 1
                self._ready.put(job)
                return
            due = time.monotonic() + delay
            heapq.heappush(self._heap, (due, next(self._order), job))
            if self._heap[0][0] == due:
                self._cond.notify_all()  # the timer may be waiting for a later job

    def pending(self) -> int:
        """Jobs scheduled, queued or running."""
        with self._cond:
            return len(self._heap) + self._queued + self._running

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is scheduled, queued or running; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._queued or self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
            return True

    def clear(self) -> None:
        """Drop every job not yet running."""
        with self._cond:
            if not self._closed:
                self._drop_all()

    def close(self) -> None:
        """Drop the waiting jobs, let running ones finish, stop the threads."""
        with self._cond:
            if not self._closed:
                self._closed = True
                self._drop_all()  # before the timer, woken, queues the workers' stop marks
        for thread in self._threads:
            thread.join(timeout=5)

    def _drop_all(self) -> None:
        self._heap.clear()
        while True:
            try:
                job = self._ready.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._queued -= 1
        self._cond.notify_all()

    def _start(self) -> None:
        names = [f"{self._name}-timer"] + [f"{self._name}-{i}" for i in range(self._size)]
        targets = [self._time] + [self._work] * self._size
        for name, target in zip(names, targets, strict=True):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _time(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    self._queued += 1
                    self._ready.put(heapq.heappop(self._heap)[2])
                self._cond.wait(self._heap[0][0] - now if self._heap else None)
        for _ in range(self._size):
            self._ready.put(None)

    def _work(self) -> None:
        while (job := self._ready.get()) is not None:
            with self._cond:
                self._queued -= 1
                if self._closed:
                    continue
                self._running += 1
            try:
                job()
            except Exception:
                log.exception("sandbox webhook job failed")
            finally:
                with self._cond:
                    self._running -= 1
                    if not (self._heap or self._queued or self._running):
                        self._cond.notify_all()


@dataclass(frozen=True)
class Webhook:
    """One signed form POST; ``kind`` names its counters (``callbacks``, ``inbound``)."""

    kind: str
    url: str
    params: Mapping[str, str]
    then: Job | None = field(default=None, compare=False)  # after success or giving up


class WebhookPoster:
    """Posts webhooks signed with X-Twilio-Signature, retrying on the scheduler."""

    def __init__(self, scheduler: Scheduler, auth_token: str, count: Callable[[str], None],
                 retries: int = 3, backoff: float = 0.2, timeout: float = 5.0) -> None:
        self.scheduler, self.count = scheduler, count
        self._validator = RequestValidator(auth_token)
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self._local = threading.local()

    def signature(self, url: str, params: Mapping[str, str]) -> str:
        return cast(str, self._validator.compute_signature(url, dict(params)))

    def post_later(self, hook: Webhook, delay: float = 0.0, attempt: int = 0) -> None:
        self.scheduler.at(delay, lambda: self.post(hook, attempt))

    def post_now(self, hook: Webhook) -> tuple[int | None, str | None]:
        """Post in this thread, retrying with sleeps: (last HTTP status, last error)."""
        for attempt in range(self.retries + 1):
            status, error, retry = self._post(hook)
            if not retry or attempt == self.retries:
                break
            self.count(f"{hook.kind}.retried")
            time.sleep(self.backoff * 2 ** attempt)
        self.count(f"{hook.kind}.{'sent' if error is None else 'failed'}")
        return status, error

    def post(self, hook: Webhook, attempt: int = 0) -> None:
        """Post in this thread, then run ``hook.then``; a retry waits on the scheduler."""
        _, error, retry = self._post(hook)
        if error is not None and retry and attempt < self.retries:
            self.count(f"{hook.kind}.retried")
            self.post_later(hook, self.backoff * 2 ** attempt, attempt + 1)
            return
        self.count(f"{hook.kind}.{'sent' if error is None else 'failed'}")
        if error is not None:
            log.warning("%s to %s failed: %s", hook.kind, hook.url, error)
        if hook.then is not None:
            hook.then()

    def _post(self, hook: Webhook) -> tuple[int | None, str | None, bool]:
        """(status, error or None, worth retrying)."""
        parts = urlsplit(hook.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        body = urlencode(dict(hook.params)).encode()
        headers = {"X-Twilio-Signature": self.signature(hook.url, hook.params),
                   "Content-Type": "application/x-www-form-urlencoded",
                   "User-Agent": "TwilioProxy/1.1 (dispatcher sandbox)"}
        for fresh in (False, True):
            conn, reused = self._connection(parts.scheme, parts.netloc, fresh)
            try:
                conn.request("POST", target, body, headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._drop(parts.scheme, parts.netloc)
                if reused and isinstance(exc, _STALE):
                    continue  # the receiver closed an idle keep-alive connection
                return None, f"{type(exc).__name__}: {exc}", True
            if response.will_close:
                self._drop(parts.scheme, parts.netloc)
            break
        status = response.status
        if status < 300:
            return status, None, False
        return status, f"HTTP {status}", status >= 500 or status == 429

    def _connection(self, scheme: str, netloc: str,
                    fresh: bool) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's keep-alive connection to the receiver, and whether it was reused."""
        pool: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__\
            .setdefault("pool", {})
        conn = None if fresh else pool.get((scheme, netloc))
        if conn is not None:
            return conn, True
        kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        pool[(scheme, netloc)] = conn = kind(netloc, timeout=self.timeout)
        return conn, False

    def _drop(self, scheme: str, netloc: str) -> None:
        pool = self._local.__dict__.get("pool", {})
        conn = pool.pop((scheme, netloc), None)
        if conn is not None:
            conn.close()
