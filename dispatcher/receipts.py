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
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select

from channels.base import InboundMessage, Receipt
from dispatcher import optouts
from dispatcher.errors import DispatcherError
from dispatcher.phones import InvalidPhone
from dispatcher.tables import deliveries
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
    report = ReceiptReport(received=len(receipts))
    if not receipts:
        return report
    with engine.begin() as conn:
        for receipt in receipts:
            changed = advance(conn, [_transition(receipt)], actor=ACTOR)
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
        log.debug("reply on %s from %s is not an opt-out", channel_name, _masked(message.address))
        return False
    word = message.body.strip()
    try:
        added = optouts.add(engine, message.address, channel=channel_name, source="reply",
                            reason=f'replied "{word}"', region=region)
    except (InvalidPhone, DispatcherError) as exc:
        log.warning("opt-out reply %r on %s from an unusable address: %s", word,
                    channel_name, exc)
        return False
    log.info("opt-out on %s from %s (replied %r)%s", channel_name, _masked(message.address),
             word, "" if added else ", already recorded")
    return added


def _masked(address: str) -> str:
    """A phone number with its middle digits hidden, for logs: +86138****0001."""
    head, tail = (6, 4) if len(address) >= 12 else (2, 2)
    hidden = len(address) - head - tail
    return address[:head] + "*" * hidden + address[-tail:] if hidden > 0 else address
