"""Printing for commands: rich tables for people, JSON and CSV for programs."""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Iterable, Sequence
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
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    stdout().print(table)


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)


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
