"""Tencent Cloud SMS's wire formats: answers and errors, numbers, fees, status entries,
and the JSON arrays of status and reply pushes."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

API_VERSION = "2021-01-11"
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
MAINLAND = re.compile(r"(?:\+86)?(1\d{10})")
SINGLE_CHARS, PART_CHARS = 70, 67  # domestic billing, the 【signature】 included
ACKNOWLEDGED = 0  # the "result" a push receiver answers when it took the push

MESSAGES: Mapping[str, str] = {
    "Ok": "send success",
    "AuthFailure.InvalidAuthorization": "The Authorization header is not in TC3 format.",
    "AuthFailure.SecretIdNotFound": "The SecretId is not found, please ensure that your "
                                    "SecretId is correct.",
    "AuthFailure.SignatureExpire": "Signature expired. Timestamp and server time cannot "
                                   "differ by more than 5 minutes.",
    "AuthFailure.SignatureFailure": "The provided credentials could not be validated. "
                                    "Please check your signature is correct.",
    "InvalidAction": "The action requested is invalid.",
    "NoSuchVersion": "The API version requested does not exist.",
    "UnsupportedRegion": "The region is not supported by this API.",
    "MissingParameter": "A required parameter is missing.",
    "InvalidParameter": "A parameter is not valid.",
    "RequestLimitExceeded": "Your current request times equals to `limit` in a second.",
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": "SmsSdkAppId verification failed.",
    "MissingParameter.EmptyPhoneNumberSet": "The PhoneNumberSet is empty.",
    "LimitExceeded.PhoneNumberCountLimit": "More than 200 numbers in one call.",
    "FailedOperation.TemplateIncorrectOrUnapproved": "The template is not approved or "
                                                     "does not match.",
    "InvalidParameterValue.IncorrectPhoneNumber": "Invalid phone number.",
    "LimitExceeded.PhoneNumberDailyLimit": "The number reached its daily limit.",
    "FailedOperation.InsufficientBalanceInSmsPackage": "The SMS package has no balance left.",
    "InvalidParameterValue.BeginTimeVerifyFail": "BeginTime is not valid.",
    "InvalidParameterValue.EndTimeVerifyFail": "EndTime is not valid.",
    "InvalidParameterValue.LimitVerifyFail": "Limit must be from 1 to 100.",
    "InvalidParameterValue.OffsetVerifyFail": "Offset is not valid.",
}


class CallError(Exception):
    """A whole call refused with ``code`` (answered HTTP 200 with ``Response.Error``)."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        super().__init__(code)
        self.code, self.detail = code, detail


@dataclass(frozen=True)
class Outcome:
    """What the API answers: an HTTP status, a body (JSON or text), a delay before it."""

    status: int
    body: dict[str, Any] | str
    delay: float = 0.0


def request_id() -> str:
    return str(uuid.uuid4())


def answer(fields: Mapping[str, Any], delay: float = 0.0) -> Outcome:
    return Outcome(200, {"Response": dict(fields) | {"RequestId": request_id()}}, delay)


def error(code: str, detail: str | None = None) -> Outcome:
    """``{"Response": {"Error": {"Code", "Message"}, "RequestId"}}``, with HTTP 200."""
    message = detail or MESSAGES.get(code, code)
    return answer({"Error": {"Code": code, "Message": message}})


def server_error(status: int) -> Outcome:
    """A 5xx from the gateway: not the API's JSON (the SDK raises ServerNetworkError)."""
    return Outcome(status, "Internal Server Error" if status == 500 else "Service Unavailable")


def mainland(number: object) -> str | None:
    """The 11 digits of a mainland mobile number written ``+86...`` or bare; else None."""
    found = MAINLAND.fullmatch(number) if isinstance(number, str) else None
    return found[1] if found else None


def render(text: str | None, params: Sequence[str]) -> str:
    """A template's text with ``{1}``, ``{2}`` filled in; the params alone without one."""
    if text is None:
        return "".join(params)
    return re.sub(r"\{(\d+)\}",
                  lambda m: params[int(m[1]) - 1] if 0 < int(m[1]) <= len(params) else m[0],
                  text)


def fee(sign_name: str, text: str) -> int:
    """Billable parts of ``【sign】text``: 70 characters in one, 67 a part when longer."""
    chars = len(f"【{sign_name}】{text}")
    return 1 if chars <= SINGLE_CHARS else math.ceil(chars / PART_CHARS)


def send_status(number: str, code: str, serial_no: str = "", parts: int = 0,
                session_context: str = "") -> dict[str, Any]:
    """One entry of SendSms's ``SendStatusSet``."""
    digits = mainland(number)
    return {"SerialNo": serial_no, "PhoneNumber": f"+86{digits}" if digits else number,
            "Fee": parts, "SessionContext": session_context, "Code": code,
            "Message": MESSAGES.get(code, code), "IsoCode": "CN" if digits else ""}


def beijing(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Beijing time, as the pushes write times."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
