"""The Celery executor on real PostgreSQL, RabbitMQ and Redis, with real worker processes.

Worker processes are `dispatcher worker` subprocesses; the feeder runs in this process
(as `dispatcher run` would run it) with short timeouts, and the Twilio sandbox counts
every message it receives, so duplicates and missing messages are counted at the
provider, not inferred from our own tables.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kombu import Connection
from sqlalchemy import Engine, func, select

from dispatcher import registry
from dispatcher.audience.contacts import import_contacts
from dispatcher.cli.worker import feed_workers
from dispatcher.context import AppContext
from dispatcher.delivery.celery.feeder import FeederOptions
from dispatcher.sandbox import SANDBOX_AUTH_TOKEN, TwilioOptions, TwilioSandbox
from dispatcher.serving import free_port
from dispatcher.storage.db import make_engine
from dispatcher.storage.tables import deliveries, delivery_events, send_tasks
from dispatcher.testing import (
    plan_campaign,
    sandbox_config_text,
    sms_campaign_text,
    store_campaign,
)

pytestmark = [pytest.mark.postgres, pytest.mark.services]

TOKEN_VARIABLE = "DISPATCHER_TEST_TWILIO_TOKEN"
BROKER_VARIABLE = "DISPATCHER_TEST_BROKER_URL"
FAST_FEEDER = FeederOptions(rows_per_task=500, queued_tasks=6, poll_seconds=0.5,
                            stale_after=4, lost_after=3, sweep_seconds=5)


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < seconds, f"timed out waiting for {what}"
        time.sleep(0.2)


def count_rows(engine: Engine, *where: object) -> int:
    query = select(func.count()).select_from(deliveries).where(*where)  # type: ignore[arg-type]
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


class Deployment:
    """A config for the Celery executor, its worker subprocesses and its feeder thread."""

    def __init__(self, tmp_path: Path, db_url: str, api_url: str, broker_url: str,
                 redis_url: str, rate: float = 5000) -> None:
        self.tmp_path = tmp_path
        self.broker_url = broker_url
        self.queue = f"test-{uuid.uuid4().hex[:8]}"
        self.config = tmp_path / "config.toml"
        self.config.write_text(
            'executor = "celery"\n'
            + sandbox_config_text(db_url, api_url, f"http://127.0.0.1:{free_port()}",
                                  status_callback=False, token_variable=TOKEN_VARIABLE,
                                  rate=rate)
            + f'[celery]\nbroker_url = "env:{BROKER_VARIABLE}"\nredis_url = "{redis_url}"\n'
              f'queue = "{self.queue}"\n', encoding="utf-8")
        self.workers: list[subprocess.Popen[bytes]] = []
        self.stop = threading.Event()
        self._feeder: threading.Thread | None = None
        self._environ = pytest.MonkeyPatch()  # the feeder's broker variable; close() undoes

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPATCHER_DATABASE_URL": "",
                TOKEN_VARIABLE: SANDBOX_AUTH_TOKEN, BROKER_VARIABLE: self.broker_url}

    def start_worker(self, lease: float = 4.0) -> subprocess.Popen[bytes]:
        log = self.tmp_path / f"worker-{len(self.workers)}.log"
        child = subprocess.Popen(
            [sys.executable, "-m", "dispatcher", "--config", str(self.config), "worker",
             "--lease", str(lease), "--heartbeat", "1"],
            stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=self.env())
        self.workers.append(child)
        return child

    def start_feeder(self) -> None:
        self._environ.setenv(BROKER_VARIABLE, self.broker_url)
        app = AppContext(config_path=str(self.config))
        channels = registry.build_channels(app.config.channels, app.config.source)
        self._feeder = threading.Thread(
            target=feed_workers, args=(app, channels, True, self.stop, FAST_FEEDER),
            daemon=True)
        self._feeder.start()

    def feeder_done(self) -> bool:
        return self._feeder is not None and not self._feeder.is_alive()

    def purge_queue(self) -> int:
        """Empty the broker's queue, as a broker restart without persistence does."""
        with Connection(self.broker_url) as conn:
            return int(conn.default_channel.queue_purge(self.queue) or 0)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:]
                         for p in sorted(self.tmp_path.glob("worker-*.log")))

    def close(self) -> None:
        self.stop.set()
        for child in self.workers:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.workers:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self._environ.undo()
        with Connection(self.broker_url) as conn:  # the test's queue goes with it
            conn.default_channel.queue_delete(self.queue)


