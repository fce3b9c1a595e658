from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from dispatcher.campaigns.send_window import is_open, next_opening

DAY = (time(8, 0), time(21, 0))
NIGHT = (time(20, 0), time(2, 0))
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


def test_a_day_window_in_the_campaign_time_zone() -> None:
    at_0759 = datetime(2019, 6, 3, 7, 59, tzinfo=SHANGHAI)
    assert not is_open(DAY, SHANGHAI, at_0759)
    assert is_open(DAY, SHANGHAI, datetime(2019, 6, 3, 8, 0, tzinfo=SHANGHAI))
    assert not is_open(DAY, SHANGHAI, datetime(2019, 6, 3, 21, 0, tzinfo=SHANGHAI))
    assert next_opening(DAY, SHANGHAI, at_0759) == datetime(2019, 6, 3, 0, 0, tzinfo=UTC)
    late = datetime(2019, 6, 3, 22, 0, tzinfo=SHANGHAI)
    assert next_opening(DAY, SHANGHAI, late) == datetime(2019, 6, 4, 0, 0, tzinfo=UTC)


def test_a_window_that_crosses_midnight() -> None:
    assert is_open(NIGHT, SHANGHAI, datetime(2019, 6, 3, 1, 0, tzinfo=SHANGHAI))
    assert is_open(NIGHT, SHANGHAI, datetime(2019, 6, 3, 23, 0, tzinfo=SHANGHAI))
    morning = datetime(2019, 6, 3, 3, 0, tzinfo=SHANGHAI)
    assert not is_open(NIGHT, SHANGHAI, morning)
    assert next_opening(NIGHT, SHANGHAI, morning) == datetime(2019, 6, 3, 12, 0, tzinfo=UTC)


def test_openings_stay_at_local_time_across_dst() -> None:
    # New York springs forward on 2026-03-08: 08:00 is 13:00 UTC before, 12:00 UTC after.
    before = datetime(2026, 3, 7, 6, 0, tzinfo=UTC)
    after = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)
    assert next_opening(DAY, NEW_YORK, before) == datetime(2026, 3, 7, 13, 0, tzinfo=UTC)
    assert next_opening(DAY, NEW_YORK, after) == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def test_no_window_is_always_open() -> None:
    now = datetime(2019, 6, 3, 3, 0, tzinfo=UTC)
    assert is_open(None, SHANGHAI, now) and next_opening(None, SHANGHAI, now) == now
