"""Cinemas' play logs: each booking played, dropped or cancelled, with admissions.

A log is ``{"cinema", "batch", "entries": [{"booking", "screening", "status", "at",
"admissions"}]}``. Entries move rows forward only (a replayed log changes nothing):
played -> ``delivered`` with the screening's admissions stored as the row's figures
(``screenings`` 1, ``admissions`` n; a repeat replaces them, so a corrected count never
adds); dropped -> ``undelivered`` (the spot did not play); cancelled -> ``failed`` and
the screening marked cancelled.

A cinema's entries name only its own bookings: a row is the cinema's when its address
names exactly that cinema (ids are compared whole, never as patterns). Entries that are
malformed or out of range are rejected in the answer. Entries that cannot be true are
refused: rejected in the answer with a code, kept in ``refused_reports`` (in the same
transaction as the log) for operators, and never counted in reach:

- ``above_capacity``: more admissions than the auditorium's seats (5,000, the largest
  auditorium an import accepts, when the screening's auditorium was not imported);
- ``outside_dates``: a play dated before the campaign's start or after the later of its
  end and the placement's last day (end of that day, the cinema's time), with
  :data:`GRACE` either side;
- ``duplicate``: a booking already reported played at another time (the first report
  stands; the same ``at`` again is a replay or a corrected count), or reported played
  once it was settled otherwise (dropped, cancelled, refused by the cinema's system).

The time of the first play reported is kept in the row's ``provider_data`` (``played
<UTC ISO time>``): what the cinema answered that its later reports refer to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select, update

from channels.base import ReachReport
from channels.cinema import placement as cp
from dispatcher.campaigns.model import Campaign
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.reach.provider_reports import store_reports
from dispatcher.storage.db import utcnow
from dispatcher.storage.tables import (
    auditoriums,
    campaign_versions,
    cinemas,
    deliveries,
    runs,
    screenings,
)
from dispatcher.venues.refused_reports import Refusal, record_refusals

CHANNEL = "cinema"
ACTOR = "cinema"
STATES = {"played": ("delivered", None, "the cinema's play log confirms the spot played"),
          "dropped": ("undelivered", "dropped", "the cinema reports the spot did not play"),
          "cancelled": ("failed", "cancelled", "the screening was cancelled after booking")}
MAX_ENTRIES = 5_000
MAX_SEATS = 5_000  # the largest auditorium `dispatcher cinemas import` accepts
GRACE = timedelta(days=1)  # plays dated this far outside the campaign's dates still count
MAX_ID = 2**63 - 1
_BOOKING = re.compile(r"[1-9][0-9]{0,18}")
_PLAYED = "played "  # provider_data prefix: the time of the first play reported


class BadLog(ValueError):
    """The log as a whole is malformed (400)."""


@dataclass
class LogResult:
    applied: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"applied": self.applied, "unchanged": self.unchanged,
                "rejected": self.rejected}


@dataclass(frozen=True)
class Entry:
    """One well-formed entry."""

    index: int
    booking: int
    screening: str
    status: str
    at: datetime | None  # UTC; required for played
    admissions: int | None  # played only


@dataclass(frozen=True)
class Booked:
    """One of the cinema's booking rows, with what its reports are checked against."""

    row: int
    screening: str
    status: str
    seats: int
    first: datetime  # the earliest and latest moment a play may be dated
    last: datetime
    played_at: str | None  # the first play reported, UTC ISO


def ingest(engine: Engine, cinema: str, log: Mapping[str, Any]) -> LogResult:
    """Apply ``cinema``'s log: state changes, figures and refusals in one transaction."""
    entries = log.get("entries")
    if not isinstance(log.get("batch"), str) or not isinstance(entries, list) or \
            len(entries) > MAX_ENTRIES:
        raise BadLog(f'a play log is {{"cinema", "batch", "entries": [...]}} with at most '
                     f"{MAX_ENTRIES} entries")
    result = LogResult()
    parsed: list[Entry] = []
    for index, raw in enumerate(entries):
        entry = parse_entry(index, raw)
        if isinstance(entry, str):
            result.rejected.append({"index": index, "reason": entry})
        else:
            parsed.append(entry)
    with engine.begin() as conn:
        booked = bookings_of(conn, cinema, {entry.booking for entry in parsed})
        refusals: list[Refusal] = []
        reports: list[ReachReport] = []
        for entry in parsed:
            reports += _apply(conn, cinema, entry, booked, result, refusals)
        record_refusals(conn, refusals)
        store_reports(conn, CHANNEL, reports)
    result.rejected.sort(key=lambda rejected: int(rejected["index"]))
    return result


