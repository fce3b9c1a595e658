"""A small in-memory inventory (contacts, screens, screenings) to plan from without a
database: for the channel contract checks and plugin authors' own tests."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from channels.base import (
    Audience,
    Contact,
    Inventory,
    ValidationContext,
)
from channels.venues import Booking, Screen, Screening
from dispatcher.testing.campaigns import SHANGHAI

# A small in-memory inventory, for planning without a database -----------------------------

SAMPLE_LISTS = ("residents", "workers")


def _person(number: int, line_type: str, area: str, district: str, lists: str,
            opted_out: bool = False) -> tuple[Contact, frozenset[str]]:
    contact = Contact(number, f"+86138000000{number:02d}", line_type, area, district,
                      opted_out=opted_out)
    return contact, frozenset(lists.split())


def _screen(screen_id: str, kind: str, area: str, size: tuple[int, int],
            audience: int) -> Screen:
    return Screen(screen_id, f"{kind} {screen_id}", kind, "Xinan", area, *size,
                  ("jpg", "png", "mp4", "text"), "Asia/Shanghai", audience, "pull", None)


def _screening(screening_id: str, cinema: str, starts: datetime, rating: str = "PG",
               booked: tuple[Booking, ...] = ()) -> Screening:
    return Screening(screening_id, cinema, "cms", "Xinan", "Film", rating, starts, 180, 120,
                     (("ads", 120), ("trailers", 300)), booked)


@dataclass
class SampleInventory:
    """An Inventory over a few contacts, screens and screenings (Shanghai, June 2019).

    ``drawn`` lists the ids of the contacts streamed so far, so a test can see that a
    channel reads its audience lazily.
    """

    people: tuple[tuple[Contact, frozenset[str]], ...]
    registry: tuple[Screen, ...]
    groups: Mapping[str, frozenset[str]]
    schedule: tuple[Screening, ...]
    drawn: list[int] = field(default_factory=list)

    def contacts(self, audience: Audience, channel: str) -> Iterator[Contact]:
        for contact, lists in self.people:
            memberships = len(lists & set(audience.lists))
            if memberships and _in_audience(contact, audience):
                self.drawn.append(contact.id)
                yield contact._replace(memberships=memberships)

    def screens(self) -> list[Screen]:
        return sorted(self.registry, key=lambda screen: screen.id)

    def screen_groups(self) -> Mapping[str, frozenset[str]]:
        return self.groups

    def screenings(self) -> list[Screening]:
        return sorted(self.schedule, key=lambda screening: screening.starts_at)


def _in_audience(contact: Contact, audience: Audience) -> bool:
    return ((not audience.areas or contact.area in audience.areas)
            and (not audience.districts or contact.district in audience.districts))


def sample_inventory() -> SampleInventory:
    """Five contacts on lists "residents" and "workers" (one opted out, one fixed line),
    four screens (group "lobbies"), three screenings from 2019-06-03 (one NC-17, one whose
    "ads" block is fully booked)."""
    evening = datetime(2019, 6, 3, 19, 30, tzinfo=SHANGHAI)
    return SampleInventory(
        people=(_person(1, "mobile", "residential", "Xinan", "residents"),
                _person(2, "mobile", "work", "Xinan", "residents workers"),
                _person(3, "fixed_line", "residential", "Yuhua", "residents"),
                _person(4, "mobile", "residential", "Yuhua", "residents", opted_out=True),
                _person(5, "mobile", "street", "Xinan", "workers")),
        registry=(_screen("B-001", "building", "work", (1080, 1920), 12),
                  _screen("B-002", "building", "residential", (1080, 1920), 12),
                  _screen("F-001", "facade", "street", (3840, 1080), 600),
                  _screen("O-001", "outdoor", "street", (1920, 1080), 150)),
        groups={"lobbies": frozenset({"B-001", "B-002"})},
        schedule=(_screening("C01-20190603-1-1930", "C01", evening),
                  _screening("C02-20190603-2-2100", "C02", evening.replace(hour=21),
                             rating="NC-17"),
                  _screening("C01-20190604-1-1930", "C01", evening + timedelta(days=1),
                             booked=(Booking("ads", "other", 120),))))


def inventory_context(inventory: Inventory) -> ValidationContext:
    """What the core would look up before validating, from ``inventory``."""
    known = None
    if isinstance(inventory, SampleInventory):
        known = frozenset(name for _, lists in inventory.people for name in lists)
    return ValidationContext(known_lists=known, screens=tuple(inventory.screens()),
                             screen_groups=inventory.screen_groups(),
                             screenings=tuple(inventory.screenings()))
