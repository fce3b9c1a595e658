"""`dispatcher status`: the executor's state from the database (SQLite and PostgreSQL), the
command with the local executor, and with the Celery executor against real RabbitMQ and a
real `dispatcher worker` process."""

from __future__ import annotations

import io
import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from kombu import Connection
from sqlalchemy import Engine, func, select, update

from dispatcher.audience.contacts import import_contacts
from dispatcher.cli import main
from dispatcher.cli.status import BrokerView, problems
from dispatcher.delivery.celery import send_tasks
from dispatcher.delivery.status import ExecutorStatus, RunningBlock, RunRows, read_status
from dispatcher.storage.db import make_engine, utcnow
from dispatcher.storage.tables import deliveries, runs
from dispatcher.storage.tables import send_tasks as blocks
from dispatcher.testing import plan_campaign, sms_campaign_text
from tests.e2e.test_celery_workers import BROKER_VARIABLE, Deployment, plan_sms, wait_for

SECRET_BROKER = "amqp://u:s3cret@127.0.0.1:1//"  # nothing listens on port 1


def plan(engine: Engine, contacts: int) -> int:
    """A sendable SMS run to ``contacts`` people; its id."""
    phones = "\n".join(f"1380{i:07d},," for i in range(contacts))
    import_contacts(engine, io.StringIO(f"phone,area,district\n{phones}\n"), "residents", "CN")
    return plan_campaign(engine, sms_campaign_text("scale"), fire_time=datetime.now(UTC)).run_id


def set_block(engine: Engine, block_id: int, **values: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(update(blocks).where(blocks.c.id == block_id).values(**values))


def test_nothing_to_send_is_an_empty_status(engine: Engine) -> None:
    status = read_status(engine)
    assert (status.open_rows, status.queued, status.waiting, status.running) == ((), 0, 0, ())
    assert status.lag_seconds == 0.0 and status.rows_open == 0


def test_read_status_counts_rows_blocks_and_lag(engine: Engine) -> None:
    run_id = plan(engine, 30)
    with engine.begin() as conn:
        assert send_tasks.add_blocks(conn, rows_per_block=10) == 3
        running, queued = send_tasks.take_due(conn, 2, "sms", [run_id])
        send_tasks.start(conn, running.id, "w1@host")
        conn.execute(update(deliveries).values(status="sending")
                     .where(deliveries.c.id.between(running.first_id, running.first_id + 3)))
        idle = conn.execute(select(blocks.c.id).where(blocks.c.state == "idle")).scalar_one()
    now = utcnow()
    set_block(engine, running.id, due_at=now - timedelta(seconds=500),
              started_at=now - timedelta(seconds=30), heartbeat_at=now - timedelta(seconds=5))
    set_block(engine, queued.id, due_at=now - timedelta(seconds=100))
    set_block(engine, idle, due_at=now - timedelta(seconds=40))

    status = read_status(engine, now=now)
    assert status.open_rows == (RunRows(run_id, "scale", planned=26, sending=4),)
    assert (status.rows_open, status.queued, status.waiting) == (30, 1, 1)
    assert status.running == (RunningBlock("w1@host", running.id, run_id, "sms",
                                           running.first_id, running.last_id, 30.0, 5.0),)
    assert status.lag_seconds == 100.0  # the queued block's work, due the longest ago

    set_block(engine, idle, due_at=now + timedelta(seconds=60))  # its next work is later
    assert read_status(engine, now=now).waiting == 0
    with engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(status="paused"))
    paused = read_status(engine, now=now)
    assert (paused.open_rows, paused.waiting, paused.lag_seconds) == ((), 0, 0.0)
    assert (paused.queued, len(paused.running)) == (1, 1)  # still in the broker, still held


def test_problems_of_the_celery_executor() -> None:
    now = utcnow()
    rows = (RunRows(1, "scale", 10, 0),)
    busy = RunningBlock("w1", 7, 1, "sms", 1, 10, 90.0, 2.0)
    silent = RunningBlock("w2", 8, 1, "sms", 11, 20, 300.0, 75.0)
    nobody = BrokerView(True, None, "q", 3, ())
    state = ExecutorStatus(now, rows, queued=3, waiting=0, running=(), lag_seconds=10.0)
    assert problems(state, None, max_lag=1) == []  # local executor: lag does not apply
    assert problems(state, BrokerView(True, None, "q", 3, ("w1",)), max_lag=60) == []
    assert [p.split(" on ")[0] for p in problems(state, nobody, 60)] == ["no worker answered"]
    # A worker running a task does not answer; its fresh heartbeat shows it lives.
    assert problems(ExecutorStatus(now, rows, 3, 0, (busy,), 10.0), nobody, 60) == []
    found = problems(ExecutorStatus(now, rows, 3, 0, (silent,), 400.0),
                     BrokerView(False, "unreachable", "q", None, ()), max_lag=300)
    assert found[0] == "broker unreachable" and found[1].startswith("lag 400 s is above")
    assert found[2] == "worker w2 holds block 8 (run 1) without a heartbeat for 75 s"
    assert len(found) == 3


# The command ---------------------------------------------------------------------------


def dispatcher(config: Path, *args: str, code: int = 0, env: dict[str, str] | None = None
               ) -> Result:
    result = CliRunner(env={"COLUMNS": "200", "DISPATCHER_DATABASE_URL": "", **(env or {})}
                       ).invoke(main, ["--config", str(config), "status", *args])
    assert result.exit_code == code, result.output
    return result


