"""The fate of each SendSms call, and of each number in it: drawn up front, reproducibly.

The n-th authenticated SendSms call (n counts from 0 since start or reset, throttled and
refused calls included) draws from a ``random.Random`` seeded with ``"{seed}:{n}"``; the
i-th number in it from ``"{seed}:{n}:{i}"``. Only which call is the n-th depends on timing.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from dispatcher.sandbox.tencent.options import TencentOptions

# Status reports of messages that did not arrive: (errmsg, description).
UNDELIVERED = (("UNDELIV", "用户短信未送达"), ("EXPIRED", "短信超时未送达"),
               ("REJECTD", "运营商拒绝下发"), ("MK:0005", "空号或停机"))


@dataclass(frozen=True)
class NumberFate:
    """``serial_no`` if accepted; ``failure`` (errmsg, description) when it will not arrive."""

    serial_no: str
    failure: tuple[str, str] | None


@dataclass(frozen=True)
class CallFate:
    """What happens to one SendSms call that is authenticated and valid.

    - ``throttled``: the whole call answers ``RequestLimitExceeded``, nothing accepted;
    - ``error_status`` 500 or 503: the gateway answers that; the numbers are accepted first
      when ``accepted_before_error`` (a lost response), otherwise not at all;
    - ``timeout``: the numbers are accepted, the answer comes after ``timeout_delay_s``.
    """

    seed: int
    number: int
    throttled: bool
    error_status: int | None
    accepted_before_error: bool
    timeout: bool
    undelivered_rate: float

    def of_number(self, index: int) -> NumberFate:
        rng = random.Random(f"{self.seed}:{self.number}:{index}")
        serial = f"2433:{rng.getrandbits(80):020x}"
        undelivered, which = rng.random(), rng.randrange(len(UNDELIVERED))
        return NumberFate(serial, UNDELIVERED[which]
                          if undelivered < self.undelivered_rate else None)


class FaultPlan:
    """Numbers SendSms calls and draws their fates; safe to call from any thread."""

    def __init__(self, options: TencentOptions) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._count = 0

    def reset(self) -> None:
        with self._lock:
            self._count = 0

    def next_fate(self) -> CallFate:
        with self._lock:
            number = self._count
            self._count += 1
        return self.fate(number)

    def fate(self, number: int) -> CallFate:
        opts = self.options
        rng = random.Random(f"{opts.seed}:{number}")
        fault, status, accepted = (rng.random() for _ in range(3))
        failed = fault < opts.error_rate
        return CallFate(
            seed=opts.seed, number=number, throttled=self._throttled(number),
            error_status=(500 if status < 0.5 else 503) if failed else None,
            accepted_before_error=failed and accepted < 0.5,
            timeout=not failed and fault < opts.error_rate + opts.timeout_rate,
            undelivered_rate=opts.undelivered_rate)

    def _throttled(self, number: int) -> bool:
        """Calls N..N+M-1 of every cycle of N+M (``--throttle-every N --throttle-burst M``)."""
        every, burst = self.options.throttle_every, self.options.throttle_burst
        return every > 0 and burst > 0 and number % (every + burst) >= every
