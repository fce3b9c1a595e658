"""The parameters of SendSms, SendBatchSms and QuerySendDetails, checked as Aliyun does.

Each reader returns the call's parts or raises :class:`~.wire.Refused` with Aliyun's
answer: HTTP 400 ``Missing<Name>`` for an absent required parameter, HTTP 200 with an
``isv.*`` code for a present but unacceptable one. A malformed number anywhere in a call
refuses the whole call (Aliyun validates the list before sending any of it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dispatcher.sandbox.aliyun.wire import (
    MAX_OUT_ID,
    Refused,
    answer,
    json_list,
    mainland,
    missing,
    render,
    template_params,
)

MAX_SEND_SMS, MAX_BATCH = 1000, 100
MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE = 50, 10
LOOKBACK_DAYS = 30


@dataclass(frozen=True)
class Entry:
    """One number of a send call, with what it is sent."""

    phone: str  # 11 digits
    sign_name: str
    template_param: str  # as given ("" when none)
    content: str


@dataclass(frozen=True)
class SendCall:
    action: str
    template_code: str
    out_id: str | None
    entries: list[Entry]


@dataclass(frozen=True)
class DetailsQuery:
    phone: str
    day: date
    biz_id: str | None
    page_size: int
    page: int


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise Refused(missing(name))
    return value


def _out_id(params: Mapping[str, str]) -> str | None:
    out_id = params.get("OutId") or None
    if out_id is not None and len(out_id) > MAX_OUT_ID:
        raise Refused(answer("isv.INVALID_PARAMETERS", f"OutId 超过 {MAX_OUT_ID} 个字符"))
    return out_id


def _phones(numbers: list[str], most: int) -> list[str]:
    if len(numbers) > most:
        raise Refused(answer("isv.MOBILE_COUNT_OVER_LIMIT"))
    phones = [mainland(number) for number in numbers]
    if not phones or any(phone is None for phone in phones):
        raise Refused(answer("isv.MOBILE_NUMBER_ILLEGAL"))
    return [phone for phone in phones if phone is not None]


def _entry(phone: str, sign_name: str, code: str, param_text: str,
           templates: Mapping[str, str] | None) -> Entry:
    params = template_params(param_text)
    if params is None:
        raise Refused(answer("isv.INVALID_JSON_PARAM"))
    return Entry(phone, sign_name, param_text, render(sign_name, code, params, templates))


def send_sms(params: Mapping[str, str], templates: Mapping[str, str] | None) -> SendCall:
    """PhoneNumbers (comma-separated, up to 1,000), SignName, TemplateCode,
    TemplateParam (optional JSON object), OutId (optional)."""
    numbers = _required(params, "PhoneNumbers").split(",")
    sign_name = _required(params, "SignName")
    code = _required(params, "TemplateCode")
    out_id = _out_id(params)
    param_text = params.get("TemplateParam", "")
    phones = _phones(numbers, MAX_SEND_SMS)
    first = _entry(phones[0], sign_name, code, param_text, templates)
    return SendCall("SendSms", code, out_id,
                    [Entry(phone, sign_name, param_text, first.content) for phone in phones])


def send_batch_sms(params: Mapping[str, str],
                   templates: Mapping[str, str] | None) -> SendCall:
    """PhoneNumberJson, SignNameJson and TemplateParamJson (optional): JSON arrays of one
    length (up to 100); TemplateCode; OutId (optional)."""
    numbers = json_list(_required(params, "PhoneNumberJson"))
    signs = json_list(_required(params, "SignNameJson"))
    code = _required(params, "TemplateCode")
    out_id = _out_id(params)
    param_json = params.get("TemplateParamJson", "").strip()
    values = json_list(param_json) if param_json else None
    if numbers is None or signs is None or (param_json and values is None):
        raise Refused(answer("isv.INVALID_JSON_PARAM"))
    if not all(isinstance(item, str) for item in [*numbers, *signs]):
        raise Refused(answer("isv.INVALID_JSON_PARAM"))
    phones = _phones([str(n) for n in numbers], MAX_BATCH)
    if len(signs) != len(phones) or (values is not None and len(values) != len(phones)):
        raise Refused(answer("isv.INVALID_PARAMETERS",
                             "PhoneNumberJson、SignNameJson、TemplateParamJson 长度不一致"))
    texts = ["" if values is None else json.dumps(value, ensure_ascii=False)
             for value in (values or [None] * len(phones))]
    return SendCall("SendBatchSms", code, out_id,
                    [_entry(phone, str(sign).strip(), code, text, templates)
                     for phone, sign, text in zip(phones, signs, texts, strict=True)])


def query_send_details(params: Mapping[str, str], today: date) -> DetailsQuery:
    """PhoneNumber, SendDate (yyyyMMdd, within the last 30 days), PageSize (1..50),
    CurrentPage (from 1), BizId (optional)."""
    phone = mainland(_required(params, "PhoneNumber"))
    if phone is None:
        raise Refused(answer("isv.MOBILE_NUMBER_ILLEGAL"))
    day = _send_date(_required(params, "SendDate"), today)
    size = _number(params.get("PageSize"), DEFAULT_PAGE_SIZE, "PageSize")
    page = _number(params.get("CurrentPage"), 1, "CurrentPage")
    if size > MAX_PAGE_SIZE:
        raise Refused(answer("isv.INVALID_PARAMETERS", "PageSize 超过 50"))
    return DetailsQuery(phone, day, params.get("BizId") or None, size, page)


def _send_date(text: str, today: date) -> date:
    try:
        day = datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise Refused(answer("isv.INVALID_PARAMETERS", "SendDate 格式应为 yyyyMMdd")) from None
    if not today - timedelta(days=LOOKBACK_DAYS) <= day <= today:
        raise Refused(answer("isv.INVALID_PARAMETERS", "只能查询最近30天的发送记录"))
    return day


def _number(text: str | None, default: int, name: str) -> int:
    if text is None or not text.strip():
        return default
    if not text.strip().isdigit() or int(text) < 1:
        raise Refused(answer("isv.INVALID_PARAMETERS", f"{name} 必须是正整数"))
    return int(text)
