"""The LED screen registry: CSV import, listing, groups by rule.

A screens CSV has one row per screen::

    id,name,kind,district,area,address,latitude,longitude,resolution,timezone,
    audience_per_play,audience_source,controller,endpoint,tags,formats

``kind`` is building, outdoor, facade or shopfront; ``area`` one of the four area types;
``resolution`` WIDTHxHEIGHT; ``audience_per_play`` the people one play is estimated to
reach, and ``audience_source`` how that was estimated (it is printed beside every
impressions figure); ``controller`` pull (the screen fetches its feed) or push (the
dispatcher posts playlists to ``endpoint``); ``tags`` and ``formats`` are ``;``-separated
(formats default to jpg;png;mp4;text). Importing again updates screens in place.

A group is a rule over the registry: ``key=value[,value...]`` terms joined by spaces,
all of which must hold (``kind=outdoor,facade district=高新区``, ``tag=lobby``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, delete, select

from channels.base import AREA_TYPES
from channels.venues import Screen
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.files.csvfile import CsvRows, RowsReport, Source
from dispatcher.storage.db import insert_ignoring_conflicts, utcnow
from dispatcher.storage.tables import screen_groups, screens

KINDS = ("building", "outdoor", "facade", "shopfront")
CONTROLLERS = ("pull", "push")
REQUIRED = ("id", "name", "kind", "resolution", "audience_per_play", "audience_source",
            "controller")
OPTIONAL = ("district", "area", "address", "latitude", "longitude", "timezone", "endpoint",
            "tags", "formats")
DEFAULT_FORMATS = ("jpg", "png", "mp4", "text")
RULE_KEYS = ("id", "kind", "district", "area", "tag", "controller")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_RESOLUTION = re.compile(r"([1-9]\d{1,4})[xX×]([1-9]\d{1,4})")


class RowError(ValueError):
    """One CSV row is wrong: the message says which column and what is allowed."""


@dataclass
class ScreensReport(RowsReport):
    added: int = 0
    updated: int = 0


def import_screens(engine: Engine, source: Source, default_timezone: str) -> ScreensReport:
    """Add or update the screens in a CSV; invalid rows are reported by line."""
    with CsvRows(source, REQUIRED, OPTIONAL) as rows:
        report = ScreensReport(source=rows.name)
        with engine.connect() as conn:
            known = set(conn.execute(select(screens.c.id)).scalars())
        for line, cells in rows.checked(report):
            report.rows_read += 1
            try:
                values = _row(dict(zip(rows.columns, cells, strict=True)), default_timezone)
            except RowError as exc:
                report.reject(line, str(exc))
                continue
            _store(engine, values, values["id"] in known)
            report.added += values["id"] not in known
            report.updated += values["id"] in known
            known.add(values["id"])
            report.imported += 1
    return report


def _store(engine: Engine, values: dict[str, object], exists: bool) -> None:
    with engine.begin() as conn:
        if exists:
            conn.execute(screens.update().where(screens.c.id == values["id"]).values(**values))
        else:
            conn.execute(screens.insert().values(**values))


def _row(cells: Mapping[str, str], default_timezone: str) -> dict[str, object]:
    screen_id = cells["id"]
    if not _ID.fullmatch(screen_id):
        raise RowError(f"id {screen_id!r}: use 1-64 letters, digits, _ . or - (such as B-001)")
    width, height = _resolution(cells["resolution"])
    return {
        "id": screen_id, "name": _required(cells, "name"),
        "kind": _choice(cells, "kind", KINDS), "district": cells.get("district") or None,
        "area": _choice(cells, "area", AREA_TYPES) if cells.get("area") else None,
        "address": cells.get("address") or None,
        "latitude": _coordinate(cells, "latitude", 90), "longitude": _coordinate(
            cells, "longitude", 180),
        "width": width, "height": height,
        "formats": ";".join(_list(cells.get("formats")) or DEFAULT_FORMATS),
        "timezone": _timezone(cells.get("timezone") or default_timezone),
        "audience_per_play": _audience(cells["audience_per_play"]),
        "audience_source": _required(cells, "audience_source"),
        **_controller(cells), "tags": ";".join(_list(cells.get("tags"))),
        "updated_at": utcnow()}


def _required(cells: Mapping[str, str], key: str) -> str:
    if not cells.get(key):
        raise RowError(f"{key} is empty")
    return cells[key]


def _choice(cells: Mapping[str, str], key: str, allowed: tuple[str, ...]) -> str:
    value = cells.get(key, "").lower()
    if value not in allowed:
        raise RowError(f"{key} {cells.get(key)!r} is not one of {', '.join(allowed)}")
    return value


def _resolution(value: str) -> tuple[int, int]:
    match = _RESOLUTION.fullmatch(value.strip())
    if match is None:
        raise RowError(f"resolution {value!r}: write WIDTHxHEIGHT in pixels, such as 1920x1080")
    return int(match.group(1)), int(match.group(2))


def _coordinate(cells: Mapping[str, str], key: str, limit: int) -> float | None:
    value = cells.get(key)
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise RowError(f"{key} {value!r} is not a number") from None
    if not -limit <= number <= limit:
        raise RowError(f"{key} {value} is outside -{limit}..{limit}")
    return number


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RowError(f"timezone {name!r} is not an IANA time zone such as Asia/Shanghai"
                       ) from None
    return name


MAX_AUDIENCE_PER_PLAY = 1_000_000  # more than any screen's passers-by in one play


def _audience(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_AUDIENCE_PER_PLAY:
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise RowError(f"audience_per_play {shown!r}: a whole number of people from 1 to "
                       f"{MAX_AUDIENCE_PER_PLAY:,}")
    return int(value)


def _controller(cells: Mapping[str, str]) -> dict[str, object]:
    controller = _choice(cells, "controller", CONTROLLERS)
    endpoint = cells.get("endpoint") or None
    if controller == "push" and not (endpoint or "").startswith(("http://", "https://")):
        raise RowError("endpoint: a push controller needs the http(s) URL it takes "
                       "playlists at")
    return {"controller": controller, "endpoint": endpoint}


def _list(value: str | None) -> list[str]:
    return [item.strip().lower() for item in re.split(r"[;,]", value or "") if item.strip()]


# Reading ---------------------------------------------------------------------------------


def as_screen(row: Mapping[Any, Any]) -> Screen:
    return Screen(id=row["id"], name=row["name"], kind=row["kind"], district=row["district"],
                  area=row["area"], width=row["width"], height=row["height"],
                  formats=tuple(row["formats"].split(";")), timezone=row["timezone"],
                  audience_per_play=row["audience_per_play"], controller=row["controller"],
                  endpoint=row["endpoint"], tags=tuple(t for t in row["tags"].split(";") if t))


def all_screens(engine: Engine) -> list[Screen]:
    with engine.connect() as conn:
        return [as_screen(r._mapping)
                for r in conn.execute(select(screens).order_by(screens.c.id))]


def get_screen(engine: Engine, screen_id: str) -> dict[str, object]:
    with engine.connect() as conn:
        row = conn.execute(select(screens).where(screens.c.id == screen_id)).first()
    if row is None:
        raise NotFoundError(f"no screen {screen_id!r}; see `dispatcher screens list`")
    return dict(row._mapping)


# Groups ----------------------------------------------------------------------------------


def parse_rule(rule: str) -> list[tuple[str, frozenset[str]]]:
    """``kind=outdoor,facade district=高新区`` -> [(key, allowed values)]."""
    terms = []
    for term in rule.split():
        key, sep, values = term.partition("=")
        if not sep or key not in RULE_KEYS or not values:
            raise DispatcherError(f"group rule term {term!r}: write key=value[,value...] with "
                                  f"a key among {', '.join(RULE_KEYS)}")
        terms.append((key, frozenset(v for v in values.split(",") if v)))
    if not terms:
        raise DispatcherError("a group rule needs at least one term, such as kind=outdoor")
    return terms


def matches(screen: Screen, terms: list[tuple[str, frozenset[str]]]) -> bool:
    for key, allowed in terms:
        if key == "tag":
            if not allowed & set(screen.tags):
                return False
        elif getattr(screen, key) not in allowed:
            return False
    return True


def add_group(engine: Engine, name: str, rule: str) -> int:
    """Store (or replace) a group; returns how many screens it holds now."""
    if not _ID.fullmatch(name):
        raise DispatcherError(f"group name {name!r}: use letters, digits, _ . or -")
    terms = parse_rule(rule)
    with engine.begin() as conn:
        conn.execute(delete(screen_groups).where(screen_groups.c.name == name))
        conn.execute(insert_ignoring_conflicts(screen_groups, engine).values(
            name=name, rule=rule, created_at=utcnow()))
    return sum(matches(s, terms) for s in all_screens(engine))


def groups(engine: Engine) -> dict[str, frozenset[str]]:
    """Each group's member screen ids, by its rule over the registry now."""
    registry = all_screens(engine)
    with engine.connect() as conn:
        rules = dict(conn.execute(select(screen_groups.c.name, screen_groups.c.rule)).all())
    return {name: frozenset(s.id for s in registry if matches(s, parse_rule(rule)))
            for name, rule in rules.items()}


def group_rules(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(screen_groups.c.name, screen_groups.c.rule)
                                 .order_by(screen_groups.c.name)).all())
