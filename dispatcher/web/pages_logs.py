"""``/logs`` and ``/logs.csv``: the delivery log with the filters of ``dispatcher logs``.

Filters are read exactly as the CLI reads them (local times, any phone format, states
with ``skipped:REASON``); pages are keyset pages whose "Next page" link carries the
CLI's cursor. The CSV streams every matching row, one database page at a time.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import Engine

from channels.base import SKIP_REASONS, STATES
from dispatcher import delivery_log
from dispatcher.config import Config
from dispatcher.csvfile import ExportWriter
from dispatcher.delivery_log import (
    COLUMNS,
    Cursor,
    LogFilter,
    display_row,
    normalise_target,
    parse_moment,
    state_label,
)
from dispatcher.errors import DispatcherError
from dispatcher.users import UNMASK, User
from dispatcher.web.auth import engine_of
from dispatcher.web.pages import Reader, channels_of, config_of, shown_text
from dispatcher.web.pages_common import render

PAGE_SIZE = 50
CSV_CHUNK = 64 * 1024  # characters sent at a time
STATUS_CHOICES = (*STATES, *(f"skipped:{reason}" for reason in SKIP_REASONS))


@dataclass
class LogQuery:
    """The filter form's fields as typed; "" means any."""

    campaign: str = ""
    channel: str = ""
    status: str = ""
    target: str = ""
    since: str = ""
    until: str = ""

    def filter(self, config: Config) -> LogFilter:
        """The CLI's reading of the same options; DispatcherError when one is wrong."""
        tz = config.tz
        if self.status:
            delivery_log.parse_status(self.status)
        return LogFilter(campaign=self.campaign.strip() or None,
                         channel=self.channel.strip() or None, status=self.status or None,
                         since=parse_moment(self.since.strip() or None, "since", tz),
                         until=parse_moment(self.until.strip() or None, "until", tz),
                         target=normalise_target(self.target.strip() or None,
                                                 config.default_region))

    def link(self, path: str, **extra: str) -> str:
        fields = {k: v for k, v in {**asdict(self), **extra}.items() if v}
        return f"{path}?{urlencode(fields)}" if fields else path


Filters = Annotated[LogQuery, Depends()]


def add_routes(router: APIRouter) -> None:
    router.get("/logs", response_class=HTMLResponse)(logs_page)
    router.get("/logs.csv")(logs_csv)


def logs_page(request: Request, user: Reader, query: Filters, cursor: str = "") -> Response:
    config = config_of(request)
    values: dict[str, Any] = {
        "q": query, "statuses": STATUS_CHOICES, "channels": sorted(channels_of(request)),
        "csv_link": query.link("/logs.csv"), "first_link": query.link("/logs"),
        "paged": bool(cursor), "tz": config.timezone}
    try:
        flt = query.filter(config)
        rows, after = delivery_log.page(engine_of(request), flt, PAGE_SIZE,
                                        Cursor.decode(cursor) if cursor else None)
    except DispatcherError as exc:
        return render(request, "logs.html", user, status_code=400, error=str(exc), rows=[],
                      next_link=None, **values)
    next_link = query.link("/logs", cursor=after.encode()) if after else None
    return render(request, "logs.html", user, next_link=next_link,
                  rows=[_row(row, user, config.tz) for row in rows], **values)


def logs_csv(request: Request, user: Reader, query: Filters) -> Response:
    try:
        flt = query.filter(config_of(request))
    except DispatcherError as exc:
        raise HTTPException(400, str(exc)) from None
    lines = csv_lines(engine_of(request), flt, user, config_of(request).tz)
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition":
                                      'attachment; filename="delivery-log.csv"'})


def csv_lines(engine: Engine, flt: LogFilter, user: User, tz: ZoneInfo) -> Iterator[str]:
    """The CLI's CSV columns, masked for ``user``, written as the CLI writes them (one
    ``ExportWriter``: no cell runs as a formula); run by Starlette in a worker thread."""
    buffer = io.StringIO()
    writer = ExportWriter(buffer)
    writer.row(COLUMNS)
    for row in delivery_log.all_rows(engine, flt):
        shown = _row(row, user, tz)
        writer.row(shown[column] for column in COLUMNS)
        if buffer.tell() >= CSV_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _row(row: dict[str, Any], user: User, tz: ZoneInfo) -> dict[str, Any]:
    shown = display_row(row, tz, unmask=user.can(UNMASK))
    shown["detail"] = shown_text(shown["detail"], user)
    shown["state"] = state_label(shown)
    shown["changed"] = shown["updated_at"][:19].replace("T", " ")
    return shown
