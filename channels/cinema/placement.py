"""A cinema placement: a spot booked into the preshow block of chosen screenings.

```toml
[[placements]]
channel = "cinema"
cinemas = { districts = ["丈八街道"] }        # or { ids = ["C01"] } or { all = true }
spot = { asset = "pingan-30s", duration = 30 }  # 15, 30 or 60 seconds
position = "ads"                              # the preshow block
dates = [2019-06-03, 2019-06-30]              # first and last day, the cinema's dates
dayparts = [["18:00", "23:00"]]               # optional: screenings starting then
exclude_ratings = ["NC-17"]                   # optional
max_screenings = 500                          # optional: the earliest ones
```

Each chosen screening is one row, ``screening:{system}/{cinema}/{screening}@{placement}``.
A screening whose block has no room left for the spot (its bookings by other campaigns)
is refused at validation, naming those bookings; one filled in the meantime is
skipped(capped) at planning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, time
from typing import Any

from channels.base import ContentFact, Problem, ValidationContext, toml_value
from channels.placement_checks import name_problems, unknown_keys
from channels.venues import Screening

PLACEMENT_KEYS = ("cinemas", "dates", "dayparts", "exclude_ratings", "max_screenings",
                  "name", "position", "spot")
DURATIONS = (15, 30, 60)
RATINGS = ("G", "PG", "PG-13", "R", "NC-17")
_HH_MM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def problems(options: Mapping[str, Any]) -> list[Problem]:
    found = unknown_keys(options, PLACEMENT_KEYS)
    found += _cinema_problems(options.get("cinemas"))
    spot = options.get("spot")
    if not isinstance(spot, dict) or not isinstance(spot.get("asset"), str) or \
            not spot.get("asset") or spot.get("duration") not in DURATIONS:
        found.append(Problem(("spot",), 'must be { asset = "...", duration = 15, 30 or 60 }'))
    if not isinstance(options.get("position"), str) or not options.get("position"):
        found.append(Problem(("position",), 'is required: the preshow block, such as "ads"'))
    found += _date_problems(options.get("dates"))
    found += _list_problems(options, "exclude_ratings", RATINGS)
    most = options.get("max_screenings")
    if most is not None and (not isinstance(most, int) or isinstance(most, bool) or most < 1):
        found.append(Problem(("max_screenings",), "must be a whole number of at least 1"))
    dayparts = options.get("dayparts")
    if dayparts is not None and not (isinstance(dayparts, list) and dayparts and all(
            isinstance(p, list) and len(p) == 2 and all(
                isinstance(t, str) and _HH_MM.fullmatch(t) for t in p) for p in dayparts)):
        found.append(Problem(("dayparts",), 'must be a list of ["HH:MM", "HH:MM"] pairs'))
    found += name_problems(options)
    return found


def _cinema_problems(value: Any) -> list[Problem]:
    if not isinstance(value, dict) or not value:
        return [Problem(("cinemas",), 'is required: { ids = ["C01"] }, { districts = [...] } '
                                      "or { all = true }")]
    found = [Problem(("cinemas", k), "unknown key; allowed: all, ids, districts")
             for k in value if k not in ("all", "ids", "districts")]
    if "all" in value and (value["all"] is not True or len(value) > 1):
        found.append(Problem(("cinemas", "all"), "must be true, alone"))
    for key in ("ids", "districts"):
        items = value.get(key)
        if key in value and (not isinstance(items, list) or not items
                             or not all(isinstance(i, str) for i in items)):
            found.append(Problem(("cinemas", key), "must be a non-empty list of strings"))
    return found


def _date_problems(value: Any) -> list[Problem]:
    first_last = dates(value) if isinstance(value, list) and len(value) == 2 else None
    if first_last is None:
        return [Problem(("dates",), "must be [first day, last day], such as "
                                    "[2019-06-03, 2019-06-30]")]
    if first_last[1] < first_last[0]:
        return [Problem(("dates",), "the last day is before the first")]
    return []


def _list_problems(options: Mapping[str, Any], key: str, allowed: tuple[str, ...]
                   ) -> list[Problem]:
    items = options.get(key)
    if items is None:
        return []
    if not isinstance(items, list) or not all(i in allowed for i in items):
        return [Problem((key,), f"must be a list among {', '.join(allowed)}, got "
                                f"{toml_value(items)}")]
    return []


def dates(value: Any) -> tuple[date, date] | None:
    """The placement's first and last day (TOML dates, or ISO strings once stored)."""
    try:
        return date.fromisoformat(str(value[0])), date.fromisoformat(str(value[1]))
    except (ValueError, TypeError, IndexError):
        return None


