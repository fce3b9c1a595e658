"""``/logs``: the delivery log, where operators answer "did it go out, to whom, how many".

Filters are read exactly as the CLI reads them (local times, any phone format, states
with ``skipped:REASON``), plus a contact's name; pages are keyset pages whose "Next
page" link carries the CLI's cursor, under the count of every matching row. Each row's
error code is explained (``dispatcher.error_codes``), and ``/logs/{id}`` tells the row's
story (``dispatcher.delivery.history``). A search for a number or a name that finds no
row says why when it can (``dispatcher.delivery.untargeted``). Operators retry a failed row, or
the campaign's failed rows, from here. Downloads (``/logs.csv``, ``/logs.xlsx``) live
in ``pages_exports``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from channels.base import SKIP_REASONS, STATES
from dispatcher.accounts.users import OPERATE, UNMASK, User
from dispatcher.config import Config
from dispatcher.delivery import log as delivery_log
from dispatcher.delivery.history import actor_label, event_label, history, source_label
from dispatcher.delivery.log import Cursor, LogFilter, normalise_target, parse_moment
from dispatcher.delivery.row_retry import retry_row
from dispatcher.delivery.untargeted import Untargeted, explain_missing
from dispatcher.error_codes import explain_row
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.i18n import N_, _, ngettext
from dispatcher.i18n.labels import label
from dispatcher.planning import runs
from dispatcher.storage.bounds import MAX_DB_INT
from dispatcher.web.auth import check_csrf, engine_of
from dispatcher.web.pages.common import (
    FLASH,
    Reader,
    channels_of,
    config_of,
    render,
    require,
    shown_target,
    shown_text,
)

PAGE_SIZE = 50
STATUS_CHOICES = (*STATES, *(f"skipped:{reason}" for reason in SKIP_REASONS))


@dataclass
class LogQuery:
    """The filter form's fields as typed; "" means any."""

    campaign: str = ""
    channel: str = ""
    status: str = ""
    target: str = ""
    name: str = ""
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
                                                 config.default_region),
                         name=self.name.strip() or None)

    def link(self, path: str, **extra: str) -> str:
        fields = {k: v for k, v in {**asdict(self), **extra}.items() if v}
        return f"{path}?{urlencode(fields)}" if fields else path


Filters = Annotated[LogQuery, Depends()]


def add_routes(router: APIRouter) -> None:
    router.get("/logs", response_class=HTMLResponse)(logs_page)
    router.post("/logs/retry-failed")(retry_campaign)
    router.get("/logs/{delivery_id}", response_class=HTMLResponse)(row_page)
    router.post("/logs/{delivery_id}/retry")(retry_one)


def logs_page(request: Request, user: Reader, query: Filters, cursor: str = "") -> Response:
    config = config_of(request)
    values: dict[str, Any] = {
        "q": query, "statuses": STATUS_CHOICES, "channels": sorted(channels_of(request)),
        "csv_link": query.link("/logs.csv"), "xlsx_link": query.link("/logs.xlsx"),
        "first_link": query.link("/logs"), "paged": bool(cursor), "tz": config.timezone,
        "unfiltered_link": LogQuery(target=query.target, name=query.name).link("/logs"),
        "can_operate": user.can(OPERATE), "message": request.session.pop(FLASH, None)}
    engine = engine_of(request)
    try:
        flt = query.filter(config)
        rows, after = delivery_log.page(engine, flt, PAGE_SIZE,
                                        Cursor.decode(cursor) if cursor else None)
    except DispatcherError as exc:
        return render(request, "logs.html", user, status_code=400, error=str(exc), rows=[],
                      next_link=None, total=None, missing=[], **values)
    missing = [] if rows else [
        _shown_missing(found, user)
        for found in explain_missing(engine, flt, sorted(channels_of(request)), config.tz)]
    total = delivery_log.count(engine, flt)
    next_link = query.link("/logs", cursor=after.encode()) if after else None
    return render(request, "logs.html", user, next_link=next_link, total=total,
                  total_text=ngettext("{n} matching row", "{n} matching rows", total)
                  .format(n=f"{total:,}"), missing=missing,
                  rows=shown_rows(engine, rows, user), **values)


