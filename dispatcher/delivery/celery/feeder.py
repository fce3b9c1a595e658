"""The Celery executor's feeder: keeps the broker's queue filled with due blocks of work.

It runs in ``dispatcher run`` (in the scheduler's leader only), reading ``send_tasks``:
each pass splits newly planned runs into blocks, returns the blocks of silent workers
and of tasks the broker lost to idle, and queues due blocks up to ``queued_tasks``
ahead of the workers, so the queue stays short and the database stays the truth.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine

from channels.base import Sender
from dispatcher.delivery import claims
from dispatcher.delivery.celery import send_tasks
from dispatcher.delivery.celery.send_tasks import Block
from dispatcher.delivery.run_context import RunPlacements
from dispatcher.storage.db import utcnow

log = logging.getLogger(__name__)


class TaskQueue(Protocol):
    """Where tasks go: the broker's queue (see :mod:`dispatcher.delivery.celery.app`)."""

    def send(self, block: Block) -> None: ...

    def depth(self) -> int | None:
        """Messages waiting in the queue; None when the broker cannot be asked."""
        ...


@dataclass(frozen=True)
class FeederOptions:
    rows_per_task: int = 1000
    queued_tasks: int = 16  # tasks queued ahead of the workers
    poll_seconds: float = 1.0
    stale_after: float = 30.0  # a running block without a heartbeat this long: worker gone
    lost_after: float = 60.0  # queued this long while the broker's queue is empty: lost
    sweep_seconds: float = 60.0  # how often finished blocks are checked for new work
    # With until_idle: work due within this many seconds is waited for (a retry's
    # backoff, the lease of a killed worker's rows running out).
    idle_horizon_seconds: float = 90.0
    respect_send_windows: bool = True


class TaskFeeder:
    def __init__(self, engine: Engine, senders: Mapping[str, Sender], public_url: str,
                 queue: TaskQueue, options: FeederOptions | None = None) -> None:
        self.db = engine
        self.senders = senders
        self.queue = queue
        self.options = options or FeederOptions()
        self.placements = RunPlacements(engine, public_url)
        self.queued = 0  # tasks this feeder sent to the broker
        self._swept_at = 0.0

    def run(self, stop: threading.Event, until_idle: bool = False,
            leading: Callable[[], bool] = lambda: True) -> None:
        """Feed every ``poll_seconds`` while ``leading()``, until ``stop`` is set (or, with
        ``until_idle``, until no block is queued, running or due)."""
        while not stop.is_set():
            if leading():
                try:
                    self.feed_once()
                except Exception:  # the database or broker is down: try again next pass
                    log.exception("feeder: pass failed; trying again")
                if until_idle and self.idle():
                    return
            stop.wait(self.options.poll_seconds)

    def feed_once(self) -> int:
        """One pass; returns the tasks sent to the broker."""
        with self.db.begin() as conn:
            send_tasks.add_blocks(conn, self.options.rows_per_task)
            stale = send_tasks.recover_stale(conn, timedelta(seconds=self.options.stale_after))
        if stale:
            log.warning("feeder: %d block(s) of silent workers queued again", stale)
        self._recover_lost()
        self._sweep_when_due()
        sent = sum(self._queue_due(name, sender) for name, sender in self.senders.items())
        self.placements.complete_finished_runs()
        return sent

    def idle(self) -> bool:
        """Nothing queued or running, and no block with work due within the horizon on a
        channel this feeder queues, in a run whose send window opens by then."""
        now = utcnow()
        horizon = now + timedelta(seconds=self.options.idle_horizon_seconds)
        with self.db.connect() as conn:
            if send_tasks.count_active(conn):
                return False
            pairs = send_tasks.due_by(conn, horizon)
        return not any(self._opens_by(run, channel, horizon) for run, channel in pairs)

    def _opens_by(self, run_id: int, channel: str, horizon: datetime) -> bool:
        sender = self.senders.get(channel)
        if sender is None:
            return False  # not this feeder's channel: its rows wait
        if not self.options.respect_send_windows \
                or not sender.capabilities.waits_for_send_window:
            return True
        return self.placements.opens_by(run_id, horizon, utcnow())

    def _queue_due(self, name: str, sender: Sender) -> int:
        with self.db.begin() as conn:
            room = self.options.queued_tasks - send_tasks.count_active(conn)
            run_ids = [run for run in claims.sendable_runs(conn)
                       if self.placements.sender_may_send(
                           sender, run, utcnow(), self.options.respect_send_windows)]
            blocks = send_tasks.take_due(conn, room, name, run_ids)
        refused: list[int] = []
        for block in blocks:
            try:
                self.queue.send(block)
            except Exception:
                log.exception("feeder: the broker refused block %d; trying again", block.id)
                refused.append(block.id)
        if refused:
            with self.db.begin() as conn:
                send_tasks.unqueue(conn, refused)
        self.queued += len(blocks) - len(refused)
        return len(blocks) - len(refused)

    def _recover_lost(self) -> None:
        """Queued blocks that no worker started while the broker's queue is empty: the
        broker lost them (a restart without persistence, a purge); queue them again."""
        if self.queue.depth() != 0:
            return
        with self.db.begin() as conn:
            lost = send_tasks.recover_lost(conn, timedelta(seconds=self.options.lost_after))
        if lost:
            log.warning("feeder: %d task(s) lost by the broker queued again", lost)

    def _sweep_when_due(self) -> None:
        if time.monotonic() - self._swept_at < self.options.sweep_seconds:
            return
        self._swept_at = time.monotonic()
        with self.db.begin() as conn:
            for block in send_tasks.idle_without_work(conn):
                due = claims.next_work_at(conn, block.scope)
                if due is not None:
                    send_tasks.set_due(conn, block.id, due)
