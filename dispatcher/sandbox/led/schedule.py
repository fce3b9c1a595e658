"""The fast clock and when each playlist item plays on it, in whole microseconds.

An item with ``plays_per_hour = n`` has a slot every ``3600 / n`` simulated seconds at a
seeded phase (whole seconds, from ``(seed, screen, item)``), counted from the Unix epoch:
so any simulated hour holds exactly ``n`` slots when ``n`` divides 3600, whatever hour it
is. A slot is a play when the item's local time is inside one of its dayparts and the
slot lies in ``[start, end)``. Integer arithmetic keeps the windows exact: the slots of
``[a, b)`` and ``[b, c)`` are exactly those of ``[a, c)``.
"""

from __future__ import annotations

import random
import threading
import time as _time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from dispatcher.sandbox.led.playlist import Item

US = 1_000_000
HOUR_US = 3600 * US
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def iso_z(us: int) -> str:
    """UTC ISO 8601 with ``Z``: whole seconds, or milliseconds when there is a fraction."""
    moment = from_us(us)
    spec = "seconds" if moment.microsecond == 0 else "milliseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


class SimClock:
    """``time_scale`` simulated seconds per real second from ``start``, standing still
    before :meth:`run` and at ``until``."""

    def __init__(self, start: datetime, time_scale: float, until: datetime | None) -> None:
        self.start_us = to_us(start)
        self.until_us = None if until is None else to_us(until)
        self.scale = time_scale
        self._lock = threading.Lock()
        self._began: float | None = None  # monotonic seconds when run() was called

    def run(self) -> None:
        with self._lock:
            self._began = _time.monotonic()

    def elapsed(self) -> float:
        """Real seconds since :meth:`run` (0 before)."""
        with self._lock:
            began = self._began
        return 0.0 if began is None else _time.monotonic() - began

    def now_us(self) -> int:
        now = self.start_us + int(self.elapsed() * self.scale * US)
        return now if self.until_us is None else min(now, self.until_us)

    def real_seconds_until(self, target_us: int) -> float:
        return max(0.0, (target_us - self.now_us()) / US / self.scale)


@dataclass(frozen=True)
class ItemPlan:
    """When one item of one screen's playlist plays."""

    item: Item
    period_us: int  # 0: never
    phase_us: int
    start_us: int
    end_us: int | None
    duration_us: int

    @classmethod
    def of(cls, item: Item, seed: int, screen: str) -> ItemPlan:
        period = round(HOUR_US / item.plays_per_hour) if item.plays_per_hour > 0 else 0
        fraction = random.Random(f"{seed}:phase:{screen}:{item.id}").random()
        phase = int(fraction * period) // US * US
        return cls(item=item, period_us=period, phase_us=phase, start_us=to_us(item.start),
                   end_us=None if item.end is None else to_us(item.end),
                   duration_us=round(item.duration_s * US))

    def plays(self, begin_us: int, end_us: int) -> Iterator[int]:
        """Start times (µs) of the plays in ``[begin_us, end_us)``."""
        if self.period_us <= 0:
            return
        lo, hi = max(begin_us, self.start_us), end_us
        if self.end_us is not None:
            hi = min(hi, self.end_us)
        for k in range(self._first_slot(lo), self._first_slot(hi)):
            slot = k * self.period_us + self.phase_us
            if self.in_dayparts(slot):
                yield slot

    def _first_slot(self, at_us: int) -> int:
        """The number of the first slot at or after ``at_us`` (exact ceiling division)."""
        return -((self.phase_us - at_us) // self.period_us)

    def in_dayparts(self, at_us: int) -> bool:
        if not self.item.dayparts:
            return True
        local = from_us(at_us).astimezone(self.item.timezone).time().replace(tzinfo=None)
        return any(_inside(local, begin, end) for begin, end in self.item.dayparts)


def _inside(moment: time, begin: time, end: time | None) -> bool:
    if end is None:
        return moment >= begin
    if begin < end:
        return begin <= moment < end
    return moment >= begin or moment < end  # over midnight (the whole day when equal)
