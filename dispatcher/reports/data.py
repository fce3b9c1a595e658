"""Everything a campaign's report shows, read from the database in one place.

- ``reach``: the reach object of ``dispatcher reach`` (state counts, figures, sources);
- ``timeline``: per channel, per local day, what went out: messages handed over (the
  ``sent`` events of SMS, WeChat and partner-app rows), LED plays, cinema screenings
  that played;
- ``coverage``: messages handed over to people (SMS, partner apps) by the recipient's
  district and area type, plus LED plays by each screen's district and area type;
- ``failures``: the most frequent error codes of failed and undelivered rows;
- ``manual``: every hand-entered figure with who entered it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from channels.base import AREA_TYPES
from dispatcher.campaigns.model import Campaign
from dispatcher.campaigns.versions import load_stored
from dispatcher.config import Config
from dispatcher.planning import campaign_store
from dispatcher.reach import manual as manual_reach
from dispatcher.reach.figures import campaign_reach
from dispatcher.storage.db import as_utc
from dispatcher.storage.tables import (
    contacts,
    deliveries,
    delivery_events,
    plays,
    runs,
    screenings,
    screens,
)
from dispatcher.venues.cinemas import screening_of

PERSON_CHANNELS = ("sms", "webhook")
HANDED_OVER = ("sent", "delivered", "undelivered")
TOP_FAILURES = 10
NO_DISTRICT = "(unknown)"


@dataclass
class ReportData:
    campaign: Campaign
    reach: dict[str, Any]
    timeline: dict[str, dict[str, int]]  # channel: {YYYY-MM-DD: count}
    coverage: dict[str, dict[str, int]]  # district: {area type: count}
    failures: list[dict[str, Any]]
    manual: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"campaign": self.campaign.id, "title": self.campaign.title,
                "owner": self.campaign.owner, "timezone": self.campaign.timezone,
                "reach": self.reach, "timeline": self.timeline, "coverage": self.coverage,
                "failures": self.failures, "manual": self.manual}


def gather(engine: Engine, config: Config, campaign_id: str) -> ReportData:
    campaign, _version = load_stored(engine, campaign_id)
    zone = ZoneInfo(campaign.timezone)
    reach = campaign_reach(engine, campaign, campaign_store.channel_lookup(config))
    return ReportData(campaign, reach, timeline(engine, campaign_id, zone),
                      coverage(engine, campaign_id), failures(engine, campaign_id),
                      manual_reach.entries(engine, campaign_id))


def _of_campaign(campaign_id: str) -> Any:
    return select(runs.c.id).where(runs.c.campaign_id == campaign_id)


def timeline(engine: Engine, campaign_id: str, zone: ZoneInfo) -> dict[str, dict[str, int]]:
    days: dict[str, Counter[str]] = defaultdict(Counter)
    sent = (select(deliveries.c.channel, delivery_events.c.at)
            .join(delivery_events, delivery_events.c.delivery_id == deliveries.c.id)
            .where(deliveries.c.run_id.in_(_of_campaign(campaign_id)),
                   deliveries.c.channel.not_in(("led", "cinema")),
                   delivery_events.c.event == "sent"))
    led = (select(plays.c.started_at, plays.c.count)
           .join(deliveries, deliveries.c.id == plays.c.delivery_id)
           .where(deliveries.c.run_id.in_(_of_campaign(campaign_id))))
    with engine.connect() as conn:
        for channel, at in conn.execute(sent):
            days[channel][_day(at, zone)] += 1
        for started, count in conn.execute(led):
            days["led"][_day(started, zone)] += count
        played = {screening_of(t) for t in conn.execute(select(deliveries.c.target).where(
            deliveries.c.run_id.in_(_of_campaign(campaign_id)),
            deliveries.c.channel == "cinema", deliveries.c.status == "delivered")).scalars()}
        for starts_at in conn.execute(select(screenings.c.starts_at).where(
                screenings.c.id.in_(sorted(played)))).scalars():
            days["cinema"][_day(starts_at, zone)] += 1
    return {channel: dict(sorted(counts.items())) for channel, counts in sorted(days.items())}


def _day(moment: Any, zone: ZoneInfo) -> str:
    return as_utc(moment).astimezone(zone).date().isoformat()


def coverage(engine: Engine, campaign_id: str) -> dict[str, dict[str, int]]:
    cells: dict[str, Counter[str]] = defaultdict(Counter)
    people = (select(contacts.c.district, contacts.c.area, func.count())
              .join(deliveries, deliveries.c.contact_id == contacts.c.id)
              .where(deliveries.c.run_id.in_(_of_campaign(campaign_id)),
                     deliveries.c.channel.in_(PERSON_CHANNELS),
                     deliveries.c.status.in_(HANDED_OVER))
              .group_by(contacts.c.district, contacts.c.area))
    led = (select(screens.c.district, screens.c.area, func.sum(plays.c.count))
           .join(plays, plays.c.screen_id == screens.c.id)
           .join(deliveries, deliveries.c.id == plays.c.delivery_id)
           .where(deliveries.c.run_id.in_(_of_campaign(campaign_id)))
           .group_by(screens.c.district, screens.c.area))
    with engine.connect() as conn:
        for query in (people, led):
            for district, area, count in conn.execute(query):
                if area in AREA_TYPES:
                    cells[district or NO_DISTRICT][area] += int(count)
    return {district: {area: cells[district][area] for area in AREA_TYPES}
            for district in sorted(cells)}


def failures(engine: Engine, campaign_id: str) -> list[dict[str, Any]]:
    query = (select(deliveries.c.channel, deliveries.c.status, deliveries.c.error_code,
                    func.count(), func.max(deliveries.c.detail))
             .where(deliveries.c.run_id.in_(_of_campaign(campaign_id)),
                    deliveries.c.status.in_(("failed", "undelivered")))
             .group_by(deliveries.c.channel, deliveries.c.status, deliveries.c.error_code)
             .order_by(func.count().desc(), deliveries.c.channel)
             .limit(TOP_FAILURES))
    with engine.connect() as conn:
        return [{"channel": c, "status": s, "code": code or "(none)", "rows": int(n),
                 "example": detail} for c, s, code, n, detail in conn.execute(query)]
