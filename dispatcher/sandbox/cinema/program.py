"""The cinemas and screenings a cinema system runs, read from the dispatcher's CSV rows.

Only what the system needs is kept: each cinema's pre-show blocks (``ads:240`` gives the
``ads`` block 240 seconds), each screening's start (as microseconds since the Unix epoch,
UTC), expected attendance and its auditorium's seats, which cap the admissions drawn.
Screenings are ordered by start, then id. A showtime ``status`` of ``cancelled`` gives a
screening that is cancelled from the start.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dispatcher.sandbox.clock import to_us

STATUSES = ("scheduled", "cancelled")


@dataclass(frozen=True, slots=True)
class Cinema:
    id: str
    blocks: Mapping[str, int]  # pre-show block -> seconds


@dataclass(frozen=True, slots=True)
class Screening:
    id: str
    cinema: str
    auditorium: str
    film: str
    start: datetime  # local, with its offset
    start_us: int
    expected: int
    seats: int
    cancelled: bool  # in the showtimes already


@dataclass(frozen=True)
class CinemaProgram:
    cinemas: Mapping[str, Cinema]
    screenings: Mapping[str, Screening]  # by start, then id


def parse_preshow(text: str) -> dict[str, int]:
    """``ads:240;trailers:600`` -> {"ads": 240, "trailers": 600}."""
    blocks: dict[str, int] = {}
    for part in filter(None, (piece.strip() for piece in text.split(";"))):
        name, colon, seconds = part.partition(":")
        name = name.strip()
        if not colon or not name or not seconds.strip().isdigit() or name in blocks:
            raise ValueError(f"bad pre-show block {part!r} (want name:seconds, e.g. ads:240)")
        blocks[name] = int(seconds)
    return blocks


def build_program(cinemas: Iterable[Mapping[str, str]],
                  auditoriums: Iterable[Mapping[str, str]],
                  showtimes: Iterable[Mapping[str, str]]) -> CinemaProgram:
    """The program from cinemas, auditoriums and showtimes rows (as :mod:`csv` reads them);
    a ValueError names the first bad row."""
    found: dict[str, Cinema] = {}
    for n, row in enumerate(cinemas, start=1):
        cinema_id = _field(row, "id", f"cinema row {n}")
        try:
            found[cinema_id] = Cinema(cinema_id, parse_preshow(row.get("preshow") or ""))
        except ValueError as exc:
            raise ValueError(f"cinema {cinema_id}: {exc}") from None
    seats: dict[tuple[str, str], int] = {}
    for n, row in enumerate(auditoriums, start=1):
        where = f"auditorium row {n}"
        key = (_field(row, "cinema", where), _field(row, "id", where))
        seats[key] = _count(row, "seats", where)
    screenings = [_screening(row, n, found, seats) for n, row in enumerate(showtimes, start=1)]
    screenings.sort(key=lambda s: (s.start_us, s.id))
    by_id = {s.id: s for s in screenings}
    if len(by_id) != len(screenings):
        raise ValueError("showtime ids must be unique")
    return CinemaProgram(found, by_id)


def read_program(cinemas: str | Path, auditoriums: str | Path,
                 showtimes: str | Path) -> CinemaProgram:
    """The program from the three CSV files (sample formats in dispatcher.demo.cinema_samples)."""
    return build_program(_rows(cinemas), _rows(auditoriums), _rows(showtimes))


def _screening(row: Mapping[str, str], n: int, cinemas: Mapping[str, Cinema],
               seats: Mapping[tuple[str, str], int]) -> Screening:
    where = f"showtime row {n}"
    screening_id = _field(row, "id", where)
    where = f"showtime {screening_id}"
    cinema, auditorium = _field(row, "cinema", where), _field(row, "auditorium", where)
    if cinema not in cinemas:
        raise ValueError(f"{where}: unknown cinema {cinema}")
    if (cinema, auditorium) not in seats:
        raise ValueError(f"{where}: unknown auditorium {auditorium} of {cinema}")
    try:
        start = datetime.fromisoformat(_field(row, "start", where))
    except ValueError:
        raise ValueError(f"{where}: start is not an ISO date-time") from None
    if start.utcoffset() is None:
        raise ValueError(f"{where}: start needs an offset, e.g. +08:00")
    status = (row.get("status") or "scheduled").strip()
    if status not in STATUSES:
        raise ValueError(f"{where}: status must be one of {', '.join(STATUSES)}")
    return Screening(id=screening_id, cinema=cinema, auditorium=auditorium,
                     film=(row.get("film") or "").strip(), start=start, start_us=to_us(start),
                     expected=_count(row, "expected_seats", where),
                     seats=seats[(cinema, auditorium)], cancelled=status == "cancelled")


def _field(row: Mapping[str, str], name: str, where: str) -> str:
    value = (row.get(name) or "").strip()
    if not value:
        raise ValueError(f"{where}: {name} must not be empty")
    return value


def _count(row: Mapping[str, str], name: str, where: str) -> int:
    value = (row.get(name) or "").strip()
    if not value.isdigit():
        raise ValueError(f"{where}: {name} must be a whole number, got {value!r}")
    return int(value)


def _rows(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))
