"""The WeChat channel without a network: settings, placement checks, rows, quotas, events."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from wechatpy.crypto import WeChatCrypto

from channels.base import (
    CallbackRequest,
    ConfigError,
    MalformedRequest,
    Placement,
    SignatureError,
    ValidationContext,
)
from channels.wechat import placement as wp
from channels.wechat.channel import WeChatChannel
from channels.wechat.events import MASS_SUCCESS, events_from
from channels.wechat.push import echo, event_xml
from channels.wechat.settings import parse_settings
from dispatcher.config import Secret

TZ = ZoneInfo("Asia/Shanghai")
CTX = ValidationContext()
OPENIDS = [f"o{'abcdefghijklmnopqrstuvwxyz'[i % 26]}{i:026d}" for i in range(25_003)]


def table(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"appid": "wx1234567890abcdef",
                            "secret": Secret("channels.wechat.secret", "WX_SECRET"),
                            "token": Secret("channels.wechat.token", "WX_TOKEN"),
                            "account_type": "service"}
    return {k: v for k, v in (base | changes).items() if v is not None}


def news(**changes: Any) -> dict[str, Any]:
    return {"msgtype": "mpnews", "media_id": "m1", "audience": {"all": True}} | changes


def messages(options: dict[str, Any]) -> list[str]:
    return [f"{'.'.join(map(str, p.path))}: {p.message}" for p in wp.problems(options)]


@pytest.mark.parametrize(("changes", "key", "message"), [
    ({"appid": None}, "appid", "is required"),
    ({"appid": "1234"}, "appid", 'starts with "wx"'),
    ({"secret": "plain-text"}, "secret", "must not be written in the file"),
    ({"token": None}, "token", 'write token = "env:WECHAT_TOKEN"'),
    ({"account_type": "enterprise"}, "account_type", '"service" or "subscription"'),
    ({"mass_per_minute": 61}, "mass_per_minute", "from 1 to 60"),
    ({"rate": 0}, "rate", "positive number of API calls per second"),
    ({"colour": "red"}, "colour", "unknown key; allowed: account_type"),
    ({"clientmsgid_prefix": "with space"}, "clientmsgid_prefix", "1-16 letters"),
])
def test_settings_errors_name_the_key(changes: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(table(**changes))
    assert caught.value.key == f"channels.wechat.{key}"
    assert message in caught.value.message


def test_settings_mass_sends_cost_a_minute_share_of_the_rate() -> None:
    settings = parse_settings(table(rate=20, mass_per_minute=60))
    assert settings.mass_cost == 20  # 20 calls/s: a mass send every second, 60 a minute
    assert parse_settings(table(rate=20, mass_per_minute=30)).mass_cost == 40


@pytest.mark.parametrize(("options", "expected"), [
    ({"msgtype": "video"}, "msgtype: is \"video\"; allowed: text, image, mpnews, template"),
    (news(media_id=None), 'media_id: is required for msgtype = "mpnews"'),
    (news(content="hi"), 'content: is not used by msgtype = "mpnews" (only by "text")'),
    (news(audience={"all": True, "tags": [1]}), "audience: must name exactly one of all"),
    (news(audience={"tags": [1, 1]}), "audience.tags: lists a tag twice"),
    (news(audience={"tags": ["north"]}), "audience.tags: must be a list of tag ids"),
    (news(audience={"openids": ["o" + "a" * 27]}), "audience.openids: must be a list of at "
                                                   "least 2 openids"),
    (news(audience={"openids": ["o" + "a" * 27, "bad id"]}),
     'audience.openids.1: "bad id" is not an openid'),
    (news(audience={"openids": ["o" + "a" * 27] * 2}), "audience.openids.1: oaaaaaaaaaaaaa"
                                                       "aaaaaaaaaaaaaa is listed twice"),
    ({"msgtype": "template", "template_id": "t", "data": {"first": "x"},
      "audience": {"all": True}}, "audience.all: a template message goes to listed followers"),
    ({"msgtype": "template", "template_id": "t", "data": {"first": 3},
      "audience": {"openids": ["o" + "a" * 27]}}, "data.first: must be a string"),
    ({"msgtype": "text", "content": "x" * 2049, "audience": {"all": True}},
     "content: is 2049 characters, more than 2048"),
])
def test_placement_problems(options: dict[str, Any], expected: str) -> None:
    found = messages({k: v for k, v in options.items() if v is not None})
    assert any(expected in line for line in found), found


def test_a_good_placement_has_no_problems() -> None:
    assert messages(news(send_ignore_reprint=True, name="letter")) == []


def test_openid_lists_split_into_batches_of_2_to_10000() -> None:
    options = news(audience={"openids": OPENIDS})
    jobs = wp.jobs(options)
    assert [(j.batch, j.batches) for j in jobs] == [(1, 3), (2, 3), (3, 3)]
    batches = [wp.batch(OPENIDS, j.batch, j.batches) for j in jobs]
    assert [len(b) for b in batches] == [8335, 8334, 8334]
    assert [o for b in batches for o in b] == OPENIDS
    assert [len(wp.batch(OPENIDS[:10_001], n, 2)) for n in (1, 2)] == [5001, 5000]
    path, body = wp.mass_request(options, jobs[1], "dsp-7")
    assert path == "message/mass/send" and body["touser"] == batches[1]
    assert body["clientmsgid"] == "dsp-7" and body["mpnews"] == {"media_id": "m1"}


def test_rows_name_their_placement_and_parse_back() -> None:
    mass = list(WeChatChannel().targets(Placement(2, "wechat", news(audience={"tags": [7, 9]})),
                                        inventory=None))  # type: ignore[arg-type]
    assert [t.address for t in mass] == ["tag:7@2", "tag:9@2"]
    assert [t.sort_key for t in mass] == sorted(t.sort_key for t in mass)
    assert wp.parse_job("tag:9@2") == wp.Job("tag", tag=9)
    assert wp.parse_job("openids:2/3@0") == wp.Job("openids", batch=2, batches=3)
    assert wp.parse_job(OPENIDS[0]) is None
    template = {"msgtype": "template", "template_id": "t", "data": {"first": "x"},
                "audience": {"openids": OPENIDS[:50][::-1]}}
    rows = list(wp.targets(Placement(0, "wechat", template)))
    assert [r.address for r in rows] == sorted(OPENIDS[:50])
    assert min(r.sort_key for r in rows) > max(t.sort_key for t in mass)


def test_tag_sends_use_the_current_request_shape() -> None:
    path, body = wp.mass_request(news(audience={"tags": [100]}), wp.Job("tag", tag=100), "x-1")
    assert path == "message/mass/sendall"
    assert body["filter"] == {"is_to_all": False, "tag_id": 100}
    assert "group_id" not in str(body)


def firings(days: int, per_day: int = 1) -> list[datetime]:
    start = datetime(2030, 3, 1, 9, tzinfo=TZ)
    return [start + timedelta(days=d, hours=h) for d in range(days) for h in range(per_day)]


def test_a_subscription_account_broadcasts_once_a_day() -> None:
    channel = WeChatChannel(parse_settings(table(account_type="subscription")))
    one = [Placement(0, "wechat", news())]
    assert channel.check_campaign(one, firings(30), CTX) == []
    [(index, problem)] = channel.check_campaign(one, firings(3, per_day=2), CTX)
    assert index == 0 and "can broadcast once a day" in problem.message
    assert "2 broadcasts on 2030-03-01" in problem.message
    two_tags = [Placement(1, "wechat", news(audience={"tags": [1, 2]}))]
    assert channel.check_campaign(two_tags, firings(1), CTX)[0][0] == 1


def test_a_service_account_reaches_a_follower_four_times_a_month() -> None:
    channel = WeChatChannel(parse_settings(table()))
    march = [f for f in firings(31) if f.weekday() == 0]  # 4 Mondays in March 2030
    assert channel.check_campaign([Placement(0, "wechat", news())], march, CTX) == []
    april = [f for f in firings(61) if f.weekday() == 0 and f.month == 4]  # 5 Mondays
    [(_, problem)] = channel.check_campaign([Placement(0, "wechat", news())], april, CTX)
    assert "5 times in 2030-04" in problem.message
    [(_, problem)] = channel.check_campaign([Placement(0, "wechat", news())], firings(5), CTX)
    assert "at most 4 times a month" in problem.message and "5 firing(s)" in problem.message
    assert WeChatChannel().check_campaign([Placement(0, "wechat", news())], firings(9), CTX) == []


def request(url: str, body: str = "") -> CallbackRequest:
    return CallbackRequest(url=url, headers={}, form={}, body=body.encode())


def sign(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def test_url_check_and_signatures() -> None:
    good = sign("tok", "1", "n")
    assert echo("tok", request(f"http://h/e?signature={good}&timestamp=1&nonce=n&echostr=hi")
                ) == "hi"
    with pytest.raises(SignatureError):
        echo("tok", request("http://h/e?signature=00&timestamp=1&nonce=n&echostr=hi"))
    with pytest.raises(SignatureError, match="no encoding_aes_key"):
        event_xml("tok", None, "wx1", request(
            f"http://h/e?signature={good}&timestamp=1&nonce=n&encrypt_type=aes", "<xml/>"),
                  now=1)


def event(kind: str, **fields: str) -> str:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    return (f"<xml><ToUserName>gh</ToUserName><FromUserName>mphelper</FromUserName>"
            f"<CreateTime>1</CreateTime><MsgType>event</MsgType><Event>{kind}</Event>"
            f"{inner}</xml>")


def test_events_become_receipts_and_reports() -> None:
    found = events_from(event("MASSSENDJOBFINISH", MsgID="77", Status=MASS_SUCCESS,
                              TotalCount="100", FilterCount="90", SentCount="88",
                              ErrorCount="2"))
    [receipt] = found.receipts
    assert (receipt.provider_ref, receipt.state, receipt.code) == ("77", "delivered", None)
    assert {r.metric: r.value for r in found.reports} == {
        "audience": 100, "filtered": 90, "recipients": 88, "errors": 2}
    failed = events_from(event("MASSSENDJOBFINISH", MsgID="78", Status="err(30003)",
                               TotalCount="1", FilterCount="0", SentCount="0",
                               ErrorCount="0")).receipts[0]
    assert (failed.state, failed.code) == ("failed", "err(30003)")
    blocked = events_from(event("TEMPLATESENDJOBFINISH", MsgID="9",
                                Status="failed:user block")).receipts[0]
    assert (blocked.state, blocked.opt_out) == ("failed", True)
    assert events_from(event("subscribe")) == ([], [])


# Proof of each push: safe mode, fresh timestamps, nonce shape, safe XML --------------------

AES_KEY = "cHVibGljaXR5LWRpc3BhdGNoZXItc2FuZGJveC1rZXk"
NOW = 1_900_000_000


def signed_url(timestamp: str, nonce: str, token: str = "tok", **extra: str) -> str:
    query = {"signature": sign(token, timestamp, nonce), "timestamp": timestamp,
             "nonce": nonce, **extra}
    return "http://h/e?" + urlencode(query)


def encrypted(xml: str | bytes, timestamp: str, nonce: str, key: str = AES_KEY,
              appid: str = "wx1") -> tuple[dict[str, str], str]:
    """(query additions, body) of a push as WeChat makes it in safe mode."""
    packed = WeChatCrypto("tok", key, appid).encrypt_message(xml, nonce, timestamp)
    found = dict(re.findall(r"<(\w+)><!\[CDATA\[(.*?)\]\]>", packed))
    body = (f"<xml><ToUserName><![CDATA[gh]]></ToUserName>"
            f"<Encrypt><![CDATA[{found['Encrypt']}]]></Encrypt></xml>")
    return {"encrypt_type": "aes", "msg_signature": found["MsgSignature"]}, body


JOB = event("MASSSENDJOBFINISH", MsgID="77", Status=MASS_SUCCESS, TotalCount="9",
            FilterCount="9", SentCount="9", ErrorCount="0")


def test_a_fresh_signed_push_is_taken_in_both_modes() -> None:
    ts = str(NOW)
    assert event_xml("tok", None, "wx1", request(signed_url(ts, "n1"), JOB), NOW) == JOB
    assert event_xml("tok", None, "wx1", request(
        signed_url(ts, "n1", encrypt_type="raw"), JOB), NOW) == JOB
    extra, body = encrypted(JOB, ts, "n2")
    assert event_xml("tok", AES_KEY, "wx1", request(signed_url(ts, "n2", **extra), body),
                     NOW) == JOB
    for skew in (-300, 300):  # the edges of the window
        stamp = str(NOW + skew)
        assert event_xml("tok", None, "wx1", request(signed_url(stamp, "n3"), JOB), NOW)


@pytest.mark.parametrize("timestamp", [
    str(NOW - 301), str(NOW + 301), str(NOW - 86_400 * 365), "0", str(NOW + 10**6),
    "abc", "1e9", "", "-5", " 1900000000", "1900000000.5", "9" * 13, "１９００"],
    ids=["old", "future", "a-year-old", "zero", "far-future", "letters", "exponent",
         "empty", "negative", "space", "fraction", "13-digits", "fullwidth"])
def test_stale_future_or_odd_timestamps_are_refused(timestamp: str) -> None:
    with pytest.raises(SignatureError, match="timestamp"):
        event_xml("tok", None, "wx1", request(signed_url(timestamp, "n"), JOB), NOW)
    extra, body = encrypted(JOB, timestamp, "n")
    with pytest.raises(SignatureError, match="timestamp"):
        event_xml("tok", AES_KEY, "wx1", request(signed_url(timestamp, "n", **extra), body),
                  NOW)


@pytest.mark.parametrize("nonce", ["", "a b", "x" * 65, "中文", "n\n", "\x00", "\u00a0"])
def test_odd_nonces_are_refused(nonce: str) -> None:
    with pytest.raises(SignatureError, match="nonce"):
        event_xml("tok", None, "wx1", request(signed_url(str(NOW), nonce), JOB), NOW)


@pytest.mark.parametrize("mode", [None, "raw", "", "AES", "aes256", "des", "none"])
def test_safe_mode_refuses_every_plain_body_with_a_valid_signature(mode: str | None) -> None:
    extra = {} if mode is None else {"encrypt_type": mode}
    with pytest.raises(SignatureError, match="safe mode"):
        event_xml("tok", AES_KEY, "wx1", request(signed_url(str(NOW), "n", **extra), JOB),
                  NOW)


def test_safe_mode_refuses_encrypted_bodies_it_cannot_prove() -> None:
    ts = str(NOW)
    extra, body = encrypted(JOB, ts, "n")
    other_extra, other_body = encrypted(JOB.replace(">9<", ">424242<"), ts, "n")
    shapes = {
        "no msg_signature": (extra | {"msg_signature": ""}, body),
        "zeros": (extra | {"msg_signature": "0" * 40}, body),
        "signature of another body": (extra, other_body),
        "body of another signature": (other_extra, body),
        "query signature as msg_signature": (
            extra | {"msg_signature": sign("tok", ts, "n")}, body),
        "plain body, encrypt_type aes": (extra, JOB),
        "empty Encrypt": (extra, "<xml><Encrypt></Encrypt></xml>"),
    }
    for name, (query_extra, shape_body) in shapes.items():
        with pytest.raises(SignatureError):
            event_xml("tok", AES_KEY, "wx1", request(signed_url(ts, "n", **query_extra),
                                                     shape_body), NOW)
            pytest.fail(f"{name} was taken")
    stranger_extra, stranger = encrypted(JOB, ts, "n", appid="wx2")
    with pytest.raises(SignatureError, match="another account"):
        event_xml("tok", AES_KEY, "wx1", request(signed_url(ts, "n", **stranger_extra),
                                                 stranger), NOW)
    with pytest.raises(SignatureError, match="signature"):  # the plain signature still counts
        event_xml("tok", AES_KEY, "wx1", request(signed_url(ts, "n", token="other", **extra),
                                                 body), NOW)


def billion_laughs(fields: str) -> str:
    """An event of ``fields`` whose Status expands nine entities tenfold each (10**9 a's)."""
    return ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
            + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'
                      for i in range(8))
            + f"]><xml>{fields}<Status>&i;</Status></xml>")


