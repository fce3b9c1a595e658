"""The LED fleet sandbox over loopback, against a stand-in dispatcher that implements the
wire contract: feeds with ETag/304 and bearer tokens, media, PoP batches deduped on
(screen, batch). Plays are counted exactly on a fast clock that stops at ``until``."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dispatcher.cli.sandbox import sandbox as sandbox_group
from dispatcher.sandbox import LedFleet, LedOptions, ScreenSpec, read_screens
from dispatcher.sandbox.led.playlist import PlaylistError, parse_playlist
from dispatcher.serving import BackgroundServer

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")
VIDEO = bytes(range(256)) * 40


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def text_item(item_id: str, **changes: Any) -> dict[str, Any]:
    base = {"id": item_id, "campaign": "pingan-ding", "kind": "text",
            "text": "平安建设，人人参与", "duration_s": 15, "plays_per_hour": 4,
            "dayparts": [], "start": "2026-03-01T00:00:00Z", "end": None,
            "timezone": "Asia/Shanghai"}
    return base | changes


def media_item(item_id: str, url: str, content: bytes, **media: Any) -> dict[str, Any]:
    item = text_item(item_id, kind="media", media={
        "url": url, "size": len(content), "md5": md5(content), "width": 1920,
        "height": 1080, "format": "mp4"} | media)
    del item["text"]
    return item


class Dispatcher:
    """The dispatcher's side of the contract, with a log of what it was asked."""

    def __init__(self, tokens: dict[str, str], items: list[dict[str, Any]]) -> None:
        self.tokens = tokens
        self.items = {screen: list(items) for screen in tokens}
        self.media = {"video.mp4": VIDEO}
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.conditional: list[tuple[str, str]] = []  # (If-None-Match sent, current ETag)
        self.attempts: list[tuple[float, str, str, int, bytes]] = []  # time, screen, batch..
        self.accepted: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.pop_status: int | None = None  # answer every PoP with this while set
        self.url = ""
        self.app = Starlette(routes=[
            Route("/feeds/led/{screen}", self.feed, methods=["GET"]),
            Route("/media/{name}", self.media_file, methods=["GET"]),
            Route("/hooks/led/pop", self.pop, methods=["POST"])])

    def feed_body(self, screen: str) -> dict[str, Any]:
        items = self.items[screen]
        version = md5(json.dumps(items, sort_keys=True).encode())
        return {"screen": screen, "version": version, "generated_at": "2026-03-02T01:00:00Z",
                "items": items}

    def authorized(self, request: Request, screen: str) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.tokens.get(screen)}"

    async def feed(self, request: Request) -> Response:
        screen = request.path_params["screen"]
        if screen not in self.tokens:
            return self.answer("feed", 404)
        if not self.authorized(request, screen):
            return self.answer("feed", 401)
        body = self.feed_body(screen)
        etag = f'"{body["version"]}"'
        sent = request.headers.get("if-none-match")
        if sent is not None:
            self.conditional.append((sent, etag))
        if sent == etag:
            return self.answer("feed", 304)
        self.counts["feed.200"] += 1
        return JSONResponse(body, headers={"ETag": etag})

    async def media_file(self, request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens.values():
            return self.answer("media", 401)
        self.counts["media.200"] += 1
        return Response(self.media[request.path_params["name"]], media_type="video/mp4")

    async def pop(self, request: Request) -> Response:
        raw = await request.body()
        body = json.loads(raw)
        screen, batch = body["screen"], body["batch"]
        with self.lock:
            status = self.pop_status or (200 if self.authorized(request, screen) else 401)
            self.attempts.append((time.monotonic(), screen, batch, status, raw))
            if status != 200:
                return self.answer("pop", status)
            named = request.query_params.get("screen")  # the URL names it, as required
            if named != screen or not all(well_formed(record) for record in body["records"]):
                return self.answer("pop", 400)
            if (screen, batch) in self.accepted:
                return self.answer("pop.duplicate", 200)
            self.accepted[(screen, batch)] = body["records"]
        return self.answer("pop", 200)

    def answer(self, what: str, status: int) -> Response:
        self.counts[f"{what}.{status}"] += 1
        return Response(status_code=status)

    def records(self, screen: str | None = None) -> list[dict[str, Any]]:
        """The records of every accepted batch (there were no malformed ones)."""
        assert self.counts["pop.400"] == 0
        with self.lock:
            return [record for (where, _), records in self.accepted.items()
                    if screen in (None, where) for record in records]


def well_formed(record: dict[str, Any]) -> bool:
    return (set(record) == {"item", "start", "end", "count"} and record["count"] == 1
            and record["start"].endswith("Z") and record["end"] > record["start"])


@contextmanager
def dispatching(screens: list[ScreenSpec], items: list[dict[str, Any]] | None = None,
                tokens: dict[str, str] | None = None) -> Iterator[Dispatcher]:
    known = tokens if tokens is not None else {s.id: s.token for s in screens}
    dispatcher = Dispatcher(known, items or [text_item("123")])
    with BackgroundServer(dispatcher.app) as server:
        dispatcher.url = server.url
        yield dispatcher


def specs(count: int, kind: str = "pull", prefix: str = "B") -> list[ScreenSpec]:
    return [ScreenSpec(f"{prefix}-{n:03d}", f"token-{prefix}{n}", kind)  # type: ignore[arg-type]
            for n in range(1, count + 1)]


def options(**changes: Any) -> LedOptions:
    base: dict[str, Any] = {"seed": 3, "start": START, "until": START + timedelta(hours=2),
                            "time_scale": 36_000.0, "poll_every_s": 0.1,
                            "report_every_s": 0.05}
    return LedOptions(**(base | changes))


def finish(fleet: LedFleet, timeout: float = 10.0) -> dict[str, Any]:
    """Run the clock to ``until``, wait for every report, return the stats."""
    assert fleet.options.until is not None
    assert fleet.wait_for_clock(fleet.options.until, timeout)
    assert fleet.wait_for_reports(timeout)
    stats = fleet.stats()
    assert stats["records"]["buffered"] == 0
    assert stats["plays"]["total"] == stats["records"]["acknowledged"]
    return stats


# Feeds


def test_polls_send_the_etag_get_304s_and_pick_up_new_versions() -> None:
    screens = specs(3)
    with dispatching(screens) as dispatcher, \
            LedFleet(screens, dispatcher.url, options(until=None)).run() as fleet:
        assert fleet.wait_for(lambda s: s["not_modified"] >= 9, timeout=5)
        assert dispatcher.counts["feed.200"] == 3  # the first poll of each screen only
        assert dispatcher.conditional and all(sent == now for sent, now in
                                              dispatcher.conditional)
        dispatcher.items["B-002"] = [text_item("124")]
        new = dispatcher.feed_body("B-002")["version"]
        assert fleet.wait_for(lambda s: s["playlists"]["activated"] == 4, timeout=5)
        assert fleet.screen("B-002")["version"] == new  # type: ignore[index]
    stats = fleet.stats()  # stopped: no poll in flight
    assert dispatcher.counts["feed.200"] == 4
    assert stats["polls"] == stats["not_modified"] + 4 and stats["feed_errors"] == {}


def test_bad_tokens_unknown_screens_and_malformed_feeds_are_counted_not_played() -> None:
    good, bad_token, unknown, broken = specs(4)
    tokens = {good.id: good.token, bad_token.id: "another", broken.id: broken.token}
    with dispatching([], tokens=tokens) as dispatcher:
        dispatcher.items[broken.id] = [text_item("9", plays_per_hour="four")]
        fleet = LedFleet([good, bad_token, unknown, broken], dispatcher.url, options())
        with fleet.run():
            assert fleet.wait_for(lambda s: all(s["feed_errors"].get(key, 0) >= 2 for key in
                                                ("401", "404", "malformed")))
            stats = finish(fleet)
    assert stats["feed_errors"]["401"] >= 2 and stats["feed_errors"]["404"] >= 2
    assert stats["feed_errors"]["malformed"] >= 2
    assert stats["playlists"]["activated"] == 1
    assert [fleet.screen(s.id)["plays"] for s in (good, bad_token, unknown, broken)] == [  # type: ignore[index]
        {"123": 8}, {}, {}, {}]


# Media


def test_media_are_fetched_once_per_md5_and_a_mismatch_is_never_played() -> None:
    screens = specs(2)
    with dispatching(screens) as dispatcher:
        url = f"{dispatcher.url}/media/video.mp4"
        dispatcher.items = {s.id: [media_item("good", url, VIDEO),
                                   media_item("md5", url, VIDEO, md5="0" * 32),
                                   media_item("size", url, VIDEO, size=len(VIDEO) + 10),
                                   text_item("text")] for s in screens}
        with LedFleet(screens, dispatcher.url, options()).run() as fleet:
            assert fleet.wait_for(lambda s: s["not_modified"] >= 4)
            stats = finish(fleet)
    assert stats["not_modified"] >= 4  # polls went on without fetching again
    assert stats["media"] == {"downloads": 6, "verified": 2, "md5_failures": 2,
                              "size_failures": 2, "errors": 0}
    assert dispatcher.counts["media.200"] == 6
    assert stats["plays"]["by_item"] == {"good": 16, "text": 16}
    assert stats["plays"]["skipped_media"] == 32  # 8 slots x 2 items x 2 screens


# The fast clock


def test_plays_per_hour_dayparts_and_item_windows_on_the_fast_clock() -> None:
    screens = specs(3)
    items = [
        text_item("day", dayparts=[["08:00", "22:00"]]),
        text_item("night", dayparts=[["22:00", "06:00"]]),
        text_item("late", plays_per_hour=6, dayparts=[["11:00", "24:00"]]),
        text_item("window", plays_per_hour=12, start="2026-03-02T10:30:00",
                  end="2026-03-02T03:00:00Z"),
        text_item("utc", timezone="UTC", dayparts=[["02:00", "03:00"]], duration_s=30)]
    with dispatching(screens, items) as dispatcher, \
            LedFleet(screens, dispatcher.url, options()).run() as fleet:
        stats = finish(fleet)
    expected = {"day": 8, "late": 6, "window": 6, "utc": 4}
    for spec in screens:
        assert fleet.screen(spec.id)["plays"] == expected  # type: ignore[index]
        records = dispatcher.records(spec.id)
        assert Counter(r["item"] for r in records) == expected
    assert stats["plays"]["by_item"] == {k: 3 * v for k, v in expected.items()}
    for record in dispatcher.records():
        start = datetime.fromisoformat(record["start"])
        length = datetime.fromisoformat(record["end"]) - start
        assert START <= start < START + timedelta(hours=2) and record["count"] == 1
        assert length == timedelta(seconds=30 if record["item"] == "utc" else 15)
        local = start.astimezone(SHANGHAI).time()
        assert record["item"] != "late" or local.hour >= 11
        assert record["item"] != "window" or (10, 30) <= (local.hour, local.minute) < (11, 0)
    first = sorted(r["start"] for r in dispatcher.records("B-001") if r["item"] == "day")
    gaps = {datetime.fromisoformat(b) - datetime.fromisoformat(a)
            for a, b in itertools.pairwise(first)}
    assert gaps == {timedelta(minutes=15)}  # spread evenly


# Faults


def test_offline_screens_keep_playing_and_send_their_backlog_in_order() -> None:
    screens = specs(4)
    opts = options(time_scale=3600.0, until=START + timedelta(hours=1), offline_rate=0.5,
                   offline_s=0.6, offline_within_s=0.1)
    with dispatching(screens, [text_item("123", plays_per_hour=60)]) as dispatcher:
        with LedFleet(screens, dispatcher.url, opts).run() as fleet:
            assert fleet.wait_for(lambda s: s["screens"]["offline"] == 2
                                  and s["records"]["buffered"] > 20, timeout=5)
            stats = finish(fleet)
        assert stats["offline_periods"] == 2 and stats["screens"]["offline"] == 0
        offline = [s.id for s in screens if fleet.context.offline.moments.get(s.id) is not None]
        for spec in screens:
            times = [t for t, screen, *_ in dispatcher.attempts if screen == spec.id]
            longest = max(b - a for a, b in itertools.pairwise(times))
            assert (longest >= 0.5) == (spec.id in offline)
            starts = [r["start"] for r in dispatcher.records(spec.id)]
            assert starts == sorted(starts) and len(set(starts)) == len(starts) == 60


def test_failed_reports_are_posted_again_with_the_same_batch_ids_and_bodies() -> None:
    screens = specs(2)
    opts = options(time_scale=7200.0, max_batch=5)
    with dispatching(screens, [text_item("123", plays_per_hour=30)]) as dispatcher:
        dispatcher.pop_status = 503
        with LedFleet(screens, dispatcher.url, opts).run() as fleet:
            assert fleet.wait_for(lambda s: s["report_errors"].get("503", 0) >= 6, timeout=5)
            with dispatcher.lock:
                dispatcher.pop_status = None
            stats = finish(fleet)
    failed = [(screen, batch, raw) for _, screen, batch, status, raw in dispatcher.attempts
              if status == 503]
    accepted = [(screen, batch, raw) for _, screen, batch, status, raw in dispatcher.attempts
                if status == 200]
    assert {(s, b) for s, b, _ in failed} <= {(s, b) for s, b, _ in accepted}
    assert set(failed) <= set(accepted)  # byte for byte
    assert stats["batches"]["failed"] == stats["report_errors"]["503"] == len(failed)
    assert len(dispatcher.records()) == stats["plays"]["total"] == 2 * 60
    for spec in screens:  # acknowledged in order, no batch above max_batch
        numbers = [int(b.rsplit("-", 1)[1]) for s, b, _ in accepted if s == spec.id]
        assert numbers == list(range(len(numbers)))
    assert all(len(records) <= 5 for records in dispatcher.accepted.values())


def test_replayed_batches_reach_the_dispatcher_twice_and_count_once() -> None:
    screens = specs(3)
    with dispatching(screens, [text_item("123", plays_per_hour=30)]) as dispatcher, \
            LedFleet(screens, dispatcher.url, options(replay_rate=0.5)).run() as fleet:
        stats = finish(fleet)
    replayed = stats["batches"]["replayed"]
    assert 0 < replayed < stats["batches"]["acknowledged"]
    assert dispatcher.counts["pop.duplicate.200"] == replayed
    assert len(dispatcher.records()) == stats["plays"]["total"] == 3 * 60


def test_reset_forgets_everything_and_reports_under_new_batch_ids() -> None:
    screens = specs(2)
    with dispatching(screens) as dispatcher, \
            LedFleet(screens, dispatcher.url, options()).run() as fleet:
        first = finish(fleet)
        fleet.reset()  # the counters restart and the clock is back at START
        second = finish(fleet)
    assert first["plays"] == second["plays"] == {"total": 16, "skipped_media": 0,
                                                 "by_item": {"123": 16}}
    assert len(dispatcher.accepted) == first["batches"]["acknowledged"] + second["batches"][
        "acknowledged"] and dispatcher.counts["pop.duplicate.200"] == 0
    assert len(dispatcher.records()) == 32


# Push controllers


def test_push_controllers_check_and_accept_playlists_then_play_them() -> None:
    pushes, pulls = specs(2, "push", "F"), specs(1)
    opts = options(time_scale=7200.0, until=START + timedelta(hours=3))
    with dispatching(pushes + pulls) as dispatcher, \
            LedFleet(pushes + pulls, dispatcher.url, opts).run() as fleet:
        url = f"{dispatcher.url}/media/video.mp4"
        items = [text_item("7", start="2026-03-02T03:00:00Z"),
                 media_item("8", url, VIDEO) | {"start": "2026-03-02T03:00:00Z"}]
        for spec in pushes:
            body = dispatcher.feed_body(spec.id) | {"items": items}
            answer = post(fleet.push_url(spec.id), spec.token, body)
            assert answer.status_code == 200
            assert answer.json() == {"accepted": True, "version": body["version"]}
        first = fleet.push_url("F-001")
        assert post(first, "wrong", body).status_code == 401
        assert post(first.replace("F-001", "F-999"), "x", body).status_code == 404
        assert post(first.replace("F-001", "B-001"), pulls[0].token, body).status_code == 404
        assert post(first, "token-F1", body).status_code == 400  # screen F-002 in the body
        assert post(first, "token-F1", {"screen": "F-001"}).status_code == 400
        assert requests.post(first, data=b"{", timeout=5,
                             headers={"Authorization": "Bearer token-F1"}).status_code == 400
        stats = finish(fleet)
        assert requests.get(f"{fleet.url}/_sandbox/stats", timeout=5).json() == stats
        shown = requests.get(f"{fleet.url}/_sandbox/screens/F-002", timeout=5).json()
        assert shown["version"] == body["version"] and shown["plays"] == {"7": 8, "8": 8}
    assert stats["pushes"] == {"accepted": 2, "400": 3, "401": 1, "404": 2}
    for spec in pushes:
        assert Counter(r["item"] for r in dispatcher.records(spec.id)) == {"7": 8, "8": 8}


def post(url: str, token: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"},
                         timeout=5)


def test_an_offline_push_controller_answers_503() -> None:
    screen = specs(1, "push", "F")
    opts = options(offline_rate=1.0, offline_within_s=0.0, offline_s=30.0)
    with dispatching(screen) as dispatcher, \
            LedFleet(screen, dispatcher.url, opts).run() as fleet:
        body = dispatcher.feed_body("F-001")
        assert post(fleet.push_url("F-001"), "token-F1", body).status_code == 503
        assert fleet.stats()["pushes"]["503"] == 1
        assert fleet.screen("F-001")["online"] is False  # type: ignore[index]


# Scale


def test_two_hundred_screens_in_one_process_on_a_few_threads() -> None:
    screens = specs(150) + specs(50, "push", "F")
    item = text_item("123", plays_per_hour=12, start="2026-03-02T02:30:00Z")
    opts = options(time_scale=1800.0, until=START + timedelta(hours=1), poll_every_s=0.5,
                   report_every_s=0.25)
    before = threading.active_count()
    with dispatching(screens, [item]) as dispatcher, \
            LedFleet(screens, dispatcher.url, opts).run() as fleet:
        with requests.Session() as session:
            for spec in screens[150:]:
                body = dispatcher.feed_body(spec.id)
                assert session.post(fleet.push_url(spec.id), json=body, timeout=5, headers={
                    "Authorization": f"Bearer {spec.token}"}).status_code == 200
        assert threading.active_count() - before <= opts.workers + 4
        stats = finish(fleet, timeout=15)
    assert dispatcher.counts["feed.200"] == 150
    assert stats["plays"]["total"] == len(dispatcher.records()) == 200 * 6
    assert {s.id for s in screens} == {screen for screen, _ in dispatcher.accepted}


# Options, screens file, CLI


def test_options_screens_and_playlists_are_checked(tmp_path: Path) -> None:
    for bad in ({"offline_rate": 1.5}, {"time_scale": 0}, {"max_batch": 0},
                {"start": datetime(2026, 1, 1)}, {"until": START - timedelta(hours=1)}):
        with pytest.raises(ValueError):
            options(**bad)
    with pytest.raises(ValueError, match="pull or push"):
        ScreenSpec("B-1", "t", "poll")  # type: ignore[arg-type]
    path = tmp_path / "screens.csv"
    path.write_text("id,token,controller\nB-1,t1,pull\nB-1,t2,push\n")
    with pytest.raises(ValueError, match=r"screens.csv:3: screen B-1 listed twice"):
        read_screens(path)
    with pytest.raises(PlaylistError, match=r"items\[0\]: unknown timezone"):
        parse_playlist({"screen": "B", "version": "1", "generated_at": "2026-03-02T00:00:00Z",
                        "items": [text_item("1", timezone="Mars/Base")]}, "B")


def test_cli_runs_a_fleet_from_a_screens_file(tmp_path: Path) -> None:
    screens = specs(2)
    path = tmp_path / "screens.csv"
    path.write_text("id,token,controller\n" + "".join(
        f"{s.id},{s.token},{s.controller}\n" for s in screens))
    runner = CliRunner()
    assert "--offline-rate" in runner.invoke(sandbox_group, ["led", "--help"]).output
    with dispatching(screens) as dispatcher:
        result = runner.invoke(sandbox_group, [
            "led", "--screens", str(path), "--dispatcher", dispatcher.url, "--port", "0",
            "--time-scale", "36000", "--start", "2026-03-02T02:00:00Z",
            "--until", "2026-03-02T04:00:00Z", "--report-every", "0.05", "--duration", "0.5"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["records"]["acknowledged"] == 16 and stats["now"] == "2026-03-02T04:00:00Z"
    path.write_text("id,token\nB-1,t\n")
    refused = runner.invoke(sandbox_group, ["led", "--screens", str(path), "--dispatcher",
                                            "http://127.0.0.1:9"])
    assert refused.exit_code == 2 and "missing column(s) controller" in refused.output
