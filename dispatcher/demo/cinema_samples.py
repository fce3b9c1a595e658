"""Sample cinemas, auditoriums and a month of showtimes (for the demo, tests and sandbox).

Twelve multiplexes of well-known chains across the sample districts, 4 to 8 auditoriums
each, and 4 to 6 screenings per auditorium and day starting between 10:00 and 23:00:
about 10,000 screenings a month. Expected attendance is a share of the seats that rises
in the evening and at weekends and follows the film's pull. Every draw comes from a
``random.Random`` seeded with a string naming what it decides, so the same seed gives the
same files, and a cinema's rows do not change when more cinemas are asked for.

The CSV formats are fixed (the dispatcher imports them):

- cinemas.csv ``id,name,district,address,system,timezone,preshow``; ``preshow`` lists
  the pre-show blocks and their seconds, ``ads:240;trailers:600``;
- auditoriums.csv ``cinema,id,name,seats``;
- showtimes.csv ``id,cinema,auditorium,film,rating,start,expected_seats,sold_seats,
  status``, ``start`` local ISO time with its offset, ``sold_seats`` empty.
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatcher.demo.contact_samples import DISTRICTS

CINEMA_COLUMNS = ("id", "name", "district", "address", "system", "timezone", "preshow")
AUDITORIUM_COLUMNS = ("cinema", "id", "name", "seats")
SHOWTIME_COLUMNS = ("id", "cinema", "auditorium", "film", "rating", "start",
                    "expected_seats", "sold_seats", "status")
RATINGS = ("G", "PG", "PG-13", "R", "NC-17")
TIMEZONE = "Asia/Shanghai"
PRESHOW = "ads:240;trailers:600"
PRESHOW_S = 840  # the blocks above: the film starts this long after the screening
TURNAROUND_MIN = 15  # cleaning and seating between two screenings
FIRST_START = time(10, 0)
LAST_START = time(23, 0)

CHAINS = ("万达影城", "CGV影城", "博纳国际影城", "横店电影城", "金逸影城", "大地影院",
          "卢米埃影城", "SFC上影影城", "中影国际影城", "太平洋电影城", "UME影城",
          "耀莱成龙影城", "百老汇影城", "保利国际影城")
ROADS = ("科技路", "高新路", "唐延路", "锦业路", "丈八北路", "太白南路", "沣惠南路",
         "团结南路", "光泰路", "天谷八路", "科技二路", "唐延南路")
# (title, rating, runtime in minutes, pull: relative demand and share of auditoriums)
FILMS: tuple[tuple[str, str, int, float], ...] = (
    ("星河归途", "PG-13", 125, 3.0), ("小狐狸的冬天", "G", 92, 1.6),
    ("长安夜行", "PG-13", 118, 2.2), ("机长", "PG", 111, 2.0),
    ("追光少年", "PG", 104, 1.2), ("无声证词", "R", 132, 1.0),
    ("海底两万里", "G", 98, 0.9), ("暗涌", "R", 121, 0.7),
    ("我们的夏天", "PG", 107, 0.8), ("边境线", "NC-17", 116, 0.3),
    ("熊猫快递", "G", 89, 1.1), ("时间的答案", "PG-13", 141, 0.6),
)
# Share of the seats expected to be taken, by start hour (before the day's factors).
_HOURLY_SHARE = ((12, 0.14), (17, 0.22), (19, 0.34), (22, 0.46), (24, 0.24))

Row = dict[str, str]


def sample_cinemas(count: int = 12, seed: int = 0) -> tuple[list[Row], list[Row]]:
    """``count`` cinemas (ids ``C01``...) and their auditoriums: (cinemas, auditoriums)."""
    if not 1 <= count <= 999:
        raise ValueError(f"count must be from 1 to 999, got {count}")
    cinemas: list[Row] = []
    auditoriums: list[Row] = []
    districts = [name for name, _ in DISTRICTS]
    weights = [weight for _, weight in DISTRICTS]
    for n in range(1, count + 1):
        rng = random.Random(f"{seed}:cinema:{n}")
        cinema_id = f"C{n:02d}"
        district = rng.choices(districts, weights)[0]
        chain = CHAINS[(n - 1) % len(CHAINS)]
        cinemas.append({
            "id": cinema_id, "name": f"{chain}({district.removesuffix('街道')}店)",
            "district": district,
            "address": f"西安市高新区{rng.choice(ROADS)}{rng.randint(1, 300)}号",
            "system": "cms", "timezone": TIMEZONE, "preshow": PRESHOW})
        for hall in range(1, rng.randint(4, 8) + 1):
            seats = 10 * rng.randint(8, 40)
            auditoriums.append({"cinema": cinema_id, "id": str(hall), "name": f"{hall}号厅",
                                "seats": str(seats)})
    return cinemas, auditoriums


def sample_showtimes(cinemas: Sequence[Mapping[str, str]],
                     auditoriums: Iterable[Mapping[str, str]], start: date,
                     days: int = 30, seed: int = 0) -> list[Row]:
    """The screenings of ``days`` days from ``start``, ordered by cinema, day, auditorium
    and time; each auditorium shows one or two films a day."""
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    zones = {row["id"]: ZoneInfo(row.get("timezone") or TIMEZONE) for row in cinemas}
    halls: dict[str, list[Mapping[str, str]]] = {cinema: [] for cinema in zones}
    for hall in auditoriums:
        if hall["cinema"] in halls:
            halls[hall["cinema"]].append(hall)
    rows: list[Row] = []
    for cinema, zone in zones.items():
        for offset in range(days):
            day = start + timedelta(days=offset)
            for hall in halls[cinema]:
                rows.extend(_hall_day(cinema, hall, day, zone, seed))
    return rows


def _hall_day(cinema: str, hall: Mapping[str, str], day: date, zone: ZoneInfo,
              seed: int) -> list[Row]:
    """One auditorium's screenings of one day."""
    rng = random.Random(f"{seed}:day:{cinema}:{hall['id']}:{day.isoformat()}")
    titles = rng.choices(range(len(FILMS)), [film[3] for film in FILMS], k=2)
    if rng.random() < 0.6:
        titles[1] = titles[0]
    seats = int(hall["seats"])
    weekend = day.weekday() >= 5
    rows: list[Row] = []
    for minute, title in _starts(rng, titles):
        name, rating, _, pull = FILMS[title]
        moment = datetime.combine(day, time(minute // 60, minute % 60), zone)
        expected = _expected(rng, seats, minute // 60, weekend, pull)
        rows.append({
            "id": f"{cinema}-{day:%Y%m%d}-{hall['id']}-{moment:%H%M}", "cinema": cinema,
            "auditorium": hall["id"], "film": name, "rating": rating,
            "start": moment.isoformat(), "expected_seats": str(expected),
            "sold_seats": "", "status": "scheduled"})
    return rows


def _starts(rng: random.Random, titles: list[int]) -> list[tuple[int, int]]:
    """(minute of the day, film) of 4 to 6 screenings starting from 10:00 to 23:00; the
    first half of the day shows ``titles[0]``, the rest ``titles[1]``."""
    first, last = _minutes(FIRST_START), _minutes(LAST_START)
    wanted = rng.randint(4, 6)
    while True:
        films = [titles[0] if i < (wanted + 1) // 2 else titles[1] for i in range(wanted)]
        slots = [_slot(FILMS[film][2]) for film in films]
        slack = last - first - sum(slots[:-1])
        if slack >= 0 or wanted == 4:
            break
        wanted -= 1
    minute = first + 5 * rng.randint(0, max(0, min(slack, 90)) // 5)
    starts = []
    for film, slot in zip(films, slots, strict=True):
        starts.append((minute, film))
        minute += slot
    return starts


def _slot(runtime_min: int) -> int:
    """Minutes from one start to the next: pre-show, film, turnaround, to 5 minutes."""
    minutes = PRESHOW_S // 60 + runtime_min + TURNAROUND_MIN
    return -(-minutes // 5) * 5


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _expected(rng: random.Random, seats: int, hour: int, weekend: bool, pull: float) -> int:
    share = next(value for until, value in _HOURLY_SHARE if hour < until)
    share *= (1.45 if weekend else 1.0) * (0.6 + 0.2 * pull) * rng.uniform(0.75, 1.25)
    return max(0, min(seats, round(seats * share)))


def write_csv(path: str | os.PathLike[str], rows: Iterable[Mapping[str, str]],
              columns: Sequence[str]) -> None:
    """Write ``rows`` with a header of ``columns`` (UTF-8, no BOM)."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
