"""Printing for commands: rich tables for people, JSON and CSV for programs."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from dispatcher.csvfile import ExportWriter
from dispatcher.errors import DispatcherError


def stdout() -> Console:
    """The terminal's width, or 160 columns when output goes to a file or pipe."""
    return Console(width=None if sys.stdout.isatty() else 160)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]],
                title: str | None = None) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")  # wrap, never hide part of a value
    for row in rows:  # Text: a value's "[...]" is shown as is, never read as markup
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    stdout().print(table)


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """CSV as the web exports write it: no cell runs as a spreadsheet formula."""
    writer = ExportWriter(sys.stdout)
    writer.row(columns)
    for row in rows:
        writer.row(row)


def cannot_write(option: str, path: str | Path, exc: OSError) -> DispatcherError:
    """The one-line error for an output path (``--out``) the command cannot write."""
    reason = exc.strerror or str(exc)
    return DispatcherError(f"{option} {path}: cannot write there ({reason}); choose a path in "
                           "a folder you can write to")


def output_folder(path: Path, option: str) -> Path:
    """``path`` created (with its parents) for a command's output files; DispatcherError
    naming ``option`` when it cannot be."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot_write(option, path, exc) from None
    return path


def progress_bar(description: str) -> Progress:
    """A progress bar on stderr, silent when stderr is not a terminal."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=False)


# Loggers whose INFO lines would print request bodies (phone numbers, message text).
_CHATTY_LOGGERS = ("twilio.http_client", "urllib3")


def show_service_logs(timestamps: bool = True) -> None:
    """Log INFO and above to stderr, for long-running commands (`run`, `serve`).

    Client libraries that log whole requests at INFO are held to WARNING: secrets and
    phone numbers never reach the log.
    """
    stamp = "%(asctime)s " if timestamps else ""
    logging.basicConfig(level=logging.INFO,
                        format=f"{stamp}%(levelname)s %(name)s: %(message)s")
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
