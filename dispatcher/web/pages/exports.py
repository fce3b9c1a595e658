"""``/logs.csv`` and ``/logs.xlsx``: the delivery log downloaded with the page's filters.

The rows are the ones ``/logs`` shows (same filters, numbers masked unless the reader's
role may unmask them), as ``dispatcher.delivery.log_export`` writes them for people: headers,
states and channels in the request's language, error codes explained, names, districts
and campaign titles, times as real dates. CSV has a UTF-8 BOM; the workbook is written
to a temporary file and streamed from it. A wrong filter is a 400 before any byte.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from dispatcher.accounts.users import UNMASK, User
from dispatcher.delivery import log_export
from dispatcher.delivery.log import LogFilter
from dispatcher.errors import DispatcherError
from dispatcher.files.exports import csv_chunks, xlsx_chunks
from dispatcher.i18n import current_locale
from dispatcher.web.auth import engine_of
from dispatcher.web.pages.common import Reader, config_of
from dispatcher.web.pages.logs import Filters, LogQuery

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def add_routes(router: APIRouter) -> None:
    router.get("/logs.csv")(logs_csv)
    router.get("/logs.xlsx")(logs_xlsx)


def logs_csv(request: Request, user: Reader, query: Filters) -> Response:
    """The filtered log as CSV for spreadsheets (BOM, CRLF, no cell runs as a formula)."""
    flt, tz = _export_of(request, query)
    chunks = csv_chunks(log_export.log_columns(tz), _rows(request, flt, user), tz)
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8",
                             headers=_attachment("csv"))


def logs_xlsx(request: Request, user: Reader, query: Filters) -> Response:
    """The filtered log as an .xlsx workbook (a sheet per 1,048,575 rows)."""
    flt, tz = _export_of(request, query)
    chunks = xlsx_chunks(log_export.log_columns(tz), _rows(request, flt, user), tz,
                         log_export.sheet_title())
    return StreamingResponse(chunks, media_type=XLSX_TYPE, headers=_attachment("xlsx"))


def _export_of(request: Request, query: LogQuery) -> tuple[LogFilter, ZoneInfo]:
    """The filter and the time zone of the export; 400 naming a wrong filter."""
    config = config_of(request)
    try:
        flt = query.filter(config)
    except DispatcherError as exc:
        raise HTTPException(400, str(exc)) from None
    return flt, log_export.export_zone(engine_of(request), flt, config.tz)


def _rows(request: Request, flt: LogFilter, user: User) -> Iterator[list[object]]:
    """The rows as ``user`` may see them, in this request's language (fixed now: the
    rows are written later, on worker threads)."""
    return log_export.log_rows(engine_of(request), flt, unmask=user.can(UNMASK),
                               locale=current_locale())


def _attachment(extension: str) -> dict[str, str]:
    """A download named in the reader's language, with an ASCII name for old clients."""
    name = f"{log_export.file_stem()}.{extension}"
    return {"Content-Disposition": f'attachment; filename="delivery-log.{extension}"; '
                                   f"filename*=UTF-8''{quote(name)}"}
