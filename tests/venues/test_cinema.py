"""Cinema pre-show spots on SQLite and PostgreSQL: imports, choosing screenings (dates,
dayparts, ratings, max), capacity, bookings, cancellations, play logs and admissions."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from channels.base import ValidationContext
from channels.cinema.channel import CinemaChannel
from dispatcher import registry
from dispatcher.approval.lifecycle import approve
from dispatcher.campaigns.model import parse_campaign
from dispatcher.campaigns.versions import load_stored
from dispatcher.config import Config, parse_config
from dispatcher.delivery import callback_urls as urls
from dispatcher.delivery.engine import DeliveryEngine
from dispatcher.delivery.policy import EngineOptions
from dispatcher.planning.campaign_store import apply_campaign, channel_lookup
from dispatcher.planning.runs import plan_firing
from dispatcher.reach.figures import campaign_reach
from dispatcher.serving import BackgroundServer, free_port
from dispatcher.storage.tables import deliveries
from dispatcher.testing import campaign_text
from dispatcher.venues.cinemas import (
    import_auditoriums,
    import_cinemas,
    import_showtimes,
    scheduled_screenings,
)
from dispatcher.web.app import create_app

SECRET = "CINEMA_TEST_SECRET"
CINEMAS = ("id,name,district,system,preshow\n"
           "C01,Grand,丈八街道,cms,ads:60;trailers:600\n"
           "C02,Star,鱼化寨街道,cms,ads:45\n")
AUDITORIUMS = "cinema,id,name,seats\nC01,1,Hall 1,100\nC02,1,Hall 1,50\n"
SHOWTIMES = ("id,cinema,auditorium,film,rating,start,expected_seats,status\n"
             "S1,C01,1,Film A,PG,2030-03-04T19:30:00+08:00,80,scheduled\n"
             "S2,C01,1,Film B,R,2030-03-04T14:00:00,40,scheduled\n"
             "S3,C02,1,Film C,NC-17,2030-03-05T20:00:00+08:00,30,scheduled\n"
             "S4,C01,1,Film D,G,2030-03-06T21:00:00+08:00,70,scheduled\n")


def spot(cinemas: Mapping[str, object] | None = None, duration: int = 30,
         asset: str = "pingan-30s", **more: object) -> dict[str, object]:
    """A cinema placement: a spot in the "ads" block at ``cinemas`` (all by default) on 4
    and 6 March 2030, with ``more`` options."""
    return {"channel": "cinema", "cinemas": cinemas or {"all": True},
            "spot": {"asset": asset, "duration": duration}, "position": "ads",
            "dates": [date(2030, 3, 4), date(2030, 3, 6)], **more}


def spots_text(campaign_id: str = "spots", *placements: Mapping[str, object]) -> str:
    """The campaign ``campaign_id`` of ``placements`` (one :func:`spot` by default)."""
    return campaign_text(campaign_id, *(placements or [spot()]), title="Spots",
                         start=datetime(2030, 3, 1, 9))


class BookingSystem:
    """A cinema system's booking endpoint: confirms, or refuses what it is told to."""

    def __init__(self, channel: CinemaChannel) -> None:
        self.channel = channel
        self.bookings: dict[str, dict[str, Any]] = {}
        self.refuse: dict[str, str] = {}  # screening: error
        self.app = Starlette(routes=[Route("/bookings", self.book, methods=["POST"])])

    async def book(self, request: Request) -> JSONResponse:
        body = await request.json()
        expected = f"Bearer {self.channel.venue_token(body['cinema'])}"
        if request.headers.get("authorization") != expected:
            return JSONResponse({"error": "bad token"}, status_code=401)
        if body["screening"] in self.refuse:
            return JSONResponse({"confirmed": False, "error": self.refuse[body["screening"]]},
                                status_code=409)
        repeat = body["booking"] in self.bookings
        self.bookings[body["booking"]] = body
        return JSONResponse({"confirmed": True, "booking": body["booking"]},
                            status_code=200 if repeat else 201)


