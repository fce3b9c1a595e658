"""Printing for commands: rich tables for people, JSON and CSV for programs."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from dispatcher.errors import DispatcherError
from dispatcher.files.csvfile import ExportWriter
from dispatcher.storage.db import as_utc


def stdout() -> Console:
    """The terminal's width, or 160 columns when output goes to a file or pipe."""
    return Console(width=None if sys.stdout.isatty() else 160)


def print_json(data: Any) -> None:
    """``data`` as JSON for programs: times as ISO 8601 with their offset (``T`` between
    date and time), as every ``--json`` promises."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime | date | time) else str(value)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]],
                title: str | None = None) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")  # wrap, never hide part of a value
    for row in rows:  # Text: a value's "[...]" is shown as is, never read as markup
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    stdout().print(table)


def time_header(label: str, zone: str) -> str:
    """A column header naming the time zone its times are in: ``updated (Asia/Shanghai)``.

    Tables for people show wall-clock times without an offset; the header says once which
    clock they are read on (``--json`` keeps ISO 8601 with the offset, for programs)."""
    return f"{label} ({zone})"


def local_time(value: datetime | str | None, zone: str, *, seconds: bool = False,
               missing: str = "") -> str:
    """``value`` as wall-clock time in ``zone``: ``2019-06-01 09:00`` (with ``:SS`` when
    ``seconds``), ``missing`` for None.

    ``value`` is a datetime or an ISO 8601 string as the core hands them out; a naive one
    is UTC, as every stored time is."""
    if value is None:
        return missing
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    shown = as_utc(moment).astimezone(ZoneInfo(zone))
    return shown.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


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


class PercentColumn(ProgressColumn):
    """The share done, ``100%`` once a task is finished (also one that had nothing to do);
    blank while the total is unknown."""

    def render(self, task: Task) -> Text:
        if task.finished:
            return Text("100%", style="progress.percentage")
        if task.total is None:
            return Text("    ")
        percent = min(int(task.percentage), 99)  # rounded down: 99.7 % is not done
        return Text(f"{percent:>3d}%", style="progress.percentage")


def progress_bar(description: str) -> Progress:
    """Progress bars on stderr counting things (rows, contacts), with their share done.

    On a terminal they are redrawn in place; otherwise (a pipe, a log file) they are
    printed once, as they stand when the ``with`` block ends. End each task with
    :func:`finish_task`, so that its clock stops and it shows the work it did.
    """
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    PercentColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=False)


def finish_task(bar: Progress, task: TaskID, completed: float | None = None) -> None:
    """End ``task``: its elapsed time stops, and it shows 100 % when its work is done.

    ``completed`` is the count done, when the caller knows it better than the sum of the
    advances (rows skipped by an operator, or done by another process). A task whose
    total was not known takes what was done as its total. A task with a known total that
    is still short of it (rows left for later) stays short: the bar does not claim more.
    """
    if completed is not None:
        bar.update(task, completed=completed)
    done = next(t for t in bar.tasks if t.id == task)
    if done.total is None:
        bar.update(task, total=max(done.completed, 0))
    elif done.completed < done.total:
        done.finished_time = None  # reached once, then an advance was taken back
    bar.stop_task(task)


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
