"""The frequency cap across campaigns, applied at planning time, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from dispatcher.audience.contacts import import_contacts
from dispatcher.campaigns.versions import load_stored
from dispatcher.config import FrequencyCap, parse_config
from dispatcher.errors import ConfigError
from dispatcher.planning import runs
from dispatcher.planning.planner import plan_run
from dispatcher.reach.figures import campaign_reach
from dispatcher.storage.tables import deliveries
from dispatcher.testing import (
    campaign_text,
    sms_placement,
    store_campaign,
    unconfigured_channel,
)

DAY = datetime(2019, 6, 3, 1, tzinfo=UTC)


def campaign(name: str, lists: str = "residents") -> str:
    return campaign_text(name, sms_placement(lists, body=f"{name}: report crime, call 110."),
                         title=name, owner=f"dept-{name}")


@pytest.fixture
def people(engine: Engine) -> Engine:
    csv = "phone,area,district\n13800000001,,\n13800000002,,\n"
    import_contacts(engine, io.StringIO(csv), "residents", "CN")
    import_contacts(engine, io.StringIO("phone,area,district\n13800000001,,\n"), "one", "CN")
    return engine


def plan(engine: Engine, name: str, day: int, cap: FrequencyCap | None,
         lists: str = "residents") -> dict[str, int]:
    store_campaign(engine, campaign(name, lists))
    stored, version = load_stored(engine, name)
    result = plan_run(engine, stored, version, DAY + timedelta(days=day), unconfigured_channel,
                      cap=cap)
    return dict(result.rows)


def test_the_cap_skips_people_who_had_enough_this_week(people: Engine) -> None:
    cap = FrequencyCap(messages=2, days=7)
    assert plan(people, "police", 0, cap) == {"planned": 2}
    assert plan(people, "fire", 1, cap, "one") == {"planned": 1}
    # +8613800000001 had two messages this week; +8613800000002 one.
    assert plan(people, "health", 2, cap) == {"planned": 1, "skipped:capped": 1}
    with people.connect() as conn:
        capped = conn.execute(select(deliveries.c.target, deliveries.c.detail).where(
            deliveries.c.reason == "capped")).all()
    assert capped == [("+8613800000001", "already 2 message(s) on this channel in 7 day(s)")]
    stored, _ = load_stored(people, "health")
    reach = campaign_reach(people, stored, unconfigured_channel)
    assert reach["channels"]["sms"]["skipped"]["capped"] == 1


def test_only_messages_inside_the_window_count(people: Engine) -> None:
    cap = FrequencyCap(messages=1, days=2)
    plan(people, "police", 0, cap)
    assert plan(people, "fire", 1, cap) == {"skipped:capped": 2}
    assert plan(people, "health", 3, cap) == {"planned": 2}  # day 0 is outside, day 1 capped


def test_cancelled_and_skipped_rows_do_not_count(people: Engine) -> None:
    cap = FrequencyCap(messages=1, days=7)
    plan(people, "police", 0, cap)
    runs.cancel(people, "police")
    assert plan(people, "fire", 1, cap) == {"planned": 2}


def test_no_cap_no_change(people: Engine) -> None:
    plan(people, "police", 0, None)
    assert plan(people, "fire", 1, None) == {"planned": 2}


@pytest.mark.parametrize(("table", "message"), [
    ({"frequency_cap": {"messages": 0, "days": 7}}, "limits.frequency_cap.messages: must be"),
    ({"frequency_cap": {"messages": 3, "days": 7, "per": "person"}},
     "limits.frequency_cap.per: must be"),
    ({"frequency_cap": {"messages": 3, "weeks": 1}}, "limits.frequency_cap.weeks: unknown key"),
    ({"cap": 3}, "limits.cap: unknown key"),
])
def test_bad_cap_config_names_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_config({"limits": table})
