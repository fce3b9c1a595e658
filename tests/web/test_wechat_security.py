"""WeChat events under attack, through the web app on loopback (issue 15, defects 2 and 5).

A campaign is sent through the real wechatpy client to the WeChat sandbox, whose events
(pushed as WeChat does) set its rows delivered. Then forged, replayed, stale and malformed
pushes are posted to the events URL: each is refused (403 for what is not proven, 400 for
a proven body that cannot be read), never 500, and changes nothing in the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import insert, select, text

from dispatcher.context import AppContext
from dispatcher.delivery import callback_urls as urls
from dispatcher.registry import build_channels
from dispatcher.sandbox import SANDBOX_APPID, SANDBOX_TOKEN, WeChatOptions
from dispatcher.sandbox.wechat.events import Signer, event_xml
from dispatcher.serving import BackgroundServer, free_port
from dispatcher.storage.db import make_engine, utcnow
from dispatcher.storage.tables import deliveries, provider_reports, seen_nonces
from dispatcher.web.app import create_app
from tests.channels.test_wechat import billion_laughs, external_entity
from tests.e2e.test_send_wechat import (
    Stack,
    letter_text,
    send,
    settled,
    signed,
    stack,
    store,
    wait_for,
)

FORGED_SENT = 424242


@dataclass
class Sent:
    """A stack whose campaign went out; ``msg_id`` is a real job's, ``push`` the last
    genuine push posted (as an access log would show its query)."""

    s: Stack
    safe: bool
    msg_id: int
    push: tuple[dict[str, str], bytes]


def job_event(msg_id: int, sent: int = FORGED_SENT, status: str = "send success") -> str:
    return event_xml(SANDBOX_APPID, "mphelper", "MASSSENDJOBFINISH", [
        ("MsgID", msg_id), ("Status", status), ("TotalCount", sent),
        ("FilterCount", sent), ("SentCount", sent), ("ErrorCount", 0)])


def signer(safe: bool) -> Signer:
    return Signer(WeChatOptions(encrypt=safe))


def fresh(safe: bool, xml: str, skew: int = 0, nonce: str | None = None
          ) -> tuple[dict[str, str], bytes]:
    """A push of ``xml`` as WeChat signs it, its timestamp ``skew`` seconds off now."""
    return signer(safe).sign_xml(xml, str(int(time.time()) + skew),
                                 nonce or f"n{time.monotonic_ns()}")


def post(s: Stack, push: tuple[dict[str, str], bytes], url: str | None = None
         ) -> requests.Response:
    query, body = push
    return requests.post(url or s.events_url, params=query, data=body, timeout=10,
                         headers={"Content-Type": "text/xml"})


def snapshot(app: AppContext) -> tuple[list[Any], list[Any]]:
    with app.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(deliveries).order_by(deliveries.c.id))]
        reports = [tuple(r) for r in conn.execute(
            select(provider_reports).order_by(provider_reports.c.id))]
    return rows, reports


def sent_stack(tmp_path: Path, safe: bool) -> Iterator[Sent]:
    with stack(tmp_path, safe=safe) as s:
        store(s.app, letter_text(list(s.box.followers.openids[:3])))
        send(s.app)
        wait_for(lambda: settled(s))
        job = next(j for j in s.box.jobs() if j["audience"] == "all")
        genuine = fresh(safe, job_event(job["msg_id"], sent=job["sent"]))
        assert post(s, genuine).status_code == 200  # a repeat of the real event: taken
        yield Sent(s, safe, job["msg_id"], genuine)


@pytest.fixture(scope="module")
def safe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sent]:
    yield from sent_stack(tmp_path_factory.mktemp("safe"), safe=True)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sent]:
    yield from sent_stack(tmp_path_factory.mktemp("plain"), safe=False)


def refused(sent: Sent, push: tuple[dict[str, str], bytes], *status: int) -> str:
    """Post ``push``; assert one of ``status`` and that nothing changed. The answer's
    text."""
    before = snapshot(sent.s.app)
    answer = post(sent.s, push)
    assert answer.status_code in status, answer.text
    assert "Traceback" not in answer.text
    assert snapshot(sent.s.app) == before
    return answer.text


def copied_triple(sent: Sent) -> dict[str, str]:
    """``signature``, ``timestamp`` and ``nonce`` of the genuine push, as logged."""
    query, _ = sent.push
    return {k: query[k] for k in ("signature", "timestamp", "nonce")}


Forgery = Callable[[Sent], tuple[dict[str, str], bytes]]

SAFE_FORGERIES: dict[str, Forgery] = {
    # A plain body with a signature triple copied from an earlier request: the defect.
    "plain body, copied triple": lambda x: (copied_triple(x), job_event(x.msg_id).encode()),
    "plain body, copied triple, encrypt_type raw": lambda x: (
        copied_triple(x) | {"encrypt_type": "raw"}, job_event(x.msg_id).encode()),
    "plain body, copied triple, encrypt_type AES": lambda x: (
        copied_triple(x) | {"encrypt_type": "AES"}, job_event(x.msg_id).encode()),
    "plain body, copied triple, encrypt_type empty": lambda x: (
        copied_triple(x) | {"encrypt_type": ""}, job_event(x.msg_id).encode()),
    "plain body, copied triple and msg_signature": lambda x: (
        x.push[0], job_event(x.msg_id).encode()),
    # A plain body signed afresh (as if the token leaked but not the EncodingAESKey).
    "plain body, fresh signature": lambda x: fresh(False, job_event(x.msg_id)),
    "plain body, fresh signature, encrypt_type aes": lambda x: (
        fresh(False, job_event(x.msg_id))[0] | {"encrypt_type": "aes",
                                                 "msg_signature": "0" * 40},
        job_event(x.msg_id).encode()),
    # Encrypted bodies whose msg_signature does not cover them.
    "encrypted, msg_signature zeros": lambda x: (
        fresh(True, job_event(x.msg_id))[0] | {"msg_signature": "0" * 40},
        fresh(True, job_event(x.msg_id))[1]),
    "encrypted, msg_signature missing": lambda x: (
        {k: v for k, v in fresh(True, job_event(x.msg_id))[0].items()
         if k != "msg_signature"}, fresh(True, job_event(x.msg_id))[1]),
    "encrypted, msg_signature of another push": lambda x: (
        fresh(True, job_event(x.msg_id))[0] | {"msg_signature": x.push[0]["msg_signature"]},
        fresh(True, job_event(x.msg_id))[1]),
    "encrypted, genuine query, another body": lambda x: (
        x.push[0], fresh(True, job_event(x.msg_id))[1]),
    # Genuine pushes, replayed or out of their time.
    "replay of the genuine push": lambda x: x.push,
    "timestamp 301 s old": lambda x: fresh(True, job_event(x.msg_id), skew=-301),
    "timestamp a day old": lambda x: fresh(True, job_event(x.msg_id), skew=-86_400),
    # A minute past the limit: "301 s ahead" was truncated to whole seconds and then
    # aged on its way to the server, and a loaded machine let it in at 300 s.
    "timestamp 360 s ahead": lambda x: fresh(True, job_event(x.msg_id), skew=360),
    "timestamp a year ahead": lambda x: fresh(True, job_event(x.msg_id), skew=31_536_000),
}

PLAIN_FORGERIES: dict[str, Forgery] = {
    "plain body, copied triple": SAFE_FORGERIES["plain body, copied triple"],
    "replay of the genuine push": lambda x: x.push,
    "timestamp 301 s old": lambda x: fresh(False, job_event(x.msg_id), skew=-301),
    "timestamp a day old": lambda x: fresh(False, job_event(x.msg_id), skew=-86_400),
    "timestamp 360 s ahead": lambda x: fresh(False, job_event(x.msg_id), skew=360),
    "encrypt_type des": lambda x: (
        fresh(False, job_event(x.msg_id))[0] | {"encrypt_type": "des"},
        job_event(x.msg_id).encode()),
    "encrypt_type aes without a key": lambda x: (
        fresh(False, job_event(x.msg_id))[0] | {"encrypt_type": "aes"},
        job_event(x.msg_id).encode()),
    "old triple, signed then": lambda x: ({
        "signature": signed(SANDBOX_TOKEN, "1700000000", "123"), "timestamp": "1700000000",
        "nonce": "123"}, job_event(x.msg_id).encode()),
}


@pytest.mark.parametrize("shape", SAFE_FORGERIES, ids=list(SAFE_FORGERIES))
def test_safe_mode_refuses_every_forgery(safe: Sent, shape: str) -> None:
    refused(safe, SAFE_FORGERIES[shape](safe), 403)
    assert reported_sent(safe) != FORGED_SENT


@pytest.mark.parametrize("shape", PLAIN_FORGERIES, ids=list(PLAIN_FORGERIES))
def test_plain_mode_refuses_replays_and_stale_pushes(plain: Sent, shape: str) -> None:
    refused(plain, PLAIN_FORGERIES[shape](plain), 403)
    assert reported_sent(plain) != FORGED_SENT


def reported_sent(sent: Sent) -> int:
    with sent.s.app.engine.connect() as conn:
        return int(conn.execute(select(provider_reports.c.value).where(
            provider_reports.c.metric == "recipients",
            provider_reports.c.delivery_id == select(deliveries.c.id).where(
                deliveries.c.target == "all@0").scalar_subquery())).scalar_one())


def test_a_nonce_is_taken_once_by_every_process_and_old_ones_are_pruned(safe: Sent) -> None:
    s = safe.s
    push = fresh(True, job_event(safe.msg_id, sent=reported_sent(safe)))
    assert post(s, push).status_code == 200
    port = free_port()  # a second web app on the same database: another process's memory
    engine = make_engine(s.app.config.database_url)
    app = create_app(engine, s.app.config, build_channels(s.app.config.channels))
    with BackgroundServer(app, port=port):
        other = urls.events_url(f"http://127.0.0.1:{port}", "wechat")
        assert post(s, push, other).status_code == 403
        assert post(s, safe.push, other).status_code == 403
        assert post(s, fresh(True, job_event(safe.msg_id, sent=reported_sent(safe))),
                    other).status_code == 200
    engine.dispose()

    with s.app.engine.begin() as conn:  # a nonce kept past twice the window is pruned
        conn.execute(insert(seen_nonces).values(channel="wechat", nonce="ancient",
                                                seen_at=utcnow() - timedelta(seconds=601)))
    assert post(s, fresh(True, job_event(safe.msg_id, sent=reported_sent(safe)))
                ).status_code == 200
    with s.app.engine.connect() as conn:
        kept = set(conn.execute(select(seen_nonces.c.nonce)).scalars())
    assert "ancient" not in kept and push[0]["nonce"] in kept


def test_a_push_answered_push_again_later_can_come_again(safe: Sent) -> None:
    """503 (no such message yet) gives the nonce back: WeChat's retry is taken."""
    push = fresh(True, job_event(987654321, sent=5))
    assert post(safe.s, push).status_code == 503
    assert post(safe.s, push).status_code == 503  # not 403: the retry is not a replay


