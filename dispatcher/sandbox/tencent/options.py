"""What a Tencent Cloud SMS sandbox simulates: credentials, the SMS app, seeded faults,
per-number limits and where it pushes status reports and replies.

Faults are drawn per SendSms call from a ``random.Random`` seeded with ``(seed, call
number)``, so the n-th call of a run always meets the same fate, whatever order
concurrent calls happen to arrive in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dispatcher.sandbox import option_checks as check

SANDBOX_SECRET_ID = "AKIDsandbox00000000000000000000000"
SANDBOX_SECRET_KEY = "sandbox-secret-key"
SANDBOX_SDK_APP_ID = "1400000000"
REGIONS = frozenset({"ap-guangzhou", "ap-beijing", "ap-nanjing"})  # where SMS is served
MAX_NUMBERS = 200  # numbers in one SendSms call
MAX_PULL = 100  # entries in one PullSmsSendStatusByPhoneNumber page
SIGNATURE_TTL_S = 300  # X-TC-Timestamp may differ this much from the server's clock


@dataclass(frozen=True)
class TencentOptions:
    """Settings of one Tencent SMS sandbox (``dispatcher sandbox tencent`` flags, or Python).

    Rates are fractions of SendSms calls (``undelivered_rate``: of accepted numbers) from
    0 to 1; ``error_rate + timeout_rate`` must not exceed 1. ``max_rate`` is SendSms calls
    per second (the platform limits requests, not numbers). ``reject`` maps an 11-digit
    number to the per-number code its sends get, e.g.
    ``{"13800000004": "FailedOperation.PhoneNumberInBlacklist"}``. ``daily_limit``: accepted
    messages per number and Beijing day (None: unlimited). ``balance``: the SMS package's
    billable parts (None: unlimited). ``templates``: TemplateId -> approved text with
    ``{1}``, ``{2}`` placeholders; when given, other ids are refused, and the rendered text
    is what ``Fee`` counts.
    """

    secret_id: str = SANDBOX_SECRET_ID
    secret_key: str = SANDBOX_SECRET_KEY
    sdk_app_id: str = SANDBOX_SDK_APP_ID
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
    unsubscribe_replies: frozenset[str] = frozenset()
    templates: Mapping[str, str] = field(default_factory=dict)
    report_url: str | None = None
    reply_url: str | None = None
    log_path: str | None = None
    callback_delay_s: float = 0.05  # from acceptance to the status report; push flushes
    push_batch: int = 100  # reports or replies in one push
    callback_retries: int = 3  # pushes after the first unacknowledged one, doubling backoff
    callback_backoff_s: float = 0.2
    callback_timeout_s: float = 5.0
    callback_workers: int = 4

    def __post_init__(self) -> None:
        check.refuse(_problems(self))


def _problems(options: TencentOptions) -> list[str]:
    problems = (
        check.fractions(options, ("error_rate", "timeout_rate", "undelivered_rate"))
        + check.sum_over_one(options, "error_rate", "timeout_rate")
        + check.non_negative(options, ("latency_ms", "timeout_delay_s", "callback_delay_s",
                                       "callback_backoff_s"))
        + check.negative_counts(options, ("throttle_every", "throttle_burst",
                                          "callback_retries"))
        + check.positive(options, ("callback_timeout_s",))
        + check.at_least_one(options, ("callback_workers", "push_batch"))
        + check.max_rate(options))
    for name in ("daily_limit", "balance"):
        value = getattr(options, name)
        if value is not None and value < 0:
            problems.append(f"{name} must be None or not negative, got {value}")
    if not (options.secret_id and options.secret_key and options.sdk_app_id):
        problems.append("secret_id, secret_key and sdk_app_id must not be empty")
    return problems
