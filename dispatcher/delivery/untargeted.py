"""Why a number (or a named contact) has no delivery row in the log's filter.

An operator asked "did it go out to 138...?" and the log has no row: instead of "No rows
match", say what is known. Each check is an indexed lookup by the number (or the
contact's id), never a scan:

- rows of the number that the other filters (campaign, channel, state, times) hide;
- not in the contacts at all, so no list and no audience holds it;
- the lists the contact is in, against the lists, districts, areas and tags of the
  campaign's audiences (the version its newest run planned);
- opted out (on which channel, since when, how);
- the campaign not planned yet, or planned before the contact matched.

Capped and skipped people have rows (``skipped``) and are shown as rows; their reason is
explained like an error code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select

from channels.audience import parse_audience
from channels.base import Audience, ValidationContext
from dispatcher.audience.optouts import EVERY_CHANNEL
from dispatcher.campaigns.model import Campaign
from dispatcher.campaigns.versions import load_stored_in
from dispatcher.delivery.log import LogFilter, count
from dispatcher.errors import NotFoundError
from dispatcher.i18n import _, ngettext, pgettext
from dispatcher.i18n.labels import L_, label
from dispatcher.storage.db import as_utc
from dispatcher.storage.tables import (
    contact_lists,
    contacts,
    deliveries,
    list_members,
    optouts,
    runs,
)

MAX_CONTACTS = 5  # contacts of one name explained; more are only counted
MAX_GROUPS = 8  # (campaign, state) groups of hidden rows named
# How an opt-out came (optouts.source); words for people, marked for the catalogs.
OPTOUT_SOURCES = dict((word, (context, word)) for context, word in (
    L_("optout_source", "operator"), L_("optout_source", "import"),
    L_("optout_source", "provider"), L_("optout_source", "reply")))


@dataclass(frozen=True)
class Untargeted:
    """What is known of one number the filter found no row for (``reasons`` in the
    current locale; the number itself is left to the page, which masks it)."""

    address: str
    contact_name: str | None
    reasons: list[str]
    hidden: int  # rows of this number the other filters hide


def explain_missing(engine: Engine, flt: LogFilter, channels: Sequence[str],
                    tz: ZoneInfo) -> list[Untargeted]:
    """One :class:`Untargeted` per number searched (by ``target``, or the numbers of the
    contacts named ``name``); empty when the filter names no number or person."""
    if not (flt.target or flt.name):
        return []
    with engine.connect() as conn:
        addresses = _addresses(conn, flt)
        if not addresses:
            return [Untargeted("", flt.name, [_("No contact is named {name}.").format(
                name=flt.name)], 0)]
        found = [_explain(conn, engine, flt, address, channels, tz)
                 for address in addresses[:MAX_CONTACTS]]
    if len(addresses) > MAX_CONTACTS:
        more = len(addresses) - MAX_CONTACTS
        found.append(Untargeted("", flt.name, [ngettext(
            "{n} more contact has this name; search by number to see them.",
            "{n} more contacts have this name; search by number to see them.",
            more).format(n=more)], 0))
    return found


def _addresses(conn: Connection, flt: LogFilter) -> list[str]:
    if flt.name is None:
        return [flt.target] if flt.target else []
    query = select(contacts.c.phone).where(contacts.c.name == flt.name)
    if flt.target:
        query = query.where(contacts.c.phone == flt.target)
    return list(conn.execute(query.order_by(contacts.c.id).limit(MAX_CONTACTS + 50))
                .scalars())


def _explain(conn: Connection, engine: Engine, flt: LogFilter, address: str,
             channels: Sequence[str], tz: ZoneInfo) -> Untargeted:
    reasons: list[str] = []
    hidden = _hidden_rows(conn, engine, flt, address, reasons)
    contact = conn.execute(select(contacts).where(contacts.c.phone == address)).first()
    if contact is None:
        reasons.append(_("The number is not in the contacts: no contact list holds it, so "
                         "no campaign's audience includes it."))
        return Untargeted(address, None, reasons, hidden)
    lists = _lists_of(conn, contact.id)
    reasons.append(_("The contact is in the lists: {lists}.").format(lists=", ".join(lists))
                   if lists else _("The contact is in no contact list."))
    reasons += _opt_outs(conn, address, channels, tz)
    if flt.campaign and not (hidden and count(engine, LogFilter(campaign=flt.campaign,
                                                                 target=address))):
        reasons += _against_campaign(conn, flt, contact._mapping, lists, tz)
    elif not hidden:
        reasons.append(_("No campaign has a row for this number yet."))
    return Untargeted(address, contact.name, reasons, hidden)


def _hidden_rows(conn: Connection, engine: Engine, flt: LogFilter, address: str,
                 reasons: list[str]) -> int:
    """Rows of ``address`` outside the other filters, named by campaign and state."""
    if flt == LogFilter(target=flt.target, name=flt.name):
        return 0  # nothing else filtered: the number has no row at all
    total = count(engine, LogFilter(target=address))
    if not total:
        return 0
    groups = conn.execute(
        select(runs.c.campaign_id, deliveries.c.status, deliveries.c.reason, func.count())
        .join(runs, runs.c.id == deliveries.c.run_id)
        .where(deliveries.c.target == address)
        .group_by(runs.c.campaign_id, deliveries.c.status, deliveries.c.reason)
        .order_by(func.count().desc()).limit(MAX_GROUPS)).all()
    named = "; ".join(f"{campaign}: {_state(status, reason)} × {n}"
                      for campaign, status, reason, n in groups)
    reasons.append(ngettext("The number has {n} row that the other filters hide ({rows}).",
                            "The number has {n} rows that the other filters hide ({rows}).",
                            total).format(n=total, rows=named))
    return total


def _state(status: str, reason: str | None) -> str:
    return label("state", f"skipped:{reason}" if status == "skipped" and reason else status)


def _lists_of(conn: Connection, contact_id: int) -> list[str]:
    return list(conn.execute(
        select(contact_lists.c.name)
        .join(list_members, list_members.c.list_id == contact_lists.c.id)
        .where(list_members.c.contact_id == contact_id)
        .order_by(contact_lists.c.name)).scalars())


def _opt_outs(conn: Connection, address: str, channels: Sequence[str],
              tz: ZoneInfo) -> list[str]:
    """By the (channel, address) key: each channel, and every channel's ``*``."""
    found = conn.execute(select(optouts).where(
        optouts.c.channel.in_([*channels, EVERY_CHANNEL]), optouts.c.address == address)
        .order_by(optouts.c.created_at)).all()
    return [_("Opted out of {channel} since {when} (how: {source}; {reason}).").format(
        channel=_("every channel") if row.channel == EVERY_CHANNEL
        else label("channel", row.channel),
        when=_local(row.created_at, tz), source=_source(row.source),
        reason=row.reason or _("no reason given")) for row in found]


