"""A small token bucket per partner endpoint, inside the channel's own send calls.

The engine limits a channel as one account (``Sender.rate_limit``: the webhook channel
gives the sum of its endpoints' rates), so a placement to a slow partner could still get
the whole sum. Each send therefore also waits for its endpoint's bucket. The burst is a
tenth of a second's worth: the partner sees an even flow, never a second's worth at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

BURST_SECONDS = 0.1
MAX_PAUSE = 60.0
EPSILON = 1e-9  # longest Retry-After honoured, in seconds


class EndpointBucket:
    """``rate`` messages per second, thread-safe; ``acquire`` blocks until one may go."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = rate
        self.capacity = max(1.0, rate * BURST_SECONDS)
        self._clock, self._sleep = clock, sleep
        self._tokens = self.capacity
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while (wait := self._take()) > 0:
            self._sleep(min(wait, 0.5))

    def pause(self, seconds: float) -> None:
        """Send nothing to this endpoint for ``seconds`` (its Retry-After)."""
        with self._lock:
            until = self._clock() + min(max(seconds, 0.0), MAX_PAUSE)
            self._paused_until = max(self._paused_until, until)
            self._tokens = 0.0

    def _take(self) -> float:
        """Spend one token and return 0, or return the seconds to wait first."""
        with self._lock:
            now = self._clock()
            if now < self._paused_until:
                return self._paused_until - now
            start = max(self._updated, self._paused_until)
            self._tokens = min(self.capacity, self._tokens + (now - start) * self.rate)
            self._updated = now
            if self._tokens >= 1.0 - EPSILON:  # float sums of small steps fall just short
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate
