"""One bad request must not fail others, and every body is bounded.

Receipts of concurrent callbacks share one transaction (``ReceiptBatcher``). A request
carrying a value the database cannot hold (a partner acknowledgement with a 30-digit id
made 27 of 60 valid Twilio receipts answer 500) must be refused alone, 400, changing
nothing, while every valid request in the same batch gets 200 with its change committed.
Everything here goes through the real app on a loopback server, signed as Twilio and the
partner sign, or through the real batcher on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import requests
from sqlalchemy import Engine, func, select, text
from twilio.request_validator import RequestValidator

from channels.base import MalformedRequest, Receipt
from channels.delivery_ids import DELIVERY_PARAM
from channels.sms.twilio_callbacks import inbound_from, receipts_from
from dispatcher import registry
from dispatcher.audience import optouts
from dispatcher.audience.contacts import import_contacts
from dispatcher.config import Config, parse_config
from dispatcher.delivery.receipts import ReceiptBatcher, check_receipts
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.serving import BackgroundServer
from dispatcher.storage.tables import deliveries, delivery_events
from dispatcher.testing import plan_campaign, sms_campaign_text
from dispatcher.web.app import create_app

PUBLIC = "https://hooks.example.org/dispatcher"  # as behind a proxy: signatures use it
TWILIO_TOKEN = "isolation-auth-token-0123456789"
PARTNER_SECRET = "isolation-partner-secret"
ENV = {"TEST_ISOLATION_TWILIO_TOKEN": TWILIO_TOKEN,
       "TEST_ISOLATION_PARTNER_SECRET": PARTNER_SECRET}
ROWS = 60
CAMPAIGN = sms_campaign_text(body="Report gang crime: call 110. Reply TD to stop.")
HUGE = "9" * 5000  # int() of this many digits raises ValueError in Python 3.11+
BIG = str(2**63)
THIRTY = "1" * 30


def config() -> Config:
    return parse_config({
        "web": {"listen": "127.0.0.1:8080", "public_url": PUBLIC},
        "channels": {
            "sms": {"account_sid": "AC" + "0" * 32, "from": "+15005550006",
                    "auth_token": "env:TEST_ISOLATION_TWILIO_TOKEN"},
            "webhook": {"endpoints": {"parcel": {
                "url": "http://127.0.0.1:9/notices", "rate": 10,
                "secret": "env:TEST_ISOLATION_PARTNER_SECRET"}}}}})


def sid(n: int) -> str:
    return f"SM{n:032x}"


def plan_sent_rows(engine: Engine) -> list[int]:
    """Sixty SMS rows the provider accepted, as ``sid(n)``."""
    contacts = "phone,area,district\n" + "".join(f"138000{n:05d},,\n" for n in range(ROWS))
    import_contacts(engine, io.StringIO(contacts), "residents", "CN")
    plan_campaign(engine, CAMPAIGN)
    with engine.connect() as conn:
        ids = list(conn.scalars(select(deliveries.c.id).order_by(deliveries.c.id)))
    with engine.begin() as conn:
        for n, row in enumerate(ids):
            advance(conn, [Transition("sending", delivery_id=row)], actor="engine")
            advance(conn, [Transition("sent", delivery_id=row, provider_ref=sid(n))],
                    actor="engine")
    return ids


@dataclass(frozen=True)
class Snapshot:
    """What a refused request must leave as it was."""

    statuses: dict[str, int]
    webhook_events: int
    opt_outs: int


def snapshot(engine: Engine) -> Snapshot:
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(deliveries.c.status, func.count())
                                     .group_by(deliveries.c.status)).all())
        events = conn.scalar(select(func.count()).select_from(delivery_events)
                             .where(delivery_events.c.actor == "webhook"))
    return Snapshot({k: int(v) for k, v in statuses.items()}, int(events or 0),
                    len(list(optouts.iter_optouts(engine))))


class Providers:
    """Posts to the app as Twilio and the partner app do: signed, to the loopback server."""

    def __init__(self, server: BackgroundServer) -> None:
        self.base = server.url

    def twilio(self, path: str, form: dict[str, str], query: str = "") -> requests.Response:
        """``path`` (``/hooks/sms/status``) with the query as sent, signed for PUBLIC."""
        suffix = f"?{query}" if query else ""
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(
            f"{PUBLIC}{path}{suffix}", form)
        return requests.post(f"{self.base}{path}{suffix}", data=form, timeout=60,
                             headers={"X-Twilio-Signature": signature})

    def status(self, ref: str, status: str = "delivered", d: str | None = None, *,
               query: str = "", **extra: str) -> requests.Response:
        """A status callback; ``d`` percent-encoded into the query, or ``query`` raw."""
        form = {"MessageSid": ref, "MessageStatus": status, "SmsSid": ref,
                "SmsStatus": status, "AccountSid": "AC" + "0" * 32, **extra}
        if d is not None:
            query = f"{DELIVERY_PARAM}={quote(d, safe='')}"
        return self.twilio("/hooks/sms/status", form, query)

    def reply(self, sender: str, body: str = "STOP") -> requests.Response:
        return self.twilio("/hooks/sms/inbound", {"From": sender, "To": "+15005550006",
                                                  "Body": body, "MessageSid": "SMin"})

    def ack(self, fields: dict[str, Any] | bytes, d: str | None = None) -> requests.Response:
        """A partner acknowledgement signed with the endpoint's secret (``fields`` as
        JSON, or the raw body)."""
        body = fields if isinstance(fields, bytes) else json.dumps(fields).encode()
        stamp = str(int(time.time()))
        mac = hmac.new(PARTNER_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        query = "" if d is None else f"?d={quote(d, safe='')}"
        return requests.post(
            f"{self.base}/hooks/webhook/status{query}", data=body, timeout=60,
            headers={"Content-Type": "application/json", "X-Dispatcher-Timestamp": stamp,
                     "X-Dispatcher-Signature": f"sha256={mac.hexdigest()}"})


@dataclass
class Stack:
    engine: Engine
    ids: list[int]
    post: Providers


@pytest.fixture
def stack(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    cfg = config()
    ids = plan_sent_rows(engine)
    app = create_app(engine, cfg, registry.build_channels(cfg.channels))
    with BackgroundServer(app) as server:
        yield Stack(engine, ids, Providers(server))


@contextmanager
def writes_held(engine: Engine) -> Iterator[None]:
    """Another connection holds the write lock, so requests arriving meanwhile queue up
    behind the batcher's first commit and share its next one."""
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "sqlite":
            raw.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
        else:
            raw.cursor().execute("LOCK TABLE deliveries IN EXCLUSIVE MODE")
        yield
    finally:
        raw.rollback()
        raw.close()


# Bad requests, signed: each names the shape it tries.
BAD: dict[str, Callable[[Providers], requests.Response]] = {
    "ack id of 30 digits": lambda p: p.ack({"id": THIRTY, "status": "delivered"}, THIRTY),
    "ack id 2^63": lambda p: p.ack({"id": BIG, "status": "delivered"}, BIG),
    "ack id negative": lambda p: p.ack({"id": "-5", "status": "failed"}, "-5"),
    "ack id superscript two": lambda p: p.ack({"id": "²", "status": "delivered"}, "²"),
    "ack id of 5000 digits": lambda p: p.ack({"id": HUGE, "status": "delivered"}),
    "ack id JSON 1e30": lambda p: p.ack({"id": 1e30, "status": "delivered"}),
    "ack id Chinese": lambda p: p.ack({"id": "编号_7%", "status": "delivered"}),
    "ack error unpaired surrogate": lambda p: p.ack(
        {"id": "123456789012", "status": "failed", "error": "\ud800"}, "123456789012"),
    "ack error NUL": lambda p: p.ack(
        {"id": "123456789012", "status": "failed", "error": "app\x00gone"}, "123456789012"),
    "ack number of 5000 digits": lambda p: p.ack(
        b'{"id": "7", "status": "delivered", "seq": ' + HUGE.encode() + b"}", "7"),
    "ack nested 100000 deep": lambda p: p.ack(b"[" * 100_000 + b"]" * 100_000),
    "ack not an object": lambda p: p.ack(b'["7", "delivered"]'),
    "ack not UTF-8": lambda p: p.ack(b'{"id": "7", "status": "\xff\xfe"}'),
    "twilio d of 30 digits": lambda p: p.status("SMbad1", d=THIRTY),
    "twilio d 2^63": lambda p: p.status("SMbad2", d=BIG),
    "twilio d negative": lambda p: p.status("SMbad3", d="-1"),
    "twilio d Arabic-Indic digits": lambda p: p.status("SMbad4", d="١٢٣"),
    "twilio d of 5000 digits": lambda p: p.status("SMbad5", d=HUGE),
    "twilio d twice": lambda p: p.status("SMbad6", query="d=1&d=2"),
    "twilio d with underscore": lambda p: p.status("SMbad8", query="d=1_000"),
    "twilio d percent": lambda p: p.status("SMbad9", query="d=1%25"),
    "twilio sid of 65 characters": lambda p: p.status("SM" + "a" * 63),
    "twilio ErrorCode of 5000 digits": lambda p: p.status(
        "SMbad7", "undelivered", ErrorCode=HUGE),
    "twilio sid with NUL": lambda p: p.status("SM\x00bad"),
    "reply from 30 digits": lambda p: p.reply("+" + THIRTY),
    "reply from 1e30": lambda p: p.reply("1e30"),
    "reply from NUL-prefixed number": lambda p: p.reply("\x00+8613800000001"),
    "reply from nobody": lambda p: p.reply(""),
}


def test_bad_requests_among_good_ones_fail_alone(stack: Stack) -> None:
    """Sixty signed Twilio receipts and every bad shape above, from 24 threads while
    the database is busy, so they share commits: each good one 200 and recorded, each
    bad one 400, and nothing of the bad ones in the database."""
    before = snapshot(stack.engine)
    good = [lambda p, n=n, row=row: p.status(sid(n), d=str(row))
            for n, row in enumerate(stack.ids)]
    bad = list(BAD.items())
    calls: list[tuple[str, Callable[[Providers], requests.Response]]] = []
    for n, call in enumerate(good):  # a bad request every few good ones
        calls.append((f"good {n}", call))
        if n % 3 == 1 and bad:
            calls.append(bad.pop())
    calls += bad
    with ThreadPoolExecutor(max_workers=24) as pool:
        with writes_held(stack.engine):
            futures = [(name, pool.submit(call, stack.post)) for name, call in calls]
            time.sleep(1.0)  # the requests queue behind the held lock
        answers = {name: future.result() for name, future in futures}
    refused = {name: (a.status_code, a.text[:120]) for name, a in answers.items()
               if not name.startswith("good")}
    assert {name: a.status_code for name, a in answers.items()
            if name.startswith("good")} == {f"good {n}": 200 for n in range(ROWS)}
    assert {name: status for name, (status, _) in refused.items()} == dict.fromkeys(BAD, 400)
    assert all("malformed request" in why for _, why in refused.values()), refused
    after = snapshot(stack.engine)
    assert after == Snapshot({"delivered": ROWS}, before.webhook_events + ROWS, 0)


def test_each_bad_shape_alone_is_400_and_changes_nothing(stack: Stack) -> None:
    before = snapshot(stack.engine)
    answers: dict[str, tuple[int, bool]] = {}
    for shape, call in BAD.items():
        answer = call(stack.post)
        answers[shape] = (answer.status_code, snapshot(stack.engine) == before)
    assert answers == dict.fromkeys(BAD, (400, True))


def test_a_good_ack_and_reply_still_work(stack: Stack) -> None:
    """The checks refuse only what no row can hold: ids with the largest value, a
    national number replying STOP, an unknown-but-valid id, all still answered 200."""
    first = stack.ids[0]
    assert stack.post.ack({"id": str(first), "status": "delivered"}, str(first)
                          ).status_code == 200
    assert stack.post.ack({"id": str(2**63 - 1), "status": "failed", "error": "错误 _%-"},
                          str(2**63 - 1)).status_code == 200
    assert stack.post.ack({"id": "8", "status": "read"}).status_code == 200  # not tracked
    assert stack.post.status(sid(1), d=str(stack.ids[1])).status_code == 200
    assert stack.post.reply("+8613800000002").status_code == 200
    assert stack.post.reply("13800000003", "TD").status_code == 200
    statuses = snapshot(stack.engine).statuses
    # The partner's acknowledgement of row ``first`` is answered but moves nothing: that
    # row is an SMS message, not one of the partner's (see the test below).
    assert statuses == {"delivered": 1, "sent": ROWS - 1}
    assert {o.address for o in optouts.iter_optouts(stack.engine)} == {
        "+8613800000002", "+8613800000003"}


