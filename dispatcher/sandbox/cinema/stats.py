"""The cinema system's counters, in total and per cinema, and the shape of its stats.

Counters are dotted names (``bookings.created``, ``refused.block_full``) counted once in
total and once for the cinema they concern; :func:`render` always lists the documented
keys, zero or not, so a report's columns do not come and go.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from dispatcher.sandbox.counters import group

REFUSALS = ("malformed", "unknown_cinema", "bad_token", "unknown_screening",
            "unknown_block", "booking_reused", "booking_deleted", "screening_cancelled",
            "screening_started", "block_full", "unavailable")
BOOKING_KEYS = ("created", "repeats", "deleted")
LOG_KEYS = ("posted", "acknowledged", "failed", "replayed", "entries_reported",
            "entries_acknowledged")
OUTCOMES = ("plays", "drops", "cancellations", "admissions")
CINEMA_KEYS = ("bookings.created", "plays", "drops", "cancellations", "admissions",
               "logs.acknowledged")


class Counts:
    """Thread-safe counters of dotted names, in total and per cinema."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total: Counter[str] = Counter()
        self._cinemas: dict[str, Counter[str]] = {}

    def add(self, name: str, cinema: str | None = None, amount: int = 1) -> None:
        with self._lock:
            self._total[name] += amount
            if cinema is not None:
                self._cinemas.setdefault(cinema, Counter())[name] += amount

    def snapshot(self) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        with self._lock:
            return dict(self._total), {c: dict(n) for c, n in self._cinemas.items()}

    def reset(self) -> None:
        with self._lock:
            self._total.clear()
            self._cinemas.clear()


def render(counts: Counts, screenings: Mapping[str, int], bookings: Mapping[str, int],
           backlog: Mapping[str, tuple[int, int, int]]) -> dict[str, Any]:
    """What :meth:`CinemaSystem.stats` answers (its keys are documented there).

    ``screenings`` and ``bookings`` hold the desk's figures now, ``backlog`` each cinema's
    (entries not yet acknowledged, batches awaiting acknowledgement, replays queued)."""
    total, cinemas = counts.snapshot()
    per_cinema = {}
    for cinema in sorted(set(cinemas) | set(backlog)):
        mine = cinemas.get(cinema, {})
        row = {key.replace(".", "_"): mine.get(key, 0) for key in CINEMA_KEYS}
        row["refused"] = sum(group(mine, "refused").values())
        row["buffered"] = backlog.get(cinema, (0, 0, 0))[0]
        per_cinema[cinema] = row
    buffered, pending, replays = (sum(row[i] for row in backlog.values()) for i in range(3))
    return {
        "screenings": dict(screenings),
        "bookings": group(total, "bookings", BOOKING_KEYS) | dict(bookings)
        | {"refused": group(total, "refused", REFUSALS),
           "errors": group(total, "errors", ("503", "created_first"))},
        **{key: total.get(key, 0) for key in OUTCOMES},
        "logs": group(total, "logs", LOG_KEYS)
        | {"pending_batches": pending, "pending_replays": replays,
           "errors": group(total, "log_errors")},
        "buffered": buffered,
        "per_cinema": per_cinema,
    }
