"""Proof of play from LED controllers: checked, stored once, rolled up into reach.

A batch is ``{"screen", "batch", "records": [{"item", "start", "end", "count"}]}``. Each
record is checked (its item is one of this screen's rows, end after start, not in the
future, not older than the channel's limit, at most :data:`MAX_SPAN` long) and then
judged plausible against its placement (:mod:`dispatcher.venues.led_plausibility`: the
campaign's dates, the schedule and the spot's length, near-duplicates). A refused record
is answered with its reason and kept in ``refused_reports`` in the same transaction as
the plays stored; it never counts. A play is stored once per (screen, item, start): a
replayed batch, or a backlog sent again after an outage, adds nothing twice. After each
batch the rows' figures are recomputed from the stored plays: ``plays``, ``impressions``
(plays x the screen's audience_per_play) and ``played`` (1 per screen). A play also
proves the screen has the item: its row becomes ``delivered``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select

from channels.base import ReachReport
from channels.delivery_ids import MAX_DELIVERY_ID, shown
from channels.venues import Screen
from dispatcher.delivery.run_context import RunPlacements
from dispatcher.reach.provider_reports import apply_reports
from dispatcher.storage.db import as_utc, insert_ignoring_conflicts, utcnow
from dispatcher.storage.tables import deliveries, plays, runs
from dispatcher.venues.led_feeds import CHANNEL, acknowledge, on_screen
from dispatcher.venues.led_plausibility import REPLAY, Booking, Ledger, Play
from dispatcher.venues.refused_reports import Refusal, record_refusals

MAX_RECORDS = 5_000
MAX_COUNT = 10_000
FUTURE_SKEW = timedelta(minutes=5)  # controllers' clocks run a little ahead
MAX_SPAN = timedelta(hours=25)  # one record: a play, or a day's plays (a DST day too)
MAX_TIME_CHARS = 40  # an ISO 8601 date-time with microseconds and offset is 32


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
    checked: list[tuple[int, Play]] = []
    for index, record in enumerate(records):
        why, found = _check(record, items, now, max_age_days)
        if found is None:
            result.rejected.append({"index": index, "reason": why})
        else:
            checked.append((index, found))
    bookings = _bookings(engine, items, {p.delivery_id for _, p in checked})
    with engine.begin() as conn:
        ledger = Ledger(bookings, _stored(conn, [p for _, p in checked]))
        touched = _store(conn, screen.id, batch_id, now, ledger, checked, result)
    result.rejected.sort(key=lambda r: int(r["index"]))
    refresh_figures(engine, touched, {screen.id: screen.audience_per_play})
    acknowledge(engine, touched, "proof of play")
    return result


def _store(conn: Connection, screen_id: str, batch_id: str, now: datetime, ledger: Ledger,
           checked: list[tuple[int, Play]], result: PopResult) -> list[int]:
    """Store the believable plays and the refusals; returns the rows the screen played."""
    statement = insert_ignoring_conflicts(plays, conn.engine).returning(plays.c.id)
    refusals: list[Refusal] = []
    touched: set[int] = set()
    for index, play in checked:
        verdict = ledger.judge(play)
        if verdict is not None and verdict.reason != REPLAY:
            result.rejected.append({"index": index, "reason": verdict.detail,
                                    "refused": verdict.reason})
            refusals.append(Refusal(CHANNEL, screen_id, verdict.reason, verdict.detail,
                                    play.delivery_id, _identity(play)))
            continue
        touched.add(play.delivery_id)
        stored = verdict is None and conn.execute(statement.values(
            delivery_id=play.delivery_id, started_at=play.start, ended_at=play.end,
            count=play.count, screen_id=screen_id, batch=batch_id, received_at=now)
        ).first() is not None
        result.accepted += stored
        result.duplicates += not stored
    record_refusals(conn, refusals)
    return sorted(touched)


def _shape(screen: Screen, batch: Mapping[str, Any]) -> tuple[str, list[Any]]:
    if batch.get("screen") != screen.id:
        named = batch.get("screen")
        raise BadBatch(f"screen {shown(named) if isinstance(named, str) else 'missing'} "
                       f"does not match the token's screen {screen.id!r}")
    batch_id, records = batch.get("batch"), batch.get("records")
    if not isinstance(batch_id, str) or not 1 <= len(batch_id) <= 64:
        raise BadBatch("batch must be the batch's id (a string of 1-64 characters)")
    if not isinstance(records, list) or len(records) > MAX_RECORDS:
        raise BadBatch(f"records must be a list of at most {MAX_RECORDS} play records")
    return batch_id, records


def _items(engine: Engine, screen_id: str) -> dict[int, tuple[int, int]]:
    """This screen's rows: delivery id -> (run id, placement index)."""
    with engine.connect() as conn:
        found = conn.execute(select(deliveries.c.id, deliveries.c.run_id,
                                    deliveries.c.placement)
                             .where(deliveries.c.channel == CHANNEL, on_screen(screen_id)))
        return {row.id: (row.run_id, row.placement) for row in found}


