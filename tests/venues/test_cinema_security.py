"""The cinema play-log endpoint as an attacker or a careless cinema system would use it,
against the real web app on loopback: one cinema's token never acts for another (ids with
``_``, ``%``, ``-``, Chinese, long, prefixes of each other), tokens rotate, the token is
checked before the body is read, bodies are bounded, out-of-range values are refused for
that entry only, and implausible reports (admissions above seats, plays outside the
campaign's dates, near-duplicates) are refused, recorded and kept out of reach."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from channels.cinema.channel import CinemaChannel
from dispatcher import registry
from dispatcher.campaigns.versions import load_stored
from dispatcher.cli.cinemas import cinemas as cinemas_cli
from dispatcher.config import parse_config
from dispatcher.context import AppContext
from dispatcher.delivery import callback_urls as urls
from dispatcher.planning.campaign_store import channel_lookup
from dispatcher.reach.figures import campaign_reach
from dispatcher.sandbox import CinemaOptions, CinemaSystem
from dispatcher.serving import BackgroundServer, free_port
from dispatcher.storage.tables import (
    auditoriums,
    cinemas,
    deliveries,
    delivery_events,
    provider_reports,
    refused_reports,
    screenings,
)
from dispatcher.venues.refused_reports import recent_refusals
from dispatcher.web.app import create_app
from tests.venues.test_cinema import (
    AUDITORIUMS,
    CINEMAS,
    SECRET,
    BookingSystem,
    Stack,
    import_venues,
    spot,
    spots_text,
    token_holder,
)
from tests.venues.test_cinema import stack as stack  # the fixture

CST = timezone(timedelta(hours=8))


@contextmanager
def serving(engine: Engine, booking_url: str | None = None, port: int | None = None
            ) -> Iterator[Stack]:
    """The web app (on ``port``) with the cinema channel; bookings go to ``booking_url``
    (a stand-in system checking version-0 tokens when None)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SECRET, "cinema-secret")
        system = BookingSystem(token_holder())
        with BackgroundServer(system.app) as stand_in:
            port = port or free_port()
            config = parse_config({"web": {"public_url": f"http://127.0.0.1:{port}"},
                                   "channels": {"cinema": {
                                       "token_secret": f"env:{SECRET}",
                                       "systems": {"cms": booking_url or stand_in.url}}}})
            channels = registry.build_channels(config.channels)
            channel = channels["cinema"]
            assert isinstance(channel, CinemaChannel)
            with BackgroundServer(create_app(engine, config, channels), port=port) as web:
                yield Stack(engine, config, channel, system, web.url)


def post(stack: Stack, cinema: str | None, body: Any, token: str | None,
         **options: Any) -> requests.Response:
    """POST a play log naming ``cinema`` in the query; ``body`` bytes as they are."""
    data = body if isinstance(body, bytes | Iterator) else json.dumps(body).encode()
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return requests.post(urls.playlog_url(stack.url, "cinema"), data=data, timeout=10,
                         params=None if cinema is None else {"cinema": cinema},
                         headers=headers | {"Content-Type": "application/json"}, **options)


def log_of(cinema: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"cinema": cinema, "batch": "b1", "entries": list(entries)}


def state(engine: Engine) -> tuple[Any, ...]:
    """Everything a play log can change."""
    with engine.connect() as conn:
        return (
            sorted(conn.execute(select(deliveries.c.id, deliveries.c.status,
                                       deliveries.c.provider_data)).all()),
            sorted(conn.execute(select(provider_reports.c.delivery_id, provider_reports.c.metric,
                                       provider_reports.c.value)).all()),
            conn.execute(select(func.count()).select_from(delivery_events)).scalar(),
            sorted(conn.execute(select(screenings.c.id, screenings.c.status,
                                       screenings.c.admissions)).all()),
            conn.execute(select(func.count()).select_from(refused_reports)).scalar())


