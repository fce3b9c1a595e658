"""Spreadsheets for people: ``.xlsx`` and CSV that open cleanly in Excel and WPS.

Every export a planner or operator opens in a spreadsheet is written here, from
``Column`` descriptions and rows of plain values:

- ``text`` cells are stored as text with the number format ``@``: a phone number keeps
  its ``+`` and leading ``0`` and never turns into ``1.38E+10``; an id stays an id. Text
  that looks like a formula (``=``, ``+``, ``-``, ``@``... as ``csvfile.spreadsheet_safe``
  judges it) is never one: in ``.xlsx`` it carries the "quote prefix", the mark Excel and
  WPS store when a person types ``'=...``, so the cell shows the text as written and stays
  text when edited; in CSV it gets the leading apostrophe.
- ``datetime`` cells are real spreadsheet dates in the export's time zone (the
  campaign's or the config's; a naive datetime is UTC, as the database keeps it), shown
  ``yyyy-mm-dd hh:mm:ss``. CSV writes the same local time as text.
- ``number`` cells are numbers.

``.xlsx`` is written by openpyxl's write-only workbook, row by row: memory stays flat
whatever the row count (bench/exports.py measures it). A sheet holds at most 1,048,575
data rows under its header (Excel's limit); more rows continue on "<title> (2)"...
openpyxl needs a seekable file, so a web download is written to an anonymous temporary
file first and then streamed from it (:func:`xlsx_chunks`). CSV is UTF-8 with a BOM (so
Excel and WPS read Chinese right) and CRLF line ends.
"""

from __future__ import annotations

import io
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import chain, islice
from typing import IO, Any, BinaryIO, Literal, TextIO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from dispatcher.files.csvfile import ExportWriter, spreadsheet_safe

MAX_SHEET_ROWS = 1_048_575  # Excel's 1,048,576 rows, less the header
SHEET_NAME_CHARS = 31  # Excel's limit on a sheet's name
CHUNK_BYTES = 1 << 16  # a streamed download's pieces
CSV_BOM = "\ufeff"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
TEXT_FORMAT = "@"
WIDTH_SAMPLE_ROWS = 200  # rows measured for the column widths (the header always is)
MIN_WIDTH, MAX_WIDTH = 6, 60  # in Excel's width unit, about one Latin character
_SHEET_NAME_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})
_RESERVED_SHEET_NAMES = {"history"}  # Excel keeps "History" for itself

Kind = Literal["text", "number", "datetime"]


@dataclass(frozen=True)
class Column:
    """One column: its header as people read it (already translated) and its kind."""

    header: str
    kind: Kind = "text"


# Values ---------------------------------------------------------------------------------


def local_time(value: datetime | date, tz: ZoneInfo) -> datetime | date:
    """``value`` as the wall-clock time in ``tz``, without a zone (spreadsheets have
    none), to the second. A naive datetime is UTC; a date stays the date it is."""
    if not isinstance(value, datetime):
        return value
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(tz).replace(tzinfo=None, microsecond=0)


def _as_moment(value: object) -> datetime | date | None:
    """A datetime or date, or an ISO 8601 string of one; None for anything else."""
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _clean_text(value: object) -> str:
    """``value`` as text a worksheet accepts: control characters (which make Excel call
    the file damaged) replaced by a space."""
    text = value if isinstance(value, str) else str(value)
    cleaned: str = ILLEGAL_CHARACTERS_RE.sub(" ", text)
    return cleaned


