"""The cinema system sandbox over loopback, against a stand-in dispatcher that takes play
logs with per-cinema bearer tokens and dedupes them on (cinema, batch); and the sample
cinemas, auditoriums and showtimes it runs."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import mean
from typing import Any

import click
import pytest
import requests
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dispatcher.cli.sandbox import sandbox as sandbox_group
from dispatcher.demo.cinema_samples import (
    AUDITORIUM_COLUMNS,
    CINEMA_COLUMNS,
    RATINGS,
    SHOWTIME_COLUMNS,
    sample_cinemas,
    sample_showtimes,
    write_csv,
)
from dispatcher.sandbox import (
    CinemaOptions,
    CinemaSystem,
    build_program,
    read_program,
    read_tokens,
)
from dispatcher.serving import BackgroundServer

DAY = date(2019, 6, 3)  # a Monday
CST = timedelta(hours=8)
CINEMAS, HALLS = sample_cinemas(3, seed=3)
SHOWTIMES = sample_showtimes(CINEMAS, HALLS, DAY, days=2, seed=3)
TOKENS = {row["id"]: f"token-{row['id']}" for row in CINEMAS}
SEATS = {(row["cinema"], row["id"]): int(row["seats"]) for row in HALLS}
BY_ID = {row["id"]: row for row in SHOWTIMES}


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - CST


def day_rows(cinema: str, day: date = DAY) -> list[dict[str, str]]:
    """The cinema's screenings of the day by start: booked in this order, the first to
    start are booked first, however slow the machine."""
    return sorted((row for row in SHOWTIMES
                   if row["cinema"] == cinema and row["start"].startswith(day.isoformat())),
                  key=lambda row: row["start"])


def body(booking: str, screening: str, position: str = "ads", duration: float = 30,
         **changes: Any) -> dict[str, Any]:
    return {"booking": booking, "cinema": BY_ID[screening]["cinema"], "screening": screening,
            "position": position, "spot": {"asset": "pingan-30s", "duration": duration},
            "campaign": "pingan-ding"} | changes


def auth(cinema: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[cinema]}"}


def book(session: requests.Session, url: str, payload: dict[str, Any],
         token_of: str | None = None) -> requests.Response:
    return session.post(f"{url}/bookings", json=payload,
                        headers=auth(token_of or payload["cinema"]))


def utc_z(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


class Dispatcher:
    """The dispatcher's side of the play-log contract, with a log of what it was sent."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attempts: list[tuple[str, str, int, bytes]] = []  # cinema, batch, status, raw
        self.accepted: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.duplicates = 0
        self.status: int | None = None  # answer every post with this while set
        self.app = Starlette(routes=[Route("/hooks/cinema/playlog", self.playlog,
                                           methods=["POST"])])

    async def playlog(self, request: Request) -> Response:
        raw = await request.body()
        data = json.loads(raw)
        cinema, batch = data["cinema"], data["batch"]
        good = request.headers.get("authorization") == f"Bearer {TOKENS.get(cinema)}"
        with self.lock:
            status = self.status or (200 if good else 401)
            if status == 200 and not all(well_formed(e) for e in data["entries"]):
                status = 400
            self.attempts.append((cinema, batch, status, raw))
            if status != 200:
                return Response(status_code=status)
            if (cinema, batch) in self.accepted:
                self.duplicates += 1
            else:
                self.accepted[(cinema, batch)] = data["entries"]
        return JSONResponse({"accepted": True})

    def entries(self) -> list[dict[str, Any]]:
        with self.lock:
            return [entry for entries in self.accepted.values() for entry in entries]


def well_formed(entry: dict[str, Any]) -> bool:
    return (set(entry) == {"booking", "screening", "status", "at", "admissions"}
            and entry["status"] in ("played", "dropped", "cancelled")
            and entry["at"].endswith("Z")
            and (entry["admissions"] is None) == (entry["status"] != "played"))


