"""A partner app's notice endpoint on loopback (a parcel pick-up app), with seeded faults.

``POST /notices`` takes one signed JSON notice (``id``, ``recipient``, ``message``,
``callback_url``) and, like a real partner, dedupes by id: a repeat is answered 200
``{"accepted": true, "duplicate": true}`` and counted, never shown twice. After
``ack_delay_s`` it posts a signed acknowledgement (``delivered``, or ``failed`` for
``fail_rate`` of the notices) to the notice's callback URL. It is a provider reached only
over HTTP: it imports nothing from the engine, planner, database, web app or channel.

Order of the checks, per request: signature and timestamp (401), throttle bursts and
``max_rate`` (429, ``Retry-After: 1``), the body (400), a known id (200 duplicate), a
refused recipient (400, ``reject_rate``), ``error_rate`` (500/503; half of them accept the
notice first, as when a real answer is lost), ``timeout_rate`` (accepted, the 200 only
after ``timeout_delay_s``), then accepted. Every answer is then held ``latency_ms``.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, NamedTuple

from starlette.applications import Starlette

from dispatcher.sandbox.callbacks import Scheduler
from dispatcher.sandbox.faults import RateLimit
from dispatcher.sandbox.partner.acks import Ack, AckPoster, sign
from dispatcher.sandbox.partner.app import build_app
from dispatcher.sandbox.partner.options import PartnerOptions, fails, fate, refuses
from dispatcher.sandbox.partner.stats import Outcome, stats_of
from dispatcher.sandbox.serving import HoldingSandbox

E164 = re.compile(r"\+[1-9]\d{6,14}")
FAILED_TEXT = "the app could not show the notice (simulated)"


class Notice(NamedTuple):
    id: str
    recipient: str
    message: str
    callback_url: str | None
    accepted_at: float  # unix time


class PartnerSandbox(HoldingSandbox):
    """State and behaviour of the partner endpoint; ``.app`` is its ASGI app."""

    def __init__(self, options: PartnerOptions | None = None) -> None:
        self.options = opts = options or PartnerOptions()
        self.lock = threading.Lock()
        self.notices: dict[str, Notice] = {}
        self.counts: Counter[str] = Counter()
        self.per_second: dict[str, Counter[int]] = {"accepted": Counter(), "received": Counter()}
        self._requests = 0
        self._limit = RateLimit(opts.max_rate) if opts.max_rate else None
        self.scheduler = Scheduler(opts.ack_workers, name="partner-acks")
        self.poster = AckPoster(self.scheduler, opts.secret, self.count, opts.ack_retries,
                                opts.ack_backoff_s, opts.ack_timeout_s)
        self.closing = threading.Event()  # ends long answer delays at shutdown
        self.url: str | None = None
        self.app: Starlette = build_app(self)

    # Python API ----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """What ``/_sandbox/stats`` answers (see :func:`partner_stats.stats_of`)."""
        with self.lock:
            return stats_of(self.counts, self.notices.values(), self.per_second,
                            self.scheduler.pending())

    def accepted(self) -> list[dict[str, Any]]:
        """Accepted notices, oldest first."""
        with self.lock:
            return [n._asdict() for n in sorted(self.notices.values(),
                                                key=lambda n: n.accepted_at)]

    def count(self, name: str) -> None:
        with self.lock:
            self.counts[name] += 1

    def reset(self) -> None:
        """Forget notices, counters and pending acknowledgements; restart the fate draws."""
        self.scheduler.clear()
        with self.lock:
            self.notices.clear()
            self.counts.clear()
            for counter in self.per_second.values():
                counter.clear()
            self._requests = 0
            self._limit = RateLimit(self.options.max_rate) if self.options.max_rate else None

    def wait_for_acks(self, timeout: float = 10.0) -> bool:
        """Wait until every acknowledgement has been posted or given up; False on timeout."""
        return self.scheduler.wait_idle(timeout)

    # Behaviour behind the API --------------------------------------------------------------

    def receive(self, headers: Mapping[str, str], body: bytes) -> Outcome:
        """One notice request, in the order of the module docstring."""
        problem = self._unsigned(headers, body)
        if problem is not None:
            self.count("unauthorized")
            return Outcome(401, {"error": problem})
        number = self._received()
        luck = fate(self.options, number)
        if luck.throttled or (self._limit is not None and not self._limit.take()):
            self.count("faults.throttle" if luck.throttled else "faults.max_rate")
            return Outcome(429, {"error": "too many requests"}, {"Retry-After": "1"})
        notice = _notice(body)
        if isinstance(notice, str):
            self.count("rejected.invalid")
            return Outcome(400, {"error": notice})
        if self._known(notice.id):
            return self._duplicate(notice)
        if refuses(self.options, notice.recipient):
            self.count("rejected.recipient")
            return Outcome(400, {"error": f"{notice.recipient} is not a user of the app"})
        if luck.error_status is not None:
            self.count(f"faults.error_{luck.error_status}")
            if luck.accepted_before_error and self._accept(notice):
                self.count("faults.error_accepted")
            return Outcome(luck.error_status, {"error": "internal error (simulated)"})
        if not self._accept(notice):
            return self._duplicate(notice)  # the same id arrived twice at once
        answer = {"accepted": True, "duplicate": False, "id": notice.id}
        if luck.timeout:
            self.count("faults.timeout")
            return Outcome(200, answer, delay=self.options.timeout_delay_s)
        return Outcome(200, answer)

    def _unsigned(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """Why the request is not a fresh, signed one (None when it is)."""
        timestamp = headers.get("x-dispatcher-timestamp", "")
        given = headers.get("x-dispatcher-signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > self.options.max_age_s:
            return "X-Dispatcher-Timestamp is missing or too far from our clock"
        if not hmac.compare_digest(sign(self.options.secret, timestamp, body), given):
            return "X-Dispatcher-Signature does not match"
        return None

    def _received(self) -> int:
        with self.lock:
            number = self._requests
            self._requests += 1
            self.counts["received"] += 1
            self.per_second["received"][int(time.time())] += 1
        return number

    def _duplicate(self, notice: Notice) -> Outcome:
        self.count("duplicates")
        return Outcome(200, {"accepted": True, "duplicate": True, "id": notice.id})

    def _known(self, notice_id: str) -> bool:
        with self.lock:
            return notice_id in self.notices

    def _accept(self, notice: Notice) -> bool:
        """Keep the notice and schedule its acknowledgement; False if the id is known."""
        now = time.time()
        with self.lock:
            if notice.id in self.notices:
                return False
            self.notices[notice.id] = notice._replace(accepted_at=now)
            self.per_second["accepted"][int(now)] += 1
            failed = fails(self.options, notice.id)
            self.counts[f"outcomes.{'failed' if failed else 'delivered'}"] += 1
        if notice.callback_url:
            ack = Ack(notice.callback_url, notice.id, "failed" if failed else "delivered",
                      FAILED_TEXT if failed else None, self.options.endpoint)
            self.poster.post_later(ack, self.options.ack_delay_s)
        return True


def _notice(body: bytes) -> Notice | str:
    """The notice in ``body``, or what is wrong with it."""
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "the body is not JSON"
    if not isinstance(value, dict):
        return "the body must be a JSON object"
    ident, recipient, message = value.get("id"), value.get("recipient"), value.get("message")
    callback = value.get("callback_url")
    if not isinstance(ident, str) or not ident:
        return "id must be a non-empty string"
    if not isinstance(recipient, str) or not E164.fullmatch(recipient):
        return "recipient must be a phone number in E.164 form, such as +8613800138000"
    if not isinstance(message, str) or not message.strip():
        return "message must be a non-empty string"
    if callback is not None and not isinstance(callback, str):
        return "callback_url must be a string"
    return Notice(ident, recipient, message, callback or None, 0.0)
