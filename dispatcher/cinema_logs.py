"""Cinemas' play logs: each booking played, dropped or cancelled, with admissions.

A log is ``{"cinema", "batch", "entries": [{"booking", "screening", "status", "at",
"admissions"}]}``. Entries move rows forward only (a replayed log changes nothing):
played -> ``delivered`` with the screening's admissions stored as the row's figures
(``screenings`` 1, ``admissions`` n; a repeat replaces them with the same values);
dropped -> ``undelivered`` (the spot did not play); cancelled -> ``failed`` and the
screening marked cancelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select, update

from channels.base import ReachReport
from dispatcher.cinemas import screening_of
from dispatcher.db import utcnow
from dispatcher.provider_reports import apply_reports
from dispatcher.tables import deliveries, screenings
from dispatcher.transitions import Transition, advance

CHANNEL = "cinema"
ACTOR = "cinema"
STATES = {"played": ("delivered", None, "the cinema's play log confirms the spot played"),
          "dropped": ("undelivered", "dropped", "the cinema reports the spot did not play"),
          "cancelled": ("failed", "cancelled", "the screening was cancelled after booking")}
MAX_ENTRIES = 5_000


class BadLog(ValueError):
    """The log as a whole is malformed (400)."""


@dataclass
class LogResult:
    applied: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"applied": self.applied, "unchanged": self.unchanged,
                "rejected": self.rejected}


def ingest(engine: Engine, cinema: str, log: Mapping[str, Any]) -> LogResult:
    entries = log.get("entries")
    if not isinstance(log.get("batch"), str) or not isinstance(entries, list) or \
            len(entries) > MAX_ENTRIES:
        raise BadLog(f'a play log is {{"cinema", "batch", "entries": [...]}} with at most '
                     f"{MAX_ENTRIES} entries")
    rows = _rows_of(engine, cinema)
    result = LogResult()
    reports: list[ReachReport] = []
    with engine.begin() as conn:
        for index, entry in enumerate(entries):
            why = _check(entry, rows)
            if why is not None:
                result.rejected.append({"index": index, "reason": why})
                continue
            row, status = int(entry["booking"]), entry["status"]
            state, code, detail = STATES[status]
            moved = advance(conn, [Transition(state, row, code=code, detail=detail)],
                            actor=ACTOR)
            result.applied += bool(moved)
            result.unchanged += not moved
            reports += _figures(conn, row, entry)
    apply_reports(engine, CHANNEL, reports)
    return result


def _rows_of(engine: Engine, cinema: str) -> dict[int, str]:
    """This cinema's booking rows: id -> screening."""
    with engine.connect() as conn:
        found = conn.execute(select(deliveries.c.id, deliveries.c.target).where(
            deliveries.c.channel == CHANNEL,
            deliveries.c.target.like(f"screening:%/{cinema}/%"))).all()
    return {r.id: screening_of(r.target) for r in found}


def _check(entry: Any, rows: Mapping[int, str]) -> str | None:
    if not isinstance(entry, dict):
        return "not an object"
    booking = str(entry.get("booking", ""))
    if not booking.isdigit() or int(booking) not in rows:
        return f"booking {booking!r} is not one of this cinema's"
    if entry.get("screening") != rows[int(booking)]:
        return f"booking {booking} is for screening {rows[int(booking)]}"
    if entry.get("status") not in STATES:
        return f"status must be one of {', '.join(STATES)}"
    admissions = entry.get("admissions")
    if entry["status"] == "played" and (not isinstance(admissions, int)
                                        or isinstance(admissions, bool) or admissions < 0):
        return "a played entry needs admissions (a whole number)"
    return None


def _figures(conn: Any, row: int, entry: Mapping[str, Any]) -> list[ReachReport]:
    screening = entry["screening"]
    if entry["status"] == "cancelled":
        conn.execute(update(screenings).where(screenings.c.id == screening)
                     .values(status="cancelled", updated_at=utcnow()))
        return []
    if entry["status"] != "played":
        return []
    conn.execute(update(screenings).where(screenings.c.id == screening)
                 .values(admissions=entry["admissions"], updated_at=utcnow()))
    return [ReachReport("screenings", 1, delivery_id=row),
            ReachReport("admissions", int(entry["admissions"]), delivery_id=row)]
