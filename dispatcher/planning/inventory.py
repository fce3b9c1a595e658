"""The database-backed :class:`channels.base.Inventory`: contacts streamed in pages.

Each page is one short query (keyset on the contact id), so no read transaction stays
open while the planner writes (SQLite's WAL can checkpoint; PostgreSQL needs no
server-side cursor) and memory holds one page, whatever the audience size. Id order reads
the tables in storage order: on SQLite it is four times faster than phone order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import (
    Engine,
    Select,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
)

from channels.base import Audience, Contact
from channels.venues import Screen, Screening
from dispatcher.errors import NotFoundError
from dispatcher.storage.tables import contact_lists, contacts, list_members, optouts
from dispatcher.venues.cinemas import scheduled_screenings
from dispatcher.venues.screens import all_screens, groups

PAGE_SIZE = 20_000


class DatabaseInventory:
    def __init__(self, engine: Engine, page_size: int = PAGE_SIZE) -> None:
        self.engine = engine
        self.page_size = page_size

    def contacts(self, audience: Audience, channel: str) -> Iterator[Contact]:
        query = self._query(audience, self._list_ids(audience.lists), channel)
        after = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(query, {"after": after}).all()
            for row in rows:
                yield Contact._make(row)
            if len(rows) < self.page_size:
                return
            after = rows[-1][0]

    def screens(self) -> list[Screen]:
        return all_screens(self.engine)

    def screen_groups(self) -> Mapping[str, frozenset[str]]:
        return groups(self.engine)

    def screenings(self) -> list[Screening]:
        return scheduled_screenings(self.engine)

    def _list_ids(self, names: tuple[str, ...]) -> list[int]:
        with self.engine.connect() as conn:
            found = dict(conn.execute(select(contact_lists.c.name, contact_lists.c.id)
                                      .where(contact_lists.c.name.in_(names))).all())
        missing = [n for n in names if n not in found]
        if missing:
            raise NotFoundError(f"contact list {missing[0]!r} does not exist; import it with "
                                f"`dispatcher contacts import FILE.csv --list {missing[0]}`")
        return [found[n] for n in names]

    def _query(self, audience: Audience, list_ids: list[int], channel: str) -> Select[Any]:
        opted_out = exists().where(optouts.c.address == contacts.c.phone,
                                   optouts.c.channel.in_([channel, "*"])).label("opted_out")
        columns = (contacts.c.id, contacts.c.phone, contacts.c.line_type, contacts.c.area,
                   contacts.c.district)
        if len(list_ids) == 1:
            # Driven by the list's members in id order: no scan of other lists' contacts.
            query = (select(*columns, literal(1), opted_out)
                     .select_from(list_members.join(contacts,
                                                    contacts.c.id == list_members.c.contact_id))
                     .where(list_members.c.list_id == list_ids[0],
                            list_members.c.contact_id > bindparam("after"))
                     .order_by(list_members.c.contact_id))
        else:
            member = and_(list_members.c.contact_id == contacts.c.id,
                          list_members.c.list_id.in_(list_ids))
            memberships = select(func.count()).select_from(list_members).where(member)
            query = (select(*columns, memberships.scalar_subquery(), opted_out)
                     .where(contacts.c.id > bindparam("after"), exists().where(member))
                     .order_by(contacts.c.id))
        return audience_filter(query, audience).limit(self.page_size)


def audience_filter(query: Select[Any], audience: Audience) -> Select[Any]:
    if audience.areas:
        query = query.where(contacts.c.area.in_(audience.areas))
    if audience.districts:
        query = query.where(contacts.c.district.in_(audience.districts))
    if audience.tags:
        # Whole tags only, taken literally: autoescape makes ``%`` and ``_`` in a tag
        # match themselves, not any text or any character of another tag.
        padded = literal(",") + func.coalesce(contacts.c.tags, "") + literal(",")
        query = query.where(or_(*(padded.contains(f",{tag},", autoescape=True)
                                  for tag in audience.tags)))
    return query
