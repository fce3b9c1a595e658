"""Approval gates planning; every lifecycle action lands in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from dispatcher.approval import lifecycle
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.planning import runs
from dispatcher.storage.tables import runs as runs_table
from dispatcher.testing import (
    campaign_text,
    sms_placement,
    store_campaign,
    unconfigured_channel,
)

CAMPAIGN = campaign_text("drive", sms_placement("residents"), end=datetime(2019, 6, 30, 21),
                         cron="0 9 * * 1-5")
EDITED = CAMPAIGN.replace("call 110.", "call 110 now.")
MONDAY = datetime(2019, 6, 10, 2, tzinfo=UTC)  # 10:00 in Shanghai: the 09:00 firing is due
TUESDAY = datetime(2019, 6, 11, 2, tzinfo=UTC)


def planned_versions(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(runs_table.c.version).order_by(runs_table.c.id))
                    .scalars())


def test_nothing_is_planned_before_approval(resident: Engine) -> None:
    store_campaign(resident, CAMPAIGN, approve_as=None)
    assert runs.plan_due(resident, unconfigured_channel, now=MONDAY) == []
    with pytest.raises(DispatcherError, match="version 1 is not approved; approve it with"):
        lifecycle.require_approved(resident, "drive")
    assert lifecycle.approve(resident, "drive", "chief").changed
    assert not lifecycle.approve(resident, "drive", "chief").changed
    assert [r.created for r in runs.plan_due(resident, unconfigured_channel, now=MONDAY)] == [True]


def test_a_new_version_stops_the_campaign_until_approved(resident: Engine) -> None:
    store_campaign(resident, CAMPAIGN)
    runs.plan_due(resident, unconfigured_channel, now=MONDAY)
    store_campaign(resident, EDITED, approve_as=None)
    assert runs.plan_due(resident, unconfigured_channel, now=TUESDAY) == []
    lifecycle.approve(resident, "drive", "chief")
    runs.plan_due(resident, unconfigured_channel, now=TUESDAY)
    assert planned_versions(resident) == [1, 2]


def test_the_planner_may_keep_the_approved_version_running(resident: Engine) -> None:
    from channels.base import ValidationContext
    from dispatcher.campaigns.model import parse_campaign
    from dispatcher.planning.campaign_store import apply_campaign

    store_campaign(resident, CAMPAIGN)
    edited, _ = parse_campaign(EDITED, "drive.toml", default_timezone="Asia/Shanghai",
                               channel_for=unconfigured_channel, context=ValidationContext())
    assert edited is not None
    apply_campaign(resident, edited, "drive.toml", EDITED, actor="planner", keep_approved=True)
    runs.plan_due(resident, unconfigured_channel, now=TUESDAY)
    assert planned_versions(resident) == [1]


def test_history_records_who_did_what_to_which_version(resident: Engine) -> None:
    store_campaign(resident, CAMPAIGN, approve_as="chief")
    runs.plan_due(resident, unconfigured_channel, now=MONDAY)
    runs.pause(resident, "drive", actor="ops")
    runs.resume(resident, "drive", actor="ops")
    entries = lifecycle.history(resident, "drive")
    assert [(e["actor"], e["action"], e["version"]) for e in entries] == [
        ("planner", "apply", 1), ("chief", "approve", 1), ("planner", "plan", 1),
        ("ops", "pause", None), ("ops", "resume", None)]
    assert entries[2]["detail"].startswith("run 1 firing at 2019-06-10T09:00:00+08:00")


def test_approving_what_does_not_exist(resident: Engine) -> None:
    with pytest.raises(NotFoundError, match="no campaign 'nope'"):
        lifecycle.approve(resident, "nope", "chief")
    store_campaign(resident, CAMPAIGN, approve_as=None)
    with pytest.raises(NotFoundError, match="has no version 5"):
        lifecycle.approve(resident, "drive", "chief", version=5)
    with pytest.raises(DispatcherError, match="--by must name who approves"):
        lifecycle.approve(resident, "drive", "  ")
    with resident.connect() as conn:
        assert conn.execute(select(func.count()).select_from(runs_table)).scalar() == 0


def test_lifecycle_states(resident: Engine) -> None:
    from sqlalchemy import update

    def state(now: datetime) -> str:
        with resident.connect() as conn:
            return lifecycle.status(conn, "drive", now)

    before = datetime(2019, 6, 1, tzinfo=UTC)
    after_end = datetime(2019, 7, 1, tzinfo=UTC)
    store_campaign(resident, CAMPAIGN, approve_as=None)
    assert state(before) == "draft"
    lifecycle.approve(resident, "drive", "chief")
    assert (state(before), state(after_end)) == ("approved", "expired")  # never ran
    runs.plan_due(resident, unconfigured_channel, now=MONDAY)
    assert state(MONDAY) == "running"
    runs.pause(resident, "drive")
    assert state(MONDAY) == "paused"
    runs.resume(resident, "drive")
    with resident.begin() as conn:
        conn.execute(update(runs_table).values(status="completed"))
    assert (state(MONDAY), state(after_end)) == ("scheduled", "completed")
    runs.plan_due(resident, unconfigured_channel, now=TUESDAY)
    runs.cancel(resident, "drive")
    with resident.begin() as conn:
        conn.execute(update(runs_table).values(status="cancelled"))
    assert state(after_end) == "cancelled"
