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

from dispatcher.storage.db import make_engine

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


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated engine on each database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


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