def external_entity(fields: str) -> str:
    """An event of ``fields`` whose Status is an external entity: /etc/passwd."""
    return ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            f"<xml>{fields}<Status>&x;</Status></xml>")


LAUGHS = billion_laughs("<MsgType>event</MsgType><Event>MASSSENDJOBFINISH</Event>")
XXE = external_entity("<MsgType>event</MsgType>")
MALFORMED_XML = {
    "not xml": "success",
    "unclosed": "<xml><MsgType>event</MsgType>",
    "billion laughs": LAUGHS,
    "external entity": XXE,
    "external dtd": '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml/>',
    "undefined entity": "<xml><Status>&nope;</Status></xml>",
    "another root": "<event><MsgType>event</MsgType></event>",
    "twice SentCount": JOB.replace("</xml>", "<SentCount>424242</SentCount></xml>"),
    "SentCount letters": JOB.replace(">9</SentCount>", ">abc</SentCount>"),
    "SentCount negative": JOB.replace(">9</SentCount>", ">-1</SentCount>"),
    "SentCount exponent": JOB.replace(">9</SentCount>", ">1e30</SentCount>"),
    "SentCount 2**63": JOB.replace(">9</SentCount>", f">{2**63}</SentCount>"),
    "SentCount 30 digits": JOB.replace(">9</SentCount>", f">{10**29}</SentCount>"),
    "SentCount arabic digits": JOB.replace(">9</SentCount>", ">٩</SentCount>"),
    "MsgID letters": JOB.replace(">77<", ">x77<"),
    "MsgID empty": JOB.replace(">77<", "><"),
    "MsgID 30 digits": JOB.replace(">77<", f">{10**29}<"),
    "Status missing": JOB.replace(f"<Status>{MASS_SUCCESS}</Status>", ""),
    "Status huge": JOB.replace(MASS_SUCCESS, "x" * 300),
}


