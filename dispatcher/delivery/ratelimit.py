"""Token buckets per provider account, in the provider's unit (Twilio: segments/second).

One bucket per account key in this process, shared by every send of that account; a
provider's ``Retry-After`` pauses the whole bucket, so all senders of the account slow
down together. :mod:`dispatcher.delivery.shared_limits` keeps the same buckets in Redis, shared by
every worker process of the Celery executor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Bucket(Protocol):
    """A rate limit the engine spends from before each provider call."""

    rate: float

    def acquire(self, units: float = 1.0, stop: threading.Event | None = None) -> bool:
        """Wait until ``units`` can be spent and spend them; False if ``stop`` was set."""
        ...

    def pause(self, seconds: float) -> None:
        """Spend nothing for ``seconds`` (a provider's Retry-After)."""
        ...


class RateLimiters(Protocol):
    """Where the engine finds the bucket of a provider account."""

    def bucket(self, key: str, rate: float) -> Bucket: ...


class TokenBucket:
    """``rate`` units per second, at most ``capacity`` units saved up (the burst)."""

    def __init__(self, rate: float, capacity: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(rate, 1.0)
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, units: float = 1.0, stop: threading.Event | None = None) -> bool:
        """Wait until ``units`` can be spent and spend them; False if ``stop`` was set."""
        units = min(units, self.capacity)  # a message larger than the burst still goes
        while True:
            wait = self._try_take(units)
            if wait <= 0:
                return True
            if stop is not None and stop.wait(min(wait, 0.5)):
                return False
            if stop is None:
                time.sleep(min(wait, 0.5))

    def pause(self, seconds: float) -> None:
        """Spend nothing for ``seconds`` (a provider's Retry-After)."""
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
            if self._tokens >= units:
                self._tokens -= units
                return 0.0
            return (units - self._tokens) / self.rate


class Limiters:
    """The buckets of this process, one per provider account key."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, key: str, rate: float) -> TokenBucket:
        with self._lock:
            found = self._buckets.get(key)
            if found is None or found.rate != rate:
                found = self._buckets[key] = TokenBucket(rate)
            return found