def test_a_partner_acknowledgement_never_moves_another_channels_row(stack: Stack) -> None:
    """A signed callback speaks for its own channel only: the partner's secret cannot mark
    an SMS message delivered or failed, whichever way it names the row."""
    rows = [str(row) for row in stack.ids[:4]]
    before = snapshot(stack.engine)
    answers = [
        stack.post.ack({"id": rows[0], "status": "delivered"}, rows[0]),  # query and body
        stack.post.ack({"id": rows[1], "status": "failed", "error": "x"}),  # body only
        stack.post.ack({"id": rows[2], "status": "delivered", "endpoint": "parcel"}, rows[2]),
        stack.post.ack({"id": f"0{rows[3]}", "status": "delivered"}, f"0{rows[3]}"),
    ]
    assert [a.status_code < 500 for a in answers] == [True] * 4
    assert snapshot(stack.engine) == before
    # The SMS provider's own signed receipt still moves the same row.
    assert stack.post.status(sid(0), d=rows[0]).status_code == 200
    assert snapshot(stack.engine).statuses == {"delivered": 1, "sent": ROWS - 1}


# Body caps ---------------------------------------------------------------------------------

CAP = 1024 * 1024


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body without Content-Length (requests sends it chunked)."""
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


READERS = ["/hooks/sms/status", "/hooks/sms/inbound", "/hooks/webhook/status", "/login"]
OTHERS = ["/hooks/led/pop", "/hooks/cinema/playlog", "/api/campaigns", "/no/such/path"]


@pytest.mark.parametrize("path", READERS + OTHERS)
def test_bodies_over_the_cap_are_413_with_or_without_content_length(
        stack: Stack, path: str) -> None:
    """Content-Length over the cap: 413 before routing. Chunked: 413 where the body is
    read; a route that answers without reading it (404, 405, no token) never holds it."""
    before = snapshot(stack.engine)
    cap = 4 * CAP if path.endswith(("/pop", "/playlog")) else CAP
    url = stack.post.base + path
    declared = requests.post(url, data=b"{" * (cap + 1), timeout=60,
                             headers={"Content-Type": "application/json"})
    form = requests.post(url, data={"Body": "x" * (cap + 1)}, timeout=60)
    streamed = requests.post(url, data=chunks(cap + 100_000), timeout=60,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    huge = requests.post(url, data=chunks(16 * cap), timeout=60,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert [declared.status_code, form.status_code] == [413, 413]
    assert str(cap) in declared.json()["detail"]
    if path in READERS:
        assert [streamed.status_code, huge.status_code] == [413, 413]
    else:
        assert 400 <= streamed.status_code < 500 and 400 <= huge.status_code < 500
    assert snapshot(stack.engine) == before


def test_bodies_under_the_cap_are_read_as_before(stack: Stack) -> None:
    """A signed callback padded close to the cap, as a form and chunked, still works."""
    padded = stack.post.status(sid(2), d=str(stack.ids[2]), Padding="p" * (CAP - 2000))
    assert padded.status_code == 200
    # Under the cap but unsigned: read whole, then refused for its signature, not its size.
    streamed = requests.post(stack.post.base + "/hooks/webhook/status",
                             data=chunks(CAP - 10), timeout=60,
                             headers={"Content-Type": "application/json"})
    assert streamed.status_code == 403
    assert snapshot(stack.engine).statuses == {"delivered": 1, "sent": ROWS - 1}


# The batcher itself: a request the database refuses, whatever the reason -------------------

@contextmanager
def poisoned(engine: Engine, ref: str) -> Iterator[None]:
    """A trigger that fails any update giving a row the provider ref ``ref``: a failure
    no check before the write can foresee."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(
                "CREATE TRIGGER poison BEFORE UPDATE ON deliveries "
                f"WHEN NEW.provider_ref = '{ref}' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"))
        else:
            conn.execute(text(
                "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.provider_ref = '{ref}' THEN RAISE EXCEPTION 'poisoned'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER poison BEFORE UPDATE ON deliveries FOR EACH ROW "
                              "EXECUTE FUNCTION poison()"))
    yield


