"""``/screens`` (the LED registry and its groups) and ``/cinemas`` (cinemas with their
auditoriums, seats and scheduled screenings)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from dispatcher.cinemas import cinema_summaries
from dispatcher.screens import all_screens, group_rules, groups
from dispatcher.web.auth import engine_of
from dispatcher.web.pages import Reader
from dispatcher.web.pages_common import render


def add_routes(router: APIRouter) -> None:
    router.get("/screens", response_class=HTMLResponse)(screens_page)
    router.get("/cinemas", response_class=HTMLResponse)(cinemas_page)


def screens_page(request: Request, user: Reader) -> Response:
    engine = engine_of(request)
    members = groups(engine)
    screen_groups = [{"name": name, "rule": rule, "screens": len(members.get(name, ()))}
                     for name, rule in group_rules(engine).items()]
    return render(request, "screens.html", user, screens=all_screens(engine),
                  groups=screen_groups)


def cinemas_page(request: Request, user: Reader) -> Response:
    return render(request, "cinemas.html", user, cinemas=cinema_summaries(engine_of(request)))
