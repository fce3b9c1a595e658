"""LED signage on SQLite and PostgreSQL: the registry, screen selection, feeds with ETags
and tokens, pushes, proof of play (replayed and late batches) and the impressions sums."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import Engine, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from channels.base import ValidationContext
from channels.led.channel import LedChannel
from dispatcher import registry
from dispatcher.approval.lifecycle import approve
from dispatcher.campaigns.model import parse_campaign
from dispatcher.config import Config, parse_config
from dispatcher.delivery import callback_urls as urls
from dispatcher.delivery.engine import DeliveryEngine
from dispatcher.delivery.policy import EngineOptions
from dispatcher.files.csvfile import ImportFileError
from dispatcher.planning.campaign_store import apply_campaign
from dispatcher.planning.runs import plan_firing
from dispatcher.reach.figures import campaign_reach
from dispatcher.serving import BackgroundServer, free_port
from dispatcher.storage.tables import deliveries
from dispatcher.venues.led_feeds import push_playlists
from dispatcher.venues.led_proof import rollup
from dispatcher.venues.screens import add_group, all_screens, groups, import_screens
from dispatcher.web.app import create_app

SECRET = "LED_TEST_SECRET"
HEADER = ("id,name,kind,district,area,resolution,audience_per_play,audience_source,"
          "controller,endpoint,tags\n")
REGISTRY = HEADER + (
    "B-001,Tower A lobby,building,丈八街道,work,1080x1920,10,lobby count,pull,,lobby\n"
    "B-002,Tower B lobby,building,丈八街道,residential,1080x1920,20,lobby count,pull,,lobby\n"
    "B-003,Mall lobby,building,鱼化寨街道,activity,1080x1920,30,lobby count,pull,,lobby\n"
    "O-001,Square,outdoor,丈八街道,street,1920x1080,100,pedestrian count,pull,,street\n"
    "F-001,Facade,facade,鱼化寨街道,street,3840x1080,500,traffic count,push,{push},street\n")
NOW = datetime.now(UTC).replace(microsecond=0)
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The campaign runs from 25 days ago to 30 days ahead: proof of play dated now is inside.
START = (NOW - timedelta(days=25)).replace(minute=0, second=0)
END = NOW + timedelta(days=30)


def local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).replace(tzinfo=None).isoformat(timespec="seconds")


def campaign_text(screens: str = 'kinds = ["building"]', extra: str = "",
                  start: datetime = START, end: datetime = END, plays_per_hour: int = 4
                  ) -> str:
    return f'''id = "signs"
title = "Signs"
owner = "Publicity"
[schedule]
start = {local(start)}
end = {local(end)}
[[placements]]
channel = "led"
screens = {{ {screens} }}
text = "扫黑除恶 人人有责"
duration = 15
plays_per_hour = {plays_per_hour}
dayparts = [["08:00", "22:00"]]
{extra}'''


class PushController:
    """A push controller: takes playlists, refuses while ``down``."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.down = False
        self.app = Starlette(routes=[Route("/playlist/{screen}", self.take, methods=["POST"])])

    async def take(self, request: Request) -> Response:
        if self.down:
            return Response("offline", status_code=503)
        self.received.append((request.headers["authorization"], await request.json()))
        return JSONResponse({"accepted": True})


@dataclass
class Stack:
    engine: Engine
    config: Config
    led: LedChannel
    url: str
    controller: PushController

    def token(self, screen_id: str) -> str:
        return self.led.screen_token(screen_id, 1)

    def feed(self, screen_id: str, token: str | None = None, etag: str | None = None
             ) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token(screen_id)}"}
        if etag:
            headers["If-None-Match"] = etag
        return requests.get(urls.feed_url(self.url, "led", screen_id), headers=headers,
                            timeout=5)

    def pop(self, screen_id: str, batch: str, records: list[dict[str, Any]],
            token: str | None = None) -> requests.Response:
        return requests.post(urls.pop_url(self.url, "led"), timeout=5,
                             params={"screen": screen_id},
                             headers={"Authorization": f"Bearer {token or self.token(screen_id)}"},
                             json={"screen": screen_id, "batch": batch, "records": records})


