"""The parameters of SendSms and PullSmsSendStatusByPhoneNumber, checked as the platform
checks them: each failure is a :class:`CallError` refusing the whole call."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from dispatcher.sandbox.tencent.options import MAX_NUMBERS, MAX_PULL, TencentOptions
from dispatcher.sandbox.tencent.wire import CallError, fee, mainland, render

MAX_CONTEXT_BYTES = 512  # SessionContext must stay below this
PULL_DAYS = 7  # how far back PullSmsSendStatusByPhoneNumber reaches
PLACEHOLDER = re.compile(r"\{(\d+)\}")


@dataclass(frozen=True)
class SendRequest:
    numbers: list[Any]  # as written in PhoneNumberSet, checked one by one
    sign_name: str
    template_id: str
    params: tuple[str, ...]
    session_context: str
    fee: int  # billable parts of each message


@dataclass(frozen=True)
class PullRequest:
    phone: str  # 11 digits
    begin: datetime
    end: datetime | None
    offset: int
    limit: int


def check_send(params: Mapping[str, Any], options: TencentOptions) -> SendRequest:
    _check_app(params, options)
    numbers = params.get("PhoneNumberSet")
    if numbers is not None and not isinstance(numbers, list):
        raise CallError("InvalidParameter", "PhoneNumberSet must be an array of strings.")
    if not numbers:
        raise CallError("MissingParameter.EmptyPhoneNumberSet")
    if len(numbers) > MAX_NUMBERS:
        raise CallError("LimitExceeded.PhoneNumberCountLimit")
    sign, template_id = _required(params, "SignName"), _required(params, "TemplateId")
    values = params.get("TemplateParamSet") or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise CallError("InvalidParameter", "TemplateParamSet must be an array of strings.")
    context = params.get("SessionContext") or ""
    if not isinstance(context, str) or len(context.encode()) >= MAX_CONTEXT_BYTES:
        raise CallError("InvalidParameter",
                        f"SessionContext must be a string under {MAX_CONTEXT_BYTES} bytes.")
    text = _template_text(options, template_id, values)
    return SendRequest(numbers, sign, template_id, tuple(values), context,
                       fee(sign, render(text, values)))


def check_pull(params: Mapping[str, Any], options: TencentOptions,
               now: datetime) -> PullRequest:
    _check_app(params, options)
    begin, end = params.get("BeginTime"), params.get("EndTime")
    if not _is_int(begin) or begin < (now - timedelta(days=PULL_DAYS)).timestamp():
        raise CallError("InvalidParameterValue.BeginTimeVerifyFail")
    if end is not None and (not _is_int(end) or end < begin):
        raise CallError("InvalidParameterValue.EndTimeVerifyFail")
    offset, limit = params.get("Offset", 0), params.get("Limit")
    if not _is_int(offset) or offset < 0:
        raise CallError("InvalidParameterValue.OffsetVerifyFail")
    if not _is_int(limit) or not 1 <= limit <= MAX_PULL:
        raise CallError("InvalidParameterValue.LimitVerifyFail")
    phone = mainland(params.get("PhoneNumber"))
    if phone is None:
        raise CallError("InvalidParameterValue.IncorrectPhoneNumber")
    return PullRequest(phone, datetime.fromtimestamp(begin, UTC),
                       None if end is None else datetime.fromtimestamp(end, UTC),
                       offset, limit)


def _check_app(params: Mapping[str, Any], options: TencentOptions) -> None:
    if _required(params, "SmsSdkAppId") != options.sdk_app_id:
        raise CallError("UnauthorizedOperation.SmsSdkAppIdVerifyFail")


def _required(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        raise CallError("MissingParameter",
                        f"The request is missing a required parameter `{name}`.")
    return value


def _template_text(options: TencentOptions, template_id: str,
                   values: list[str]) -> str | None:
    """The approved text of ``template_id`` (None when no templates are configured)."""
    if not options.templates:
        return None
    text = options.templates.get(template_id)
    if text is None:
        raise CallError("FailedOperation.TemplateIncorrectOrUnapproved")
    wanted = max((int(n) for n in PLACEHOLDER.findall(text)), default=0)
    if len(values) != wanted:
        raise CallError("FailedOperation.TemplateParamSetNotMatchApprovedTemplate")
    return text


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
