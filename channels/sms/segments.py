"""How many SMS segments a body costs, counted the way a phone splits it.

Carriers bill and Twilio rate-limits by segment, not by message, so planning needs the
exact count. A body is sent in GSM-7 (the GSM 03.38 alphabet, 7-bit septets) when every
character is in that alphabet, otherwise the whole body goes as UCS-2 (UTF-16 code
units): one Chinese character, emoji or curly quote switches all of it.

A single message holds 160 septets or 70 units. A longer body is split into parts that
each lose room to the concatenation header: 153 septets or 67 units per part. A phone
never splits an extension character's escape pair (``€`` is ESC + ``e``, two septets)
or a UTF-16 surrogate pair (an emoji) across two parts, so such a character that does
not fit starts the next part. That is why the count is not simply ``ceil(units / 153)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# GSM 03.38 basic character set, in code order 0x00-0x7F (0x1B, the escape, left out).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# The extension table: each is sent as ESC + a code, so it takes two septets.
GSM_EXTENSION = frozenset("\f^{}\\[]~|€")

Encoding = Literal["GSM-7", "UCS-2"]
# Units in a single-segment message, and in each part of a split one.
LIMITS: dict[Encoding, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


@dataclass(frozen=True)
class SegmentCount:
    """``units`` are septets for GSM-7 and UTF-16 code units for UCS-2."""

    encoding: Encoding
    units: int
    segments: int


def first_non_gsm(body: str) -> str | None:
    """The first character that forces UCS-2, or None when the body fits GSM-7."""
    return next((ch for ch in body if ch not in GSM_BASIC and ch not in GSM_EXTENSION), None)


def count_segments(body: str) -> SegmentCount:
    """Count the segments of ``body``; an empty body is 0 segments."""
    encoding, costs = _costs(body)
    return SegmentCount(encoding, sum(costs), len(_starts(costs, *LIMITS[encoding])))


def split_segments(body: str) -> list[str]:
    """``body`` cut where the phone network cuts it: one string per segment, so a
    reviewer sees where each part of a long message ends."""
    encoding, costs = _costs(body)
    starts = _starts(costs, *LIMITS[encoding])
    return [body[start:end] for start, end in zip(starts, [*starts[1:], len(body)],
                                                  strict=True)]


def _costs(body: str) -> tuple[Encoding, list[int]]:
    """The body's encoding and the units each of its characters takes."""
    if first_non_gsm(body) is None:
        return "GSM-7", [2 if ch in GSM_EXTENSION else 1 for ch in body]
    return "UCS-2", [2 if ord(ch) > 0xFFFF else 1 for ch in body]


def _starts(costs: list[int], single: int, part: int) -> list[int]:
    """Where each part begins, for characters of the given unit costs, never splitting
    one (an empty body has no part)."""
    total = sum(costs)
    if total == 0:
        return []
    if total <= single:
        return [0]
    starts, used = [0], 0
    for index, cost in enumerate(costs):
        if used + cost > part:
            starts.append(index)
            used = 0
        used += cost
    return starts
