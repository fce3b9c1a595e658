"""The delivery engine: claim rows, rate-limit, send in a thread pool, record results.

One coordinator thread claims due rows in small batches (each marked ``sending`` with a
lease before any provider call), spends the account's tokens, and hands each send to a
pool of threads; results are recorded in bulk as they come back. Rows whose lease
expired are reconciled with the provider's ``lookup`` before anything is sent again, so
a crash at any moment neither loses nor duplicates a message. Threads, not asyncio: the
provider SDKs (twilio, wechatpy, requests) are blocking, and the bench shows the pool
keeps up with the provider's rate (see BENCHMARKS.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from channels.base import (
    AccountLimits,
    BatchSender,
    Channel,
    LookupResult,
    Message,
    Sender,
    SendResult,
)
from dispatcher.delivery import claims
from dispatcher.delivery.claims import ClaimedRow, Scope
from dispatcher.delivery.policy import EngineOptions, EngineReport
from dispatcher.delivery.ratelimit import Bucket, Limiters, RateLimiters
from dispatcher.delivery.recording import Recorder
from dispatcher.delivery.run_context import RunPlacements
from dispatcher.delivery.venue_tokens import use_current_tokens
from dispatcher.storage.db import utcnow

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


class DeliveryEngine:
    def __init__(self, engine: Engine, channels: Mapping[str, Channel], public_url: str,
                 options: EngineOptions | None = None, limiters: RateLimiters | None = None,
                 scope: Scope | None = None) -> None:
        """``scope`` limits the engine to one task's rows (the Celery executor's workers);
        without it, it sends every sendable run on every ready channel."""
        self.db = engine
        self.scope = scope
        senders = {n: c for n, c in channels.items() if isinstance(c, Sender)
                   and (scope is None or n == scope.channel)}
        self.senders = {n: c for n, c in senders.items() if c.ready()}
        use_current_tokens(engine, self.senders)  # bookings carry each cinema's current token
        self.not_ready = sorted(senders.keys() - self.senders.keys())  # rows wait
        self.options = options or EngineOptions()
        self.limiters = limiters or Limiters()
        self.placements = RunPlacements(engine, public_url)
        self.recorder = Recorder(engine, self.options)
        self.report = self.recorder.report
        self.stop = threading.Event()
        size = sum(self._concurrency(s) for s in self.senders.values()) or 1
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="send")
        self._lookup_room = max(16, size * 2)  # lookups released per pass, at most
        self._in_flight: dict[Future[list[SendResult]], list[Message]] = {}
        self._lookups: dict[Future[LookupResult], tuple[Message, ClaimedRow]] = {}
        self._next_reconcile = 0.0

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.options.lease_seconds)

    def run(self, until_idle: bool = False, progress: Progress | None = None) -> EngineReport:
        """Send until stopped, or with ``until_idle`` until nothing is left to send soon."""
        self.recorder.progress = progress
        try:
            while not self.stop.is_set():
                busy = self._reconcile() + self._claim_and_send()
                self._collect(timeout=0.05 if busy or self._in_flight else 0)
                if not busy and not self._in_flight and not self._lookups:
                    self.placements.complete_finished_runs()
                    if until_idle and not self._work_ahead():
                        break
                    self.stop.wait(self.options.idle_poll_seconds)
        finally:
            self._drain()
            self._pool.shutdown(wait=True)
        return self.report

    def _concurrency(self, sender: Sender) -> int:
        return max(1, sender.limits().concurrency)

    def _claim_and_send(self) -> int:
        started = 0
        for name, sender in self.senders.items():
            room = self._concurrency(sender) * 2 - self._in_flight_for(name)
            if room <= 0:
                continue
            calls: list[list[ClaimedRow]] = []
            with self.db.begin() as conn:
                for run in self._sendable_runs(conn):
                    if not self.placements.sender_may_send(
                            sender, run, utcnow(), self.options.respect_send_windows):
                        continue  # its rows wait for the send window to open
                    per_call = self.placements.batch_size(sender, run)
                    rows = claims.claim(conn, run, name, (room - len(calls)) * per_call,
                                        self.lease, self.scope)
                    calls += self.placements.calls(sender, rows)
                    if len(calls) >= room:
                        break
            for call in calls:
                if not self._send(sender, call):
                    return started
                started += len(call)
        return started

    def _sendable_runs(self, conn: Connection) -> list[int]:
        runs = claims.sendable_runs(conn)
        return runs if self.scope is None else [r for r in runs if r == self.scope.run_id]

    def _send(self, sender: Sender, rows: list[ClaimedRow]) -> bool:
        """Spend the call's tokens and start it in the pool: one message, or a batch."""
        messages = self.placements.messages(sender, rows)
        placement = messages[0].placement
        limits = (sender.account_limits(placement) if isinstance(sender, AccountLimits)
                  else sender.limits())
        cost = sender.message_cost(placement)
        bucket = self.limiters.bucket(limits.key, limits.rate)
        if not bucket.acquire(cost, stop=self.stop):
            return False  # stopping: the rows keep their lease and are reconciled later
        self._in_flight[self._pool.submit(_send_call, sender, messages, bucket)] = messages
        return True

    def _in_flight_for(self, channel: str) -> int:
        """Provider calls of ``channel`` in flight (a batch is one call)."""
        return sum(1 for m in self._in_flight.values() if m[0].placement.channel == channel)

    def _reconcile(self) -> int:
        """Look up rows whose lease ran out, at most every ``reconcile_seconds`` (leases
        last a minute, and a query per loop cost a transaction per message) unless the
        last pass was full."""
        now = time.monotonic()
        room = self._lookup_room - len(self._lookups)
        if room < self._lookup_room // 2 or now < self._next_reconcile:
            return 0
        with self.db.begin() as conn:
            rows = claims.release_expired(conn, room, self.lease, list(self.senders),
                                          self.scope)
        # A killed batch leaves thousands of rows to look up: while passes come back full,
        # the next one starts as soon as half of these lookups are done.
        more = len(rows) == room
        self._next_reconcile = now + (0 if more else self.options.reconcile_seconds)
        for row in rows:
            sender = self.senders.get(row.channel)
            if sender is None:
                continue
            message = self.placements.message(row)
            since = row.attempt_started_at - timedelta(seconds=self.options.lookup_skew_seconds)
            self._lookups[self._pool.submit(sender.lookup, message, since)] = (message, row)
        return len(rows)

    def _collect(self, timeout: float) -> None:
        pending: list[Future[Any]] = [*self._in_flight, *self._lookups]
        if not pending:
            return
        done, _ = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
        results: list[tuple[Message, SendResult]] = []
        for future in done:
            if future in self._in_flight:
                messages = self._in_flight.pop(future)
                results += zip(messages, _results(future, messages), strict=True)
            else:
                message, row = self._lookups.pop(future)
                self.recorder.lookup_done(message, row, future)
        self.recorder.record(results)

    def _work_ahead(self) -> bool:
        """Rows to send now or soon: retries and expired leases due within the horizon, in
        runs whose send window is open by then (a closed window is not work for now)."""
        now = utcnow()
        ahead = self.options.idle_horizon_seconds
        if ahead is None:
            ahead = self.options.lease_seconds + self.options.backoff_max
        horizon = now + timedelta(seconds=ahead)
        with self.db.connect() as conn:
            run_ids = [run for run in self._sendable_runs(conn)
                       if not self.options.respect_send_windows
                       or self.placements.opens_by(run, horizon, now)]
            return bool(run_ids) and claims.open_rows(conn, horizon, run_ids,
                                                      list(self.senders), self.scope) > 0

    def _drain(self) -> None:
        while self._in_flight or self._lookups:
            self._collect(timeout=1.0)


