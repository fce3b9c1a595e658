"""Twilio's status callbacks and replies: checked against X-Twilio-Signature, read into
receipts and replies (the Aliyun and Tencent pushes are :mod:`channels.sms.pushes`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator

from channels.base import CallbackRequest, InboundMessage, MalformedRequest, Receipt, SignatureError
from channels.delivery_ids import DELIVERY_PARAM, parse_delivery_id, shown
from channels.sms.settings import SmsSettings, TwilioSettings
from channels.sms.twilio_client import OPT_OUT_CODES

# Twilio's message statuses as our delivery states (DESIGN.md "Delivery states").
TWILIO_STATES: dict[str, Literal["sent", "delivered", "undelivered", "failed"]] = {
    "accepted": "sent", "scheduled": "sent", "queued": "sent", "sending": "sent",
    "sent": "sent", "delivered": "delivered", "read": "delivered",
    "undelivered": "undelivered", "failed": "failed", "canceled": "failed",
}
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "TD",
                           "退订", "取消订阅"})
OPT_OUT_CODE_TEXTS = frozenset(str(code) for code in OPT_OUT_CODES)
# What a row holds (Twilio's SIDs are 34 characters, its error codes 5 digits).
MAX_SID_CHARS = 64
MAX_CODE_CHARS = 32
SENDER = re.compile(r"\+?[0-9]{3,15}", re.ASCII)  # a reply's From: E.164, or a national number


def verified_form(settings: SmsSettings | None, request: CallbackRequest) -> Mapping[str, str]:
    """The form of a request whose X-Twilio-Signature matches; SignatureError otherwise."""
    twilio = [a for a in settings.accounts.values()
              if isinstance(a, TwilioSettings)] if settings else []
    if not twilio:
        raise SignatureError("no Twilio SMS account is configured: no auth token to check with")
    signature = _header(request.headers, "X-Twilio-Signature")
    form = dict(request.form)
    if not signature or not any(RequestValidator(a.auth_token.reveal()).validate(
            request.url, form, signature) for a in twilio):
        raise SignatureError("X-Twilio-Signature is missing or does not match")
    return request.form


def receipts_from(form: Mapping[str, str], url: str) -> list[Receipt]:
    """The status callback as a receipt (none for a status we do not track).

    The URL is signed with the form, so a ``d`` that is not a delivery id, or a
    MessageSid or ErrorCode longer than a row holds, is malformed (MalformedRequest).
    """
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    ref = form.get("MessageSid") or form.get("SmsSid")
    state = TWILIO_STATES.get(status)
    if state is None or not ref:
        return []
    code = form.get("ErrorCode") or None
    _check_length("MessageSid", ref, MAX_SID_CHARS)
    _check_length("ErrorCode", code or "", MAX_CODE_CHARS)
    return [Receipt(provider_ref=ref, state=state, delivery_id=_delivery_id(url), code=code,
                    detail=f"twilio {status}", opt_out=code in OPT_OUT_CODE_TEXTS)]


def inbound_from(form: Mapping[str, str]) -> InboundMessage:
    """The reply; MalformedRequest when From is not a phone number (E.164: at most 15
    digits), such as a 30-digit number, ``1e30`` or a number after a NUL."""
    sender = form.get("From", "")
    if not SENDER.fullmatch(sender):  # not echoed: it may be most of a phone number
        raise MalformedRequest("From must be the sender's phone number, + and 3 to 15 "
                               f"digits; got {len(sender)} characters that are not")
    body = form.get("Body", "")
    return InboundMessage(address=sender, body=body,
                          opt_out=body.strip().upper() in OPT_OUT_WORDS)


def _delivery_id(url: str) -> int | None:
    """The StatusCallback URL's ``d`` (None without one)."""
    values = parse_qs(urlsplit(url).query).get(DELIVERY_PARAM, [])
    if not values:
        return None
    if len(values) > 1:
        raise MalformedRequest(f"the callback URL carries {DELIVERY_PARAM} {len(values)} "
                               "times; expected one delivery id")
    return parse_delivery_id(values[0], f"the callback URL's {DELIVERY_PARAM}")


def _check_length(name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise MalformedRequest(f"{name} is {len(value)} characters, more than {limit}; "
                               f"got {shown(value)}")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)
