"""Cinemas, auditoriums and screenings: CSV imports, and screenings with their bookings.

- cinemas.csv: ``id,name,district,address,system,timezone,preshow`` where ``system`` names
  the cinema's booking system in ``[channels.cinema] systems`` and ``preshow`` its preshow
  blocks with their lengths in seconds, ``ads:240;trailers:600``;
- auditoriums.csv: ``cinema,id,name,seats``;
- showtimes.csv: ``id,cinema,auditorium,film,rating,start,expected_seats,sold_seats,
  status`` (status scheduled or cancelled; start an ISO date-time, local to the cinema
  when it has no offset).

Every import updates rows in place, so schedules can be imported again as they change.
A screening that becomes cancelled after it was booked fails its bookings with that
reason (its spot will not play).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, Table, and_, func, select, update

from channels.venues import Booking, Screening
from dispatcher.delivery.run_context import RunPlacements
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.files.csvfile import CsvRows, RowsReport, Source
from dispatcher.storage.bounds import year_problem
from dispatcher.storage.db import as_utc, utcnow
from dispatcher.storage.tables import auditoriums, cinemas, deliveries, runs, screenings

CHANNEL = "cinema"
LIVE = ("planned", "sending", "sent", "delivered")  # rows that hold their seconds
RATINGS = ("G", "PG", "PG-13", "R", "NC-17")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
_BLOCK = re.compile(r"([a-z][a-z0-9_-]*):([1-9]\d{0,4})")


class RowError(ValueError):
    pass


@dataclass
class ImportReport(RowsReport):
    added: int = 0
    updated: int = 0
    cancelled_bookings: int = 0


def import_cinemas(engine: Engine, source: Source, default_timezone: str) -> ImportReport:
    columns = ("id", "name", "district", "address", "system", "timezone", "preshow")
    return _import(engine, source, ("id", "name", "system", "preshow"), columns,
                   lambda cells: _cinema(cells, default_timezone))


def import_auditoriums(engine: Engine, source: Source) -> ImportReport:
    known = _ids(engine, cinemas.c.id)
    return _import(engine, source, ("cinema", "id", "name", "seats"), (),
                   lambda cells: _auditorium(cells, known))


def import_showtimes(engine: Engine, source: Source) -> ImportReport:
    zones = _cinema_zones(engine)
    report = _import(engine, source, ("id", "cinema", "auditorium", "film", "rating", "start",
                                      "expected_seats"), ("sold_seats", "status"),
                     lambda cells: _screening(cells, zones))
    report.cancelled_bookings = fail_cancelled_bookings(engine)
    return report


Parsed = tuple[Table, dict[str, object], dict[str, object]]  # table, key, other values


def _import(engine: Engine, source: Source, required: tuple[str, ...],
            optional: tuple[str, ...], parse: Callable[[dict[str, str]], Parsed]
            ) -> ImportReport:
    """One transaction for the file: a schedule is imported whole or not at all."""
    with CsvRows(source, required, optional) as rows, engine.begin() as conn:
        report = ImportReport(source=rows.name)
        for line, cells in rows.checked(report):
            report.rows_read += 1
            try:
                table, key, values = parse(dict(zip(rows.columns, cells, strict=True)))
            except RowError as exc:
                report.reject(line, str(exc))
                continue
            added = _upsert(conn, table, key, values)
            report.added += added
            report.updated += not added
            report.imported += 1
    return report


def _upsert(conn: Connection, table: Table, key: Mapping[str, object],
            values: Mapping[str, object]) -> bool:
    where = and_(*(table.c[k] == v for k, v in key.items()))
    if conn.execute(select(table.c[next(iter(key))]).where(where)).first() is None:
        conn.execute(table.insert().values(**key, **values))
        return True
    conn.execute(table.update().where(where).values(**values))
    return False


def _required(cells: Mapping[str, str], key: str) -> str:
    if not cells.get(key):
        raise RowError(f"{key} is empty")
    return cells[key]


def _identifier(cells: Mapping[str, str], key: str) -> str:
    value = _required(cells, key)
    if not _ID.fullmatch(value):
        raise RowError(f"{key} {value!r}: use letters, digits, _ . or -")
    return value


def _cinema(cells: Mapping[str, str], default_timezone: str
            ) -> Parsed:
    zone = cells.get("timezone") or default_timezone
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RowError(f"timezone {zone!r} is not an IANA time zone") from None
    blocks = parse_blocks(_required(cells, "preshow"))
    return cinemas, {"id": _identifier(cells, "id")}, {
        "name": _required(cells, "name"), "district": cells.get("district") or None,
        "address": cells.get("address") or None, "system": _identifier(cells, "system"),
        "timezone": zone, "preshow": ";".join(f"{k}:{v}" for k, v in blocks),
        "updated_at": utcnow()}


def parse_blocks(text: str) -> tuple[tuple[str, int], ...]:
    blocks = []
    for part in text.split(";"):
        match = _BLOCK.fullmatch(part.strip())
        if match is None:
            raise RowError(f"preshow {text!r}: write block:seconds pairs such as "
                           "ads:240;trailers:600")
        blocks.append((match.group(1), int(match.group(2))))
    return tuple(blocks)


def _auditorium(cells: Mapping[str, str], known: set[str]
                ) -> Parsed:
    cinema = _required(cells, "cinema")
    if cinema not in known:
        raise RowError(f"cinema {cinema!r} is unknown: import cinemas.csv first")
    seats = cells.get("seats", "")
    if not seats.isdigit() or not 1 <= int(seats) <= 5000:
        raise RowError(f"seats {seats!r}: a whole number from 1 to 5000")
    return auditoriums, {"cinema_id": cinema, "id": _identifier(cells, "id")}, {
        "name": _required(cells, "name"), "seats": int(seats)}


def _screening(cells: Mapping[str, str], zones: Mapping[str, ZoneInfo]
               ) -> Parsed:
    cinema = _required(cells, "cinema")
    if cinema not in zones:
        raise RowError(f"cinema {cinema!r} is unknown: import cinemas.csv first")
    rating = _required(cells, "rating").upper()
    if rating not in RATINGS:
        raise RowError(f"rating {rating!r} is not one of {', '.join(RATINGS)}")
    try:
        start = datetime.fromisoformat(_required(cells, "start"))
    except ValueError:
        raise RowError(f"start {cells['start']!r} is not an ISO date-time such as "
                       "2019-06-03T19:30:00+08:00") from None
    if (problem := year_problem(start)) is not None:  # year 1 cannot be moved to UTC
        raise RowError(f"start {cells['start']!r}: {problem}")
    start = start.replace(tzinfo=zones[cinema]) if start.tzinfo is None else start
    status = (cells.get("status") or "scheduled").lower()
    if status not in ("scheduled", "cancelled"):
        raise RowError(f"status {status!r} is not scheduled or cancelled")
    return screenings, {"id": _identifier(cells, "id")}, {
        "cinema_id": cinema, "auditorium_id": _required(cells, "auditorium"),
        "film": _required(cells, "film"), "rating": rating,
        "starts_at": start.astimezone(ZoneInfo("UTC")),
        "expected_seats": _count(cells, "expected_seats"),
        "sold_seats": _count(cells, "sold_seats") if cells.get("sold_seats") else None,
        "status": status, "updated_at": utcnow()}


def _count(cells: Mapping[str, str], key: str) -> int:
    value = cells.get(key, "")
    if not value.isdigit() or int(value) > 5000:
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise RowError(f"{key} {shown!r}: a whole number of seats from 0 to 5000")
    return int(value)


def _ids(engine: Engine, column: Any) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(column)).scalars())


def _cinema_zones(engine: Engine) -> dict[str, ZoneInfo]:
    with engine.connect() as conn:
        return {c: ZoneInfo(z) for c, z in conn.execute(select(cinemas.c.id,
                                                              cinemas.c.timezone))}


# Bookings ---------------------------------------------------------------------------------


def screening_of(address: str) -> str:
    """``screening:cms/C01/C01-20190603-3-1930@0`` -> ``C01-20190603-3-1930``."""
    return address.removeprefix("screening:").rsplit("@", 1)[0].split("/")[-1]


def fail_cancelled_bookings(engine: Engine) -> int:
    """Bookings of screenings now cancelled fail with that reason (or are skipped when not
    yet sent)."""
    with engine.connect() as conn:
        cancelled = set(conn.execute(select(screenings.c.id).where(
            screenings.c.status == "cancelled")).scalars())
        rows = conn.execute(select(deliveries.c.id, deliveries.c.target).where(
            deliveries.c.channel == CHANNEL, deliveries.c.status.in_(LIVE))).all()
    doomed = [r.id for r in rows if screening_of(r.target) in cancelled]
    if not doomed:
        return 0
    with engine.begin() as conn:
        return len(advance(conn, [Transition("failed", row, code="cancelled",
                                             detail="the screening was cancelled after "
                                                    "booking") for row in doomed],
                           actor="cinema"))


def booked(engine: Engine) -> dict[str, list[Booking]]:
    """Live bookings per screening: position, campaign and seconds of each."""
    with engine.connect() as conn:
        rows = conn.execute(select(deliveries.c.target, deliveries.c.run_id,
                                   deliveries.c.placement, runs.c.campaign_id)
                            .join(runs, runs.c.id == deliveries.c.run_id)
                            .where(deliveries.c.channel == CHANNEL,
                                   deliveries.c.status.in_(LIVE))).all()
    placements = RunPlacements(engine, "")
    found: dict[str, list[Booking]] = defaultdict(list)
    for row in rows:
        options = placements.placement(row.run_id, row.placement).options
        found[screening_of(row.target)].append(Booking(
            str(options["position"]), row.campaign_id, int(options["spot"]["duration"])))
    return found


def scheduled_screenings(engine: Engine) -> list[Screening]:
    query = (select(screenings, cinemas.c.system, cinemas.c.district, cinemas.c.timezone,
                    cinemas.c.preshow, auditoriums.c.seats)
             .join(cinemas, cinemas.c.id == screenings.c.cinema_id)
             .join(auditoriums, (auditoriums.c.cinema_id == screenings.c.cinema_id)
                   & (auditoriums.c.id == screenings.c.auditorium_id), isouter=True)
             .where(screenings.c.status == "scheduled")
             .order_by(screenings.c.starts_at, screenings.c.id))
    bookings = booked(engine)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [Screening(
        id=r.id, cinema=r.cinema_id, system=r.system, district=r.district, film=r.film,
        rating=r.rating, starts_at=as_utc(r.starts_at).astimezone(ZoneInfo(r.timezone)),
        seats=r.seats or r.expected_seats, expected_seats=r.expected_seats,
        blocks=parse_blocks(r.preshow), booked=tuple(bookings.get(r.id, ())))
        for r in rows]


def cinema_summaries(engine: Engine) -> list[dict[str, Any]]:
    """Each cinema with its auditoriums, total seats and scheduled screening count."""
    scheduled = (select(screenings.c.cinema_id, func.count())
                 .where(screenings.c.status == "scheduled")
                 .group_by(screenings.c.cinema_id))
    with engine.connect() as conn:
        found = [dict(r._mapping) for r in conn.execute(select(
            cinemas.c.id, cinemas.c.name, cinemas.c.district, cinemas.c.system,
            cinemas.c.preshow).order_by(cinemas.c.id))]
        halls: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for hall in conn.execute(select(auditoriums).order_by(auditoriums.c.cinema_id,
                                                              auditoriums.c.id)):
            halls[hall.cinema_id].append({"id": hall.id, "name": hall.name,
                                          "seats": hall.seats})
        counts = {cinema_id: int(n) for cinema_id, n in conn.execute(scheduled)}
    for cinema in found:
        cinema["auditoriums"] = halls[cinema["id"]]
        cinema["seats"] = sum(hall["seats"] for hall in halls[cinema["id"]])
        cinema["screenings"] = counts.get(cinema["id"], 0)
    return found


# Tokens -----------------------------------------------------------------------------------


def rotate_token(engine: Engine, cinema_id: str) -> int | None:
    """Bump ``cinema_id``'s token version (the old token stops working at once); the new
    version, or None for an unknown cinema."""
    with engine.begin() as conn:
        found = conn.execute(update(cinemas).where(cinemas.c.id == cinema_id)
                             .values(token_version=cinemas.c.token_version + 1,
                                     updated_at=utcnow())
                             .returning(cinemas.c.token_version)).scalar()
    return None if found is None else int(found)
