"""``/campaigns`` and ``/campaigns/{id}``: the list and a campaign's page (its actions
are in ``pages_actions``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine, func, select

from channels.base import SKIP_REASONS
from dispatcher import campaign_store, lifecycle
from dispatcher.campaign import Campaign
from dispatcher.reach import campaign_reach
from dispatcher.tables import campaign_versions, deliveries
from dispatcher.tables import runs as runs_table
from dispatcher.users import APPROVE, OPERATE, User
from dispatcher.web.auth import engine_of
from dispatcher.web.pages import (
    FLASH,
    Reader,
    channels_of,
    config_of,
    local_time,
)
from dispatcher.web.pages_actions import campaign_action
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
