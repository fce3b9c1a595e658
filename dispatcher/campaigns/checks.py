"""Checks of a campaign file that need the clock or the contacts, run where the CLI has
both (``campaign validate`` and ``apply``, through :func:`campaign_store.check_file`).

- A schedule with no firing ahead is a *warning*: the file is valid, but nothing it
  describes will go out.
- An audience district that matches no contact of the audience's lists is a *problem*
  (a typo such as "丈八街道x" would silently drop a whole district). An area that matches
  no contact is a problem when none of the placement's areas matches any (the placement
  would reach nobody), a warning otherwise: areas are a closed set, so an unmatched one
  is a fact about the list, not a mistake in the file.

A channel's ``validate`` does no I/O, and contacts are millions of rows, not a registry
the core could hand over like the LED screens; so each value is looked up here with one
query that stops at the first matching contact.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, select

from channels.base import AREA_TYPES, toml_value
from dispatcher.campaigns.model import Campaign, Issue, render_path
from dispatcher.campaigns.toml_lines import KeyPath, key_lines, line_of
from dispatcher.storage.tables import contact_lists, contacts, list_members

PAST_SCHEDULE = "all firings are in the past: nothing will be sent"
PAST_ONE_SHOT = ("all firings are in the past: nothing will be sent on time "
                 "(misfire = \"run-late\" may still send the one firing, late)")
KNOWN_SHOWN = 10
_ONE = {"districts": "a district", "areas": "an area"}


@dataclass
class Findings:
    """What the checks found: problems refuse the file, warnings do not."""

    problems: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)


def schedule_warnings(campaign: Campaign, text: str, file: str, now: datetime) -> list[Issue]:
    """A warning at the ``[schedule]`` table when no firing lies after ``now``."""
    schedule = campaign.schedule
    if schedule.next_firing_after(now) is not None:
        return []
    # Without an end, a run-late one-shot is still planned late (dispatcher.planning.firings).
    late = schedule.end is None and schedule.misfire == "run-late"
    line = line_of(key_lines(text), ("schedule",))
    return [Issue(file, line, "schedule", PAST_ONE_SHOT if late else PAST_SCHEDULE)]


def audience_findings(engine: Engine, text: str, file: str) -> Findings:
    """Districts and areas of each placement's ``audience`` that match no contact of its
    lists. Audiences the validator refuses anyway (bad shape, unknown list) are skipped."""
    found = Findings()
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return found  # already a problem of its own
    audiences = list(_audiences(raw))
    if not audiences:
        return found
    lines = key_lines(text)
    with engine.connect() as conn:
        list_ids = _list_ids(conn)
        for index, audience in audiences:
            ids = [list_ids.get(name) for name in audience["lists"]]
            if None in ids or not ids:
                continue
            check = _AudienceCheck(conn, file, lines, ("placements", index, "audience"),
                                   audience["lists"], [i for i in ids if i is not None])
            check.districts(_strings(audience.get("districts")), found)
            check.areas(_strings(audience.get("areas")), found)
    return found


def _audiences(raw: Mapping[str, Any]) -> Sequence[tuple[int, Mapping[str, Any]]]:
    placements = raw.get("placements")
    if not isinstance(placements, list):
        return []
    return [(i, p["audience"]) for i, p in enumerate(placements)
            if isinstance(p, dict) and isinstance(p.get("audience"), dict)
            and _strings(p["audience"].get("lists"))]


def _strings(value: object) -> list[str]:
    """The list's values when it is a list of non-empty strings, else [] (refused elsewhere)."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return []
    return value


def _list_ids(conn: Connection) -> dict[str, int]:
    return {name: list_id for name, list_id
            in conn.execute(select(contact_lists.c.name, contact_lists.c.id)).all()}


@dataclass
class _AudienceCheck:
    conn: Connection
    file: str
    lines: dict[KeyPath, int]
    here: KeyPath
    list_names: list[str]
    list_ids: list[int]

    def districts(self, values: list[str], found: Findings) -> None:
        missing = self._unmatched(contacts.c.district, values)
        found.problems += [self._issue("districts", i, v, contacts.c.district) for i, v in missing]

    def areas(self, values: list[str], found: Findings) -> None:
        values = [v if v in AREA_TYPES else "" for v in values]  # unknown: refused already
        missing = self._unmatched(contacts.c.area, values)
        issues = [self._issue("areas", i, v, contacts.c.area) for i, v in missing]
        reaches_someone = set(filter(None, values)) - {v for _i, v in missing}
        if reaches_someone:
            found.warnings += issues
        else:
            found.problems += issues

    def _unmatched(self, column: ColumnElement[Any], values: list[str]) -> list[tuple[int, str]]:
        return [(i, v) for i, v in enumerate(values)
                if v and v not in values[:i] and not self._matches(column, v)]

    def _of_members(self, column: ColumnElement[Any], *where: ColumnElement[bool],
                    ) -> Select[Any]:
        """``column`` of the contacts in the audience's lists, filtered by ``where``."""
        joined = list_members.join(contacts, contacts.c.id == list_members.c.contact_id)
        return (select(column).select_from(joined)
                .where(list_members.c.list_id.in_(self.list_ids), *where))

    def _matches(self, column: ColumnElement[Any], value: str) -> bool:
        query = self._of_members(contacts.c.id, column == value).limit(1)
        return self.conn.execute(query).first() is not None

    def _known(self, column: ColumnElement[Any]) -> list[str]:
        query = (self._of_members(column, column.is_not(None)).distinct()
                 .order_by(column).limit(KNOWN_SHOWN + 1))
        return [str(v) for v in self.conn.execute(query).scalars()]

    def _issue(self, key: str, index: int, value: str, column: ColumnElement[Any]) -> Issue:
        path = (*self.here, key, index)
        known = self._known(column)
        lists = ", ".join(self.list_names)
        if known:
            shown = ", ".join(toml_value(k) for k in known[:KNOWN_SHOWN])
            more = ", ..." if len(known) > KNOWN_SHOWN else ""
            tail = f"known {key}: {shown}{more}"
        else:
            tail = f"no contact of these lists has {_ONE[key]} (empty in the contacts CSV)"
        return Issue(self.file, line_of(self.lines, path), render_path(path),
                     f"{toml_value(value)} matches no contact in lists {lists}; {tail}")
