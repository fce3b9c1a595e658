"""The fate of each send call: drawn up front, reproducibly, from the seed.

The n-th authenticated send call of a sandbox (n counts from 0 since start or reset,
throttled and invalid calls included) gets a ``random.Random`` seeded with
``"{seed}:{n}"`` and always draws the same values in the same order, so a seeded run is
reproducible even when hundreds of calls arrive at once: only which call is the n-th
depends on timing. :class:`NumberedCalls` numbers the calls and :func:`call_faults`
draws the faults every SMS sandbox shares; each sandbox adds what is its own (a SID, a
BizId, undelivered codes). This module's :class:`FaultPlan` is the Twilio sandbox's.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Generic, NamedTuple, Protocol, TypeVar

from dispatcher.sandbox.twilio.options import UNDELIVERED_CODES, TwilioOptions

FateT = TypeVar("FateT")


class FaultRates(Protocol):
    """The fault options every SMS sandbox has (fractions of calls, the throttle cycle)."""

    @property
    def error_rate(self) -> float: ...

    @property
    def timeout_rate(self) -> float: ...

    @property
    def throttle_every(self) -> int: ...

    @property
    def throttle_burst(self) -> int: ...


class CallFaults(NamedTuple):
    """``throttled``: refused as too many; ``error_status`` 500 or 503, after taking the
    call when ``before_error`` (a lost response); ``timeout``: taken, answered late."""

    throttled: bool
    error_status: int | None
    before_error: bool
    timeout: bool


def call_faults(rates: FaultRates, number: int, rng: random.Random) -> CallFaults:
    """The faults of the ``number``-th call; draws three values from ``rng``."""
    fault, status, before = rng.random(), rng.random(), rng.random()
    error = fault < rates.error_rate
    every, burst = rates.throttle_every, rates.throttle_burst
    return CallFaults(
        throttled=every > 0 and burst > 0 and number % (every + burst) >= every,
        error_status=(500 if status < 0.5 else 503) if error else None,
        before_error=error and before < 0.5,
        timeout=not error and fault < rates.error_rate + rates.timeout_rate)


class NumberedCalls(Generic[FateT]):
    """Numbers a sandbox's send calls and draws each one's fate (``fate``, by the
    subclass); safe to call from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def reset(self) -> None:
        with self._lock:
            self._count = 0

    def next_fate(self) -> FateT:
        with self._lock:
            number = self._count
            self._count += 1
        return self.fate(number)

    def fate(self, number: int) -> FateT:
        raise NotImplementedError


@dataclass(frozen=True)
class Fate:
    """What happens to one create request, if it gets past authentication and validation.

    - ``throttled``: answer 429 (code 20429, ``Retry-After: 1``), create nothing;
    - ``error_status`` 500 or 503: answer that error; the message is created first when
      ``created_before_error`` (a provider whose response was lost), otherwise not at all;
    - ``timeout``: create the message, answer 201 only after ``timeout_delay_s``;
    - ``undelivered_code``: the message ends ``undelivered`` with this code, not ``delivered``.
    """

    number: int
    sid: str
    throttled: bool
    error_status: int | None
    created_before_error: bool
    timeout: bool
    undelivered_code: int | None


class FaultPlan(NumberedCalls[Fate]):
    """The Twilio sandbox's create requests and their fates."""

    def __init__(self, options: TwilioOptions) -> None:
        super().__init__()
        self.options = options

    def fate(self, number: int) -> Fate:
        opts = self.options
        rng = random.Random(f"{opts.seed}:{number}")
        sid = f"SM{rng.getrandbits(128):032x}"
        faults = call_faults(opts, number, rng)
        undelivered = rng.random()
        code = UNDELIVERED_CODES[rng.randrange(len(UNDELIVERED_CODES))]
        return Fate(
            number=number, sid=sid, throttled=faults.throttled,
            error_status=faults.error_status, created_before_error=faults.before_error,
            timeout=faults.timeout,
            undelivered_code=code if undelivered < opts.undelivered_rate else None)


class RateLimit:
    """A token bucket of ``rate`` messages per second (burst of one second's worth)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens = rate
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.rate, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True
