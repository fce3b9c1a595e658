"""Seeded draws of a cinema system: lost answers, drops, cancellations, admissions, replays.

Every draw is a ``random.Random`` seeded with a string naming what it decides, so a seed
gives the same outcome for the same booking, screening or batch however the requests and
worker threads interleave. A booking's fate also names its attempt (the how-many-th
request for that booking id reached the draw), so the dispatcher's retry of a lost answer
draws anew instead of failing forever.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

ADMISSIONS_SPREAD = 0.2  # standard deviation of admissions, as a share of the expected


@dataclass(frozen=True)
class Fate:
    """Whether a new booking is answered 503 and, if so, whether it was created first."""

    unavailable: bool
    created_first: bool


def fate(seed: int, booking: str, attempt: int, error_rate: float) -> Fate:
    rng = random.Random(f"{seed}:fate:{booking}:{attempt}")
    error, created = rng.random(), rng.random()
    unavailable = error < error_rate
    return Fate(unavailable=unavailable, created_first=unavailable and created < 0.5)


def dropped(seed: int, booking: str, rate: float) -> bool:
    """Whether a booking is not played when its screening starts."""
    return rate > 0 and random.Random(f"{seed}:drop:{booking}").random() < rate


def cancelled(seed: int, screening: str, rate: float) -> bool:
    """Whether a screening is cancelled an hour before it starts."""
    return rate > 0 and random.Random(f"{seed}:cancel:{screening}").random() < rate


def admissions(seed: int, screening: str, expected: int, seats: int) -> int:
    """People admitted: around ``expected``, never below 0 nor above ``seats``."""
    rng = random.Random(f"{seed}:admissions:{screening}")
    drawn = rng.gauss(expected, max(1.0, ADMISSIONS_SPREAD * expected))
    return max(0, min(seats, round(drawn)))


def replays(seed: int, cinema: str, batch_number: int, rate: float) -> bool:
    """Whether the ``batch_number``-th play-log batch of ``cinema`` is posted twice."""
    return rate > 0 and random.Random(f"{seed}:replay:{cinema}:{batch_number}").random() < rate


def stagger(seed: int, cinema: str) -> float:
    """A seeded fraction in [0, 1) that spreads the cinemas' first reports."""
    return random.Random(f"{seed}:report:{cinema}").random()
