"""When each playlist item plays on the fast clock, in whole microseconds.

An item with ``plays_per_hour = n`` has a slot every ``3600 / n`` simulated seconds at a
seeded phase (whole seconds, from ``(seed, screen, item)``), counted from the Unix epoch:
so any simulated hour holds exactly ``n`` slots when ``n`` divides 3600, whatever hour it
is. A slot is a play when the item's local time is inside one of its dayparts and the
slot lies in ``[start, end)``. Integer arithmetic keeps the windows exact: the slots of
``[a, b)`` and ``[b, c)`` are exactly those of ``[a, c)``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import time

from dispatcher.sandbox.clock import US, from_us, to_us
from dispatcher.sandbox.led.playlist import Item

HOUR_US = 3600 * US


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
