"""What an Aliyun SMS sandbox simulates: credentials, seeded faults, limits and pushes.

Faults are drawn per API call (SendSms, SendBatchSms) from ``random.Random`` seeded with
``(seed, call number)``, so the n-th send call of a run always meets the same fate,
whatever order concurrent calls happen to draw in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dispatcher.sandbox import option_checks as check

SANDBOX_ACCESS_KEY_ID = "LTAI5tSandbox0000000000"
SANDBOX_ACCESS_KEY_SECRET = "sandbox-access-key-secret"

# Receipt error codes of undelivered messages (carrier status reports as Aliyun relays them).
UNDELIVERED_CODES: Mapping[str, str] = {
    "MK:0001": "用户手机关机或停机",
    "IC:0001": "运营商网关拒收",
    "MK:100D": "用户手机号码不存在",
}


@dataclass(frozen=True)
class AliyunOptions:
    """Settings of one Aliyun SMS sandbox (``dispatcher sandbox aliyun`` flags, or Python).

    Rates are fractions of send calls from 0 to 1; ``error_rate + timeout_rate`` must not
    exceed 1. ``max_rate`` is send calls per second (Aliyun's QPS limit counts calls).
    ``reject`` maps an 11-digit number to the isv code it is refused with;
    ``daily_limit`` is accepted messages per number per day (Asia/Shanghai), None for no
    limit; ``balance`` the messages the account can still pay for, None for no limit.
    ``templates`` maps a TemplateCode to its text with ``${var}`` placeholders: when
    given, unknown codes and missing variables are refused and content is rendered.
    ``unsubscribe_replies``: numbers that reply "T" after their first accepted message.
    """

    access_key_id: str = SANDBOX_ACCESS_KEY_ID
    access_key_secret: str = SANDBOX_ACCESS_KEY_SECRET
    seed: int = 0
    latency_ms: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_delay_s: float = 30.0
    throttle_every: int = 0
    throttle_burst: int = 0
    undelivered_rate: float = 0.0
    max_rate: float | None = None
    daily_limit: int | None = None
    balance: int | None = None
    reject: Mapping[str, str] = field(default_factory=dict)
    templates: Mapping[str, str] | None = None
    unsubscribe_replies: frozenset[str] = frozenset()
    report_url: str | None = None
    reply_url: str | None = None
    log_path: str | None = None
    max_clock_skew_s: float = 900.0  # Aliyun refuses x-acs-date 15 minutes off
    callback_delay_s: float = 0.05  # from acceptance to the receipt, and between pushes
    push_batch: int = 100
    callback_retries: int = 3  # pushes after the first unacknowledged one, doubling backoff
    callback_backoff_s: float = 0.2
    callback_timeout_s: float = 5.0
    callback_workers: int = 4

    def __post_init__(self) -> None:
        check.refuse(_problems(self))


def _problems(options: AliyunOptions) -> list[str]:
    problems = (
        check.fractions(options, ("error_rate", "timeout_rate", "undelivered_rate"))
        + check.sum_over_one(options, "error_rate", "timeout_rate")
        + check.non_negative(options, ("latency_ms", "timeout_delay_s", "callback_delay_s",
                                       "callback_backoff_s"))
        + check.positive(options, ("max_clock_skew_s", "callback_timeout_s"))
        + check.negative_counts(options, ("throttle_every", "throttle_burst",
                                          "callback_retries"))
        + check.at_least_one(options, ("push_batch", "callback_workers"))
        + check.max_rate(options))
    if options.daily_limit is not None and options.daily_limit < 1:
        problems.append(f"daily_limit must be at least 1, got {options.daily_limit}")
    if options.balance is not None and options.balance < 0:
        problems.append(f"balance must not be negative, got {options.balance}")
    if not options.access_key_id or not options.access_key_secret:
        problems.append("access_key_id and access_key_secret must not be empty")
    return problems