def _apply(conn: Connection, cinema: str, entry: Entry, booked: dict[int, Booked],
           result: LogResult, refusals: list[Refusal]) -> list[ReachReport]:
    row = booked.get(entry.booking)
    why = _mismatch(entry, row)
    if why is not None:
        result.rejected.append({"index": entry.index, "reason": why})
        return []
    assert row is not None
    refusal = implausible(cinema, entry, row)
    if refusal is not None:
        refusals.append(refusal)
        result.rejected.append({"index": entry.index, "code": refusal.reason,
                                "reason": refusal.detail})
        return []
    state, code, detail = STATES[entry.status]
    moved = bool(advance(conn, [Transition(state, row.row, code=code, detail=detail)],
                         actor=ACTOR))
    result.applied += moved
    result.unchanged += not moved
    now = state if moved else row.status
    booked[entry.booking] = row = replace(row, status=now)
    if now != state:
        return []  # an earlier report settled the row otherwise: nothing to add
    if entry.status == "cancelled":
        conn.execute(update(screenings).where(screenings.c.id == row.screening)
                     .values(status="cancelled", updated_at=utcnow()))
    if entry.status != "played":
        return []
    return _played(conn, entry, row, booked)


def _played(conn: Connection, entry: Entry, row: Booked, booked: dict[int, Booked]
            ) -> list[ReachReport]:
    assert entry.at is not None and entry.admissions is not None
    if row.played_at is None:
        played = entry.at.isoformat()
        conn.execute(update(deliveries).where(deliveries.c.id == row.row)
                     .values(provider_data=_PLAYED + played))
        booked[entry.booking] = replace(row, played_at=played)
    conn.execute(update(screenings).where(screenings.c.id == row.screening)
                 .values(admissions=entry.admissions, updated_at=utcnow()))
    return [ReachReport("screenings", 1, delivery_id=row.row),
            ReachReport("admissions", entry.admissions, delivery_id=row.row)]


# Parsing --------------------------------------------------------------------------------


def parse_entry(index: int, raw: Any) -> Entry | str:
    """The entry, or why it is malformed or out of range."""
    if not isinstance(raw, dict):
        return "not an object"
    booking = _booking(raw.get("booking"))
    if booking is None:
        return (f"booking {_shown(raw.get('booking'))} is not a booking id (a whole number "
                f"from 1 to {MAX_ID}, as sent with the booking)")
    screening, status = raw.get("screening"), raw.get("status")
    if not isinstance(screening, str) or not 0 < len(screening) <= 96:
        return f"booking {booking}: screening must be the screening's id"
    if status not in STATES:
        return f"booking {booking}: status must be one of {', '.join(STATES)}"
    at = _moment(raw.get("at"))
    if isinstance(at, str) or (at is None and status == "played"):
        return f"booking {booking}: at must be an ISO date-time with its offset, such as " \
               f"2019-06-03T19:30:00+08:00 or 2019-06-03T11:30:00Z"
    admissions = raw.get("admissions")
    if status != "played":
        admissions = None
    elif isinstance(admissions, bool) or not isinstance(admissions, int) or admissions < 0:
        return f"booking {booking}: a played entry needs admissions (a whole number, 0 or more)"
    return Entry(index, booking, screening, status, at, admissions)


