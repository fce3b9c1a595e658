from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from dispatcher.campaigns.schedule import Schedule, check, cron_trigger

TZ = ZoneInfo("Asia/Shanghai")


def schedule(cron: str | None = None, end: datetime | None = None) -> Schedule:
    return Schedule(datetime(2019, 6, 3, 9, tzinfo=TZ), end, cron, None, "run-late")


def test_weekday_numbers_follow_crontab_not_apscheduler() -> None:
    # 2019-06-03 is a Monday: "1-5" means Monday to Friday, as in crontab.
    trigger = cron_trigger("0 9 * * 1-5", TZ)
    fires = []
    fire = trigger.get_next_fire_time(None, datetime(2019, 6, 1, tzinfo=TZ))
    while len(fires) < 6:
        fires.append(fire.strftime("%a %d"))
        fire = trigger.get_next_fire_time(fire, fire.replace(minute=1))
    assert fires == ["Mon 03", "Tue 04", "Wed 05", "Thu 06", "Fri 07", "Mon 10"]
    for sunday in ("0", "7"):
        assert "day_of_week='sun'" in str(cron_trigger(f"0 9 * * {sunday}", TZ))


def test_latest_firing() -> None:
    once = schedule()
    assert once.latest_firing(datetime(2019, 6, 1, tzinfo=TZ)) is None
    assert once.latest_firing(datetime(2020, 1, 1, tzinfo=TZ)) == once.start
    daily = schedule("0 9 * * 1-5", end=datetime(2019, 6, 30, tzinfo=TZ))
    assert daily.latest_firing(datetime(2019, 6, 16, 12, tzinfo=TZ)) == datetime(
        2019, 6, 14, 9, tzinfo=TZ)
    assert daily.latest_firing(datetime(2021, 1, 1, tzinfo=TZ)) == datetime(
        2019, 6, 28, 9, tzinfo=TZ)


def test_check_builds_a_schedule_and_round_trips_json() -> None:
    problems: list[tuple[object, str]] = []
    table = {"start": datetime(2019, 6, 3, 9), "end": datetime(2019, 6, 30, 21),
             "cron": "0 9 * * 1-5", "send_window": ["20:00", "02:00"], "misfire": "skip"}
    built = check(table, TZ, lambda path, msg: problems.append((path, msg)))
    assert problems == []
    assert built is not None
    assert built.start == datetime(2019, 6, 3, 9, tzinfo=TZ)
    assert built.send_window == (time(20, 0), time(2, 0))
    assert Schedule.from_json(built.to_json()) == built


@pytest.mark.parametrize("expr", ["0 9 * * 5-1", "0 25 * * *", "0 9 * * * *"])
def test_bad_cron_is_reported(expr: str) -> None:
    problems: list[str] = []
    check({"start": datetime(2019, 6, 3), "end": datetime(2019, 7, 3), "cron": expr}, TZ,
          lambda path, msg: problems.append(msg))
    assert len(problems) == 1 and "is not a valid cron expression" in problems[0]
