"""The simulated UTC clock of the venue sandboxes (LED fleet, cinema system), in whole
microseconds since the Unix epoch: a fast clock that runs ``time_scale`` simulated
seconds per real second."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

US = 1_000_000
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
            self._began = time.monotonic()

    def elapsed(self) -> float:
        """Real seconds since :meth:`run` (0 before)."""
        with self._lock:
            began = self._began
        return 0.0 if began is None else time.monotonic() - began

    def now_us(self) -> int:
        now = self.start_us + int(self.elapsed() * self.scale * US)
        return now if self.until_us is None else min(now, self.until_us)

    def real_seconds_until(self, target_us: int) -> float:
        return max(0.0, (target_us - self.now_us()) / US / self.scale)

    def wait_until(self, target_us: int, timeout: float) -> bool:
        """Wait until the clock reaches ``target_us``; False on timeout (or when ``until``
        is earlier)."""
        deadline = time.monotonic() + timeout
        while self.now_us() < target_us:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, max(0.005, self.real_seconds_until(target_us))))
        return True
