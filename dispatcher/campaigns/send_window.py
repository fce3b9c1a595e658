"""A campaign's send window (``send_window = ["08:00", "21:00"]``) in its own time zone.

Person-addressed channels (SMS, WeChat, partner apps) send only while the window is open;
rows wait for the next opening. Windows may cross midnight (``["20:00", "02:00"]``), and
openings are computed in local time, so they stay at 08:00 across DST changes.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

Window = tuple[time, time]


def is_open(window: Window | None, tz: ZoneInfo, now: datetime) -> bool:
    """Whether ``now`` (aware) falls inside the window, read in ``tz``."""
    if window is None:
        return True
    opens, closes = window
    local = now.astimezone(tz).time()
    if opens < closes:
        return opens <= local < closes
    return local >= opens or local < closes  # crosses midnight


def next_opening(window: Window | None, tz: ZoneInfo, now: datetime) -> datetime:
    """``now`` if the window is open, else the next moment it opens (aware, UTC)."""
    if window is None or is_open(window, tz, now):
        return now
    today = now.astimezone(tz).date()
    for days in range(0, 3):
        local = datetime.combine(today + timedelta(days=days), window[0], tzinfo=tz)
        # A local time skipped by a DST change is read forward, as clocks do.
        opening = local.astimezone(UTC)
        if opening > now:
            return opening
    raise AssertionError("a daily window opens within two days")
