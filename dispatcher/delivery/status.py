"""What the executor is doing, read from the database alone (``dispatcher status``).

The database is the truth for the Celery executor (see
:mod:`dispatcher.delivery.celery.send_tasks`): the broker only holds copies of queued
blocks, and a worker records the block it holds and beats its heart in ``send_tasks``.
So everything here but the broker's view (which workers answer, the queue's depth) comes
from two tables, and works for either executor.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, or_, select

from dispatcher.delivery.claims import SENDABLE_RUN
from dispatcher.storage.db import as_utc, utcnow
from dispatcher.storage.tables import deliveries, runs, send_tasks

OPEN_STATUSES = ("planned", "sending")


@dataclass(frozen=True)
class RunRows:
    """A sendable run's rows not finished yet."""

    run_id: int
    campaign_id: str
    planned: int
    sending: int


@dataclass(frozen=True)
class RunningBlock:
    """A block a worker holds; its heartbeat's age tells whether the worker still lives
    (the feeder queues the block again once it is silent for ``stale_after``)."""

    worker: str
    block_id: int
    run_id: int
    channel: str
    first_id: int
    last_id: int
    running_seconds: float
    heartbeat_seconds: float


@dataclass(frozen=True)
class ExecutorStatus:
    at: datetime
    open_rows: tuple[RunRows, ...]
    queued: int  # blocks whose task is in the broker (any run: the broker holds them)
    waiting: int  # idle blocks of sendable runs with work due: waiting for a queue slot
    running: tuple[RunningBlock, ...]
    # How long the oldest due work (waiting or queued) has waited; 0.0 when none.
    lag_seconds: float

    @property
    def rows_open(self) -> int:
        return sum(r.planned + r.sending for r in self.open_rows)


def read_status(engine: Engine, now: datetime | None = None) -> ExecutorStatus:
    """The executor's state at ``now`` (default: the current time)."""
    now = now or utcnow()
    with engine.connect() as conn:
        counts = block_counts(conn, now)
        return ExecutorStatus(at=now, open_rows=tuple(_open_rows(conn)),
                              queued=counts["queued"], waiting=counts["waiting"],
                              running=tuple(_running(conn, now)),
                              lag_seconds=lag_seconds(conn, now))


def block_counts(conn: Connection, now: datetime) -> dict[str, int]:
    """The Celery executor's blocks: queued, waiting for a queue slot, running."""
    return {"queued": _count(conn, send_tasks.c.state == "queued"),
            "waiting": _count(conn, _idle_due(now), _of_sendable_run()),
            "running": _count(conn, send_tasks.c.state == "running")}


def _open_rows(conn: Connection) -> list[RunRows]:
    """One grouped query: the outer join keeps a sendable run whose rows are all done
    (it is about to be completed) and groups by (run, status), as the index is built."""
    joined = runs.outerjoin(deliveries, and_(deliveries.c.run_id == runs.c.id,
                                             deliveries.c.status.in_(OPEN_STATUSES)))
    query = (select(runs.c.id, runs.c.campaign_id, deliveries.c.status,
                    func.count(deliveries.c.id))
             .select_from(joined).where(runs.c.status == SENDABLE_RUN)
             .group_by(runs.c.id, runs.c.campaign_id, deliveries.c.status))
    counts: defaultdict[tuple[int, str], dict[str, int]] = defaultdict(dict)
    for run_id, campaign_id, status, count in conn.execute(query).all():
        counts[(run_id, campaign_id)][status] = int(count)
    return [RunRows(run_id, campaign_id, c.get("planned", 0), c.get("sending", 0))
            for (run_id, campaign_id), c in sorted(counts.items())]


def _running(conn: Connection, now: datetime) -> list[RunningBlock]:
    """Every running block, of any run: a paused run's block is still held until its
    worker notices."""
    query = (select(send_tasks).where(send_tasks.c.state == "running")
             .order_by(send_tasks.c.worker, send_tasks.c.id))
    return [RunningBlock(worker=row.worker or "", block_id=row.id, run_id=row.run_id,
                         channel=row.channel, first_id=row.first_id, last_id=row.last_id,
                         running_seconds=_age(now, row.started_at),
                         heartbeat_seconds=_age(now, row.heartbeat_at or row.started_at))
            for row in conn.execute(query).all()]


def lag_seconds(conn: Connection, now: datetime) -> float:
    """A queued block keeps the ``due_at`` it had while idle, so the oldest ``due_at``
    among waiting and queued blocks is when the oldest unserved work became due."""
    query = (select(func.min(send_tasks.c.due_at))
             .where(or_(_idle_due(now), send_tasks.c.state == "queued"), _of_sendable_run()))
    oldest = conn.execute(query).scalar()
    return _age(now, oldest)


def _count(conn: Connection, *where: ColumnElement[bool]) -> int:
    query = select(func.count()).select_from(send_tasks).where(*where)
    return int(conn.execute(query).scalar_one())


def _idle_due(now: datetime) -> ColumnElement[bool]:
    return and_(send_tasks.c.state == "idle", send_tasks.c.due_at <= now)


def _of_sendable_run() -> ColumnElement[bool]:
    sendable = select(runs.c.id).where(runs.c.status == SENDABLE_RUN)
    return send_tasks.c.run_id.in_(sendable.scalar_subquery())


def _age(now: datetime, then: datetime | None) -> float:
    """Seconds from ``then`` to ``now``; 0.0 for no time or one in the future."""
    if then is None:
        return 0.0
    return max((now - as_utc(then)).total_seconds(), 0.0)
