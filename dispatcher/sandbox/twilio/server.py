"""A Twilio-compatible Messages API on loopback, with seeded faults and signed webhooks.

The real ``twilio`` client talks to it unchanged (point its HTTP client at the sandbox's
URL): create, fetch and list messages, receive signed status callbacks and inbound
replies. It is a provider reached only over HTTP, so it imports nothing from the engine,
planner, database or web app.

Fault semantics, per create request (see :mod:`dispatcher.sandbox.faults` for the draws):
authentication (401), then throttle bursts and ``max_rate`` (429, nothing created), then
validation and refusals (400: 21211, 21602, 21604, 21610 ...; nothing created), then
``error_rate`` (500/503; half of these create the message first, as when a real
provider's response is lost), then ``timeout_rate`` (created, the 201 comes only after
``timeout_delay_s``). A message exists from the moment its request is handled; every API
response (errors included) is then held back ``latency_ms``. After a create, background
threads move the message to ``sent`` and then ``delivered`` (or ``undelivered`` with
30003/30005/30006/30008 for ``undelivered_rate`` of them), posting a signed status
callback for each when the create gave a StatusCallback.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette

from channels.sms.segments import count_segments
from dispatcher.sandbox.callbacks import Scheduler, Webhook, WebhookPoster
from dispatcher.sandbox.faults import Fate, FaultPlan, RateLimit
from dispatcher.sandbox.json_log import JsonLinesLog
from dispatcher.sandbox.serving import HoldingSandbox
from dispatcher.sandbox.twilio.app import build_app
from dispatcher.sandbox.twilio.options import MAGIC_TO_NUMBERS, SANDBOX_POOL_NUMBER, TwilioOptions
from dispatcher.sandbox.twilio.store import MessageStore, StoredMessage
from dispatcher.sandbox.twilio.wire import (
    API_VERSION,
    CreateRequest,
    Outcome,
    check_create,
    error_outcome,
    message_json,
    throttled,
)

# Twilio's default opt-out and opt-in keywords (a reply that is exactly one of them).
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
FAULT_KINDS = ("error_500", "error_503", "error_created", "timeout", "throttle", "max_rate",
               "undelivered")


class TwilioSandbox(HoldingSandbox):
    """The sandbox's state and behaviour; ``.app`` is its ASGI app.

    ``with TwilioSandbox(TwilioOptions(seed=1)).serve() as url:`` runs it on a free
    loopback port; ``.messages()`` and ``.stats()`` inspect it from Python, like the
    ``/_sandbox/`` endpoints do over HTTP.
    """

    def __init__(self, options: TwilioOptions | None = None) -> None:
        self.options = opts = options or TwilioOptions()
        self.store = MessageStore()
        self.faults = FaultPlan(opts)
        self.scheduler = Scheduler(opts.callback_workers)
        self.poster = WebhookPoster(self.scheduler, opts.auth_token, self.store.count,
                                    opts.callback_retries, opts.callback_backoff_s,
                                    opts.callback_timeout_s)
        self.closing = threading.Event()  # ends long response delays at shutdown
        self.url: str | None = None
        self._limit = RateLimit(opts.max_rate) if opts.max_rate else None
        self._unsubscribed = set(opts.unsubscribed)
        self.log = JsonLinesLog(opts.log_path)
        self.app: Starlette = build_app(self)

    # Python API ----------------------------------------------------------------------

    def messages(self, to: str | None = None) -> list[dict[str, object]]:
        """Accepted messages, oldest first: sid, to, from, body, status, created, ..."""
        return [message.summary() for message in self.store.all(to)]

    def stats(self) -> dict[str, Any]:
        """What ``/_sandbox/stats`` answers.

        ``created`` (messages stored), ``by_status``, ``duplicates`` (To numbers that got
        one Body more than once), ``duplicate_messages`` (the extra copies), ``requests``
        (create/fetch/list/unauthorized), ``rejected`` (400s by error code), ``faults``
        (error_500, error_503, error_created, timeout, throttle, max_rate, undelivered),
        ``callbacks`` and ``inbound`` (sent, failed, retried; callbacks also pending jobs),
        ``unsubscribed`` (numbers in the set).
        """
        snapshot, counts = self.store.snapshot()

        def group(prefix: str, keys: tuple[str, ...] = ()) -> dict[str, int]:
            found = {k.removeprefix(prefix): v for k, v in counts.items()
                     if k.startswith(prefix)}
            return {key: found.get(key, 0) for key in keys} | found

        with self.store.lock:
            unsubscribed = len(self._unsubscribed)
        return snapshot | {
            "requests": group("requests.", ("create", "fetch", "list", "unauthorized")),
            "rejected": group("rejected."),
            "faults": group("faults.", FAULT_KINDS),
            "callbacks": group("callbacks.", ("sent", "failed", "retried"))
            | {"pending": self.scheduler.pending()},
            "inbound": group("inbound.", ("received", "sent", "failed", "retried")),
            "unsubscribed": unsubscribed,
        }

    def unsubscribed(self) -> set[str]:
        with self.store.lock:
            return set(self._unsubscribed)

    def reset(self) -> None:
        """Forget messages, counters, pending callbacks and STOPs; restart the fate draws."""
        self.scheduler.clear()
        with self.store.lock:
            self.store.reset()
            self._unsubscribed = set(self.options.unsubscribed)
        self.faults.reset()
        if self.options.max_rate:
            self._limit = RateLimit(self.options.max_rate)

    def wait_for_callbacks(self, timeout: float = 10.0) -> bool:
        """Wait until every status change and webhook has run; False on timeout."""
        return self.scheduler.wait_idle(timeout)

    def close(self) -> None:
        """Stop the webhook threads and close the log; the state stays readable."""
        super().close()
        self.log.close()

    # Behaviour behind the API ----------------------------------------------------------

    def create(self, form: Mapping[str, str]) -> Outcome:
        """One authenticated create request, in the order of the module docstring."""
        self.store.count("requests.create")
        fate = self.faults.next_fate()
        if fate.throttled or (self._limit is not None and not self._limit.take()):
            self.store.count("faults.throttle" if fate.throttled else "faults.max_rate")
            return throttled()
        checked = check_create(form)
        if isinstance(checked, tuple):
            return self._reject(*checked)
        refusal = self._refusal(checked.to)
        if refusal is not None:
            return self._reject(refusal, {"to": checked.to, "sender": checked.sender})
        if fate.error_status is not None:
            self.store.count(f"faults.error_{fate.error_status}")
            if fate.created_before_error:
                self.store.count("faults.error_created")
                self._accept(checked, fate, f"error_{fate.error_status}")
            return error_outcome(20500 if fate.error_status == 500 else 20503,
                                 fate.error_status)
        message = self._accept(checked, fate, "timeout" if fate.timeout else None)
        body = message_json(message, self.options.account_sid,
                            hide_sender=checked.sender is None)
        if fate.timeout:
            self.store.count("faults.timeout")
            return Outcome(201, body, delay=self.options.timeout_delay_s)
        return Outcome(201, body)

    def inbound(self, form: Mapping[str, str]) -> tuple[Webhook | None, dict[str, Any]]:
        """A person's reply: STOP/START words change the unsubscribed set; returns the
        webhook to post (None without an inbound URL) and the reply's description."""
        sender, body = form.get("From", "").strip(), form.get("Body", "")
        to = form.get("To", "").strip() or SANDBOX_POOL_NUMBER
        word = body.strip().upper()
        with self.store.lock:
            if word in STOP_WORDS:
                self._unsubscribed.add(sender)
            elif word in START_WORDS:
                self._unsubscribed.discard(sender)
            unsubscribed = sender in self._unsubscribed
        self.store.count("inbound.received")
        sid = f"SM{uuid.uuid4().hex}"
        params = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid,
                  "AccountSid": self.options.account_sid, "From": sender, "To": to,
                  "Body": body, "NumMedia": "0",
                  "NumSegments": str(max(1, count_segments(body).segments)),
                  "SmsStatus": "received", "ApiVersion": API_VERSION}
        url = form.get("Url", "").strip() or self.options.inbound_url
        reply = {"sid": sid, "from": sender, "to": to, "body": body,
                 "unsubscribed": unsubscribed}
        return (Webhook("inbound", url, params) if url else None), reply

    def _reject(self, code: int, fields: Mapping[str, Any]) -> Outcome:
        self.store.count(f"rejected.{code}")
        return error_outcome(code, 400, **fields)

    def _refusal(self, to: str) -> int | None:
        with self.store.lock:
            if to in self._unsubscribed:
                return 21610
        return self.options.reject.get(to) or MAGIC_TO_NUMBERS.get(to)

    def _accept(self, request: CreateRequest, fate: Fate, fault: str | None) -> StoredMessage:
        now = datetime.now(UTC)
        via_service = request.service is not None and request.sender is None
        message = self.store.add(StoredMessage(
            seq=0, sid=fate.sid, to=request.to, sender=request.sender or SANDBOX_POOL_NUMBER,
            body=request.body, messaging_service_sid=request.service,
            status="accepted" if via_service else "queued", created=now, updated=now,
            num_segments=max(1, count_segments(request.body).segments),
            status_callback=request.status_callback, final_code=fate.undelivered_code,
            fault=fault))
        self.log.write([message.summary()])
        self.scheduler.at(self.options.callback_delay_s,
                          lambda: self._advance(message.sid, "sent"))
        return message

    def _advance(self, sid: str, status: str) -> None:
        """Move a message to ``status`` (on a webhook thread), post its status callback,
        then schedule the final status after ``sent``."""
        current = self.store.get(sid)
        if current is None:
            return  # reset since
        code = current.final_code if status == "undelivered" else None
        message = self.store.set_status(sid, status, datetime.now(UTC), code)
        if message is None:
            return
        if status == "undelivered":
            self.store.count("faults.undelivered")
        then = None
        if status == "sent":
            final = "delivered" if message.final_code is None else "undelivered"

            def then() -> None:
                self.scheduler.at(self.options.callback_delay_s,
                                  lambda: self._advance(sid, final))

        if message.status_callback and status in self.options.callback_statuses:
            self.poster.post(Webhook("callbacks", message.status_callback,
                                     self._status_params(message), then))
        elif then is not None:
            then()

    def _status_params(self, message: StoredMessage) -> dict[str, str]:
        params = {"MessageSid": message.sid, "SmsSid": message.sid,
                  "MessageStatus": message.status, "SmsStatus": message.status,
                  "AccountSid": self.options.account_sid, "From": message.sender,
                  "To": message.to, "ApiVersion": API_VERSION}
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if message.error_code is not None:
            params["ErrorCode"] = str(message.error_code)
        return params


def create_twilio_app(options: TwilioOptions | None = None) -> Starlette:
    """The sandbox's ASGI app; its :class:`TwilioSandbox` is ``app.state.sandbox``."""
    return TwilioSandbox(options).app
