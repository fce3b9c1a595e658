"""The partner sandbox's answers and its stats, as ``/_sandbox/stats`` reports them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

FAULT_KINDS = ("error_500", "error_503", "error_accepted", "timeout", "throttle", "max_rate")


@dataclass(frozen=True)
class Outcome:
    """One HTTP answer: status, JSON body, extra headers, and how long to hold it back."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


class HasRecipient(Protocol):
    @property
    def recipient(self) -> str: ...


def stats_of(counts: Counter[str], notices: Iterable[HasRecipient],
             per_second: Mapping[str, Counter[int]], pending: int) -> dict[str, Any]:
    """``received`` (signed requests), ``accepted`` (distinct ids kept), ``duplicates``
    (repeats answered 200 and not kept), ``duplicate_recipients`` (people who got more
    than one notice: the duplicates that matter), ``unauthorized``, ``rejected`` (400s:
    invalid bodies, refused recipients), ``faults`` by kind, ``acks`` (posted, retried,
    failed to post, pending), ``outcomes`` (acknowledged delivered or failed), and
    ``accepted_per_second`` / ``received_per_second`` keyed by unix second."""
    def group(prefix: str, keys: tuple[str, ...]) -> dict[str, int]:
        found = {k.removeprefix(prefix): v for k, v in counts.items() if k.startswith(prefix)}
        return {key: found.get(key, 0) for key in keys} | found

    people = Counter(notice.recipient for notice in notices)
    return {
        "received": counts["received"], "accepted": sum(people.values()),
        "duplicates": counts["duplicates"],
        "duplicate_recipients": sum(1 for n in people.values() if n > 1),
        "unauthorized": counts["unauthorized"],
        "rejected": group("rejected.", ("invalid", "recipient")),
        "faults": group("faults.", FAULT_KINDS),
        "acks": group("acks.", ("posted", "retried", "failed")) | {"pending": pending},
        "outcomes": group("outcomes.", ("delivered", "failed")),
        "accepted_per_second": _seconds(per_second["accepted"]),
        "received_per_second": _seconds(per_second["received"]),
    }


def _seconds(counter: Counter[int]) -> dict[str, int]:
    return {str(second): counter[second] for second in sorted(counter)}
