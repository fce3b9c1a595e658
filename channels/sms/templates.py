"""Approved SMS templates of the domestic platforms, their params, and what a message costs.

Mainland bulk SMS goes out only as a pre-approved template under a registered signature
(签名, shown as 【...】), with values only where the template declares variables. Aliyun
writes its variables ``${name}`` and names templates ``SMS_123456789``; Tencent Cloud
writes ``{1}``, ``{2}``... (filled by position) and numbers templates ``1234567``. The
template's code says whose it is, so a template written in the other platform's style is
refused when the settings are read, not when 3 million messages bounce.

Pure functions, no I/O: the settings check the ``[channels.sms.templates]`` table with
:func:`parse_templates`, placements check their params with
:meth:`SmsTemplate.param_problems`, the review page shows :meth:`SmsTemplate.render`
counted by :func:`count_chars`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, NoReturn

__all__ = ["KINDS", "DomesticCount", "Kind", "SmsTemplate", "count_chars", "has_opt_out_hint",
           "parse_templates", "sign_name_problem"]

Kind = Literal["notification", "marketing", "verification"]
KINDS: tuple[Kind, ...] = ("notification", "marketing", "verification")
Platform = Literal["aliyun", "tencent"]
Fail = Callable[[str, str], NoReturn]
Params = Mapping[str, Any] | Sequence[Any] | None

# One message holds 70 characters, signature included; a longer one is billed in parts of
# 67 (Aliyun's and Tencent's length rules; FACTS.md "Domestic SMS").
SINGLE, PART = 70, 67
# Aliyun's template rules allow a notification variable 35 characters at most (longer
# values are refused with isv.PARAM_LENGTH_LIMIT). Documented for notifications only.
ALIYUN_NOTIFICATION_MAX = 35
# Tencent Cloud: a verification template's variable takes 0 to 6 digits
# (InvalidParameterValue.TemplateParameterFormatError in the SDK's errorcodes.py; error
# 1038 on cloud.tencent.com/document/product/382/3771). Its other variables' length limit
# depends on the account (6 characters by default for accounts opened after 2024-01-25,
# the console shows each account's), so it is not checked here.
TENCENT_VERIFICATION = re.compile(r"[0-9]{0,6}")
# Signatures: 2 to 12 characters, Chinese, Latin letters or digits (Tencent Cloud's
# signature rule, FailedOperation.SignatureIncorrectOrUnapproved; Aliyun's is the same
# length); the platform adds the 【】 itself.
SIGN_MIN, SIGN_MAX = 2, 12

_ALIYUN_CODE = re.compile(r"SMS_[0-9]+")
_TENCENT_ID = re.compile(r"[0-9]+")
_ALIYUN_VAR = re.compile(r"\$\{([^{}]*)\}")
_ALIYUN_NAME = re.compile(r"[A-Za-z0-9_]+")
_TENCENT_VAR = re.compile(r"(?<!\$)\{([0-9]+)\}")
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)
# Opt-out hints: 退订 next to T, TD or R (回T退订, 退订回T, 回TD退订, 退订回复T), or 拒收
# next to R (拒收请回复R), within a few characters either way, a letter standing alone.
_LETTER = r"(?<![A-Za-z])(?:TD|T|R)(?![A-Za-z])"
_R = r"(?<![A-Za-z])R(?![A-Za-z])"
_NEAR = ".{0,6}?"
_OPT_OUT_HINT = re.compile(f"退订{_NEAR}{_LETTER}|{_LETTER}{_NEAR}退订|"
                           f"拒收{_NEAR}{_R}|{_R}{_NEAR}拒收", re.IGNORECASE)
_HINT_EXAMPLE = '"拒收请回复R" or "回T退订"'


class DomesticCount(NamedTuple):
    """``chars``: the message as the phone shows it, 【signature】 included; ``parts``:
    the messages it is billed as."""

    chars: int
    parts: int


@dataclass(frozen=True)
class SmsTemplate:
    """One approved template. ``variables``: Aliyun's names in order of first use, or
    Tencent's positions "1" to "n"."""

    code: str
    text: str
    kind: Kind
    variables: tuple[str, ...]

    @property
    def platform(self) -> Platform:
        return "aliyun" if _ALIYUN_CODE.fullmatch(self.code) else "tencent"

    def param_problems(self, params: Params) -> list[str]:
        """What is wrong with ``params`` for this template (empty: nothing): a table of
        strings by name for Aliyun, a list of strings by position for Tencent Cloud."""
        if self.platform == "aliyun":
            return self._named_problems(params)
        return self._positional_problems(params)

    def render(self, params: Params) -> str:
        """The text with its variables filled (the signature is not part of it); raises
        ValueError naming every problem with ``params``."""
        problems = self.param_problems(params)
        if problems:
            raise ValueError("; ".join(problems))
        if self.platform == "aliyun":
            named: Mapping[str, Any] = params if isinstance(params, Mapping) else {}
            return _ALIYUN_VAR.sub(lambda found: str(named[found[1]]), self.text)
        listed = [] if params is None else list(params)
        return _TENCENT_VAR.sub(lambda found: str(listed[int(found[1]) - 1]), self.text)

    def _named_problems(self, params: Params) -> list[str]:
        if params is None or (not self.variables and not params):
            params = {}
        if not isinstance(params, Mapping):
            return [f'Aliyun template {self.code} takes params as a table of names '
                    f'(name = "value"), not a list']
        problems = [f"missing a value for ${{{name}}}" for name in self.variables
                    if name not in params]
        problems += [f"unknown param {name!r}: {self._declared()}" for name in params
                     if name not in self.variables]
        for name in self.variables:
            if name in params:
                problems += self._value_problems(f"${{{name}}}", params[name])
        return problems

    def _positional_problems(self, params: Params) -> list[str]:
        if params is None or (not self.variables and not params):
            params = []
        if isinstance(params, Mapping | str | bytes) or not isinstance(params, Sequence):
            return [f"Tencent Cloud template {self.code} takes params as a list of strings "
                    f'in order (["value 1", "value 2"]), not a table']
        wanted = len(self.variables)
        problems = [f"missing a value for {{{n}}}" for n in range(len(params) + 1, wanted + 1)]
        if len(params) > wanted:
            problems.append(f"{len(params)} params given: {self._declared()}")
        for index, value in enumerate(params[:wanted], start=1):
            problems += self._value_problems(f"{{{index}}}", value)
        return problems

    def _value_problems(self, label: str, value: Any) -> list[str]:
        if not isinstance(value, str):
            return [f"{label} must be text (a string), got {value!r}"]
        problems = []
        if _URL.search(value):
            problems.append(f"{label} holds a web address: the platforms refuse URLs in "
                            "variables (put it in the template's approved text)")
        if (self.platform == "aliyun" and self.kind == "notification"
                and len(value) > ALIYUN_NOTIFICATION_MAX):
            problems.append(f"{label} is {len(value)} characters: Aliyun allows "
                            f"{ALIYUN_NOTIFICATION_MAX} per variable of a notification")
        if (self.platform == "tencent" and self.kind == "verification"
                and not TENCENT_VERIFICATION.fullmatch(value)):
            problems.append(f"{label} must be 0 to 6 digits in a Tencent Cloud verification "
                            f"template, got {value!r}")
        return problems

    def _declared(self) -> str:
        if not self.variables:
            return "the template has no variables"
        if self.platform == "aliyun":
            return "the template has " + ", ".join(f"${{{v}}}" for v in self.variables)
        return f"the template has {{1}} to {{{len(self.variables)}}}"