@dataclass
class Stack:
    engine: Engine
    config: Config
    channel: CinemaChannel
    system: BookingSystem
    url: str

    def context(self) -> ValidationContext:
        return ValidationContext(screenings=tuple(scheduled_screenings(self.engine)))

    def parse(self, text: str) -> tuple[Any, list[Any]]:
        return parse_campaign(text, "spots.toml", default_timezone="Asia/Shanghai",
                              channel_for=channel_lookup(self.config), context=self.context())

    def store(self, text: str) -> None:
        campaign, issues = self.parse(text)
        assert campaign is not None, issues
        apply_campaign(self.engine, campaign, "spots.toml", text)
        approve(self.engine, campaign.id, "chief")

    def book(self, campaign_id: str = "spots") -> dict[str, int]:
        channels = registry.build_channels(self.config.channels)
        result = plan_firing(self.engine, campaign_id, datetime(2030, 3, 1, 1, tzinfo=UTC),
                             channels.__getitem__)
        DeliveryEngine(self.engine, channels, self.config.web.public_url,
                       EngineOptions(respect_send_windows=False)).run(until_idle=True)
        return dict(result.rows)

    def log(self, cinema: str, entries: list[dict[str, Any]], token: str | None = None,
            batch: str = "b1") -> requests.Response:
        return requests.post(urls.playlog_url(self.url, "cinema"), timeout=5, json={
            "cinema": cinema, "batch": batch, "entries": entries}, params={"cinema": cinema},
            headers={"Authorization": f"Bearer {token or self.channel.venue_token(cinema)}"})


