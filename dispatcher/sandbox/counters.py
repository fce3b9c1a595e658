"""Counters of dotted names (``bookings.created``, ``feed_errors.401``) as the venue
simulators' stats show them: grouped by the part before the dot."""

from __future__ import annotations

from collections.abc import Mapping


def group(counts: Mapping[str, int], prefix: str, keys: tuple[str, ...] = ()) -> dict[str, int]:
    """The counters under ``prefix.``, without it; ``keys`` are listed even when zero (so
    a report's columns do not come and go), first and in their order, the rest sorted."""
    dotted = prefix + "."
    found = {k.removeprefix(dotted): v for k, v in counts.items() if k.startswith(dotted)}
    return {key: found.get(key, 0) for key in keys} | dict(sorted(found.items()))
