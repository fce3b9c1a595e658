"""Firings of approved campaigns: when they come, and whether a late one still sends.

Shared by the scheduler (which fires on time, and late after downtime) and
``dispatcher run --until-idle`` (which plans whatever is due when it is called), so both
follow a campaign's misfire policy the same way:

- ``misfire = "run-late"``: a late firing is planned once, if ``end`` has not passed;
- ``misfire = "skip"``: a firing later than the grace is not planned; it is written to
  the audit log as ``missed`` (once), with its time and why.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select

from dispatcher.approval import lifecycle
from dispatcher.campaigns.model import Campaign
from dispatcher.campaigns.versions import load_stored
from dispatcher.storage.db import utcnow
from dispatcher.storage.tables import audit_log, campaigns, runs

ACTOR = "scheduler"


class Firing(NamedTuple):
    campaign_id: str
    fire_time: datetime  # in the campaign's time zone


def campaign_zone(campaign: Campaign) -> ZoneInfo:
    return ZoneInfo(campaign.timezone)


def approved_campaigns(engine: Engine) -> list[tuple[Campaign, int]]:
    """Every stored campaign with a version allowed to fire, and that version."""
    with engine.connect() as conn:
        ids = list(conn.execute(select(campaigns.c.id).order_by(campaigns.c.id)).scalars())
        versions = {i: lifecycle.version_to_run(conn, i) for i in ids}
    return [load_stored(engine, campaign_id, version)
            for campaign_id, version in versions.items() if version is not None]


def coming_firings(engine: Engine, now: datetime | None = None,
                   limit: int = 20) -> list[Firing]:
    """The next ``limit`` firings of all approved campaigns, soonest first, each in its
    campaign's local time (computed from the schedules; no scheduler needed)."""
    now = now or utcnow()
    found = []
    for campaign, _version in approved_campaigns(engine):
        zone = campaign_zone(campaign)
        found += [Firing(campaign.id, fire.astimezone(zone))
                  for fire in campaign.schedule.next_firings(now, limit)]
    found.sort(key=lambda f: (f.fire_time, f.campaign_id))
    return found[:limit]


def missed_because(campaign: Campaign, fire_time: datetime, now: datetime,
                   grace: timedelta) -> str | None:
    """Why the firing at ``fire_time`` must send nothing when fired at ``now``, or None."""
    schedule = campaign.schedule
    if schedule.end is not None and now > schedule.end:
        return f"too late: the campaign ended at {schedule.end.isoformat()}"
    if schedule.misfire == "skip" and now - fire_time > grace:
        return f"misfire = \"skip\" and it was {late_by(now, fire_time)} late: nothing sent"
    return None


def late_by(now: datetime, fire_time: datetime) -> str:
    return str(timedelta(seconds=int((now - fire_time).total_seconds())))


def _marker(fire_time: datetime) -> str:
    return f"firing at {fire_time.isoformat()} "


def is_planned(conn: Connection, campaign_id: str, fire_time: datetime) -> bool:
    """Whether the run of this firing exists (runs store their fire time in UTC)."""
    return conn.execute(select(runs.c.id).where(
        runs.c.campaign_id == campaign_id,
        runs.c.fire_time == fire_time.astimezone(UTC))).first() is not None


def is_missed(conn: Connection, campaign_id: str, fire_time: datetime) -> bool:
    """Whether this firing was already recorded as missed."""
    return conn.execute(select(audit_log.c.id).where(
        audit_log.c.campaign_id == campaign_id, audit_log.c.action == "missed",
        audit_log.c.detail.startswith(_marker(fire_time)))).first() is not None


def record_missed(engine: Engine, campaign: Campaign, version: int | None,
                  fire_time: datetime, why: str) -> bool:
    """Audit a firing that sends nothing (``action = "missed"``), once per firing.

    ``fire_time`` is written in the campaign's time zone, so the record reads as the
    planner wrote the schedule. Returns False when it was recorded before.
    """
    local = fire_time.astimezone(campaign_zone(campaign))
    with engine.begin() as conn:
        if is_missed(conn, campaign.id, local):
            return False
        lifecycle.record(conn, ACTOR, "missed", campaign.id, version,
                         f"{_marker(local)}missed: {why}")
    return True