def parse_templates(table: Mapping[str, Any], fail: Fail) -> dict[str, SmsTemplate]:
    """Check ``[channels.sms.templates]``: code -> approved text, or -> a table
    ``{text = "...", kind = "notification" | "marketing" | "verification"}``. ``fail``
    gets keys relative to the table (``SMS_1.text``); the first problem raises."""
    return {str(code): _template(str(code), value, fail) for code, value in table.items()}


def count_chars(text: str, sign_name: str) -> DomesticCount:
    """What ``text`` under ``sign_name`` costs: every character counts 1, Chinese, Latin,
    digit, space or punctuation alike, and the 【】 around the signature count too (both
    platforms' length rules). Neither documents emoji, so a character is a code point."""
    chars = len(f"【{sign_name}】{text}")
    return DomesticCount(chars, 1 if chars <= SINGLE else math.ceil(chars / PART))


def has_opt_out_hint(text: str) -> bool:
    """Whether ``text`` carries an opt-out hint (拒收请回复R, 回T退订, 退订回复TD...);
    full-width letters count (ＴＤ)."""
    return _OPT_OUT_HINT.search(unicodedata.normalize("NFKC", text)) is not None


def sign_name_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a signature (None: it can): 2 to 12 Chinese characters,
    letters or digits, without the 【】 the platform adds."""
    if not isinstance(value, str):
        return f'must be the registered signature as text, such as "平安高新", got {value!r}'
    if any(bracket in value for bracket in "【】[]"):
        return "leave out the 【】: the platform adds them around the signature"
    if not SIGN_MIN <= len(value) <= SIGN_MAX:
        return (f"must be {SIGN_MIN} to {SIGN_MAX} characters (the platforms' rule), "
                f"got {len(value)}: {value!r}")
    if not all(ch.isalnum() for ch in value):
        return (f"may hold only Chinese characters, letters and digits (no spaces or "
                f"punctuation), got {value!r}")
    return None


def _template(code: str, value: Any, fail: Fail) -> SmsTemplate:
    platform = _platform(code, fail)
    text: Any
    if isinstance(value, str):
        text, kind, where = value, "notification", code
    elif isinstance(value, Mapping):
        for key in value:
            if key not in ("text", "kind"):
                fail(f"{code}.{key}", "unknown key; allowed: kind, text")
        text, kind, where = value.get("text"), value.get("kind", "notification"), f"{code}.text"
    else:
        fail(code, 'must be the approved text ("...") or a table {text = "...", '
                   'kind = "marketing"}')
    if not isinstance(text, str) or not text.strip():
        fail(where, f"must be the template's approved text, got {text!r}")
    if kind not in KINDS:
        fail(f"{code}.kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    variables = _variables(text, platform, where, fail)
    if kind == "marketing" and not has_opt_out_hint(text):
        fail(where, f"a marketing template must carry an opt-out hint such as {_HINT_EXAMPLE} "
                    "(the platforms refuse marketing messages without one)")
    return SmsTemplate(code, text, kind, variables)


def _platform(code: str, fail: Fail) -> Platform:
    if _ALIYUN_CODE.fullmatch(code):
        return "aliyun"
    if _TENCENT_ID.fullmatch(code):
        return "tencent"
    fail(code, "a template code is Aliyun's SMS_ and digits (SMS_123456789) or Tencent "
               "Cloud's template ID (digits, 1234567)")


def _variables(text: str, platform: Platform, where: str, fail: Fail) -> tuple[str, ...]:
    names = _ALIYUN_VAR.findall(text)
    numbers = _TENCENT_VAR.findall(text)
    if platform == "aliyun":
        if numbers:
            fail(where, "uses Tencent Cloud's {1} placeholders in an Aliyun template: "
                        "Aliyun's are ${name}")
        for name in names:
            if not _ALIYUN_NAME.fullmatch(name):
                fail(where, f"${{{name}}} is not a variable: Aliyun names use letters, "
                            "digits and _")
        return tuple(dict.fromkeys(names))
    if names:
        fail(where, "uses Aliyun's ${name} placeholders in a Tencent Cloud template: "
                    "Tencent's are {1}, {2}...")
    positions = sorted({int(number) for number in numbers})
    if positions != list(range(1, len(positions) + 1)):
        fail(where, "Tencent Cloud placeholders are numbered {1}, {2}... from 1 without "
                    f"gaps, got {', '.join(f'{{{n}}}' for n in positions)}")
    return tuple(str(n) for n in positions)
