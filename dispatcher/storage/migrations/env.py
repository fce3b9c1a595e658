"""Alembic environment: the engine comes from dispatcher.storage.db, never from an ini file."""

from __future__ import annotations

from alembic import context

from dispatcher.storage.tables import metadata

engine = context.config.attributes["engine"]


def include_object(obj: object, name: str | None, type_: str, reflected: bool,
                   compare_to: object) -> bool:
    """Tables this project does not define (APScheduler's job store) are not ours."""
    return not (type_ == "table" and reflected and name not in metadata.tables)


with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=engine.dialect.name == "sqlite",
                      include_object=include_object)
    context.run_migrations()
