"""``dispatcher db``: schema migrations."""

from __future__ import annotations

import click
from alembic.util import CommandError

from dispatcher.context import AppContext
from dispatcher.errors import DispatcherError
from dispatcher.storage import db


@click.group("db")
def database() -> None:
    """Database schema: show the revision, apply migrations."""


@database.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.pass_obj
def upgrade(app: AppContext, revision: str) -> None:
    """Migrate the database to the latest schema (done automatically on first use)."""
    engine = db.make_engine(app.config.database_url, migrate=False)
    before = db.current_revision(engine)
    try:
        db.upgrade(engine, revision)
    except CommandError as exc:  # no such revision, or one older than the database's
        raise DispatcherError(f"--revision {revision!r}: {exc}; allowed: head (the "
                              f"latest, {db.head_revision(engine)}) or a later revision "
                              f"than the database's ({before or 'none'})") from None
    after = db.current_revision(engine)
    click.echo(f"database {engine.url.render_as_string(hide_password=True)}: "
               f"{before or 'empty'} -> {after}")


@database.command("status")
@click.pass_obj
def status(app: AppContext) -> None:
    """Show the database URL (without password) and its schema revision."""
    engine = db.make_engine(app.config.database_url, migrate=False)
    current, head = db.current_revision(engine), db.head_revision(engine)
    state = "up to date" if current == head else f"behind (latest {head})"
    click.echo(f"database {engine.url.render_as_string(hide_password=True)}: "
               f"revision {current or 'none'}, {state}")


COMMANDS = [database]
