"""Asking providers for reach figures after the send (WeChat reads and shares).

:func:`poll_reach` hands each polling channel its sent rows, stores what the provider
reports (by day, replacing the day's earlier value) and says how much it stored. It is
safe to run as often as wanted: `dispatcher reach poll`, or hourly from `dispatcher run`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sqlalchemy import Engine, select

from channels.base import Channel, Placement, ReachReport, SentRow
from dispatcher.delivery.run_context import RunPlacements
from dispatcher.reach.provider_reports import apply_reports, rows_to_poll
from dispatcher.storage.tables import deliveries, runs


@runtime_checkable
class ReachPoller(Protocol):
    """A channel that asks its provider for reach figures after the send (reads, plays)."""

    def poll_reach(self, rows: list[SentRow]) -> list[ReachReport]:
        """Figures for these rows; those the provider has no figures for yet are left out."""
        ...


@dataclass
class PollReport:
    rows: dict[str, int] = field(default_factory=dict)  # channel: rows asked about
    stored: dict[str, int] = field(default_factory=dict)  # channel: figures stored


def poll_reach(engine: Engine, channels: Mapping[str, Channel],
               campaign_id: str | None = None) -> PollReport:
    report = PollReport()
    for name, channel in sorted(channels.items()):
        if not isinstance(channel, ReachPoller):
            continue
        rows = rows_to_poll(engine, name, _placements(engine, name, campaign_id), campaign_id)
        report.rows[name] = len(rows)
        figures = channel.poll_reach(rows) if rows else []
        report.stored[name] = apply_reports(engine, name, figures).stored
    return report


def _placements(engine: Engine, channel: str, campaign_id: str | None
                ) -> dict[int, dict[int, Placement]]:
    """Placements of every run with rows on ``channel``, by run id and index."""
    query = select(deliveries.c.run_id).where(deliveries.c.channel == channel).distinct()
    if campaign_id is not None:
        query = (query.join(runs, runs.c.id == deliveries.c.run_id)
                 .where(runs.c.campaign_id == campaign_id))
    with engine.connect() as conn:
        run_ids = list(conn.execute(query).scalars())
    context = RunPlacements(engine, public_url="")
    return {run: {p.index: p for p in context.campaign(run).placements} for run in run_ids}


if TYPE_CHECKING:  # mypy checks that the plugin still has what the core calls
    from channels.wechat import WeChatChannel

    _poller: type[ReachPoller] = WeChatChannel
