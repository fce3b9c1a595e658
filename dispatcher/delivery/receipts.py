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
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from queue import Empty, Queue
from typing import NamedTuple

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError

from channels.base import InboundMessage, MalformedRequest, Placement, Receipt
from channels.delivery_ids import MAX_DELIVERY_ID, shown
from dispatcher.audience import optouts
from dispatcher.audience.phones import mask
from dispatcher.delivery.run_context import RunPlacements
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.errors import DispatcherError, InvalidPhone
from dispatcher.storage.db import insert_ignoring_conflicts, utcnow
from dispatcher.storage.tables import deliveries
from dispatcher.storage.tables import optouts as optouts_table

log = logging.getLogger(__name__)

ACTOR = "webhook"
MAX_REF_CHARS = deliveries.c.provider_ref.type.length  # type: ignore[attr-defined]
MAX_CODE_CHARS = deliveries.c.error_code.type.length  # type: ignore[attr-defined]
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class ReceiptReport:
    """What became of a batch of receipts. ``received = applied + unchanged + unmatched``."""

    received: int = 0
    applied: int = 0  # moved a row forward (one event each)
    unchanged: int = 0  # row found, already at that state or further on (repeat, late)
    unmatched: int = 0  # no row with that delivery id or provider ref
    delivery_ids: list[int] = field(default_factory=list)  # the rows that moved


class Origin(NamedTuple):
    """Whose callback the receipts came in: they move only rows of ``channel``, and a
    receipt with a ``signer`` only rows whose placement ``account_of`` names that signer."""

    channel: str | None = None
    account_of: Callable[[Placement], str | None] | None = None


ANY_ORIGIN = Origin()  # a trusted caller (a poller, a test): any channel's rows


def apply_receipts(engine: Engine, receipts: Sequence[Receipt],
                   origin: Origin = ANY_ORIGIN) -> ReceiptReport:
    """Move each receipt's row forward, in one transaction; see :class:`ReceiptReport`.

    A receipt carrying ``delivery_id`` (from the callback URL) finds its row even before
    the send's provider ref was recorded (row still ``sending``), and records the ref.
    Only rows of the receipts' :class:`Origin` match (the callback's channel verified it).
    MalformedRequest, before anything is written, for a value no row can hold.
    """
    check_receipts(receipts)
    if not receipts:
        return ReceiptReport()
    with engine.begin() as conn:
        return _apply_in(conn, receipts, origin, RunPlacements(engine, ""))


def check_receipts(receipts: Sequence[Receipt]) -> None:
    """MalformedRequest for the first receipt with a value the database cannot store: a
    delivery id outside 1..2^63-1, text longer than its column, a NUL character or a lone
    surrogate (which PostgreSQL or the UTF-8 encoder refuse).

    Checked before a receipt joins a shared transaction, where its failure would fail
    every other request's receipts too.
    """
    for receipt in receipts:
        if not _id_in_range(receipt.delivery_id):
            raise MalformedRequest(f"delivery id {_number(receipt.delivery_id)} is out of "
                                   f"range; ids run from 1 to {MAX_DELIVERY_ID}")
        for name, value, limit in (("provider ref", receipt.provider_ref, MAX_REF_CHARS),
                                   ("error code", receipt.code, MAX_CODE_CHARS),
                                   ("detail", receipt.detail, None)):
            _check_text(name, value, limit)


def _id_in_range(value: int | None) -> bool:
    return value is None or (type(value) is int and 1 <= value <= MAX_DELIVERY_ID)


def _number(value: object) -> str:
    """``value`` for a message; ``str`` of an int of 5,000 digits raises ValueError."""
    if isinstance(value, int) and abs(value) >= 10**40:
        return f"of {len(hex(value)) - 2} hex digits"
    text = repr(value)
    return text if len(text) <= 40 else shown(text)


def _check_text(name: str, value: str | None, limit: int | None) -> None:
    if value is None:
        return
    if limit is not None and len(value) > limit:
        raise MalformedRequest(f"the receipt's {name} is {len(value)} characters, more than "
                               f"{limit}: {shown(value)}")
    if "\x00" in value or _SURROGATE.search(value):
        raise MalformedRequest(f"the receipt's {name} holds a NUL character or an unpaired "
                               f"surrogate, which cannot be stored: {shown(value)}")


def _apply_in(conn: Connection, receipts: Sequence[Receipt], origin: Origin,
              placements: RunPlacements) -> ReceiptReport:
    report = ReceiptReport(received=len(receipts))
    for receipt in receipts:
        if not _signer_owns(conn, receipt, origin, placements):
            report.unmatched += 1
            log.warning("receipt for delivery %s signed by %r, which does not send that row; "
                        "ignored", receipt.delivery_id, receipt.signer)
            continue
        changed = advance(conn, [_transition(receipt, origin.channel)], actor=ACTOR)
        if changed and receipt.opt_out:
            _opt_out_rows(conn, changed, f"provider error {receipt.code}")
        if changed:
            report.applied += 1
            report.delivery_ids.extend(changed)
        elif _row_exists(conn, receipt, origin.channel):
            report.unchanged += 1
        else:
            report.unmatched += 1
            log.info("receipt %s (%s) matches no delivery row (delivery id %s); ignored",
                     receipt.provider_ref, receipt.state, receipt.delivery_id)
    return report


