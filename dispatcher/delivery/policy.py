"""The engine's settings and report, and its retry backoff."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EngineOptions:
    lease_seconds: float = 60.0
    max_attempts: int = 8
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    lookup_skew_seconds: float = 5.0  # clock difference allowed between us and the provider
    unknown_grace_seconds: float = 2.0  # wait before looking up a send of unknown outcome
    idle_poll_seconds: float = 0.2
    reconcile_seconds: float = 1.0  # how often rows with an expired lease are looked for
    # With until_idle: how far ahead work still counts as work (a retry's backoff, a lease
    # running out); None: a lease plus the longest backoff. A Celery task ends sooner and
    # leaves later work to a task derived again from the database.
    idle_horizon_seconds: float | None = None
    # Person-addressed channels send only inside the campaign's send_window (the demo,
    # which must run at any hour, turns this off and says so).
    respect_send_windows: bool = True


@dataclass
class EngineReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    reconciled_found: int = 0
    reconciled_missing: int = 0
    results: dict[str, int] = field(default_factory=dict)


def backoff(options: EngineOptions, attempt: int, retry_after: float | None) -> float:
    """Exponential backoff with jitter (half to all of the step), never sooner than the
    provider asked (Retry-After)."""
    ceiling = min(options.backoff_max, options.backoff_base * 2 ** max(attempt - 1, 0))
    return max(random.uniform(ceiling / 2, ceiling), retry_after or 0.0)

