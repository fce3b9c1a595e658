"""One token bucket: ``rate`` units per second, thread-safe, pausable by a Retry-After.

The engine keeps one per provider account (:mod:`dispatcher.delivery.ratelimit`); the
webhook channel keeps one per partner endpoint inside its own send calls. It lives in
``channels`` because channels never import ``dispatcher``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_SLEEP = 0.5  # longest single wait, so a stop is seen quickly
EPSILON = 1e-9  # float sums of small refills fall just short of a whole unit


class TokenBucket:
    """``rate`` units per second, at most ``capacity`` units saved up (the burst).

    ``capacity`` defaults to one second's worth (at least one unit). A pause longer than
    ``max_pause`` seconds is cut to it (None: no limit).
    """

    def __init__(self, rate: float, capacity: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 max_pause: float | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(rate, 1.0)
        self.max_pause = max_pause
        self._clock, self._sleep = clock, sleep
        self._tokens = self.capacity
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, units: float = 1.0, stop: threading.Event | None = None) -> bool:
        """Wait until ``units`` can be spent and spend them; False if ``stop`` was set."""
        units = min(units, self.capacity)  # a message larger than the burst still goes
        while (wait := self._try_take(units)) > 0:
            step = min(wait, MAX_SLEEP)
            if stop is None:
                self._sleep(step)
            elif stop.wait(step):
                return False
        return True

    def pause(self, seconds: float) -> None:
        """Spend nothing for ``seconds`` (a provider's Retry-After); never shortens a
        longer pause."""
        seconds = max(seconds, 0.0)
        if self.max_pause is not None:
            seconds = min(seconds, self.max_pause)
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
            self._tokens = 0.0

    def _try_take(self, units: float) -> float:
        """Spend ``units`` and return 0, or return the seconds to wait before trying again."""
        with self._lock:
            now = self._clock()
            if now < self._paused_until:
                return self._paused_until - now
            start = max(self._updated, self._paused_until)
            self._tokens = min(self.capacity, self._tokens + (now - start) * self.rate)
            self._updated = now
            if self._tokens >= units - EPSILON:
                self._tokens -= units
                return 0.0
            return (units - self._tokens) / self.rate