def _send_call(sender: Sender, messages: list[Message], bucket: Bucket) -> list[SendResult]:
    """Send in a pool thread: one message through ``send``, more through ``send_batch``.
    A ``Retry-After`` pauses the account's bucket here, the moment it arrives: results
    are recorded in batches, and every send started before the batch is recorded would
    meet the same 429."""
    if len(messages) == 1 and not isinstance(sender, BatchSender):
        results = [sender.send(messages[0])]
    elif isinstance(sender, BatchSender):
        results = sender.send_batch(messages)
    else:  # the engine hands batches only to batch senders
        raise TypeError(f"{type(sender).__name__} cannot send {len(messages)} messages at once")
    pause = max((r.retry_after or 0.0 for r in results if r.outcome == "retry"), default=0.0)
    if pause:
        bucket.pause(pause)
    return results


def _results(future: Future[list[SendResult]], messages: list[Message]) -> list[SendResult]:
    """A channel that raised instead of returning results, or returned the wrong number
    of them: the outcome of every message of the call is unknown (looked up later)."""
    try:
        results = future.result()
    except Exception as exc:  # a bug in a plugin must not lose the rows: reconcile them
        log.exception("channel %s raised while sending", messages[0].placement.channel)
        return [SendResult(m.delivery_id, "unknown", detail=f"channel error: {exc}")
                for m in messages]
    if len(results) != len(messages):
        log.error("channel %s returned %s results for %s messages",
                  messages[0].placement.channel, len(results), len(messages))
        return [SendResult(m.delivery_id, "unknown", detail="channel error: "
                           f"{len(results)} results for {len(messages)} messages")
                for m in messages]
    return results