@contextmanager
def dispatching() -> Iterator[tuple[Dispatcher, BackgroundServer]]:
    dispatcher = Dispatcher()
    with BackgroundServer(dispatcher.app) as server:
        yield dispatcher, server


def system(dispatcher: str | None = None, **options: Any) -> CinemaSystem:
    return CinemaSystem.from_rows(CINEMAS, HALLS, SHOWTIMES, TOKENS, dispatcher,
                                  CinemaOptions(**({"time_scale": 1.0} | options)))


def reported_once(dispatcher: Dispatcher, box: CinemaSystem) -> dict[str, dict[str, Any]]:
    """Every booking played, dropped or cancelled is in exactly one accepted entry, with
    that status; no other booking is."""
    entries = dispatcher.entries()
    counted = Counter(entry["booking"] for entry in entries)
    assert set(counted.values()) == {1}
    states = {b["booking"]: b["state"] for b in box.bookings()
              if b["state"] not in ("booked", "deleted")}
    by_booking = {entry["booking"]: entry for entry in entries}
    assert {k: v["status"] for k, v in by_booking.items()} == states
    return by_booking


# Sample data ---------------------------------------------------------------------------


def test_sample_data_has_the_fixed_shapes_and_is_deterministic(tmp_path: Path) -> None:
    cinemas, halls = sample_cinemas()
    rows = sample_showtimes(cinemas, halls, DAY, days=30)
    assert [c["id"] for c in cinemas] == [f"C{n:02d}" for n in range(1, 13)]
    assert all(set(c) == set(CINEMA_COLUMNS) and c["system"] == "cms"
               and c["timezone"] == "Asia/Shanghai" and c["preshow"] == "ads:240;trailers:600"
               for c in cinemas)
    per_cinema = Counter(h["cinema"] for h in halls)
    assert set(per_cinema) == {c["id"] for c in cinemas}
    assert all(4 <= n <= 8 for n in per_cinema.values())
    assert all(80 <= int(h["seats"]) <= 400 for h in halls)
    seats = {(h["cinema"], h["id"]): int(h["seats"]) for h in halls}
    assert 9_000 <= len(rows) <= 12_000
    assert len({row["id"] for row in rows}) == len(rows)
    per_hall_day = Counter((r["cinema"], r["auditorium"], r["start"][:10]) for r in rows)
    assert len(per_hall_day) == len(halls) * 30 and set(per_hall_day.values()) <= {4, 5, 6}
    for row in rows:
        start = datetime.fromisoformat(row["start"])
        assert start.utcoffset() == CST and "10:00" <= row["start"][11:16] <= "23:00"
        assert row["id"] == f"{row['cinema']}-{start:%Y%m%d}-{row['auditorium']}-{start:%H%M}"
        assert row["rating"] in RATINGS and row["film"]
        assert 0 <= int(row["expected_seats"]) <= seats[(row["cinema"], row["auditorium"])]
        assert row["sold_seats"] == "" and row["status"] == "scheduled"
    share = {r["id"]: int(r["expected_seats"]) / seats[(r["cinema"], r["auditorium"])]
             for r in rows}
    evening = mean(share[r["id"]] for r in rows if "19" <= r["start"][11:13] < "22")
    morning = mean(share[r["id"]] for r in rows if r["start"][11:13] < "12")
    weekend = mean(share[r["id"]] for r in rows if r["start"][:10] in ("2019-06-08",
                                                                       "2019-06-09"))
    weekday = mean(share[r["id"]] for r in rows if r["start"][:10] in ("2019-06-04",
                                                                       "2019-06-05"))
    assert evening > 1.5 * morning and weekend > 1.2 * weekday

    def files(folder: Path, seed: int) -> list[bytes]:
        folder.mkdir()
        cinemas, halls = sample_cinemas(seed=seed)
        for name, data, columns in (
                ("cinemas", cinemas, CINEMA_COLUMNS), ("auditoriums", halls, AUDITORIUM_COLUMNS),
                ("showtimes", sample_showtimes(cinemas, halls, DAY, 3, seed), SHOWTIME_COLUMNS)):
            write_csv(folder / f"{name}.csv", data, columns)
        return [(folder / f"{n}.csv").read_bytes() for n in ("cinemas", "auditoriums",
                                                              "showtimes")]

    first = files(tmp_path / "a", 5)
    assert first == files(tmp_path / "b", 5)
    assert all(x != y for x, y in zip(first, files(tmp_path / "c", 6), strict=True))
    assert first[2].startswith(b"id,cinema,auditorium,film,rating,start,expected_seats,")
    program = read_program(tmp_path / "a/cinemas.csv", tmp_path / "a/auditoriums.csv",
                           tmp_path / "a/showtimes.csv")
    assert program.cinemas["C01"].blocks == {"ads": 240, "trailers": 600}
    starts = [s.start_us for s in program.screenings.values()]
    assert starts == sorted(starts) and len(starts) == first[2].count(b"\n") - 1


