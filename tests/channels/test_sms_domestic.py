"""The SMS channel's Aliyun and Tencent accounts: settings, template placements, limits,
batches and the pushes of receipts and replies (the sending itself is tested against the
sandboxes in tests/e2e/test_send_domestic_sms.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from channels.base import (
    CallbackRequest,
    ConfigError,
    MalformedRequest,
    Message,
    Placement,
    SignatureError,
    ValidationContext,
)
from channels.sms.channel import SmsChannel
from channels.sms.settings import AliyunSettings, TencentSettings

KNOWN = ValidationContext(known_lists=frozenset({"residents"}))
NOTICE = "扫黑除恶，人人有责。发现线索请拨打${hotline}。"
MARKETING = {"text": "${district}居民您好，欢迎参加平安宣传周。拒收请回复R", "kind": "marketing"}


class Env:
    def __init__(self, value: str) -> None:
        self.value = value

    def reveal(self) -> str:
        return self.value


def aliyun_table(**changes: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "provider": "aliyun", "access_key_id": "LTAI5tExample", "sign_name": "平安高新",
        "access_key_secret": Env("secret"), "callback_token": Env("t0ken-now"),
        "previous_callback_token": Env("t0ken-old"),
        "templates": {"SMS_100": NOTICE, "SMS_200": MARKETING, "SMS_300": "${a}，${b}，${c}",
                      "1234567": "您好{1}，请拨打{2}"},
        "accounts": {"tencent": {"provider": "tencent", "secret_id": "AKIDexample",
                                 "secret_key": Env("key"), "sdk_app_id": "1400000000",
                                 "sign_name": "平安高新", "callback_token": Env("tc-token"),
                                 "callback_sources": ["127.0.0.1", "10.0.0.0/8"]}}}
    table.update(changes)
    return {k: v for k, v in table.items() if v is not None}


def channel(**changes: Any) -> SmsChannel:
    return SmsChannel.from_config(aliyun_table(**changes))


def problems(options: dict[str, Any], sms: SmsChannel | None = None) -> list[tuple[Any, str]]:
    return [(p.path, p.message) for p in (sms or channel()).validate(options, KNOWN)]


def template_placement(**changes: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"audience": {"lists": ["residents"]}, "template": "SMS_100",
                               "params": {"hotline": "110"}}
    options.update(changes)
    return {k: v for k, v in options.items() if v is not None}


# Settings


def test_accounts_by_name_each_with_its_provider_and_defaults() -> None:
    settings = channel().settings
    assert settings is not None
    default, tencent = settings.accounts["default"], settings.accounts["tencent"]
    assert isinstance(default, AliyunSettings) and isinstance(tencent, TencentSettings)
    assert (default.batch_size, tencent.batch_size) == (1000, 200)
    assert (default.rate, default.endpoint, tencent.region) == (100.0, None, "ap-guangzhou")
    assert [str(n) for n in tencent.callback_sources] == ["127.0.0.1/32", "10.0.0.0/8"]
    assert settings.concurrency == 16  # calls in flight over both accounts


@pytest.mark.parametrize(("changes", "key", "message"), [
    ({"access_key_secret": "plain"}, "channels.sms.access_key_secret",
     'must not be written in the file: write access_key_secret = "env:ALIYUN_ACCESS_KEY_'
     'SECRET" and set that environment variable'),
    ({"batch_size": 1001}, "channels.sms.batch_size",
     "must be an integer from 1 to 1000, got 1001"),
    ({"endpoint": "127.0.0.1:8767"}, "channels.sms.endpoint",
     'must be an http or https address such as "http://127.0.0.1:8767" (no path), got '
     '"127.0.0.1:8767"'),
    ({"account_sid": "AC1"}, "channels.sms.account_sid", "unknown key; allowed: "
     "access_key_id, access_key_secret, accounts, batch_size, callback_sources, "
     "callback_token, concurrency, endpoint, max_segments, previous_callback_token, "
     "provider, rate, sign_name, templates, timeout"),
    ({"callback_sources": ["not-an-ip"]}, "channels.sms.callback_sources",
     '"not-an-ip" is not an address or network; write them such as ["100.100.0.0/16", '
     '"203.0.113.7"]'),
    ({"accounts": {"Bad Name": {}}}, "channels.sms.accounts.Bad Name",
     "an account's name is 1 to 32 lower-case letters, digits, _ and - starting with a "
     'letter, other than "default"'),
    ({"accounts": {"tc": {"provider": "tencent", "secret_id": "x", "secret_key": Env("k"),
                          "sdk_app_id": "999"}}},
     "channels.sms.accounts.tc.sdk_app_id", "must be the SMS application's SdkAppId, 10 "
     'digits starting with 14, such as "1400000000", got "999"'),
    ({"accounts": {"tc": {"secret_id": "x"}}}, "channels.sms.accounts.tc.provider",
     'must be "twilio", "aliyun" or "tencent", got nothing'),
])
def test_bad_settings_name_the_key(changes: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        channel(**changes)
    assert (caught.value.key, caught.value.message) == (key, message)


# Placements


def test_a_template_placement_is_valid_and_costs_one_call() -> None:
    sms = channel()
    assert problems(template_placement()) == []
    placement = Placement(0, "sms", template_placement())
    assert sms.message_cost(placement) == 1
    assert sms.batch_size(placement) == 1000
    assert sms.account_limits(placement).key == "aliyun:LTAI5tExample"


def test_contact_fields_make_batches_of_per_number_params() -> None:
    sms = channel()
    aliyun = Placement(0, "sms", template_placement(
        template="SMS_200", params={"district": {"contact": "district"}}))
    tencent = Placement(1, "sms", template_placement(
        account="tencent", template="1234567", params=[{"contact": "name"}, "110"]))
    assert problems(dict(aliyun.options)) == []
    assert problems(dict(tencent.options)) == []
    assert (sms.batch_size(aliyun), sms.contact_fields(aliyun)) == (100, ("district",))
    assert (sms.batch_size(tencent), sms.contact_fields(tencent)) == (1, ("name",))
    assert sms.account_limits(tencent).key == "tencent:AKIDexample"


@pytest.mark.parametrize(("changes", "expected"), [
    ({"template": "SMS_999"}, [(("template",), '"SMS_999" is not in [channels.sms.templates];'
                                              " known: 1234567, SMS_100, SMS_200, SMS_300")]),
    ({"body": "hi"}, [(("body",), "the Aliyun and Tencent platforms send approved templates "
                                  "only: write template and params instead of body")]),
    ({"account": "nobody"}, [(("account",), '"nobody" is not a configured SMS account; '
                                            "known: default, tencent")]),
    ({"template": "1234567", "params": ["张三", "110"]},
     [(("template",), "is a tencent template; account default sends through aliyun")]),
    ({"params": {"hotline": {"contact": "phone"}}},
     [(("params", "hotline"), 'a contact field is written { contact = "name" } or { contact '
                              "= \"district\" }, got { contact = \"phone\" }")]),
    ({"template": None}, [(("template",), "is required: the approved template's code, such as "
                                          'template = "SMS_123456789"')]),
])
def test_template_placement_problems(changes: dict[str, Any],
                                     expected: list[tuple[Any, str]]) -> None:
    assert problems(template_placement(**changes)) == expected


LONG = {"a": "一" * 35, "b": "二" * 35, "c": "三" * 35}  # 113 characters with the signature


def test_too_long_a_rendering_is_refused_with_its_count() -> None:
    assert problems(template_placement(template="SMS_300", params=LONG)) == []
    assert problems(template_placement(template="SMS_300", params=LONG, max_segments=1)) == [
        (("template",), "renders to 113 characters with 【平安高新】, 2 parts (70 in one "
                        "message, 67 per part when longer), more than max_segments = 1")]


def test_describe_shows_the_text_as_the_phone_shows_it() -> None:
    from channels.base import Audience

    class NoInventory:
        pass

    facts = dict(channel().describe(Placement(0, "sms", template_placement()),
                                    NoInventory()).facts)  # type: ignore[arg-type]
    assert facts["text"] == "【平安高新】扫黑除恶，人人有责。发现线索请拨打110。"
    assert (facts["provider"], facts["template_id"], facts["signature"]) == (
        "aliyun", "SMS_100", "平安高新")
    assert (facts["characters"], facts["segments"]) == (27, 1)
    assert Audience  # the placement's audience is described by the core


def test_reach_counts_billed_parts() -> None:
    placement = Placement(0, "sms", template_placement(template="SMS_300", params=LONG))
    figures = channel().reach(placement, {"delivered": 10, "sent": 2}, {})
    assert (figures["message_times"].value, figures["segments"].value) == (12, 24)


# Pushes


def push(body: Any, client: str = "127.0.0.1") -> CallbackRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return CallbackRequest(url="http://x/hooks/sms/push", headers={}, form={}, body=raw,
                           client=client)


ALIYUN_REPORT = [{"phone_number": "13800000001", "send_time": "2026-12-08 10:00:00",
                  "report_time": "2026-12-08 10:00:05", "success": True,
                  "err_code": "DELIVERED", "err_msg": "用户接收成功", "sms_size": "1",
                  "biz_id": "12345^0", "out_id": "r7"},
                 {"phone_number": "13800000002", "send_time": "2026-12-08 10:00:00",
                  "report_time": "2026-12-08 10:00:05", "success": False,
                  "err_code": "MK:0001", "err_msg": "", "sms_size": "1",
                  "biz_id": "12345^0", "out_id": "r7"}]


def test_aliyun_reports_become_receipts_by_run_and_number() -> None:
    found = channel().parse_push(push(ALIYUN_REPORT), "default", "report", "t0ken-now")
    assert [(r.provider_ref, r.state, r.code) for r in found.receipts] == [
        ("r7:13800000001", "delivered", None), ("r7:13800000002", "undelivered", "MK:0001")]
    assert json.loads(found.received) == {"code": 0, "msg": "成功"}
    assert json.loads(found.again)["code"] != 0


def test_the_previous_token_still_works_and_others_are_refused() -> None:
    sms = channel()
    assert sms.parse_push(push(ALIYUN_REPORT), "default", "report", "t0ken-old").receipts
    for account, token in (("default", "guess"), ("default", ""), ("tencent", "t0ken-now"),
                           ("nobody", "t0ken-now")):
        with pytest.raises(SignatureError):
            sms.parse_push(push(ALIYUN_REPORT), account, "report", token)


def test_tencent_pushes_only_from_allowed_addresses() -> None:
    report = [{"user_receive_time": "2026-12-08 10:00:05", "nationcode": "86",
               "mobile": "13800000001", "report_status": "SUCCESS", "errmsg": "DELIVRD",
               "description": "用户短信送达成功", "sid": "2019:1234567890"}]
    sms = channel()
    found = sms.parse_push(push(report, "10.1.2.3"), "tencent", "report", "tc-token")
    assert [(r.provider_ref, r.state) for r in found.receipts] == [("2019:1234567890",
                                                                    "delivered")]
    assert json.loads(found.received) == {"result": 0, "errmsg": "OK"}
    with pytest.raises(SignatureError):
        sms.parse_push(push(report, "203.0.113.9"), "tencent", "report", "tc-token")


@pytest.mark.parametrize("text", ["T", "td", " R ", "退订"])
def test_replies_asking_to_stop_opt_out(text: str) -> None:
    reply = [{"phone_number": "13800000001", "send_time": "2026-12-08 10:00:00",
              "content": text, "sign_name": "平安高新", "dest_code": "1", "sequence_id": 1}]
    found = channel().parse_push(push(reply), "default", "reply", "t0ken-now")
    assert [(m.address, m.opt_out) for m in found.replies] == [("+8613800000001", True)]


def test_a_question_is_a_reply_not_an_opt_out() -> None:
    reply = [{"extend": "", "mobile": "13800000001", "nationcode": "86", "sign": "平安高新",
              "text": "怎么举报？", "time": 1796700000}]
    found = channel().parse_push(push(reply), "tencent", "reply", "tc-token")
    assert [(m.body, m.opt_out) for m in found.replies] == [("怎么举报？", False)]


@pytest.mark.parametrize("body", [b"\xff", b"{", json.dumps([1, 2]).encode(),
                                  json.dumps([{"phone_number": "+1 555", "success": True,
                                               "out_id": "r1"}]).encode(),
                                  json.dumps([{"phone_number": "13800000001", "success": "yes",
                                               "out_id": "r1"}]).encode()])
def test_malformed_pushes_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        channel().parse_push(push(body), "default", "report", "t0ken-now")


def test_not_mainland_numbers_fail_without_a_call() -> None:
    sms = channel(endpoint="http://127.0.0.1:9")  # nothing listens: a call would be "retry"
    placement = Placement(0, "sms", template_placement())
    [result] = sms.send_batch([Message(1, "+15005550006", placement, 1, run_id=3)])
    assert (result.outcome, result.code) == ("failed", "not_mainland")
