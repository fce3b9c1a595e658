"""Applying what providers report back: delivery receipts and replies.

The web app's hooks (and any poller) hand verified, already mapped receipts to
:func:`apply_receipts`, which moves rows through :func:`dispatcher.transitions.advance`
only: states move forward, a repeated or late receipt changes nothing and logs no event.
Receipts for rows we do not know (another deployment's messages on the same account, a
row already purged) are counted and logged, not errors: the provider must still get 200.

:func:`record_inbound` turns a STOP / TD / 退订 reply into an opt-out of the channel the
reply came in on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from queue import Empty, Queue

from sqlalchemy import Connection, Engine, select

from channels.base import InboundMessage, Receipt
from dispatcher import optouts
from dispatcher.db import insert_ignoring_conflicts, utcnow
from dispatcher.errors import DispatcherError
from dispatcher.phones import InvalidPhone, mask
from dispatcher.tables import deliveries
from dispatcher.tables import optouts as optouts_table
from dispatcher.transitions import Transition, advance

log = logging.getLogger(__name__)

ACTOR = "webhook"


@dataclass
class ReceiptReport:
    """What became of a batch of receipts. ``received = applied + unchanged + unmatched``."""

    received: int = 0
    applied: int = 0  # moved a row forward (one event each)
    unchanged: int = 0  # row found, already at that state or further on (repeat, late)
    unmatched: int = 0  # no row with that delivery id or provider ref
    delivery_ids: list[int] = field(default_factory=list)  # the rows that moved


def apply_receipts(engine: Engine, receipts: Sequence[Receipt]) -> ReceiptReport:
    """Move each receipt's row forward, in one transaction; see :class:`ReceiptReport`.

    A receipt carrying ``delivery_id`` (from the callback URL) finds its row even before
    the send's provider ref was recorded (row still ``sending``), and records the ref.
    """
    if not receipts:
        return ReceiptReport()
    with engine.begin() as conn:
        return _apply_in(conn, receipts)


def _apply_in(conn: Connection, receipts: Sequence[Receipt]) -> ReceiptReport:
    report = ReceiptReport(received=len(receipts))
    for receipt in receipts:
        changed = advance(conn, [_transition(receipt)], actor=ACTOR)
        if changed and receipt.opt_out:
            _opt_out_rows(conn, changed, f"provider error {receipt.code}")
        if changed:
            report.applied += 1
            report.delivery_ids.extend(changed)
        elif _row_exists(conn, receipt):
            report.unchanged += 1
        else:
            report.unmatched += 1
            log.info("receipt %s (%s) matches no delivery row (delivery id %s); ignored",
                     receipt.provider_ref, receipt.state, receipt.delivery_id)
    return report


class ReceiptBatcher:
    """Applies receipts from many concurrent callbacks in shared transactions.

    A provider posts one callback per status change (two or more per SMS: millions for
    a drive). Committing each in its own transaction, with SQLite's synchronous=FULL,
    caps receipts at a few hundred a second. Here each request still waits until its
    receipts are committed before answering 200 (nothing is acknowledged that could be
    lost), but the requests waiting at the same moment share one commit.
    """

    def __init__(self, engine: Engine, max_batch: int = 500) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: Queue[tuple[Sequence[Receipt], Future[ReceiptReport]]] = Queue()
        self._thread = threading.Thread(target=self._run, name="receipts", daemon=True)
        self._thread.start()

    def apply(self, receipts: Sequence[Receipt]) -> ReceiptReport:
        """Apply ``receipts``; returns once they are committed (blocks the caller)."""
        done: Future[ReceiptReport] = Future()
        self._queue.put((receipts, done))
        return done.result()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except Empty:
                    break
            try:
                with self.engine.begin() as conn:
                    reports = [_apply_in(conn, receipts) for receipts, _ in batch]
            except Exception as exc:  # every waiting request answers 500; provider retries
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for (_, done), report in zip(batch, reports, strict=True):
                done.set_result(report)


def _opt_out_rows(conn: Connection, delivery_ids: list[int], reason: str) -> None:
    """The provider says these rows' recipients opted out: remember it for their channel."""
    rows = conn.execute(select(deliveries.c.channel, deliveries.c.target)
                        .where(deliveries.c.id.in_(delivery_ids))).all()
    statement = insert_ignoring_conflicts(optouts_table, conn.engine)
    for channel, target in rows:
        conn.execute(statement.values(channel=channel, address=target, source="provider",
                                      reason=reason, created_at=utcnow()))
        log.info("opt-out on %s from %s: %s", channel, mask(target), reason)


def _transition(receipt: Receipt) -> Transition:
    return Transition(state=receipt.state, delivery_id=receipt.delivery_id,
                      provider_ref=receipt.provider_ref, code=receipt.code,
                      detail=receipt.detail)


def _row_exists(conn: Connection, receipt: Receipt) -> bool:
    """Whether the row :func:`advance` looked for exists (same matching rule)."""
    query = select(deliveries.c.id).limit(1)
    if receipt.delivery_id is not None:
        query = query.where(deliveries.c.id == receipt.delivery_id)
    else:
        query = query.where(deliveries.c.provider_ref == receipt.provider_ref)
    return conn.execute(query).first() is not None


def record_inbound(engine: Engine, channel_name: str, message: InboundMessage, *,
                   region: str = "CN") -> bool:
    """Record an opt-out of ``channel_name`` when the reply asks to stop.

    True when a new opt-out was recorded; False for an ordinary reply, a number already
    opted out, or a sender address that is not a valid phone number (logged).
    """
    if not message.opt_out:
        log.debug("reply on %s from %s is not an opt-out", channel_name, mask(message.address))
        return False
    word = message.body.strip()
    try:
        added = optouts.add(engine, message.address, channel=channel_name, source="reply",
                            reason=f'replied "{word}"', region=region)
    except (InvalidPhone, DispatcherError) as exc:
        log.warning("opt-out reply %r on %s from an unusable address: %s", word,
                    channel_name, exc)
        return False
    log.info("opt-out on %s from %s (replied %r)%s", channel_name, mask(message.address),
             word, "" if added else ", already recorded")
    return added