def test_bad_options_tokens_and_program_rows_fail_at_once(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="drop_rate") as problem:
        CinemaOptions(drop_rate=1.5, time_scale=0, until=datetime(2019, 6, 3))
    assert "time_scale" in str(problem.value) and "timezone-aware" in str(problem.value)
    path = tmp_path / "tokens.csv"
    path.write_text("id,token\nC01,a\nC01,b\n")
    with pytest.raises(ValueError, match=r"tokens.csv:3: cinema C01 listed twice"):
        read_tokens(path)
    path.write_text("id,token,note\nC01,a,x\nC02,b,\n")
    assert read_tokens(path) == {"C01": "a", "C02": "b"}
    with pytest.raises(ValueError, match="bad pre-show block 'ads'"):
        build_program([CINEMAS[0] | {"preshow": "ads;trailers:600"}], HALLS, [])
    with pytest.raises(ValueError, match="unknown auditorium 99"):
        build_program(CINEMAS, HALLS, [SHOWTIMES[0] | {"auditorium": "99"}])
    with pytest.raises(ValueError, match="start needs an offset"):
        build_program(CINEMAS, HALLS, [SHOWTIMES[0] | {"start": "2019-06-03T10:00:00"}])
    with pytest.raises(ValueError, match="tokens for unknown cinema"):
        CinemaSystem.from_rows(CINEMAS, HALLS, SHOWTIMES, {"C99": "x"})


# Bookings ------------------------------------------------------------------------------


def test_a_repeated_booking_answers_200_and_books_once() -> None:
    screening = day_rows("C01")[0]["id"]
    box = system()
    with box.serve() as url, requests.Session() as session:
        first = book(session, url, body("123", screening))
        again = book(session, url, body("123", screening))
        reused = book(session, url, body("123", screening, duration=15))
        listed = session.get(f"{url}/_sandbox/bookings").json()
        stats = session.get(f"{url}/_sandbox/stats").json()
    assert (first.status_code, first.json()) == (201, {"confirmed": True, "booking": "123"})
    assert (again.status_code, again.json()) == (200, {"confirmed": True, "booking": "123"})
    assert reused.status_code == 409 and reused.json() == {"confirmed": False,
                                                           "error": "booking id reused"}
    assert [(b["booking"], b["screening"], b["state"]) for b in listed] == [
        ("123", screening, "booked")]
    assert stats["bookings"]["created"] == 1 and stats["bookings"]["repeats"] == 1
    assert stats["bookings"]["active"] == 1
    assert stats["per_cinema"]["C01"]["bookings_created"] == 1


