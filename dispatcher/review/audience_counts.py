"""Who a person-addressed placement reaches, counted now: people by district and area type,
minus those who opted out and those the frequency cap would hold back.

GROUP BY queries over the audience's contacts, with the same list and filter rules as
the planner's inventory (:mod:`dispatcher.planning.inventory`), so the approver's numbers are the
ones the planner will find. Each person counts once, however many of the audience's lists hold
them. Nothing is cached: the page shows the database as it is when it is read.

"Capped" follows :mod:`dispatcher.audience.capping` as if the campaign fired now: people who
already have the cap's number of messages in runs fired during the last ``days`` days.
The planner decides at the firing itself, so the count can change until then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, Subquery, and_, exists, func, select

from channels.base import AREA_TYPES, Audience
from dispatcher.audience.capping import COUNTED
from dispatcher.config import FrequencyCap
from dispatcher.errors import NotFoundError
from dispatcher.planning.inventory import audience_filter
from dispatcher.storage.tables import (
    contact_lists,
    contacts,
    deliveries,
    list_members,
    optouts,
    runs,
)

NO_VALUE = ""  # a contact without a district or an area type


class UnknownList(NotFoundError):
    """An audience names a contact list that does not exist (yet)."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"contact list {name!r} does not exist; import it with "
                         f"`dispatcher contacts import FILE.csv --list {name}`")


@dataclass(frozen=True)
class AudienceCell:
    """The people of one district and area type."""

    district: str
    area: str
    people: int  # in the audience's lists and filters, each once
    opted_out: int  # of them, opted out of this channel or of every channel
    capped: int  # of the others, at the frequency cap now

    @property
    def reached(self) -> int:
        return self.people - self.opted_out - self.capped


@dataclass(frozen=True)
class AudienceCount:
    cells: tuple[AudienceCell, ...]
    cap: FrequencyCap | None

    def total(self, field: str) -> int:
        """The sum of ``people``, ``opted_out``, ``capped`` or ``reached`` over all cells."""
        return sum(int(getattr(cell, field)) for cell in self.cells)

    def districts(self) -> list[str]:
        return sorted({cell.district for cell in self.cells})

    def areas(self) -> list[str]:
        """Area types in their usual order; "no area type" last, when some have none."""
        present = {cell.area for cell in self.cells}
        return [a for a in AREA_TYPES if a in present] + sorted(present - set(AREA_TYPES))

    def reached_in(self, district: str, area: str) -> int:
        return sum(c.reached for c in self.cells if c.district == district and c.area == area)

    def reached_in_district(self, district: str) -> int:
        return sum(c.reached for c in self.cells if c.district == district)

    def reached_in_area(self, area: str) -> int:
        return sum(c.reached for c in self.cells if c.area == area)


def count_audience(engine: Engine, audience: Audience, channel: str,
                   cap: FrequencyCap | None = None, cap_channels: Sequence[str] = (),
                   now: datetime | None = None) -> AudienceCount:
    """Count ``audience`` on ``channel`` by district and area type. ``cap_channels`` are
    the channels whose messages the cap counts together when ``cap.per`` is "all" (the
    person-addressed ones); with "channel" only ``channel``'s own count.

    Raises UnknownList naming a contact list that does not exist.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    group = list(cap_channels) if cap is not None and cap.per == "all" else [channel]
    queries = audience_queries(_list_ids(engine, audience.lists), audience, channel, cap,
                               group, moment)
    counts: dict[tuple[str, str], dict[str, int]] = {}
    with engine.connect() as conn:
        for field, query in queries.items():
            for district, area, number in conn.execute(query):
                key = (district or NO_VALUE, area or NO_VALUE)  # NULL and "" are both none
                found = counts.setdefault(key, {})
                found[field] = found.get(field, 0) + int(number)
    cells = tuple(AudienceCell(district, area, found.get("people", 0),
                               found.get("opted_out", 0), found.get("capped", 0))
                  for (district, area), found in sorted(counts.items()))
    return AudienceCount(cells, cap)


def audience_queries(list_ids: list[int], audience: Audience, channel: str,
                     cap: FrequencyCap | None, cap_group: list[str], now: datetime
                     ) -> dict[str, Select[Any]]:
    """The queries of :func:`count_audience`: "people", "opted_out" and, with a cap,
    "capped" (not opted out), each giving (district, area, count) rows."""
    opted = (select(optouts.c.address).where(optouts.c.channel.in_([channel, "*"]))
             .distinct().subquery("opted"))
    queries = {"people": _grouped(list_ids), "opted_out": _grouped(list_ids, opted)}
    if cap is not None:
        at_cap = _at_cap(cap, cap_group, now).subquery("at_cap")
        queries["capped"] = _grouped(list_ids, at_cap).where(
            contacts.c.phone.not_in(select(opted.c.address)))
    return {field: audience_filter(query, audience) for field, query in queries.items()}


def _grouped(list_ids: list[int], only: Subquery | None = None) -> Select[Any]:
    """People of the lists by district and area type; with ``only``, just those whose
    phone it lists. Three small queries rather than one: the opted-out and the capped
    are few, so theirs start from them (a phone index look-up each) and only the count
    of everyone reads every member."""
    query = select(contacts.c.district, contacts.c.area, func.count())
    if only is not None:
        query = query.select_from(only.join(contacts, contacts.c.phone == only.c[0]))
    elif len(list_ids) == 1:
        # Driven by the list's members: no scan of other lists' contacts.
        query = query.select_from(list_members.join(
            contacts, and_(contacts.c.id == list_members.c.contact_id,
                           list_members.c.list_id == list_ids[0])))
    if only is not None or len(list_ids) > 1:
        query = query.where(exists().where(list_members.c.contact_id == contacts.c.id,
                                           list_members.c.list_id.in_(list_ids)))
    return query.group_by(contacts.c.district, contacts.c.area)


def _at_cap(cap: FrequencyCap, group: list[str], now: datetime) -> Select[Any]:
    """Addresses with ``cap.messages`` counted messages on ``group`` in runs fired during
    the ``cap.days`` days up to ``now`` (as :func:`dispatcher.capping.apply_cap` counts)."""
    return (select(deliveries.c.target)
            .join(runs, runs.c.id == deliveries.c.run_id)
            .where(runs.c.fire_time > now - timedelta(days=cap.days), runs.c.fire_time <= now,
                   deliveries.c.channel.in_(group), deliveries.c.status.in_(COUNTED),
                   deliveries.c.occurrence == 1)
            .group_by(deliveries.c.target)
            .having(func.count() >= cap.messages))


def _list_ids(engine: Engine, names: tuple[str, ...]) -> list[int]:
    with engine.connect() as conn:
        found = dict(conn.execute(select(contact_lists.c.name, contact_lists.c.id)
                                  .where(contact_lists.c.name.in_(names))).all())
    missing = [name for name in names if name not in found]
    if missing:
        raise UnknownList(missing[0])
    return [found[name] for name in names]