def _source(source: str) -> str:
    found = OPTOUT_SOURCES.get(source)
    return pgettext(*found) if found else source


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return as_utc(moment).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _against_campaign(conn: Connection, flt: LogFilter, contact: Any, lists: list[str],
                      tz: ZoneInfo) -> list[str]:
    """The contact against each audience of the campaign's planned (else current)
    version, and when that version was planned."""
    newest = conn.execute(select(runs.c.version, runs.c.planned_at)
                          .where(runs.c.campaign_id == flt.campaign)
                          .order_by(runs.c.fire_time.desc()).limit(1)).first()
    try:
        campaign = load_stored_in(conn, str(flt.campaign),
                                                 newest.version if newest else None)
    except NotFoundError:
        return [_("There is no campaign {id}.").format(id=flt.campaign)]
    reasons = [_audience_fit(index, placement.channel, audience, contact, lists)
               for index, placement, audience in _audiences(campaign, flt.channel)]
    if not reasons:
        reasons.append(_("No placement of this campaign sends to people on that channel."))
    if newest is None:
        reasons.append(_("The campaign has not been planned yet: its rows are made when a "
                         "firing is planned."))
    elif newest.planned_at is not None:
        reasons.append(_("The campaign was last planned at {when}; a contact added or "
                         "changed after that is in its next firing.").format(
                             when=_local(newest.planned_at, tz)))
    return reasons


def _audiences(campaign: Campaign, channel: str | None
               ) -> list[tuple[int, Any, Audience]]:
    found = []
    for index, placement in enumerate(campaign.placements, start=1):
        if (channel and placement.channel != channel) or "audience" not in placement.options:
            continue
        audience, _problems = parse_audience(placement.options["audience"],
                                             ValidationContext())
        if audience is not None:
            found.append((index, placement, audience))
    return found


def _audience_fit(index: int, channel: str, audience: Audience, contact: Any,
                  lists: list[str]) -> str:
    """One sentence: the first way the contact falls outside placement ``index``'s
    audience, or that it fits."""
    where = _("Placement {n} ({channel})").format(n=index, channel=label("channel", channel))
    if not set(audience.lists) & set(lists):
        return _("{placement}: not in its lists ({lists}).").format(
            placement=where, lists=", ".join(audience.lists))
    if audience.districts and contact["district"] not in audience.districts:
        return _("{placement}: outside its districts ({districts}); the contact's district "
                 "is {district}.").format(placement=where,
                                          districts=", ".join(audience.districts),
                                          district=contact["district"] or _("not set"))
    if audience.areas and contact["area"] not in audience.areas:
        return _("{placement}: outside its area types ({areas}); the contact's is "
                 "{area}.").format(placement=where,
                                   areas=", ".join(label("area", a) for a in audience.areas),
                                   area=label("area", contact["area"]) or _("not set"))
    tags = {t.strip() for t in (contact["tags"] or "").split(",") if t.strip()}
    if audience.tags and not tags & set(audience.tags):
        return _("{placement}: the contact has none of its tags ({tags}).").format(
            placement=where, tags=", ".join(audience.tags))
    return _("{placement}: the contact is in its audience.").format(placement=where)

