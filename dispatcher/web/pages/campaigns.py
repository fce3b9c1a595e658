"""``/campaigns`` and ``/campaigns/{id}``: the list and a campaign's page (its actions
are in ``pages_actions``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, func, select

from channels.base import SKIP_REASONS
from dispatcher.accounts.users import User
from dispatcher.approval import lifecycle
from dispatcher.campaigns.model import Campaign
from dispatcher.campaigns.versions import load_stored
from dispatcher.delivery.history import actor_label
from dispatcher.error_codes import explain
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.i18n import _
from dispatcher.i18n.labels import label
from dispatcher.planning import campaign_store
from dispatcher.reach.figures import campaign_reach
from dispatcher.reports.text import method_text, source_label
from dispatcher.review import content as content_review
from dispatcher.review.audit_text import detail_text
from dispatcher.review.diff import version_diff
from dispatcher.storage.tables import campaign_versions, deliveries
from dispatcher.storage.tables import runs as runs_table
from dispatcher.web.auth import check_csrf, engine_of
from dispatcher.web.pages.actions import (
    ACTIONS,
    MAX_REASON,
    Submitted,
    action_context,
    cancel_confirmation,
)
from dispatcher.web.pages.common import FLASH, Reader, channels_of, config_of, render, require


def add_routes(router: APIRouter) -> None:
    router.get("/campaigns", response_class=HTMLResponse)(campaigns_page)
    router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)(campaign_page)
    router.post("/campaigns/{campaign_id}/{action}")(campaign_action)


def campaigns_page(request: Request, user: Reader) -> Response:
    engine = engine_of(request)
    listed = campaign_store.list_campaigns(engine)
    approved = approved_versions(engine)
    for row in listed:
        campaign, _version = load_stored(engine, row["id"])
        row["approved"] = approved.get(row["id"])
        row["schedule"] = schedule_text(campaign)
    return render(request, "campaigns.html", user, campaigns=listed)


def campaign_page(request: Request, campaign_id: str, user: Reader) -> Response:
    return campaign_view(request, user, campaign_id, message=request.session.pop(FLASH, None))


# The campaign page -------------------------------------------------------------------


def campaign_view(request: Request, user: User, campaign_id: str, status_code: int = 200,
                  **notes: str | None) -> Response:
    """The campaign's page: first what its current version sends, to whom, when and how it
    differs from the version approved before (so the approver reads it before the
    approve button), then the actions, reach, failures, runs, versions and history.
    Times are in the campaign's time zone, named once on the page."""
    engine = engine_of(request)
    config = config_of(request)
    shown = campaign_store.show_campaign(engine, campaign_id)
    campaign, _version = load_stored(engine, campaign_id)
    audit = lifecycle.history(engine, campaign_id)
    approvals = {e["version"]: e for e in audit if e["action"] == "approve"}
    for row in shown["versions"]:
        row["approved_at"] = approvals.get(row["version"], {}).get("at")
    zone = ZoneInfo(campaign.timezone)
    for entry in audit:
        entry["actor_shown"] = actor_label(entry["actor"])
        entry["detail_shown"] = detail_text(entry["action"], entry["detail"], zone)
    channels = channels_of(request)
    reach = campaign_reach(engine, campaign, channels.get)
    values: dict[str, Any] = {
        "c": shown, "schedule": schedule_text(campaign), "audit": audit,
        "current_approved": shown["versions"][-1]["approved_by"] is not None,
        "review": content_review.review(engine, campaign, channels.get, config),
        "firings": content_review.next_firings(campaign),
        "diff": version_diff(engine, campaign_id),
        "reach": [channel_view(name, r) for name, r in reach["channels"].items()],
        "failures": failures(engine, campaign_id),
        "display_tz": campaign.timezone, **notes}
    values.update(action_context(engine, campaign_id, user, config))
    return render(request, "campaign.html", user, status_code=status_code, **values)


def schedule_text(campaign: Campaign) -> dict[str, str]:
    """The schedule as written, in the campaign's own time zone."""
    schedule = campaign.schedule
    window = schedule.send_window
    return {"start": schedule.start.strftime("%Y-%m-%d %H:%M"),
            "end": schedule.end.strftime("%Y-%m-%d %H:%M") if schedule.end else "",
            "cron": schedule.cron or "", "timezone": campaign.timezone,
            "send_window": "-".join(t.strftime("%H:%M") for t in window) if window else "",
            "misfire": schedule.misfire}