def bookings(engine: Engine) -> dict[str, tuple[int, str]]:
    """Screening id -> (row id, status) of each booking."""
    with engine.connect() as conn:
        return {r.target.rsplit("/", 1)[1].split("@")[0]: (r.id, r.status)
                for r in conn.execute(select(deliveries.c.id, deliveries.c.target,
                                             deliveries.c.status))}


def played(row: int, screening: str, admissions: Any = 50,
           at: Any = "2030-03-04T11:30:00Z", **changes: Any) -> dict[str, Any]:
    return {"booking": str(row), "screening": screening, "status": "played", "at": at,
            "admissions": admissions} | changes


def reach(stack: Stack, campaign_id: str = "spots") -> dict[str, int]:
    campaign, _ = load_stored(stack.engine, campaign_id)
    figures: dict[str, int] = campaign_reach(stack.engine, campaign, channel_lookup(
        stack.config))["channels"]["cinema"]["reach"]
    return figures


# 1. A token acts for its own cinema only -------------------------------------------------

# (attacker, victim): a LIKE pattern built from the attacker's id matches the victim's.
ID_SHAPES = [
    ("C_1", "CA1"),  # _ matches any one character
    ("C%", "CZ9"),  # % matches anything
    ("C-1", "C-10"),  # a prefix
    ("C1", "C1_"),  # the victim's id extends the attacker's
    ("影城_1", "影城一1"),  # Chinese, with a wildcard
    ("L" * 63 + "_", "L" * 64),  # long (the longest id the table holds)
]


