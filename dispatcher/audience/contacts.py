"""Contact lists: streaming CSV import with E.164 normalisation, and list look-ups.

An import reads the file once, in batches of ``BATCH_SIZE`` rows, one transaction a batch,
so memory stays flat whatever the file size (3.2 million rows are routine). Contacts are
unique by E.164 phone: one person in several lists is one contact with several
memberships, and importing the same file again changes nothing.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Connection, Engine, Text, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from channels.base import AREA_TYPES
from dispatcher.audience.phones import normalize
from dispatcher.errors import DispatcherError
from dispatcher.files.csvfile import (
    CsvRows,
    ProgressCallback,
    RowsReport,
    Source,
    chunked,
    parsed_rows,
)
from dispatcher.storage.db import insert_ignoring_conflicts, utcnow
from dispatcher.storage.tables import contact_lists, contacts, list_members

AREAS = AREA_TYPES
REQUIRED_COLUMNS = ("phone", "area", "district")
OPTIONAL_COLUMNS = ("name", "tags")
BATCH_SIZE = 5_000


@dataclass
class ImportReport(RowsReport):
    list_name: str = ""
    members_added: int = 0  # memberships of the list that did not exist before


def check_list_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 128:
        raise DispatcherError(f"list name {name!r} must be 1 to 128 characters")
    return cleaned


_TAG_SEPARATORS = re.compile(r"[,，;；、]")


def clean_tags(text: str) -> str | None:
    """``"志愿者， 楼长,志愿者"`` -> ``"志愿者,楼长"``: the form the audience filter matches."""
    tags = dict.fromkeys(t.strip() for t in _TAG_SEPARATORS.split(text))
    tags.pop("", None)
    return ",".join(tags) or None


class _ContactParser:
    """Turns the cells of one CSV row into a ``contacts`` row, or raises with the reason."""

    def __init__(self, columns: list[str], region: str) -> None:
        self.region = region
        self.phone = columns.index("phone")
        self.area = columns.index("area")
        self.district = columns.index("district")
        self.name = columns.index("name") if "name" in columns else None
        self.tags = columns.index("tags") if "tags" in columns else None

    def __call__(self, cells: list[str]) -> dict[str, Any]:
        area = cells[self.area].lower()
        if area and area not in AREAS:
            raise ValueError(f"area {cells[self.area][:40]!r} is not one of "
                             f"{', '.join(AREAS)} (or empty)")
        number = normalize(cells[self.phone], self.region)
        tags = cells[self.tags] if self.tags is not None else ""
        return {"phone": number.e164, "line_type": number.line_type, "area": area or None,
                "district": cells[self.district] or None,
                "name": (cells[self.name] or None) if self.name is not None else None,
                "tags": clean_tags(tags) if tags else None}


def import_contacts(engine: Engine, source: Source, list_name: str, region: str, *,
                    progress: ProgressCallback | None = None,
                    batch_size: int = BATCH_SIZE) -> ImportReport:
    """Import a CSV of contacts into the list ``list_name`` (created when missing).

    Invalid rows are reported with their line and reason, and the valid rows imported.
    An empty cell never erases what an earlier import stored for the same phone.
    Raises ImportFileError before importing anything when the header is wrong.
    """
    list_name = check_list_name(list_name)
    started = time.monotonic()
    with CsvRows(source, REQUIRED_COLUMNS, OPTIONAL_COLUMNS) as rows:
        report = ImportReport(source=rows.name, list_name=list_name)
        writer = _BatchWriter(engine, list_name)
        parse = _ContactParser(rows.columns, region)
        for chunk in chunked(parsed_rows(rows, report, parse), batch_size):
            batch: dict[str, dict[str, Any]] = {}
            for row in chunk:
                _merge(batch, row)
            report.members_added += writer.write(batch)
            if progress is not None:
                progress(rows.bytes_read, report.rows_read)
        if progress is not None:
            progress(rows.bytes_read, report.rows_read)
    report.elapsed = time.monotonic() - started
    return report


def _merge(batch: dict[str, dict[str, Any]], row: dict[str, Any]) -> None:
    """The same phone twice in one batch: later non-empty values win, as in the database."""
    earlier = batch.get(row["phone"])
    if earlier is not None:
        row = {k: earlier[k] if v is None else v for k, v in row.items()}
    batch[row["phone"]] = row


_COLUMNS = ("phone", "line_type", "area", "district", "name", "tags")
_KEEP_WHEN_EMPTY = ("area", "district", "name", "tags")


class _BatchWriter:
    """Writes batches of contacts and their memberships of one list, one transaction each.

    SQLite gets an executemany upsert, then one INSERT ... SELECT of the memberships by
    phone. PostgreSQL gets each batch as arrays (``unnest``): two statements a batch,
    where one statement a row, or SQLAlchemy's multi-row VALUES, is several times slower.
    """

    def __init__(self, engine: Engine, list_name: str) -> None:
        self.engine = engine
        self.list_name = list_name
        self.list_id: int | None = None
        self.postgres = engine.dialect.name == "postgresql"
        if self.postgres:
            self._postgres_statements()
        else:
            self._sqlite_statements()

    def _sqlite_statements(self) -> None:
        insert = sqlite.insert(contacts)
        self.upsert: Any = _upsert(insert)
        self.add_members: Any = insert_ignoring_conflicts(list_members, self.engine).from_select(
            ["list_id", "contact_id"],
            select(bindparam("list_id", type_=BigInteger()), contacts.c.id)
            .where(contacts.c.phone.in_(bindparam("phones", expanding=True))))

    def _postgres_statements(self) -> None:
        rows = (func.unnest(*(bindparam(c, type_=postgresql.ARRAY(Text())) for c in _COLUMNS))
                .table_valued(*_COLUMNS).render_derived())
        insert = postgresql.insert(contacts).from_select(
            list(_COLUMNS), select(*(rows.c[c] for c in _COLUMNS)))
        self.upsert = _upsert(insert).returning(contacts.c.id)
        ids = (func.unnest(bindparam("ids", type_=postgresql.ARRAY(BigInteger())))
               .table_valued("contact_id").render_derived())
        self.add_members = insert_ignoring_conflicts(list_members, self.engine).from_select(
            ["list_id", "contact_id"],
            select(bindparam("list_id", type_=BigInteger()), ids.c.contact_id))

    def write(self, batch: dict[str, dict[str, Any]]) -> int:
        """Upsert the batch's contacts; the number of memberships that are new."""
        with self.engine.begin() as conn:
            if self.list_id is None:
                self.list_id = ensure_list(conn, self.list_name)
            if self.postgres:
                rows = list(batch.values())
                columns = {c: [row[c] for row in rows] for c in _COLUMNS}
                ids = conn.execute(self.upsert, columns).scalars().all()
                members = {"list_id": self.list_id, "ids": ids}
            else:
                conn.execute(self.upsert, list(batch.values()))
                members = {"list_id": self.list_id, "phones": list(batch)}
            result = conn.execute(self.add_members.execution_options(preserve_rowcount=True),
                                  members)
            return max(result.rowcount, 0)


