"""The frequency cap: no person gets more than N messages in M days from all campaigns.

Applied when a run is planned, after its rows are written: a planned row whose target
already has N counted messages (planned, sending, sent, delivered or undelivered) in
other runs fired during the M days up to this run's fire time becomes
``skipped(capped)``. One set-based UPDATE per channel; nothing held in memory.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, func, select, update

from dispatcher.config import FrequencyCap
from dispatcher.storage.db import utcnow
from dispatcher.storage.tables import deliveries, runs

COUNTED = ("planned", "sending", "sent", "delivered", "undelivered")


def apply_cap(conn: Connection, run_id: int, fire_time: datetime, cap: FrequencyCap,
              channels: list[str]) -> int:
    """Cap the planned rows of ``run_id`` on ``channels`` (person-addressed); rows capped."""
    capped = 0
    groups = [channels] if cap.per == "all" else [[name] for name in channels]
    for group in groups:
        capped += _cap_group(conn, run_id, fire_time, cap, group)
    return capped


def _cap_group(conn: Connection, run_id: int, fire_time: datetime, cap: FrequencyCap,
               group: list[str]) -> int:
    fire_time = fire_time.astimezone(UTC)  # run fire times are stored in UTC
    earlier = deliveries.alias("earlier")
    earlier_run = runs.alias("earlier_run")
    over_cap = (select(earlier.c.target)
                .join(earlier_run, earlier_run.c.id == earlier.c.run_id)
                .where(earlier_run.c.id != run_id,
                       earlier_run.c.fire_time > fire_time - timedelta(days=cap.days),
                       earlier_run.c.fire_time <= fire_time,
                       earlier.c.channel.in_(group), earlier.c.status.in_(COUNTED),
                       earlier.c.occurrence == 1)
                .group_by(earlier.c.target)
                .having(func.count() >= cap.messages))
    scope = "on this channel" if len(group) == 1 and cap.per == "channel" else "in all"
    detail = f"already {cap.messages} message(s) {scope} in {cap.days} day(s)"
    result = conn.execute(
        update(deliveries)
        .where(deliveries.c.run_id == run_id, deliveries.c.channel.in_(group),
               deliveries.c.status == "planned", deliveries.c.target.in_(over_cap))
        .values(status="skipped", reason="capped", detail=detail, updated_at=utcnow()))
    return int(result.rowcount or 0)
