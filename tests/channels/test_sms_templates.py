"""Domestic SMS templates: the config table, the params a placement gives, the text it
renders, what it costs, and the signature's rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

import pytest

from channels.sms.templates import (
    DomesticCount,
    SmsTemplate,
    count_chars,
    has_opt_out_hint,
    parse_templates,
    sign_name_problem,
)

NOTICE = "尊敬的${name}，${district}将于${day}开展防诈宣传，${name}请留意。"
MARKETING = "{1}惠民活动{2}开始，欢迎参加。拒收请回复R"


class Refused(Exception):
    pass


def fail(key: str, message: str) -> NoReturn:
    raise Refused(f"{key}: {message}")


def parse(table: Mapping[str, Any]) -> dict[str, SmsTemplate]:
    return parse_templates(table, fail)


def refused(table: Mapping[str, Any]) -> str:
    with pytest.raises(Refused) as raised:
        parse(table)
    return str(raised.value)


def one(code: str, text: str, kind: str = "notification") -> SmsTemplate:
    return parse({code: {"text": text, "kind": kind}})[code]


# --- the [channels.sms.templates] table ----------------------------------------------


def test_a_string_is_an_aliyun_notification_with_named_variables_in_order() -> None:
    template = parse({"SMS_123456789": NOTICE})["SMS_123456789"]
    assert template == SmsTemplate("SMS_123456789", NOTICE, "notification",
                                   ("name", "district", "day"))
    assert template.platform == "aliyun"


def test_a_table_gives_the_kind_and_tencent_variables_by_position() -> None:
    template = parse({"1234567": {"text": MARKETING, "kind": "marketing"}})["1234567"]
    assert (template.kind, template.variables, template.platform) == (
        "marketing", ("1", "2"), "tencent")


def test_a_table_without_kind_is_a_notification() -> None:
    assert parse({"SMS_1": {"text": "您好"}})["SMS_1"].kind == "notification"


@pytest.mark.parametrize(("table", "key", "words"), [
    ({"promo": "您好"}, "promo:", "SMS_"),
    ({"SMS_1": {"txt": "您好"}}, "SMS_1.txt:", "unknown key"),
    ({"SMS_1": {"text": "您好", "kind": "promo"}}, "SMS_1.kind:", "notification, marketing"),
    ({"SMS_1": {"text": "  "}}, "SMS_1.text:", "approved text"),
    ({"SMS_1": ""}, "SMS_1:", "approved text"),
    ({"SMS_1": 5}, "SMS_1:", "approved text"),
    ({"SMS_1": "您好{1}"}, "SMS_1:", "Aliyun's are ${name}"),
    ({"123": {"text": "您好${name}"}}, "123.text:", "Tencent's are {1}"),
    ({"SMS_1": "您好${a-b}"}, "SMS_1:", "letters, digits and _"),
    ({"123": "您好{1}{3}"}, "123:", "without gaps"),
    ({"123": "您好{0}"}, "123:", "without gaps"),
])
def test_bad_templates_are_refused_naming_the_key(table: Mapping[str, Any], key: str,
                                                  words: str) -> None:
    message = refused(table)
    assert message.startswith(key) and words in message


@pytest.mark.parametrize("text", [
    "活动开始。拒收请回复R", "活动开始，回T退订", "活动开始，退订回T", "活动开始，回TD退订",
    "活动开始，退订回复T", "活动开始，退订回复TD", "活动开始，回复ＴＤ退订", "活动开始 回r拒收",
])
def test_a_marketing_template_with_an_opt_out_hint_is_accepted(text: str) -> None:
    assert has_opt_out_hint(text)
    assert one("SMS_1", text, "marketing").kind == "marketing"


@pytest.mark.parametrize("text", [
    "活动开始。", "活动开始，可退订", "活动开始，回复R", "TEST退订说明", "退订请回复STOP",
    "拒收请回复T",
])
def test_a_marketing_template_without_one_is_refused_naming_the_hint(text: str) -> None:
    assert not has_opt_out_hint(text)
    message = refused({"SMS_1": {"text": text, "kind": "marketing"}})
    assert message.startswith("SMS_1.text:") and "拒收请回复R" in message
    assert one("SMS_1", text).kind == "notification"  # only marketing needs one


# --- params ------------------------------------------------------------------------------


def test_aliyun_params_are_rendered_by_name() -> None:
    template = one("SMS_1", NOTICE)
    text = template.render({"name": "张三", "district": "高新区", "day": "周六"})
    assert text == "尊敬的张三，高新区将于周六开展防诈宣传，张三请留意。"


def test_tencent_params_are_rendered_by_position() -> None:
    template = one("1234567", MARKETING, "marketing")
    assert template.render(["五一", "周六"]) == "五一惠民活动周六开始，欢迎参加。拒收请回复R"
    assert template.render(("五一", "周六")).startswith("五一")


def test_render_refuses_bad_params_naming_every_problem() -> None:
    with pytest.raises(ValueError, match=r"missing a value for \$\{district\}.*\$\{day\}"):
        one("SMS_1", NOTICE).render({"name": "张三"})


def test_missing_and_unknown_params_are_named() -> None:
    aliyun = one("SMS_1", NOTICE).param_problems({"name": "a", "day": "b", "area": "c"})
    assert aliyun == ["missing a value for ${district}",
                      "unknown param 'area': the template has ${name}, ${district}, ${day}"]
    tencent = one("123", MARKETING, "marketing")
    assert tencent.param_problems(["a"]) == ["missing a value for {2}"]
    assert tencent.param_problems(["a", "b", "c"]) == [
        "3 params given: the template has {1} to {2}"]
    assert tencent.param_problems(["a", "b"]) == []


def test_each_platform_takes_its_own_shape_of_params() -> None:
    aliyun, tencent = one("SMS_1", NOTICE), one("123", MARKETING, "marketing")
    assert "takes params as a table" in aliyun.param_problems(["a", "b", "c"])[0]
    assert "takes params as a list" in tencent.param_problems({"1": "a", "2": "b"})[0]
    assert "takes params as a list" in tencent.param_problems("ab")[0]


def test_values_must_be_strings() -> None:
    assert one("SMS_1", "您好${n}").param_problems({"n": 5}) == [
        "${n} must be text (a string), got 5"]
    assert one("123", "您好{1}").param_problems([5]) == ["{1} must be text (a string), got 5"]


def test_a_template_without_variables_takes_no_params() -> None:
    for code in ("SMS_1", "123"):
        template = one(code, "今晚广场放映。")
        assert template.variables == ()
        assert template.param_problems(None) == template.param_problems({}) == []
        assert template.param_problems([]) == []
        assert template.render(None) == "今晚广场放映。"
    assert one("SMS_1", "您好").param_problems({"x": "1"}) == [
        "unknown param 'x': the template has no variables"]
    assert one("123", "您好").param_problems(["1"]) == [
        "1 params given: the template has no variables"]


def test_aliyun_notification_variables_hold_35_characters() -> None:
    template = one("SMS_1", "您好${n}")
    assert template.param_problems({"n": "字" * 35}) == []
    assert template.param_problems({"n": "字" * 36}) == [
        "${n} is 36 characters: Aliyun allows 35 per variable of a notification"]
    # Documented for notifications only.
    assert one("SMS_1", "您好${n}，拒收请回复R", "marketing").param_problems({"n": "字" * 36}) == []


def test_tencent_verification_variables_are_up_to_six_digits() -> None:
    template = one("123", "验证码{1}，5分钟内有效。", "verification")
    assert template.param_problems(["123456"]) == template.param_problems([""]) == []
    assert template.param_problems(["1234567"])
    assert template.param_problems(["12a4"])
    assert one("123", "您好{1}").param_problems(["1234567"]) == []  # notifications: no rule


@pytest.mark.parametrize("value", ["http://x.cn/a", "详见HTTPS://x.cn", "www.x.cn"])
def test_variables_may_not_hold_web_addresses(value: str) -> None:
    assert "web address" in one("SMS_1", "您好${n}").param_problems({"n": value})[0]
    assert "web address" in one("123", "您好{1}").param_problems([value])[0]


# --- length and cost ----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "chars", "parts"), [
    ("字" * 64, 70, 1),         # 【平安高新】 is 6: 70 in one message
    ("字" * 65, 71, 2),
    ("a" * 128, 134, 2),        # 2 x 67
    ("a 1," * 32 + "a", 135, 3),
    ("", 6, 1),
])
def test_characters_and_parts_count_the_signature(text: str, chars: int, parts: int) -> None:
    assert count_chars(text, "平安高新") == DomesticCount(chars, parts)


# --- the signature --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["平安高新", "高新", "ABC公司12", "一" * 12])
def test_good_signatures(value: str) -> None:
    assert sign_name_problem(value) is None


@pytest.mark.parametrize(("value", "words"), [
    ("【平安高新】", "leave out the 【】"), ("[平安高新]", "leave out the 【】"),
    ("高", "2 to 12"), ("一" * 13, "2 to 12"), ("平安 高新", "only Chinese"),
    ("平安·高新", "only Chinese"), (None, "as text"), (5, "as text"),
])
def test_bad_signatures(value: Any, words: str) -> None:
    problem = sign_name_problem(value)
    assert problem is not None and words in problem
