"""The engine's row operations: claim with a lease, requeue, re-lease expired leases.

A row is marked ``sending`` with a lease (and committed: SQLite runs with
synchronous=FULL) before its provider call. A row still ``sending`` after its lease
(crash, kill -9, a lost response) is re-leased by exactly one engine, which asks the
provider (``lookup``) before anything is sent again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)

from dispatcher.storage.db import as_utc, utcnow
from dispatcher.storage.tables import deliveries, delivery_events, runs

SENDABLE_RUN = "planned"  # runs.status of runs the engine sends


class Scope(NamedTuple):
    """One task's share of the work (Celery executor): a run's rows on one channel with
    ids from ``first_id`` to ``last_id``. The local executor works unscoped."""

    run_id: int
    channel: str
    first_id: int
    last_id: int


class ClaimedRow(NamedTuple):
    id: int
    run_id: int
    channel: str
    placement: int
    target: str
    attempts: int
    attempt_started_at: datetime
    contact_id: int | None = None


_RETURNED = (deliveries.c.id, deliveries.c.run_id, deliveries.c.channel,
             deliveries.c.placement, deliveries.c.target, deliveries.c.attempts,
             deliveries.c.attempt_started_at, deliveries.c.contact_id)


def pick_locked(conn: Connection, ids: Select[tuple[int]]) -> Select[tuple[int]]:
    """The ids ``ids`` selects (with its LIMIT), for an ``UPDATE ... WHERE id IN``.

    On PostgreSQL they are locked with ``FOR UPDATE SKIP LOCKED`` (concurrent claimers
    take different rows) inside a ``MATERIALIZED`` CTE, so they are picked once: as a
    plain ``IN`` subquery, the planner may run it again for every row of a semi join,
    and each run skips the rows already updated, so the LIMIT was not kept.
    """
    if conn.dialect.name != "postgresql":
        return ids
    picked = ids.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
    return select(picked.c[0])


def sendable_runs(conn: Connection) -> list[int]:
    return list(conn.execute(select(runs.c.id).where(runs.c.status == SENDABLE_RUN)
                             .order_by(runs.c.id)).scalars())


def claim(conn: Connection, run_id: int, channel: str, limit: int,
          lease: timedelta, scope: Scope | None = None) -> list[ClaimedRow]:
    """Mark up to ``limit`` due planned rows of one run and channel (within ``scope``) as
    sending, leased."""
    now = utcnow()
    due = (select(deliveries.c.id)
           .where(deliveries.c.run_id == run_id, deliveries.c.status == "planned",
                  deliveries.c.channel == channel,
                  or_(deliveries.c.next_attempt_at.is_(None),
                      deliveries.c.next_attempt_at <= now), *_within(scope))
           .order_by(deliveries.c.id).limit(limit))
    statement = (update(deliveries)
                 .where(deliveries.c.id.in_(pick_locked(conn, due)),
                        deliveries.c.status == "planned")
                 .values(status="sending", attempts=deliveries.c.attempts + 1,
                         attempt_started_at=now, lease_until=now + lease, updated_at=now)
                 .returning(*_RETURNED))
    rows = [_claimed(r) for r in conn.execute(statement).all()]
    _events(conn, rows, "sending", "engine", now)
    return sorted(rows)


def release_expired(conn: Connection, limit: int, lease: timedelta,
                    channels: list[str], scope: Scope | None = None) -> list[ClaimedRow]:
    """Take over up to ``limit`` rows of ``channels`` (within ``scope``) whose lease ran
    out, to reconcile."""
    now = utcnow()
    expired = (select(deliveries.c.id)
               .where(deliveries.c.status == "sending", deliveries.c.lease_until < now,
                      deliveries.c.channel.in_(channels), *_within(scope))
               .order_by(deliveries.c.id).limit(limit))
    statement = (update(deliveries)
                 .where(deliveries.c.id.in_(pick_locked(conn, expired)),
                        deliveries.c.status == "sending", deliveries.c.lease_until < now)
                 .values(lease_until=now + lease, updated_at=now)
                 .returning(*_RETURNED))
    return sorted(_claimed(r) for r in conn.execute(statement).all())


def requeue(conn: Connection, row_id: int, at: datetime, detail: str) -> bool:
    """Back to planned, to be sent again from ``at`` (only a row we still hold)."""
    now = utcnow()
    done = conn.execute(update(deliveries)
                        .where(deliveries.c.id == row_id, deliveries.c.status == "sending")
                        .values(status="planned", next_attempt_at=at, lease_until=None,
                                updated_at=now, detail=detail)
                        .returning(deliveries.c.run_id)).first()
    if done is not None:
        conn.execute(insert(delivery_events).values(
            delivery_id=row_id, run_id=done.run_id, at=now, actor="engine", event="retry",
            detail=detail))
    return done is not None


def expire_lease(conn: Connection, row_id: int, at: datetime, detail: str) -> None:
    """The outcome is unknown: keep the row sending, due for a lookup from ``at``."""
    conn.execute(update(deliveries)
                 .where(deliveries.c.id == row_id, deliveries.c.status == "sending")
                 .values(lease_until=at, detail=detail, updated_at=utcnow()))


def set_provider_ref(conn: Connection, params: list[dict[str, Any]]) -> None:
    """Remember provider refs (``{"id", "ref", "units"}``) even when a receipt got there
    first, and what else the provider answered (``"data"``, optional)."""
    if params:
        conn.execute(update(deliveries)
                     .where(deliveries.c.id == bindparam("row"),
                            deliveries.c.provider_ref.is_(None))
                     .values(provider_ref=bindparam("ref"), units=bindparam("cost")),
                     [{"row": p["id"], "ref": p["ref"], "cost": p["units"]} for p in params])
    with_data = [{"row": p["id"], "data": p["data"]} for p in params if p.get("data")]
    if with_data:
        conn.execute(update(deliveries).where(deliveries.c.id == bindparam("row"))
                     .values(provider_data=bindparam("data")), with_data)


def open_rows(conn: Connection, horizon: datetime, run_ids: list[int],
              channels: list[str], scope: Scope | None = None) -> int:
    """Rows of these runs on ``channels`` (within ``scope``) that are, or become within
    ``horizon``, the engine's work."""
    pending = and_(deliveries.c.status == "planned",
                   or_(deliveries.c.next_attempt_at.is_(None),
                       deliveries.c.next_attempt_at <= horizon))
    leased = and_(deliveries.c.status == "sending", deliveries.c.lease_until <= horizon)
    query = (select(deliveries.c.id).join(runs, runs.c.id == deliveries.c.run_id)
             .where(runs.c.status == SENDABLE_RUN, runs.c.id.in_(run_ids),
                    deliveries.c.channel.in_(channels), or_(pending, leased),
                    *_within(scope)).limit(1))
    return len(conn.execute(query).all())


