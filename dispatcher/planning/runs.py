"""Run actions shared by the CLI and the web app: plan what is due, pause, resume,
cancel, and requeue failures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Engine, exists, insert, literal, select, update

from channels.base import Channel
from dispatcher.approval import lifecycle
from dispatcher.campaigns.versions import load_stored
from dispatcher.config import FrequencyCap
from dispatcher.errors import DispatcherError
from dispatcher.planning.firings import (
    approved_campaigns,
    is_planned,
    missed_because,
    record_missed,
)
from dispatcher.planning.planner import PlanResult, plan_run
from dispatcher.storage.db import utcnow
from dispatcher.storage.tables import deliveries, delivery_events, optouts, runs

ChannelFor = Callable[[str], Channel]
# How late `dispatcher run --until-idle` may still plan a "skip" campaign's firing: it is
# meant to be called every minute or so (from cron or a timer), not exactly on time.
UNTIL_IDLE_GRACE = timedelta(minutes=5)


def plan_due(engine: Engine, channel_for: ChannelFor, now: datetime | None = None,
             progress: Callable[[int], None] | None = None,
             cap: FrequencyCap | None = None,
             grace: timedelta = UNTIL_IDLE_GRACE) -> list[PlanResult]:
    """Plan the latest due firing of every approved campaign, once.

    Follows each campaign's misfire policy: a firing after the campaign's ``end``, or a
    ``misfire = "skip"`` firing more than ``grace`` old, is recorded as missed instead of
    planned. A firing planned before is left as it is (an interrupted plan resumes).
    """
    now = now or utcnow()
    results = []
    for campaign, version in approved_campaigns(engine):
        fire_time = campaign.schedule.latest_firing(now)
        if fire_time is None:
            continue
        with engine.connect() as conn:
            planned = is_planned(conn, campaign.id, fire_time)
        why = None if planned else missed_because(campaign, fire_time, now, grace)
        if why is not None:
            record_missed(engine, campaign, version, fire_time, why)
            continue
        results.append(plan_run(engine, campaign, version, fire_time, channel_for,
                                progress, cap))
    return results


def plan_firing(engine: Engine, campaign_id: str, fire_time: datetime,
                channel_for: ChannelFor, progress: Callable[[int], None] | None = None,
                cap: FrequencyCap | None = None) -> PlanResult:
    """Plan the approved version's firing at ``fire_time``, asked for by hand.

    For `dispatcher campaign plan` and replays of past drives (the demo): an operator's
    explicit choice, so the misfire policy and ``end`` do not apply. Planning a firing
    again changes nothing.
    """
    version = lifecycle.require_approved(engine, campaign_id)
    campaign, version = load_stored(engine, campaign_id, version)
    return plan_run(engine, campaign, version, fire_time, channel_for, progress, cap)


@dataclass(frozen=True)
class RunChange:
    campaign_id: str
    runs: list[int]
    rows: int = 0


def _campaign_runs(engine: Engine, campaign_id: str, statuses: tuple[str, ...]) -> list[int]:
    load_stored(engine, campaign_id)  # NotFoundError for a bad id
    with engine.connect() as conn:
        return list(conn.execute(select(runs.c.id).where(
            runs.c.campaign_id == campaign_id, runs.c.status.in_(statuses))).scalars())


def _set_status(engine: Engine, campaign_id: str, before: tuple[str, ...],
                after: str, verb: str, actor: str, reason: str | None = None) -> RunChange:
    run_ids = _campaign_runs(engine, campaign_id, before)
    if not run_ids:
        raise DispatcherError(f"campaign {campaign_id!r} has no run to {verb} "
                              f"(runs that are {' or '.join(before)})")
    with engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id.in_(run_ids)).values(status=after))
        lifecycle.record(conn, actor, verb, campaign_id,
                         detail=f"run(s) {', '.join(map(str, run_ids))}"
                                + (f"; reason: {reason}" if reason else ""))
    return RunChange(campaign_id, run_ids)


def pause(engine: Engine, campaign_id: str, actor: str = "operator") -> RunChange:
    """Stop claiming rows of the campaign's runs; sends in flight finish."""
    return _set_status(engine, campaign_id, ("planned",), "paused", "pause", actor)


def resume(engine: Engine, campaign_id: str, actor: str = "operator") -> RunChange:
    """Continue paused runs exactly where they stopped."""
    return _set_status(engine, campaign_id, ("paused",), "planned", "resume", actor)


def cancel(engine: Engine, campaign_id: str, actor: str = "operator",
           reason: str | None = None) -> RunChange:
    """Skip every row not yet sent (skipped(cancelled)); rows being sent finish. The
    person's ``reason`` goes into the audit entry: the log says why, not only what."""
    change = _set_status(engine, campaign_id, ("planned", "paused", "planning"),
                         "cancelled", "cancel", actor, reason)
    now = utcnow()
    waiting = (deliveries.c.run_id.in_(change.runs)) & (deliveries.c.status == "planned")
    with engine.begin() as conn:
        _record_events(conn, waiting, now, actor, "skipped", "cancelled")
        rows = conn.execute(update(deliveries).where(waiting).values(
            status="skipped", reason="cancelled", updated_at=now)).rowcount
    return RunChange(campaign_id, change.runs, rows)


def _record_events(conn: Connection, rows: ColumnElement[bool], at: datetime, actor: str,
                   event: str, detail: str) -> None:
    """One history event for each delivery row ``rows`` selects (before they change)."""
    conn.execute(insert(delivery_events).from_select(
        ["delivery_id", "run_id", "at", "actor", "event", "detail"],
        select(deliveries.c.id, deliveries.c.run_id, literal(at), literal(actor),
               literal(event), literal(detail)).where(rows)))


def retry_failed(engine: Engine, campaign_id: str, actor: str = "operator") -> RunChange:
    """Requeue the campaign's failed rows (not those whose target has opted out since)."""
    run_ids = _campaign_runs(engine, campaign_id, ("planned", "paused", "completed"))
    now = utcnow()
    opted_out = exists().where(optouts.c.address == deliveries.c.target,
                               optouts.c.channel.in_([deliveries.c.channel, "*"]))
    failed = deliveries.c.run_id.in_(run_ids) & (deliveries.c.status == "failed") & ~opted_out
    with engine.begin() as conn:
        _record_events(conn, failed, now, actor, "planned", "retry requested")
        rows = conn.execute(update(deliveries).where(failed).values(
            status="planned", attempts=0, next_attempt_at=None, updated_at=now)).rowcount
        if rows:
            conn.execute(update(runs).where(runs.c.id.in_(run_ids),
                                            runs.c.status == "completed")
                         .values(status="planned", completed_at=None))
        lifecycle.record(conn, actor, "retry", campaign_id, detail=f"{rows} failed row(s)")
    return RunChange(campaign_id, run_ids, rows)
