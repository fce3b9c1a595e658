"""The Celery executor: the app, the send task and what each worker process holds.

``dispatcher run`` (the feeder, :mod:`dispatcher.delivery.celery.feeder`) sends one
small task per block of a run's rows: ``(block, run, channel, first id, last id)``,
never a phone number. A worker (``dispatcher worker``) sends that block with the same
:class:`DeliveryEngine` as the local executor, scoped to the block, claiming rows with
``FOR UPDATE SKIP LOCKED`` and spending each provider's rate limit from Redis, shared by
all workers.

Tasks are acknowledged after they run (``acks_late``) and given back to the queue when
their worker dies, so a killed worker's block goes to another worker; a task that runs
twice is harmless, because only rows still ``planned`` can be claimed and rows left
``sending`` are reconciled through the provider's ``lookup`` before anything is resent.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from celery.exceptions import Reject
from sqlalchemy import Engine

from channels.base import Channel
from dispatcher.config import Config
from dispatcher.delivery import claims
from dispatcher.delivery.celery import send_tasks
from dispatcher.delivery.celery.send_tasks import Block
from dispatcher.delivery.claims import Scope
from dispatcher.delivery.engine import DeliveryEngine
from dispatcher.delivery.policy import EngineOptions
from dispatcher.delivery.ratelimit import RateLimiters

log = logging.getLogger(__name__)

SEND_TASK = "dispatcher.send_block"


def make_app(config: Config) -> Celery:
    app = Celery("dispatcher", broker=config.celery.url("broker_url"), set_as_current=False)
    app.conf.update(
        task_default_queue=config.celery.queue,
        task_acks_late=True,  # a worker killed mid-task gives its task back
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a worker holds only the task it runs
        task_ignore_result=True,  # outcomes are in the database, not a result backend
        task_serializer="json", accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # Redis broker: a task not acknowledged within an hour is delivered again.
        broker_transport_options={"visibility_timeout": 3600},
    )
    app.task(name=SEND_TASK)(send_block)
    return app


class CeleryQueue:
    """The feeder's :class:`~dispatcher.feeder.TaskQueue` on a Celery app."""

    def __init__(self, app: Celery, name: str) -> None:
        self.app = app
        self.name = name

    def send(self, block: Block) -> None:
        self.app.send_task(SEND_TASK, args=list(block), queue=self.name)

    def depth(self) -> int | None:
        try:
            with self.app.connection_for_read() as conn:
                declared = conn.default_channel.queue_declare(queue=self.name, passive=True)
                return int(declared.message_count)
        except Exception as exc:
            if "NOT_FOUND" in str(exc) or "no queue" in str(exc).lower():
                return 0  # the broker came back without the queue: nothing is in it
            log.warning("feeder: could not read the queue's depth: %s", exc)
            return None


# In a worker process --------------------------------------------------------------------


@dataclass
class WorkerContext:
    """Built once per worker process by ``dispatcher worker``, used by every task."""

    db: Engine
    channels: Mapping[str, Channel]
    public_url: str
    limiters: RateLimiters
    options: EngineOptions
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    heartbeat_seconds: float = 5.0
    current: DeliveryEngine | None = None
    stopping: bool = False


_WORKER: WorkerContext | None = None


def serve_tasks(context: WorkerContext) -> None:
    """Make this process a worker: tasks run with ``context``."""
    global _WORKER
    _WORKER = context


def stop_current_task() -> None:
    """Warm shutdown: the running task finishes its sends in flight and ends (rows it
    claimed and did not send keep their lease and are reconciled later), and a task
    the broker delivers after that goes back to the queue for another worker."""
    if _WORKER is not None:
        _WORKER.stopping = True
        if _WORKER.current is not None:
            _WORKER.current.stop.set()


def send_block(block_id: int, run_id: int, channel: str, first_id: int,
               last_id: int) -> dict[str, Any]:
    """The task: send one block's due rows, then record when it next has work."""
    worker = _WORKER
    if worker is None:
        raise RuntimeError("this process is not a dispatcher worker (`dispatcher worker`)")
    if worker.stopping:  # Celery hands over one more message before it stops consuming
        raise Reject("this worker is shutting down", requeue=True)
    scope = Scope(run_id, channel, first_id, last_id)
    with worker.db.begin() as conn:
        send_tasks.start(conn, block_id, worker.name)
    engine = DeliveryEngine(worker.db, worker.channels, worker.public_url, worker.options,
                            worker.limiters, scope=scope)
    worker.current = engine
    try:
        with _Heartbeat(worker, block_id):
            report = engine.run(until_idle=True)
    finally:
        worker.current = None
    with worker.db.begin() as conn:
        send_tasks.finish(conn, block_id, worker.name, claims.next_work_at(conn, scope),
                          report.sent + report.failed)
    return {"block": block_id, "sent": report.sent, "failed": report.failed,
            "retried": report.retried, "unknown": report.unknown}


class _Heartbeat:
    """Tells the feeder, every few seconds, that this worker still holds the block."""

    def __init__(self, worker: WorkerContext, block_id: int) -> None:
        self.worker = worker
        self.block_id = block_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.worker.heartbeat_seconds):
            try:
                with self.worker.db.begin() as conn:
                    send_tasks.beat(conn, self.block_id, self.worker.name)
            except Exception:
                log.exception("worker: heartbeat failed; trying again")
