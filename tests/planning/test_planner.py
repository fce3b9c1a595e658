"""Planning on real databases (SQLite and PostgreSQL) through the public functions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from channels.base import Inventory, Placement, Target
from dispatcher.audience import optouts
from dispatcher.campaigns.model import Campaign
from dispatcher.planning.planner import plan_run
from dispatcher.reach.figures import campaign_reach
from dispatcher.storage.tables import deliveries, runs
from dispatcher.testing import (
    FIRE_TIME,
    campaign_text,
    sms_placement,
    store_campaign,
    unconfigured_channel,
)
from tests.conftest import ImportList

FIRE = FIRE_TIME

CAMPAIGN = campaign_text(
    "drive", sms_placement("residents", "workers"),
    sms_placement("workers", body="Workplaces: report gang crime, call 110.", areas=["work"]))

RESIDENTS = """phone,area,district
13800000001,residential,丈八街道
13800000002,work,丈八街道
029-88888888,residential,丈八街道
"""
WORKERS = """phone,area,district
+86 138 0000 0002,work,丈八街道
13800000004,work,鱼化寨街道
"""


channel = unconfigured_channel


def campaign(engine: Engine, text: str = CAMPAIGN) -> Campaign:
    """Parse and store ``text`` as version 1 (or the unchanged current version)."""
    return store_campaign(engine, text, "drive.toml")


@pytest.fixture
def audience(engine: Engine, import_list: ImportList) -> Engine:
    import_list("residents", RESIDENTS)
    import_list("workers", WORKERS)
    optouts.add(engine, "+8613800000004", channel="sms", source="operator")
    return engine


@pytest.fixture
def drive(audience: Engine) -> Campaign:
    """CAMPAIGN stored (and approved) over the audience."""
    return campaign(audience)


def rows(engine: Engine) -> list[tuple[object, ...]]:
    query = select(deliveries.c.placement, deliveries.c.target, deliveries.c.occurrence,
                   deliveries.c.status, deliveries.c.reason).order_by(
        deliveries.c.target, deliveries.c.occurrence)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]


EXPECTED = [
    (0, "+8613800000001", 1, "planned", None),
    (0, "+8613800000002", 1, "planned", None),
    (0, "+8613800000002", 2, "skipped", "duplicate"),  # in both lists
    (1, "+8613800000002", 3, "skipped", "duplicate"),  # and in the second placement
    (0, "+8613800000004", 1, "skipped", "opted_out"),
    (1, "+8613800000004", 2, "skipped", "duplicate"),
    (0, "+862988888888", 1, "skipped", "invalid"),  # a landline cannot take SMS
]


def test_plan_expands_placements_with_skips_and_duplicates(audience: Engine,
                                                           drive: Campaign) -> None:
    result = plan_run(audience, drive, 1, FIRE, channel)
    assert result.created
    assert rows(audience) == EXPECTED
    assert dict(result.rows) == {"planned": 2, "skipped:duplicate": 3, "skipped:opted_out": 1,
                                 "skipped:invalid": 1}


def test_planning_a_planned_run_again_changes_nothing(audience: Engine, drive: Campaign) -> None:
    first = plan_run(audience, drive, 1, FIRE, channel)
    again = plan_run(audience, drive, 1, FIRE, channel)
    assert again.run_id == first.run_id and not again.created
    assert rows(audience) == EXPECTED
    with audience.connect() as conn:
        assert conn.execute(select(func.count()).select_from(runs)).scalar() == 1
        assert conn.execute(select(runs.c.status)).scalar() == "planned"


class Crashing:
    """A real SMS channel whose target stream dies after ``after`` targets, like a kill."""

    def __init__(self, after: int) -> None:
        self.inner = channel("sms")
        self.capabilities = self.inner.capabilities
        self.after = after

    def targets(self, placement: Placement, inventory: Inventory) -> Iterator[Target]:
        for n, target in enumerate(self.inner.targets(placement, inventory)):
            if n == self.after:
                raise RuntimeError("killed")
            yield target


def test_interrupted_planning_resumes_without_duplicates(audience: Engine, drive: Campaign,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import dispatcher.planning.planner as planner

    monkeypatch.setattr(planner, "BATCH_SIZE", 1)  # every row is committed on its own
    with pytest.raises(RuntimeError, match="killed"):
        plan_run(audience, drive, 1, FIRE, lambda name: Crashing(after=2))  # type: ignore[arg-type,return-value]
    with audience.connect() as conn:
        assert conn.execute(select(runs.c.status)).scalar() == "planning"
        assert 0 < conn.execute(select(func.count()).select_from(deliveries)).scalar_one() < 7
    result = plan_run(audience, drive, 1, FIRE, channel)
    assert result.created
    assert rows(audience) == EXPECTED


def test_reach_state_counts_add_up(audience: Engine, drive: Campaign) -> None:
    plan_run(audience, drive, 1, FIRE, channel)
    reach = campaign_reach(audience, drive, channel)
    sms = reach["channels"]["sms"]
    assert reach["campaign"] == "drive" and reach["runs"] == 1
    assert sms["targets"] == 7 and sms["pending"] == 2
    assert sms["skipped"] == {"opted_out": 1, "invalid": 1, "duplicate": 3, "capped": 0,
                              "outside_window": 0, "cancelled": 0}
    states = ("pending", "sending", "sent", "delivered", "undelivered", "failed")
    assert sms["targets"] == sum(sms[s] for s in states) + sum(sms["skipped"].values())
    assert sms["reach"] == {"message_times": 0, "segments": 0}
    assert sms["reach_sources"]["segments"]["source"] == "computed"


def test_area_district_and_tag_filters(engine: Engine, import_list: ImportList) -> None:
    import_list("people", "phone,area,district,tags\n"
                "13800000011,work,A,night\n13800000012,work,B,\n"
                "13800000013,street,A,night;day\n")
    text = campaign_text("drive", sms_placement("people", body="hi", areas=["work", "street"],
                                                districts=["A"], tags=["night"]))
    plan_run(engine, campaign(engine, text), 1, FIRE, channel)
    assert [r[1] for r in rows(engine)] == ["+8613800000011", "+8613800000013"]
