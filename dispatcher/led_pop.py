"""Proof of play from LED controllers: checked, stored once, rolled up into reach.

A batch is ``{"screen", "batch", "records": [{"item", "start", "end", "count"}]}``. Each
record is checked (its item is one of this screen's rows, end after start, not in the
future, not older than the channel's limit) and stored once per (screen, item, start):
a replayed batch, or a backlog sent again after an outage, adds nothing twice. After
each batch the rows' figures are recomputed from the stored plays: ``plays``,
``impressions`` (plays x the screen's audience_per_play) and ``played`` (1 per screen).
A play also proves the screen has the item: its row becomes ``delivered``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from channels.base import ReachReport, Screen
from dispatcher.db import as_utc, insert_ignoring_conflicts, utcnow
from dispatcher.led_feeds import CHANNEL, acknowledge
from dispatcher.provider_reports import apply_reports
from dispatcher.tables import deliveries, plays, runs

MAX_RECORDS = 5_000
MAX_COUNT = 10_000
FUTURE_SKEW = timedelta(minutes=5)  # controllers' clocks run a little ahead


@dataclass
class PopResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected}


class BadBatch(ValueError):
    """The batch as a whole is malformed (400)."""


def ingest(engine: Engine, screen: Screen, batch: Mapping[str, Any], max_age_days: int,
           now: datetime | None = None) -> PopResult:
    now = now or utcnow()
    batch_id, records = _shape(screen, batch)
    items = _items(engine, screen.id)
    result = PopResult()
    good: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        why, row = _check(record, items, now, max_age_days)
        if why is not None:
            result.rejected.append({"index": index, "reason": why})
        else:
            good.append(row | {"screen_id": screen.id, "batch": batch_id, "received_at": now})
    statement = insert_ignoring_conflicts(plays, engine).returning(plays.c.id)
    with engine.begin() as conn:
        for row in good:
            stored = conn.execute(statement.values(**row)).first() is not None
            result.accepted += stored
            result.duplicates += not stored
    touched = sorted({row["delivery_id"] for row in good})
    refresh_figures(engine, touched, {screen.id: screen.audience_per_play})
    acknowledge(engine, touched, "proof of play")
    return result


def _shape(screen: Screen, batch: Mapping[str, Any]) -> tuple[str, list[Any]]:
    if batch.get("screen") != screen.id:
        raise BadBatch(f"screen {batch.get('screen')!r} does not match the token's screen "
                       f"{screen.id!r}")
    batch_id, records = batch.get("batch"), batch.get("records")
    if not isinstance(batch_id, str) or not 1 <= len(batch_id) <= 64:
        raise BadBatch("batch must be the batch's id (a string of 1-64 characters)")
    if not isinstance(records, list) or len(records) > MAX_RECORDS:
        raise BadBatch(f"records must be a list of at most {MAX_RECORDS} play records")
    return batch_id, records


def _items(engine: Engine, screen_id: str) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(select(deliveries.c.id).where(
            deliveries.c.channel == CHANNEL,
            deliveries.c.target.like(f"screen:{screen_id}@%"))).scalars())


def _check(record: Any, items: set[int], now: datetime, max_age_days: int
           ) -> tuple[str | None, dict[str, Any]]:
    if not isinstance(record, dict):
        return "not an object", {}
    item = str(record.get("item", ""))
    if not item.isdigit() or int(item) not in items:
        return f"item {item!r} is not on this screen's playlist", {}
    start, end = _time(record.get("start")), _time(record.get("end"))
    count = record.get("count", 1)
    if start is None or end is None:
        return "start and end must be ISO 8601 date-times", {}
    if end <= start:
        return "end must be after start", {}
    if end > now + FUTURE_SKEW:
        return "end is in the future", {}
    if start < now - timedelta(days=max_age_days):
        return f"older than {max_age_days} days (the channel's pop_max_age_days)", {}
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_COUNT:
        return f"count must be a whole number from 1 to {MAX_COUNT}", {}
    return None, {"delivery_id": int(item), "started_at": start, "ended_at": end,
                  "count": count}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def refresh_figures(engine: Engine, delivery_ids: list[int],
                    audience: Mapping[str, int]) -> None:
    """Recompute the rows' plays, impressions and played from the stored plays."""
    if not delivery_ids:
        return
    with engine.connect() as conn:
        totals = conn.execute(select(plays.c.delivery_id, plays.c.screen_id,
                                     func.sum(plays.c.count))
                              .where(plays.c.delivery_id.in_(delivery_ids))
                              .group_by(plays.c.delivery_id, plays.c.screen_id)).all()
    reports = []
    for row, screen_id, played in totals:
        reports += [ReachReport("plays", int(played), delivery_id=row),
                    ReachReport("impressions", int(played) * audience[screen_id],
                                delivery_id=row),
                    ReachReport("played", 1, delivery_id=row)]
    apply_reports(engine, CHANNEL, reports)


@dataclass(frozen=True)
class Rollup:
    period: str  # "2019-06-03 09:00" (hour) or "2019-06-03" (day), campaign time
    screens: int
    plays: int
    impressions: int


def rollup(engine: Engine, campaign_id: str, timezone: str, by: str,
           audience: Mapping[str, int]) -> list[Rollup]:
    """Plays per hour or day (by the start of each play, in ``timezone``)."""
    query = (select(plays.c.screen_id, plays.c.started_at, plays.c.count)
             .join(deliveries, deliveries.c.id == plays.c.delivery_id)
             .join(runs, runs.c.id == deliveries.c.run_id)
             .where(runs.c.campaign_id == campaign_id))
    zone = ZoneInfo(timezone)
    fmt = "%Y-%m-%d %H:00" if by == "hour" else "%Y-%m-%d"
    counted: Counter[str] = Counter()
    seen: dict[str, set[str]] = defaultdict(set)
    reached: Counter[str] = Counter()
    with engine.connect() as conn:
        for screen_id, started, count in conn.execution_options(stream_results=True).execute(
                query):
            period = as_utc(started).astimezone(zone).strftime(fmt)
            counted[period] += count
            reached[period] += count * audience.get(screen_id, 0)
            seen[period].add(screen_id)
    return [Rollup(p, len(seen[p]), counted[p], reached[p]) for p in sorted(counted)]


def audience_of(screens: Iterable[Screen]) -> dict[str, int]:
    return {s.id: s.audience_per_play for s in screens}