def test_a_failed_shared_commit_fails_only_the_request_at_fault(engine: Engine) -> None:
    """Requests queued behind a busy database share the next commit; the one the database
    refuses gets the error, every other one its report, committed before it returns."""
    ids = plan_sent_rows(engine)
    batcher = ReceiptBatcher(engine)
    durable: dict[int, str] = {}
    lock = threading.Lock()

    def apply(receipt: Receipt) -> str:
        try:
            report = batcher.apply([receipt])
        except Exception as exc:  # the poisoned request only: the database's own error
            return f"refused: {type(exc).__name__}"
        assert receipt.delivery_id is not None
        with engine.connect() as conn:  # committed before apply returned
            status = conn.scalar(select(deliveries.c.status)
                                 .where(deliveries.c.id == receipt.delivery_id))
        with lock:
            durable[receipt.delivery_id] = str(status)
        return f"applied {report.applied}"

    victim = ids[30]  # its one receipt is refused by the database
    receipts = [Receipt(sid(n), "delivered", delivery_id=row) for n, row in enumerate(ids)]
    receipts[30] = Receipt("SMpoison", "delivered", delivery_id=victim)
    with poisoned(engine, "SMpoison"), ThreadPoolExecutor(max_workers=len(receipts)) as pool:
        with writes_held(engine):
            first = pool.submit(apply, receipts[0])
            time.sleep(0.3)  # the batcher took it and waits for the lock
            rest = [pool.submit(apply, r) for r in receipts[1:]]
            deadline = time.monotonic() + 10
            while batcher._queue.qsize() < len(rest) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert batcher._queue.qsize() == len(rest)  # all share the next commit
        results = [f.result() for f in [first, *rest]]
    assert results.pop(30).startswith("refused: ")
    assert results == ["applied 1"] * (ROWS - 1)
    assert durable == {row: "delivered" for row in ids if row != victim}
    with engine.connect() as conn:
        assert conn.scalar(select(deliveries.c.status).where(deliveries.c.id == victim)
                           ) == "sent"


def test_out_of_range_receipts_never_join_a_batch(engine: Engine) -> None:
    ids = plan_sent_rows(engine)
    batcher = ReceiptBatcher(engine)
    for receipt in [Receipt("SM1", "sent", delivery_id=2**63),
                    Receipt("SM1", "sent", delivery_id=-1),
                    Receipt("SM1", "sent", delivery_id=0),
                    Receipt("SM1", "sent", delivery_id=10**5000),
                    Receipt("S" * 65, "sent"),
                    Receipt("SM1", "failed", code="3" * 65),
                    Receipt("SM1", "failed", detail="bad \ud83d"),
                    Receipt("SM\x00", "sent")]:
        with pytest.raises(MalformedRequest):
            batcher.apply([Receipt(sid(0), "delivered", delivery_id=ids[0]), receipt])
    with engine.connect() as conn:
        assert conn.scalar(select(deliveries.c.status).where(deliveries.c.id == ids[0])
                           ) == "sent"  # the request's good receipt was not applied either


# The parsers, without a server --------------------------------------------------------------

@pytest.mark.parametrize("query", [f"d={THIRTY}", f"d={BIG}", "d=-1", "d=0", "d=%C2%B2",
                                   f"d={HUGE}", "d=1&d=2", "d=1e3", "d=%E7%BC%96%E5%8F%B7",
                                   "d=12_3", "d=12%25", "d=+12"])
def test_twilio_callback_urls_that_name_no_row_are_malformed(query: str) -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    with pytest.raises(MalformedRequest, match=r"delivery id|expected one"):
        receipts_from(form, f"{PUBLIC}/hooks/sms/status?{query}")


def test_twilio_callback_values_that_parse() -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30004"}
    [receipt] = receipts_from(form, f"{PUBLIC}/hooks/sms/status?d={2**63 - 1}")
    assert (receipt.delivery_id, receipt.opt_out) == (2**63 - 1, True)
    [receipt] = receipts_from(form | {"ErrorCode": HUGE[:32]}, f"{PUBLIC}/hooks/sms/status")
    assert (receipt.delivery_id, receipt.opt_out) == (None, False)


@pytest.mark.parametrize("sender", ["", "+" + THIRTY, "1e30", "\x00+8613800000001",
                                    "+86 138 0000 0001\n", "+86-138", "whatsapp:+8613800000001",
                                    "+８６１３８００００００００１", "12"])
def test_reply_senders_that_are_not_phone_numbers_are_malformed(sender: str) -> None:
    with pytest.raises(MalformedRequest, match="From must be"):
        inbound_from({"From": sender, "Body": "STOP"})


def test_check_receipts_accepts_the_edges() -> None:
    check_receipts([Receipt("S" * 64, "failed", delivery_id=2**63 - 1, code="3" * 32,
                            detail="中文 _ % - " * 100), Receipt("SM1", "sent", delivery_id=1)])
