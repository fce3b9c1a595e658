"""Twilio's wire formats: message JSON, error bodies, create validation and date filters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from dispatcher.sandbox.twilio.store import StoredMessage

API_VERSION = "2010-04-01"
MAX_BODY = 1600
E164 = re.compile(r"\+[1-9]\d{6,14}")
SENDER = re.compile(r"\+[1-9]\d{6,14}|\d{3,8}|(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")

ERROR_MESSAGES: Mapping[int, str] = {
    20001: "Invalid parameter: {detail}",
    20003: "Authentication Error - invalid username",
    20404: "The requested resource {path} was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service is unavailable. Please try again",
    21211: "The 'To' number {to} is not a valid phone number.",
    21212: "The 'From' number {sender} is not a valid phone number, shortcode, "
           "or alphanumeric sender ID.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by "
           "the 'To' number: {to}.",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21604: "A 'To' phone number is required.",
    21609: "Invalid StatusCallback URL: {callback}",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number: {to}, is not currently reachable using the 'From' phone "
           "number: {sender} via SMS.",
    21614: "'To' number {to} is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21624: "Invalid validity period value: ValidityPeriod must be an integer from 1 to 36000.",
    21701: "The Messaging Service Sid {service} is invalid.",
}


@dataclass(frozen=True)
class Outcome:
    """What the API answers: a status, a JSON body, a delay before it, extra headers."""

    status: int
    body: dict[str, Any]
    delay: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)


def error_outcome(code: int, status: int, **fields: Any) -> Outcome:
    return Outcome(status, error_body(code, status, **fields))


def throttled() -> Outcome:
    """429 Too Many Requests: nothing was created; try again after a second."""
    return Outcome(429, error_body(20429, 429), headers={"Retry-After": "1"})


def error_body(code: int, status: int, **fields: Any) -> dict[str, Any]:
    """``{"code", "message", "more_info", "status"}`` as Twilio answers errors."""
    template = ERROR_MESSAGES.get(code, "Error {code}")
    return {"code": code, "message": template.format_map(_Blank(fields, code=code)),
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class CreateRequest:
    to: str
    sender: str | None
    service: str | None
    body: str
    status_callback: str | None


def check_create(form: Mapping[str, str]) -> CreateRequest | tuple[int, dict[str, Any]]:
    """The create's fields, or Twilio's 400 error code and fields for its message."""
    to, sender = form.get("To", "").strip(), form.get("From", "").strip() or None
    service = form.get("MessagingServiceSid", "").strip() or None
    body, callback = form.get("Body", ""), form.get("StatusCallback", "").strip() or None
    fields = {"to": to, "sender": sender, "service": service, "callback": callback}
    checks: list[tuple[bool, int]] = [
        (not to, 21604), (sender is None and service is None, 21603), (not body, 21602),
        (not E164.fullmatch(to), 21211),
        (sender is not None and not SENDER.fullmatch(sender), 21212),
        (service is not None and not SERVICE_SID.fullmatch(service), 21701),
        (len(body) > MAX_BODY, 21617),
        (not _validity_ok(form.get("ValidityPeriod")), 21624),
        (callback is not None and not _is_url(callback), 21609),
    ]
    for failed, code in checks:
        if failed:
            return code, fields
    return CreateRequest(to=to, sender=sender, service=service, body=body,
                         status_callback=callback)


def _validity_ok(value: str | None) -> bool:
    return value is None or (value.strip().isdigit() and 1 <= int(value) <= 36000)


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def rfc2822(moment: datetime) -> str:
    """``Thu, 24 Aug 2023 05:01:45 +0000``, as Twilio writes dates."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def message_uri(account_sid: str, sid: str | None = None) -> str:
    base = f"/{API_VERSION}/Accounts/{account_sid}/Messages"
    return f"{base}/{sid}.json" if sid else f"{base}.json"


def message_json(message: StoredMessage, account_sid: str,
                 hide_sender: bool = False) -> dict[str, Any]:
    """A Message resource. ``hide_sender``: a create via a Messaging Service without From,
    answered before the service picked a number (``from`` null)."""
    return {
        "account_sid": account_sid, "api_version": API_VERSION, "body": message.body,
        "date_created": rfc2822(message.created), "date_sent": rfc2822(message.created),
        "date_updated": rfc2822(message.updated), "direction": "outbound-api",
        "error_code": message.error_code,
        "error_message": None if message.error_code is None else "Message undelivered",
        "from": None if hide_sender else message.sender,
        "messaging_service_sid": message.messaging_service_sid, "num_media": "0",
        "num_segments": str(message.num_segments), "price": None, "price_unit": "USD",
        "sid": message.sid, "status": message.status,
        "subresource_uris": {"media": message_uri(account_sid, message.sid).removesuffix(
            ".json") + "/Media.json"},
        "to": message.to, "uri": message_uri(account_sid, message.sid),
    }


def date_bound(value: str, upper: bool) -> datetime | None:
    """A ``DateSent`` filter value (``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SSZ``) as an
    inclusive bound: a date alone means its whole UTC day. None when unreadable."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day, time(), UTC)
            return start + timedelta(days=1, seconds=-1) if upper else start
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