Waiting = tuple[Sequence[Receipt], Origin, Future[ReceiptReport]]  # a request, its answer


class ReceiptBatcher:
    """Applies receipts from many concurrent callbacks in shared transactions.

    A provider posts one callback per status change (two or more per SMS: millions for
    a drive). Committing each in its own transaction, with SQLite's synchronous=FULL,
    caps receipts at a few hundred a second. Here each request still waits until its
    receipts are committed before answering 200 (nothing is acknowledged that could be
    lost), but the requests waiting at the same moment share one commit.

    One request must not fail the others: receipts are checked before they join a batch
    (:func:`check_receipts`), and when a shared transaction fails all the same (nothing
    of it was committed), each request's receipts are applied again alone, so only the
    request at fault gets the error.
    """

    def __init__(self, engine: Engine, max_batch: int = 500) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.placements = RunPlacements(engine, "")  # used by the batch thread only
        self._queue: Queue[Waiting] = Queue()
        self._thread = threading.Thread(target=self._run, name="receipts", daemon=True)
        self._thread.start()

    def apply(self, receipts: Sequence[Receipt], origin: Origin = ANY_ORIGIN
              ) -> ReceiptReport:
        """Apply ``receipts``; returns once they are committed (blocks the caller).

        MalformedRequest for a value no row can hold (nothing written); any other error of
        the database is raised to this caller only.
        """
        check_receipts(receipts)
        done: Future[ReceiptReport] = Future()
        self._queue.put((receipts, origin, done))
        return done.result()

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            try:
                with self.engine.begin() as conn:
                    reports = [_apply_in(conn, receipts, origin, self.placements)
                               for receipts, origin, _ in batch]
            except Exception as exc:
                if len(batch) == 1 or not _caused_by_a_request(exc):
                    for _, _, done in batch:  # 500: the provider tries again later
                        done.set_exception(_refusal(exc))
                    continue
                log.warning("a shared commit of %d receipt requests failed (%s); applying "
                            "each request alone", len(batch), type(exc).__name__)
                for receipts, origin, done in batch:
                    self._apply_alone(receipts, origin, done)
                continue
            for (_, _, done), report in zip(batch, reports, strict=True):
                done.set_result(report)

    def _next_batch(self) -> list[Waiting]:
        """The oldest waiting request and those queued behind it, up to ``max_batch``."""
        batch = [self._queue.get()]
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except Empty:
                break
        return batch

    def _apply_alone(self, receipts: Sequence[Receipt], origin: Origin,
                     done: Future[ReceiptReport]) -> None:
        try:
            with self.engine.begin() as conn:
                report = _apply_in(conn, receipts, origin, self.placements)
        except Exception as exc:  # this request's alone: it answers 400 or 500
            done.set_exception(_refusal(exc))
            return
        done.set_result(report)


def _caused_by_a_request(exc: Exception) -> bool:
    """Whether one request's receipts may have failed the shared transaction. Not when
    the database is unreachable, locked or lost the connection: applying each request
    alone would then only wait once per request (up to SQLite's busy timeout each)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return False
    return not (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def _refusal(exc: Exception) -> Exception:
    """A value the database refused (out of range, not storable) as MalformedRequest, so
    the request answers 400; other errors (database down, locked) stay as they are: 500,
    and the provider tries again later."""
    if isinstance(exc, DataError | OverflowError | UnicodeEncodeError):
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]  # no parameters
        log.warning("receipts refused by the database (%s): %s", type(exc).__name__, reason)
        return MalformedRequest("a value of this request is out of range for the database "
                                f"({type(exc).__name__})")
    return exc


def _opt_out_rows(conn: Connection, delivery_ids: list[int], reason: str) -> None:
    """The provider says these rows' recipients opted out: remember it for their channel."""
    rows = conn.execute(select(deliveries.c.channel, deliveries.c.target)
                        .where(deliveries.c.id.in_(delivery_ids))).all()
    statement = insert_ignoring_conflicts(optouts_table, conn.engine)
    for channel, target in rows:
        conn.execute(statement.values(channel=channel, address=target, source="provider",
                                      reason=reason, created_at=utcnow()))
        log.info("opt-out on %s from %s: %s", channel, mask(target), reason)


def _transition(receipt: Receipt, channel: str | None) -> Transition:
    return Transition(state=receipt.state, delivery_id=receipt.delivery_id,
                      provider_ref=receipt.provider_ref, code=receipt.code,
                      detail=receipt.detail, channel=channel)


def _signer_owns(conn: Connection, receipt: Receipt, origin: Origin,
                 placements: RunPlacements) -> bool:
    """Whether the account that signed ``receipt`` sends its row (True when the receipt
    names no signer, the channel has one account, or no such row exists)."""
    if receipt.signer is None or origin.account_of is None or receipt.delivery_id is None:
        return True
    row = conn.execute(select(deliveries.c.run_id, deliveries.c.placement)
                       .where(deliveries.c.id == receipt.delivery_id)).first()
    if row is None:
        return True
    return origin.account_of(placements.placement(row.run_id, row.placement)) == receipt.signer


def _row_exists(conn: Connection, receipt: Receipt, channel: str | None) -> bool:
    """Whether the row :func:`advance` looked for exists (same matching rule)."""
    query = select(deliveries.c.id).limit(1)
    if channel is not None:
        query = query.where(deliveries.c.channel == channel)
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
