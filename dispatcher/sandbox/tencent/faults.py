"""The fate of each SendSms call, and of each number in it: drawn up front, reproducibly.

The n-th authenticated SendSms call (n counts from 0 since start or reset, throttled and
refused calls included) draws from a ``random.Random`` seeded with ``"{seed}:{n}"``; the
i-th number in it from ``"{seed}:{n}:{i}"``. Only which call is the n-th depends on timing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from dispatcher.sandbox.faults import NumberedCalls, call_faults
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


class FaultPlan(NumberedCalls[CallFate]):
    """The Tencent sandbox's SendSms calls and their fates."""

    def __init__(self, options: TencentOptions) -> None:
        super().__init__()
        self.options = options

    def fate(self, number: int) -> CallFate:
        opts = self.options
        faults = call_faults(opts, number, random.Random(f"{opts.seed}:{number}"))
        return CallFate(
            seed=opts.seed, number=number, throttled=faults.throttled,
            error_status=faults.error_status, accepted_before_error=faults.before_error,
            timeout=faults.timeout, undelivered_rate=opts.undelivered_rate)
