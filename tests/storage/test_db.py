from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from dispatcher.storage import db
from dispatcher.storage.tables import metadata


def test_migrations_create_exactly_the_tables_module(engine: Engine) -> None:
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    assert db.is_current(engine)


def test_an_empty_database_is_migrated_on_first_use(sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url, migrate=False)
    assert db.current_revision(engine) is None
    engine = db.make_engine(sqlite_url)
    assert db.current_revision(engine) == db.head_revision(engine)


def test_sqlite_runs_in_wal_mode_with_full_sync(sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
