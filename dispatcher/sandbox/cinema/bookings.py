"""The booking desk: spots booked into screenings' pre-show blocks, and their states.

``POST /bookings`` is checked in this order, the first problem answering:
400 malformed body; 404 unknown cinema (or one the system has no token for); 401 bad
bearer token for that cinema; 404 unknown screening (or one of another cinema); 400
unknown pre-show block; a booking id seen before answers 200 ``{"confirmed": true,
"booking": id}`` when the request is the same, whatever became of the booking since (409
``booking id reused`` when not the same, 409 ``booking cancelled`` after a DELETE); 409
``screening cancelled``; 409 ``screening started`` once the play clock has passed its
start; 409 ``preshow block full`` when this system's own live bookings and this spot
would exceed the block's seconds; then the seeded 503 (half of them create the booking
first: a lost answer); otherwise 201. Every error body is ``{"confirmed": false,
"error": ...}``.

``DELETE /bookings/{booking}`` answers 200 ``{"cancelled": true, "booking": id}`` (again
for a repeat, or when its screening was cancelled), 401 when the token is not that of the
booking's cinema (or of no cinema), 404 for an unknown booking, 409 ``screening started``;
errors are ``{"cancelled": false, "error": ...}``.

A booking is ``booked`` until its screening starts (``played`` or ``dropped``) or is
cancelled (``cancelled``), or the dispatcher deletes it (``deleted``: it frees its
seconds and is never reported). Callers of the ``_locked`` methods hold :attr:`lock`.
"""

from __future__ import annotations

import hmac
import json
import math
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dispatcher.sandbox.cinema.faults import fate
from dispatcher.sandbox.cinema.options import CinemaOptions
from dispatcher.sandbox.cinema.program import CinemaProgram, Screening
from dispatcher.sandbox.cinema.stats import Counts
from dispatcher.sandbox.clock import iso_z

MAX_ID = 200


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BookingRequest:
    booking: str
    cinema: str
    screening: str
    position: str
    asset: str
    duration: float
    campaign: str


@dataclass(slots=True)
class Booking:
    request: BookingRequest
    state: str = "booked"  # -> played, dropped, cancelled, deleted
    at_us: int | None = None  # when it was played, dropped or cancelled (simulated)
    admissions: int | None = None

    def summary(self) -> dict[str, Any]:
        r = self.request
        return {"booking": r.booking, "cinema": r.cinema, "screening": r.screening,
                "position": r.position, "spot": {"asset": r.asset, "duration": r.duration},
                "campaign": r.campaign, "state": self.state,
                "at": None if self.at_us is None else iso_z(self.at_us),
                "admissions": self.admissions}


@dataclass(slots=True)
class Show:
    """One screening's state: cancelled or shown, its bookings and booked seconds."""

    screening: Screening
    cancelled: bool
    shown: bool = False
    admissions: int | None = None
    bookings: list[Booking] = field(default_factory=list)
    used: dict[str, float] = field(default_factory=dict)  # block -> seconds booked


