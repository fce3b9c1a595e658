"""Venues as the core hands them to the venue channels: LED screens, cinema screenings.

The core reads them from its registry and schedule (see ``dispatcher.venues``); the LED
and cinema plugins select, plan and book with them.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class Screen(NamedTuple):
    """One screen of the registry, as the core hands it to the LED channel."""

    id: str
    name: str
    kind: str  # building, outdoor, facade, shopfront
    district: str | None
    area: str | None  # one of AREA_TYPES
    width: int
    height: int
    formats: tuple[str, ...]  # media formats it plays: mp4, jpg, png ...; "text" for text
    timezone: str
    audience_per_play: int
    controller: str  # "pull" (fetches its feed) or "push" (takes pushed playlists)
    endpoint: str | None  # the push URL of a push controller
    tags: tuple[str, ...] = ()


class PushResult(NamedTuple):
    """A push controller's answer to a playlist."""

    accepted: bool
    detail: str


class Booking(NamedTuple):
    """Seconds of a screening's preshow block already booked, and by which campaign."""

    position: str
    campaign: str
    seconds: int


class Screening(NamedTuple):
    """One scheduled screening of a cinema, with its preshow blocks and their bookings."""

    id: str
    cinema: str
    system: str  # the cinema's booking system (a [channels.cinema] systems entry)
    district: str | None
    film: str
    rating: str
    starts_at: datetime  # aware, in the cinema's time zone
    seats: int
    expected_seats: int
    blocks: tuple[tuple[str, int], ...]  # preshow block name, length in seconds
    booked: tuple[Booking, ...] = ()


def venue_key(venue_id: str) -> int:
    """The planner's sort key of a screen or screening (:class:`channels.base.Target`):
    the id's UTF-8 bytes as one big-endian number, so the same id always has the same key.
    A longer id has the larger key, so a channel yields its venues sorted by this key
    (``B-9`` before ``B-10``), not by id."""
    return int.from_bytes(venue_id.encode(), "big")
