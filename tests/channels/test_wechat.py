"""The WeChat channel without a network: settings, placement checks, rows, quotas, events."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from channels import wechat_placement as wp
from channels.base import (
    CallbackRequest,
    ConfigError,
    Placement,
    SignatureError,
    ValidationContext,
)
from channels.wechat import WeChatChannel
from channels.wechat_events import MASS_SUCCESS, decrypted_xml, echo, events_from
from channels.wechat_settings import parse_settings
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
        decrypted_xml("tok", None, "wx1", request(
            f"http://h/e?signature={good}&timestamp=1&nonce=n&encrypt_type=aes", "<xml/>"))


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