def _booking(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _BOOKING.fullmatch(value) or int(value) > MAX_ID:
        return None
    return int(value)


def _moment(value: Any) -> datetime | str | None:
    """A UTC time, None when absent, or a string when it is not a date-time we accept."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        return "bad"
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            return "bad"
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        return "bad"


def _shown(value: Any) -> str:
    """A value a venue sent, short enough to echo."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# Plausibility ---------------------------------------------------------------------------


def _mismatch(entry: Entry, row: Booked | None) -> str | None:
    if row is None:
        return f"booking '{entry.booking}' is not one of this cinema's"
    if entry.screening != row.screening:
        return f"booking {entry.booking} is for screening {row.screening}"
    return None


def implausible(cinema: str, entry: Entry, row: Booked) -> Refusal | None:
    """Why ``entry`` cannot be true of ``row``, or None. Only plays add figures, so only
    plays are checked."""
    if entry.status != "played":
        return None
    assert entry.at is not None and entry.admissions is not None
    at = entry.at.isoformat()

    def refuse(reason: str, detail: str) -> Refusal:
        return Refusal(CHANNEL, cinema, reason, f"booking {entry.booking} (screening "
                                                f"{row.screening}): {detail}", row.row,
                       record=f"{at}/{entry.admissions}")

    if row.status in ("undelivered", "failed", "skipped"):
        return refuse("duplicate", f"reported played at {at}, but the booking is already "
                                   f"{row.status} (dropped, cancelled or refused); the first "
                                   "outcome stands")
    if row.played_at is not None and row.played_at != at:
        return refuse("duplicate", f"reported played at {at}, already reported played at "
                                   f"{row.played_at}; one booking plays once")
    if entry.admissions > row.seats:
        return refuse("above_capacity", f"{entry.admissions} admissions reported, the "
                                        f"auditorium has {row.seats} seats")
    if not row.first <= entry.at <= row.last:
        return refuse("outside_dates", f"played at {at}, outside the campaign's dates "
                                       f"{row.first.isoformat()} to {row.last.isoformat()} "
                                       f"({GRACE.days} day's grace included)")
    return None


# The cinema's rows ----------------------------------------------------------------------


def bookings_of(conn: Connection, cinema: str, ids: Iterable[int]) -> dict[int, Booked]:
    """The rows among ``ids`` that are bookings of ``cinema``'s screenings (exactly this
    cinema: its id compared whole), with their seats and date windows."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found = conn.execute(select(deliveries.c.id, deliveries.c.target, deliveries.c.status,
                                deliveries.c.run_id, deliveries.c.placement,
                                deliveries.c.provider_data)
                         .where(deliveries.c.channel == CHANNEL,
                                deliveries.c.id.in_(wanted))).all()
    rows = [(row, _screening_of(row.target, cinema)) for row in found]
    mine = [(row, screening) for row, screening in rows if screening is not None]
    if not mine:
        return {}
    seats = _seats(conn, cinema, {screening for _, screening in mine})
    windows = _windows(conn, cinema, {(row.run_id, row.placement) for row, _ in mine})
    return {row.id: Booked(row.id, screening, row.status,
                           seats[screening],
                           *windows[(row.run_id, row.placement)],
                           _played_at(row.provider_data))
            for row, screening in mine if screening in seats}


def _screening_of(target: str, cinema: str) -> str | None:
    """The screening a row address books when the address names ``cinema`` exactly."""
    try:
        _, named, screening = cp.parse_address(target)
    except ValueError:
        return None
    return screening if named == cinema else None


def _seats(conn: Connection, cinema: str, ids: set[str]) -> dict[str, int]:
    """The cinema's screenings among ``ids`` and their auditoriums' seats (MAX_SEATS when
    the auditorium was not imported)."""
    query = (select(screenings.c.id, auditoriums.c.seats)
             .outerjoin(auditoriums, (auditoriums.c.cinema_id == screenings.c.cinema_id)
                        & (auditoriums.c.id == screenings.c.auditorium_id))
             .where(screenings.c.cinema_id == cinema, screenings.c.id.in_(sorted(ids))))
    return {r.id: MAX_SEATS if r.seats is None else int(r.seats)
            for r in conn.execute(query)}


def _windows(conn: Connection, cinema: str, keys: set[tuple[int, int]]
             ) -> dict[tuple[int, int], tuple[datetime, datetime]]:
    """Per (run, placement): the first and last moment a play may be dated."""
    zone = ZoneInfo(conn.execute(select(cinemas.c.timezone)
                                 .where(cinemas.c.id == cinema)).scalar() or "UTC")
    query = (select(runs.c.id, campaign_versions.c.definition)
             .join(campaign_versions, (campaign_versions.c.campaign_id == runs.c.campaign_id)
                   & (campaign_versions.c.version == runs.c.version))
             .where(runs.c.id.in_(sorted({run for run, _ in keys}))))
    campaigns = {r.id: Campaign.from_json(json.loads(r.definition))
                 for r in conn.execute(query)}
    return {(run, placement): campaign_window(campaigns[run], placement, zone)
            for run, placement in keys}


def campaign_window(campaign: Campaign, placement: int, zone: ZoneInfo
                    ) -> tuple[datetime, datetime]:
    """From the campaign's start to the later of its end and the placement's last day (to
    midnight after it, in the cinema's time zone), :data:`GRACE` either side (UTC)."""
    schedule = campaign.schedule
    last = schedule.end or schedule.start
    days = cp.dates(campaign.placements[placement].options.get("dates"))
    if days is not None:
        end_of_days = _shifted(datetime.combine(days[1], time(), tzinfo=zone),
                               timedelta(days=1))
        last = max(last, end_of_days)
    return _shifted(schedule.start, -GRACE), _shifted(last, GRACE)


def _shifted(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta`` in UTC, held at the ends of the calendar."""
    try:
        return (moment + delta).astimezone(UTC)
    except OverflowError:
        return (datetime.min if delta < timedelta(0) else datetime.max).replace(tzinfo=UTC)


def _played_at(data: str | None) -> str | None:
    return data.removeprefix(_PLAYED) if data and data.startswith(_PLAYED) else None
