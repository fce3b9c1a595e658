"""The checks the simulators' option dataclasses share: each finds the problems of a few
settings, in words, so that a bad set of options raises one ValueError naming them all."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any


def refuse(problems: list[str]) -> None:
    """Raise one ValueError naming every problem, when there is any."""
    if problems:
        raise ValueError("; ".join(problems))


def failing(options: Any, names: Iterable[str], ok: Callable[[float], bool],
            wanted: str) -> list[str]:
    """``"{name} must be {wanted}, got {value}"`` for each named setting not ``ok``."""
    return [f"{name} must be {wanted}, got {value}"
            for name in names if not ok(value := getattr(options, name))]


def is_fraction(value: float) -> bool:
    return math.isfinite(value) and 0 <= value <= 1


def is_positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def is_non_negative(value: float) -> bool:
    return math.isfinite(value) and value >= 0


def fractions(options: Any, names: Iterable[str]) -> list[str]:
    return failing(options, names, is_fraction, "a fraction from 0 to 1")


def positive(options: Any, names: Iterable[str]) -> list[str]:
    return failing(options, names, is_positive, "a positive number")


def non_negative(options: Any, names: Iterable[str]) -> list[str]:
    return failing(options, names, is_non_negative, "a non-negative number")


def negative_counts(options: Any, names: Iterable[str]) -> list[str]:
    return [f"{name} must not be negative" for name in names if getattr(options, name) < 0]


def sum_over_one(options: Any, first: str, second: str) -> list[str]:
    """Two fractions of the same requests, which together cannot exceed all of them."""
    if getattr(options, first) + getattr(options, second) > 1:
        return [f"{first} + {second} must not exceed 1"]
    return []


def at_least_one(options: Any, names: tuple[str, ...]) -> list[str]:
    if any(getattr(options, name) < 1 for name in names):
        return [f"{' and '.join(names)} must be at least 1"]
    return []


def max_rate(options: Any) -> list[str]:
    """``max_rate``: None (no limit) or accepted messages per second."""
    rate = options.max_rate
    if rate is not None and not rate > 0:
        return [f"max_rate must be positive messages per second, got {rate}"]
    return []


def clock_window(options: Any) -> list[str]:
    """``start`` and ``until`` of a simulated clock: timezone-aware, in that order."""
    problems = [f"{name} must be timezone-aware, got {value.isoformat()}"
                for name in ("start", "until")
                if (value := getattr(options, name)) is not None and value.utcoffset() is None]
    start, until = options.start, options.until
    if (start is not None and until is not None and start.utcoffset() is not None
            and until.utcoffset() is not None and until <= start):
        problems.append("until must be after start")
    return problems
