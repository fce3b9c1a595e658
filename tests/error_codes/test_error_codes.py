"""Every error code the channels can record has an explanation, in Chinese and English.

The codes are collected from the code itself, not from a list kept beside the tables:

- every literal passed as ``code=`` (``SendResult``, ``Receipt``, ``Transition``,
  ``LookupResult``) in ``channels/`` and ``dispatcher/``, with ``str(CONSTANT)`` and
  ``code or "retries"`` resolved, credited to the channel its module belongs to (the
  engine's modules to every channel);
- the Twilio channel's code tables and the codes the Twilio sandbox answers and reports;
- the Aliyun and Tencent Cloud code tables (``channels.sms.aliyun_codes``, ``tencent_codes``);
- the WeChat channel's named errcodes and every errcode the WeChat sandbox answers, the
  broadcast statuses the sandbox reports, and the statuses WeChat documents;
- every HTTP status the partner and cinema sandboxes answer with, and the reasons venue
  reports are refused with.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from channels.sms import aliyun_codes, tencent_codes, twilio_client
from channels.wechat import client as wechat_client
from dispatcher.error_codes import entry, explain, explain_skip, tables
from dispatcher.i18n import use_locale
from dispatcher.sandbox.twilio import options as twilio_options
from dispatcher.sandbox.twilio import wire as twilio_wire
from dispatcher.sandbox.wechat import wire as wechat_wire

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = ("sms", "wechat", "webhook", "cinema", "led")
# Module name prefixes -> the channel whose rows they write; anything else is the engine's.
OWNERS = {"channels.sms": "sms", "channels.wechat": "wechat", "channels.webhook": "webhook",
          "channels.cinema": "cinema", "dispatcher.venues.cinema": "cinema",
          "dispatcher.demo.cinema": "cinema", "channels.led": "led",
          "dispatcher.venues.led": "led"}
# What WeChat documents for its job events (FACTS.md, WeChat's event reference).
WECHAT_STATUSES = ("send fail", *(f"err({n})" for n in (
    10001, 20001, 20002, 20004, 20006, 20008, 20013, 21000, 22000, 30001, 30002, 30003,
    40001, 40002)), "failed:user block", "failed: system failed")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _modules(folder: str) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted((ROOT / folder).rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        yield module, ast.parse(path.read_text(encoding="utf-8"))


def _owner(module: str) -> tuple[str, ...]:
    found = [channel for prefix, channel in OWNERS.items() if module.startswith(prefix)]
    return tuple(found) or CHANNELS


def _values(node: ast.expr, module: str, tree: ast.Module,
            seen: frozenset[str] = frozenset()) -> Iterator[str]:
    """The code strings an expression given as ``code=`` can be, as far as it is literal:
    constants, ``str(CONSTANT)``, ``a or "b"``, ``x if c else "y"``, and a local name
    through what the module assigns to it (``code = None if ok else "partner_failed"``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.BoolOp | ast.IfExp):
        parts = node.values if isinstance(node, ast.BoolOp) else [node.body, node.orelse]
        for part in parts:
            yield from _values(part, module, tree, seen)
    elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
          and node.func.id == "str" and node.args):
        yield from _values(node.args[0], module, tree, seen)
    elif isinstance(node, ast.Name) and node.id.isupper():
        value = getattr(importlib.import_module(module), node.id)
        if isinstance(value, int | str):
            yield str(value)
    elif isinstance(node, ast.Name) and node.id not in seen:
        for assigned in ast.walk(tree):
            if isinstance(assigned, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == node.id for t in assigned.targets):
                yield from _values(assigned.value, module, tree, seen | {node.id})


def literal_codes() -> set[tuple[str, str]]:
    """(channel, code) for every literal ``code=`` in channels/ and dispatcher/."""
    found = set()
    for folder in ("channels", "dispatcher"):
        for module, tree in _modules(folder):
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                for keyword in node.keywords:
                    if keyword.arg == "code":
                        found |= {(channel, code)
                                  for code in _values(keyword.value, module, tree)
                                  for channel in _owner(module)}
    return found


def cinema_log_codes() -> set[tuple[str, str]]:
    from dispatcher.venues import cinema_logs

    return {("cinema", code) for _state, code, _detail in cinema_logs.STATES.values() if code}