def add_cinemas(engine: Engine, ids: list[str]) -> None:
    """Cinemas stored as they are (the CSV import accepts fewer shapes), one 100-seat
    hall and one screening each: S0, S1, ... in the order of ``ids``."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for n, cinema in enumerate(ids):
            conn.execute(cinemas.insert().values(
                id=cinema, name=f"Cinema {n}", system="cms", timezone="Asia/Shanghai",
                preshow="ads:60", updated_at=now))
            conn.execute(auditoriums.insert().values(cinema_id=cinema, id="1", name="Hall",
                                                     seats=100))
            conn.execute(screenings.insert().values(
                id=f"S{n}", cinema_id=cinema, auditorium_id="1", film="Film", rating="PG",
                starts_at=datetime(2030, 3, 4, 11, 30, tzinfo=UTC), expected_seats=80,
                status="scheduled", updated_at=now))


@pytest.mark.parametrize(("attacker", "victim"), ID_SHAPES)
def test_a_cinema_token_acts_for_its_own_cinema_only(engine: Engine, attacker: str,
                                                    victim: str) -> None:
    add_cinemas(engine, [attacker, victim])
    with serving(engine) as stack:
        stack.store(spots_text())
        assert stack.book() == {"planned": 2}
        (mine, _), (theirs, status) = bookings(engine)["S0"], bookings(engine)["S1"]
        assert status == "sent"
        own, other = stack.channel.venue_token(attacker), stack.channel.venue_token(victim)
        before = state(engine)
        forged = post(stack, attacker, log_of(attacker, played(theirs, "S1", 99_999)), own)
        assert forged.status_code == 200
        assert forged.json() == {"applied": 0, "unchanged": 0, "rejected": [
            {"index": 0, "reason": f"booking '{theirs}' is not one of this cinema's"}]}
        # Naming the victim: in the query with the attacker's token, or only in the body.
        assert post(stack, victim, log_of(victim, played(theirs, "S1")), own
                    ).status_code == 401
        assert post(stack, attacker, log_of(victim, played(theirs, "S1")), own
                    ).status_code == 400
        assert state(engine) == before
        # Each token still works for its own cinema.
        assert post(stack, victim, log_of(victim, played(theirs, "S1")), other
                    ).json()["applied"] == 1
        assert post(stack, attacker, log_of(attacker, played(mine, "S0")), own
                    ).json()["applied"] == 1
        assert reach(stack) == {"screenings": 2, "admissions": 100}


def test_a_cinema_unknown_to_the_dispatcher_has_no_token(stack: Stack) -> None:
    """A valid HMAC for an id that is no cinema (or for a cinema with the id's case or
    spaces changed) opens nothing."""
    stack.store(spots_text())
    stack.book()
    before = state(stack.engine)
    for cinema in ("C0", "c01", "C01 ", "%", "C0_", "影城", "C" * 5000):
        answer = post(stack, cinema, log_of(cinema), stack.channel.venue_token(cinema))
        assert answer.status_code == 401, cinema
    assert state(stack.engine) == before


# 3. Tokens rotate ---------------------------------------------------------------------


def test_version_zero_is_the_original_token_and_versions_never_collide(stack: Stack) -> None:
    original = hmac.new(b"cinema-secret", b"cinema:C01", hashlib.sha256).hexdigest()
    assert stack.channel.venue_token("C01") == stack.channel.venue_token("C01", 0) == original
    tokens = {stack.channel.venue_token(cinema, version)
              for cinema in ("C01", "C01:1", "1:C01", "C011", "C01-v1")
              for version in (0, 1, 11, 111)}
    assert len(tokens) == 20


def test_rotating_a_token_ends_the_old_one_at_once(stack: Stack) -> None:
    app = AppContext(_config=stack.config, _engine=stack.engine)
    runner = CliRunner()
    stack.store(spots_text("spots", spot({"ids": ["C01"]})))
    stack.book()
    row = bookings(stack.engine)["S1"][0]
    shown = runner.invoke(cinemas_cli, ["token", "C01"], obj=app)
    assert shown.exit_code == 0 and shown.stdout.strip() == stack.channel.venue_token("C01")
    old = shown.stdout.strip()
    rotated = runner.invoke(cinemas_cli, ["token", "C01", "--rotate"], obj=app)
    new = rotated.stdout.strip()
    assert rotated.exit_code == 0 and new == stack.channel.venue_token("C01", 1) != old
    assert runner.invoke(cinemas_cli, ["token", "C01"], obj=app).stdout.strip() == new
    assert runner.invoke(cinemas_cli, ["token", "C02"], obj=app).stdout.strip() == \
        stack.channel.venue_token("C02", 0)  # other cinemas keep theirs
    entry = played(row, "S1")
    assert post(stack, "C01", log_of("C01", entry), old).status_code == 401
    assert post(stack, "C01", log_of("C01", entry), new).json()["applied"] == 1
    again = runner.invoke(cinemas_cli, ["token", "C01", "--rotate"], obj=app).stdout.strip()
    assert post(stack, "C01", log_of("C01", entry), new).status_code == 401
    assert post(stack, "C01", log_of("C01", entry), again).json()["unchanged"] == 1
    for unknown in ("C0_", "C%", "nope"):
        missing = runner.invoke(cinemas_cli, ["token", unknown, "--rotate"], obj=app)
        assert missing.exit_code != 0 and "no cinema" in str(missing.exception)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


LATE_SHOWS = ("id,cinema,auditorium,film,rating,start,expected_seats,status\n"
              "R1,C01,1,Film A,PG,2030-03-04T20:00:00+08:00,80,scheduled\n"
              "R2,C01,1,Film B,PG,2030-03-04T20:10:00+08:00,60,scheduled\n")


def test_bookings_and_the_sandbox_system_use_the_rotated_token(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dispatcher books with the cinema's current token; the sandbox system, given
    the new token over its API, takes the bookings and signs its play log with it."""
    monkeypatch.setenv(SECRET, "cinema-secret")
    import_venues(engine, LATE_SHOWS)
    holder = token_holder()
    system_port, web_port = free_port(), free_port()
    box = CinemaSystem.from_rows(
        rows_of(CINEMAS), rows_of(AUDITORIUMS), rows_of(LATE_SHOWS),
        {"C01": holder.venue_token("C01", 0)}, f"http://127.0.0.1:{web_port}",
        CinemaOptions(start=datetime(2030, 3, 4, 19, tzinfo=CST), time_scale=900,
                      until=datetime(2030, 3, 4, 20, 20, tzinfo=CST), report_every_s=0.05))
    with serving(engine, f"http://127.0.0.1:{system_port}", web_port) as stack:
        app = AppContext(_config=stack.config, _engine=engine)
        new = CliRunner().invoke(cinemas_cli, ["token", "C01", "--rotate"], obj=app
                                 ).stdout.strip()
        stack.store(spots_text("spots", spot({"ids": ["C01"]})))
        with box.serve(port=system_port) as system_url:  # the play clock starts
            assert requests.put(f"{system_url}/_sandbox/tokens/C01", json={"token": new},
                                timeout=5).status_code == 200
            assert stack.book() == {"planned": 2}
            assert {s: status for s, (_, status) in bookings(engine).items()} == {
                "R1": "sent", "R2": "sent"}  # the system took the new token
            assert box.wait_for_clock(datetime(2030, 3, 4, 20, 20, tzinfo=CST), timeout=20)
            assert box.wait_for_logs(timeout=20)
            stats = box.stats()
    assert stats["logs"]["errors"] == {} and stats["plays"] == 2
    assert sum(stats["bookings"]["refused"].values()) == 0
    assert {s: status for s, (_, status) in bookings(engine).items()} == {
        "R1": "delivered", "R2": "delivered"}


