"""`run --until-idle` (plan_due) follows each campaign's misfire policy and its end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from dispatcher.campaigns.schedule import Schedule
from dispatcher.planning import runs
from dispatcher.storage.db import as_utc
from dispatcher.storage.tables import audit_log
from dispatcher.storage.tables import runs as runs_table
from dispatcher.testing import SHANGHAI, sms_campaign_text, store_campaign, unconfigured_channel

# Fires daily at 09:00 Shanghai from 1 to 10 March 2030.
START = datetime(2030, 3, 1, 9, tzinfo=SHANGHAI)
END = datetime(2030, 3, 10, 21, tzinfo=SHANGHAI)
NINE = datetime(2030, 3, 4, 9, tzinfo=SHANGHAI)


def daily(engine: Engine, misfire: str) -> None:
    store_campaign(engine, sms_campaign_text("daily", START, end=END, cron="0 9 * * *",
                                             misfire=misfire))


def planned(engine: Engine) -> list[datetime]:
    """The fire times of the planned runs, in UTC."""
    with engine.connect() as conn:
        return [as_utc(t) for t in conn.execute(select(runs_table.c.fire_time)
                                                .order_by(runs_table.c.id)).scalars()]


def missed(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(audit_log.c.detail).where(
            audit_log.c.action == "missed").order_by(audit_log.c.id)).scalars())


def plan_at(engine: Engine, now: datetime) -> int:
    return sum(r.created for r in runs.plan_due(engine, unconfigured_channel, now=now))


def test_skip_plans_a_firing_within_the_grace_only(resident: Engine) -> None:
    daily(resident, "skip")
    assert plan_at(resident, NINE + timedelta(minutes=4)) == 1
    assert planned(resident) == [NINE.astimezone(UTC)] and missed(resident) == []
    # The next day's firing is found two hours late: recorded once, never planned.
    late = NINE + timedelta(days=1, hours=2)
    assert plan_at(resident, late) == 0
    assert plan_at(resident, late + timedelta(minutes=1)) == 0
    assert len(planned(resident)) == 1
    assert missed(resident) == ['firing at 2030-03-05T09:00:00+08:00 missed: misfire = "skip" '
                              'and it was 2:00:00 late: nothing sent']


def test_run_late_plans_a_late_firing_once(resident: Engine) -> None:
    daily(resident, "run-late")
    late = NINE + timedelta(hours=2)
    assert plan_at(resident, late) == 1
    assert plan_at(resident, late + timedelta(minutes=5)) == 0
    assert planned(resident) == [NINE.astimezone(UTC)] and missed(resident) == []


def test_nothing_is_planned_after_the_end(resident: Engine) -> None:
    daily(resident, "run-late")
    assert plan_at(resident, END + timedelta(hours=1)) == 0
    assert plan_at(resident, END + timedelta(hours=2)) == 0
    assert planned(resident) == []
    assert missed(resident) == ["firing at 2030-03-10T09:00:00+08:00 missed: too late: the "
                              "campaign ended at 2030-03-10T21:00:00+08:00"]


def test_an_interrupted_plan_of_a_skip_firing_resumes_however_late(resident: Engine) -> None:
    daily(resident, "skip")
    with resident.begin() as conn:  # as a plan killed before it marked the run planned
        conn.execute(runs_table.insert().values(
            campaign_id="daily", version=1, fire_time=NINE.astimezone(UTC),
            status="planning", created_at=NINE))
    [result] = runs.plan_due(resident, unconfigured_channel, now=NINE + timedelta(hours=3))
    assert result.created and result.rows["planned"] == 1  # resumed: its rows written now
    assert missed(resident) == []


def test_latest_and_next_firings_of_a_long_busy_schedule() -> None:
    every_minute = Schedule(START, START + timedelta(days=365), "* * * * *", None, "skip")
    now = START + timedelta(days=200, seconds=30)
    assert every_minute.latest_firing(now) == now - timedelta(seconds=30)
    assert every_minute.next_firings(now, 3) == [
        now + timedelta(seconds=30 + 60 * i) for i in range(3)]
    end = START + timedelta(days=365)
    assert every_minute.latest_firing(end + timedelta(days=9)) == end
    assert every_minute.next_firings(end - timedelta(minutes=1), 5) == [end]
    weekly = Schedule(START, None, "0 9 * * 1", None, "run-late")  # Mondays
    assert weekly.latest_firing(datetime(2031, 1, 1, tzinfo=SHANGHAI)) == datetime(
        2030, 12, 30, 9, tzinfo=SHANGHAI)