@pytest.fixture
def stack(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv(SECRET, "cinema-secret")
    import_venues(engine)
    system = BookingSystem(token_holder())
    with BackgroundServer(system.app) as booking:
        port = free_port()
        config = parse_config({"web": {"public_url": f"http://127.0.0.1:{port}"},
                               "channels": {"cinema": {"token_secret": f"env:{SECRET}",
                                                       "systems": {"cms": booking.url}}}})
        channels = registry.build_channels(config.channels)
        channel = channels["cinema"]
        assert isinstance(channel, CinemaChannel)
        with BackgroundServer(create_app(engine, config, channels), port=port) as web:
            yield Stack(engine, config, channel, system, web.url)


def import_venues(engine: Engine, showtimes: str = SHOWTIMES) -> None:
    """CINEMAS, AUDITORIUMS and ``showtimes`` imported, every row valid."""
    assert import_cinemas(engine, io.StringIO(CINEMAS), "Asia/Shanghai").invalid == 0
    assert import_auditoriums(engine, io.StringIO(AUDITORIUMS)).invalid == 0
    assert import_showtimes(engine, io.StringIO(showtimes)).invalid == 0


def token_holder() -> CinemaChannel:
    """A cinema channel holding the token secret (set ``SECRET`` in the environment), to
    make the venues' tokens as the dispatcher does; its systems are never called."""
    return CinemaChannel.from_config({"token_secret": _secret(), "systems": {
        "cms": "http://127.0.0.1:9"}})


def _secret() -> Any:
    from dispatcher.config import Secret

    return Secret("channels.cinema.token_secret", SECRET)


def rows(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as conn:
        return {r.target.split("/")[-1]: (r.status, r.error_code) for r in conn.execute(
            select(deliveries.c.target, deliveries.c.status, deliveries.c.error_code))}


# Imports --------------------------------------------------------------------------------


def test_imports_report_bad_rows_and_update_in_place(engine: Engine) -> None:
    cinemas = import_cinemas(engine, io.StringIO(
        CINEMAS + "C03,Bad,D,cms,ads\nC04,Zone,D,cms,ads:30\n"), "Asia/Shanghai")
    assert (cinemas.added, cinemas.invalid) == (3, 1)
    assert "preshow 'ads': write block:seconds pairs" in cinemas.invalid_rows[0].reason
    halls = import_auditoriums(engine, io.StringIO(AUDITORIUMS + "C09,1,Hall,10\nC01,2,H,0\n"))
    assert [r.reason.split(" ")[0] for r in halls.invalid_rows] == ["cinema", "seats"]
    shows = import_showtimes(engine, io.StringIO(
        SHOWTIMES + "S9,C01,1,F,X,2030-03-04T10:00:00,5,scheduled\n"
                    "S8,C01,1,F,PG,tomorrow,5,scheduled\n"))
    assert [r.line for r in shows.invalid_rows] == [6, 7]
    again = import_showtimes(engine, io.StringIO(SHOWTIMES.replace(",80,", ",90,")))
    assert (again.added, again.updated) == (0, 4)
    [s1] = [s for s in scheduled_screenings(engine) if s.id == "S1"]
    assert s1.expected_seats == 90 and s1.seats == 100 and s1.blocks == (("ads", 60),
                                                                          ("trailers", 600))
    [s2] = [s for s in scheduled_screenings(engine) if s.id == "S2"]
    assert s2.starts_at.isoformat() == "2030-03-04T14:00:00+08:00"  # local without offset


# Choosing screenings and capacity --------------------------------------------------------


def test_dates_dayparts_ratings_and_max(stack: Stack) -> None:
    stack.store(spots_text("spots", spot(dayparts=[["18:00", "23:00"]],
                                         exclude_ratings=["NC-17"], max_screenings=5)))
    assert stack.book() == {"planned": 2}
    assert set(rows(stack.engine)) == {"S1@0", "S4@0"}  # S2 afternoon, S3 NC-17


def test_overbooking_is_refused_naming_the_bookings(stack: Stack) -> None:
    stack.store(spots_text("first", spot({"ids": ["C02"]}, duration=30)))
    stack.book("first")
    campaign, issues = stack.parse(spots_text("second", spot({"ids": ["C02"]}, duration=30)))
    assert campaign is None
    assert "overbooks 1 screening(s): S3" in str(issues)
    assert "booked by first (30 s)" in str(issues) and "15 s left" in str(issues)
    fits, issues = stack.parse(spots_text("second", spot({"ids": ["C02"]}, duration=15)))
    assert fits is not None, issues
    both = spots_text("twice", spot({"ids": ["C01"]}, duration=30),
                      spot({"ids": ["C01"]}, duration=60, asset="b"))
    assert "overbooks" in str(stack.parse(both)[1])  # 30 + 60 > 60 in one campaign


def test_bookings_cancellations_plays_and_admissions(stack: Stack) -> None:
    stack.system.refuse["S2"] = "screening cancelled"
    stack.store(spots_text())
    assert stack.book() == {"planned": 4}
    assert rows(stack.engine) == {"S1@0": ("sent", None), "S2@0": ("failed", "cancelled"),
                                  "S3@0": ("sent", None), "S4@0": ("sent", None)}
    booking = {b["screening"]: b for b in stack.system.bookings.values()}
    assert booking["S1"]["spot"] == {"asset": "pingan-30s", "duration": 30}
    # S4 is cancelled in the next schedule import: its booking fails with that reason.
    cancelled = import_showtimes(stack.engine, io.StringIO(
        SHOWTIMES.replace("70,scheduled", "70,cancelled")))
    assert cancelled.cancelled_bookings == 1
    assert rows(stack.engine)["S4@0"] == ("failed", "cancelled")

    ids = {b["screening"]: int(b["booking"]) for b in stack.system.bookings.values()}
    played = {"booking": str(ids["S1"]), "screening": "S1", "status": "played",
              "at": "2030-03-04T11:30:00Z", "admissions": 87}
    assert stack.log("C01", [played], token=stack.channel.venue_token("C02")).status_code \
        == 401
    first = stack.log("C01", [played]).json()
    assert first == {"applied": 1, "unchanged": 0, "rejected": []}
    assert stack.log("C01", [played]).json()["unchanged"] == 1  # replayed log
    dropped = {"booking": str(ids["S3"]), "screening": "S3", "status": "dropped",
               "at": "2030-03-05T12:00:00Z", "admissions": None}
    wrong = stack.log("C01", [dropped]).json()["rejected"]
    assert wrong == [{"index": 0, "reason": f"booking '{ids['S3']}' is not one of this "
                                            "cinema's"}]
    assert stack.log("C02", [dropped]).json()["applied"] == 1
    assert rows(stack.engine)["S1@0"] == ("delivered", None)
    assert rows(stack.engine)["S3@0"] == ("undelivered", "dropped")

    campaign, _ = load_stored(stack.engine, "spots")
    cinema = campaign_reach(stack.engine, campaign,
                            channel_lookup(stack.config))["channels"]["cinema"]
    assert cinema["reach"] == {"screenings": 1, "admissions": 87}
    assert "gross" in cinema["reach_sources"]["admissions"]["method"]
    again = dict(played, admissions=90)  # a corrected count replaces, never adds
    stack.log("C01", [again], batch="b2")
    assert campaign_reach(stack.engine, campaign, channel_lookup(stack.config))[
        "channels"]["cinema"]["reach"] == {"screenings": 1, "admissions": 90}