def parse_request(body: bytes) -> BookingRequest | str:
    """The request, or what is wrong with it."""
    try:
        data = json.loads(body)
    except ValueError:
        return "body is not JSON"
    if not isinstance(data, dict):
        return "body must be a JSON object"
    texts = {"campaign": str(data.get("campaign") or "")}  # optional: whose spot it is
    for name in ("booking", "cinema", "screening", "position"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID:
            return f"{name} must be a non-empty string of at most {MAX_ID} characters"
        texts[name] = value
    if "/" in texts["booking"]:
        return "booking must not contain '/'"
    spot = data.get("spot")
    if not isinstance(spot, dict):
        return "spot must be an object with asset and duration"
    asset, duration = spot.get("asset"), spot.get("duration")
    if not isinstance(asset, str) or not asset.strip():
        return "spot.asset must be a non-empty string"
    if (isinstance(duration, bool) or not isinstance(duration, int | float)
            or not math.isfinite(duration) or duration <= 0):
        return "spot.duration must be a positive number of seconds"
    return BookingRequest(asset=asset, duration=duration, **texts)


class BookingDesk:
    """Bookings and screening states of one system, behind one lock."""

    def __init__(self, program: CinemaProgram, tokens: Mapping[str, str], options: CinemaOptions,
                 counts: Counts, now_us: Callable[[], int]) -> None:
        self.program, self.options, self.counts, self.now_us = program, options, counts, now_us
        self._auth = {cinema: f"Bearer {token}".encode() for cinema, token in tokens.items()}
        self.lock = threading.Lock()
        self.reset()

    def install_token(self, cinema: str, token: str) -> None:
        """From now on ``cinema``'s bookings need ``token`` (the old one answers 401)."""
        with self.lock:
            self._auth = self._auth | {cinema: f"Bearer {token}".encode()}

    def reset(self) -> None:
        with self.lock:
            self.bookings: dict[str, Booking] = {}
            self.shows = {sid: Show(s, s.cancelled)
                          for sid, s in self.program.screenings.items()}
            self.attempts: Counter[str] = Counter()  # booking id -> requests that drew a fate
            self.shown = self.active = self.audience = 0
            self.cancelled = sum(1 for show in self.shows.values() if show.cancelled)

    # The API -------------------------------------------------------------------------

    def create(self, authorization: str, body: bytes) -> Answer:
        request = parse_request(body)
        if isinstance(request, str):
            return self._refuse(400, "malformed", request, None)
        cinema = self.program.cinemas.get(request.cinema)
        if cinema is None or request.cinema not in self._auth:
            return self._refuse(404, "unknown_cinema", "unknown cinema", None)
        if not self._authorized(request.cinema, authorization):
            return self._refuse(401, "bad_token", "bad bearer token", request.cinema)
        with self.lock:
            show = self.shows.get(request.screening)
            if show is None or show.screening.cinema != request.cinema:
                return self._refuse(404, "unknown_screening", "unknown screening",
                                    request.cinema)
            if request.position not in cinema.blocks:
                return self._refuse(400, "unknown_block", "unknown preshow block",
                                    request.cinema)
            existing = self.bookings.get(request.booking)
            if existing is not None:
                return self._repeat(existing, request)
            refusal = self._problem_locked(show, request, cinema.blocks[request.position])
            if refusal is not None:
                return refusal
            return self._book_locked(show, request)

    def delete(self, authorization: str, booking_id: str) -> Answer:
        with self.lock:
            booking = self.bookings.get(booking_id)
            cinema = None if booking is None else booking.request.cinema
            if booking is None or not self._authorized(booking.request.cinema, authorization):
                known = any(self._authorized(c, authorization) for c in self._auth)
                if booking is None and known:
                    return _gone(404, "unknown booking")
                return _gone(401, "bad bearer token")
            if booking.state in ("deleted", "cancelled"):
                return Answer(200, {"cancelled": True, "booking": booking_id})
            show = self.shows[booking.request.screening]
            if booking.state != "booked" or show.screening.start_us <= self.now_us():
                return _gone(409, "screening started")
            booking.state = "deleted"
            show.used[booking.request.position] -= booking.request.duration
            self.active -= 1
        self.counts.add("bookings.deleted", cinema)
        return Answer(200, {"cancelled": True, "booking": booking_id})

    def summaries(self, cinema: str | None = None, screening: str | None = None,
                  state: str | None = None) -> list[dict[str, Any]]:
        """Bookings in the order they were made, filtered by what is given."""
        with self.lock:
            return [b.summary() for b in self.bookings.values()
                    if cinema in (None, b.request.cinema)
                    and screening in (None, b.request.screening) and state in (None, b.state)]

    def figures(self) -> tuple[dict[str, int], dict[str, int]]:
        """(screenings: total, shown, cancelled, upcoming, admissions; bookings: active)."""
        with self.lock:
            total = len(self.shows)
            return ({"total": total, "shown": self.shown, "cancelled": self.cancelled,
                     "upcoming": total - self.shown - self.cancelled,
                     "admissions": self.audience},
                    {"active": self.active, "known": len(self.bookings)})

    # Behind the API ------------------------------------------------------------------

    def _authorized(self, cinema: str, authorization: str) -> bool:
        expected = self._auth.get(cinema)
        return expected is not None and hmac.compare_digest(authorization.encode(), expected)

    def _repeat(self, booking: Booking, request: BookingRequest) -> Answer:
        cinema = request.cinema
        if booking.request != request:
            return self._refuse(409, "booking_reused", "booking id reused", cinema)
        if booking.state == "deleted":
            return self._refuse(409, "booking_deleted", "booking cancelled", cinema)
        self.counts.add("bookings.repeats", cinema)
        return Answer(200, {"confirmed": True, "booking": request.booking})

    def _problem_locked(self, show: Show, request: BookingRequest,
                        block_s: int) -> Answer | None:
        cinema = request.cinema
        if show.cancelled:
            return self._refuse(409, "screening_cancelled", "screening cancelled", cinema)
        if show.shown or show.screening.start_us <= self.now_us():
            return self._refuse(409, "screening_started", "screening started", cinema)
        if show.used.get(request.position, 0.0) + request.duration > block_s:
            return self._refuse(409, "block_full", "preshow block full", cinema)
        return None

    def _book_locked(self, show: Show, request: BookingRequest) -> Answer:
        opts, cinema = self.options, request.cinema
        drawn = fate(opts.seed, request.booking, self.attempts[request.booking],
                     opts.error_rate)
        self.attempts[request.booking] += 1
        if drawn.unavailable:
            self.counts.add("errors.503", cinema)
            if not drawn.created_first:
                return self._refuse(503, "unavailable", "service unavailable", cinema)
            self.counts.add("errors.created_first", cinema)
        booking = Booking(request)
        self.bookings[request.booking] = booking
        show.bookings.append(booking)
        show.used[request.position] = show.used.get(request.position, 0.0) + request.duration
        self.active += 1
        self.counts.add("bookings.created", cinema)
        if drawn.unavailable:
            return Answer(503, {"confirmed": False, "error": "service unavailable"})
        return Answer(201, {"confirmed": True, "booking": request.booking})

    def _refuse(self, status: int, reason: str, error: str, cinema: str | None) -> Answer:
        self.counts.add(f"refused.{reason}", cinema)
        return Answer(status, {"confirmed": False, "error": error})


def _gone(status: int, error: str) -> Answer:
    return Answer(status, {"cancelled": False, "error": error})