# 5. Authenticate before parsing; bounded bodies -----------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_the_token_is_checked_before_the_body_is_read(stack: Stack) -> None:
    token, wrong = stack.channel.venue_token("C01"), stack.channel.venue_token("C02")
    before = state(stack.engine)
    poison = [nested(100_000), b"{" * 50_000, b"\xff\xfe not utf-8", b"{\"cinema\": ",
              json.dumps(log_of("C01")).encode()]
    for body in poison:
        for presented in (None, "", wrong, token + "0", token.upper(), "Bearer " + token):
            answer = post(stack, "C01", body, presented)
            assert answer.status_code == 401, (body[:20], presented)
            assert "Traceback" not in answer.text
        assert post(stack, None, body, token).status_code == 400  # no cinema named
    assert state(stack.engine) == before
    for body in [*poison[:4], b"[]", b'"C01"', b"null", b"", nested(2_000)]:
        answer = post(stack, "C01", body, token)
        assert answer.status_code == 400, body[:20]
        assert "JSON" in answer.json()["detail"] or "cinema" in answer.json()["detail"]
    for cinema_in_body in ("C02", "c01", None, 1, ["C01"]):
        body = log_of("C01") | {"cinema": cinema_in_body}
        assert post(stack, "C01", body, token).status_code == 400
    assert state(stack.engine) == before


