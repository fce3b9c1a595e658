"""What an LED fleet simulates: its screens (given by the dispatcher) and its settings.

The fleet never invents screens: the dispatcher's registry knows each screen's id, bearer
token and whether its controller pulls a feed or takes pushed playlists, so the fleet is
given exactly those (:func:`read_screens` reads them from a CSV file for the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, cast

from dispatcher.sandbox import option_checks as check
from dispatcher.sandbox.csv_rows import csv_rows

ControllerKind = Literal["pull", "push"]
CONTROLLER_KINDS: tuple[ControllerKind, ...] = ("pull", "push")
SCREEN_COLUMNS = ("id", "token", "controller")


@dataclass(frozen=True)
class ScreenSpec:
    """One screen the dispatcher knows: ``id`` (used in URL paths), its bearer ``token``."""

    id: str
    token: str
    controller: ControllerKind

    def __post_init__(self) -> None:
        if not self.id or "/" in self.id or self.id != self.id.strip():
            raise ValueError(f"screen id {self.id!r} must be non-empty, without '/' or "
                             "surrounding spaces")
        if not self.token:
            raise ValueError(f"screen {self.id}: token must not be empty")
        if self.controller not in CONTROLLER_KINDS:
            raise ValueError(f"screen {self.id}: controller must be pull or push, "
                             f"got {self.controller!r}")


@dataclass(frozen=True)
class LedOptions:
    """Settings of one fleet (``dispatcher sandbox led`` flags, or from Python).

    The simulated clock runs ``time_scale`` simulated seconds per real second from
    ``start`` (default: the current UTC time when the fleet starts) and stands still at
    ``until`` when given, so a test can count exact plays. Intervals and ``offline_*``
    durations are real seconds. ``offline_rate`` is the fraction of screens (rounded,
    at least one when positive) that go offline once, for ``offline_s``, at a seeded
    moment within ``offline_within_s`` of the start; ``replay_rate`` the fraction of
    acknowledged PoP batches posted a second time.
    """

    seed: int = 0
    time_scale: float = 3600.0
    start: datetime | None = None
    until: datetime | None = None
    poll_every_s: float = 1.0
    report_every_s: float = 0.5
    offline_rate: float = 0.0
    offline_s: float = 3.0
    offline_within_s: float = 2.0
    replay_rate: float = 0.0
    max_batch: int = 500
    workers: int = 8
    http_timeout_s: float = 5.0
    boot_timeout_s: float = 10.0  # the first polls before the clock starts

    def __post_init__(self) -> None:
        check.refuse(_problems(self))


def _problems(options: LedOptions) -> list[str]:
    return (check.fractions(options, ("offline_rate", "replay_rate"))
            + check.positive(options, ("time_scale", "poll_every_s", "report_every_s",
                                 "http_timeout_s"))
            + check.non_negative(options, ("offline_s", "offline_within_s", "boot_timeout_s"))
            + check.at_least_one(options, ("max_batch", "workers"))
            + check.clock_window(options))


def read_screens(path: str | Path) -> list[ScreenSpec]:
    """Screens from a CSV file with a header row ``id,token,controller`` (extra columns
    are ignored); a ValueError names the line of the first problem."""
    screens: list[ScreenSpec] = []
    seen: set[str] = set()
    for where, row in csv_rows(path, SCREEN_COLUMNS):
        try:
            spec = ScreenSpec(row["id"], row["token"], cast(ControllerKind, row["controller"]))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if spec.id in seen:
            raise ValueError(f"{where}: screen {spec.id} listed twice")
        seen.add(spec.id)
        screens.append(spec)
    return screens