def test_a_push_that_failed_to_be_recorded_can_come_again(safe: Sent) -> None:
    """A push the database failed to record (500) gives its nonce back: WeChat's retry of
    the same push is taken, and nothing of it is lost."""
    engine = safe.s.app.engine
    value = reported_sent(safe)
    with engine.begin() as conn:
        conn.execute(text("CREATE TRIGGER refuse_reports BEFORE UPDATE ON provider_reports "
                          "BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
    push = fresh(True, job_event(safe.msg_id, sent=value + 1))
    try:
        assert post(safe.s, push).status_code == 500
        assert reported_sent(safe) == value
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_reports"))
    assert post(safe.s, push).status_code == 200  # the retry, same nonce: not a replay
    assert reported_sent(safe) == value + 1


JOB_FIELDS = "<MsgType>event</MsgType><Event>MASSSENDJOBFINISH</Event><MsgID>1</MsgID>"
LAUGHS = billion_laughs(JOB_FIELDS)
XXE = external_entity(JOB_FIELDS)


def malformed_events(msg_id: int) -> dict[str, str]:
    job = job_event(msg_id, sent=7)
    return {
        "not xml": "send success",
        "unclosed": job[:-6],
        "billion laughs": LAUGHS,
        "external entity": XXE,
        "undefined entity": job.replace("<![CDATA[send success]]>", "&nope;"),
        "SentCount letters": job.replace("<SentCount>7<", "<SentCount>many<"),
        "SentCount 10^30": job.replace("<SentCount>7<", f"<SentCount>{10**30}<"),
        "SentCount negative": job.replace("<SentCount>7<", "<SentCount>-7<"),
        "SentCount twice": job.replace("</xml>", "<SentCount>424242</SentCount></xml>"),
        "MsgID letters": job.replace(f"<MsgID>{msg_id}<", "<MsgID>x<"),
    }


MALFORMED_BODIES: dict[str, bytes] = {
    "not utf-8": b"\xff\xfe<xml/>",
    "gb18030": "<xml><Encrypt>平安</Encrypt></xml>".encode("gb18030"),
    "huge": b"<xml><Encrypt>" + b"A" * 200_000 + b"</Encrypt></xml>",
    "billion laughs": LAUGHS.encode(),
    "external entity": XXE.encode(),
    "not xml": b"{}",
}


def test_malformed_events_inside_proven_pushes_are_400(safe: Sent, plain: Sent) -> None:
    for sent in (safe, plain):
        for name, xml in malformed_events(sent.msg_id).items():
            text = refused(sent, fresh(sent.safe, xml), 400)
            assert text.startswith("malformed request: "), (name, text)


@pytest.mark.parametrize("name", MALFORMED_BODIES, ids=list(MALFORMED_BODIES))
def test_unreadable_bodies_are_400(safe: Sent, plain: Sent, name: str) -> None:
    body = MALFORMED_BODIES[name]
    plain_query, _ = fresh(False, "<xml/>")
    refused(plain, (plain_query, body), 400)
    safe_query, _ = fresh(True, "<xml/>")  # the outer body is read before msg_signature
    refused(safe, (safe_query, body), 400)


def test_a_body_past_the_app_cap_is_refused_too(safe: Sent) -> None:
    """Past the web app's own cap on bodies (413, another layer) or the channel's (400)."""
    query, _ = fresh(True, "<xml/>")
    refused(safe, (query, b"<xml><Encrypt>" + b"A" * 5_000_000 + b"</Encrypt></xml>"),
            400, 413)


def test_the_url_check_still_echoes(safe: Sent) -> None:
    query, _ = fresh(True, "<xml/>")
    check = requests.get(safe.s.events_url, timeout=5, params={
        k: query[k] for k in ("signature", "timestamp", "nonce")} | {"echostr": "平安-ok"})
    assert (check.status_code, check.text) == (200, "平安-ok")