def test_bodies_over_the_cap_are_refused_unread(stack: Stack) -> None:
    from dispatcher.web.venues import MAX_BODY

    token = stack.channel.venue_token("C01")
    big = json.dumps(log_of("C01") | {"pad": "x" * MAX_BODY}).encode()
    assert post(stack, "C01", big, token).status_code == 413
    assert post(stack, "C01", big, None).status_code == 401  # no token: not even that

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"cinema": "C01", "batch": "b", "entries": [], "pad": "'
        for _ in range(MAX_BODY // 65_536 + 2):
            yield b"x" * 65_536
        yield b'"}'

    assert post(stack, "C01", chunks(), token).status_code == 413
    fits = json.dumps(log_of("C01") | {"pad": "x" * (MAX_BODY - 100)}).encode()
    assert post(stack, "C01", fits, token).status_code == 200


# 4. Out-of-range values: rejected for that entry only ------------------------------------


def test_out_of_range_values_reject_their_entry_only(stack: Stack) -> None:
    stack.store(spots_text())
    stack.book()
    row = bookings(stack.engine)["S1"][0]
    token = stack.channel.venue_token("C01")
    bad = [
        played(row, "S1", admissions=10**30),
        played(row, "S1", admissions=True), played(row, "S1", admissions=87.0),
        played(row, "S1", admissions=-1), played(row, "S1", admissions="87"),
        played(row, "S1", admissions=None),
        played(row, "S1", booking=str(2**63)), played(row, "S1", booking=2**63),
        played(row, "S1", booking=str(10**40)), played(row, "S1", booking=True),
        played(row, "S1", booking="²"), played(row, "S1", booking="١٢٣"),
        played(row, "S1", booking=f"{row}.0"), played(row, "S1", booking=f" {row}"),
        played(row, "S1", booking=-row), played(row, "S1", booking=float(row)),
        played(row, "S1", at="0001-01-01T00:00:00+14:00"),
        played(row, "S1", at="9999-12-31T23:59:59-14:00"),
        played(row, "S1", at="2030-03-04T11:30:00"), played(row, "S1", at=1_900_000_000),
        played(row, "S1", at="x" * 10_000), played(row, "S1", at=None),
        played(row, "S1") | {"screening": None}, played(row, "S1") | {"screening": "S" * 10_000},
        played(row, "S1", status="PLAYED"), played(row, "S1", status=None),
        "not an entry", None, [row],
    ]
    before = state(stack.engine)
    answer = post(stack, "C01", log_of("C01", *bad), token)
    assert answer.status_code == 200, answer.text
    rejected = answer.json()["rejected"]
    assert [r["index"] for r in rejected] == list(range(len(bad)))
    assert all(len(r["reason"]) < 300 for r in rejected)
    assert rejected[0]["code"] == "above_capacity"  # the one plausibility refusal
    assert {r.reason for r in recent_refusals(stack.engine, "cinema")} == {"above_capacity"}
    after = state(stack.engine)
    assert after[:4] == before[:4]  # nothing applied
    good = post(stack, "C01", log_of("C01", *bad, played(row, "S1", 87)), token).json()
    assert good["applied"] == 1 and len(good["rejected"]) == len(bad)
    assert reach(stack) == {"screenings": 1, "admissions": 87}
    too_many = log_of("C01", *[played(row, "S1")] * 5_001)
    assert post(stack, "C01", too_many, token).status_code == 400
    assert post(stack, "C01", log_of("C01") | {"batch": None}, token).status_code == 400


# 6. Plausibility -------------------------------------------------------------------------


def refusals(stack: Stack) -> list[tuple[str, str, int | None]]:
    return sorted((r.reason, r.venue, r.delivery_id)
                  for r in recent_refusals(stack.engine, "cinema"))


def test_admissions_above_the_auditoriums_seats_are_refused(stack: Stack) -> None:
    stack.store(spots_text())
    stack.book()
    ids = {s: row for s, (row, _) in bookings(stack.engine).items()}
    token = stack.channel.venue_token("C01")
    answer = post(stack, "C01", log_of("C01", played(ids["S1"], "S1", 101),
                                       played(ids["S4"], "S4", 5_000,
                                              at="2030-03-06T13:00:00Z")), token).json()
    assert answer["applied"] == 0
    assert [(r["index"], r["code"]) for r in answer["rejected"]] == [
        (0, "above_capacity"), (1, "above_capacity")]
    assert "101 admissions reported, the auditorium has 100 seats" in \
        answer["rejected"][0]["reason"]
    assert refusals(stack) == [("above_capacity", "C01", ids["S1"]),
                               ("above_capacity", "C01", ids["S4"])]
    assert reach(stack) == {"screenings": 0, "admissions": 0}
    # A corrected report within the seats is taken; a later inflated one is not.
    assert post(stack, "C01", log_of("C01", played(ids["S1"], "S1", 100)), token
                ).json()["applied"] == 1
    assert post(stack, "C01", log_of("C01", played(ids["S1"], "S1", 150)), token
                ).json()["rejected"][0]["code"] == "above_capacity"
    assert reach(stack) == {"screenings": 1, "admissions": 100}
    c02 = post(stack, "C02", log_of("C02", played(ids["S3"], "S3", 51,
                                                  at="2030-03-05T12:00:00Z")),
               stack.channel.venue_token("C02")).json()
    assert c02["rejected"][0]["code"] == "above_capacity"  # C02's hall has 50 seats


@pytest.mark.parametrize(("at", "counted"), [
    ("2030-03-04T11:30:00Z", True),
    ("2030-02-28T01:00:00Z", True),  # campaign start (09:00 +08:00) less one day
    ("2030-02-28T00:59:59+00:00", False),
    ("2030-03-07T15:59:59Z", True),  # the last day ends 03-07 00:00 +08:00, one day more
    ("2030-03-07T16:00:01Z", False),
    ("2031-02-04T11:30:00Z", False),  # eleven months after
    ("2029-03-04T19:30:00+08:00", False),  # a year before
    ("9999-12-31T23:59:59+00:00", False),
    ("0001-01-02T00:00:00+00:00", False),
])
def test_plays_outside_the_campaigns_dates_are_refused(stack: Stack, at: str,
                                                       counted: bool) -> None:
    stack.store(spots_text())
    stack.book()
    row = bookings(stack.engine)["S1"][0]
    answer = post(stack, "C01", log_of("C01", played(row, "S1", 80, at=at)),
                  stack.channel.venue_token("C01")).json()
    assert answer["applied"] == counted
    assert reach(stack) == ({"screenings": 1, "admissions": 80} if counted
                            else {"screenings": 0, "admissions": 0})
    assert refusals(stack) == ([] if counted else [("outside_dates", "C01", row)])
    if not counted:
        assert "outside the campaign's dates" in answer["rejected"][0]["reason"]


def test_near_duplicate_plays_never_count_twice(stack: Stack) -> None:
    stack.store(spots_text())
    stack.book()
    ids = {s: row for s, (row, _) in bookings(stack.engine).items()}
    token = stack.channel.venue_token("C01")
    first = played(ids["S1"], "S1", 80, at="2030-03-04T11:30:00Z")
    assert post(stack, "C01", log_of("C01", first), token).json()["applied"] == 1
    shapes = [first | {"at": "2030-03-04T11:30:00.000001Z"},  # 1 µs later
              first | {"at": "2030-03-04T11:29:59.999999Z", "admissions": 99},
              first | {"at": "2030-03-04T21:30:00Z", "admissions": 100},
              first | {"booking": int(ids["S1"]), "at": "2030-03-05T11:30:00Z"}]
    answer = post(stack, "C01", log_of("C01", *shapes), token).json()
    assert answer["applied"] == answer["unchanged"] == 0
    assert {r["code"] for r in answer["rejected"]} == {"duplicate"}
    # The same play again (a replayed batch, another offset) or a corrected count: once.
    same = [first, first | {"at": "2030-03-04T19:30:00+08:00"}, first | {"admissions": 85}]
    assert post(stack, "C01", log_of("C01", *same), token).json() == {
        "applied": 0, "unchanged": 3, "rejected": []}
    assert reach(stack) == {"screenings": 1, "admissions": 85}
    # Two plays of one booking in one log: the first counts.
    twice = [played(ids["S2"], "S2", 30, at="2030-03-04T06:00:00Z"),
             played(ids["S2"], "S2", 40, at="2030-03-04T06:00:01Z")]
    answer = post(stack, "C01", log_of("C01", *twice), token).json()
    assert answer["applied"] == 1 and answer["rejected"][0]["code"] == "duplicate"
    # Dropped, then played: the drop stands and adds nothing.
    dropped = {"booking": str(ids["S4"]), "screening": "S4", "status": "dropped",
               "at": "2030-03-06T13:00:00Z", "admissions": None}
    late = played(ids["S4"], "S4", 60, at="2030-03-06T13:00:00Z")
    answer = post(stack, "C01", log_of("C01", dropped, late), token).json()
    assert answer["applied"] == 1 and answer["rejected"][0]["code"] == "duplicate"
    assert reach(stack) == {"screenings": 2, "admissions": 85 + 30}
    assert [r[0] for r in refusals(stack)] == ["duplicate"] * 6
