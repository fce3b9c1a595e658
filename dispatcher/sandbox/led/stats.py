"""The fleet's counters, and the shape :meth:`LedFleet.stats` gives them.

Counters are dotted names (``feed_errors.401``, ``media.downloads``) in one locked
Counter shared by every controller, plays by item id in another (ids may hold dots);
:func:`fleet_stats` groups them by prefix and always lists the documented keys, zero or
not, so a report's columns do not come and go.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from dispatcher.sandbox.counters import group


class Tally:
    """A thread-safe Counter of dotted names."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._plays: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def add_plays(self, by_item: Mapping[str, int]) -> None:
        with self._lock:
            self._plays.update(by_item)
            self._counts["plays.total"] += sum(by_item.values())

    def snapshot(self) -> tuple[dict[str, int], dict[str, int]]:
        """(counters, plays by item id)."""
        with self._lock:
            return dict(self._counts), dict(sorted(self._plays.items()))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._plays.clear()


def fleet_stats(tally: Tally, screens: Mapping[str, int], backlog: Mapping[str, int],
                offline_periods: int) -> dict[str, Any]:
    """What :meth:`LedFleet.stats` answers; the keys are documented there. ``backlog``
    holds the controllers' ``buffered``, ``pending_batches`` and ``pending_replays``."""
    counts, by_item = tally.snapshot()
    plays = group(counts, "plays", ("total", "skipped_media"))
    return {
        "screens": dict(screens),
        "polls": counts.get("polls", 0),
        "not_modified": counts.get("not_modified", 0),
        "feed_errors": group(counts, "feed_errors"),
        "playlists": group(counts, "playlists", ("activated", "malformed")),
        "pushes": group(counts, "pushes", ("accepted",)),
        "media": group(counts, "media", ("downloads", "verified", "md5_failures",
                                         "size_failures", "errors")),
        "plays": plays | {"by_item": by_item},
        "batches": group(counts, "batches", ("posted", "acknowledged", "failed", "replayed"))
        | {"pending": backlog.get("pending_batches", 0),
           "replays_pending": backlog.get("pending_replays", 0)},
        "report_errors": group(counts, "report_errors"),
        "records": group(counts, "records", ("reported", "acknowledged"))
        | {"buffered": backlog.get("buffered", 0)},
        "offline_periods": offline_periods,
    }
