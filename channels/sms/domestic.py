"""What the Aliyun and Tencent clients share: mainland numbers, one outcome for every
message of a call, and the id a platform echoes back so a lost send can be found.

Both platforms take mainland numbers without ``+86`` (Aliyun) or with it (Tencent), and
echo an id of ours: Aliyun's ``OutId`` in its receipts and lookups, Tencent's
``SessionContext`` in its lookups. Ours is the run (``r42``): one address is sent at
most once per run (the planner's unique target), so the run and the number name one row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta, timezone
from typing import Literal

from channels.base import Message, SendResult

MAINLAND = re.compile(r"(?:\+?86)?(1[3-9][0-9]{9})")
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")  # both platforms' dates
NOT_MAINLAND = "not_mainland"


def national(address: str) -> str | None:
    """The 11-digit mainland mobile number of an E.164 address; None for any other."""
    found = MAINLAND.fullmatch(address.strip())
    return found.group(1) if found else None


def run_tag(message: Message) -> str:
    """The id the platform echoes: the message's run (see the module's docstring)."""
    return f"r{message.run_id}"


def all_results(messages: Sequence[Message], outcome: Literal["failed", "retry", "unknown"],
                code: str | None, detail: str, retry_after: float | None = None,
                opt_out: bool = False) -> list[SendResult]:
    """The same outcome for every message of a call the platform refused or lost."""
    return [SendResult(m.delivery_id, outcome, code=code, detail=detail,
                       retry_after=retry_after, opt_out=opt_out) for m in messages]


def not_mainland(message: Message) -> SendResult:
    return SendResult(message.delivery_id, "failed", code=NOT_MAINLAND,
                      detail="the domestic platforms send to mainland mobile numbers "
                             "(+86 1xx xxxx xxxx) only")


def never_connected_text(text: str) -> bool:
    """Whether an SDK's wrapped transport error says no connection was made (so nothing
    was sent): refused, or the host not found."""
    return any(sign in text for sign in ("NewConnectionError", "Connection refused",
                                         "Name or service not known",
                                         "Failed to establish a new connection"))