# Choosing screenings -------------------------------------------------------------------


def candidates(options: Mapping[str, Any], screenings: Sequence[Screening]) -> list[Screening]:
    """Screenings the placement asks for, before room and max_screenings: its cinemas,
    days, dayparts, ratings and a block named ``position``; earliest first."""
    chosen = options["cinemas"]
    first, last = dates(options["dates"]) or (date.min, date.max)
    excluded = set(options.get("exclude_ratings", ()))
    parts = [(time.fromisoformat(a), time.fromisoformat(b))
             for a, b in options.get("dayparts", ())]
    found = []
    for screening in screenings:
        local = screening.starts_at
        if chosen.get("ids") and screening.cinema not in chosen["ids"]:
            continue
        if chosen.get("districts") and screening.district not in chosen["districts"]:
            continue
        if not first <= local.date() <= last or screening.rating in excluded:
            continue
        if parts and not any(a <= local.time() < b for a, b in parts):
            continue
        if options["position"] in dict(screening.blocks):
            found.append(screening)
    return sorted(found, key=lambda s: (s.starts_at, s.id))


def room_left(screening: Screening, position: str, campaign: str | None = None) -> int:
    """Seconds of the block not booked (by campaigns other than ``campaign``)."""
    used = sum(b.seconds for b in screening.booked
               if b.position == position and b.campaign != campaign)
    return dict(screening.blocks)[position] - used


def conflicts(screening: Screening, position: str, campaign: str | None) -> str:
    taken = [f"{b.campaign} ({b.seconds} s)" for b in screening.booked
             if b.position == position and b.campaign != campaign]
    return (f"{screening.id} ({screening.starts_at:%Y-%m-%d %H:%M}): block {position!r} of "
            f"{dict(screening.blocks)[position]} s has {room_left(screening, position, campaign)}"
            f" s left, booked by {', '.join(taken) or 'nobody'}")


def address(screening: Screening, placement: int) -> str:
    return f"screening:{screening.system}/{screening.cinema}/{screening.id}@{placement}"


def parse_address(row_address: str) -> tuple[str, str, str]:
    """(system, cinema, screening) of a row address."""
    path = row_address.removeprefix("screening:").rsplit("@", 1)[0]
    system, cinema, screening = path.split("/", 2)
    return system, cinema, screening


def context_ready(context: ValidationContext) -> bool:
    return bool(context.screenings)


# Review ------------------------------------------------------------------------------------

LISTED = 20  # screenings listed by name for the approver; the rest are counted


def content_facts(options: Mapping[str, Any], chosen: Sequence[Screening]
                  ) -> tuple[ContentFact, ...]:
    """What one validated placement books, for the approver: the spot, where it goes,
    the cinemas, dates and dayparts asked for, and the screenings chosen (those whose
    block is full are counted apart: they will be skipped)."""
    position, length = str(options["position"]), int(options["spot"]["duration"])
    booked = [s for s in chosen if room_left(s, position) >= length]
    first, last = dates(options["dates"]) or (date.min, date.max)
    facts = [ContentFact("spot", str(options["spot"]["asset"])),
             ContentFact("duration", length), ContentFact("position", position),
             *_selection_facts(options["cinemas"]),
             ContentFact("dates", f"{first.isoformat()} - {last.isoformat()}")]
    for key in ("dayparts", "exclude_ratings"):
        if options.get(key):
            facts.append(ContentFact(key, ", ".join(
                item if isinstance(item, str) else "-".join(item) for item in options[key])))
    if options.get("max_screenings"):
        facts.append(ContentFact("max_screenings", int(options["max_screenings"])))
    facts += [ContentFact("screenings", len(booked)),
              ContentFact("screenings_full", len(chosen) - len(booked)),
              ContentFact("cinemas", len({s.cinema for s in booked})),
              ContentFact("expected_seats", sum(s.expected_seats for s in booked)),
              ContentFact("screening_list", (
                  ("cinema", "starts_at", "film", "rating", "expected_seats"),
                  *((s.cinema, f"{s.starts_at:%Y-%m-%d %H:%M}", s.film, s.rating,
                     s.expected_seats) for s in booked[:LISTED])))]
    if len(booked) > LISTED:
        facts.append(ContentFact("screenings_not_listed", len(booked) - LISTED))
    return tuple(facts)


def _selection_facts(chosen: Mapping[str, Any]) -> list[ContentFact]:
    if chosen.get("all"):
        return [ContentFact("all_cinemas", True)]
    return [ContentFact(f"cinema_{key}", ", ".join(chosen[key]))
            for key in ("ids", "districts") if chosen.get(key)]
