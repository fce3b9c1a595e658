"""Delivery ids read back from providers' callbacks (``?d=123``, a partner's ``"id"``).

A callback names its row by the id we gave the provider. Anything else in that place
(a 30-digit number, ``-5``, ``²``, 5,000 digits) names no row the database can hold: the
request is malformed, and must be refused alone (400) before it reaches a transaction
shared with other requests.
"""

from __future__ import annotations

from channels.base import MalformedRequest

# The callback URL we give a provider names its row in this query parameter (``?d=123``),
# so a receipt finds its row even before the send's provider ref was recorded.
DELIVERY_PARAM = "d"
MAX_DELIVERY_ID = 2**63 - 1  # BIGINT on PostgreSQL; SQLite's INTEGER holds the same
SHOWN_CHARS = 40  # of a refused value, in the error message


def parse_delivery_id(text: str, where: str) -> int:
    """``text`` as a delivery id; MalformedRequest naming ``where`` when it is not one.

    Only ASCII digits: ``str.isdigit`` also accepts ``²`` and ``١``, which ``int`` then
    refuses or reads as another number.
    """
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(MAX_DELIVERY_ID))
    if not digits or not 1 <= int(text) <= MAX_DELIVERY_ID:
        raise MalformedRequest(f"{where} must be a delivery id, a whole number from 1 to "
                               f"{MAX_DELIVERY_ID}; got {shown(text)}")
    return int(text)


def shown(value: str) -> str:
    """``value`` quoted for an error message, cut to :data:`SHOWN_CHARS` characters."""
    if len(value) <= SHOWN_CHARS:
        return repr(value)
    return f"{value[:SHOWN_CHARS]!r}... ({len(value)} characters)"
