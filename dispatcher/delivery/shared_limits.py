"""Rate limits per provider account shared by every worker process through Redis.

Celery's own ``rate_limit`` counts per worker, so N workers would send N times the
provider's rate; here every process spends from one window per account kept in Redis.
The window is the ``limits`` library's moving window, the strictest of its strategies: the
timestamp of every unit spent is kept, and a unit is spent only if at most ``amount``
units were spent in the last ``window`` seconds (for 100/s: at most 100 in *any* 1 s span).
A provider's ``Retry-After`` seen by one worker sets ``<namespace>:pause:<key>`` in Redis,
which every worker waits out before spending again. Timestamps are taken from each
worker's clock (``limits`` does so), so the hosts' clocks must agree (NTP).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import redis
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from dispatcher.errors import DispatcherError

MAX_SLEEP = 0.5  # longest single wait, so a stop is seen quickly
MAX_WINDOW = 3600  # seconds; the longest window a fractional rate is spread over
# Set the pause key for ARGV[1] ms unless it already lasts at least that long.
_EXTEND_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
  return 1
end
return 0
"""


class SharedLimitsError(DispatcherError):
    """The Redis holding the shared rate limits cannot be reached or failed."""


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (in the userinfo or the query)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username or ''}:***@{netloc.rpartition('@')[2]}"
    query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def window_for(rate: float) -> RateLimitItem:
    """The moving window for ``rate`` units/s: ``amount`` units per ``seconds`` seconds.

    ``limits`` needs a whole ``amount``, so ``seconds`` is the shortest whole number of
    seconds (1 to 3600) over which ``floor(rate * seconds)`` is at least 1 and within 1 %
    below ``rate * seconds``: 100/s -> 100 per 1 s, 2.5/s -> 5 per 2 s, 0.5/s -> 1 per 2 s,
    0.1/s -> 1 per 10 s. The window never allows more than ``rate`` and at most 1 % less,
    and the burst (``amount``) stays small, like :class:`~channels.token_bucket.TokenBucket`.
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    for seconds in range(1, MAX_WINDOW + 1):
        exact = rate * seconds
        amount = math.floor(exact + 1e-9)
        if amount >= 1 and exact - amount <= 0.01 * exact:
            return RateLimitItemPerSecond(amount, seconds)
    return RateLimitItemPerSecond(1, MAX_WINDOW)


def _wait(seconds: float, stop: threading.Event | None) -> bool:
    """Wait ``seconds`` but at most :data:`MAX_SLEEP`; True if ``stop`` is set."""
    step = min(seconds, MAX_SLEEP)
    if stop is None:
        time.sleep(step)
        return False
    return stop.wait(step)


class RedisLimiters:
    """The shared buckets, one per provider account key, in the Redis at ``url``."""

    def __init__(self, url: str, namespace: str = "dispatcher") -> None:
        self.url = mask_url(url)
        self.namespace = namespace
        self.client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        with self.reaching():
            self.client.ping()
        storage = RedisStorage(url, connection_pool=self.client.connection_pool,
                               key_prefix=namespace)
        self.limiter = MovingWindowRateLimiter(storage)
        self.extend_pause = self.client.register_script(_EXTEND_PAUSE)
        self._buckets: dict[tuple[str, float], SharedBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, key: str, rate: float) -> SharedBucket:
        with self._lock:
            found = self._buckets.get((key, rate))
            if found is None:
                found = self._buckets[(key, rate)] = SharedBucket(self, key, rate)
            return found

    @contextmanager
    def reaching(self) -> Iterator[None]:
        """Turn a Redis error into a :class:`SharedLimitsError` naming the masked URL."""
        try:
            yield
        except redis.RedisError as exc:
            raise SharedLimitsError(
                f"Redis for shared rate limits at {self.url} failed: "
                f"{type(exc).__name__}: {exc}") from exc


class SharedBucket:
    """``rate`` units per second for one account, spent by every process sharing Redis."""

    def __init__(self, owner: RedisLimiters, key: str, rate: float) -> None:
        self.rate = rate
        self.item = window_for(rate)
        self._owner = owner
        self._identifier = f"{owner.namespace}:rate:{key}"
        self._pause_key = f"{owner.namespace}:pause:{key}"

    def acquire(self, units: float = 1.0, stop: threading.Event | None = None) -> bool:
        """Wait until ``units`` can be spent and spend them; False if ``stop`` was set.

        ``units`` is rounded up to a whole unit; more than the window's amount is clamped to
        it, so a message larger than the burst still goes.
        """
        cost = max(1, min(math.ceil(units), self.item.amount))
        while True:
            with self._owner.reaching():
                wait = self._try_take(cost)
            if wait <= 0:
                return True
            if _wait(wait, stop):
                return False

    def pause(self, seconds: float) -> None:
        """Spend nothing anywhere for ``seconds``; never shortens a longer pause."""
        millis = math.ceil(seconds * 1000)
        if millis > 0:
            with self._owner.reaching():
                self._owner.extend_pause(keys=[self._pause_key], args=[millis])

    def _try_take(self, cost: int) -> float:
        """Spend ``cost`` and return 0, or return the seconds to wait before trying again."""
        paused_ms = cast(int, self._owner.client.pttl(self._pause_key))
        if paused_ms > 0:
            return paused_ms / 1000
        limiter = self._owner.limiter
        if limiter.hit(self.item, self._identifier, cost=cost):
            return 0.0
        reset, remaining = limiter.get_window_stats(self.item, self._identifier)
        if remaining >= cost:  # units expired since the hit: try again at once
            return 0.001
        return max(reset - time.time(), 0.001)
