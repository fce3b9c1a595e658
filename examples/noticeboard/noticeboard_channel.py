"""An example channel plugin: notices pinned to community notice boards.

A placement names ``boards = ["east-gate", "market"]`` and a ``text``: one row per board.
"Sending" pins the notice to an in-memory board (a real plugin calls its provider here);
reach is the boards pinned times ``viewers_per_day`` of ``[channels.noticeboard]``.
Walked through in the dispatcher's docs/writing-a-channel.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self

from channels.base import (
    Capabilities,
    Channel,
    ChannelBase,
    ConfigError,
    Inventory,
    LookupResult,
    Message,
    Placement,
    Problem,
    ReachFigure,
    Sender,
    SendResult,
    Target,
    ValidationContext,
    rows_in,
)

PLACEMENT_KEYS = ("boards", "name", "text")
BOARD = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


@dataclass(frozen=True)
class NoticeboardSettings:
    viewers_per_day: int = 100  # people who read one board in a day
    rate: float = 1.0  # notices pinned per second
    concurrency: int = 1


def parse_settings(table: Mapping[str, Any]) -> NoticeboardSettings:
    """Each bad key raises ConfigError naming it: ``channels.noticeboard.rate: ...``."""
    kinds = {"viewers_per_day": int, "rate": int | float, "concurrency": int}
    for key, value in table.items():
        if key not in kinds:
            raise ConfigError(f"channels.noticeboard.{key}", "unknown key; allowed: "
                              + ", ".join(kinds))
        if isinstance(value, bool) or not isinstance(value, kinds[key]) or value <= 0:
            raise ConfigError(f"channels.noticeboard.{key}", f"must be above 0, got {value!r}")
    return NoticeboardSettings(**table)


class NoticeboardChannel(ChannelBase[NoticeboardSettings]):
    """Community notice boards: one row per board, reach from a configured audience."""

    name: ClassVar[str] = "noticeboard"
    capabilities: ClassVar[Capabilities] = Capabilities(person_addressed=False,
                                                        waits_for_send_window=False)
    unconfigured: ClassVar[str] = "pinning needs a [channels.noticeboard] table"

    def __init__(self, settings: NoticeboardSettings | None = None) -> None:
        self.settings = settings
        self.pinned: dict[int, tuple[str, str]] = {}  # delivery id: (address, text)

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> Self:
        return cls(parse_settings(table))

    def validate(self, options: Mapping[str, Any], context: ValidationContext) -> list[Problem]:
        problems = [Problem((key,), f'unknown key "{key}"; allowed: ' + ", ".join(PLACEMENT_KEYS))
                    for key in options if key not in PLACEMENT_KEYS]
        boards = options.get("boards")
        if not isinstance(boards, list) or not boards:
            problems.append(Problem(("boards",), 'must name boards, such as ["east-gate"]'))
        else:
            problems += [Problem(("boards", i), "must be a board name: a-z, 0-9 and -")
                         for i, b in enumerate(boards)
                         if not isinstance(b, str) or not BOARD.fullmatch(b)]
        text = options.get("text")
        if not isinstance(text, str) or not 0 < len(text.strip()) <= 200:
            problems.append(Problem(("text",), "must be the notice, 1 to 200 characters"))
        if not isinstance(options.get("name", ""), str):
            problems.append(Problem(("name",), "must be a string (a label for this placement)"))
        return problems

    def targets(self, placement: Placement, inventory: Inventory) -> Iterator[Target]:
        """One row per board, by name (keys need only ascend: addresses hold the index)."""
        for key, board in enumerate(sorted(set(placement.options["boards"]))):
            yield Target(sort_key=key, address=f"board:{board}@{placement.index}")

    def send(self, message: Message) -> SendResult:
        """Pin the notice; pinning a row twice changes nothing (its id is the key)."""
        self.configured()
        self.pinned[message.delivery_id] = (message.address, str(message.placement.options["text"]))
        return SendResult(message.delivery_id, "accepted",
                          provider_ref=f"notice-{message.delivery_id}")

    def lookup(self, message: Message, since: datetime) -> LookupResult:
        if message.delivery_id not in self.pinned:
            return LookupResult(found=False)
        return LookupResult(found=True, provider_ref=f"notice-{message.delivery_id}", state="sent")

    def reach(self, placement: Placement, states: Mapping[str, int],
              reports: Mapping[str, int]) -> dict[str, ReachFigure]:
        boards = rows_in(states, ("sent", "delivered"))
        viewers = (self.settings or NoticeboardSettings()).viewers_per_day
        return {"boards": ReachFigure(boards, "computed", "boards the notice was pinned to"),
                "viewers": ReachFigure(boards * viewers, "computed",
                                       f"boards x {viewers} viewers per board and day (gross)")}


if TYPE_CHECKING:  # mypy checks that the plugin has each protocol it claims
    _channel: type[Channel] = NoticeboardChannel
    _sender: type[Sender] = NoticeboardChannel
