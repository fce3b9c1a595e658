"""Approval gates planning; every lifecycle action lands in the audit log."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from dispatcher.approval import lifecycle
from dispatcher.audience.contacts import import_contacts
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.planning import runs
from dispatcher.storage.tables import runs as runs_table
from dispatcher.testing import store_campaign, unconfigured_channel

CAMPAIGN = '''id = "drive"
title = "Drive"
owner = "Publicity"
[schedule]
start = 2019-06-03T09:00:00
end = 2019-06-30T21:00:00
cron = "0 9 * * 1-5"
[[placements]]
channel = "sms"
audience = { lists = ["residents"] }
body = "Report gang crime: call 110."
'''
EDITED = CAMPAIGN.replace("call 110.", "call 110 now.")
MONDAY = datetime(2019, 6, 10, 2, tzinfo=UTC)  # 10:00 in Shanghai: the 09:00 firing is due
TUESDAY = datetime(2019, 6, 11, 2, tzinfo=UTC)


@pytest.fixture
def people(engine: Engine) -> Engine:
    import_contacts(engine, io.StringIO("phone,area,district\n13800000001,,\n"), "residents",
                    "CN")
    return engine


def planned_versions(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(runs_table.c.version).order_by(runs_table.c.id))
                    .scalars())


def test_nothing_is_planned_before_approval(people: Engine) -> None:
    store_campaign(people, CAMPAIGN, approve_as=None)
    assert runs.plan_due(people, unconfigured_channel, now=MONDAY) == []
    with pytest.raises(DispatcherError, match="version 1 is not approved; approve it with"):
        lifecycle.require_approved(people, "drive")
    assert lifecycle.approve(people, "drive", "chief").changed
    assert not lifecycle.approve(people, "drive", "chief").changed
    assert [r.created for r in runs.plan_due(people, unconfigured_channel, now=MONDAY)] == [True]


def test_a_new_version_stops_the_campaign_until_approved(people: Engine) -> None:
    store_campaign(people, CAMPAIGN)
    runs.plan_due(people, unconfigured_channel, now=MONDAY)
    store_campaign(people, EDITED, approve_as=None)
    assert runs.plan_due(people, unconfigured_channel, now=TUESDAY) == []
    lifecycle.approve(people, "drive", "chief")
    runs.plan_due(people, unconfigured_channel, now=TUESDAY)
    assert planned_versions(people) == [1, 2]


def test_the_planner_may_keep_the_approved_version_running(people: Engine) -> None:
    from channels.base import ValidationContext
    from dispatcher.campaigns.model import parse_campaign
    from dispatcher.planning.campaign_store import apply_campaign

    store_campaign(people, CAMPAIGN)
    edited, _ = parse_campaign(EDITED, "drive.toml", default_timezone="Asia/Shanghai",
                               channel_for=unconfigured_channel, context=ValidationContext())
    assert edited is not None
    apply_campaign(people, edited, "drive.toml", EDITED, actor="planner", keep_approved=True)
    runs.plan_due(people, unconfigured_channel, now=TUESDAY)
    assert planned_versions(people) == [1]


def test_history_records_who_did_what_to_which_version(people: Engine) -> None:
    store_campaign(people, CAMPAIGN, approve_as="chief")
    runs.plan_due(people, unconfigured_channel, now=MONDAY)
    runs.pause(people, "drive", actor="ops")
    runs.resume(people, "drive", actor="ops")
    entries = lifecycle.history(people, "drive")
    assert [(e["actor"], e["action"], e["version"]) for e in entries] == [
        ("planner", "apply", 1), ("chief", "approve", 1), ("planner", "plan", 1),
        ("ops", "pause", None), ("ops", "resume", None)]
    assert entries[2]["detail"].startswith("run 1 firing at 2019-06-10T09:00:00+08:00")


def test_approving_what_does_not_exist(people: Engine) -> None:
    with pytest.raises(NotFoundError, match="no campaign 'nope'"):
        lifecycle.approve(people, "nope", "chief")
    store_campaign(people, CAMPAIGN, approve_as=None)
    with pytest.raises(NotFoundError, match="has no version 5"):
        lifecycle.approve(people, "drive", "chief", version=5)
    with pytest.raises(DispatcherError, match="--by must name who approves"):
        lifecycle.approve(people, "drive", "  ")
    with people.connect() as conn:
        assert conn.execute(select(func.count()).select_from(runs_table)).scalar() == 0


def test_lifecycle_states(people: Engine) -> None:
    from sqlalchemy import update

    def state(now: datetime) -> str:
        with people.connect() as conn:
            return lifecycle.status(conn, "drive", now)

    before = datetime(2019, 6, 1, tzinfo=UTC)
    after_end = datetime(2019, 7, 1, tzinfo=UTC)
    store_campaign(people, CAMPAIGN, approve_as=None)
    assert state(before) == "draft"
    lifecycle.approve(people, "drive", "chief")
    assert (state(before), state(after_end)) == ("approved", "expired")  # never ran
    runs.plan_due(people, unconfigured_channel, now=MONDAY)
    assert state(MONDAY) == "running"
    runs.pause(people, "drive")
    assert state(MONDAY) == "paused"
    runs.resume(people, "drive")
    with people.begin() as conn:
        conn.execute(update(runs_table).values(status="completed"))
    assert (state(MONDAY), state(after_end)) == ("scheduled", "completed")
    runs.plan_due(people, unconfigured_channel, now=TUESDAY)
    runs.cancel(people, "drive")
    with people.begin() as conn:
        conn.execute(update(runs_table).values(status="cancelled"))
    assert state(after_end) == "cancelled"
