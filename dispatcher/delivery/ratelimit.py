"""Token buckets per provider account, in the provider's unit (Twilio: segments/second).

One bucket per account key in this process, shared by every send of that account; a
provider's ``Retry-After`` pauses the whole bucket, so all senders of the account slow
down together. The bucket itself is :class:`channels.token_bucket.TokenBucket` (the webhook
channel uses it too); :mod:`dispatcher.delivery.shared_limits` keeps the same buckets in
Redis, shared by every worker process of the Celery executor.
"""

from __future__ import annotations

import threading
from typing import Protocol

from channels.token_bucket import TokenBucket


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
