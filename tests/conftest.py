"""Shared fixtures: a migrated database on SQLite and, where reachable, PostgreSQL.

PostgreSQL tests run against 127.0.0.1:5432 database ``test`` (override with
``DISPATCHER_TEST_POSTGRES_URL``), each in a schema of its own that is dropped afterwards.
They skip with a reason when PostgreSQL is unreachable, and fail instead when
``DISPATCHER_REQUIRE_SERVICES=1`` (as in CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from dispatcher.audience.contacts import import_contacts
from dispatcher.context import AppContext
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.storage.db import make_engine
from dispatcher.testing import campaign_text, delivery_ids, plan_campaign, sms_placement

POSTGRES_URL = os.environ.get(
    "DISPATCHER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def services_required() -> bool:
    return os.environ.get("DISPATCHER_REQUIRE_SERVICES") == "1"


def _service_or_skip(name: str, url: str, probe: Callable[[], object]) -> None:
    """Skip the test with a reason when ``probe()`` fails; fail it when services are
    required (CI)."""
    try:
        probe()
    except Exception as exc:
        reason = f"{name} unreachable at {url}: {type(exc).__name__}"
        if services_required():
            pytest.fail(f"{reason} (DISPATCHER_REQUIRE_SERVICES=1)")
        pytest.skip(reason)


def _postgres_or_skip() -> None:
    def probe() -> None:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()

    _service_or_skip("PostgreSQL", POSTGRES_URL, probe)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dispatcher.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    _postgres_or_skip()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh database URL: every test using it runs on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


def _disposed(engine: Engine) -> Iterator[Engine]:
    yield engine
    engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated engine on each database."""
    yield from _disposed(make_engine(db_url))


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """A migrated engine on SQLite only, for a module whose ``engine`` is this one."""
    yield from _disposed(make_engine(sqlite_url))


@pytest.fixture
def cli_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppContext:
    """The CLI's context over ``tmp_path/config.toml``: an SQLite database ``cli.db``
    beside it, whatever ``DISPATCHER_DATABASE_URL`` says outside the test."""
    monkeypatch.delenv("DISPATCHER_DATABASE_URL", raising=False)
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "sqlite:///cli.db"\n', encoding="utf-8")
    return AppContext(config_path=str(config))


ImportList = Callable[[str, str], None]


@pytest.fixture
def import_list(engine: Engine, tmp_path: Path) -> ImportList:
    """``import_list(name, csv_text)``: the CSV (header included) written to
    ``tmp_path/NAME.csv`` and imported as the contact list ``name``, numbers in China."""
    def run(name: str, csv_text: str) -> None:
        path = tmp_path / f"{name}.csv"
        path.write_text(csv_text, encoding="utf-8")
        import_contacts(engine, path, name, "CN")

    return run


@pytest.fixture
def resident(engine: Engine, import_list: ImportList) -> Engine:
    """``engine`` with one contact, +8613800000001, on the list "residents"."""
    import_list("residents", "phone,area,district\n13800000001,,\n")
    return engine


SMS_DRIVE = campaign_text("drive", sms_placement(
    "residents", body="Report gang crime: call 110. Reply TD to stop."))
RESIDENTS = "phone,area,district\n13800000001,,\n13800000002,,\n13800000003,,\n"


@pytest.fixture
def sms_rows(engine: Engine, import_list: ImportList) -> list[int]:
    """A planned run of a one-placement SMS campaign to three residents (+8613800000001
    to 3): their delivery row ids, in the order of their numbers."""
    import_list("residents", RESIDENTS)
    plan_campaign(engine, SMS_DRIVE)
    return delivery_ids(engine)


@pytest.fixture
def sms_rows_first_sent(engine: Engine, sms_rows: list[int]) -> list[int]:
    """``sms_rows`` with the first one claimed and accepted by the provider as SM1, as the
    engine records it; the others still planned."""
    for state, ref in (("sending", None), ("sent", "SM1")):
        with engine.begin() as conn:
            assert advance(conn, [Transition(state, delivery_id=sms_rows[0], provider_ref=ref)],
                           actor="engine") == [sms_rows[0]]
    return sms_rows


REDIS_URL = os.environ.get("DISPATCHER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RABBITMQ_URL = os.environ.get("DISPATCHER_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Redis database 15, emptied before and after the test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    _service_or_skip("Redis", REDIS_URL, client.flushdb)
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def rabbitmq_url() -> str:
    """RabbitMQ's default vhost; each test names its own queues."""
    from kombu import Connection

    def probe() -> None:
        with Connection(RABBITMQ_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)

    _service_or_skip("RabbitMQ", RABBITMQ_URL, probe)
    return RABBITMQ_URL
