"""Reach entered by hand for offline placements: posters, notices, boards, brochures, talks.

``dispatcher reach record ID --channel print --metric posters --value 60000 --district D
--by NAME`` keeps each entry with who made it and when; reach shows the sums per channel
and metric with source ``manual``, and the report lists every entry.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from sqlalchemy import Engine, select

from channels.base import AREA_TYPES, ReachFigure
from dispatcher.approval import lifecycle
from dispatcher.campaigns.versions import load_stored
from dispatcher.errors import DispatcherError
from dispatcher.storage.db import as_utc, utcnow
from dispatcher.storage.tables import manual_reach

_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_VALUE = 10**12  # more than any offline placement reaches; far below what the database holds


def record(engine: Engine, campaign_id: str, channel: str, metric: str, value: int,
           by: str, district: str | None = None, area: str | None = None,
           note: str | None = None) -> int:
    """Store one entry (audit-logged); returns its id."""
    load_stored(engine, campaign_id)  # NotFoundError for a bad id
    for what, name in (("channel", channel), ("metric", metric)):
        if not _NAME.fullmatch(name):
            raise DispatcherError(f"--{what} {name!r}: lowercase letters, digits and _, such "
                                  "as print or posters")
    if not 0 <= value <= MAX_VALUE:
        raise DispatcherError(f"--value {value} is out of range; allowed: 0 to {MAX_VALUE:,} "
                              "(a count of posters, notices, people)")
    if area is not None and area not in AREA_TYPES:
        raise DispatcherError(f"--area {area!r} is not one of {', '.join(AREA_TYPES)}")
    if not by.strip():
        raise DispatcherError("--by must name who enters the figure")
    with engine.begin() as conn:
        entry = conn.execute(manual_reach.insert().values(
            campaign_id=campaign_id, channel=channel, metric=metric, value=value,
            district=district, area=area, note=note, entered_by=by, entered_at=utcnow())
            .returning(manual_reach.c.id)).scalar_one()
        lifecycle.record(conn, by, "reach", campaign_id, detail=(
            f"manual {channel}.{metric} = {value}" + (f" in {district}" if district else "")))
    return int(entry)


def entries(engine: Engine, campaign_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(manual_reach).where(
            manual_reach.c.campaign_id == campaign_id).order_by(manual_reach.c.id)).all()
    return [{**dict(r._mapping), "entered_at": as_utc(r.entered_at).isoformat()}
            for r in rows]


def figures(engine: Engine, campaign_id: str) -> dict[str, dict[str, ReachFigure]]:
    """Per channel and metric: the sum of the entries, source manual."""
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    people: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entry in entries(engine, campaign_id):
        sums[entry["channel"]][entry["metric"]] += entry["value"]
        people[(entry["channel"], entry["metric"])].add(entry["entered_by"])
    return {channel: {metric: ReachFigure(value, "manual", "entered by hand by "
                                          + ", ".join(sorted(people[(channel, metric)])))
                      for metric, value in metrics.items()}
            for channel, metrics in sums.items()}
