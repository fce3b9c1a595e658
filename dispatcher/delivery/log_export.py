"""The delivery log as a spreadsheet for people (``/logs.csv``, ``/logs.xlsx`` and
``dispatcher logs --format``): one function for both faces.

Where the machine export (``dispatcher logs --csv``/``--json``, the API) keeps machine
names, this one speaks the reader's language: headers, states and channels translated,
the error code explained, the campaign's title, the contact's name and district next to
the number, the time a real date in the campaign's time zone (the config's when the
export spans campaigns), numbers masked unless the reader may unmask them. Rows stream
from ``delivery_log.all_rows``; names, districts and explanations are looked up a batch
of rows at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, select

from dispatcher.audience.phones import mask
from dispatcher.campaigns.versions import load_stored
from dispatcher.delivery import log as delivery_log
from dispatcher.delivery.log import Cursor, LogFilter, display_row
from dispatcher.error_codes import Explanation, explain, explain_skip
from dispatcher.errors import NotFoundError
from dispatcher.files.exports import Column
from dispatcher.i18n import _, current_locale, use_locale
from dispatcher.i18n.labels import label
from dispatcher.storage.tables import campaigns, contacts, deliveries

BATCH_ROWS = 1_000  # rows whose names and districts are looked up in one query

_PHONE_IN_TEXT = re.compile(r"\+\d{7,15}")  # an E.164 number inside a provider's text


def masked_text(text: str | None) -> str | None:
    """Free text (a provider's error message) with the phone numbers in it masked, as
    the dashboard shows it to a role that may not unmask them."""
    if text is None:
        return None
    return _PHONE_IN_TEXT.sub(lambda found: mask(found.group()), text)


def log_columns(tz: ZoneInfo) -> list[Column]:
    """The export's columns, headers in the current locale; the time's names its zone."""
    return [
        Column(_("Record ID")), Column(_("Time ({zone})").format(zone=tz.key), "datetime"),
        Column(_("Campaign")), Column(_("Campaign title")), Column(_("Channel")),
        Column(_("Placement"), "number"), Column(_("Number or address")), Column(_("Name")),
        Column(_("District")), Column(_("State")), Column(_("Error code")),
        Column(_("Explanation")), Column(_("What to do")), Column(_("Provider's message")),
        Column(_("Attempts"), "number"),
    ]


def export_zone(engine: Engine, flt: LogFilter, default: ZoneInfo) -> ZoneInfo:
    """The campaign's time zone when the export is of one campaign, else ``default``."""
    if not flt.campaign:
        return default
    try:
        campaign, _version = load_stored(engine, flt.campaign)
        return ZoneInfo(campaign.timezone)
    except (NotFoundError, ZoneInfoNotFoundError):
        return default


def sheet_title() -> str:
    return _("Delivery log")


def file_stem() -> str:
    """The download's file name (without extension) in the current locale."""
    return _("delivery-log")


def log_rows(engine: Engine, flt: LogFilter, unmask: bool, locale: str | None = None,
             after: Cursor | None = None) -> Iterator[list[object]]:
    """Each matching row's cells (after ``after``), in :func:`log_columns` order, newest
    first.

    Words are translated into ``locale`` (default: the current one) a batch at a time,
    so a web download whose batches run on different worker threads speaks one language.
    Unless ``unmask``, numbers are masked, also inside the provider's message.
    """
    wanted = locale or current_locale()
    titles = _campaign_titles(engine)
    rows = delivery_log.all_rows(engine, flt, after=after)
    while batch := list(islice(rows, BATCH_ROWS)):
        people = _people(engine, [row["id"] for row in batch])
        with use_locale(wanted):
            cells = [_cells(row, titles, people, unmask) for row in batch]
        yield from cells


def _campaign_titles(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.id: r.title for r in conn.execute(select(campaigns.c.id, campaigns.c.title))}


def _people(engine: Engine, ids: Sequence[int]) -> dict[int, tuple[str | None, str | None]]:
    """(name, district) of the contact each delivery row was planned for, by row id."""
    query = (select(deliveries.c.id, contacts.c.name, contacts.c.district)
             .join(contacts, contacts.c.id == deliveries.c.contact_id)
             .where(deliveries.c.id.in_(ids)))
    with engine.connect() as conn:
        return {r.id: (r.name, r.district) for r in conn.execute(query)}


def _cells(row: dict[str, Any], titles: dict[str, str],
           people: dict[int, tuple[str | None, str | None]], unmask: bool) -> list[object]:
    """One row's cells; the placement counted from 1, as people count a file's tables."""
    shown = display_row(row, ZoneInfo("UTC"), unmask)  # masking only: the time stays a date
    name, district = people.get(row["id"], (None, None))
    skipped = row["status"] == "skipped" and row["reason"]
    state = f"skipped:{row['reason']}" if skipped else row["status"]
    explained = _explanation(row)
    return [str(row["id"]), row["updated_at"], row["campaign"], titles.get(row["campaign"]),
            label("channel", row["channel"]), row["placement"] + 1, shown["target"], name,
            district, label("state", state), row["error_code"],
            explained.meaning if explained else None, explained.action if explained else None,
            row["detail"] if unmask else masked_text(row["detail"]),
            row["attempts"]]


def _explanation(row: dict[str, Any]) -> Explanation | None:
    """What the row's error code (or, for a skipped row, its reason) means."""
    skipped = row["reason"] if row["status"] == "skipped" else None
    return _explained(current_locale(), row["channel"], row["error_code"], skipped)


@lru_cache(maxsize=4096)
def _explained(locale: str, channel: str, code: str | None,
               skipped: str | None) -> Explanation | None:
    """Cached by ``locale`` too: a million rows share a few dozen codes."""
    found = explain(channel, code)
    if found is None and skipped is not None:
        found = explain_skip(skipped)
    return found
