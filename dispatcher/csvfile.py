"""Reading CSV files of any size: line numbers, byte progress, invalid-row reports.

Shared by the contact and opt-out imports. Rows stream one at a time; a report keeps at
most ``MAX_INVALID_DETAILS`` invalid rows' details and counts the rest.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from types import TracebackType
from typing import IO, Any, cast

from dispatcher.errors import DispatcherError
from dispatcher.phones import InvalidPhone

MAX_INVALID_DETAILS = 1_000

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
    skipped; line numbers count physical lines, so a quoted field over two lines moves
    the rows after it as it does in an editor. Used by the contact and opt-out imports.
    """

    def __init__(self, source: Source, required: tuple[str, ...],
                 optional: tuple[str, ...]) -> None:
        self.name = _source_name(source)
        self._counter: _CountingReader | None = None
        self._owned: IO[Any] | None = None
        self._text = self._open(source)
        self._reader = csv.reader(self._lines())
        self._last_line = 0
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

    def _lines(self) -> Iterator[str]:
        """The file's lines; bytes that are not UTF-8 stop the import at their line."""
        for number, line in enumerate(self._text, start=1):
            if _NOT_UTF8.search(line):
                raise ImportFileError(
                    f"{self.name}:{number}: not UTF-8 text (saved as GBK by Excel? "
                    "save it as \"CSV UTF-8\" and import it again)")
            yield line

    def _header(self, required: tuple[str, ...], optional: tuple[str, ...]) -> list[str]:
        row = next(self._rows(), None)
        if row is None:
            raise ImportFileError(f"{self.name}: the file is empty; the first line must be a "
                                  f"header with the columns {', '.join(required)}")
        names = [cell.strip().lstrip("\ufeff").lower() for cell in row[1]]
        allowed = (*required, *optional)
        unknown = [n for n in names if n not in allowed]
        missing = [n for n in required if n not in names]
        repeated = sorted({n for n in names if names.count(n) > 1})
        where = f"{self.name}:{row[0]}"
        if unknown:
            raise ImportFileError(f"{where}: unknown column(s) {', '.join(map(repr, unknown))}; "
                                  f"allowed: {', '.join(allowed)}")
        if missing:
            raise ImportFileError(f"{where}: missing required column(s) "
                                  f"{', '.join(missing)}; required: {', '.join(required)}")
        if repeated:
            raise ImportFileError(f"{where}: column(s) {', '.join(repeated)} appear twice")
        return names

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        try:
            for cells in self._reader:
                start, self._last_line = self._last_line + 1, self._reader.line_num
                if cells and any(c.strip() for c in cells):
                    yield start, cells
        except csv.Error as exc:
            raise ImportFileError(f"{self.name}:{self._reader.line_num}: not valid CSV: "
                                  f"{exc}") from None

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        """``(line, cells)``: the stripped cells in header order, padded with "" when short.

        A row with more non-empty fields than the header has ``cells`` empty instead;
        ``too_many_fields`` words the reason.
        """
        width = len(self.columns)
        for line, cells in self._rows():
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                yield line, []
                continue
            if len(cells) < width:
                cells += [""] * (width - len(cells))
            yield line, [c.strip() for c in cells[:width]]

    def too_many_fields(self) -> str:
        return f"more fields than the {len(self.columns)} columns of the header"

    def close(self) -> None:
        if self._owned is not None:
            self._text.close()

    def __enter__(self) -> CsvRows:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


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


def parsed_rows(rows: CsvRows, report: RowsReport,
                parse: Callable[[list[str]], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each valid row as ``parse`` returns it; each invalid one goes to ``report`` with its
    line and reason (``parse`` raises InvalidPhone, ValueError or DispatcherError)."""
    for line, cells in rows:
        report.rows_read += 1
        if not cells:
            report.reject(line, rows.too_many_fields())
            continue
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
