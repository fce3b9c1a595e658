"""What the engine needs to know about runs: each row's placement, and when runs end."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, exists, select, update

from channels.base import Message, Placement, Sender
from dispatcher.campaigns.model import Campaign
from dispatcher.campaigns.send_window import is_open, next_opening
from dispatcher.delivery.callback_urls import status_callback_url
from dispatcher.delivery.claims import SENDABLE_RUN, ClaimedRow
from dispatcher.storage.db import utcnow
from dispatcher.storage.tables import campaign_versions, deliveries, runs


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

    def message(self, row: ClaimedRow) -> Message:
        return Message(delivery_id=row.id, address=row.target,
                       placement=self.placement(row.run_id, row.placement),
                       attempt=row.attempts,
                       callback_url=status_callback_url(self.public_url, row.channel, row.id))

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
