"""The playlist JSON a controller receives (pulled feed or pushed body), checked strictly.

The sandbox stands in for real controllers while the dispatcher's side is written, so it
refuses what a strict controller would: a missing or mistyped field makes the whole
playlist malformed (the pull controller keeps its current one and counts the error; the
push endpoint answers 400), with a message naming the field. Unknown keys are ignored.

``dayparts`` are ``[["HH:MM", "HH:MM"], ...]`` in the item's ``timezone``: a play starts
inside ``[from, to)``; ``"24:00"`` ends at midnight; ``to <= from`` runs over midnight
(so equal bounds mean the whole day); an empty list means all day. A ``start`` or ``end``
without an offset is read in the item's timezone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_PLAYS_PER_HOUR = 3600  # one play a second; more cannot be shown


class PlaylistError(ValueError):
    """The playlist is malformed; the message names the field."""


@dataclass(frozen=True)
class Media:
    url: str
    size: int
    md5: str
    width: int
    height: int
    format: str


@dataclass(frozen=True)
class Item:
    id: str
    campaign: str
    kind: Literal["text", "media"]
    text: str | None
    media: Media | None
    duration_s: float
    plays_per_hour: float
    dayparts: tuple[tuple[time, time | None], ...]  # None: midnight at the end of the day
    start: datetime
    end: datetime | None
    timezone: ZoneInfo


@dataclass(frozen=True)
class Playlist:
    screen: str
    version: str
    generated_at: datetime
    items: tuple[Item, ...]


EMPTY = Playlist(screen="", version="", generated_at=datetime.min, items=())


def parse_playlist(body: Any, screen: str) -> Playlist:
    """The playlist for ``screen`` in a decoded JSON ``body``, or a PlaylistError."""
    if not isinstance(body, Mapping):
        raise PlaylistError("the body must be a JSON object")
    if _string(body, "screen") != screen:
        raise PlaylistError(f"screen is {body.get('screen')!r}, expected {screen!r}")
    items = body.get("items")
    if not isinstance(items, list):
        raise PlaylistError("items must be a list")
    parsed = tuple(_item(entry, n) for n, entry in enumerate(items))
    if len({item.id for item in parsed}) != len(parsed):
        raise PlaylistError("item ids must be unique")
    return Playlist(screen=screen, version=_string(body, "version"),
                    generated_at=_when(body, "generated_at", None), items=parsed)


def _item(entry: Any, n: int) -> Item:
    if not isinstance(entry, Mapping):
        raise PlaylistError(f"items[{n}] must be an object")
    try:
        return _fields(entry)
    except PlaylistError as exc:
        raise PlaylistError(f"items[{n}]: {exc}") from None


def _fields(entry: Mapping[str, Any]) -> Item:
    kind = entry.get("kind")
    if kind not in ("text", "media"):
        raise PlaylistError(f"kind must be text or media, got {kind!r}")
    zone_name = _string(entry, "timezone")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PlaylistError(f"unknown timezone {zone_name!r}") from None
    duration = _number(entry, "duration_s")
    plays = _number(entry, "plays_per_hour")
    if duration <= 0 or not 0 <= plays <= MAX_PLAYS_PER_HOUR:
        raise PlaylistError(f"duration_s must be positive and plays_per_hour from 0 to "
                            f"{MAX_PLAYS_PER_HOUR}")
    end = entry.get("end")
    return Item(
        id=_string(entry, "id"), campaign=_string(entry, "campaign"), kind=kind,
        text=_string(entry, "text") if kind == "text" else None,
        media=_media(entry.get("media")) if kind == "media" else None,
        duration_s=duration, plays_per_hour=plays, dayparts=_dayparts(entry.get("dayparts")),
        start=_when(entry, "start", zone),
        end=None if end is None else _when(entry, "end", zone), timezone=zone)


def _media(value: Any) -> Media:
    if not isinstance(value, Mapping):
        raise PlaylistError("media must be an object")
    md5 = _string(value, "md5").lower()
    if len(md5) != 32 or any(c not in "0123456789abcdef" for c in md5):
        raise PlaylistError(f"media.md5 must be 32 hex digits, got {md5!r}")
    size, width, height = (_integer(value, name) for name in ("size", "width", "height"))
    return Media(url=_string(value, "url"), size=size, md5=md5, width=width, height=height,
                 format=_string(value, "format"))


def _dayparts(value: Any) -> tuple[tuple[time, time | None], ...]:
    if not isinstance(value, list):
        raise PlaylistError("dayparts must be a list of [from, to] pairs")
    parts: list[tuple[time, time | None]] = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(bound, str) for bound in pair)):
            raise PlaylistError(f"daypart {pair!r} must be a pair of HH:MM strings")
        begin = _clock(pair[0])
        if begin is None:
            raise PlaylistError("a daypart cannot begin at 24:00")
        parts.append((begin, _clock(pair[1])))
    return tuple(parts)


def _clock(text: str) -> time | None:
    if text in ("24:00", "24:00:00"):
        return None
    try:
        parsed = time.fromisoformat(text)
    except ValueError:
        raise PlaylistError(f"daypart bound {text!r} is not HH:MM") from None
    if parsed.tzinfo is not None:
        raise PlaylistError(f"daypart bound {text!r} must be a local time")
    return parsed


def _string(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise PlaylistError(f"{name} must be a non-empty string")
    return value


def _number(body: Mapping[str, Any], name: str) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlaylistError(f"{name} must be a number")
    return float(value)


def _integer(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PlaylistError(f"media.{name} must be a non-negative integer")
    return value


def _when(body: Mapping[str, Any], name: str, zone: ZoneInfo | None) -> datetime:
    """An ISO datetime (``Z`` allowed); a naive one is read in ``zone`` (UTC if None)."""
    text = _string(body, name)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise PlaylistError(f"{name} {text!r} is not an ISO datetime") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone or ZoneInfo("UTC"))
    return parsed
