"""The delivery log: delivery rows filtered, newest first, in keyset pages.

A page is located by a cursor (the last row's ``updated_at`` and ``id``), not an offset,
so page 10,000 of a 3.2-million-row log costs what page 1 costs.

A campaign's page, narrowed by nothing but times, merges the newest rows of each of its
runs, each read newest first from the (run_id, updated_at, id) index: one query sorting
all the campaign's rows took 605 ms for 1.2 million rows (BENCHMARKS.md). With a status,
channel or target the single query stays: its (run_id, status) lookups keep a rare
status fast, where reading each run newest first would read whole runs.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    func,
    or_,
    select,
    union_all,
)

from channels.base import SKIP_REASONS, STATES, is_group_address
from dispatcher.audience.phones import mask, normalize
from dispatcher.errors import DispatcherError
from dispatcher.i18n import _
from dispatcher.storage.bounds import MAX_DB_INT, year_problem
from dispatcher.storage.db import as_utc
from dispatcher.storage.tables import contacts, deliveries, runs

COLUMNS = ("id", "updated_at", "campaign", "run", "channel", "placement", "target", "status",
           "reason", "detail", "error_code", "provider_ref", "attempts")
RUNS_PER_STATEMENT = 200  # SQLite allows 500 terms in one UNION ALL
MAX_NAMED = 5_000  # contacts of one name searched at once (a common name, a big district)


@dataclass(frozen=True)
class LogFilter:
    campaign: str | None = None
    channel: str | None = None
    status: str | None = None  # a state, or "skipped:REASON"
    since: datetime | None = None
    until: datetime | None = None
    target: str | None = None  # E.164
    name: str | None = None  # a contact's name, exactly as the contact list has it


@dataclass(frozen=True)
class Cursor:
    updated_at: datetime
    id: int

    def encode(self) -> str:
        raw = f"{as_utc(self.updated_at).isoformat()}|{self.id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor ``encode`` printed; DispatcherError for anything else (a row id or a
        time no row can have included: the database could not compare them)."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            moment, row_id = raw.split("|")
            found = cls(datetime.fromisoformat(moment), int(row_id))
        except (ValueError, UnicodeDecodeError):
            found = None
        if (found is None or not 0 < found.id <= MAX_DB_INT
                or year_problem(found.updated_at) is not None):
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise DispatcherError(_("cursor {cursor} is not one printed by `dispatcher logs` "
                                    "(or the page); start again without a cursor")
                                  .format(cursor=repr(shown)))
        return found


def parse_status(text: str) -> tuple[str, str | None]:
    """"failed" -> ("failed", None); "skipped:capped" -> ("skipped", "capped")."""
    status, _colon, reason = text.partition(":")
    if status not in STATES or (reason and (status != "skipped" or reason not in SKIP_REASONS)):
        allowed = ", ".join([*STATES, *(f"skipped:{r}" for r in SKIP_REASONS)])
        raise DispatcherError(_("--status {status} is not a delivery state; allowed: "
                                "{allowed}").format(status=repr(text), allowed=allowed))
    return status, reason or None


def _query(flt: LogFilter, named: list[str] | None = None) -> Select[Any]:
    return (select(deliveries.c.id, deliveries.c.updated_at, runs.c.campaign_id,
                   deliveries.c.run_id, deliveries.c.channel, deliveries.c.placement,
                   deliveries.c.target, deliveries.c.status, deliveries.c.reason,
                   deliveries.c.detail, deliveries.c.error_code, deliveries.c.provider_ref,
                   deliveries.c.attempts)
            .join(runs, runs.c.id == deliveries.c.run_id)
            .where(*_conditions(flt, named))
            .order_by(deliveries.c.updated_at.desc(), deliveries.c.id.desc()))


def _conditions(flt: LogFilter, named: list[str] | None) -> list[ColumnElement[bool]]:
    """The filter as WHERE conditions on ``deliveries`` (and ``runs``, joined);
    ``named``: the numbers of the contacts called ``flt.name`` (see :func:`_named`)."""
    where: list[ColumnElement[bool]] = []
    if flt.campaign:
        where.append(runs.c.campaign_id == flt.campaign)
    if flt.channel:
        where.append(deliveries.c.channel == flt.channel)
    if flt.status:
        status, reason = parse_status(flt.status)
        where.append(deliveries.c.status == status)
        if reason:
            where.append(deliveries.c.reason == reason)
    if flt.since:
        where.append(deliveries.c.updated_at >= flt.since)
    if flt.until:
        where.append(deliveries.c.updated_at < flt.until)
    if flt.target:
        where.append(deliveries.c.target == flt.target)
    if flt.name:
        where.append(deliveries.c.target.in_(named or []))
    return where


def _named(conn: Connection, flt: LogFilter) -> list[str] | None:
    """The numbers of the contacts named ``flt.name``, looked up first: given as a list,
    they let the database read each number's rows from the ``target`` index, where a
    subquery had PostgreSQL walk the whole log newest first (400 ms at a million rows)."""
    if not flt.name:
        return None
    phones = list(conn.execute(select(contacts.c.phone).where(contacts.c.name == flt.name)
                               .limit(MAX_NAMED + 1)).scalars())
    if len(phones) > MAX_NAMED:
        raise DispatcherError(_("More than {n} contacts are named {name}: add a number, a "
                                "campaign or a channel to the search.").format(
                                    n=f"{MAX_NAMED:,}", name=flt.name))
    return phones


def count(engine: Engine, flt: LogFilter) -> int:
    """How many rows ``flt`` matches (every page together): one COUNT with the page's
    conditions; a campaign's runs are looked up first, so the (run_id, ...) indexes
    answer it without joining ``runs`` row by row."""
    query = select(func.count()).select_from(deliveries)
    if flt.campaign:
        of_campaign = select(runs.c.id).where(runs.c.campaign_id == flt.campaign)
        query = query.where(deliveries.c.run_id.in_(of_campaign))
    with engine.connect() as conn:
        query = query.where(*_conditions(replace(flt, campaign=None), _named(conn, flt)))
        return int(conn.execute(query).scalar_one())


def page(engine: Engine, flt: LogFilter, limit: int,
         after: Cursor | None = None) -> tuple[list[dict[str, Any]], Cursor | None]:
    """Up to ``limit`` rows after ``after``, and the cursor of the next page (None at the end)."""
    with engine.connect() as conn:
        found = (_by_run(conn, flt, limit + 1, after) if _merges_runs(flt)
                 else conn.execute(_after(_query(flt, _named(conn, flt)), after)
                                   .limit(limit + 1)).all())
    rows = [dict(zip(COLUMNS, r, strict=True)) for r in found]
    more = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row["updated_at"] = as_utc(row["updated_at"])
    last = rows[-1] if rows and more else None
    return rows, (Cursor(last["updated_at"], last["id"]) if last else None)


def contact_names(engine: Engine, delivery_ids: list[int]) -> dict[int, str]:
    """The contact's name of each row that has one (a page's rows: by primary keys)."""
    if not delivery_ids:
        return {}
    query = (select(deliveries.c.id, contacts.c.name)
             .join(contacts, contacts.c.id == deliveries.c.contact_id)
             .where(deliveries.c.id.in_(delivery_ids), contacts.c.name.is_not(None)))
    with engine.connect() as conn:
        return {row_id: name for row_id, name in conn.execute(query)}


def _after(query: Select[Any], after: Cursor | None) -> Select[Any]:
    if after is None:
        return query
    return query.where(or_(
        deliveries.c.updated_at < after.updated_at,
        and_(deliveries.c.updated_at == after.updated_at, deliveries.c.id < after.id)))


def _merges_runs(flt: LogFilter) -> bool:
    return bool(flt.campaign) and not (flt.channel or flt.status or flt.target or flt.name)


def _by_run(conn: Connection, flt: LogFilter, limit: int,
            after: Cursor | None) -> list[tuple[Any, ...]]:
    """The newest ``limit`` rows of the campaign: the newest ``limit`` of each run, merged."""
    run_ids = list(conn.execute(select(runs.c.id).where(runs.c.campaign_id == flt.campaign)
                                .order_by(runs.c.id)).scalars())
    each_run = _after(_query(replace(flt, campaign=None)), after).limit(limit)
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(run_ids), RUNS_PER_STATEMENT):
        branches = [each_run.where(deliveries.c.run_id == run_id).subquery().select()
                    for run_id in run_ids[start:start + RUNS_PER_STATEMENT]]
        merged = union_all(*branches).subquery()
        newest = select(merged).order_by(merged.c.updated_at.desc(), merged.c.id.desc())
        found += map(tuple, conn.execute(newest.limit(limit)))
    return sorted(found, key=lambda r: (r[1], r[0]), reverse=True)[:limit]


def all_rows(engine: Engine, flt: LogFilter, page_size: int = 5_000,
             after: Cursor | None = None) -> Iterator[dict[str, Any]]:
    """Every matching row, newest first, one page in memory at a time (for exports)."""
    while True:
        rows, after = page(engine, flt, page_size, after)
        yield from rows
        if after is None:
            return


# Showing rows (the CLI, the pages and the API show them alike) ----------------------------


def parse_moment(value: str | datetime | None, option: str, tz: ZoneInfo) -> datetime | None:
    """A filter's time: ISO 8601 (or a datetime, as the API parsed it), local to ``tz``
    when it has no offset; in UTC. The CLI, the pages and the API all read times here."""
    if value is None:
        return None
    example = _("write 2019-06-01 or 2019-06-01T09:00")
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise DispatcherError(_("{option} {value} is not an ISO 8601 date or date-time; "
                                    "{example}").format(option=option, value=repr(value),
                                                        example=example)) from None
    problem = year_problem(moment)
    if problem is not None:
        raise DispatcherError(f"{option} {moment.isoformat()}: {problem}; {example}")
    return (moment.replace(tzinfo=tz) if moment.tzinfo is None else moment).astimezone(UTC)


def normalise_target(text: str | None, region: str) -> str | None:
    """A phone number in any format as E.164; any other address as it is."""
    if text is None:
        return None
    try:
        return normalize(text, region).e164
    except ValueError:
        return text


def display_row(row: dict[str, Any], tz: ZoneInfo, unmask: bool) -> dict[str, Any]:
    """The row with its time in ``tz`` and its target masked unless ``unmask`` (group
    rows such as ``all@0`` name nobody and stay as they are)."""
    shown = dict(row)
    shown["updated_at"] = row["updated_at"].astimezone(tz).isoformat()
    if not unmask:
        target = row["target"]
        shown["target"] = target if is_group_address(target) else mask(target)
    return shown


def state_label(row: dict[str, Any]) -> str:
    return f"{row['status']}({row['reason']})" if row["reason"] else row["status"]