def _upsert(insert: Any) -> Any:
    """On a known phone: an empty cell keeps what is stored, a filled one replaces it."""
    keep = {c: func.coalesce(insert.excluded[c], contacts.c[c]) for c in _KEEP_WHEN_EMPTY}
    return insert.on_conflict_do_update(
        index_elements=[contacts.c.phone],
        set_={"line_type": insert.excluded.line_type, **keep})


def ensure_list(conn: Connection, name: str) -> int:
    """The id of the list ``name``, created when missing."""
    conn.execute(insert_ignoring_conflicts(contact_lists, conn.engine),
                 {"name": name, "created_at": utcnow()})
    list_id = conn.execute(select(contact_lists.c.id)
                           .where(contact_lists.c.name == name)).scalar_one()
    return int(list_id)


def list_names(engine: Engine) -> frozenset[str]:
    with engine.connect() as conn:
        return frozenset(conn.execute(select(contact_lists.c.name)).scalars())


@dataclass(frozen=True)
class ListSize:
    name: str
    members: int


def list_sizes(engine: Engine) -> list[ListSize]:
    """Every list with its number of members, by name."""
    query = (select(contact_lists.c.name, func.count(list_members.c.contact_id))
             .select_from(contact_lists.outerjoin(
                 list_members, list_members.c.list_id == contact_lists.c.id))
             .group_by(contact_lists.c.id, contact_lists.c.name)
             .order_by(contact_lists.c.name))
    with engine.connect() as conn:
        return [ListSize(name, int(count)) for name, count in conn.execute(query)]
