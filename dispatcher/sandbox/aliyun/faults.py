"""The fate of each send call (SendSms, SendBatchSms): drawn up front from the seed.

The n-th authenticated send call (n counts from 0 since start or reset, throttled and
refused calls included) gets ``random.Random("{seed}:{n}")`` and always draws the same
values in the same order: its BizId, whether it is throttled, answered 500/503 (with or
without accepting first), answered late, and which of its numbers end undelivered.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from dispatcher.sandbox.aliyun.options import UNDELIVERED_CODES, AliyunOptions
from dispatcher.sandbox.faults import NumberedCalls, call_faults


@dataclass(frozen=True)
class Fate:
    """What happens to one send call that gets past authentication.

    - ``throttled``: HTTP 400 ``Throttling.User``, nothing accepted;
    - ``error_status`` 500 or 503: that error; the call's numbers are accepted first when
      ``accepted_before_error`` (a lost response), otherwise not at all;
    - ``timeout``: accepted, answered only after ``timeout_delay_s``;
    - ``undelivered``: per number of the call (in order), the receipt error code it ends
      with, or None for delivered.
    """

    number: int
    biz_id: str
    throttled: bool
    error_status: int | None
    accepted_before_error: bool
    timeout: bool
    seed: str

    def undelivered(self, index: int, rate: float) -> str | None:
        """The receipt error of the call's ``index``-th number, or None (delivered)."""
        if rate <= 0:
            return None
        rng = random.Random(f"{self.seed}:receipt:{index}")
        if rng.random() >= rate:
            return None
        return list(UNDELIVERED_CODES)[rng.randrange(len(UNDELIVERED_CODES))]


class FaultPlan(NumberedCalls[Fate]):
    """The Aliyun sandbox's send calls and their fates."""

    def __init__(self, options: AliyunOptions) -> None:
        super().__init__()
        self.options = options

    def fate(self, number: int) -> Fate:
        opts = self.options
        seed = f"{opts.seed}:{number}"
        rng = random.Random(seed)
        biz_id = f"{rng.randrange(10 ** 10, 10 ** 11)}{number:07d}^0"
        faults = call_faults(opts, number, rng)
        return Fate(number=number, biz_id=biz_id, throttled=faults.throttled,
                    error_status=faults.error_status,
                    accepted_before_error=faults.before_error, timeout=faults.timeout,
                    seed=seed)