@pytest.fixture
def sandbox() -> Iterator[tuple[TwilioSandbox, str]]:
    box = TwilioSandbox(TwilioOptions(seed=10, latency_ms=20))
    with box.serve() as url:
        yield box, url


@pytest.fixture
def deployment(tmp_path: Path, postgres_url: str, sandbox: tuple[TwilioSandbox, str],
               rabbitmq_url: str, redis_url: str) -> Iterator[Deployment]:
    found = Deployment(tmp_path, postgres_url, sandbox[1], rabbitmq_url, redis_url)
    try:
        yield found
    finally:
        found.close()


def plan_sms(db_url: str, contacts: int) -> Engine:
    engine = make_engine(db_url)
    phones = "\n".join(f"1380{i:07d},," for i in range(contacts))
    import_contacts(engine, io.StringIO(f"phone,area,district\n{phones}\n"), "residents", "CN")
    plan_campaign(engine, sms_campaign_text("scale"), fire_time=datetime.now(UTC))
    return engine


def assert_each_sent_once(engine: Engine, box: TwilioSandbox, contacts: int) -> None:
    stats = box.stats()
    assert stats["created"] == contacts, stats
    assert stats["duplicates"] == 0 and stats["duplicate_messages"] == 0, stats
    with engine.connect() as conn:
        states = conn.execute(select(deliveries.c.status, func.count())
                              .group_by(deliveries.c.status)).all()
        blocks = conn.execute(select(send_tasks).where(send_tasks.c.due_at.is_not(None))
                              ).all()
    # A row reconciled by lookup takes the provider's status: sent or already delivered.
    assert count_rows(engine, deliveries.c.status.in_(("sent", "delivered"))) == contacts, \
        (states, blocks)


def reconciled(engine: Engine) -> int:
    """Rows whose outcome a lookup settled after their lease ran out."""
    query = (select(func.count()).select_from(delivery_events)
             .where(delivery_events.c.detail.like("%found by lookup")
                    | delivery_events.c.detail.like("%the provider never got it%")))
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(
        deployment: Deployment, postgres_url: str,
        sandbox: tuple[TwilioSandbox, str]) -> None:
    contacts = 20_000
    engine = plan_sms(postgres_url, contacts)
    victim = deployment.start_worker()
    deployment.start_worker()
    deployment.start_feeder()

    wait_for(lambda: count_rows(engine, deliveries.c.status == "sent") >= 5_000, 240,
             "5,000 messages to be sent")
    with engine.connect() as conn:
        held = conn.execute(select(func.count()).select_from(send_tasks)
                            .where(send_tasks.c.state == "running",
                                   send_tasks.c.worker.like(f"dispatcher-{victim.pid}@%"))
                            ).scalar_one()
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    in_flight = count_rows(engine, deliveries.c.status == "sending")
    assert held == 1, deployment.logs()  # killed while holding a block: mid-batch

    wait_for(deployment.feeder_done, 600, "every row to be sent " + deployment.logs())
    print(f"at the kill {in_flight} row(s) were sending; {reconciled(engine)} reconciled")
    assert in_flight > 0
    assert reconciled(engine) > 0  # the killed worker's rows were looked up, not resent
    assert_each_sent_once(engine, sandbox[0], contacts)
    engine.dispose()


@pytest.fixture(params=["rabbitmq", "redis"])
def broker(request: pytest.FixtureRequest, rabbitmq_url: str, redis_url: str) -> str:
    """Each broker the executor takes by URL; the Redis one in a database of its own."""
    if request.param == "rabbitmq":
        return rabbitmq_url
    return redis_url.rsplit("/", 1)[0] + "/14"


@pytest.mark.slow  # tens of seconds: CI runs it (scripts/test --slow)
def test_tasks_the_broker_lost_are_derived_again_from_the_database(
        tmp_path: Path, postgres_url: str, sandbox: tuple[TwilioSandbox, str], broker: str,
        redis_url: str) -> None:
    deployment = Deployment(tmp_path, postgres_url, sandbox[1], broker, redis_url)
    try:
        lose_the_queue_then_send(deployment, postgres_url, sandbox[0])
    finally:
        deployment.close()