def test_an_installed_token_replaces_the_old_one_at_once() -> None:
    """After ``dispatcher cinemas token ID --rotate`` the new token is installed over the
    API: bookings need it, the old one answers 401, other cinemas keep theirs."""
    first, second = day_rows("C01")[0]["id"], day_rows("C01")[1]["id"]
    box = system()
    with box.serve() as url, requests.Session() as session:
        assert book(session, url, body("1", first)).status_code == 201
        put = f"{url}/_sandbox/tokens/C01"
        assert session.put(put, json={"token": "rotated"}).status_code == 200
        old = book(session, url, body("2", second))
        new = session.post(f"{url}/bookings", json=body("2", second),
                           headers={"Authorization": "Bearer rotated"})
        other = book(session, url, body("3", day_rows("C02")[0]["id"]))
        refused = [session.put(put, json=payload).status_code
                   for payload in ({"token": ""}, {"token": 1}, [], None)]
        refused.append(session.put(put, data=b"[" * 100_000).status_code)
        unknown = session.put(f"{url}/_sandbox/tokens/C99", json={"token": "x"})
    assert (old.status_code, new.status_code, other.status_code) == (401, 201, 201)
    assert refused == [400] * 5 and unknown.status_code == 404
    assert box.tokens["C01"] == "rotated"


def test_bad_tokens_unknown_cinemas_screenings_and_malformed_bodies_are_refused() -> None:
    screening, other = day_rows("C01")[0]["id"], day_rows("C02")[0]["id"]
    box = system()
    with box.serve() as url, requests.Session() as session:
        answers = {
            "no token": session.post(f"{url}/bookings", json=body("1", screening)),
            "wrong": session.post(f"{url}/bookings", json=body("1", screening),
                                  headers={"Authorization": "Bearer nope"}),
            "other cinema's": book(session, url, body("1", screening), token_of="C02"),
            "unknown cinema": book(session, url, body("1", screening, cinema="C99"),
                                   token_of="C01"),
            "unknown screening": book(session, url, body("1", screening)
                                      | {"screening": "C01-20190603-9-1000"}),
            "another cinema's screening": book(session, url, body("1", other, cinema="C01")),
            "not json": session.post(f"{url}/bookings", data=b"{", headers=auth("C01")),
            "no spot": book(session, url, body("1", screening, spot=None)),
            "zero duration": book(session, url, body("1", screening, duration=0)),
            "numeric id": book(session, url, body("1", screening) | {"booking": 1}),
            "unknown block": book(session, url, body("1", screening, position="credits")),
        }
        stats = box.stats()
        assert box.bookings() == []
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {"no token": 401, "wrong": 401, "other cinema's": 401,
                        "unknown cinema": 404, "unknown screening": 404,
                        "another cinema's screening": 404, "not json": 400, "no spot": 400,
                        "zero duration": 400, "numeric id": 400, "unknown block": 400}
    assert all(a.json()["confirmed"] is False and a.json()["error"] for a in answers.values())
    assert {k: v for k, v in stats["bookings"]["refused"].items() if v} == {
        "bad_token": 3, "unknown_cinema": 1, "unknown_screening": 2, "malformed": 4,
        "unknown_block": 1}
    assert stats["bookings"]["created"] == 0


