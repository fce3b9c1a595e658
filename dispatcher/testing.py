"""Helpers for tests of the dispatcher and of third-party channel plugins.

They drive the public functions exactly as the CLI does: parse a campaign file's text
with the installed (unconfigured) channels, store it, and plan one firing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from channels.base import Channel, ValidationContext
from dispatcher import lifecycle, registry
from dispatcher.campaign import Campaign, parse_campaign
from dispatcher.campaign_store import apply_campaign, load_stored
from dispatcher.planner import PlanResult, plan_run

FIRE_TIME = datetime(2019, 6, 3, 1, tzinfo=UTC)


def unconfigured_channel(name: str) -> Channel:
    """An installed channel without its ``[channels.NAME]`` table: it validates and plans."""
    return registry.build_channel(name, {})


def store_campaign(engine: Engine, text: str, file: str = "campaign.toml",
                   approve_as: str | None = "approver") -> Campaign:
    """Parse ``text`` (AssertionError listing the problems if any), store it, and approve
    the stored version as ``approve_as`` (None leaves it awaiting approval)."""
    campaign, issues = parse_campaign(text, file, default_timezone="Asia/Shanghai",
                                      channel_for=unconfigured_channel,
                                      context=ValidationContext())
    assert campaign is not None, "\n".join(map(str, issues))
    apply_campaign(engine, campaign, file, text, actor="planner")
    if approve_as is not None:
        lifecycle.approve(engine, campaign.id, approve_as)
    return campaign


def plan_campaign(engine: Engine, text: str, fire_time: datetime = FIRE_TIME) -> PlanResult:
    """Store the campaign in ``text`` and plan its firing at ``fire_time``."""
    stored = store_campaign(engine, text)
    campaign, version = load_stored(engine, stored.id)
    return plan_run(engine, campaign, version, fire_time, unconfigured_channel)
