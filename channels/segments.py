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
    encoding: Encoding
    if first_non_gsm(body) is None:
        encoding, costs = "GSM-7", [2 if ch in GSM_EXTENSION else 1 for ch in body]
    else:
        encoding, costs = "UCS-2", [2 if ord(ch) > 0xFFFF else 1 for ch in body]
    return SegmentCount(encoding, sum(costs), _pack(costs, *LIMITS[encoding]))


def _pack(costs: list[int], single: int, part: int) -> int:
    """Parts needed for characters of the given unit costs, never splitting one."""
    total = sum(costs)
    if total == 0:
        return 0
    if total <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part:
            parts, used = parts + 1, 0
        used += cost
    return parts
