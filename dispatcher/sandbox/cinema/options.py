"""What a simulated cinema management system is set to do, and the tokens it is given.

The system never invents cinemas or credentials: the dispatcher's registry knows each
cinema's bearer token, so the system is given exactly those (:func:`read_tokens` reads
them from a CSV file ``id,token`` for the CLI).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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
        problems = _problems(self)
        if problems:
            raise ValueError("; ".join(problems))


def _problems(options: CinemaOptions) -> list[str]:
    problems = [f"{name} must be a fraction from 0 to 1, got {value}"
                for name in ("error_rate", "drop_rate", "cancel_rate", "replay_rate")
                if not (math.isfinite(value := getattr(options, name)) and 0 <= value <= 1)]
    for name in ("time_scale", "report_every_s", "http_timeout_s"):
        value = getattr(options, name)
        if not (math.isfinite(value) and value > 0):
            problems.append(f"{name} must be a positive number, got {value}")
    if not (math.isfinite(options.latency_ms) and options.latency_ms >= 0):
        problems.append(f"latency_ms must be a non-negative number, got {options.latency_ms}")
    if options.max_batch < 1 or options.workers < 1:
        problems.append("max_batch and workers must be at least 1")
    for name in ("start", "until"):
        value = getattr(options, name)
        if value is not None and value.utcoffset() is None:
            problems.append(f"{name} must be timezone-aware, got {value.isoformat()}")
    if (options.start is not None and options.until is not None
            and options.start.utcoffset() is not None and options.until.utcoffset() is not None
            and options.until <= options.start):
        problems.append("until must be after start")
    return problems


def read_tokens(path: str | Path) -> dict[str, str]:
    """Cinema id -> bearer token from a CSV file with a header row ``id,token`` (extra
    columns are ignored); a ValueError names the line of the first problem."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in TOKEN_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)} "
                             f"(need {','.join(TOKEN_COLUMNS)})")
        tokens: dict[str, str] = {}
        for row in reader:
            cinema, token = (row["id"] or "").strip(), (row["token"] or "").strip()
            where = f"{path}:{reader.line_num}"
            if not cinema or not token:
                raise ValueError(f"{where}: id and token must not be empty")
            if cinema in tokens:
                raise ValueError(f"{where}: cinema {cinema} listed twice")
            tokens[cinema] = token
    return tokens