def test_cancelled_screenings_and_full_preshow_blocks_answer_409() -> None:
    rows = day_rows("C01")
    box = system()
    with box.serve() as url, requests.Session() as session:
        ads = [book(session, url, body(f"a{n}", rows[0]["id"])).status_code for n in range(9)]
        full = book(session, url, body("a9", rows[0]["id"]))
        trailer = book(session, url, body("t1", rows[0]["id"], "trailers", 600))
        deleted = session.delete(f"{url}/bookings/a0", headers=auth("C01"))
        again = session.delete(f"{url}/bookings/a0", headers=auth("C01"))
        after = book(session, url, body("a9", rows[0]["id"])).status_code
        revived = book(session, url, body("a0", rows[0]["id"]))
        deletes = [session.delete(f"{url}/bookings/{name}", headers=auth(cinema)).status_code
                   for name, cinema in (("zzz", "C01"), ("a1", "C02"))]
        booked = book(session, url, body("c1", rows[1]["id"])).status_code
        hand = session.post(f"{url}/_sandbox/screenings/{rows[1]['id']}/cancel").json()
        cancelled = book(session, url, body("c2", rows[1]["id"]))
        box.cancel(rows[2]["id"])
        with pytest.raises(ValueError, match="already cancelled"):
            box.cancel(rows[2]["id"])
        states = {b["booking"]: b["state"] for b in box.bookings()}
        stats = box.stats()
    assert ads == [201] * 8 + [409]  # 8 x 30 s fill ads:240
    assert full.json() == {"confirmed": False, "error": "preshow block full"}
    assert trailer.status_code == 201  # a block of its own
    assert deleted.json() == {"cancelled": True, "booking": "a0"} and again.status_code == 200
    assert after == 201  # the deleted spot's seconds are free again
    assert revived.json() == {"confirmed": False, "error": "booking cancelled"}
    assert deletes == [404, 401] and booked == 201
    assert hand == {"cancelled": True, "screening": rows[1]["id"], "bookings": 1}
    assert cancelled.status_code == 409
    assert cancelled.json() == {"confirmed": False, "error": "screening cancelled"}
    assert states["a0"] == "deleted" and states["c1"] == "cancelled" and states["a1"] == "booked"
    assert stats["cancellations"] == 1 and stats["screenings"]["cancelled"] == 2
    assert stats["bookings"]["refused"]["block_full"] == 2
    assert stats["bookings"]["refused"]["screening_cancelled"] == 1
    assert stats["bookings"]["deleted"] == 1 and stats["buffered"] == 1  # no dispatcher


def test_a_503_may_book_first_and_the_retry_then_gets_200() -> None:
    rows = day_rows("C01") + day_rows("C02")
    box = system(error_rate=1.0, seed=4)
    with box.serve() as url, requests.Session() as session:
        first = [book(session, url, body(f"b{n}", row["id"])) for n, row in enumerate(rows)]
        made = {b["booking"] for b in box.bookings()}
        retries = {f"b{n}": book(session, url, body(f"b{n}", row["id"]))
                   for n, row in enumerate(rows)}
        made_now = {b["booking"] for b in box.bookings()}
        stats = box.stats()
    assert {a.status_code for a in first} == {503}
    assert first[0].json() == {"confirmed": False, "error": "service unavailable"}
    assert 0.25 * len(rows) < len(made) < 0.75 * len(rows)  # half are booked first
    assert all(retries[b].status_code == (200 if b in made else 503) for b in retries)
    assert made < made_now  # a retry drew anew: some of the lost ones are booked now
    errors = stats["bookings"]["errors"]
    assert stats["bookings"]["created"] == len(made_now) == errors["created_first"]
    assert errors["503"] == 2 * len(rows) - len(made) and stats["bookings"]["repeats"] == len(
        made)
    assert stats["bookings"]["refused"]["unavailable"] == errors["503"] - len(made_now)

    box = system(error_rate=0.5, seed=4)
    with box.serve() as url, requests.Session() as session:
        finals = []
        for n, row in enumerate(rows):
            for _ in range(30):  # the dispatcher retries with the same booking id
                answer = book(session, url, body(f"r{n}", row["id"]))
                if answer.status_code != 503:
                    break
            finals.append(answer.status_code)
        listed = [b["booking"] for b in box.bookings()]
    assert set(finals) == {200, 201} and sorted(listed) == sorted(f"r{n}" for n in range(
        len(rows)))


def test_latency_holds_back_every_booking_answer() -> None:
    box = system(latency_ms=150)
    with box.serve() as url, requests.Session() as session:
        began = time.monotonic()
        answer = book(session, url, body("x", day_rows("C01")[0]["id"], cinema="C99"),
                      token_of="C01")
        took = time.monotonic() - began
    assert answer.status_code == 404 and took >= 0.15


# The play clock and play logs ----------------------------------------------------------


