"""The Celery executor's blocks of work, kept in the database (table ``send_tasks``).

A sendable run's rows are split, per channel, into blocks of consecutive ids; a task
names one block (run, channel, id range), never a phone number. A block is ``idle``
(with ``due_at``: when it next has work, null when none), ``queued`` (a task for it is
in the broker) or ``running`` (a worker holds it and beats its heart). Everything the
broker holds can be derived again from this table and the rows, so a lost worker or a
broker restart loses nothing: stale blocks go back to idle and are queued again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, and_, func, insert, select, update

from dispatcher.delivery.claims import SENDABLE_RUN, Scope, pick_locked
from dispatcher.storage.db import utcnow
from dispatcher.storage.tables import deliveries, runs, send_tasks


class Block(NamedTuple):
    id: int
    run_id: int
    channel: str
    first_id: int
    last_id: int

    @property
    def scope(self) -> Scope:
        return Scope(self.run_id, self.channel, self.first_id, self.last_id)


_BLOCK = (send_tasks.c.id, send_tasks.c.run_id, send_tasks.c.channel, send_tasks.c.first_id,
          send_tasks.c.last_id)


def add_blocks(conn: Connection, rows_per_block: int) -> int:
    """Split every sendable run that has no blocks yet; return the blocks added."""
    has_blocks = select(send_tasks.c.id).where(send_tasks.c.run_id == runs.c.id).exists()
    new_runs = conn.execute(select(runs.c.id).where(runs.c.status == SENDABLE_RUN,
                                                    ~has_blocks)).scalars().all()
    now = utcnow()
    added = 0
    for run_id in new_runs:
        spans = conn.execute(select(deliveries.c.channel, func.min(deliveries.c.id),
                                    func.max(deliveries.c.id))
                             .where(deliveries.c.run_id == run_id)
                             .group_by(deliveries.c.channel)).all()
        blocks = [{"run_id": run_id, "channel": channel, "first_id": lo,
                   "last_id": min(lo + rows_per_block - 1, last), "state": "idle",
                   "due_at": now}
                  for channel, first, last in spans
                  for lo in range(first, last + 1, rows_per_block)]
        if blocks:
            conn.execute(insert(send_tasks), blocks)
            added += len(blocks)
    return added


def take_due(conn: Connection, limit: int, channel: str, run_ids: list[int]) -> list[Block]:
    """Mark up to ``limit`` idle blocks of ``channel`` in ``run_ids`` whose work is due
    as queued, oldest due first, and return them (to be sent to the broker)."""
    if limit <= 0 or not run_ids:
        return []
    now = utcnow()
    due = (select(send_tasks.c.id)
           .where(send_tasks.c.state == "idle", send_tasks.c.due_at <= now,
                  send_tasks.c.channel == channel, send_tasks.c.run_id.in_(run_ids))
           .order_by(send_tasks.c.due_at, send_tasks.c.id).limit(limit))
    taken = conn.execute(update(send_tasks)
                         .where(send_tasks.c.id.in_(pick_locked(conn, due)),
                                send_tasks.c.state == "idle")
                         .values(state="queued", enqueued_at=now,
                                 enqueued=send_tasks.c.enqueued + 1)
                         .returning(*_BLOCK)).all()
    return sorted(Block(*row) for row in taken)


def unqueue(conn: Connection, block_ids: list[int]) -> None:
    """The broker refused these blocks' tasks: idle again, due now."""
    if block_ids:
        conn.execute(update(send_tasks).where(send_tasks.c.id.in_(block_ids),
                                              send_tasks.c.state == "queued")
                     .values(state="idle", due_at=utcnow()))


def start(conn: Connection, block_id: int, worker: str) -> None:
    """A worker took the block's task (also a task delivered again after a lost worker)."""
    now = utcnow()
    conn.execute(update(send_tasks).where(send_tasks.c.id == block_id)
                 .values(state="running", worker=worker, started_at=now, heartbeat_at=now))


def beat(conn: Connection, block_id: int, worker: str) -> None:
    conn.execute(update(send_tasks).where(send_tasks.c.id == block_id,
                                          send_tasks.c.worker == worker)
                 .values(heartbeat_at=utcnow()))


def finish(conn: Connection, block_id: int, worker: str, due_at: datetime | None,
           done: int) -> None:
    """The task ended: idle until ``due_at`` (its rows' next work), ``done`` rows more."""
    conn.execute(update(send_tasks).where(send_tasks.c.id == block_id,
                                          send_tasks.c.worker == worker)
                 .values(state="idle", due_at=due_at, worker=None, finished_at=utcnow(),
                         sent=send_tasks.c.sent + done))


def recover_stale(conn: Connection, silent_for: timedelta) -> int:
    """Running blocks whose worker stopped beating (killed, machine lost): idle, due now.
    Their rows still ``sending`` are reconciled once their leases run out."""
    now = utcnow()
    return conn.execute(update(send_tasks)
                        .where(send_tasks.c.state == "running",
                               send_tasks.c.heartbeat_at < now - silent_for)
                        .values(state="idle", due_at=now, worker=None)).rowcount


def recover_lost(conn: Connection, queued_for: timedelta) -> int:
    """Queued blocks not started for ``queued_for``: the broker lost their tasks (the
    caller checked that its queue is empty). Idle again, due now."""
    now = utcnow()
    return conn.execute(update(send_tasks)
                        .where(send_tasks.c.state == "queued",
                               send_tasks.c.enqueued_at < now - queued_for)
                        .values(state="idle", due_at=now)).rowcount


def idle_without_work(conn: Connection) -> list[Block]:
    """Idle blocks of sendable runs believed finished: a retry of failed rows or a row
    changed by hand may have given them work again (see :func:`set_due`)."""
    query = (select(*_BLOCK).join(runs, runs.c.id == send_tasks.c.run_id)
             .where(runs.c.status == SENDABLE_RUN, send_tasks.c.state == "idle",
                    send_tasks.c.due_at.is_(None)))
    return [Block(*row) for row in conn.execute(query).all()]


def set_due(conn: Connection, block_id: int, due_at: datetime | None) -> None:
    conn.execute(update(send_tasks).where(send_tasks.c.id == block_id,
                                          send_tasks.c.state == "idle")
                 .values(due_at=due_at))


def count_active(conn: Connection) -> int:
    """Blocks queued or running in sendable runs."""
    query = (select(func.count()).select_from(send_tasks)
             .join(runs, runs.c.id == send_tasks.c.run_id)
             .where(runs.c.status == SENDABLE_RUN,
                    send_tasks.c.state.in_(("queued", "running"))))
    return int(conn.execute(query).scalar_one())


def due_by(conn: Connection, horizon: datetime) -> list[tuple[int, str]]:
    """(run, channel) pairs of sendable runs with an idle block due by ``horizon``."""
    query = (select(send_tasks.c.run_id, send_tasks.c.channel).distinct()
             .join(runs, and_(runs.c.id == send_tasks.c.run_id,
                              runs.c.status == SENDABLE_RUN))
             .where(send_tasks.c.state == "idle", send_tasks.c.due_at <= horizon))
    return [(run, channel) for run, channel in conn.execute(query).all()]
