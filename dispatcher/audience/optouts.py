"""Opt-outs: addresses that must not be sent to, on one channel or on every channel (``*``).

Phone numbers are stored in E.164, the form contacts have, so the planner's check is an
exact match. Other addresses (a WeChat openid, say) are stored as written.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, tuple_

from dispatcher import registry
from dispatcher.audience.contacts import BATCH_SIZE
from dispatcher.audience.phones import normalize
from dispatcher.errors import DispatcherError, InvalidPhone
from dispatcher.files.csvfile import (
    CsvRows,
    ProgressCallback,
    RowsReport,
    Source,
    chunked,
    parsed_rows,
)
from dispatcher.storage.db import as_utc, insert_ignoring_conflicts, utcnow
from dispatcher.storage.tables import optouts

EVERY_CHANNEL = "*"
SOURCES = ("operator", "import", "provider", "reply")
_PHONE_LIKE = re.compile(r"^\+?[\d\s\-().]+$")
_CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class OptOut:
    channel: str
    address: str
    source: str
    reason: str | None
    created_at: datetime


@dataclass
class OptOutImportReport(RowsReport):
    added: int = 0  # opt-outs that were not recorded before


def check_channel(channel: str) -> str:
    """``*`` or the name of an installed channel plugin, else DispatcherError."""
    name = channel.strip().lower()
    if name == EVERY_CHANNEL:
        return name
    installed = registry.installed()
    if not _CHANNEL_NAME.match(name) or name not in installed:
        raise DispatcherError(f"channel {channel!r} is not an installed channel; use one of "
                              f"{', '.join(installed)} or \"*\" for every channel")
    return name


def normalize_address(address: str, region: str) -> str:
    """A phone number in E.164 (InvalidPhone when it is not valid); anything else as written."""
    text = address.strip()
    if not text or len(text) > 128:
        raise DispatcherError(f"address {address!r} must be 1 to 128 characters")
    if _PHONE_LIKE.match(text):
        return normalize(text, region).e164
    return text


def add(engine: Engine, address: str, channel: str = EVERY_CHANNEL, source: str = "operator",
        reason: str | None = None, *, region: str = "CN") -> bool:
    """Record an opt-out; False when it was already recorded (the first record is kept)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}")
    row = {"channel": check_channel(channel), "address": normalize_address(address, region),
           "source": source, "reason": reason or None, "created_at": utcnow()}
    statement = insert_ignoring_conflicts(optouts, engine).returning(optouts.c.address)
    with engine.begin() as conn:
        return conn.execute(statement, row).first() is not None


def is_opted_out(engine: Engine, address: str, channel: str, *, region: str = "CN") -> bool:
    """Whether ``address`` must not get messages on ``channel`` (its own or a ``*`` opt-out).

    With ``channel="*"`` only an opt-out of every channel counts.
    """
    try:
        normalized = normalize_address(address, region)
    except InvalidPhone:
        normalized = address.strip()
    channels = {channel, EVERY_CHANNEL}
    query = (select(optouts.c.address)
             .where(optouts.c.address == normalized, optouts.c.channel.in_(channels)).limit(1))
    with engine.connect() as conn:
        return conn.execute(query).first() is not None


def iter_optouts(engine: Engine, channel: str | None = None, *,
                 page_size: int = 1_000) -> Iterator[OptOut]:
    """Every opt-out, by channel then address, in pages (keyset): fine for millions.

    With ``channel`` only those that apply to it: its own and those of every channel.
    """
    query = select(optouts).order_by(optouts.c.channel, optouts.c.address).limit(page_size)
    if channel is not None:
        query = query.where(optouts.c.channel.in_({channel, EVERY_CHANNEL}))
    after: tuple[str, str] | None = None
    while True:
        page = query if after is None else query.where(
            tuple_(optouts.c.channel, optouts.c.address) > tuple_(*after))
        with engine.connect() as conn:
            rows = conn.execute(page).all()
        for row in rows:
            yield OptOut(row.channel, row.address, row.source, row.reason,
                         as_utc(row.created_at))
        if len(rows) < page_size:
            return
        after = (rows[-1].channel, rows[-1].address)


OPTIONAL_COLUMNS = ("channel", "reason")


def import_optouts(engine: Engine, source: Source, region: str, *,
                   default_channel: str = EVERY_CHANNEL,
                   progress: ProgressCallback | None = None,
                   batch_size: int = BATCH_SIZE) -> OptOutImportReport:
    """Import a CSV with a ``phone`` column (optional ``channel``, ``reason``), streaming.

    An empty channel means ``default_channel``. Invalid rows are reported with their line
    and reason; the valid ones are recorded. Importing the same file again adds nothing.
    """
    started = time.monotonic()
    default_channel = check_channel(default_channel)
    statement = insert_ignoring_conflicts(optouts, engine).returning(optouts.c.address)
    with CsvRows(source, ("phone",), OPTIONAL_COLUMNS) as rows:
        report = OptOutImportReport(source=rows.name)
        position = {c: rows.columns.index(c) for c in rows.columns}

        def parse(cells: list[str]) -> dict[str, Any]:
            return _optout_row(cells, position, region, default_channel)

        for chunk in chunked(parsed_rows(rows, report, parse), batch_size):
            batch = {(row["channel"], row["address"]): row for row in reversed(chunk)}
            report.added += _write(engine, statement, batch)
            if progress is not None:
                progress(rows.bytes_read, report.rows_read)
        if progress is not None:
            progress(rows.bytes_read, report.rows_read)
    report.elapsed = time.monotonic() - started
    return report


def _optout_row(cells: list[str], position: dict[str, int], region: str,
                default_channel: str) -> dict[str, Any]:
    channel = cells[position["channel"]] if "channel" in position else ""
    reason = cells[position["reason"]] if "reason" in position else ""
    return {"channel": check_channel(channel) if channel else default_channel,
            "address": normalize(cells[position["phone"]], region).e164,
            "source": "import", "reason": reason or None, "created_at": utcnow()}


def _write(engine: Engine, statement: Any, batch: dict[tuple[str, str], dict[str, Any]]) -> int:
    with engine.begin() as conn:
        return len(conn.execute(statement, list(batch.values())).all())