def as_json(config: Path, *args: str, code: int = 0, env: dict[str, str] | None = None
            ) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(
        dispatcher(config, "--json", *args, code=code, env=env).stdout)
    return shown


def test_status_with_the_local_executor(tmp_path: Path, sqlite_url: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "{sqlite_url}"\n', encoding="utf-8")
    assert "open rows: none" in dispatcher(config).stdout
    run_id = plan(make_engine(sqlite_url), 12)

    shown = dispatcher(config).stdout
    assert shown.startswith("executor: local")
    assert "Open rows: 12" in shown and "scale" in shown and "problem" not in shown
    data = as_json(config)
    assert datetime.fromisoformat(data.pop("at")).tzinfo is not None
    assert data == {"executor": "local", "rows_open": 12,
                    "open_rows": [{"run_id": run_id, "campaign_id": "scale", "planned": 12,
                                   "sending": 0}],
                    "problems": [], "healthy": True}
    assert dispatcher(config, "--check", "--max-lag", "0").stdout == "ok\n"


def test_an_unreachable_database_is_an_error_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "postgresql+psycopg://postgres@127.0.0.1:1/x"\n',
                      encoding="utf-8")
    result = dispatcher(config, "--check", code=1)
    assert result.output.startswith("error: cannot reach the database at "
                                    "postgresql+psycopg://postgres@127.0.0.1:1/x: "), result.output


# The Celery executor, with real services ---------------------------------------------


@pytest.fixture
def deployment(tmp_path: Path, postgres_url: str, rabbitmq_url: str,
               redis_url: str) -> Iterator[Deployment]:
    """No SMS is sent here: the channel's API address only has to be well formed."""
    found = Deployment(tmp_path, postgres_url, "http://127.0.0.1:1", rabbitmq_url, redis_url)
    try:
        yield found
    finally:
        found.close()
        with Connection(rabbitmq_url, connect_timeout=3) as conn:
            conn.default_channel.queue_delete(found.queue)


def broker_env(deployment: Deployment) -> dict[str, str]:
    return {BROKER_VARIABLE: deployment.broker_url}


@pytest.mark.postgres
@pytest.mark.services
def test_a_running_worker_answers(deployment: Deployment) -> None:
    child = deployment.start_worker()
    name = f"dispatcher-{child.pid}@{socket.gethostname()}"
    env = broker_env(deployment)

    def workers() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = as_json(deployment.config, "--timeout", "1",
                                              env=env)["workers"]
        return found

    wait_for(lambda: bool(workers()), 45, "the worker to answer " + deployment.logs())
    shown = as_json(deployment.config, "--timeout", "1", env=env)
    # Workers of other queues on the same broker (other deployments) are not listed.
    assert shown["workers"] == [{"name": name, "answered": True, "block_id": None,
                                 "heartbeat_seconds": None}]
    assert shown["broker"] == {"reachable": True, "error": None, "queue": deployment.queue,
                               "depth": 0}
    assert shown["healthy"] is True
    table = dispatcher(deployment.config, "--timeout", "1", env=env).stdout
    assert name in table and "health: ok" in table
    assert dispatcher(deployment.config, "--check", "--timeout", "1", env=env).stdout == "ok\n"


@pytest.mark.postgres
@pytest.mark.services
def test_queued_tasks_without_a_worker_fail_the_check(deployment: Deployment,
                                                      postgres_url: str) -> None:
    engine = plan_sms(postgres_url, 40)
    deployment.start_feeder()
    env = broker_env(deployment)
    wait_for(lambda: as_json(deployment.config, "--timeout", "0.5", env=env)["broker"]["depth"]
             == 1, 30, "the feeder to queue the run's block")

    result = dispatcher(deployment.config, "--check", "--timeout", "0.5", code=1, env=env)
    assert result.stdout == f"no worker answered on queue {deployment.queue!r} while 40 " \
        "row(s) are open: start `dispatcher worker`\n"
    shown = as_json(deployment.config, "--check", "--max-lag", "0", "--timeout", "0.5",
                    code=1, env=env)
    assert shown["blocks"] == {"queued": 1, "waiting": 0, "running": []}
    assert shown["rows_open"] == 40 and shown["workers"] == []
    assert shown["lag_seconds"] >= 0 and shown["healthy"] is False
    assert shown["problems"][0].startswith("no worker answered")
    assert shown["problems"][1].startswith("lag ")  # above --max-lag 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(blocks)).scalar_one() == 1
    engine.dispose()


@pytest.mark.postgres
@pytest.mark.services
def test_an_unreachable_broker_is_named_without_its_password(
        tmp_path: Path, postgres_url: str, redis_url: str) -> None:
    config = Deployment(tmp_path, postgres_url, "http://127.0.0.1:1", SECRET_BROKER,
                        redis_url).config
    env = {BROKER_VARIABLE: SECRET_BROKER}
    began = time.monotonic()
    result = dispatcher(config, "--check", "--timeout", "1", code=1, env=env)
    assert time.monotonic() - began < 5  # one connection attempt, no retry loop
    assert result.stdout.startswith("broker unreachable at 127.0.0.1:1 ([celery] broker_url)")
    shown = as_json(config, env=env)
    assert shown["broker"]["reachable"] is False and shown["healthy"] is False
    people = dispatcher(config, env=env)
    for output in (result.output, json.dumps(shown), people.output):
        assert "s3cret" not in output and "u:" not in output
