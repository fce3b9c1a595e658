"""What the engine needs to know about runs: each row's placement, and when runs end."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, exists, select, update

from channels.base import BatchSender, Message, Placement, Sender
from dispatcher.campaigns.model import Campaign
from dispatcher.campaigns.send_window import is_open, next_opening
from dispatcher.delivery.callback_urls import status_callback_url
from dispatcher.delivery.claims import SENDABLE_RUN, ClaimedRow
from dispatcher.storage.db import utcnow
from dispatcher.storage.tables import campaign_versions, contacts, deliveries, runs


class RunPlacements:
    """Placements of each run's campaign version, loaded once per run."""

    def __init__(self, engine: Engine, public_url: str) -> None:
        self.db = engine
        self.public_url = public_url
        self._campaigns: dict[int, Campaign] = {}

    def campaign(self, run_id: int) -> Campaign:
        found = self._campaigns.get(run_id)
        if found is None:
            query = (select(campaign_versions.c.definition)
                     .join(runs, (runs.c.campaign_id == campaign_versions.c.campaign_id)
                           & (runs.c.version == campaign_versions.c.version))
                     .where(runs.c.id == run_id))
            with self.db.connect() as conn:
                definition = conn.execute(query).scalar_one()
            found = self._campaigns[run_id] = Campaign.from_json(json.loads(definition))
        return found

    def placement(self, run_id: int, index: int) -> Placement:
        return self.campaign(run_id).placements[index]

    def window_open(self, run_id: int, at: datetime) -> bool:
        campaign = self.campaign(run_id)
        return is_open(campaign.schedule.send_window, ZoneInfo(campaign.timezone), at)

    def sender_may_send(self, sender: Sender, run_id: int, at: datetime,
                        respect_windows: bool = True) -> bool:
        """Person-addressed channels send only inside the campaign's send window (the
        demo, which must run at any hour, passes ``respect_windows=False``)."""
        if not respect_windows or not sender.capabilities.waits_for_send_window:
            return True
        return self.window_open(run_id, at)

    def opens_by(self, run_id: int, horizon: datetime, now: datetime) -> bool:
        """Whether the run's send window is open at some moment up to ``horizon``."""
        campaign = self.campaign(run_id)
        opening = next_opening(campaign.schedule.send_window, ZoneInfo(campaign.timezone), now)
        return opening <= horizon

    def message(self, row: ClaimedRow, fields: Mapping[str, str] | None = None) -> Message:
        return Message(delivery_id=row.id, address=row.target,
                       placement=self.placement(row.run_id, row.placement),
                       attempt=row.attempts,
                       callback_url=status_callback_url(self.public_url, row.channel, row.id),
                       run_id=row.run_id, fields=fields)

    def batch_size(self, sender: Sender, run_id: int) -> int:
        """Most rows one call of ``sender`` takes for any placement of the run (1 for a
        sender without batches)."""
        if not isinstance(sender, BatchSender):
            return 1
        mine = [p for p in self.campaign(run_id).placements
                if p.channel == getattr(sender, "name", p.channel)]
        return max((max(1, sender.batch_size(p)) for p in mine), default=1)

    def calls(self, sender: Sender, rows: list[ClaimedRow]) -> list[list[ClaimedRow]]:
        """Claimed rows as provider calls: one row each, or for a batch sender rows of
        one placement together, at most its ``batch_size`` per call (id order kept)."""
        if not isinstance(sender, BatchSender):
            return [[row] for row in rows]
        groups: dict[tuple[int, int], list[ClaimedRow]] = {}
        for row in rows:
            groups.setdefault((row.run_id, row.placement), []).append(row)
        calls: list[list[ClaimedRow]] = []
        for (run_id, index), group in groups.items():
            size = max(1, sender.batch_size(self.placement(run_id, index)))
            calls += [group[start:start + size] for start in range(0, len(group), size)]
        return calls

    def messages(self, sender: Sender, rows: list[ClaimedRow]) -> list[Message]:
        """The rows of one call as messages, with the contact fields the placement asks
        for (one query for the whole call)."""
        wanted: tuple[str, ...] = ()
        if isinstance(sender, BatchSender):
            wanted = sender.contact_fields(self.placement(rows[0].run_id, rows[0].placement))
        if not wanted:
            return [self.message(row) for row in rows]
        known = contact_fields(self.db, [r.contact_id for r in rows if r.contact_id], wanted)
        return [self.message(row, known.get(row.contact_id or 0, {})) for row in rows]

    def complete_finished_runs(self) -> list[int]:
        """Mark sendable runs with no planned or sending rows left as completed."""
        open_row = exists().where(deliveries.c.run_id == runs.c.id,
                                  deliveries.c.status.in_(("planned", "sending")))
        with self.db.begin() as conn:
            done = conn.execute(update(runs)
                                .where(runs.c.status == SENDABLE_RUN, ~open_row)
                                .values(status="completed", completed_at=utcnow())
                                .returning(runs.c.id)).scalars().all()
        return list(done)


CONTACT_FIELDS = ("name", "district")  # what a message may carry of its contact


def contact_fields(engine: Engine, ids: list[int], wanted: tuple[str, ...]
                   ) -> dict[int, dict[str, str]]:
    """``wanted`` fields (of :data:`CONTACT_FIELDS`) of the contacts ``ids``; a field the
    contact lacks is an empty string."""
    columns = [contacts.c[name] for name in wanted if name in CONTACT_FIELDS]
    if not ids or not columns:
        return {}
    with engine.connect() as conn:
        found = conn.execute(select(contacts.c.id, *columns)
                             .where(contacts.c.id.in_(ids))).all()
    return {row[0]: {c.name: str(v or "") for c, v in zip(columns, row[1:], strict=True)}
            for row in found}
