"""Reach per campaign and channel, derived from delivery rows (DESIGN.md "Reach").

State counts always add up: ``targets = pending + sending + sent + delivered +
undelivered + failed + sum(skipped)``. Each reach figure carries its source and method in
``reach_sources`` so a report can say how it was counted.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Engine, func, select

from channels.base import SKIP_REASONS, Channel, Placement, ReachFigure
from dispatcher.campaigns.model import Campaign, ChannelLookup
from dispatcher.reach.manual import figures as manual_figures
from dispatcher.reach.provider_reports import report_totals
from dispatcher.storage.tables import deliveries, runs

COUNTED_STATES = ("sending", "sent", "delivered", "undelivered", "failed")

def state_counts(engine: Engine, campaign_id: str) -> dict[tuple[str, int], dict[str, int]]:
    """Row counts per (channel, placement), keyed "planned", "sent", "skipped:duplicate"..."""
    query = (select(deliveries.c.channel, deliveries.c.placement, deliveries.c.status,
                    deliveries.c.reason, func.count())
             .join(runs, runs.c.id == deliveries.c.run_id)
             .where(runs.c.campaign_id == campaign_id)
             .group_by(deliveries.c.channel, deliveries.c.placement, deliveries.c.status,
                       deliveries.c.reason))
    counts: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    with engine.connect() as conn:
        for channel, placement, status, reason, n in conn.execute(query):
            key = f"skipped:{reason}" if status == "skipped" else status
            counts[(channel, placement)][key] = counts[(channel, placement)].get(key, 0) + n
    return counts


def run_count(engine: Engine, campaign_id: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(runs)
                                .where(runs.c.campaign_id == campaign_id)).scalar_one())


def campaign_reach(engine: Engine, campaign: Campaign,
                   channel_for: ChannelLookup) -> dict[str, Any]:
    """The reach object of DESIGN.md for ``campaign`` (all its runs)."""
    counts = state_counts(engine, campaign.id)
    reports = report_totals(engine, campaign.id)
    names = sorted({p.channel for p in campaign.placements} | {c for c, _ in counts})
    channels = {}
    for name in names:
        per_placement = {p: c for (ch, p), c in counts.items() if ch == name}
        reported = {p: r for (ch, p), r in reports.items() if ch == name}
        placements = [p for p in campaign.placements if p.channel == name]
        channels[name] = _channel_reach(per_placement, reported, placements,
                                        channel_for(name))
    _add_manual(channels, manual_figures(engine, campaign.id))
    return {"campaign": campaign.id, "runs": run_count(engine, campaign.id),
            "channels": channels}


def _add_manual(channels: dict[str, Any], manual: dict[str, dict[str, ReachFigure]]) -> None:
    """Offline placements' hand-entered figures, as channels without rows (or beside a
    channel's own figures)."""
    for name, figures in sorted(manual.items()):
        entry = channels.setdefault(name, _channel_reach({}, {}, [], None))
        for metric, figure in figures.items():
            entry["reach"][metric] = entry["reach"].get(metric, 0) + figure.value
            entry["reach_sources"][metric] = {"source": figure.source, "method": figure.method}


def _channel_reach(per_placement: dict[int, dict[str, int]],
                   reported: dict[int, dict[str, int]], placements: list[Placement],
                   channel: Channel | None) -> dict[str, Any]:
    totals: dict[str, int] = defaultdict(int)
    for states in per_placement.values():
        for key, n in states.items():
            totals[key] += n
    skipped = {reason: totals.get(f"skipped:{reason}", 0) for reason in SKIP_REASONS}
    out: dict[str, Any] = {"targets": sum(totals.values()), "pending": totals.get("planned", 0)}
    out.update({state: totals.get(state, 0) for state in COUNTED_STATES})
    out["skipped"] = skipped
    figures = _figures(per_placement, reported, placements, channel)
    out["reach"] = {name: f.value for name, f in figures.items()}
    out["reach_sources"] = {name: {"source": f.source, "method": f.method}
                            for name, f in figures.items()}
    return out


def _figures(per_placement: dict[int, dict[str, int]], reported: dict[int, dict[str, int]],
             placements: list[Placement], channel: Channel | None) -> dict[str, ReachFigure]:
    """Sum each placement's figures: computed from row states, or from provider reports."""
    summed: dict[str, ReachFigure] = {}
    if channel is None:  # rows of a channel no longer installed: counts only
        return summed
    for placement in placements:
        figures = channel.reach(placement, per_placement.get(placement.index, {}),
                                reported.get(placement.index, {}))
        for name, figure in figures.items():
            before = summed.get(name)
            value = figure.value + (before.value if before else 0)
            method = figure.method if before is None or before.method == figure.method else (
                f"{before.method}; {figure.method}")
            summed[name] = ReachFigure(value, figure.source, method)
    return summed
