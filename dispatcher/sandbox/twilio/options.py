"""What a Twilio sandbox simulates: credentials, seeded faults and where it posts webhooks.

Every fault is decided per create request from a ``random.Random`` seeded with
``(seed, request number)``, so the n-th create request of a run always meets the same fate,
whatever order concurrent requests happen to draw in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dispatcher.sandbox import option_checks as check

SANDBOX_ACCOUNT_SID = "AC" + "0" * 32
SANDBOX_AUTH_TOKEN = "sandbox-auth-token"
SANDBOX_POOL_NUMBER = "+15005550006"  # the "From" of messages sent via a Messaging Service

# Twilio's test-credential magic numbers: a create to one of them fails with this code.
MAGIC_TO_NUMBERS: Mapping[str, int] = {
    "+15005550001": 21211,  # invalid number
    "+15005550002": 21612,  # cannot route to this number
    "+15005550003": 21408,  # no permission to send to this region
    "+15005550004": 21610,  # recipient unsubscribed
    "+15005550009": 21614,  # not a mobile number
}
UNDELIVERED_CODES = (30003, 30005, 30006, 30008)


@dataclass(frozen=True)
class TwilioOptions:
    """Settings of one Twilio sandbox (``dispatcher sandbox serve`` flags, or from Python).

    Rates are fractions of create requests from 0 to 1; ``error_rate + timeout_rate`` must
    not exceed 1. ``reject`` maps a To number to the 4xx error code its creates get (on
    top of :data:`MAGIC_TO_NUMBERS`), e.g. ``{"+8613800000004": 30004}``.
    """

    account_sid: str = SANDBOX_ACCOUNT_SID
    auth_token: str = SANDBOX_AUTH_TOKEN
    seed: int = 0
    latency_ms: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_delay_s: float = 30.0
    throttle_every: int = 0
    throttle_burst: int = 0
    undelivered_rate: float = 0.0
    max_rate: float | None = None
    inbound_url: str | None = None
    log_path: str | None = None
    unsubscribed: frozenset[str] = frozenset()
    reject: Mapping[str, int] = field(default_factory=dict)
    callback_delay_s: float = 0.05  # between create -> "sent" -> final status
    callback_retries: int = 3  # attempts after the first failed one, with doubling backoff
    callback_backoff_s: float = 0.2
    callback_timeout_s: float = 5.0
    callback_workers: int = 4
    # Statuses that post a status callback (all of them, like Twilio); a load test can
    # keep only the final ones to halve the webhooks. Statuses change either way.
    callback_statuses: frozenset[str] = frozenset({"sent", "delivered", "undelivered"})

    def __post_init__(self) -> None:
        check.refuse(_problems(self))


def _problems(options: TwilioOptions) -> list[str]:
    problems = (
        check.fractions(options, ("error_rate", "timeout_rate", "undelivered_rate"))
        + check.sum_over_one(options, "error_rate", "timeout_rate")
        + check.non_negative(options, ("latency_ms", "timeout_delay_s", "callback_delay_s",
                                       "callback_backoff_s"))
        + check.negative_counts(options, ("throttle_every", "throttle_burst",
                                          "callback_retries")))
    if options.callback_workers < 1 or options.callback_timeout_s <= 0:
        problems.append("callback_workers and callback_timeout_s must be positive")
    problems += check.max_rate(options)
    if not options.account_sid.startswith("AC") or not options.auth_token:
        problems.append('account_sid must start with "AC" and auth_token must not be empty')
    return problems