def test_plays_drops_and_cancellations_are_each_reported_exactly_once() -> None:
    rows = sorted(day_rows("C01") + day_rows("C02"), key=lambda row: row["start"])
    until = local(DAY + timedelta(days=1), 0)
    with dispatching() as (dispatcher, server):
        box = system(server.url, seed=11, time_scale=36000, start=local(DAY, 0) - timedelta(
            hours=6), until=until, drop_rate=0.25, cancel_rate=0.25, report_every_s=0.05)
        with box.serve() as url, requests.Session() as session:
            for n, row in enumerate(rows):
                for position, seconds in (("ads", 30), ("trailers", 60)):
                    answer = book(session, url, body(f"p{n}{position[0]}", row["id"],
                                                     position, seconds))
                    assert answer.status_code == 201, answer.text
            assert box.wait_for_clock(until, timeout=15) and box.wait_for_logs(timeout=10)
            shown = next(b["screening"] for b in box.bookings() if b["state"] == "played")
            late = book(session, url, body("late", shown))
            stats = box.stats()
            bookings = box.bookings()
    entries = reported_once(dispatcher, box)
    assert len(entries) == 2 * len(rows) and dispatcher.duplicates == 0
    states = Counter(entry["status"] for entry in entries.values())
    assert min(states.values()) > 0 and states.keys() == {"played", "dropped", "cancelled"}
    assert (stats["plays"], stats["drops"], stats["cancellations"]) == (
        states["played"], states["dropped"], states["cancelled"])
    assert stats["logs"]["entries_acknowledged"] == len(entries) and stats["buffered"] == 0
    admitted: dict[str, int] = {}
    for entry in entries.values():
        row = BY_ID[entry["screening"]]
        start = datetime.fromisoformat(row["start"])
        if entry["status"] == "cancelled":
            assert entry["at"] == utc_z(start - timedelta(hours=1))
            continue
        assert entry["at"] == utc_z(start)
        if entry["status"] == "played":
            assert 0 <= entry["admissions"] <= SEATS[(row["cinema"], row["auditorium"])]
            assert admitted.setdefault(row["id"], entry["admissions"]) == entry["admissions"]
    assert stats["admissions"] == sum(e["admissions"] or 0 for e in entries.values()) > 0
    assert late.json() == {"confirmed": False, "error": "screening started"}
    on_day = sum(1 for row in SHOWTIMES if row["start"].startswith(DAY.isoformat()))
    screenings = stats["screenings"]
    assert screenings["shown"] + screenings["cancelled"] == on_day
    assert screenings["upcoming"] == len(SHOWTIMES) - on_day
    assert all(b["admissions"] is None for b in bookings if b["state"] != "played")


def test_logs_kept_while_the_dispatcher_is_down_are_resent_under_the_same_batch_ids() -> None:
    rows = day_rows("C01")
    until = local(DAY, 23, 59)
    with dispatching() as (dispatcher, server):
        port = server.port
        dispatcher.status = 503
        box = system(server.url, seed=2, time_scale=18000, start=local(DAY, 9),
                     until=until, report_every_s=0.03, max_batch=2)
        with box.serve() as url, requests.Session() as session:
            for n, row in enumerate(rows):
                assert book(session, url, body(f"d{n}", row["id"])).status_code == 201
            assert box.wait_for(lambda s: s["logs"]["failed"] >= 3 and s["buffered"] > 2)
            server.stop()  # then down altogether: connection refused
            assert box.wait_for(lambda s: s["logs"]["errors"].get("connection", 0) >= 2)
            with dispatcher.lock:
                refused = {(b, raw) for _, b, status, raw in dispatcher.attempts}
                assert {status for *_, status, _ in dispatcher.attempts} == {503}
                dispatcher.status = None
            with BackgroundServer(dispatcher.app, port=port):
                assert box.wait_for_clock(until, timeout=15)
                assert box.wait_for_logs(timeout=10)
            stats = box.stats()
    reported_once(dispatcher, box)
    accepted = {(b, raw) for _, b, status, raw in dispatcher.attempts if status == 200}
    assert refused and refused <= accepted  # same ids, byte for byte
    assert len({b for b, _ in refused}) == 1  # the head batch, resent before anything newer
    assert stats["logs"]["failed"] >= 5 and stats["logs"]["acknowledged"] == len(
        dispatcher.accepted)
    assert stats["plays"] == len(rows) and all(
        len(entries) <= 2 for entries in dispatcher.accepted.values())