@pytest.fixture
def stack(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv(SECRET, "a-long-random-secret")
    controller = PushController()
    with BackgroundServer(controller.app) as push_server:
        report = import_screens(engine, io.StringIO(REGISTRY.replace(
            "{push}", f"{push_server.url}/playlist/F-001")), "Asia/Shanghai")
        assert report.invalid == 0, report.invalid_rows
        port = free_port()
        config = parse_config({"web": {"public_url": f"http://127.0.0.1:{port}"},
                               "channels": {"led": {"token_secret": f"env:{SECRET}"}}})
        channels = registry.build_channels(config.channels)
        led = channels["led"]
        assert isinstance(led, LedChannel)
        with BackgroundServer(create_app(engine, config, channels), port=port) as web:
            yield Stack(engine, config, led, web.url, controller)


def store(s: Stack, text: str) -> None:
    context = ValidationContext(screens=tuple(all_screens(s.engine)),
                                screen_groups=groups(s.engine))
    lookup = registry.build_channels(s.config.channels).get
    campaign, issues = parse_campaign(text, "signs.toml", default_timezone="Asia/Shanghai",
                                      channel_for=lookup, context=context)
    assert campaign is not None, issues
    apply_campaign(s.engine, campaign, "signs.toml", text)
    approve(s.engine, "signs", "chief")


def publish(s: Stack, at: datetime = START) -> None:
    channels = registry.build_channels(s.config.channels)
    plan_firing(s.engine, "signs", at, channels.__getitem__)
    DeliveryEngine(s.engine, channels, s.config.web.public_url,
                   EngineOptions(respect_send_windows=False)).run(until_idle=True)


def states(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(deliveries.c.target, deliveries.c.status)).all())


def item_ids(s: Stack, screen_id: str) -> list[str]:
    return [i["id"] for i in s.feed(screen_id).json()["items"]]


# The registry --------------------------------------------------------------------------


def test_import_reports_bad_rows_by_line(engine: Engine) -> None:
    bad = HEADER + ("X-1,Ok,building,D,work,1080x1920,5,count,pull,,\n"
                    "X-2,Bad kind,kiosk,D,work,1080x1920,5,count,pull,,\n"
                    "X-3,Bad size,outdoor,D,street,big,5,count,pull,,\n"
                    "X-4,No endpoint,outdoor,D,street,1920x1080,5,count,push,,\n"
                    "X-5,No audience,outdoor,D,street,1920x1080,0,count,pull,,\n")
    report = import_screens(engine, io.StringIO(bad), "Asia/Shanghai")
    assert (report.added, report.invalid) == (1, 4)
    assert [(r.line, r.reason.split(":")[0].split(" ")[0]) for r in report.invalid_rows] == [
        (3, "kind"), (4, "resolution"), (5, "endpoint"), (6, "audience_per_play")]
    again = import_screens(engine, io.StringIO(HEADER + "X-1,Renamed,building,D,work,"
                                                         "1080x1920,5,count,pull,,\n"),
                           "Asia/Shanghai")
    assert (again.added, again.updated) == (0, 1)
    assert [s.name for s in all_screens(engine)] == ["Renamed"]
    with pytest.raises(ImportFileError, match="missing required column"):
        import_screens(engine, io.StringIO("id,name\nA,B\n"), "Asia/Shanghai")


def test_groups_and_selection(stack: Stack) -> None:
    assert add_group(stack.engine, "street-level", "kind=outdoor,facade") == 2
    assert add_group(stack.engine, "lobbies-zhangba", "tag=lobby district=丈八街道") == 2
    members = groups(stack.engine)
    assert members["lobbies-zhangba"] == {"B-001", "B-002"}
    context = ValidationContext(screens=tuple(all_screens(stack.engine)),
                                screen_groups=members)
    problems = stack.led.validate({"screens": {"groups": ["nope"]}, "text": "x",
                                   "duration": 10, "plays_per_hour": 1}, context)
    assert [(p.path, p.message.split(";")[0]) for p in problems] == [
        (("screens", "groups"), '"nope" is unknown (add with `dispatcher screens group add`)')]
    media = {"url": "http://cdn/a.mp4", "width": 1080, "height": 1920, "format": "mp4",
             "size": 10, "md5": "0" * 32}
    wrong = stack.led.validate({"screens": {"all": True}, "media": media, "duration": 10,
                                "plays_per_hour": 1}, context)
    assert len(wrong) == 1 and "screens F-001, O-001 have another resolution" in wrong[0].message
    assert stack.led.validate({"screens": {"groups": ["lobbies-zhangba"]}, "media": media,
                               "duration": 10, "plays_per_hour": 1}, context) == []


