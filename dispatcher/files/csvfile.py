"""CSV files: reading any size with line numbers, byte progress and invalid-row reports;
``spreadsheet_safe`` for the cells of every CSV export (never run as formulas).

Shared by the contact, opt-out, screen and cinema imports. Rows stream one at a time; a
report keeps at most ``MAX_INVALID_DETAILS`` invalid rows' details and counts the rest.
A row that is not CSV (a field over the size limit, a quote left open) is one invalid row
with its line, never the end of the import.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from types import TracebackType
from typing import IO, Any, cast

from dispatcher.errors import DispatcherError, InvalidPhone

MAX_INVALID_DETAILS = 1_000
# A longer line is skipped without being held in memory whole. A field is limited to
# csv.field_size_limit() characters (131,072 unless a program changes it).
MAX_LINE_CHARS = 1 << 20

Source = str | os.PathLike[str] | IO[bytes] | IO[str]
# Called after each batch with (bytes read so far, rows read so far).
ProgressCallback = Callable[[int, int], None]

_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # undecodable bytes, kept by "surrogateescape"


class ImportFileError(DispatcherError):
    """The file as a whole cannot be imported (header, encoding, CSV syntax)."""


@dataclass(frozen=True)
class InvalidRow:
    line: int  # line of the CSV file where the row starts (the header is line 1)
    reason: str


@dataclass
class RowsReport:
    """What a CSV import did. ``invalid_rows`` keeps the first ``MAX_INVALID_DETAILS`` only."""

    source: str
    rows_read: int = 0
    imported: int = 0  # valid rows written (a row repeated in the file counts each time)
    invalid: int = 0
    invalid_rows: list[InvalidRow] = field(default_factory=list)
    elapsed: float = 0.0  # seconds

    def reject(self, line: int, reason: str) -> None:
        self.invalid += 1
        if len(self.invalid_rows) < MAX_INVALID_DETAILS:
            self.invalid_rows.append(InvalidRow(line, reason))


class CsvRows:
    """A UTF-8 CSV file read row by row, its header checked before any row is read.

    ``columns`` are the header's names (lower case, in file order). Blank lines are
    skipped. A row is one line: no column holds a line break, so a quote left open ends
    its row at the end of its line instead of swallowing the rows after it, and line
    numbers are the ones an editor shows. ``checked(report)`` yields the rows and reports
    each line that is not one; iterating directly stops at the first such line instead.
    """

    def __init__(self, source: Source, required: tuple[str, ...],
                 optional: tuple[str, ...]) -> None:
        self.name = _source_name(source)
        self._counter: _CountingReader | None = None
        self._owned: IO[Any] | None = None
        self._text = self._open(source)
        self._feed = _LineFeed(self._text, self.name)
        self._reader = csv.reader(self._feed)
        self.columns = self._header(required, optional)

    @property
    def bytes_read(self) -> int:
        return self._counter.count if self._counter is not None else 0

    def _open(self, source: Source) -> IO[str]:
        if isinstance(source, str | os.PathLike):
            try:
                raw = open(source, "rb", buffering=0)  # noqa: SIM115 - closed by close()
            except OSError as exc:
                raise ImportFileError(f"{self.name}: cannot open: {exc.strerror}") from None
            self._owned = raw
            source = raw
        if isinstance(source, io.TextIOBase):
            return cast(IO[str], source)
        self._counter = _CountingReader(cast(IO[bytes], source), owned=self._owned is not None)
        return io.TextIOWrapper(io.BufferedReader(self._counter, 1 << 16),
                                encoding="utf-8-sig", errors="surrogateescape", newline="")

    def _header(self, required: tuple[str, ...], optional: tuple[str, ...]) -> list[str]:
        line, row = next(self._records(), (0, None))
        if row is None:
            raise ImportFileError(f"{self.name}: the file is empty; the first line must be a "
                                  f"header with the columns {', '.join(required)}")
        where = f"{self.name}:{line}"
        if isinstance(row, str):
            raise ImportFileError(f"{where}: the header is not a CSV line: {row}")
        names = [cell.strip().lstrip("\ufeff").lower() for cell in row]
        allowed = (*required, *optional)
        unknown = [n for n in names if n not in allowed]
        missing = [n for n in required if n not in names]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if unknown:
            raise ImportFileError(f"{where}: unknown column(s) {', '.join(map(repr, unknown))}; "
                                  f"allowed: {', '.join(allowed)}")
        if missing:
            raise ImportFileError(f"{where}: missing required column(s) "
                                  f"{', '.join(missing)}; required: {', '.join(required)}")
        if repeated:
            raise ImportFileError(f"{where}: column(s) {', '.join(repeated)} appear twice")
        return names

    def _records(self) -> Iterator[tuple[int, list[str] | str]]:
        """``(line, cells)`` for each line that is not blank, ``(line, reason)`` for each
        line that is not a CSV row; the reader goes on with the next line."""
        feed = self._feed
        while True:
            feed.new_row, feed.problem = True, None
            try:
                for cells in self._reader:
                    if feed.problem is not None:
                        yield feed.line, feed.problem
                    elif (cells and cells[0].strip()) or any(c.strip() for c in cells):
                        yield feed.line, cells
                    feed.new_row, feed.problem = True, None
                return
            except csv.Error as exc:
                yield feed.line, _csv_problem(exc)

    def checked(self, report: RowsReport | None) -> Iterator[tuple[int, list[str]]]:
        """``(line, cells)``: the stripped cells in header order, padded with "" when short.

        A line that is not a row (more non-empty fields than the header, a field over the
        size limit, a quote left open, a line over ``MAX_LINE_CHARS``) counts as read
        and goes to ``report`` as invalid, with its line; with no report it stops the
        import with an ImportFileError naming the line.
        """
        width = len(self.columns)
        for line, cells in self._records():
            if isinstance(cells, str):
                self._refuse(report, line, cells)
            elif len(cells) > width and any(c.strip() for c in cells[width:]):
                self._refuse(report, line, f"more fields than the {width} columns of the header")
            else:
                if len(cells) < width:
                    cells += [""] * (width - len(cells))
                yield line, [c.strip() for c in cells[:width]]

    def _refuse(self, report: RowsReport | None, line: int, reason: str) -> None:
        if report is None:
            raise ImportFileError(f"{self.name}:{line}: {reason}")
        report.rows_read += 1
        report.reject(line, reason)

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        return self.checked(None)

    def close(self) -> None:
        if self._owned is not None:
            self._text.close()

    def __enter__(self) -> CsvRows:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


UNCLOSED_QUOTE = ('a quote (") is still open at the end of the line; a field may not '
                  "span lines, so the next line is read as a row of its own")


class _LineFeed:
    """The file's physical lines for csv.reader, one row's worth at a time.

    csv.reader asks for another line when a quoted field is still open at the end of
    one. It gets a closing quote instead: the row ends with its own line, flagged
    ``UNCLOSED_QUOTE``, and the next line starts a row of its own (a quote left open
    costs one row, not the rows it would swallow). A line over ``MAX_LINE_CHARS`` is
    skipped in pieces, given as a blank line and flagged. Bytes that are not UTF-8 stop
    the import at their line. The reader of rows sets ``new_row`` before each row.
    """

    def __init__(self, text: IO[str], name: str) -> None:
        self.line = 0  # the physical line of the current row
        self.problem: str | None = None
        self.new_row = True
        self._lines = self._read(text, name)

    def __iter__(self) -> Iterator[str]:
        return self._lines

    def _read(self, text: IO[str], name: str) -> Iterator[str]:
        readline = text.readline
        while line := readline(MAX_LINE_CHARS):
            self.line += 1
            if len(line) == MAX_LINE_CHARS and line[-1] not in "\r\n" and _skip_rest(text):
                self.problem = f"the line is longer than {MAX_LINE_CHARS:,} characters"
                line = "\n"
            elif _NOT_UTF8.search(line):
                raise ImportFileError(
                    f"{name}:{self.line}: not UTF-8 text (saved as GBK by Excel? "
                    "save it as \"CSV UTF-8\" and import it again)")
            self.new_row = False
            yield line
            while not self.new_row:  # the reader asks for more of the same row
                self.problem = UNCLOSED_QUOTE
                yield '"\n'


def _skip_rest(text: IO[str]) -> bool:
    """Reads to the end of the current line; False when it had already ended."""
    skipped = False
    while piece := text.readline(MAX_LINE_CHARS):
        skipped = True
        if piece[-1] in "\r\n":
            break
    return skipped


def _csv_problem(exc: csv.Error) -> str:
    if "field limit" in str(exc):
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return f"not valid CSV: {exc}"


class _CountingReader(io.RawIOBase):
    """Counts the bytes read from a binary stream, for a progress bar by bytes."""

    def __init__(self, inner: IO[bytes], owned: bool) -> None:
        self._inner = inner
        self._owned = owned
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n

    def close(self) -> None:
        """Closes the stream only when it was opened here, never the caller's."""
        if self._owned:
            self._inner.close()
        super().close()