def test_replayed_batches_reach_the_dispatcher_twice_and_count_once() -> None:
    rows = day_rows("C02")
    until = local(DAY, 16)
    with dispatching() as (dispatcher, server):
        box = system(server.url, time_scale=36000, start=local(DAY, 6), until=until,
                     replay_rate=1.0, report_every_s=0.03)
        with box.serve() as url, requests.Session() as session:
            for n, row in enumerate(rows):
                assert book(session, url, body(f"r{n}", row["id"])).status_code == 201
            assert box.wait_for_clock(until, timeout=10) and box.wait_for_logs(timeout=10)
            stats = box.stats()
    entries = reported_once(dispatcher, box)
    assert len(entries) == sum(1 for row in rows if row["start"][11:16] <= "16:00") > 0
    assert dispatcher.duplicates == stats["logs"]["replayed"] == stats["logs"]["acknowledged"]
    assert stats["logs"]["pending_replays"] == 0 and stats["logs"]["replayed"] > 0


def test_reset_over_http_forgets_bookings_and_restarts_the_clock() -> None:
    box = system(time_scale=3600)
    with box.serve() as url, requests.Session() as session:
        assert book(session, url, body("z", day_rows("C03")[0]["id"])).status_code == 201
        time.sleep(0.05)
        before = session.get(f"{url}/_sandbox/stats").json()
        assert session.post(f"{url}/_sandbox/reset").json() == {"reset": True}
        after = session.get(f"{url}/_sandbox/stats").json()
        filtered = session.get(f"{url}/_sandbox/bookings", params={"cinema": "C03"}).json()
    assert before["bookings"]["created"] == 1 and after["bookings"]["created"] == 0
    assert filtered == []
    assert datetime.fromisoformat(after["now"]) < datetime.fromisoformat(before["now"])
    assert set(after) == {"now", "cinemas", "screenings", "bookings", "plays", "drops",
                          "cancellations", "admissions", "logs", "buffered", "per_cinema"}
    assert after["now"].startswith("2019-06-02T16:0")  # 00:00 in Shanghai of the first day


def test_cli_runs_the_system_from_csv_files(tmp_path: Path) -> None:
    command = sandbox_group.commands["cinema"]
    assert all(isinstance(p, click.Option) and p.help for p in command.params)
    for name, data, columns in (("cinemas", CINEMAS, CINEMA_COLUMNS),
                                ("auditoriums", HALLS, AUDITORIUM_COLUMNS),
                                ("showtimes", SHOWTIMES, SHOWTIME_COLUMNS)):
        write_csv(tmp_path / f"{name}.csv", data, columns)
    (tmp_path / "tokens.csv").write_text("id,token\nC01,token-C01\n")
    runner = CliRunner()
    with dispatching() as (_, server):
        result = runner.invoke(sandbox_group, [
            "cinema", "--tokens", str(tmp_path / "tokens.csv"), "--showtimes",
            str(tmp_path / "showtimes.csv"), "--dispatcher", server.url, "--port", "0",
            "--time-scale", "200000", "--until", "2019-06-03T02:00:00Z",
            "--duration", "1"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["cinemas"] == 1 and stats["now"] == "2019-06-03T02:00:00Z"
    assert stats["screenings"]["total"] == len([r for r in SHOWTIMES if r["cinema"] == "C01"])
    refused = runner.invoke(sandbox_group, [
        "cinema", "--tokens", str(tmp_path / "showtimes.csv"), "--showtimes",
        str(tmp_path / "showtimes.csv"), "--dispatcher", "http://127.0.0.1:9"])
    assert refused.exit_code == 2 and "missing column(s) token" in refused.output
