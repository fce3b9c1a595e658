"""The scheduler on real databases: leadership, idempotent firings, jobs, misfires, CLI."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from channels.base import ReachReport, SentRow
from dispatcher.audience.contacts import import_contacts
from dispatcher.cli.schedule import schedule as schedule_command
from dispatcher.context import AppContext
from dispatcher.planning.firings import coming_firings
from dispatcher.scheduling import scheduler
from dispatcher.scheduling.leader import LeaderLock
from dispatcher.scheduling.scheduler import SchedulerService, fire, sync_jobs
from dispatcher.storage.tables import audit_log, runs
from dispatcher.testing import SHANGHAI, sms_campaign_text, store_campaign

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def residents(engine: Engine) -> Engine:
    import_contacts(engine, io.StringIO("phone,area,district\n13800000001,,\n"), "residents",
                    "CN")
    return engine


@pytest.fixture
def holder(engine: Engine) -> Iterator[Engine]:
    scheduler.configure(engine, None)
    yield engine
    scheduler.configure(None, None)


def count_runs(engine: Engine, campaign_id: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(runs)
                                .where(runs.c.campaign_id == campaign_id)).scalar_one())


def audit(engine: Engine, campaign_id: str, action: str) -> list[str]:
    with engine.connect() as conn:
        return [str(d) for d in conn.execute(select(audit_log.c.detail).where(
            audit_log.c.campaign_id == campaign_id, audit_log.c.action == action)
            .order_by(audit_log.c.id)).scalars()]


def wait_until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# Leadership --------------------------------------------------------------------------


def test_leader_lock_is_exclusive_until_released(engine: Engine) -> None:
    first, second = LeaderLock(engine), LeaderLock(engine)
    try:
        assert first.try_acquire()
        assert first.try_acquire()  # holding it already
        assert not second.try_acquire()
        assert first.still_held()
        first.release()
        assert second.try_acquire()
        assert not first.try_acquire()
    finally:
        first.release()
        second.release()
    with LeaderLock(engine) as lock:
        assert lock.held
    assert not lock.held


def test_sqlite_lock_file_sits_next_to_the_database(sqlite_url: str) -> None:
    from dispatcher.storage.db import make_engine

    eng = make_engine(sqlite_url)
    lock = LeaderLock(eng)
    assert str(lock.lock_path) == sqlite_url[len("sqlite:///"):] + ".scheduler.lock"
    eng.dispose()


LEADER_SNIPPET = """
import sys, time
from dispatcher.storage.db import make_engine
from dispatcher.scheduling.leader import LeaderLock
lock = LeaderLock(make_engine(sys.argv[1]))
print("locked" if lock.try_acquire() else "busy", flush=True)
time.sleep(120)
"""


def test_a_killed_leader_frees_the_lock(engine: Engine, db_url: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", LEADER_SNIPPET, db_url], cwd=REPO,
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    lock = LeaderLock(engine)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "locked"
        assert not lock.try_acquire()
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        wait_until(lock.try_acquire)  # PostgreSQL ends the session once the socket closes
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        lock.release()


def test_standby_takes_over_when_the_leader_releases(engine: Engine, db_url: str) -> None:
    leader = LeaderLock(engine)
    assert leader.try_acquire()
    try:
        assert scheduler.start_scheduler(engine, db_url, standby_poll_seconds=0.05) is None
        service = scheduler.current_service()
        assert service is not None and not service.running
        leader.release()
        wait_until(lambda: service.running)
        assert service.lock.held
    finally:
        scheduler.stop()
        leader.release()
    assert not service.lock.held
    assert LeaderLock(engine).try_acquire()  # given up on stop (released with the object)


# Firing ------------------------------------------------------------------------------


def test_fire_is_idempotent(residents: Engine, holder: Engine) -> None:
    start = now() - timedelta(minutes=1)
    store_campaign(residents, sms_campaign_text("once", start))
    iso = start.astimezone(SHANGHAI).isoformat()
    fire("once", iso)
    fire("once", iso)
    assert count_runs(residents, "once") == 1
    assert len(audit(residents, "once", "fire")) == 1
    assert len(audit(residents, "once", "plan")) == 1


def test_fire_of_a_recurring_job_plans_the_latest_due_firing(residents: Engine,
                                                             holder: Engine) -> None:
    start = now() - timedelta(days=3)
    store_campaign(residents, sms_campaign_text("daily", start, end=now() + timedelta(days=3),
                                            cron="*/5 * * * *"))
    fire("daily", "")
    fire("daily", "")
    with residents.connect() as conn:
        fire_time = conn.execute(select(runs.c.fire_time)).scalar_one()
    assert count_runs(residents, "daily") == 1
    [detail] = audit(residents, "daily", "fire")
    assert detail.startswith("firing at ") and "+08:00: run " in detail
    assert fire_time.minute % 5 == 0


def test_an_unapproved_campaign_does_not_fire(residents: Engine, holder: Engine) -> None:
    start = now() - timedelta(minutes=1)
    store_campaign(residents, sms_campaign_text("draft", start), approve_as=None)
    fire("draft", start.isoformat())
    fire("nobody", start.isoformat())
    assert count_runs(residents, "draft") == 0


# Jobs --------------------------------------------------------------------------------


@pytest.fixture
def paused(engine: Engine) -> Iterator[BackgroundScheduler]:
    sched = scheduler.new_scheduler(engine)
    sched.start(paused=True)
    yield sched
    sched.shutdown(wait=False)


def test_jobs_follow_the_approved_campaigns(engine: Engine,
                                            paused: BackgroundScheduler) -> None:
    store_campaign(engine, sms_campaign_text("weekdays", now() - timedelta(days=1),
                                         end=now() + timedelta(days=30), cron="0 9 * * 1-5"))
    start = now() + timedelta(hours=2)
    store_campaign(engine, sms_campaign_text("once", start))
    store_campaign(engine, sms_campaign_text("draft", start), approve_as=None)

    assert sync_jobs(paused, engine) == {"weekdays": "added", "once": "added"}
    weekdays = paused.get_job("weekdays")
    assert weekdays.func_ref == "dispatcher.scheduling.scheduler:fire"
    assert weekdays.args == ("weekdays", "")
    assert isinstance(weekdays.trigger, CronTrigger)
    assert weekdays.trigger.timezone == SHANGHAI
    assert weekdays.coalesce and weekdays.misfire_grace_time > 86400
    local = weekdays.next_run_time.astimezone(SHANGHAI)
    assert local.weekday() < 5 and (local.hour, local.minute) == (9, 0)
    assert local > datetime.now(UTC)

    once = paused.get_job("once")
    assert isinstance(once.trigger, DateTrigger)
    assert once.next_run_time == start
    assert once.args == ("once", start.astimezone(SHANGHAI).isoformat())
    assert paused.get_job("draft") is None

    assert sync_jobs(paused, engine) == {}  # unchanged: left alone
    # A new version awaiting approval stops the campaign; a changed schedule replaces.
    store_campaign(engine, sms_campaign_text("once", start, body="Changed."), approve_as=None)
    store_campaign(engine, sms_campaign_text("weekdays", now() - timedelta(days=1),
                                         end=now() + timedelta(days=30), cron="0 10 * * 1-5"))
    assert sync_jobs(paused, engine) == {"once": "removed", "weekdays": "replaced"}
    assert paused.get_job("weekdays").next_run_time.astimezone(SHANGHAI).hour == 10


def test_skip_jobs_have_a_short_grace(engine: Engine, paused: BackgroundScheduler) -> None:
    store_campaign(engine, sms_campaign_text("strict", now() + timedelta(hours=1), misfire="skip"))
    sync_jobs(paused, engine)
    job = paused.get_job("strict")
    assert job.misfire_grace_time == 1 and not job.coalesce


# Misfires ----------------------------------------------------------------------------


@pytest.fixture
def service(residents: Engine, db_url: str) -> Iterator[SchedulerService]:
    svc = SchedulerService(residents, db_url, sync_seconds=0.2)
    yield svc
    svc.stop()
    scheduler.configure(None, None)


def test_run_late_fires_once_after_downtime(residents: Engine,
                                            service: SchedulerService) -> None:
    store_campaign(residents, sms_campaign_text("late", now() - timedelta(minutes=10)))
    assert service.start()
    wait_until(lambda: len(audit(residents, "late", "fire")) == 1)
    time.sleep(0.5)  # a few re-syncs: the done one-shot is not scheduled again
    service.stop()
    assert count_runs(residents, "late") == 1
    assert "late)" in audit(residents, "late", "fire")[0]
    assert audit(residents, "late", "missed") == []


def test_skip_records_the_missed_firing_and_sends_nothing(residents: Engine,
                                                          service: SchedulerService) -> None:
    start = now() - timedelta(minutes=10)
    store_campaign(residents, sms_campaign_text("strict", start, misfire="skip"))
    assert service.start()
    wait_until(lambda: len(audit(residents, "strict", "missed")) == 1)
    time.sleep(0.5)
    service.stop()
    [detail] = audit(residents, "strict", "missed")
    assert detail.startswith(f"firing at {start.astimezone(SHANGHAI).isoformat()} missed")
    assert "skip" in detail
    assert count_runs(residents, "strict") == 0


def test_a_second_service_stands_by(residents: Engine, db_url: str,
                                    service: SchedulerService) -> None:
    assert service.start()
    other = SchedulerService(residents, db_url)
    try:
        assert not other.start()
    finally:
        other.stop()


# Coming firings and the CLI ---------------------------------------------------------


def test_coming_firings_in_local_time(engine: Engine) -> None:
    base = datetime(2030, 1, 7, tzinfo=SHANGHAI)  # a Monday
    store_campaign(engine, sms_campaign_text("weekdays", base, end=base + timedelta(days=30),
                                         cron="0 9 * * 1-5"))
    store_campaign(engine, sms_campaign_text("once", base + timedelta(days=1, hours=12)))
    store_campaign(engine, sms_campaign_text("draft", base + timedelta(hours=1)), approve_as=None)
    firings = coming_firings(engine, base.astimezone(UTC), limit=4)
    assert [(f.campaign_id, f.fire_time.strftime("%a %d %H:%M %z")) for f in firings] == [
        ("weekdays", "Mon 07 09:00 +0800"), ("weekdays", "Tue 08 09:00 +0800"),
        ("once", "Tue 08 12:00 +0800"), ("weekdays", "Wed 09 09:00 +0800")]
    assert coming_firings(engine, base + timedelta(days=60)) == []


def test_schedule_list_command(engine: Engine) -> None:
    start = now() + timedelta(days=1)
    store_campaign(engine, sms_campaign_text("weekdays", start, end=start + timedelta(days=30),
                                         cron="0 9 * * 1-5"))
    runner = CliRunner(env={"COLUMNS": "200"})
    app = AppContext(_engine=engine)
    result = runner.invoke(schedule_command, ["list", "--limit", "3", "--json"], obj=app)
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert len(items) == 3
    for item in items:
        local = datetime.fromisoformat(item["fire_time"])
        assert item["campaign"] == "weekdays" and item["timezone"] == "Asia/Shanghai"
        assert local.utcoffset() == timedelta(hours=8)
        assert local.weekday() < 5 and (local.hour, local.minute) == (9, 0)
    text = runner.invoke(schedule_command, ["list"], obj=app)
    assert text.exit_code == 0, text.output
    assert "09:00 +0800" in text.stdout and "weekdays" in text.stdout
    assert "Asia/Shanghai" in text.stdout


def test_schedule_list_without_firings(engine: Engine) -> None:
    store_campaign(engine, sms_campaign_text("past", now() - timedelta(days=1)))
    result = CliRunner().invoke(schedule_command, ["list"], obj=AppContext(_engine=engine))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("no coming firings")


def stored_job_down_since(engine: Engine, campaign_id: str, down_since: datetime) -> None:
    """Leave the campaign's job in the job store as a scheduler that died at
    ``down_since`` would: its next run time in the past."""
    sched = scheduler.new_scheduler(engine)
    sched.start(paused=True)
    try:
        sync_jobs(sched, engine)
        job = sched.get_job(campaign_id)
        sched.modify_job(campaign_id, next_run_time=job.trigger.get_next_fire_time(
            None, down_since))
    finally:
        sched.shutdown(wait=False)


def test_recurring_run_late_fires_once_for_all_firings_missed(
        residents: Engine, service: SchedulerService) -> None:
    store_campaign(residents, sms_campaign_text("rec", now() - timedelta(days=1),
                                            end=now() + timedelta(days=1),
                                            cron="*/10 * * * *"))
    stored_job_down_since(residents, "rec", now() - timedelta(minutes=45))
    assert service.start()
    wait_until(lambda: count_runs(residents, "rec") == 1)
    time.sleep(0.5)
    service.stop()
    assert count_runs(residents, "rec") == 1
    assert audit(residents, "rec", "missed") == []


def test_recurring_skip_records_each_missed_firing(residents: Engine,
                                                   service: SchedulerService) -> None:
    store_campaign(residents, sms_campaign_text("rec", now() - timedelta(days=1),
                                            end=now() + timedelta(days=1),
                                            cron="*/10 * * * *", misfire="skip"))
    stored_job_down_since(residents, "rec", now() - timedelta(minutes=45))
    assert service.start()
    wait_until(lambda: len(audit(residents, "rec", "missed")) >= 4)
    time.sleep(0.5)
    service.stop()
    assert count_runs(residents, "rec") == 0
    assert len(audit(residents, "rec", "missed")) in (4, 5)  # one per 10 minutes missed


# Downtime on a controllable clock ----------------------------------------------------


def leading_service(engine: Engine, db_url: str) -> SchedulerService:
    service = SchedulerService(engine, db_url, sync_seconds=0.1)
    assert service.start()
    return service


@pytest.mark.parametrize("policy", ["run-late", "skip"])
def test_a_firing_missed_during_two_hours_of_downtime(residents: Engine, db_url: str,
                                                      policy: str) -> None:
    """The scheduler leads at 09:30, is down from 09:30 to 11:30 over the 10:00 firing,
    then leads again; the next day's firing comes on time under either policy."""
    first = datetime(2030, 3, 1, 10, tzinfo=SHANGHAI)
    ten = datetime(2030, 3, 4, 10, tzinfo=SHANGHAI)
    with time_machine.travel(ten - timedelta(minutes=30), tick=True) as clock:
        store_campaign(residents, sms_campaign_text(
            "daily", first, end=first + timedelta(days=30), cron="0 10 * * *",
            misfire=policy))
        service = leading_service(residents, db_url)
        time.sleep(0.3)  # a few syncs while leading: nothing is due at 09:30
        service.stop()
        assert count_runs(residents, "daily") == 0

        clock.shift(timedelta(hours=2))  # down until 11:30
        service = leading_service(residents, db_url)
        try:
            if policy == "run-late":
                # The run is created before the firing is written to the audit log.
                wait_until(lambda: audit(residents, "daily", "fire") != [])
                assert count_runs(residents, "daily") == 1
                [detail] = audit(residents, "daily", "fire")
                assert detail.startswith("firing at 2030-03-04T10:00:00+08:00: run ")
                assert detail.endswith("(1:30:00 late)")
                assert audit(residents, "daily", "missed") == []
            else:
                wait_until(lambda: audit(residents, "daily", "missed") != [])
                [detail] = audit(residents, "daily", "missed")
                assert detail.startswith("firing at 2030-03-04T10:00:00+08:00 missed: ")
                assert count_runs(residents, "daily") == 0
            before = count_runs(residents, "daily")
            fires = len(audit(residents, "daily", "fire"))

            clock.move_to(ten + timedelta(days=1) - timedelta(seconds=1))  # 09:59:59 next day
            wait_until(lambda: len(audit(residents, "daily", "fire")) == fires + 1)
            assert count_runs(residents, "daily") == before + 1
            assert audit(residents, "daily", "fire")[-1].startswith(
                "firing at 2030-03-05T10:00:00+08:00: run ")
            assert not audit(residents, "daily", "fire")[-1].endswith("late)")
        finally:
            service.stop()
    assert len(audit(residents, "daily", "missed")) == (policy == "skip")


class SilentPoller:
    """A channel that reports reach later (it has no rows here, so it is not asked)."""

    def poll_reach(self, rows: list[SentRow]) -> list[ReachReport]:
        return []


def test_the_leader_polls_reach_on_its_schedule(residents: Engine, db_url: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dispatcher.scheduling.scheduler")
    service = SchedulerService(residents, db_url, sync_seconds=0.05,
                               reach_channels={"wechat": SilentPoller()},  # type: ignore[dict-item]
                               reach_poll_seconds=0.3)
    assert service.start()

    def polls() -> int:
        return sum("reach polled: rows {'wechat': 0}" in r.getMessage() for r in caplog.records)

    try:
        wait_until(lambda: polls() >= 2)
        assert polls() <= 3  # not at every sync: once per reach_poll_seconds
    finally:
        service.stop()
