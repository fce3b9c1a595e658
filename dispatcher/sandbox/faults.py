"""The fate of each create request: drawn up front, reproducibly, from the seed.

The n-th authenticated create request (n counts from 0 since start or reset, throttled
and invalid requests included) gets a ``random.Random`` seeded with ``"{seed}:{n}"`` and
always draws the same values in the same order, so a seeded run is reproducible even when
hundreds of requests arrive at once: only which request is the n-th depends on timing.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from dispatcher.sandbox.twilio.options import UNDELIVERED_CODES, TwilioOptions


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


class FaultPlan:
    """Numbers create requests and draws their fates; safe to call from any thread."""

    def __init__(self, options: TwilioOptions) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._count = 0

    def reset(self) -> None:
        with self._lock:
            self._count = 0

    def next_fate(self) -> Fate:
        with self._lock:
            number = self._count
            self._count += 1
        return self.fate(number)

    def fate(self, number: int) -> Fate:
        opts = self.options
        rng = random.Random(f"{opts.seed}:{number}")
        sid = f"SM{rng.getrandbits(128):032x}"
        fault, status, created, undelivered = (rng.random() for _ in range(4))
        code = UNDELIVERED_CODES[rng.randrange(len(UNDELIVERED_CODES))]
        error = fault < opts.error_rate
        return Fate(
            number=number, sid=sid, throttled=self._throttled(number),
            error_status=(500 if status < 0.5 else 503) if error else None,
            created_before_error=error and created < 0.5,
            timeout=not error and fault < opts.error_rate + opts.timeout_rate,
            undelivered_code=code if undelivered < opts.undelivered_rate else None)

    def _throttled(self, number: int) -> bool:
        """Requests N..N+M-1 of every cycle of N+M (``--throttle-every N --throttle-burst M``)."""
        every, burst = self.options.throttle_every, self.options.throttle_burst
        return every > 0 and burst > 0 and number % (every + burst) >= every


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
