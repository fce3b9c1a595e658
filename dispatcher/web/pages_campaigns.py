"""``/campaigns``, ``/campaigns/{id}`` and the actions on a campaign.

An action (approve, pause, resume, cancel, retry) calls the core function with the
signed-in user as the actor, so the audit log shows who did it, then answers 303 back to
the campaign page, where the outcome is shown once (kept in the session meanwhile, so
no link can make the page say something nobody did).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, func, select

from channels.base import SKIP_REASONS
from dispatcher import campaign_store, lifecycle, runs
from dispatcher.bounds import MAX_DB_INT
from dispatcher.campaign import Campaign
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.reach import campaign_reach
from dispatcher.tables import campaign_versions, deliveries
from dispatcher.tables import runs as runs_table
from dispatcher.users import APPROVE, OPERATE, User
from dispatcher.web.auth import check_csrf, engine_of
from dispatcher.web.pages import (
    FLASH,
    Reader,
    channels_of,
    config_of,
    local_time,
    require,
)
from dispatcher.web.pages_common import render


def add_routes(router: APIRouter) -> None:
    router.get("/campaigns", response_class=HTMLResponse)(campaigns_page)
    router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)(campaign_page)
    router.post("/campaigns/{campaign_id}/{action}")(campaign_action)


def campaigns_page(request: Request, user: Reader) -> Response:
    engine = engine_of(request)
    listed = campaign_store.list_campaigns(engine)
    approved = approved_versions(engine)
    for row in listed:
        campaign, _version = campaign_store.load_stored(engine, row["id"])
        row["approved"] = approved.get(row["id"])
        row["schedule"] = schedule_text(campaign)
    return render(request, "campaigns.html", user, campaigns=listed)


def campaign_page(request: Request, campaign_id: str, user: Reader) -> Response:
    return campaign_view(request, user, campaign_id, message=request.session.pop(FLASH, None))


def campaign_action(request: Request, campaign_id: str, action: str, user: Reader,
                    csrf: Annotated[str, Form()] = "",
                    version: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    found = ACTIONS.get(action)
    if found is None:
        raise HTTPException(404, f"no action {action!r}; actions: {', '.join(ACTIONS)}")
    require(user, found.permission, found.doing)
    try:
        message = found.act(engine_of(request), campaign_id, user.name, version)
    except NotFoundError:
        raise
    except DispatcherError as exc:
        return campaign_view(request, user, campaign_id, error=str(exc), status_code=409)
    request.session[FLASH] = message
    return RedirectResponse(f"/campaigns/{quote(campaign_id, safe='')}", status_code=303)


# Actions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    permission: str
    doing: str  # for the 403 page: "Approving needs the approver or admin role"
    act: Callable[[Engine, str, str, str], str]  # (engine, campaign, actor, version) -> message


def _approve(engine: Engine, campaign_id: str, actor: str, version: str) -> str:
    # The form names the version the approver saw: a newer one stays unapproved.
    if version and not (version.isascii() and version.isdigit() and len(version) <= 19
                        and 1 <= int(version) <= MAX_DB_INT):
        raise DispatcherError(f"version {version[:40]!r} is not a version number; approve "
                              "a version shown on the campaign's page")
    done = lifecycle.approve(engine, campaign_id, actor, int(version) if version else None)
    if not done.changed:
        return f"Version {done.version} was already approved."
    return f"Version {done.version} approved by {actor}."


def _pause(engine: Engine, campaign_id: str, actor: str, _version: str) -> str:
    return f"Paused run(s) {_ids(runs.pause(engine, campaign_id, actor).runs)}."


def _resume(engine: Engine, campaign_id: str, actor: str, _version: str) -> str:
    return f"Resumed run(s) {_ids(runs.resume(engine, campaign_id, actor).runs)}."


def _cancel(engine: Engine, campaign_id: str, actor: str, _version: str) -> str:
    change = runs.cancel(engine, campaign_id, actor)
    return (f"Cancelled run(s) {_ids(change.runs)}: {change.rows} row(s) not yet sent "
            "are skipped (cancelled).")


def _retry(engine: Engine, campaign_id: str, actor: str, _version: str) -> str:
    change = runs.retry_failed(engine, campaign_id, actor)
    return f"Requeued {change.rows} failed row(s)."


def _ids(run_ids: list[int]) -> str:
    return ", ".join(map(str, run_ids))


ACTIONS = {
    "approve": Action(APPROVE, "Approving", _approve),
    "pause": Action(OPERATE, "Pausing", _pause),
    "resume": Action(OPERATE, "Resuming", _resume),
    "cancel": Action(OPERATE, "Cancelling", _cancel),
    "retry": Action(OPERATE, "Retrying failed rows", _retry),
}


# The campaign page -------------------------------------------------------------------


def campaign_view(request: Request, user: User, campaign_id: str, status_code: int = 200,
                  **notes: str | None) -> Response:
    engine = engine_of(request)
    config = config_of(request)
    shown = campaign_store.show_campaign(engine, campaign_id)
    campaign, _version = campaign_store.load_stored(engine, campaign_id)
    audit = lifecycle.history(engine, campaign_id)
    approvals = {e["version"]: e for e in audit if e["action"] == "approve"}
    for row in shown["versions"]:
        when = approvals.get(row["version"], {}).get("at")
        row["approved_at"] = local_time(when, config)
        row["created_at"] = local_time(row["created_at"], config)
    for entry in audit:
        entry["at"] = local_time(entry["at"], config)
    for run in shown["runs"]:
        run["fire_time"] = local_time(run["fire_time"], config)
    reach = campaign_reach(engine, campaign, channels_of(request).get)
    return render(request, "campaign.html", user, status_code=status_code, c=shown,
                  schedule=schedule_text(campaign), audit=audit,
                  current_approved=shown["versions"][-1]["approved_by"] is not None,
                  reach=[channel_view(name, r) for name, r in reach["channels"].items()],
                  failures=failures(engine, campaign_id),
                  can_approve=user.can(APPROVE), can_operate=user.can(OPERATE), **notes)


def schedule_text(campaign: Campaign) -> dict[str, str]:
    schedule = campaign.schedule
    return {"start": schedule.start.strftime("%Y-%m-%d %H:%M"),
            "end": schedule.end.strftime("%Y-%m-%d %H:%M") if schedule.end else "",
            "cron": schedule.cron or "", "timezone": campaign.timezone}


def approved_versions(engine: Engine) -> dict[str, int]:
    """The latest approved version of each campaign."""
    query = (select(campaign_versions.c.campaign_id, func.max(campaign_versions.c.version))
             .where(campaign_versions.c.approved_by.is_not(None))
             .group_by(campaign_versions.c.campaign_id))
    with engine.connect() as conn:
        return {campaign_id: int(version) for campaign_id, version in conn.execute(query)}


def failures(engine: Engine, campaign_id: str) -> list[dict[str, Any]]:
    """Failed and undelivered rows per channel and error code, most first, each with
    a link to those rows in the delivery log."""
    count = func.count().label("rows")
    query = (select(deliveries.c.channel, deliveries.c.status, deliveries.c.error_code, count)
             .join(runs_table, runs_table.c.id == deliveries.c.run_id)
             .where(runs_table.c.campaign_id == campaign_id,
                    deliveries.c.status.in_(("failed", "undelivered")))
             .group_by(deliveries.c.channel, deliveries.c.status, deliveries.c.error_code)
             .order_by(count.desc(), deliveries.c.channel))
    with engine.connect() as conn:
        found = conn.execute(query).all()
    return [{"channel": channel, "status": status, "error_code": code or "(none)",
             "rows": rows, "log": "/logs?" + urlencode(
                 {"campaign": campaign_id, "channel": channel, "status": status})}
            for channel, status, code, rows in found]


# Charts: inline SVG made here, so the page needs no script and works offline ----------

BAR_WIDTH = 320  # pixels of the longest bar
BAR_HEIGHT = 18
COLOURS = {"pending": "#9aa3ae", "sending": "#6aa9e9", "sent": "#7cc47f",
           "delivered": "#2e8b57", "undelivered": "#e8a33d", "failed": "#d64545",
           "skipped": "#c9b27c"}


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    width: int
    y: int
    colour: str


def bar_chart(items: list[tuple[str, int]], colour: str = "#4a6fa5") -> list[Bar]:
    """Horizontal bars scaled to the largest value; zero values are left out."""
    shown = [(label, value) for label, value in items if value]
    top = max((value for _label, value in shown), default=0)
    return [Bar(label, value, max(1, round(BAR_WIDTH * value / top)) if top else 0,
                i * (BAR_HEIGHT + 4), COLOURS.get(label.split(":")[0], colour))
            for i, (label, value) in enumerate(shown)]


def channel_view(name: str, reach: dict[str, Any]) -> dict[str, Any]:
    states = [(state, reach[state]) for state in
              ("pending", "sending", "sent", "delivered", "undelivered", "failed")]
    states += [(f"skipped:{reason}", reach["skipped"][reason]) for reason in SKIP_REASONS]
    figures = [(figure, int(value)) for figure, value in reach["reach"].items()]
    return {"name": name, "targets": reach["targets"], "states": bar_chart(states),
            "figures": bar_chart(figures), "sources": reach["reach_sources"],
            "raw_figures": reach["reach"]}
