"""``dispatcher worker`` and the Celery side of ``dispatcher run`` (the feeder)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Mapping

import click
from celery.signals import worker_shutting_down

from channels.base import Channel, Sender
from dispatcher import registry
from dispatcher.cli.output import progress_bar, show_service_logs
from dispatcher.cli.params import FloatRange
from dispatcher.config import Config
from dispatcher.context import AppContext
from dispatcher.delivery import claims
from dispatcher.delivery.celery import app as celery_app
from dispatcher.delivery.celery.feeder import FeederOptions, TaskFeeder
from dispatcher.delivery.policy import EngineOptions
from dispatcher.delivery.shared_limits import RedisLimiters
from dispatcher.errors import ConfigError
from dispatcher.scheduling import scheduler

# A task ends when its block has nothing due within this many seconds; later work (a
# retry's backoff, a lease running out) gets a task of its own from the feeder.
TASK_HORIZON_SECONDS = 2.0


MAX_LEASE_SECONDS = 86_400.0  # a day: a send held longer is lost, not slow
MAX_ATTEMPTS = 1_000
MAX_HEARTBEAT_SECONDS = 3_600.0

# `dispatcher run` takes the same two options.
lease_option = click.option(
    "--lease", "lease_seconds", type=FloatRange(min=1, max=MAX_LEASE_SECONDS),
    default=60.0, show_default=True, help="Seconds a row is held while it is being sent; a "
                                          "row held longer is reconciled with the provider.")
attempts_option = click.option(
    "--max-attempts", type=click.IntRange(min=1, max=MAX_ATTEMPTS), default=8,
    show_default=True, help="Attempts per row before a retryable error counts as failed.")


@click.command()
@lease_option
@attempts_option
@click.option("--name", default=None, help="This worker's name in `dispatcher status` "
                                           "[default: dispatcher-PID@HOST].")
@click.option("--heartbeat", type=FloatRange(min=0.1, max=MAX_HEARTBEAT_SECONDS),
              default=5.0, show_default=True,
              help="Seconds between this worker's heartbeats while it holds a task.")
@click.pass_obj
def worker(app: AppContext, lease_seconds: float, max_attempts: int, name: str | None,
           heartbeat: float) -> None:
    """Send campaign rows as a Celery worker (executor = "celery").

    Takes tasks from the broker's queue ([celery] broker_url), each a block of one run's
    rows on one channel, and sends them with the same engine as `dispatcher run`,
    spending each provider account's rate limit from Redis ([celery] redis_url) so all
    workers together keep to it. Run one per core, on as many machines as needed; each
    runs one task at a time and overlaps its provider calls with threads
    ([channels.NAME] concurrency). SIGTERM finishes the sends in flight and stops.
    """
    config = _celery_config(app)
    show_service_logs()
    channels = registry.build_channels(config.channels, config.source)
    name = name or f"dispatcher-{os.getpid()}@{socket.gethostname()}"
    celery_app.serve_tasks(celery_app.WorkerContext(
        db=app.engine, channels=channels, public_url=config.web.public_url,
        limiters=RedisLimiters(config.celery.url("redis_url")),
        options=EngineOptions(lease_seconds=lease_seconds, max_attempts=max_attempts,
                              idle_horizon_seconds=TASK_HORIZON_SECONDS),
        name=name, heartbeat_seconds=heartbeat))
    worker_shutting_down.connect(lambda **_: celery_app.stop_current_task(), weak=False)
    tasks = celery_app.make_app(config)
    tasks.worker_main(["worker", "--pool=solo", f"--queues={config.celery.queue}",
                       f"--hostname={name}", "--loglevel=INFO", "--without-gossip",
                       "--without-mingle"])


def feed_workers(app: AppContext, channels: Mapping[str, Channel], until_idle: bool,
                 stop: threading.Event, options: FeederOptions | None = None) -> int:
    """``dispatcher run`` under the Celery executor: queue due blocks for the workers
    (only while this process leads the scheduler, unless ``until_idle``); returns the
    tasks queued."""
    config = app.config
    queue = celery_app.CeleryQueue(celery_app.make_app(config), config.celery.queue)
    senders = {n: c for n, c in channels.items() if isinstance(c, Sender) and c.ready()}
    options = options or FeederOptions(rows_per_task=config.celery.task_rows,
                                       queued_tasks=config.celery.queued_tasks)
    feeder = TaskFeeder(app.engine, senders, config.web.public_url, queue, options)
    # --until-idle runs no scheduler: it feeds alone, like it sends alone locally.
    leading: Callable[[], bool] = _always if until_idle else _leads_scheduler
    thread = threading.Thread(target=feeder.run, args=(stop, until_idle, leading),
                              name="feeder", daemon=True)
    thread.start()
    if until_idle:
        _show_progress(app, thread)
    thread.join()
    return feeder.queued


def _always() -> bool:
    return True


def _leads_scheduler() -> bool:
    service = scheduler.current_service()
    return service is not None and service.running


def _show_progress(app: AppContext, thread: threading.Thread) -> None:
    with app.engine.connect() as conn:
        total = claims.count_open(conn)
    with progress_bar("sending") as bar:
        task = bar.add_task("sent by the workers", total=total)
        while thread.is_alive():
            thread.join(timeout=2.0)
            with app.engine.connect() as conn:
                bar.update(task, completed=total - claims.count_open(conn))


def _celery_config(app: AppContext) -> Config:
    config = app.config
    if config.executor != "celery":
        raise ConfigError("executor", "is \"local\": `dispatcher run` sends by itself; set "
                          "executor = \"celery\" in config.toml to run workers")
    return config


COMMANDS = [worker]