def approved_versions(engine: Engine) -> dict[str, int]:
    """The latest approved version of each campaign."""
    query = (select(campaign_versions.c.campaign_id, func.max(campaign_versions.c.version))
             .where(campaign_versions.c.approved_by.is_not(None))
             .group_by(campaign_versions.c.campaign_id))
    with engine.connect() as conn:
        return {campaign_id: int(version) for campaign_id, version in conn.execute(query)}


def failures(engine: Engine, campaign_id: str) -> list[dict[str, Any]]:
    """Failed and undelivered rows per channel and error code, most first, each with
    what the code means and what to do (:func:`dispatcher.error_codes.explain`) and a
    link to those rows in the delivery log."""
    count = func.count().label("rows")
    query = (select(deliveries.c.channel, deliveries.c.status, deliveries.c.error_code, count)
             .join(runs_table, runs_table.c.id == deliveries.c.run_id)
             .where(runs_table.c.campaign_id == campaign_id,
                    deliveries.c.status.in_(("failed", "undelivered")))
             .group_by(deliveries.c.channel, deliveries.c.status, deliveries.c.error_code)
             .order_by(count.desc(), deliveries.c.channel))
    with engine.connect() as conn:
        found = conn.execute(query).all()
    return [{"channel": channel, "status": status, "error_code": code or "",
             "explanation": explain(channel, code), "rows": rows, "log": "/logs?" + urlencode(
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
    label: str  # as people read it
    value: int
    width: int
    y: int
    colour: str


def bar_chart(items: list[tuple[str, int]], colour: str = "#4a6fa5",
              words: Callable[[str], str] = str) -> list[Bar]:
    """Horizontal bars of one unit, scaled to the largest value; zero values are left
    out. ``items`` are (machine name, value); ``words`` names them for people."""
    shown = [(name, value) for name, value in items if value]
    top = max((value for _name, value in shown), default=0)
    return [Bar(words(name), value, max(1, round(BAR_WIDTH * value / top)) if top else 0,
                i * (BAR_HEIGHT + 4), COLOURS.get(name.split(":")[0], colour))
            for i, (name, value) in enumerate(shown)]


@dataclass(frozen=True)
class MetricPanel:
    """One reach figure in a panel of its own: screens, plays and impressions are
    different units, so no chart puts them on one scale."""

    metric: str
    label: str
    value: int
    source: str
    method: str


def channel_view(name: str, reach: dict[str, Any]) -> dict[str, Any]:
    """One channel's rows by state (one unit: delivery rows) and its reach figures."""
    states = [(state, reach[state]) for state in
              ("pending", "sending", "sent", "delivered", "undelivered", "failed")]
    states += [(f"skipped:{reason}", reach["skipped"][reason]) for reason in SKIP_REASONS]
    sources = reach["reach_sources"]
    panels = [MetricPanel(metric, label("metric", metric), int(value),
                          source_label(sources[metric]["source"]),
                          method_text(sources[metric]["method"]))
              for metric, value in reach["reach"].items()]
    return {"name": name, "targets": reach["targets"],
            "states": bar_chart(states, words=lambda state: label("state", state)),
            "panels": panels}


# The actions' route: the action's own code is in actions.py -------------------------


def campaign_action(request: Request, campaign_id: str, action: str, user: Reader,
                    csrf: Annotated[str, Form()] = "",
                    version: Annotated[str, Form()] = "",
                    stage: Annotated[str, Form()] = "",
                    reason: Annotated[str, Form()] = "",
                    confirm: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf)
    found = ACTIONS.get(action)
    if found is None:
        raise HTTPException(404, _("No action {action}; the actions are {names}").format(
            action=repr(action[:40]), names=", ".join(ACTIONS)))
    require(user, found.permission, _(found.doing))
    form = Submitted(version, stage, reason.strip(), confirm == "1")
    try:
        if action == "cancel" and not (form.confirm and form.reason
                                       and len(form.reason) <= MAX_REASON):
            return cancel_confirmation(request, user, campaign_id, form)
        message = found.act(engine_of(request), config_of(request), campaign_id, user.name,
                            form)
    except NotFoundError:
        raise
    except DispatcherError as exc:
        return campaign_view(request, user, campaign_id, error=str(exc), status_code=409)
    request.session[FLASH] = message
    return RedirectResponse(_page(campaign_id), status_code=303)


def _page(campaign_id: str) -> str:
    return f"/campaigns/{quote(campaign_id, safe='')}"
