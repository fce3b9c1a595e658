"""What a campaign version will send, put in words for the approver before approval.

Each placement's channel says what goes out (the ``ContentDescriber`` protocol of
:mod:`channels.base`: the channel's own placement parsing, no second parser); this module
counts the people a person-addressed placement reaches (:mod:`dispatcher.review.audience_counts`),
lists the next firings in the campaign's time zone and puts every fact in the reader's
language. Facts a channel gives that are not known here are shown as the channel named
them, never hidden; a channel that cannot describe itself shows its options as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from channels.base import (
    Channel,
    ContentDescriber,
    ContentFact,
    Placement,
    toml_value,
)
from dispatcher.campaigns.model import Campaign
from dispatcher.config import Config
from dispatcher.i18n import _
from dispatcher.planning.inventory import DatabaseInventory
from dispatcher.review.audience_counts import AudienceCount, UnknownList, count_audience
from dispatcher.review.content_words import column_label, fact_label, fact_note, fact_value

FIRINGS_SHOWN = 5


@dataclass(frozen=True)
class ShownFact:
    """One fact in words: ``style`` "message" (the text as received), "plain", "code" (an
    identifier, shown as machine text), "table"."""

    key: str
    label: str
    value: str = ""
    style: str = "plain"
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    note: str = ""  # a warning the approver should read


@dataclass(frozen=True)
class PlacementReview:
    index: int
    channel: str
    name: str
    facts: tuple[ShownFact, ...]
    audience: AudienceCount | None = None
    problem: str = ""  # why the audience could not be counted

    @property
    def message(self) -> ShownFact | None:
        return next((f for f in self.facts if f.style == "message"), None)

    @property
    def details(self) -> tuple[ShownFact, ...]:
        return tuple(f for f in self.facts if f.style in ("plain", "code"))

    @property
    def tables(self) -> tuple[ShownFact, ...]:
        return tuple(f for f in self.facts if f.style == "table")


def review(engine: Engine, campaign: Campaign, channel_for: Callable[[str], Channel | None],
           config: Config, now: datetime | None = None) -> list[PlacementReview]:
    """Every placement of ``campaign`` described, in its order."""
    inventory = DatabaseInventory(engine)
    cap_channels = [name for name in {p.channel for p in campaign.placements}
                    if _person_addressed(channel_for(name))]
    return [_placement(engine, placement, channel_for(placement.channel), inventory,
                       config, cap_channels, now) for placement in campaign.placements]


def next_firings(campaign: Campaign, now: datetime | None = None,
                 limit: int = FIRINGS_SHOWN) -> list[datetime]:
    """The next ``limit`` firings, in the campaign's time zone."""
    zone = ZoneInfo(campaign.timezone)
    after = now or datetime.now(UTC)
    return [fire.astimezone(zone) for fire in campaign.schedule.next_firings(after, limit)]


def _placement(engine: Engine, placement: Placement, channel: Channel | None,
               inventory: DatabaseInventory, config: Config, cap_channels: list[str],
               now: datetime | None) -> PlacementReview:
    name = str(placement.options.get("name") or "")
    if not isinstance(channel, ContentDescriber):
        facts = tuple(ShownFact(key, key, _written(value))
                      for key, value in placement.options.items() if key != "name")
        return PlacementReview(placement.index, placement.channel, name, facts)
    content = channel.describe(placement, inventory)
    shown = tuple(show(placement.channel, fact) for fact in content.facts)
    if content.audience is None:
        return PlacementReview(placement.index, placement.channel, name, shown)
    cap = config.frequency_cap if _person_addressed(channel) else None
    try:
        counted = count_audience(engine, content.audience, placement.channel, cap,
                                 cap_channels, now)
    except UnknownList as exc:
        problem = _("Contact list “{name}” does not exist, so nobody can be counted: "
                    "import it with dispatcher contacts import FILE.csv --list {name}"
                    ).format(name=exc.name)
        return PlacementReview(placement.index, placement.channel, name, shown, None, problem)
    return PlacementReview(placement.index, placement.channel, name, shown, counted)


# Facts that are a provider's identifiers, shown as machine text (never translated).
CODES = frozenset({"template_id", "media_id"})


def show(channel: str, fact: ContentFact) -> ShownFact:
    """A channel's fact in the reader's words."""
    label = fact_label(channel, fact.key)
    note = fact_note(fact.key, fact.value)
    if isinstance(fact.value, tuple):
        header, *rows = fact.value or ((),)
        return ShownFact(fact.key, label, style="table", note=note,
                         header=tuple(column_label(str(c)) for c in header),
                         rows=tuple(tuple(fact_value(str(c), cell) for c, cell in
                                          zip(header, row, strict=False)) for row in rows))
    style = "message" if fact.key == "text" else "code" if fact.key in CODES else "plain"
    return ShownFact(fact.key, label, fact_value(fact.key, fact.value), style, note=note)


def _person_addressed(channel: Channel | None) -> bool:
    return channel is not None and channel.capabilities.person_addressed


def _written(value: Any) -> str:
    """An option of a channel that does not describe itself, as the file has it."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_written(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_written(v) for v in value) + "]"
    return toml_value(value)

