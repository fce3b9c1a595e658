"""Whether proof of play can be true, given its placement's dates, schedule and spot length.

A record claims ``count`` plays of one item (one placement's row on one screen) between
``start`` and ``end``. It is refused -- never counted in reach, kept in
``refused_reports`` with the reason for operators -- when it cannot be true:

``outside_dates``
    it starts before the campaign's start, or ends after the campaign's end, by more than
    :data:`DATE_GRACE` (one day: controllers' clocks, and the screen's own time zone).
``above_schedule``
    more plays than fit back to back in the record's own time (``count`` above
    ``(end - start) / duration + 1``), or more plays of the item on the screen in one
    clock hour (UTC) than :func:`hourly_limit` allows: ``plays_per_hour`` plus 10%, at
    least one play (a slot can fall at both ends of an hour, and clocks drift). A record
    of several hours is spread over them in proportion to its time in each.
``duplicate``
    another play of the item on the screen started less than the spot's length before or
    after it: a screen cannot play the same spot twice at once, so one of them was
    reported twice. A record with the very same start is a replay (a batch sent again):
    it is counted once and not refused.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

DATE_GRACE = timedelta(days=1)
HOURLY_TOLERANCE = 0.10  # of plays_per_hour, and at least one play
HOUR = timedelta(hours=1)
REPLAY = "replay"  # not a refusal: the same play sent again, counted once
_EPSILON = 1e-9  # plays are spread over hours as fractions


@dataclass(frozen=True)
class Booking:
    """What a row's placement allows: its spot's length, plays per hour and dates."""

    duration: timedelta
    plays_per_hour: int
    start: datetime  # the campaign's, aware
    end: datetime | None  # None: open-ended


@dataclass(frozen=True)
class Play:
    delivery_id: int
    start: datetime  # aware, UTC
    end: datetime
    count: int


@dataclass(frozen=True)
class Verdict:
    reason: str  # outside_dates, above_schedule, duplicate, or REPLAY
    detail: str  # for the controller's answer and for operators


def hourly_limit(plays_per_hour: int) -> int:
    """The most plays of one item on one screen in one clock hour that are believed."""
    return plays_per_hour + max(1, math.ceil(plays_per_hour * HOURLY_TOLERANCE))


class Ledger:
    """The plays of some rows already stored, and those accepted since, to judge the next.

    :meth:`judge` a play; one it does not refuse is added, so the next is judged with it.
    """

    def __init__(self, bookings: Mapping[int, Booking], stored: Iterable[Play]) -> None:
        self.bookings = bookings
        self._starts: dict[int, list[datetime]] = defaultdict(list)
        self._hours: dict[tuple[int, datetime], float] = defaultdict(float)
        for play in stored:
            self._add(play)

    def judge(self, play: Play) -> Verdict | None:
        """None when the play is believable (it is then added), else why not."""
        booking = self.bookings[play.delivery_id]
        verdict = (self._twin(play, booking) or _outside_dates(play, booking)
                   or _beyond_length(play, booking) or self._over_hour(play, booking))
        if verdict is None:
            self._add(play)
        return verdict

    def _add(self, play: Play) -> None:
        insort(self._starts[play.delivery_id], play.start)
        for hour, share in _hour_shares(play):
            self._hours[play.delivery_id, hour] += share

    def _twin(self, play: Play, booking: Booking) -> Verdict | None:
        starts = self._starts[play.delivery_id]
        same = bisect_left(starts, play.start)
        if same < len(starts) and starts[same] == play.start:
            return Verdict(REPLAY, "already reported")
        near = bisect_right(starts, play.start - booking.duration)
        if near < len(starts) and starts[near] < play.start + booking.duration:
            gap = abs(starts[near] - play.start).total_seconds()
            return Verdict("duplicate", (
                f"a play starting {_when(play.start)} is {gap:g} s from another of the same "
                f"item on this screen; its spot lasts {_seconds(booking.duration)} s, so "
                "both cannot have played (reported twice)"))
        return None

    def _over_hour(self, play: Play, booking: Booking) -> Verdict | None:
        limit = hourly_limit(booking.plays_per_hour)
        for hour, share in _hour_shares(play):
            total = self._hours[play.delivery_id, hour] + share
            if total > limit + _EPSILON:
                return Verdict("above_schedule", (
                    f"{total:g} plays in the hour from {_when(hour)}: the placement is booked "
                    f"{booking.plays_per_hour} times an hour, at most {limit} are believed"))
        return None


def _outside_dates(play: Play, booking: Booking) -> Verdict | None:
    early = play.start < booking.start - DATE_GRACE
    late = booking.end is not None and play.end > booking.end + DATE_GRACE
    if not early and not late:
        return None
    until = _when(booking.end) if booking.end is not None else "open end"
    return Verdict("outside_dates", (
        f"played {_when(play.start)} to {_when(play.end)}, outside the campaign's dates "
        f"{_when(booking.start)} to {until} (with {DATE_GRACE.days} day of grace)"))


def _beyond_length(play: Play, booking: Booking) -> Verdict | None:
    fits = (play.end - play.start) // booking.duration + 1
    if play.count <= fits:
        return None
    return Verdict("above_schedule", (
        f"{play.count} plays reported in {_seconds(play.end - play.start)} s of a "
        f"{_seconds(booking.duration)}-second spot: at most {fits} fit"))


def _hour_shares(play: Play) -> Iterator[tuple[datetime, float]]:
    """(clock hour, plays of the record in it): the count spread over the record's time."""
    span = (play.end - play.start).total_seconds()
    hour = play.start.replace(minute=0, second=0, microsecond=0)
    while hour < play.end:
        overlap = (min(play.end, hour + HOUR) - max(play.start, hour)).total_seconds()
        yield hour, play.count * overlap / span
        hour += HOUR


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _seconds(length: timedelta) -> str:
    return f"{length.total_seconds():g}"