def _http_statuses(node: ast.expr) -> Iterator[str]:
    for found in ast.walk(node):
        if (isinstance(found, ast.Constant) and type(found.value) is int
                and 400 <= found.value <= 599):
            yield str(found.value)


def sandbox_statuses(modules: tuple[str, ...], calls: tuple[str, ...]) -> set[str]:
    """HTTP statuses (4xx, 5xx) a sandbox answers: the first arguments of ``calls`` and
    the values of ``*status*`` keywords (``error_status=(500 if ... else 503)``)."""
    found: set[str] = set()
    for module in modules:
        tree = ast.parse((ROOT / "dispatcher" / "sandbox" / f"{module}.py").read_text("utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in calls and node.args:
                found.update(_http_statuses(node.args[0]))
            for keyword in node.keywords:
                if keyword.arg and "status" in keyword.arg:
                    found.update(_http_statuses(keyword.value))
    return found


def refusal_reasons(path: str, call: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == call
            and node.args and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)}


def emitted() -> set[tuple[str, str]]:
    """Every (channel, code) a row of that channel can be recorded with."""
    codes = literal_codes() | cinema_log_codes()
    twilio = {*twilio_client.PERMANENT_CODES, *twilio_client.RETRY_CODES,
              *twilio_client.OPT_OUT_CODES, *twilio_wire.ERROR_MESSAGES,
              *twilio_options.UNDELIVERED_CODES}
    codes |= {("sms", str(code)) for code in twilio}
    codes |= {("sms", code) for code, _outcome in domestic_codes()}
    wechat = {*wechat_client.HINTS, *wechat_wire.ERRMSGS, wechat_client.ALREADY_SENT,
              wechat_client.BUSY, wechat_client.RATE_LIMITED, *wechat_client.DATE_NOT_READY}
    codes |= {("wechat", str(code)) for code in wechat if code != 0}
    codes |= {("wechat", status) for status in WECHAT_STATUSES}
    codes |= {("webhook", status) for status in
              sandbox_statuses(("partner/server", "partner/options"), ("Outcome",))}
    codes |= {("cinema", status) for status in
              sandbox_statuses(("cinema/bookings",), ("_refuse", "_gone", "Answer"))}
    codes |= {("cinema", reason) for reason in
              refusal_reasons("dispatcher/venues/cinema_logs.py", "refuse")}
    codes |= {("led", reason) for reason in
              refusal_reasons("dispatcher/venues/led_plausibility.py", "Verdict")}
    return codes


def domestic_codes() -> set[tuple[str, str]]:
    """(code, outcome) for every code the Aliyun and Tencent Cloud modules classify."""
    found = set()
    for module in (aliyun_codes, tencent_codes):
        for table in (module.PERMANENT, module.RETRY, module.UNKNOWN):
            found |= {(code, module.classify(code).outcome) for code in table}
    return found


def test_the_collection_finds_what_it_should() -> None:
    """Guards the collector itself: a regression there would hide missing codes."""
    codes = emitted()
    for expected in [("sms", "21211"), ("sms", "30007"), ("sms", "20503"), ("sms", "retries"),
                     ("wechat", "45009"), ("wechat", "network"), ("wechat", "unverified"),
                     ("wechat", "http"), ("wechat", "err(40002)"), ("webhook", "endpoint"),
                     ("webhook", "partner_failed"), ("webhook", "503"), ("cinema", "409"),
                     ("cinema", "no-system"), ("cinema", "dropped"),
                     ("cinema", "above_capacity"), ("led", "above_schedule"),
                     ("sms", "isv.BUSINESS_LIMIT_CONTROL"),
                     ("sms", "LimitExceeded.PhoneNumberDailyLimit")]:
        assert expected in codes
    assert len(codes) > 90


def test_every_code_the_channels_emit_has_an_entry() -> None:
    explained = tables()
    missing = sorted((channel, code) for channel, code in emitted()
                     if entry.key(code) not in explained[channel])
    assert not missing, f"codes without an explanation in dispatcher/error_codes: {missing}"


@pytest.mark.parametrize(("channel", "code", "meaning"), [
    ("sms", "30003", "unreachable"), ("sms", "21610", "unsubscribed"),
    ("wechat", "Err(20001)", "political"), ("wechat", "failed: system failed", "system"),
    ("wechat", "failed:user block", "blocked"), ("webhook", "429", "slow down"),
    ("cinema", "cancelled", "cancelled"), ("led", "duplicate", "twice"),
    ("sms", "network", "network"), ("cinema", "retries", "gave up"),
])
def test_explanations_say_what_happened_and_what_to_do(channel: str, code: str,
                                                       meaning: str) -> None:
    found = explain(channel, code)
    assert found is not None and found.known
    assert meaning in found.meaning and found.action


def test_codes_not_in_the_tables_get_a_hint_or_nothing() -> None:
    hint = explain("sms", "30450")
    assert hint is not None and not hint.known
    assert "twilio.com/docs/errors/30450" in hint.action
    assert explain("wechat", "err(77777)") is not None
    web = explain("webhook", "418")
    assert web is not None and "418" in web.meaning and not web.known
    assert explain("led", "mystery") is None
    assert explain("sms", None) is None and explain("sms", "  ") is None


def test_retrying_is_offered_only_where_it_can_help() -> None:
    invalid, unreachable = explain("sms", "21211"), explain("sms", "30003")
    assert invalid is not None and not invalid.retry
    assert unreachable is not None and unreachable.retry


def test_domestic_explanations_agree_with_the_classification() -> None:
    """A code the dispatcher retries or looks up offers a retry; an opted-out person never
    does; the daily limits (failed today) offer one for tomorrow."""
    wrong = []
    for code, outcome in sorted(domestic_codes()):
        found = explain("sms", code)
        assert found is not None and found.known, code
        opted_out = code in aliyun_codes.OPT_OUT | tencent_codes.OPT_OUT
        if (outcome != "failed" and not found.retry) or (opted_out and found.retry):
            wrong.append((code, outcome, found.retry))
    assert not wrong
    for daily in ("LimitExceeded.PhoneNumberDailyLimit", "isv.DAY_LIMIT_CONTROL"):
        found = explain("sms", daily)
        assert found is not None and found.retry and "tomorrow" in found.action
    for invalid in ("isv.MOBILE_NUMBER_ILLEGAL", "InvalidParameterValue.IncorrectPhoneNumber"):
        found = explain("sms", invalid)
        assert found is not None and not found.retry


def test_domestic_codes_not_in_the_tables_point_to_the_provider() -> None:
    aliyun = explain("sms", "isv.SOMETHING_NEW")
    tencent = explain("sms", "FailedOperation.SomethingNew")
    assert aliyun is not None and not aliyun.known and "help.aliyun.com" in aliyun.action
    assert "isv.SOMETHING_NEW" in aliyun.meaning
    assert tencent is not None and not tencent.known
    assert "cloud.tencent.com" in tencent.action
    assert explain("sms", "Unheard.Of") is None


def test_codes_cut_to_the_stored_length_are_still_explained() -> None:
    """Delivery rows keep 32 characters of a code; many Tencent Cloud codes are longer."""
    code = "FailedOperation.TemplateIncorrectOrUnapproved"
    found, whole = explain("sms", code[:32]), explain("sms", code)
    assert found is not None and whole is not None and found.known
    assert found.meaning == whole.meaning
    # Two codes start with these 32 characters: only a hint, not a guess.
    ambiguous = explain("sms", "InvalidParameterValue.TemplateParameterLengthLimit"[:32])
    assert ambiguous is not None and not ambiguous.known


def test_domestic_explanations_are_chinese_first() -> None:
    with use_locale("zh_CN"):
        found = explain("sms", "isv.AMOUNT_NOT_ENOUGH")
        daily = explain("sms", "LimitExceeded.PhoneNumberDailyLimit")
    assert found is not None and HAN.search(found.meaning) and HAN.search(found.action)
    assert daily is not None and HAN.search(daily.meaning) and HAN.search(daily.action)


def test_skip_reasons_are_explained() -> None:
    from channels.base import SKIP_REASONS

    for reason in SKIP_REASONS:
        found = explain_skip(reason)
        assert found is not None and found.meaning.startswith("Not sent")
    assert explain_skip(None) is None and explain_skip("lost") is None


def test_explanations_are_translated_when_asked_for() -> None:
    """Passes once the "operator" fragment is merged into the catalogs."""
    with use_locale("zh_CN"):
        found = explain("sms", "30003")
        skipped = explain_skip("capped")
    assert found is not None and skipped is not None
    assert HAN.search(found.meaning) and HAN.search(found.action)
    assert HAN.search(skipped.meaning)
    english = explain("sms", "30003")
    assert english is not None and not HAN.search(english.meaning)
