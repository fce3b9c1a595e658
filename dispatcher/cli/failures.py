"""The last resort of every command: an exception becomes one ``error: ...`` line.

Commands check what they are given and raise DispatcherError with what was wrong and
what is allowed; this module only catches what gets past them:

- the database does not answer or stops answering: ``error: cannot reach the database at
  URL (password masked): ...``; it answers with an operational error (locked, timed out,
  schema out of date): ``error: URL could not run the command: ...``;
- a path the command cannot use (an output file or folder): ``error: PATH: cannot use
  it (...)``; a closed pipe (``dispatcher logs | head``) ends the command quietly;
- anything else is a bug: ``error: internal error (TYPE: first line)`` with the
  traceback written to a private file named in the line (DISPATCHER_DEBUG=1 prints the
  traceback instead). Exit status 70 (EX_SOFTWARE) tells it from a user error (1).

Exception texts are cut to their first line and shortened: SQLAlchemy appends the
statement and its parameters (phone numbers) after the first line.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback

import click
from sqlalchemy.exc import DBAPIError, OperationalError

from dispatcher.storage.db import shown_url, unreachable

DEBUG_ENV = "DISPATCHER_DEBUG"
INTERNAL_ERROR = 70  # EX_SOFTWARE in sysexits.h
USER_ERROR = 1


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def report(exc: Exception, database_url: str | None) -> int:
    """Print the one line for ``exc``; returns the exit status."""
    if isinstance(exc, DBAPIError) and (exc.statement is None or exc.connection_invalidated):
        click.echo(f"error: {unreachable(database_url, exc)}", err=True)  # connect, or lost
        return USER_ERROR
    if isinstance(exc, OperationalError):  # locked, timed out, schema out of date
        where = shown_url(database_url) if database_url else "the database"
        click.echo(f"error: {where} could not run the command: {_summary(exc)}; try again, "
                   "and if it persists check the schema with `dispatcher db status`", err=True)
        return USER_ERROR
    if isinstance(exc, BrokenPipeError):  # `dispatcher logs | head`: the reader left
        _silence_stdout()
        return USER_ERROR
    if isinstance(exc, OSError) and exc.filename is not None:
        click.echo(f"error: {exc.filename}: cannot use it ({exc.strerror or exc}); check the "
                   "path and its permissions", err=True)
        return USER_ERROR
    click.echo(f"error: internal error ({_summary(exc)}); {_keep_traceback(exc)}", err=True)
    return INTERNAL_ERROR


def _summary(exc: Exception) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    text = lines[0] if lines else ""
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def _keep_traceback(exc: Exception) -> str:
    """Write the traceback to a file only the user can read; say where it is."""
    try:
        handle, path = tempfile.mkstemp(prefix="dispatcher-error-", suffix=".log")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("".join(traceback.format_exception(exc)))
    except OSError:
        return f"set {DEBUG_ENV}=1 to see the traceback, and report it"
    return f"the traceback is in {path} (or set {DEBUG_ENV}=1 to print it); please report it"


def _silence_stdout() -> None:
    """Python would complain again when it flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (in-process runs)
        pass
