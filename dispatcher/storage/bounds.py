"""The ranges a value typed by a person may take before it reaches the database.

Python takes any integer and dates from year 1 to 9999; the database and the clock
arithmetic around them do not (SQLite and PostgreSQL store integers up to 2^63 - 1;
year 1 moved to UTC from +08:00 is before year 1). Commands, pages and the API check
their input against these and say what is allowed, instead of failing deep inside.
"""

from __future__ import annotations

from datetime import datetime

MAX_DB_INT = 2**63 - 1  # BIGINT on PostgreSQL; SQLite's INTEGER holds the same
EARLIEST_YEAR = 1970
LATEST_YEAR = 2999


def year_problem(moment: datetime) -> str | None:
    """Why ``moment`` is out of range ("year 1 is out of range; ..."), or None.

    The year is checked as written (before any move to UTC), so a time at the edge of
    a year in any zone can still be moved to UTC and back.
    """
    if EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
        return None
    return f"year {moment.year} is out of range; allowed: years {EARLIEST_YEAR} to {LATEST_YEAR}"