def _bookings(engine: Engine, items: Mapping[int, tuple[int, int]], wanted: set[int]
              ) -> dict[int, Booking]:
    placements = RunPlacements(engine, "")
    found = {}
    for delivery_id in wanted:
        run_id, index = items[delivery_id]
        campaign = placements.campaign(run_id)
        options = campaign.placements[index].options
        found[delivery_id] = Booking(timedelta(seconds=options["duration"]),
                                     int(options["plays_per_hour"]), campaign.schedule.start,
                                     campaign.schedule.end)
    return found


def _stored(conn: Connection, new: list[Play]) -> list[Play]:
    """The stored plays of ``new``'s rows that may overlap their hours or spots."""
    if not new:
        return []
    since = min(p.start for p in new) - MAX_SPAN - timedelta(hours=1)
    until = max(p.end for p in new) + timedelta(hours=1)
    query = select(plays.c.delivery_id, plays.c.started_at, plays.c.ended_at,
                   plays.c.count).where(
        plays.c.delivery_id.in_(sorted({p.delivery_id for p in new})),
        plays.c.started_at >= since, plays.c.started_at < until)
    return [Play(row_id, as_utc(start).astimezone(UTC), as_utc(end).astimezone(UTC),
                 int(count))
            for row_id, start, end, count in conn.execute(query)]


def _check(record: Any, items: Mapping[int, Any], now: datetime, max_age_days: int
           ) -> tuple[str, Play | None]:
    if not isinstance(record, dict):
        return "not an object", None
    item = _item(record.get("item"))
    if item is None or item not in items:
        return f"item {_shown(record.get('item'))} is not on this screen's playlist", None
    start, end = _time(record.get("start")), _time(record.get("end"))
    count = record.get("count", 1)
    if start is None or end is None:
        return ("start and end must be ISO 8601 date-times of years 1 to 9999 (UTC), such "
                "as 2019-06-03T09:00:15Z"), None
    if end <= start:
        return "end must be after start", None
    if end - start > MAX_SPAN:
        return (f"a record covers at most {MAX_SPAN // timedelta(hours=1)} hours (one play, "
                "or the plays of an hour or a day)"), None
    if end > now + FUTURE_SKEW:
        return "end is in the future", None
    if start < now - timedelta(days=max_age_days):
        return f"older than {max_age_days} days (the channel's pop_max_age_days)", None
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_COUNT:
        return f"count must be a whole number from 1 to {MAX_COUNT}", None
    return "", Play(item, start, end, count)


def _item(value: Any) -> int | None:
    """A delivery id given as a JSON number or a string of ASCII digits, else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 1 <= value <= MAX_DELIVERY_ID else None
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
        return None
    if len(value) > len(str(MAX_DELIVERY_ID)):
        return None
    return int(value)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**40:
        return repr(str(value))
    return f"of type {type(value).__name__}"


def _time(value: Any) -> datetime | None:
    """An ISO 8601 date-time in UTC (no zone: UTC), None when it is not one or not in
    years 1-9999 once in UTC (``0001-01-01T00:00:00+14:00`` is not)."""
    if not isinstance(value, str) or len(value) > MAX_TIME_CHARS:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


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


def _identity(play: Play) -> str:
    """The reported record, for recognising it when a batch is sent again."""
    return f"{play.start.isoformat()}/{play.end.isoformat()}/{play.count}"
