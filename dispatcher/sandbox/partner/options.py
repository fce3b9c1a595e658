"""What a partner-app sandbox simulates: its secret, seeded faults and acknowledgements.

Faults are drawn reproducibly: each notice request by its number since start or reset
(``random.Random("{seed}:{n}")``), a recipient's refusal by the recipient and an
acknowledgement's failure by the notice id, so a seeded run always refuses the same
people and fails the same notices, whatever order concurrent requests arrive in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from dispatcher.sandbox import option_checks as check

SANDBOX_PARTNER_SECRET = "sandbox-partner-secret"
NOTICES_PATH = "/notices"


@dataclass(frozen=True)
class PartnerOptions:
    """Settings of one partner sandbox (``dispatcher sandbox partner`` flags, or Python).

    Rates are fractions from 0 to 1; ``error_rate + timeout_rate`` must not exceed 1.
    ``reject_rate`` refuses that fraction of recipients (400, as "not a user of the app"),
    ``fail_rate`` acknowledges that fraction of accepted notices ``failed``.
    """

    secret: str = SANDBOX_PARTNER_SECRET
    seed: int = 0
    latency_ms: float = 0.0
    error_rate: float = 0.0  # 500/503; half of them accept the notice first (a lost answer)
    timeout_rate: float = 0.0  # accepted, but answered only after timeout_delay_s
    timeout_delay_s: float = 30.0
    throttle_every: int = 0  # after every N requests, the next throttle_burst get 429
    throttle_burst: int = 0
    reject_rate: float = 0.0
    fail_rate: float = 0.0
    max_rate: float | None = None  # accepted requests per second; more get 429
    max_age_s: float = 300.0  # how far a notice's signed timestamp may be from our clock
    endpoint: str | None = None  # the name acknowledgements give in their "endpoint" field
    ack_delay_s: float = 0.05  # from acceptance to the acknowledgement
    ack_retries: int = 3  # attempts after a failed one, with doubling backoff
    ack_backoff_s: float = 0.2
    ack_timeout_s: float = 5.0
    ack_workers: int = 4

    def __post_init__(self) -> None:
        check.refuse(_problems(self))


@dataclass(frozen=True)
class Fate:
    """What happens to one notice request that is signed and well formed."""

    throttled: bool
    error_status: int | None  # 500 or 503
    accepted_before_error: bool  # the notice is kept, the answer lost
    timeout: bool


def fate(options: PartnerOptions, number: int) -> Fate:
    rng = random.Random(f"{options.seed}:{number}")
    fault, status, accepted = rng.random(), rng.random(), rng.random()
    error = fault < options.error_rate
    every, burst = options.throttle_every, options.throttle_burst
    return Fate(
        throttled=every > 0 and burst > 0 and number % (every + burst) >= every,
        error_status=(500 if status < 0.5 else 503) if error else None,
        accepted_before_error=error and accepted < 0.5,
        timeout=not error and fault < options.error_rate + options.timeout_rate)


def refuses(options: PartnerOptions, recipient: str) -> bool:
    return random.Random(f"{options.seed}:reject:{recipient}").random() < options.reject_rate


def fails(options: PartnerOptions, notice_id: str) -> bool:
    return random.Random(f"{options.seed}:fail:{notice_id}").random() < options.fail_rate


def _problems(options: PartnerOptions) -> list[str]:
    problems = (
        check.fractions(options, ("error_rate", "timeout_rate", "reject_rate", "fail_rate"))
        + check.sum_over_one(options, "error_rate", "timeout_rate")
        + check.non_negative(options, ("latency_ms", "timeout_delay_s", "ack_delay_s",
                                       "ack_backoff_s"))
        + check.negative_counts(options, ("throttle_every", "throttle_burst", "ack_retries")))
    if options.ack_workers < 1 or options.ack_timeout_s <= 0 or options.max_age_s <= 0:
        problems.append("ack_workers, ack_timeout_s and max_age_s must be positive")
    problems += check.max_rate(options)
    if not options.secret:
        problems.append("secret must not be empty")
    return problems