@pytest.mark.parametrize("xml", MALFORMED_XML.values(), ids=MALFORMED_XML.keys())
def test_malformed_events_are_refused_as_malformed(xml: str) -> None:
    with pytest.raises(MalformedRequest):
        events_from(xml)
    extra, body = encrypted(xml, str(NOW), "n")  # the same inside a proven safe-mode push
    with pytest.raises(MalformedRequest):
        events_from(event_xml("tok", AES_KEY, "wx1", request(
            signed_url(str(NOW), "n", **extra), body), NOW))


@pytest.mark.parametrize("body", [
    b"\xff\xfe<xml/>", "<xml><Status>caf\xe9</Status></xml>".encode("latin-1"),
    "<xml><Status>平安</Status></xml>".encode("gb18030"), b"<xml>" + b"a" * 70_000 + b"</xml>",
    b"<xml><Encrypt>" + b"A" * 70_000 + b"</Encrypt></xml>", b"<xml><Encrypt>", LAUGHS.encode(),
    XXE.encode()], ids=["bom", "latin-1", "gb18030", "huge", "huge Encrypt", "unclosed",
                         "billion laughs", "external entity"])
def test_unreadable_bodies_are_refused_as_malformed(body: bytes) -> None:
    url = signed_url(str(NOW), "n")
    with pytest.raises(MalformedRequest):
        events_from(event_xml("tok", None, "wx1", CallbackRequest(url, {}, {}, body), NOW))
    safe = signed_url(str(NOW), "n", encrypt_type="aes", msg_signature="0" * 40)
    with pytest.raises(MalformedRequest):  # the outer body is read before msg_signature
        event_xml("tok", AES_KEY, "wx1", CallbackRequest(safe, {}, {}, body), NOW)


@pytest.mark.parametrize("plain", [b"\xff\xfe<xml/>", b"", b"x" * 33],
                         ids=["not utf-8", "empty", "odd"])
def test_encrypted_payloads_that_do_not_decrypt_to_an_event_are_malformed(plain: bytes) -> None:
    extra, body = encrypted(plain, str(NOW), "n")
    with pytest.raises(MalformedRequest):
        events_from(event_xml("tok", AES_KEY, "wx1", request(
            signed_url(str(NOW), "n", **extra), body), NOW))
    garbage = "<xml><Encrypt>not*base64!</Encrypt></xml>"
    crypto_sig = sign_all("tok", str(NOW), "n", "not*base64!")
    with pytest.raises(MalformedRequest):
        event_xml("tok", AES_KEY, "wx1", request(signed_url(
            str(NOW), "n", encrypt_type="aes", msg_signature=crypto_sig), garbage), NOW)


def sign_all(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()
