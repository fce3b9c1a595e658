"""The delivery log: delivery rows filtered, newest first, in keyset pages.

A page is located by a cursor (the last row's ``updated_at`` and ``id``), not an offset,
so page 10,000 of a 3.2-million-row log costs what page 1 costs.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, and_, or_, select

from channels.base import SKIP_REASONS, STATES
from dispatcher.db import as_utc
from dispatcher.errors import DispatcherError
from dispatcher.tables import deliveries, runs

COLUMNS = ("id", "updated_at", "campaign", "run", "channel", "placement", "target", "status",
           "reason", "detail", "error_code", "provider_ref", "attempts")


@dataclass(frozen=True)
class LogFilter:
    campaign: str | None = None
    channel: str | None = None
    status: str | None = None  # a state, or "skipped:REASON"
    since: datetime | None = None
    until: datetime | None = None
    target: str | None = None  # E.164


@dataclass(frozen=True)
class Cursor:
    updated_at: datetime
    id: int

    def encode(self) -> str:
        raw = f"{as_utc(self.updated_at).isoformat()}|{self.id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            moment, row_id = raw.split("|")
            return cls(datetime.fromisoformat(moment), int(row_id))
        except (ValueError, UnicodeDecodeError):
            raise DispatcherError(f"cursor {text!r} is not one printed by `dispatcher logs`") \
                from None


def parse_status(text: str) -> tuple[str, str | None]:
    """"failed" -> ("failed", None); "skipped:capped" -> ("skipped", "capped")."""
    status, _, reason = text.partition(":")
    if status not in STATES or (reason and (status != "skipped" or reason not in SKIP_REASONS)):
        allowed = ", ".join([*STATES, *(f"skipped:{r}" for r in SKIP_REASONS)])
        raise DispatcherError(f"--status {text!r} is not a delivery state; allowed: {allowed}")
    return status, reason or None


def _query(flt: LogFilter) -> Select[Any]:
    query = (select(deliveries.c.id, deliveries.c.updated_at, runs.c.campaign_id,
                    deliveries.c.run_id, deliveries.c.channel, deliveries.c.placement,
                    deliveries.c.target, deliveries.c.status, deliveries.c.reason,
                    deliveries.c.detail, deliveries.c.error_code, deliveries.c.provider_ref,
                    deliveries.c.attempts)
             .join(runs, runs.c.id == deliveries.c.run_id)
             .order_by(deliveries.c.updated_at.desc(), deliveries.c.id.desc()))
    if flt.campaign:
        query = query.where(runs.c.campaign_id == flt.campaign)
    if flt.channel:
        query = query.where(deliveries.c.channel == flt.channel)
    if flt.status:
        status, reason = parse_status(flt.status)
        query = query.where(deliveries.c.status == status)
        if reason:
            query = query.where(deliveries.c.reason == reason)
    if flt.since:
        query = query.where(deliveries.c.updated_at >= flt.since)
    if flt.until:
        query = query.where(deliveries.c.updated_at < flt.until)
    if flt.target:
        query = query.where(deliveries.c.target == flt.target)
    return query


def page(engine: Engine, flt: LogFilter, limit: int,
         after: Cursor | None = None) -> tuple[list[dict[str, Any]], Cursor | None]:
    """Up to ``limit`` rows after ``after``, and the cursor of the next page (None at the end)."""
    query = _query(flt)
    if after is not None:
        query = query.where(or_(
            deliveries.c.updated_at < after.updated_at,
            and_(deliveries.c.updated_at == after.updated_at, deliveries.c.id < after.id)))
    with engine.connect() as conn:
        rows = [dict(zip(COLUMNS, r, strict=True))
                for r in conn.execute(query.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row["updated_at"] = as_utc(row["updated_at"])
    last = rows[-1] if rows and more else None
    return rows, (Cursor(last["updated_at"], last["id"]) if last else None)


def all_rows(engine: Engine, flt: LogFilter, page_size: int = 5_000,
             after: Cursor | None = None) -> Iterator[dict[str, Any]]:
    """Every matching row, newest first, one page in memory at a time (for exports)."""
    while True:
        rows, after = page(engine, flt, page_size, after)
        yield from rows
        if after is None:
            return
