"""LED entry points under attack (issue 15): a screen's token acts for its own screen only,
whatever the ids look like; the token is checked before the body is read, the body is
capped and parsed safely; implausible proof of play is refused, recorded and shown to
operators; audience tags match literally.

Screens with ids the registry import would refuse (``%``, ``@``, Chinese) are written to
the table directly: matching must be exact whatever an id holds.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from channels.base import Audience
from channels.led.channel import LedChannel
from dispatcher import registry
from dispatcher.accounts.users import ROLES, add_user
from dispatcher.audience.contacts import import_contacts
from dispatcher.campaigns.versions import load_stored
from dispatcher.config import parse_config
from dispatcher.context import AppContext
from dispatcher.delivery import callback_urls as urls
from dispatcher.planning.campaign_store import channel_lookup
from dispatcher.planning.inventory import DatabaseInventory
from dispatcher.reach.figures import campaign_reach
from dispatcher.serving import BackgroundServer, free_port
from dispatcher.storage.db import utcnow
from dispatcher.storage.tables import deliveries, plays, refused_reports
from dispatcher.storage.tables import screens as screens_table
from dispatcher.venues.refused_reports import Refusal, recent_refusals, record_refusals
from dispatcher.web.app import create_app
from tests.venues.test_led import (
    NOW,
    SECRET,
    PushController,
    Stack,
    campaign_text,
    publish,
    states,
    store,
)
from tests.web.test_pages import ESCAPED, PASSWORD, SCRIPT, app_for, sign_in

# (victim, attacker): under LIKE the attacker's id is a pattern matching the victim's.
PAIRS = [
    ("B-001", "B_001"),  # _ is any one character
    ("B-001x", "B%"),  # % is any text, and B is a prefix of the victim
    ("屏幕-一号", "屏幕_一号"),  # Chinese
    ("L" * 59 + "-tail", "L" * 59 + "_tail"),  # 64 characters, the longest id
    ("AB", "A_"),
    ("X@0", "X"),  # the attacker's id and "@" are a prefix of the victim's target
]
IDS = [screen for pair in PAIRS for screen in pair]


def add_screen(engine: Engine, screen_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(screens_table.insert().values(
            id=screen_id, name=f"screen {screen_id}", kind="building", width=1920,
            height=1080, formats="text", timezone="Asia/Shanghai", audience_per_play=10,
            audience_source="count", controller="pull", updated_at=utcnow()))


def stack_for(engine: Engine, led_table: dict[str, Any],
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv(SECRET, "a-long-random-secret")
    for screen_id in IDS:
        add_screen(engine, screen_id)
    port = free_port()
    config = parse_config({"web": {"public_url": f"http://127.0.0.1:{port}"},
                           "channels": {"led": {"token_secret": f"env:{SECRET}"}
                                        | led_table}})
    channels = registry.build_channels(config.channels)
    led = channels["led"]
    assert isinstance(led, LedChannel)
    with BackgroundServer(create_app(engine, config, channels), port=port) as web:
        yield Stack(engine, config, led, web.url, PushController())


@pytest.fixture
def stack(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    yield from stack_for(engine, {}, monkeypatch)


@pytest.fixture
def old_stack(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """Proof of play up to 100 years old passes the age check (as in the demo)."""
    yield from stack_for(engine, {"pop_max_age_days": 36_500}, monkeypatch)


def ids_clause(ids: list[str]) -> str:
    return "ids = [" + ", ".join(json.dumps(i, ensure_ascii=False) for i in ids) + "]"


def feed(s: Stack, screen_id: str, token: str | None = None) -> requests.Response:
    url = urls.feed_url(s.url, "led", quote(screen_id, safe=""))
    return requests.get(url, timeout=5,
                        headers={"Authorization": f"Bearer {token or s.token(screen_id)}"})


def post(s: Stack, screen_id: str | None, body: Any, token: str | None = None,
         headers: dict[str, str] | None = None) -> requests.Response:
    """POST ``body`` (bytes as they are, else as JSON) naming ``screen_id`` in the URL."""
    data = body if isinstance(body, bytes) or not isinstance(body, dict) else json.dumps(
        body).encode()
    sent = {"Authorization": f"Bearer {token or s.token(screen_id or 'B-001')}",
            "Content-Type": "application/json"} | (headers or {})
    params = {} if screen_id is None else {"screen": screen_id}
    return requests.post(urls.pop_url(s.url, "led"), params=params, data=data, timeout=30,
                         headers=sent)


def batch(screen_id: str, records: list[dict[str, Any]], name: str = "b1") -> dict[str, Any]:
    return {"screen": screen_id, "batch": name, "records": records}


def record(item: int | str, start: datetime, count: int = 1, seconds: float = 15
           ) -> dict[str, Any]:
    return {"item": str(item), "start": start.isoformat(),
            "end": (start + timedelta(seconds=seconds)).isoformat(), "count": count}


def row_of(s: Stack, screen_id: str) -> int:
    with s.engine.connect() as conn:
        return int(conn.execute(select(deliveries.c.id).where(
            deliveries.c.target == f"screen:{screen_id}@0")).scalar_one())


def stored_plays(engine: Engine, delivery_id: int | None = None) -> int:
    query = select(func.coalesce(func.sum(plays.c.count), 0))
    if delivery_id is not None:
        query = query.where(plays.c.delivery_id == delivery_id)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def refusal_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(refused_reports))
                   .scalar_one())


def reach_plays(s: Stack) -> int:
    campaign, _ = load_stored(s.engine, "signs")
    reach = campaign_reach(s.engine, campaign, channel_lookup(s.config))
    return int(reach["channels"]["led"]["reach"].get("plays", 0))


def hour_before(hours: int) -> datetime:
    return (NOW - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)


# 1. A token acts for its own screen and nothing else ----------------------------------


def test_a_feed_holds_exactly_its_own_screens_rows(stack: Stack) -> None:
    store(stack, campaign_text(ids_clause(IDS)))
    publish(stack)
    for victim, attacker in PAIRS:
        answer = feed(stack, attacker)
        assert answer.status_code == 200, (attacker, answer.text)
        assert [i["id"] for i in answer.json()["items"]] == [str(row_of(stack, attacker))], (
            f"{attacker}'s feed holds another screen's rows")
        assert states(stack.engine)[f"screen:{victim}@0"] == "sent", (
            f"{attacker}'s fetch acknowledged {victim}'s row")
        assert feed(stack, victim, token=stack.token(attacker)).status_code == 401


def test_proof_of_play_counts_only_for_the_tokens_own_screen(stack: Stack) -> None:
    store(stack, campaign_text(ids_clause(IDS)))
    publish(stack)
    start = hour_before(2)
    for victim, attacker in PAIRS:
        theirs = row_of(stack, victim)
        forged = post(stack, attacker, batch(attacker, [record(theirs, start, count=10)]))
        assert forged.status_code == 200, forged.text
        assert forged.json()["accepted"] == 0
        assert "is not on this screen's playlist" in forged.json()["rejected"][0]["reason"]
        # The victim named in the URL or in the body, with the attacker's token:
        assert post(stack, victim, batch(victim, [record(theirs, start)]),
                    token=stack.token(attacker)).status_code == 401
        assert post(stack, attacker, batch(victim, [record(theirs, start)])).status_code == 400
        assert stored_plays(stack.engine, theirs) == 0
        assert states(stack.engine)[f"screen:{victim}@0"] == "sent"
    own = post(stack, "B_001", batch("B_001", [record(row_of(stack, "B_001"), start)]))
    assert own.json()["accepted"] == 1


def test_audience_tags_match_whole_and_literally(engine: Engine) -> None:
    rows = [("13800000001", "a_c"), ("13800000002", "abc"), ("13800000003", "100%"),
            ("13800000004", "1000"), ("13800000005", "志愿者_楼长"),
            ("13800000006", "志愿者x楼长"), ("13800000007", "x" * 300 + "_"),
            ("13800000008", "x" * 300 + "y"), ("13800000009", "%;_")]
    text = "phone,area,district,tags\n" + "".join(f"{phone},,,{tags}\n" for phone, tags in rows)
    assert import_contacts(engine, io.StringIO(text), "all", "CN").invalid == 0
    inventory = DatabaseInventory(engine)

    def chosen(*tags: str) -> list[str]:
        audience = Audience(lists=("all",), tags=tags)
        return sorted(c.phone[-1] for c in inventory.contacts(audience, "sms"))

    assert chosen("a_c") == ["1"]
    assert chosen("100%") == ["3"]
    assert chosen("志愿者_楼长") == ["5"]
    assert chosen("x" * 300 + "_") == ["7"]
    assert chosen("%") == ["9"] and chosen("_") == ["9"]
    assert chosen("%%") == [] and chosen("a%") == [] and chosen("1_00") == []


# 2. Authenticate before parsing; a capped body -------------------------------------------


DEEP = b"[" * 100_000
HOSTILE_BODIES = {"deep": DEEP, "not utf-8": b'{"screen": "B-001", "batch": "\xff\xfe"}',
                  "malformed": b'{"screen": "B-001", ', "huge": b"[" + b"1," * 1_500_000 + b"1]"}


def test_the_token_is_checked_before_the_body_is_read(stack: Stack) -> None:
    for name, body in HOSTILE_BODIES.items():
        for token in ("0" * 64, stack.token("B_001"), "Bearer", "é" * 10):
            answer = post(stack, "B-001", body, token=token)
            assert answer.status_code == 401, (name, token, answer.status_code)
        no_token = requests.post(urls.pop_url(stack.url, "led"), params={"screen": "B-001"},
                                 data=body, timeout=30)
        assert no_token.status_code == 401, name
        assert post(stack, None, body).status_code == 400, name  # no screen named
        assert post(stack, "Z-404", body).status_code == 404, name
    assert stored_plays(stack.engine) == 0 and refusal_count(stack.engine) == 0


def test_authenticated_bodies_are_capped_and_parsed_safely(stack: Stack) -> None:
    store(stack, campaign_text(ids_clause(["B-001"])))
    publish(stack)
    cases = {
        "deep": (DEEP, 400), "deep object": (b'{"a":' * 50_000, 400),
        "not utf-8": (HOSTILE_BODIES["not utf-8"], 400),
        "utf-16": (json.dumps(batch("B-001", [])).encode("utf-16"), 400),
        "malformed": (HOSTILE_BODIES["malformed"], 400), "empty": (b"", 400),
        "a list": (b"[]", 400), "a number": (b"1" * 5000, 400),
        "huge": (HOSTILE_BODIES["huge"], 413),
        "other screen": (json.dumps(batch("B_001", [])).encode(), 400),
        "screen missing": (b'{"batch": "b", "records": []}', 400),
        "batch not a string": (b'{"screen": "B-001", "batch": 1e999, "records": []}', 400),
        "records not a list": (b'{"screen": "B-001", "batch": "b", "records": {}}', 400),
    }
    for name, (body, status) in cases.items():
        answer = post(stack, "B-001", body)
        assert answer.status_code == status, (name, answer.status_code, answer.text[:200])
        assert "Traceback" not in answer.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes read are counted
        yield b'{"screen": "B-001", "batch": "b", "records": ['
        for _ in range(3_000):
            yield b'{"item": "1", "start": "x", "end": "y", "count": 1},' * 20
        yield b"{}]}"

    chunked = requests.post(urls.pop_url(stack.url, "led"), params={"screen": "B-001"},
                            data=chunks(), timeout=30,
                            headers={"Authorization": f"Bearer {stack.token('B-001')}"})
    assert chunked.status_code == 413
    lying = post(stack, "B-001", b"{}", headers={"Content-Length": "99999999999999999999"})
    assert lying.status_code in (400, 413)
    assert stored_plays(stack.engine) == 0 and refusal_count(stack.engine) == 0


def test_out_of_range_values_reject_their_record_not_the_request(stack: Stack) -> None:
    store(stack, campaign_text(ids_clause(["B-001"])))
    publish(stack)
    item = row_of(stack, "B-001")
    start = hour_before(2)
    good = record(item, start)
    hostile = [
        good | {"count": 10**30}, good | {"count": True}, good | {"count": 1.5},
        good | {"count": "1"}, good | {"count": -1}, good | {"count": None},
        good | {"item": 2**63}, good | {"item": str(2**63)}, good | {"item": "9" * 5000},
        good | {"item": "²"}, good | {"item": "١"}, good | {"item": True},
        good | {"item": -item}, good | {"item": 1.0 * item}, good | {"item": [item]},
        good | {"start": "0001-01-01T00:00:00+14:00"},
        good | {"end": "9999-12-31T23:59:59-14:00"}, good | {"start": 1e308},
        good | {"start": "2019-06-03T09:00:00" + "0" * 100_000}, good | {"end": False},
        good | {"end": (start + timedelta(days=3)).isoformat()},  # longer than a day
        "not an object", None, [good],
    ]
    answer = post(stack, "B-001", batch("B-001", hostile))
    assert answer.status_code == 200, answer.text[:300]
    result = answer.json()
    assert result["accepted"] == 0
    assert [r["index"] for r in result["rejected"]] == list(range(len(hostile)))
    assert all(len(r["reason"]) < 300 for r in result["rejected"])
    assert stored_plays(stack.engine) == 0


# 3. Plausibility ---------------------------------------------------------------------------


def test_plays_above_the_schedule_and_the_spots_length_are_refused(stack: Stack) -> None:
    # A 15-second spot booked 4 times an hour: 5 plays in an hour are believed.
    store(stack, campaign_text(ids_clause(["B-001"])))
    publish(stack)
    item = row_of(stack, "B-001")
    hour = hour_before(3)
    every_15s = [record(item, hour + timedelta(seconds=15 * k)) for k in range(40)]
    one_record = record(item, hour_before(5), count=10_000, seconds=600)
    answer = post(stack, "B-001", batch("B-001", [*every_15s, one_record])).json()
    assert answer["accepted"] == 5
    refused = [r for r in answer["rejected"] if r.get("refused") == "above_schedule"]
    assert len(refused) == 36
    assert "booked 4 times an hour, at most 5" in refused[0]["reason"]
    assert "10000 plays reported in 600 s of a 15-second spot: at most 41" in (
        refused[-1]["reason"])
    # The hour is full: a later batch adds nothing to it either.
    later = post(stack, "B-001", batch("B-001", [record(item, hour + timedelta(minutes=40))],
                                       "b2")).json()
    assert later["accepted"] == 0 and later["rejected"][0]["refused"] == "above_schedule"
    # A day's plays in one record, spread over its hours: believed.
    daily = post(stack, "B-001", batch("B-001", [record(item, hour_before(40), count=4 * 24,
                                                        seconds=86_400)], "b3")).json()
    assert daily["accepted"] == 1
    assert reach_plays(stack) == stored_plays(stack.engine) == 5 + 96
    assert {(r.venue, r.reason, r.delivery_id) for r in recent_refusals(stack.engine, "led")
            } == {("B-001", "above_schedule", item)}
    assert refusal_count(stack.engine) == 37


def test_plays_outside_the_campaigns_dates_are_refused(old_stack: Stack) -> None:
    s = old_stack
    start = NOW - timedelta(days=400)
    end = NOW - timedelta(days=330)  # ended 11 months ago
    store(s, campaign_text(ids_clause(["B-001"]), start=start, end=end))
    publish(s, at=start)
    item = row_of(s, "B-001")
    records = [record(item, NOW - timedelta(hours=1)),  # 11 months after the end
               record(item, end + timedelta(hours=12)),  # within a day's grace
               record(item, end + timedelta(hours=25)),
               record(item, start - timedelta(days=2)),
               record(item, start - timedelta(hours=12)),  # within grace
               record(item, start + timedelta(days=3))]
    answer = post(s, "B-001", batch("B-001", records)).json()
    assert answer["accepted"] == 3
    assert [(r["index"], r["refused"]) for r in answer["rejected"]] == [
        (0, "outside_dates"), (2, "outside_dates"), (3, "outside_dates")]
    assert "outside the campaign's dates" in answer["rejected"][0]["reason"]
    assert reach_plays(s) == 3
    assert [r.reason for r in recent_refusals(s.engine, "led")] == ["outside_dates"] * 3
    # The controller sends the same batch again (a lost answer): refused again, and the
    # operators' list shows each refusal once.
    again = post(s, "B-001", batch("B-001", records)).json()
    assert [r["refused"] for r in again["rejected"]] == ["outside_dates"] * 3
    assert refusal_count(s.engine) == 3 and reach_plays(s) == 3


def test_near_duplicates_count_once_and_are_refused(stack: Stack) -> None:
    store(stack, campaign_text(ids_clause(["B-001", "B_001"])))
    publish(stack)
    item = row_of(stack, "B-001")
    base = hour_before(3) + timedelta(minutes=10)
    shifted = [base, base + timedelta(microseconds=1), base + timedelta(seconds=1),
               base + timedelta(seconds=14), base - timedelta(seconds=14, microseconds=1),
               base + timedelta(seconds=15)]
    first = post(stack, "B-001", batch("B-001", [record(item, at) for at in shifted])).json()
    assert first["accepted"] == 2 and first["duplicates"] == 0
    assert [(r["index"], r["refused"]) for r in first["rejected"]] == [
        (1, "duplicate"), (2, "duplicate"), (3, "duplicate"), (4, "duplicate")]
    again = post(stack, "B-001", batch("B-001", [record(item, base),  # a replay
                                                 record(item, base + timedelta(
                                                     milliseconds=1))], "b2")).json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    assert again["rejected"][0]["refused"] == "duplicate"
    # Another screen's play at the same moment is its own.
    other = row_of(stack, "B_001")
    assert post(stack, "B_001", batch("B_001", [record(other, base)])).json()["accepted"] == 1
    assert reach_plays(stack) == 3
    assert refusal_count(stack.engine) == 5


# 4. Where operators see refused reports ---------------------------------------------------


def seed_refusals(engine: Engine) -> None:
    with engine.begin() as conn:
        record_refusals(conn, [
            Refusal("led", "B-001", "above_schedule", f"6 plays {SCRIPT} [/] in the hour"),
            Refusal("cinema", f"C_1{SCRIPT}", "above_capacity", "5000 admissions, 100 seats",
                    delivery_id=7)])


def test_the_screens_and_cinemas_pages_show_refused_reports(engine: Engine) -> None:
    seed_refusals(engine)
    for role in ROLES:
        add_user(engine, role, role, PASSWORD)
    with app_for(engine) as client:
        assert client.get("/screens").status_code == 303  # signed out: to the login
        for role in ROLES:
            sign_in(client, role)
            screens = client.get("/screens")
            assert screens.status_code == 200
            assert f"6 plays {ESCAPED} [/] in the hour" in screens.text
            assert SCRIPT not in screens.text and "above_schedule" in screens.text
            assert "above_capacity" not in screens.text
            cinemas = client.get("/cinemas").text
            assert f"C_1{ESCAPED}" in cinemas and "5000 admissions, 100 seats" in cinemas
            assert SCRIPT not in cinemas and "above_schedule" not in cinemas
            client.cookies.clear()


def test_the_cli_lists_refused_reports(engine: Engine) -> None:
    from dispatcher.cli.screens import screens

    seed_refusals(engine)
    app = AppContext(_config=parse_config({}), _engine=engine)
    runner = CliRunner()
    both = runner.invoke(screens, ["refused", "--json"], obj=app)
    assert both.exit_code == 0, both.output
    listed = json.loads(both.stdout)
    assert [(r["channel"], r["reason"]) for r in listed] == [
        ("cinema", "above_capacity"), ("led", "above_schedule")]
    assert datetime.fromisoformat(listed[0]["received_at"]).utcoffset() == timedelta(0)
    only = json.loads(runner.invoke(screens, ["refused", "--channel", "cinema", "--json"],
                                    obj=app).stdout)
    assert [r["venue"] for r in only] == [f"C_1{SCRIPT}"]
    table = runner.invoke(screens, ["refused"], obj=app)
    assert table.exit_code == 0, table.output
    assert "[/]" in table.stdout and "above_capacity" in table.stdout
    assert runner.invoke(screens, ["refused", "--channel", "sms"], obj=app).exit_code != 0