def test_share_of_voice_overcommitment_is_refused(stack: Stack) -> None:
    extra = ('[[placements]]\nchannel = "led"\nscreens = { ids = ["B-001"] }\n'
             'text = "long"\nduration = 60\nplays_per_hour = 60\n')
    context = ValidationContext(screens=tuple(all_screens(stack.engine)),
                                screen_groups=groups(stack.engine))
    lookup = registry.build_channels(stack.config.channels).get
    campaign, issues = parse_campaign(campaign_text(extra=extra), "signs.toml",
                                      default_timezone="Asia/Shanghai", channel_for=lookup,
                                      context=context)
    assert campaign is None
    assert "overcommits screen B-001" in str(issues) and "3660 s" in str(issues)


# Feeds and pushes --------------------------------------------------------------------------


def test_feeds_need_the_screen_token_and_answer_304_when_unchanged(stack: Stack) -> None:
    store(stack, campaign_text())
    publish(stack)
    assert set(states(stack.engine).values()) == {"sent"}
    assert stack.feed("B-001", token="0" * 64).status_code == 401
    assert stack.feed("B-001", token=stack.token("B-002")).status_code == 401
    assert stack.feed("Z-999").status_code == 404
    first = stack.feed("B-001")
    assert first.status_code == 200
    body = first.json()
    [item] = body["items"]
    assert (item["text"], item["duration_s"], item["plays_per_hour"]) == (
        "扫黑除恶 人人有责", 15, 4)
    assert item["dayparts"] == [["08:00", "22:00"]] and item["timezone"] == "Asia/Shanghai"
    assert first.headers["ETag"] == f'"{body["version"]}"'
    assert states(stack.engine)["screen:B-001@0"] == "delivered"  # fetched: acknowledged
    assert states(stack.engine)["screen:B-002@0"] == "sent"
    again = stack.feed("B-001", etag=first.headers["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_push_controllers_get_playlists_and_acknowledge(stack: Stack) -> None:
    store(stack, campaign_text('kinds = ["facade"]'))
    publish(stack)
    stack.controller.down = True
    down = push_playlists(stack.engine, stack.led)
    assert down.pushed == 1 and "F-001" in down.failed
    assert states(stack.engine)["screen:F-001@0"] == "sent"
    stack.controller.down = False
    up = push_playlists(stack.engine, stack.led)
    assert (up.pushed, up.acknowledged, up.failed) == (1, 1, {})
    [(auth, playlist)] = stack.controller.received
    assert auth == f"Bearer {stack.token('F-001')}" and playlist["screen"] == "F-001"
    assert states(stack.engine)["screen:F-001@0"] == "delivered"
    assert push_playlists(stack.engine, stack.led).pushed == 0  # nothing new to push


# Proof of play -----------------------------------------------------------------------------


def play(item: str, hours_ago: float, count: int = 1, minutes: int = 0) -> dict[str, Any]:
    start = NOW - timedelta(hours=hours_ago) + timedelta(minutes=minutes)
    return {"item": item, "start": start.isoformat().replace("+00:00", "Z"),
            "end": (start + timedelta(seconds=15)).isoformat(), "count": count}


def test_proof_of_play_counts_once_and_sums_impressions(stack: Stack) -> None:
    store(stack, campaign_text())
    publish(stack)
    b1, b2, b3 = (item_ids(stack, s)[0] for s in ("B-001", "B-002", "B-003"))
    records = [play(b1, 2), play(b1, 2, minutes=15), play(b1, 1, count=2)]
    first = stack.pop("B-001", "batch-1", records)
    assert first.status_code == 200 and first.json() == {"accepted": 3, "duplicates": 0,
                                                         "rejected": []}
    replay = stack.pop("B-001", "batch-1", records)
    assert replay.json() == {"accepted": 0, "duplicates": 3, "rejected": []}
    late = stack.pop("B-002", "backlog-7", [play(b2, 24 * 20), play(b2, 24 * 40)])
    assert late.json()["accepted"] == 1  # 20 days late is fine; 40 is over the 30-day limit
    assert "older than 30 days" in late.json()["rejected"][0]["reason"]
    future = {"item": b3, "start": (NOW + timedelta(hours=1)).isoformat(),
              "end": (NOW + timedelta(hours=1, seconds=15)).isoformat(), "count": 1}
    backwards = play(b3, 1) | {"end": play(b3, 2)["start"]}
    checked = stack.pop("B-003", "b3", [future, backwards, play(b1, 1), play(b3, 3)]).json()
    assert [r["reason"] for r in checked["rejected"]] == [
        "end is in the future", "end must be after start",
        f"item '{b1}' is not on this screen's playlist"]
    assert checked["accepted"] == 1
    assert stack.pop("B-003", "b4", [play(b3, 1)], token=stack.token("B-001")).status_code \
        == 401
    assert stack.pop("B-001", "x" * 65, []).status_code == 400

    from dispatcher.campaigns.versions import load_stored
    from dispatcher.planning.campaign_store import channel_lookup

    campaign, _ = load_stored(stack.engine, "signs")
    led = campaign_reach(stack.engine, campaign, channel_lookup(stack.config))["channels"]["led"]
    # B-001: 4 plays x 10 people; B-002: 1 x 20; B-003: 1 x 30.
    assert led["reach"] == {"screens": 3, "plays": 6, "impressions": 4 * 10 + 20 + 30}
    assert led["reach_sources"]["impressions"]["source"] == "computed"
    audience = {s.id: s.audience_per_play for s in all_screens(stack.engine)}
    days = rollup(stack.engine, "signs", "Asia/Shanghai", "day", audience)
    assert sum(d.plays for d in days) == 6 and sum(d.impressions for d in days) == 90
    hours = rollup(stack.engine, "signs", "Asia/Shanghai", "hour", audience)
    assert sum(h.plays for h in hours) == 6 and len(hours) >= 3


def test_screens_commands(engine: Engine, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from dispatcher.cli.screens import screens
    from dispatcher.context import AppContext

    monkeypatch.setenv(SECRET, "another-secret")
    config = parse_config({"channels": {"led": {"token_secret": f"env:{SECRET}"}}})
    app = AppContext(_config=config, _engine=engine)
    runner = CliRunner()
    csv_file = tmp_path / "screens.csv"
    csv_file.write_text(REGISTRY.replace("{push}", "http://127.0.0.1:9/p") +
                        "Z-1,Broken,kiosk,D,work,1920x1080,1,x,pull,,\n", encoding="utf-8")
    tokens = tmp_path / "tokens.csv"
    done = runner.invoke(screens, ["import", str(csv_file), "--tokens-out", str(tokens)],
                         obj=app)
    assert done.exit_code == 0, done.output
    assert "5 screen(s) added, 0 updated, 1 invalid row(s) skipped" in done.stdout
    assert f"{csv_file}:7: kind 'kiosk' is not one of" in done.stderr
    led = LedChannel.from_config(config.channels["led"])
    lines = tokens.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id,token,controller" and len(lines) == 6
    assert lines[1] == f"B-001,{led.screen_token('B-001', 1)},pull"
    listed = runner.invoke(screens, ["list", "--json"], obj=app)
    assert [s["id"] for s in __import__("json").loads(listed.stdout)] == [
        "B-001", "B-002", "B-003", "F-001", "O-001"]
    grouped = runner.invoke(screens, ["group", "add", "street", "tag=street"], obj=app)
    assert grouped.stdout.strip() == "group street: tag=street (2 screen(s) now)"
    assert "street" in runner.invoke(screens, ["show", "O-001"], obj=app).stdout
    old = runner.invoke(screens, ["token", "B-001"], obj=app).stdout.strip()
    new = runner.invoke(screens, ["token", "B-001", "--rotate"], obj=app).stdout.strip()
    assert old == led.screen_token("B-001", 1) and new == led.screen_token("B-001", 2)
    bad = runner.invoke(screens, ["group", "add", "x", "colour=red"], obj=app)
    assert bad.exit_code != 0 and "a key among id, kind" in str(bad.exception)