def lose_the_queue_then_send(deployment: Deployment, postgres_url: str,
                             box: TwilioSandbox) -> None:
    contacts = 3_000
    engine = plan_sms(postgres_url, contacts)
    deployment.start_feeder()  # no worker yet: the queue fills up
    with engine.connect() as conn:
        wait_for(lambda: conn.execute(select(func.count()).select_from(send_tasks)
                                      .where(send_tasks.c.state == "queued")).scalar_one()
                 == FAST_FEEDER.queued_tasks, 30, "the feeder to fill the queue")
    assert deployment.purge_queue() == FAST_FEEDER.queued_tasks  # the broker loses them
    deployment.start_worker()

    wait_for(deployment.feeder_done, 300, "every row to be sent " + deployment.logs())
    assert_each_sent_once(engine, box, contacts)
    with engine.connect() as conn:
        requeued = conn.execute(select(func.count()).select_from(send_tasks)
                                .where(send_tasks.c.enqueued > 1)).scalar_one()
    assert requeued >= FAST_FEEDER.queued_tasks  # the lost ones were queued again
    engine.dispose()


def test_run_until_idle_feeds_the_workers_and_exits(
        deployment: Deployment, postgres_url: str,
        sandbox: tuple[TwilioSandbox, str]) -> None:
    """`dispatcher run --until-idle` under the Celery executor: it plans what is due,
    queues it for a worker and exits 0 once everything is sent."""
    contacts = 300
    engine = make_engine(postgres_url)
    phones = "\n".join(f"1380{i:07d},," for i in range(contacts))
    import_contacts(engine, io.StringIO(f"phone,area,district\n{phones}\n"), "residents", "CN")
    store_campaign(engine, sms_campaign_text("cli", datetime.now(UTC)))
    deployment.start_worker()
    done = subprocess.run(
        [sys.executable, "-m", "dispatcher", "--config", str(deployment.config), "run",
         "--until-idle", "--json"], capture_output=True, env=deployment.env(), timeout=240,
        check=False)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    summary = json.loads(done.stdout)
    assert summary["runs_planned"] and summary["tasks_queued"] >= 1
    assert "executor: celery" in done.stderr.decode()
    assert_each_sent_once(engine, sandbox[0], contacts)
    engine.dispose()


@pytest.mark.slow  # tens of seconds: CI runs it (scripts/test --slow)
def test_sigterm_stops_a_busy_worker_soon_and_another_finishes_its_block(
        tmp_path: Path, postgres_url: str, sandbox: tuple[TwilioSandbox, str],
        rabbitmq_url: str, redis_url: str) -> None:
    """A worker told to stop in the middle of a long block (600 rows at 20/s) finishes
    only the sends in flight, and a second worker sends the rest, each message once."""
    contacts = 600
    deployment = Deployment(tmp_path, postgres_url, sandbox[1], rabbitmq_url, redis_url,
                            rate=20)
    engine = plan_sms(postgres_url, contacts)
    try:
        first = deployment.start_worker(lease=3)
        deployment.start_feeder()
        wait_for(lambda: count_rows(engine, deliveries.c.status == "sent") >= 20, 60,
                 "the first worker to be sending")
        sent_at_signal = count_rows(engine, deliveries.c.status == "sent")
        first.send_signal(signal.SIGTERM)
        began = time.monotonic()
        first.wait(timeout=30)
        stopped_in = time.monotonic() - began
        sent_when_stopped = count_rows(engine, deliveries.c.status == "sent")
        # At 20/s, a second's worth more at most: neither the rest of its block (480
        # rows) nor the next block Celery hands it while stopping (100 rows).
        assert sent_when_stopped - sent_at_signal <= 30, (sent_at_signal, sent_when_stopped)
        deployment.start_worker(lease=3)
        wait_for(deployment.feeder_done, 300, "every row to be sent " + deployment.logs())
    finally:
        deployment.close()
    print(f"a busy worker stopped {stopped_in:.1f} s after SIGTERM")
    assert stopped_in < 10
    assert_each_sent_once(engine, sandbox[0], contacts)
    engine.dispose()
