"""Database engine: SQLite (WAL) by default, PostgreSQL in production; migrated on first use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Engine, Insert, Table, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError

from dispatcher.errors import DatabaseUnavailable

MIGRATIONS = Path(__file__).with_name("migrations")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def make_engine(url: str, *, migrate: bool = True) -> Engine:
    """An engine for ``url``; an empty or older database is upgraded to the latest schema.

    DatabaseUnavailable (one line, password masked) when the URL cannot be read, its
    driver is not installed or, with ``migrate``, the database does not answer.
    """
    engine = _create(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if migrate:
        try:
            current = is_current(engine)
        except (OperationalError, InterfaceError) as exc:
            engine.dispose()
            raise unreachable(url, exc) from None
        if not current:
            upgrade(engine)
    return engine


def _create(url: str) -> Engine:
    shown = shown_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseUnavailable(
            f"the database URL {shown!r} cannot be read; write it as "
            f"postgresql+psycopg://USER:PASSWORD@HOST:5432/NAME or sqlite:///PATH {_WHERE}"
        ) from None
    if parsed.drivername == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(parsed.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot create the folder {folder} of the database {shown}: "
                f"{exc.strerror or exc}; choose a folder you can write to {_WHERE}") from None
    try:
        return create_engine(url, **_engine_options(parsed))
    except (ImportError, NoSuchModuleError) as exc:
        missing = exc.name if isinstance(exc, ImportError) and exc.name else parsed.drivername
        raise DatabaseUnavailable(
            f"the database URL {shown} needs the driver {missing!r}, which is not installed; "
            "use postgresql+psycopg://... (PostgreSQL) or sqlite:///... (SQLite), or install "
            "the driver") from None


# Seconds to wait for PostgreSQL to answer a new connection: a host that is down (no
# "connection refused") would otherwise hold a command for minutes.
CONNECT_TIMEOUT = 10
_WHERE = "(database.url in config.toml, or DISPATCHER_DATABASE_URL)"


def _engine_options(url: URL) -> dict[str, Any]:
    if url.drivername.startswith("postgresql"):
        options: dict[str, Any] = {"pool_pre_ping": True}
        if "connect_timeout" not in url.query:
            options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
        return options
    return {}


def shown_url(url: str) -> str:
    """``url`` with its password masked, also when it cannot be parsed."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # hide all that comes before the host
        scheme, sep, rest = url.rpartition("://") if "://" in url else ("", "", url)
        return f"{scheme}{sep}***@{rest.rpartition('@')[2]}" if "@" in rest else url


def unreachable(url: str | None, exc: BaseException) -> DatabaseUnavailable:
    """The one-line error for a database that does not answer (or refuses us)."""
    cause = getattr(exc, "orig", None) or exc
    reason = " ".join(str(cause).split())  # the driver's message, on one line
    reason = reason if len(reason) <= 240 else reason[:237] + "..."
    where = shown_url(url) if url else "database.url"
    return DatabaseUnavailable(
        f"cannot reach the database at {where}: {reason}; check that it runs and accepts "
        f"connections there, or correct the URL {_WHERE}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers (logs, reach) work while the engine writes; FULL sync keeps a
    recorded 'sent' through a power loss, so it is never re-sent."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision(engine)


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(_alembic_config(engine), revision)


def refresh_statistics(engine: Engine, table_name: str) -> None:
    """Refresh PostgreSQL's planner statistics of ``table_name`` after a bulk write (SQLite
    plans well enough without them)."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql(f'ANALYZE "{table_name}"')


def insert_ignoring_conflicts(table: Table, engine: Engine) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING in the engine's dialect (SQLite or PostgreSQL)."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
