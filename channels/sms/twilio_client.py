"""The Twilio REST client an SMS channel sends with, and what each failure means for a send.

One :class:`TwilioAccount` per configured channel, shared by every sending thread. Its
HTTP client is twilio's own ``TwilioHttpClient`` with three changes:

- every request goes to ``api_base`` when set (the sandbox or a regional proxy): scheme,
  host and port are rewritten, so ``TWILIO_EDGE`` / ``TWILIO_REGION`` cannot route around it;
- the connection pool holds ``concurrency`` connections (a thread waits for a free one:
  see ``channels.http_pool``) and each request has a timeout;
- the last response is kept per thread, so a 429's ``Retry-After`` is read by the thread
  that got it (twilio's exception does not carry the response headers).

A requests ``Session`` shared by threads is safe for this use: connection pools are
thread-safe, and the session's mutable state (cookies) is neither set by Twilio nor used.
twilio's ``_test_only_last_request`` / ``_test_only_last_response`` attributes are racy
but nothing reads them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from channels.base import SendResult
from channels.http_outcomes import retry_after, transport_result
from channels.http_pool import mount_pool, pool_options
from channels.sms.settings import TwilioSettings

# Errors that mean this message will never go through as it is: the row fails at once.
PERMANENT_CODES: Mapping[int, str] = {
    21211: "invalid 'To' phone number",
    21212: "invalid 'From' number",
    21214: "'To' number cannot be reached",
    21217: "phone number does not appear to be valid",
    21401: "invalid phone number",
    21408: "sending to this region is not enabled on the account",
    21602: "message body is required",
    21603: "'From' or 'MessagingServiceSid' is required",
    21604: "'To' phone number is required",
    21606: "the 'From' number cannot send SMS",
    21610: "the recipient unsubscribed (replied STOP)",
    21612: "the 'To' number cannot be reached from the 'From' number",
    21614: "'To' is not a mobile number",
    21617: "body exceeds 1600 characters",
    21624: "invalid validity period",
    30003: "unreachable destination handset",
    30004: "message blocked (the recipient opted out or blocked the sender)",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
    30007: "filtered by the carrier as spam",
    30008: "unknown delivery error",
}
# The recipient does not want our messages: the engine adds them to the opt-out list.
OPT_OUT_CODES = frozenset({21610, 30004})
# Not processed, try again later (like HTTP 429): nothing was sent.
RETRY_CODES: Mapping[int, str] = {
    20429: "too many requests",
    21611: "the sender's queue of messages is full",
}
LOOKUP_LIMIT = 50  # messages to one number listed when reconciling a lost send
CLOCK_SKEW = timedelta(seconds=1)  # Twilio's clock may be this far behind ours


class RoutedHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """twilio's HTTP client, sent to ``api_base``, pooled, with a per-thread last response."""

    def __init__(self, api_base: str | None, pool_size: int, timeout: float) -> None:
        super().__init__(pool_connections=True, timeout=timeout)
        mount_pool(self.session, HTTPAdapter(**pool_options(pool_size)))
        self.base = urlsplit(api_base) if api_base else None
        self._local = threading.local()

    def route(self, url: str) -> str:
        if self.base is None:
            return url
        parts = urlsplit(url)
        return urlunsplit((self.base.scheme, self.base.netloc, self.base.path + parts.path,
                           parts.query, parts.fragment))

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        self._local.response = None
        response: Response = super().request(method, self.route(url), *args, **kwargs)
        self._local.response = response
        return response

    @property
    def last_response(self) -> Response | None:
        """The response this thread received last (None after a transport error)."""
        return getattr(self._local, "response", None)


@dataclass(frozen=True)
class FoundMessage:
    sid: str
    status: str
    error_code: int | None


class TwilioAccount:
    """A Twilio REST client built from the channel's settings (secrets revealed here)."""

    def __init__(self, settings: TwilioSettings) -> None:
        sid = settings.account_sid
        self.account_sid = sid if isinstance(sid, str) else sid.reveal()
        self.http = RoutedHttpClient(settings.api_base, settings.concurrency, settings.timeout)
        self.client = Client(self.account_sid, settings.auth_token.reveal(),
                             http_client=self.http)
        self.messages = self.client.messages  # resolved once, not lazily by many threads

    def create(self, delivery_id: int, params: Mapping[str, Any], units: int) -> SendResult:
        """One ``Messages.create`` call as a result; provider errors never raise."""
        try:
            record = self.messages.create(**params)
        except TwilioException as exc:
            return self._refused(delivery_id, exc)
        except requests.RequestException as exc:
            return transport_result(delivery_id, exc)
        except json.JSONDecodeError as exc:  # a 2xx without JSON: a proxy, not Twilio
            return SendResult(delivery_id, "unknown", detail=f"unreadable answer: {exc}")
        segments = str(record.num_segments or "")
        return SendResult(delivery_id, "accepted", provider_ref=record.sid,
                          units=int(segments) if segments.isdigit() else units,
                          detail=f"twilio {record.status}")

    def find(self, to: str, body: str, since: datetime) -> FoundMessage | None:
        """The first message to ``to`` with this body created at or after ``since``.

        Lists the day's messages to that number (``DateSent>=`` the UTC date of ``since``)
        and compares creation times to the second, allowing :data:`CLOCK_SKEW`. Transport
        and API errors raise: the caller tries the lookup again later.
        """
        aware = since if since.tzinfo else since.replace(tzinfo=UTC)
        earliest = aware.astimezone(UTC).replace(microsecond=0) - CLOCK_SKEW
        records = self.messages.list(to=to, date_sent_after=earliest.date(),
                                     limit=LOOKUP_LIMIT)
        matches = [r for r in records if r.body == body and r.date_created is not None
                   and r.date_created >= earliest]
        if not matches:
            return None
        first = min(matches, key=lambda r: r.date_created)
        return FoundMessage(first.sid, str(first.status), first.error_code)

    def _refused(self, delivery_id: int, exc: TwilioException) -> SendResult:
        status: int | None = getattr(exc, "status", None)
        code: int | None = getattr(exc, "code", None)
        message = str(getattr(exc, "msg", "") or getattr(exc, "detail", "") or exc)
        label = str(code if code is not None else status)
        if status == 429 or code in RETRY_CODES:
            return SendResult(delivery_id, "retry", code=label, detail=message,
                              retry_after=_retry_after_of(self.http.last_response))
        if code is not None and code in PERMANENT_CODES:
            return SendResult(delivery_id, "failed", code=label,
                              detail=f"{PERMANENT_CODES[code]}: {message}",
                              opt_out=code in OPT_OUT_CODES)
        if status is None or status >= 500:
            return SendResult(delivery_id, "unknown", code=label, detail=message)
        return SendResult(delivery_id, "failed", code=label, detail=message)


def _retry_after_of(response: Response | None) -> float | None:
    """``Retry-After`` of the last response, in seconds."""
    return retry_after((response.headers or {}).get("Retry-After") if response else None)
