"""``/screens`` (the LED registry and its groups) and ``/cinemas`` (cinemas with their
auditoriums, seats and scheduled screenings); each with the newest reports of its channel
refused as implausible (:mod:`dispatcher.venues.refused_reports`), for every signed-in role."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine

from dispatcher.i18n import pgettext
from dispatcher.i18n.labels import L_
from dispatcher.venues.cinemas import cinema_summaries
from dispatcher.venues.refused_reports import RefusedReport, recent_refusals
from dispatcher.venues.screens import all_screens, group_rules, groups
from dispatcher.web.auth import engine_of
from dispatcher.web.pages.common import Reader, render

REFUSALS_SHOWN = 50
# The machine names these pages show that dispatcher.i18n.labels does not know (yet): a
# screen's kind, controller and formats, a refusal's reason. Known pairs are translated;
# anything else (a format a registry made up) is shown as it is.
VENUE_WORDS = frozenset({
    L_("screen_kind", "building"), L_("screen_kind", "outdoor"),
    L_("screen_kind", "facade"), L_("screen_kind", "shopfront"),
    L_("controller", "pull"), L_("controller", "push"),
    L_("screen_format", "jpg"), L_("screen_format", "png"), L_("screen_format", "mp4"),
    L_("screen_format", "text"),
    L_("refusal", "above_capacity"), L_("refusal", "above_schedule"),
    L_("refusal", "outside_dates"), L_("refusal", "duplicate"),
})


def add_routes(router: APIRouter) -> None:
    router.get("/screens", response_class=HTMLResponse)(screens_page)
    router.get("/cinemas", response_class=HTMLResponse)(cinemas_page)


def venue_word(kind: str, name: str) -> str:
    """The word people read for a venue's machine name (plain text: the page escapes it,
    as it must, for a format is whatever the registry's file said)."""
    return pgettext(kind, name) if (kind, name) in VENUE_WORDS else name


def screens_page(request: Request, user: Reader) -> Response:
    engine = engine_of(request)
    members = groups(engine)
    screen_groups = [{"name": name, "rule": rule, "screens": len(members.get(name, ()))}
                     for name, rule in group_rules(engine).items()]
    return render(request, "screens.html", user, screens=all_screens(engine),
                  groups=screen_groups, word=venue_word,
                  refusals=_refusals(engine, "led"))


def cinemas_page(request: Request, user: Reader) -> Response:
    engine = engine_of(request)
    return render(request, "cinemas.html", user, cinemas=cinema_summaries(engine),
                  word=venue_word, refusals=_refusals(engine, "cinema"))


def _refusals(engine: Engine, channel: str) -> list[RefusedReport]:
    """The channel's newest refused reports (the page shows their times in its zone)."""
    return recent_refusals(engine, channel, REFUSALS_SHOWN)
