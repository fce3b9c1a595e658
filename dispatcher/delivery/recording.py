"""Recording what providers answered: one transaction per batch of results."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from datetime import timedelta

from sqlalchemy import Connection, Engine

from channels.base import LookupResult, Message, SendResult
from dispatcher.audience import optouts
from dispatcher.delivery import claims
from dispatcher.delivery.claims import ClaimedRow
from dispatcher.delivery.policy import EngineOptions, EngineReport, backoff
from dispatcher.delivery.transitions import Transition, advance, advance_all
from dispatcher.storage.db import utcnow

log = logging.getLogger(__name__)


class Recorder:
    """Applies results to the rows. A ``Retry-After`` is not handled here: the engine
    pauses the account's bucket in the send thread, before the batch reaches this."""

    def __init__(self, engine: Engine, options: EngineOptions) -> None:
        self.db = engine
        self.options = options
        self.report: EngineReport = EngineReport()
        self.progress: Callable[[int], None] | None = None
        self._counted_unknown: set[int] = set()  # rows already counted as done

    def record(self, results: list[tuple[Message, SendResult]]) -> None:
        if not results:
            return
        finished = 0
        opt_outs: list[tuple[Message, SendResult]] = []
        with self.db.begin() as conn:
            claims.set_provider_ref(conn, [
                {"id": r.delivery_id, "ref": r.provider_ref, "units": r.units,
                 "data": r.provider_data}
                for _m, r in results if r.outcome == "accepted"])
            accepted = {r.delivery_id: r.provider_ref for _m, r in results
                        if r.outcome == "accepted"}
            advance_all(conn, "sent", accepted, actor="engine")  # a batch: one statement
            self.report.sent += len(accepted)
            finished += len(accepted)
            for message, result in results:
                self.report.results[result.outcome] = self.report.results.get(
                    result.outcome, 0) + 1
                if result.outcome != "accepted":
                    finished += self._record_one(conn, message, result)
                if result.opt_out:
                    opt_outs.append((message, result))
        for message, result in opt_outs:
            optouts.add(self.db, message.address, channel=message.placement.channel,
                        source="provider", reason=f"provider error {result.code}")
        if self.progress and finished:
            self.progress(finished)

    def _record_one(self, conn: Connection, message: Message, result: SendResult) -> int:
        """Apply one result that is not ``accepted``; return how far it moves the progress
        bar: 1 when the engine is done with the row, also for an unknown outcome (its
        lookup either confirms it, or takes the 1 back with -1 when the row has to be sent
        again)."""
        row = message.delivery_id
        if result.outcome == "failed":
            self.report.failed += 1
            advance(conn, [Transition("failed", row, code=result.code, detail=result.detail)],
                    actor="engine")
            return 1
        if result.outcome == "retry":
            return self._retry(conn, message, result.code, result.detail, result.retry_after)
        self.report.unknown += 1
        at = utcnow() + timedelta(seconds=self.options.unknown_grace_seconds)
        claims.expire_lease(conn, row, at, f"outcome unknown: {result.detail or result.code}")
        self._counted_unknown.add(row)
        return 1

    def _retry(self, conn: Connection, message: Message, code: str | None,
               detail: str | None, retry_after: float | None) -> int:
        if message.attempt >= self.options.max_attempts:
            self.report.failed += 1
            advance(conn, [Transition("failed", message.delivery_id, code=code or "retries",
                                      detail=f"gave up after {message.attempt} attempts: "
                                             f"{detail or code}")], actor="engine")
            return 1
        self.report.retried += 1
        delay = backoff(self.options, message.attempt, retry_after)
        claims.requeue(conn, message.delivery_id, utcnow() + timedelta(seconds=delay),
                       f"attempt {message.attempt}: {detail or code}; retry in {delay:.1f} s")
        return 0

    def lookup_done(self, message: Message, row: ClaimedRow,
                    future: Future[LookupResult]) -> None:
        """Record what the provider knew of a send whose outcome was lost."""
        try:
            found = future.result()
        except Exception:
            log.warning("lookup of delivery %s failed; it is retried when its lease ends",
                        row.id, exc_info=True)
            return
        counted = int(row.id in self._counted_unknown)
        self._counted_unknown.discard(row.id)
        with self.db.begin() as conn:
            if found.found:
                self.report.reconciled_found += 1
                claims.set_provider_ref(conn, [{"id": row.id, "ref": found.provider_ref,
                                                "units": None}])
                advance(conn, [Transition(found.state or "sent", row.id, found.provider_ref,
                                          code=found.code, detail="found by lookup")],
                        actor="engine")
                done = 1 - counted
            else:
                self.report.reconciled_missing += 1
                done = self._retry(conn, message, None, "the provider never got it",
                                   None) - counted
        if self.progress and done:
            self.progress(done)
