"""Venue reports refused as implausible, kept with their reason for operators.

Cinemas and LED controllers report admissions and plays; a figure that cannot be true
(more admissions than seats, more plays than the schedule allows, a play outside the
campaign's dates, a near-duplicate) is refused: it never reaches reach figures, and a
row here says what was reported, what was allowed, and when.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from dispatcher.storage.db import insert_ignoring_conflicts, utcnow
from dispatcher.storage.tables import refused_reports

MAX_DETAIL = 500  # characters of the detail kept: a venue's text is not ours to store whole


@dataclass(frozen=True)
class Refusal:
    channel: str
    venue: str
    reason: str  # machine name: above_capacity, above_schedule, outside_dates, duplicate
    detail: str  # for operators: what was reported, what was allowed
    delivery_id: int | None = None
    record: str = ""  # what identifies the record reported (its start, count): replays match


@dataclass(frozen=True)
class RefusedReport:
    channel: str
    venue: str
    delivery_id: int | None
    reason: str
    detail: str
    received_at: datetime


def record_refusals(conn: Connection, refusals: Sequence[Refusal]) -> None:
    """Store ``refusals`` in the caller's transaction (with the report that held them);
    one already stored (a batch sent again) is not stored twice."""
    if not refusals:
        return
    now = utcnow()
    rows: dict[str, dict[str, Any]] = {}
    for r in refusals:
        venue, detail = r.venue[:200], r.detail[:MAX_DETAIL]
        fingerprint = _fingerprint(r.channel, venue, r.delivery_id, r.reason, detail, r.record)
        rows[fingerprint] = {"channel": r.channel, "venue": venue, "delivery_id": r.delivery_id,
                             "reason": r.reason, "detail": detail, "received_at": now,
                             "fingerprint": fingerprint}
    conn.execute(insert_ignoring_conflicts(refused_reports, conn.engine), list(rows.values()))


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def recent_refusals(engine: Engine, channel: str | None = None, limit: int = 100
                    ) -> list[RefusedReport]:
    """The newest refused reports, of one channel or of all."""
    query = select(refused_reports).order_by(refused_reports.c.id.desc()).limit(limit)
    if channel is not None:
        query = query.where(refused_reports.c.channel == channel)
    with engine.connect() as conn:
        return [RefusedReport(r.channel, r.venue, r.delivery_id, r.reason, r.detail,
                              r.received_at) for r in conn.execute(query)]