def _source_name(source: Source) -> str:
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<stream>"


# A cell starting with one of these is read as a formula by Excel, WPS and LibreOffice.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` as a CSV cell that a spreadsheet shows as text, never runs as a formula.

    Every CSV export writes its cells through this, by ``ExportWriter``: ``dispatcher
    logs --csv``, ``/logs.csv``, ``reach.csv``. A string starting with = + - @, a tab or
    a line break gets a leading apostrophe, the spreadsheet's own "this is text" mark:
    ``=HYPERLINK(...)`` is written ``'=HYPERLINK(...)``. Phone numbers too, on purpose:
    ``+8613800138000`` is written ``'+8613800138000``, which Excel and WPS keep as the text
    +8613800138000, where the bare value is a formula they compute to the number
    8.6138E+12 (its ``+`` and its digits lost from view). The digits stay as written; a
    program reading the file drops one apostrophe before those characters. Numbers,
    dates and None are not strings and are written as they are.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class ExportWriter:
    """CSV for people's spreadsheets: each cell through ``spreadsheet_safe``, lines ended
    with "\\r\\n" (RFC 4180, as Excel writes them).

    The line ends matter: with "\\n" alone, csv leaves a field holding a bare "\\r"
    unquoted, and a spreadsheet starts a new row there, with a cell (``=...``) the guard
    never saw. With "\\r\\n" every field holding either is quoted.
    """

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out, lineterminator="\r\n")

    def row(self, cells: Iterable[Any]) -> None:
        self._writer.writerow([spreadsheet_safe(cell) for cell in cells])


def parsed_rows(rows: CsvRows, report: RowsReport,
                parse: Callable[[list[str]], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each valid row as ``parse`` returns it; each invalid one, and each line that is not
    a row, goes to ``report`` with its line and reason (``parse`` raises InvalidPhone,
    ValueError or DispatcherError)."""
    for line, cells in rows.checked(report):
        report.rows_read += 1
        try:
            row = parse(cells)
        except InvalidPhone as exc:
            report.reject(line, f"phone: {exc.reason}")
            continue
        except (ValueError, DispatcherError) as exc:
            report.reject(line, str(exc))
            continue
        report.imported += 1
        yield row


def chunked(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(islice(items, size)):
        yield chunk