def display_width(text: str) -> int:
    """Columns ``text`` takes in a spreadsheet: Chinese (wide) characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


# .xlsx ----------------------------------------------------------------------------------


def sheet_name(title: str, number: int) -> str:
    """The name of sheet ``number`` (1, 2...): ``title``, then ``title (2)``..., made a
    name Excel accepts (at most 31 characters, none of []:*?/\\, no apostrophe at
    either end, not empty, not "History")."""
    suffix = "" if number == 1 else f" ({number})"
    base = title.translate(_SHEET_NAME_FORBIDDEN).strip().strip("'").strip()
    if not base or (not suffix and base.lower() in _RESERVED_SHEET_NAMES):
        base = base or "Sheet"
        suffix = suffix or " (1)"
    return base[:SHEET_NAME_CHARS - len(suffix)].rstrip().rstrip("'") + suffix


class _SheetCells:
    """Turns a row's values into the cells of one sheet.

    Styling a cell is the slow part of writing one, so each column keeps one styled cell
    per style and reuses it row after row: a write-only sheet writes each cell of a row
    as it is appended, before the next row changes the value.
    """

    def __init__(self, sheet: Any, columns: Sequence[Column], tz: ZoneInfo) -> None:
        self.sheet = sheet
        self.columns = columns
        self.tz = tz
        self._styled: dict[tuple[int, str], Any] = {}

    def header(self) -> list[Any]:
        cells = []
        for column in self.columns:
            cell = WriteOnlyCell(self.sheet, value=_clean_text(column.header))
            cell.font = Font(bold=True)
            cell.data_type = "s"
            cells.append(cell)
        return cells

    def row(self, values: Sequence[object]) -> list[Any]:
        return [self._value(index, column.kind, value) for index, (column, value)
                in enumerate(zip(self.columns, values, strict=True))]

    def _value(self, index: int, kind: Kind, value: object) -> Any:
        if value is None or value == "":
            return None
        if kind == "number" and _is_number(value):
            return value
        if kind == "datetime" and (moment := _as_moment(value)) is not None:
            style = "datetime" if isinstance(moment, datetime) else "date"
            return self._cell(index, style, local_time(moment, self.tz))
        text = _clean_text(value)
        cell = self._cell(index, "quoted" if spreadsheet_safe(text) != text else "text", text)
        cell.data_type = "s"  # never a formula or an error code, whatever it starts with
        return cell

    def _cell(self, index: int, style: str, value: object) -> Any:
        cell = self._styled.get((index, style))
        if cell is None:
            cell = self._styled[index, style] = WriteOnlyCell(self.sheet)
            cell.number_format = _FORMATS[style]
            if style == "quoted":
                cell.quotePrefix = True  # what Excel stores for a typed '=...
        cell.value = value
        return cell


_FORMATS = {"text": TEXT_FORMAT, "quoted": TEXT_FORMAT, "datetime": DATETIME_FORMAT,
            "date": "yyyy-mm-dd"}


def _column_widths(columns: Sequence[Column], sample: Sequence[Sequence[object]]
                   ) -> list[float]:
    """A width per column fitting its header and the sampled rows (CJK counted double)."""
    widths: list[float] = []
    for index, column in enumerate(columns):
        longest = display_width(column.header)
        for row in sample:
            value = row[index]
            if value is None:
                continue
            moment = _as_moment(value) if column.kind == "datetime" else None
            shown = ("2019-06-01 09:00:00" if isinstance(moment, datetime)
                     else str(value))
            longest = max(longest, display_width(shown))
        widths.append(min(max(longest + 2, MIN_WIDTH), MAX_WIDTH))
    return widths


def _new_sheet(book: Any, title: str, number: int, columns: Sequence[Column],
               widths: Sequence[float], tz: ZoneInfo) -> _SheetCells:
    sheet = book.create_sheet(sheet_name(title, number))
    sheet.freeze_panes = "A2"  # the header stays in view
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    cells = _SheetCells(sheet, columns, tz)
    sheet.append(cells.header())
    return cells


def write_xlsx(out: BinaryIO | IO[bytes], columns: Sequence[Column],
               rows: Iterable[Sequence[object]], tz: ZoneInfo, sheet_title: str,
               rows_per_sheet: int = MAX_SHEET_ROWS) -> int:
    """Write ``rows`` as an .xlsx workbook to ``out`` (seekable); returns the rows written.

    Each sheet starts with the bold, frozen header; after ``rows_per_sheet`` rows (Excel's
    most, unless a test asks for fewer) the next sheet starts. A workbook with no rows
    still has its header sheet.
    """
    if rows_per_sheet < 1:
        raise ValueError("rows_per_sheet must be at least 1")
    source = iter(rows)
    sample = list(islice(source, WIDTH_SAMPLE_ROWS))
    widths = _column_widths(columns, sample)
    book = Workbook(write_only=True)
    sheets, written, cells = 1, 0, _new_sheet(book, sheet_title, 1, columns, widths, tz)
    for values in chain(sample, source):
        if written and written % rows_per_sheet == 0:
            sheets += 1
            cells = _new_sheet(book, sheet_title, sheets, columns, widths, tz)
        cells.sheet.append(cells.row(values))
        written += 1
    book.save(out)
    return written


def xlsx_chunks(columns: Sequence[Column], rows: Iterable[Sequence[object]], tz: ZoneInfo,
                sheet_title: str, rows_per_sheet: int = MAX_SHEET_ROWS) -> Iterator[bytes]:
    """The workbook's bytes for a download: written to an anonymous temporary file (gone
    when closed, also if the download is abandoned), then read back in pieces."""
    with tempfile.TemporaryFile(prefix="dispatcher-export-") as spool:
        write_xlsx(spool, columns, rows, tz, sheet_title, rows_per_sheet)
        spool.seek(0)
        while piece := spool.read(CHUNK_BYTES):
            yield piece


# CSV ------------------------------------------------------------------------------------


def _csv_value(kind: Kind, value: object, tz: ZoneInfo) -> object:
    if value is None:
        return ""
    if kind == "datetime" and (moment := _as_moment(value)) is not None:
        local = local_time(moment, tz)
        return (local.strftime("%Y-%m-%d %H:%M:%S") if isinstance(local, datetime)
                else local.isoformat())
    if kind == "number" and _is_number(value):
        return value
    return value if isinstance(value, str) else str(value)


def csv_chunks(columns: Sequence[Column], rows: Iterable[Sequence[object]], tz: ZoneInfo,
               chunk_chars: int = CHUNK_BYTES) -> Iterator[str]:
    """The CSV text in pieces of about ``chunk_chars``: BOM, header, rows, CRLF line ends,
    each cell through ``spreadsheet_safe`` (by ``ExportWriter``)."""
    buffer = io.StringIO()
    buffer.write(CSV_BOM)
    writer = ExportWriter(buffer)
    writer.row(column.header for column in columns)
    for values in rows:
        writer.row(_csv_value(column.kind, value, tz)
                   for column, value in zip(columns, values, strict=True))
        if buffer.tell() >= chunk_chars:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_csv(out: TextIO | IO[str], columns: Sequence[Column],
              rows: Iterable[Sequence[object]], tz: ZoneInfo) -> int:
    """Write ``rows`` as CSV for spreadsheets to ``out`` (opened with ``newline=""``);
    returns the rows written."""
    counted = _Counted(rows)
    for piece in csv_chunks(columns, counted, tz):
        out.write(piece)
    return counted.count


class _Counted:
    """Rows passed through, counted."""

    def __init__(self, rows: Iterable[Sequence[object]]) -> None:
        self._rows = iter(rows)
        self.count = 0

    def __iter__(self) -> Iterator[Sequence[object]]:
        for row in self._rows:
            self.count += 1
            yield row