def shown_rows(engine: Engine, rows: list[dict[str, Any]], user: User
               ) -> list[dict[str, Any]]:
    """The page's rows: masked for ``user``, each with its contact's name and what its
    error code (or skip reason) means."""
    names = delivery_log.contact_names(engine, [row["id"] for row in rows])
    return [{**row, "target": shown_target(row["target"], user),
             "detail": shown_text(row["detail"], user), "name": names.get(row["id"]),
             "state": state_name(row), "explained": explain_row(row)}
            for row in rows]


def state_name(row: dict[str, Any]) -> str:
    """The state as people read it: ``skipped (capped)`` in the page's language."""
    status, reason = row["status"], row["reason"]
    return label("state", f"skipped:{reason}" if status == "skipped" and reason else status)


def _shown_missing(found: Untargeted, user: User) -> dict[str, Any]:
    return {"address": shown_target(found.address, user) if found.address else "",
            "name": found.contact_name, "hidden": found.hidden,
            "reasons": [shown_text(reason, user) for reason in found.reasons]}


# One row's story ----------------------------------------------------------------------


def row_page(request: Request, user: Reader, delivery_id: str) -> Response:
    found = history(engine_of(request), _row_id(delivery_id))
    if found is None:
        raise NotFoundError(_("There is no delivery row {id}; search the log for it.")
                            .format(id=delivery_id))
    row = found.row
    shown = {**row, "target": shown_target(row["target"], user),
             "detail": shown_text(row["detail"], user),
             "state": state_name(row), "explained": explain_row(row)}
    events = [{"at": event.at, "source": event.source, "actor": event.actor,
               "event": event.event, "detail": shown_text(event.detail, user)}
              for event in found.events]
    own_rows = (f"/logs?{urlencode({'target': row['target']})}" if user.can(UNMASK)
                else None)
    return render(request, "log_row.html", user, row=shown, events=events,
                  planned_at=found.planned_at, can_retry=found.retryable
                  and user.can(OPERATE), own_rows=own_rows,
                  campaign_log=f"/logs?{urlencode({'campaign': row['campaign']})}",
                  source_label=source_label, event_label=event_label, actor_label=actor_label,
                  message=request.session.pop(FLASH, None))


def _row_id(text: str) -> int:
    """A delivery id from the URL; 404 for anything no row can have."""
    if not (text.isascii() and text.isdigit() and len(text) <= 19
            and 1 <= int(text) <= MAX_DB_INT):
        raise NotFoundError(_("There is no delivery row {id}; search the log for it.")
                            .format(id=text[:40]))
    return int(text)


# Retrying from the log ----------------------------------------------------------------


def retry_one(request: Request, user: Reader, delivery_id: str,
              csrf: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "",
              ) -> Response:
    """Requeue one failed row (operators); back to where the button was."""
    check_csrf(request, csrf)
    require(user, OPERATE, N_("Retrying failed rows"))
    done = retry_row(engine_of(request), _row_id(delivery_id), user.name)
    request.session[FLASH] = _("Row {id} requeued: it is sent again shortly.").format(
        id=done.delivery_id)
    return RedirectResponse(_back(next, f"/logs/{done.delivery_id}"), status_code=303)


def retry_campaign(request: Request, user: Reader, csrf: Annotated[str, Form()] = "",
                   campaign: Annotated[str, Form()] = "",
                   next: Annotated[str, Form()] = "") -> Response:
    """Requeue every failed row of ``campaign`` (``runs.retry_failed``), from the log."""
    check_csrf(request, csrf)
    require(user, OPERATE, N_("Retrying failed rows"))
    if not campaign.strip():
        raise HTTPException(400, _("Choose a campaign first: the button retries one "
                                   "campaign's failed rows."))
    change = runs.retry_failed(engine_of(request), campaign.strip(), user.name)
    request.session[FLASH] = ngettext("Requeued {n} failed row.", "Requeued {n} failed rows.",
                                      change.rows).format(n=change.rows)
    return RedirectResponse(_back(next, "/logs"), status_code=303)


def _back(wanted: str, default: str) -> str:
    """Only back into the log: never an open redirect, never another page's action."""
    if (wanted.startswith("/logs") and not wanted.startswith("//") and "\\" not in wanted
            and wanted.isprintable()):
        return wanted
    return default
