"""``/screens`` (the LED registry and its groups) and ``/cinemas`` (cinemas with their
auditoriums, seats and scheduled screenings); each with the newest reports of its channel
refused as implausible (:mod:`dispatcher.refused_reports`), for every signed-in role."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine

from dispatcher.cinemas import cinema_summaries
from dispatcher.db import as_utc
from dispatcher.refused_reports import RefusedReport, recent_refusals
from dispatcher.screens import all_screens, group_rules, groups
from dispatcher.web.auth import engine_of
from dispatcher.web.pages import Reader
from dispatcher.web.pages_common import render

REFUSALS_SHOWN = 50


def add_routes(router: APIRouter) -> None:
    router.get("/screens", response_class=HTMLResponse)(screens_page)
    router.get("/cinemas", response_class=HTMLResponse)(cinemas_page)


def screens_page(request: Request, user: Reader) -> Response:
    engine = engine_of(request)
    members = groups(engine)
    screen_groups = [{"name": name, "rule": rule, "screens": len(members.get(name, ()))}
                     for name, rule in group_rules(engine).items()]
    return render(request, "screens.html", user, screens=all_screens(engine),
                  groups=screen_groups,
                  refusals=_refusals(engine, "led"))


def cinemas_page(request: Request, user: Reader) -> Response:
    engine = engine_of(request)
    return render(request, "cinemas.html", user, cinemas=cinema_summaries(engine),
                  refusals=_refusals(engine, "cinema"))


def _refusals(engine: Engine, channel: str) -> list[RefusedReport]:
    """The channel's newest refused reports, their times in UTC (as the page says)."""
    return [replace(r, received_at=as_utc(r.received_at).astimezone(UTC))
            for r in recent_refusals(engine, channel, REFUSALS_SHOWN)]
