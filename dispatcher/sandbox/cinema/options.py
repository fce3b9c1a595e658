"""What a simulated cinema management system is set to do, and the tokens it is given.

The system never invents cinemas or credentials: the dispatcher's registry knows each
cinema's bearer token, so the system is given exactly those (:func:`read_tokens` reads
them from a CSV file ``id,token`` for the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dispatcher.sandbox import option_checks as check
from dispatcher.sandbox.csv_rows import csv_rows

TOKEN_COLUMNS = ("id", "token")
CANCEL_NOTICE_S = 3600  # simulated seconds before its start a screening may be cancelled


@dataclass(frozen=True)
class CinemaOptions:
    """Settings of one cinema system (``dispatcher sandbox cinema`` flags, or from Python).

    The play clock runs ``time_scale`` simulated seconds per real second from ``start``
    (default: 00:00 local time of the first screening's day) and stands still at
    ``until`` when given, so a test can count exact plays. ``report_every_s`` and
    ``http_timeout_s`` are real seconds. Rates are fractions, each drawn per item from
    the seed: ``error_rate`` of new bookings are answered 503 (half of them created
    first: a lost answer), ``drop_rate`` of bookings are not played, ``cancel_rate`` of
    screenings are cancelled an hour (simulated) before they start, ``replay_rate`` of
    acknowledged play-log batches are posted once more.
    """

    seed: int = 0
    time_scale: float = 3600.0
    start: datetime | None = None
    until: datetime | None = None
    report_every_s: float = 0.5
    error_rate: float = 0.0
    drop_rate: float = 0.0
    cancel_rate: float = 0.0
    replay_rate: float = 0.0
    latency_ms: float = 0.0
    max_batch: int = 500
    workers: int = 4
    http_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        check.refuse(_problems(self))


def _problems(options: CinemaOptions) -> list[str]:
    return (check.fractions(options, ("error_rate", "drop_rate", "cancel_rate", "replay_rate"))
            + check.positive(options, ("time_scale", "report_every_s", "http_timeout_s"))
            + check.non_negative(options, ("latency_ms",))
            + check.at_least_one(options, ("max_batch", "workers"))
            + check.clock_window(options))


def read_tokens(path: str | Path) -> dict[str, str]:
    """Cinema id -> bearer token from a CSV file with a header row ``id,token`` (extra
    columns are ignored); a ValueError names the line of the first problem."""
    tokens: dict[str, str] = {}
    for where, row in csv_rows(path, TOKEN_COLUMNS):
        cinema, token = row["id"], row["token"]
        if not cinema or not token:
            raise ValueError(f"{where}: id and token must not be empty")
        if cinema in tokens:
            raise ValueError(f"{where}: cinema {cinema} listed twice")
        tokens[cinema] = token
    return tokens
