"""Figures providers report for delivery rows: stored once per (row, metric, period).

A WeChat mass send is one row that reaches thousands of followers: the provider's event
says how many (``recipients``), and its statistics say later, day by day, how many read
and shared the article. :func:`apply_reports` stores them idempotently (a repeated event
or poll replaces the value with the same value); :func:`report_totals` sums, per
placement, each row's latest value of each metric; :func:`rows_to_poll` lists the sent
rows a :class:`~dispatcher.reach.polling.ReachPoller` should ask about.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from channels.base import Placement, ReachReport, SentRow
from dispatcher.storage.db import as_utc, utcnow
from dispatcher.storage.tables import deliveries, delivery_events, provider_reports, runs

log = logging.getLogger(__name__)


@dataclass
class ReportsApplied:
    stored: int = 0
    unmatched: int = 0


def apply_reports(engine: Engine, channel: str, reports: Sequence[ReachReport]) -> ReportsApplied:
    """Store ``reports`` of ``channel``'s rows (found by delivery id or provider ref)."""
    if not reports:
        return ReportsApplied()
    with engine.begin() as conn:
        return store_reports(conn, channel, reports)


def store_reports(conn: Connection, channel: str, reports: Sequence[ReachReport]
                  ) -> ReportsApplied:
    """:func:`apply_reports` in the caller's transaction (with the report that held them)."""
    result = ReportsApplied()
    for report in reports:
        row = _row_id(conn, channel, report)
        if row is None:
            result.unmatched += 1
            log.info("%s report %s=%s for %s matches no row; ignored", channel,
                     report.metric, report.value, report.provider_ref or report.delivery_id)
            continue
        _upsert(conn, row, report)
        result.stored += 1
    return result


def _row_id(conn: Connection, channel: str, report: ReachReport) -> int | None:
    query = select(deliveries.c.id).where(deliveries.c.channel == channel).limit(1)
    if report.delivery_id is not None:
        query = query.where(deliveries.c.id == report.delivery_id)
    else:
        query = query.where(deliveries.c.provider_ref == report.provider_ref)
    found = conn.execute(query).scalar()
    return None if found is None else int(found)


def _upsert(conn: Connection, delivery_id: int, report: ReachReport) -> None:
    values = {"delivery_id": delivery_id, "metric": report.metric, "period": report.period,
              "value": report.value, "updated_at": utcnow()}
    dialect = postgresql if conn.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(provider_reports).values(**values)
    conn.execute(statement.on_conflict_do_update(
        index_elements=["delivery_id", "metric", "period"],
        set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at}))


def report_totals(engine: Engine, campaign_id: str) -> dict[tuple[str, int], dict[str, int]]:
    """Per (channel, placement): each metric summed over rows, each row's latest period."""
    latest = (select(provider_reports.c.delivery_id, provider_reports.c.metric,
                     func.max(provider_reports.c.period).label("period"))
              .group_by(provider_reports.c.delivery_id, provider_reports.c.metric)
              .subquery())
    query = (select(deliveries.c.channel, deliveries.c.placement, provider_reports.c.metric,
                    func.sum(provider_reports.c.value))
             .join(latest, (latest.c.delivery_id == provider_reports.c.delivery_id)
                   & (latest.c.metric == provider_reports.c.metric)
                   & (latest.c.period == provider_reports.c.period))
             .join(deliveries, deliveries.c.id == provider_reports.c.delivery_id)
             .join(runs, runs.c.id == deliveries.c.run_id)
             .where(runs.c.campaign_id == campaign_id)
             .group_by(deliveries.c.channel, deliveries.c.placement, provider_reports.c.metric))
    totals: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    with engine.connect() as conn:
        for channel, placement, metric, value in conn.execute(query):
            totals[(channel, placement)][metric] = int(value)
    return totals


def rows_to_poll(engine: Engine, channel: str, placements: dict[int, dict[int, Placement]],
                 campaign_id: str | None = None) -> list[SentRow]:
    """Sent or delivered rows of ``channel`` with a provider ref, oldest first, each with
    the time it was sent (its ``sent`` event).

    ``placements`` maps run id to that run's placements by index (the caller loads the
    campaign versions); rows of runs not in it are left out.
    """
    sent = (select(delivery_events.c.delivery_id, func.min(delivery_events.c.at).label("at"))
            .where(delivery_events.c.event == "sent")
            .group_by(delivery_events.c.delivery_id).subquery())
    query = (select(deliveries.c.id, deliveries.c.run_id, deliveries.c.placement,
                    deliveries.c.provider_ref, deliveries.c.provider_data,
                    deliveries.c.updated_at, sent.c.at)
             .join(runs, runs.c.id == deliveries.c.run_id)
             .outerjoin(sent, sent.c.delivery_id == deliveries.c.id)
             .where(deliveries.c.channel == channel,
                    deliveries.c.status.in_(("sent", "delivered")),
                    deliveries.c.provider_ref.is_not(None))
             .order_by(deliveries.c.id))
    if campaign_id is not None:
        query = query.where(runs.c.campaign_id == campaign_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [SentRow(r.id, placements[r.run_id][r.placement], str(r.provider_ref),
                    r.provider_data, as_utc(r.at or r.updated_at))
            for r in rows if r.run_id in placements]
