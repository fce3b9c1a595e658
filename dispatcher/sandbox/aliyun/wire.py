"""Aliyun dysmsapi 2017-05-25's wire formats: answers, error codes, phone numbers, content.

Aliyun answers business refusals of a well-formed, authenticated call with HTTP 200 and a
``Code`` other than ``"OK"``; authentication, missing parameters and throttling are HTTP
4xx, its own failures 5xx, all as ``{"Code", "Message", "RequestId"}`` JSON.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

API_VERSION = "2017-05-25"
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving time
SINGLE_LIMIT, PART_LIMIT = 70, 67  # characters of one message, of each part of a long one
MAX_OUT_ID = 256

# (HTTP status, message) of the codes the sandbox answers; 200s are business refusals.
CODES: Mapping[str, tuple[int, str]] = {
    "OK": (200, "OK"),
    "InvalidAccessKeyId.NotFound": (404, "Specified access key is not found."),
    "SignatureDoesNotMatch": (400, "Specified signature does not match our calculation."),
    "SignatureNonceUsed": (400, "Specified signature nonce was used already."),
    "InvalidTimeStamp.Expired": (400, "Specified time stamp or date value is expired."),
    "IncompleteSignature": (400, "The request signature does not conform to Aliyun "
                                 "standards."),
    "InvalidAction.NotFound": (404, "Specified api is not found, please check your url "
                                    "and method."),
    "InvalidVersion": (400, "Specified parameter Version is not valid."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "InternalError": (500, "The request processing has failed due to some unknown error."),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the "
                                "server."),
    "isv.MOBILE_NUMBER_ILLEGAL": (200, "非法手机号"),
    "isv.MOBILE_COUNT_OVER_LIMIT": (200, "手机号码数量超过限制"),
    "isv.BUSINESS_LIMIT_CONTROL": (200, "触发号码天级流控"),
    "isv.AMOUNT_NOT_ENOUGH": (200, "账户余额不足"),
    "isv.INVALID_PARAMETERS": (200, "参数异常"),
    "isv.INVALID_JSON_PARAM": (200, "JSON参数不合法，只接受字符串值"),
    "isv.SMS_TEMPLATE_ILLEGAL": (200, "模板不合法(不存在或被拉黑)"),
    "isv.TEMPLATE_MISSING_PARAMETERS": (200, "模板缺少变量"),
    "isv.SMS_SIGNATURE_ILLEGAL": (200, "签名不合法(不存在或被拉黑)"),
    "isv.BLACK_KEY_CONTROL_LIMIT": (200, "黑名单管控"),
    "isv.OUT_OF_SERVICE": (200, "业务停机"),
}

_MAINLAND = re.compile(r"(?:\+?86)?(1\d{10})")
_VARIABLE = re.compile(r"\$\{(\w+)\}")


@dataclass(frozen=True)
class Outcome:
    """What the API answers: an HTTP status, a JSON body and a delay before it."""

    status: int
    body: dict[str, Any]
    delay: float = 0.0


class Refused(Exception):
    """A call refused before anything was accepted; ``outcome`` is Aliyun's answer."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.body["Code"])
        self.outcome = outcome


def request_id() -> str:
    return str(uuid.uuid4()).upper()


def answer(code: str, message: str | None = None, **fields: Any) -> Outcome:
    """``{"Code", "Message", "RequestId", ...}`` with the code's HTTP status (for a code
    the table does not know: 200 for a business ``isv.*`` code, else 400)."""
    status, text = CODES.get(code, (200 if code.startswith("isv.") else 400, code))
    return Outcome(status, {"Code": code, "Message": message or text,
                            "RequestId": request_id(), **fields})


def missing(name: str) -> Outcome:
    """HTTP 400 ``Missing<Name>``, as Aliyun refuses a call without a required parameter."""
    return Outcome(400, {"Code": f"Missing{name}",
                         "Message": f"{name} is mandatory for this action.",
                         "RequestId": request_id()})


def mainland(number: str) -> str | None:
    """The 11-digit form of a mainland mobile number (``86`` / ``+86`` prefix allowed)."""
    found = _MAINLAND.fullmatch(number.strip())
    return found.group(1) if found else None


def json_list(text: str) -> list[Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def template_params(text: str | None) -> dict[str, str] | None:
    """A TemplateParam JSON object of scalar values (``{}`` when absent), or None."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or not all(
            isinstance(v, str | int | float) and not isinstance(v, bool)
            for v in value.values()):
        return None
    return {str(k): str(v) for k, v in value.items()}


def render(sign_name: str, code: str, params: Mapping[str, str],
           templates: Mapping[str, str] | None) -> str:
    """The message text with its 【signature】; without templates, the code and its
    params stand for the text. Raises :class:`Refused` for an unknown template or a
    variable the params lack."""
    if templates is None:
        shown = json.dumps(dict(params), ensure_ascii=False, separators=(",", ":"))
        return f"【{sign_name}】{code} {shown}" if params else f"【{sign_name}】{code}"
    text = templates.get(code)
    if text is None:
        raise Refused(answer("isv.SMS_TEMPLATE_ILLEGAL"))
    if any(name not in params for name in _VARIABLE.findall(text)):
        raise Refused(answer("isv.TEMPLATE_MISSING_PARAMETERS"))
    return f"【{sign_name}】" + _VARIABLE.sub(lambda m: params[m.group(1)], text)


def sms_size(content: str) -> int:
    """Billed parts of a domestic message: 70 characters, 67 per part when longer,
    the signature included."""
    length = len(content)
    return 1 if length <= SINGLE_LIMIT else math.ceil(length / PART_LIMIT)


def shanghai(moment: datetime) -> datetime:
    return moment.astimezone(SHANGHAI)


def clock_text(moment: datetime | None) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Beijing time, as Aliyun writes times ("" for none)."""
    return "" if moment is None else shanghai(moment).strftime("%Y-%m-%d %H:%M:%S")