def count_open(conn: Connection) -> int:
    """Rows of sendable runs not finished yet (planned or sending): progress totals."""
    query = (select(func.count()).select_from(deliveries)
             .join(runs, runs.c.id == deliveries.c.run_id)
             .where(runs.c.status == SENDABLE_RUN,
                    deliveries.c.status.in_(("planned", "sending"))))
    return int(conn.execute(query).scalar_one())


def next_work_at(conn: Connection, scope: Scope) -> datetime | None:
    """When the rows of ``scope`` are next the engine's work: now for a due planned row,
    a retry's time, or when a lease runs out; None when every row is finished."""
    now = utcnow()
    in_scope = [deliveries.c.run_id == scope.run_id, deliveries.c.channel == scope.channel,
                *_within(scope)]
    planned = conn.execute(select(func.min(func.coalesce(deliveries.c.next_attempt_at, now)))
                           .where(deliveries.c.status == "planned", *in_scope)).scalar()
    leased = conn.execute(select(func.min(deliveries.c.lease_until))
                          .where(deliveries.c.status == "sending", *in_scope)).scalar()
    times = [as_utc(t) for t in (planned, leased) if t is not None]
    return max(min(times), now) if times else None


def _within(scope: Scope | None) -> list[ColumnElement[bool]]:
    if scope is None:
        return []
    return [deliveries.c.id.between(scope.first_id, scope.last_id)]


def _claimed(row: Any) -> ClaimedRow:
    return ClaimedRow(row.id, row.run_id, row.channel, row.placement, row.target,
                      row.attempts, as_utc(row.attempt_started_at), row.contact_id)


def _events(conn: Connection, rows: list[ClaimedRow], event: str, actor: str,
            at: datetime) -> None:
    if rows:
        conn.execute(insert(delivery_events), [
            {"delivery_id": r.id, "run_id": r.run_id, "at": at, "actor": actor,
             "event": event, "detail": f"attempt {r.attempts}"} for r in rows])
