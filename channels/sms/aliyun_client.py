"""The Aliyun SMS client (dysmsapi 2017-05-25 through its official SDK) a channel account
sends with, and what each answer means for the messages of a call.

``SendSms`` takes up to 1,000 numbers with the same template params, ``SendBatchSms``
up to 100 with params per number; both answer one ``BizId`` for the call. A row's
``provider_ref`` is ``r<run>:<number>`` (see :mod:`channels.sms.domestic`): Aliyun
echoes the ``OutId`` in its receipts and in ``QuerySendDetails``, so a receipt and a
lookup both name the row without knowing the call's BizId. The SDK never retries
(``autoretry=False``): the API is not idempotent, and a lost answer is looked up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException
from alibabacloud_tea_openapi.models import Config
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import TeaException, UnretryableException

from channels.base import LookupResult, Message, SendResult
from channels.http_outcomes import transport_result
from channels.sms.aliyun_codes import classify
from channels.sms.domestic import BEIJING, all_results, national, never_connected_text, run_tag
from channels.sms.settings import AliyunSettings

ILLEGAL_NUMBER = "isv.MOBILE_NUMBER_ILLEGAL"
THROTTLED_PAUSE = 1.0  # seconds the account waits after Throttling.User
LOOKUP_PAGE = 50  # QuerySendDetails' largest page
# SendStatus of QuerySendDetails: 1 waiting for the receipt, 2 failed, 3 delivered.
LOOKUP_STATES = {1: "sent", 2: "undelivered", 3: "delivered"}

Params = Mapping[str, str]


def provider_ref(out_id: str, number: str) -> str:
    return f"{out_id}:{number}"


class AliyunAccount:
    """A dysmsapi client built from one account's settings (secrets revealed here)."""

    def __init__(self, settings: AliyunSettings) -> None:
        key_id = settings.access_key_id
        assert settings.access_key_secret is not None  # parse_settings requires it
        endpoint = urlsplit(settings.endpoint or "https://dysmsapi.aliyuncs.com")
        millis = int(settings.timeout * 1000)
        self.client = Client(Config(
            access_key_id=key_id if isinstance(key_id, str) else key_id.reveal(),
            access_key_secret=settings.access_key_secret.reveal(),
            endpoint=endpoint.netloc, protocol=endpoint.scheme,
            read_timeout=millis, connect_timeout=millis))
        self.runtime = RuntimeOptions(autoretry=False, max_attempts=0, read_timeout=millis,
                                      connect_timeout=millis)

    def send(self, messages: Sequence[Message], sign_name: str, template: str,
             params: Sequence[Params], units: int) -> list[SendResult]:
        """One call for ``messages`` (mainland numbers): ``SendSms`` when every message has
        the same params, ``SendBatchSms`` otherwise. A call refused for an illegal
        number is split in halves, so one bad number fails alone."""
        numbers = [national(m.address) or "" for m in messages]
        out_id = run_tag(messages[0])
        try:
            if all(p == params[0] for p in params):
                body = self.client.send_sms_with_options(models.SendSmsRequest(
                    phone_numbers=",".join(numbers), sign_name=sign_name,
                    template_code=template, out_id=out_id,
                    template_param=_json(params[0]) if params[0] else None), self.runtime).body
            else:
                body = self.client.send_batch_sms_with_options(models.SendBatchSmsRequest(
                    phone_number_json=_json(numbers), sign_name_json=_json(
                        [sign_name] * len(numbers)), template_code=template,
                    template_param_json=_json(list(params)), out_id=out_id),
                    self.runtime).body
        except Exception as exc:  # every SDK failure becomes results; a bug: looked up
            return _failed_call(messages, exc)
        code = str(body.code or "")
        if code == "OK":
            return [SendResult(m.delivery_id, "accepted", provider_ref=provider_ref(out_id, n),
                               units=units, provider_data=str(body.biz_id or "")[:64],
                               detail=f"aliyun accepted, BizId {body.biz_id}")
                    for m, n in zip(messages, numbers, strict=True)]
        if code == ILLEGAL_NUMBER and len(messages) > 1:
            half = len(messages) // 2
            return (self.send(messages[:half], sign_name, template, params[:half], units)
                    + self.send(messages[half:], sign_name, template, params[half:], units))
        return _refused(messages, code, str(body.message or ""))

    def find(self, message: Message, since: datetime) -> LookupResult:
        """Whether Aliyun has a message of this run to this number sent at or after
        ``since`` (QuerySendDetails by number and date, matched on OutId). Errors raise:
        the engine asks again later."""
        number = national(message.address) or ""
        out_id = run_tag(message)
        start = since.astimezone(BEIJING)
        day = start.date()
        while day <= datetime.now(BEIJING).date():
            for found in self._details(number, day.strftime("%Y%m%d")):
                if found.out_id == out_id:
                    status = int(found.send_status or 1)
                    code = found.err_code if status == 2 else None
                    return LookupResult(True, provider_ref(out_id, number),
                                        LOOKUP_STATES.get(status, "sent"), code)
            day += timedelta(days=1)
        return LookupResult(found=False)

    def _details(self, number: str, day: str) -> list[Any]:
        page, found = 1, []
        while True:
            body = self.client.query_send_details_with_options(models.QuerySendDetailsRequest(
                phone_number=number, send_date=day, page_size=LOOKUP_PAGE, current_page=page),
                self.runtime).body
            if body.code != "OK":
                raise LookupError(f"QuerySendDetails answered {body.code}: {body.message}")
            dtos = body.sms_send_detail_dtos
            rows = list(dtos.sms_send_detail_dto or []) if dtos else []
            found += rows
            if len(rows) < LOOKUP_PAGE:
                return found
            page += 1


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _refused(messages: Sequence[Message], code: str, text: str) -> list[SendResult]:
    known = classify(code, text)
    pause = THROTTLED_PAUSE if known.outcome == "retry" else None
    return all_results(messages, known.outcome, code[:64], f"{known.description}: {text}"[:500],
                       retry_after=pause, opt_out=known.opt_out)


def _failed_call(messages: Sequence[Message], exc: Exception) -> list[SendResult]:
    """An exception from the SDK: a 4xx with a code (Throttling.User ...), a 5xx (the call
    may have been taken), or a transport error (wrapped by the SDK)."""
    if isinstance(exc, ClientException | ServerException):
        code = str(getattr(exc, "code", "") or "")
        if isinstance(exc, ServerException):
            return all_results(messages, "unknown", code[:64] or "5xx",
                               f"aliyun answered {getattr(exc, 'status_code', '5xx')}: "
                               f"{getattr(exc, 'message', exc)}"[:500])
        return _refused(messages, code, str(getattr(exc, "message", "")))
    inner = getattr(exc, "inner_exception", None) if isinstance(exc, UnretryableException) \
        else None
    if isinstance(inner, requests.RequestException):
        one = transport_result(0, inner)
        if one.outcome == "retry":
            return all_results(messages, "retry", None, one.detail or "")
        return all_results(messages, "unknown", None, one.detail or "")
    text = str(exc)
    if isinstance(exc, TeaException) and never_connected_text(text):
        return all_results(messages, "retry", None, f"no connection: {text}"[:500])
    return all_results(messages, "unknown", None, f"{type(exc).__name__}: {text}"[:500])
