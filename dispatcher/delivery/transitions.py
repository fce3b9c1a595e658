"""Moving delivery rows between states: forward only, idempotent, each change logged.

Every writer (the engine recording send results, the web app applying receipts, an
operator cancelling) goes through :func:`advance`, so the rule lives in one place: a row
only moves to a state of higher rank (``channels.base.STATE_RANK``), a late ``sent``
never overwrites ``delivered``, a repeated receipt changes nothing, and every change
appends one ``delivery_events`` row with time, actor and detail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from sqlalchemy import Connection, case, insert, literal, update

from channels.base import STATE_RANK
from dispatcher.storage.db import utcnow
from dispatcher.storage.tables import deliveries, delivery_events

_RANK_OF_STATUS = case(
    {state: rank for state, rank in STATE_RANK.items()}, value=deliveries.c.status, else_=3)


class Transition(NamedTuple):
    """Move the row ``delivery_id`` (or the row whose ``provider_ref`` matches) to ``state``.

    ``channel``, when given, limits the match to that channel's rows: a provider's signed
    callback speaks for its own channel's messages and no other's.
    """

    state: str
    delivery_id: int | None = None
    provider_ref: str | None = None
    code: str | None = None
    detail: str | None = None
    units: int | None = None
    channel: str | None = None


def advance(conn: Connection, transitions: Iterable[Transition], actor: str) -> list[int]:
    """Apply the transitions that move a row forward; return the ids of the rows changed.

    One statement per transition inside the caller's transaction: ``RETURNING`` tells
    which rows really changed, so only those get an event.
    """
    now = utcnow()
    changed: list[int] = []
    events: list[dict[str, Any]] = []
    for t in transitions:
        statement = (
            update(deliveries)
            .where(literal(STATE_RANK[t.state]) > _RANK_OF_STATUS)
            .values(status=t.state, updated_at=now, lease_until=None,
                    **_optional(t))
            .returning(deliveries.c.id, deliveries.c.run_id))
        if t.delivery_id is not None:
            statement = statement.where(deliveries.c.id == t.delivery_id)
        elif t.provider_ref is not None:
            statement = statement.where(deliveries.c.provider_ref == t.provider_ref)
        else:
            raise ValueError("a transition needs a delivery_id or a provider_ref")
        if t.channel is not None:
            statement = statement.where(deliveries.c.channel == t.channel)
        for row_id, run_id in conn.execute(statement).all():
            changed.append(row_id)
            events.append({"delivery_id": row_id, "run_id": run_id, "at": now, "actor": actor,
                           "event": t.state, "detail": _event_detail(t)})
    if events:
        conn.execute(insert(delivery_events), events)
    return changed


def advance_all(conn: Connection, state: str, refs: Mapping[int, str | None], actor: str
                ) -> list[int]:
    """Move the rows ``refs`` (id: provider ref) to ``state`` in one statement, forward
    only, with one event each: a batch call's thousand accepted rows. The refs and units
    are stored first (``claims.set_provider_ref``); here they only go in the events."""
    if not refs:
        return []
    now = utcnow()
    changed = conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(list(refs)), literal(STATE_RANK[state]) > _RANK_OF_STATUS)
        .values(status=state, updated_at=now, lease_until=None)
        .returning(deliveries.c.id, deliveries.c.run_id)).all()
    if changed:
        conn.execute(insert(delivery_events), [
            {"delivery_id": row_id, "run_id": run_id, "at": now, "actor": actor,
             "event": state, "detail": f"ref {refs[row_id]}" if refs[row_id] else None}
            for row_id, run_id in changed])
    return [row_id for row_id, _run in changed]


def _optional(t: Transition) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if t.provider_ref is not None and t.delivery_id is not None:
        values["provider_ref"] = t.provider_ref
    if t.code is not None:
        values["error_code"] = t.code
    if t.detail is not None:
        values["detail"] = t.detail
    if t.units is not None:
        values["units"] = t.units
    return values


def _event_detail(t: Transition) -> str | None:
    parts = [p for p in (t.provider_ref and f"ref {t.provider_ref}",
                         t.code and f"code {t.code}", t.detail) if p]
    return "; ".join(parts) or None
