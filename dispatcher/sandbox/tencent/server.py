"""A Tencent Cloud SMS (API 2021-01-11) sandbox on loopback, with seeded faults and pushes.

The official ``tencentcloud-sdk-python-sms`` ``SmsClient`` talks to it unchanged (an
``HttpProfile`` endpoint of ``127.0.0.1:PORT`` over http): SendSms and
PullSmsSendStatusByPhoneNumber, TC3-HMAC-SHA256 verified. It is a provider reached only
over HTTP, so it imports nothing from the engine, planner, database or web app.

Per SendSms call, in this order: the gateway's checks (AuthFailure.*, NoSuchVersion,
UnsupportedRegion, InvalidAction), then throttle bursts and ``max_rate``
(RequestLimitExceeded, nothing accepted), then the parameters (UnauthorizedOperation.
SmsSdkAppIdVerifyFail, MissingParameter.EmptyPhoneNumberSet, LimitExceeded.
PhoneNumberCountLimit, ...: the whole call refused), then ``error_rate`` (HTTP 500/503;
half of these accept the numbers first, a lost response), then ``timeout_rate`` (accepted,
the answer comes after ``timeout_delay_s``). Each number then gets its own Code: "Ok", or
InvalidParameterValue.IncorrectPhoneNumber, a ``reject`` code,
LimitExceeded.PhoneNumberDailyLimit past ``daily_limit``, or FailedOperation.
InsufficientBalanceInSmsPackage once ``balance`` is spent. Only "Ok" numbers are logged;
``callback_delay_s`` later each has its status report (SUCCESS, or FAIL for
``undelivered_rate`` of them), which PullSmsSendStatusByPhoneNumber then finds and which
is pushed to ``report_url``.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette

from dispatcher.sandbox.callbacks import Scheduler
from dispatcher.sandbox.counters import group
from dispatcher.sandbox.faults import RateLimit
from dispatcher.sandbox.json_log import JsonLinesLog
from dispatcher.sandbox.serving import HoldingSandbox
from dispatcher.sandbox.tencent.app import build_app
from dispatcher.sandbox.tencent.checks import SendRequest, check_pull, check_send
from dispatcher.sandbox.tencent.faults import CallFate, FaultPlan
from dispatcher.sandbox.tencent.options import TencentOptions
from dispatcher.sandbox.tencent.pushes import Pusher
from dispatcher.sandbox.tencent.reports import pull_entry, reply_item, status_item
from dispatcher.sandbox.tencent.store import NumberStore, SentNumber
from dispatcher.sandbox.tencent.wire import (
    CallError,
    Outcome,
    answer,
    error,
    mainland,
    send_status,
    server_error,
)

FAULT_KINDS = ("error_500", "error_503", "error_accepted", "timeout", "throttle", "max_rate",
               "undelivered")
PUSH_COUNTERS = ("posts", "pushed", "acknowledged", "retried", "failed")
UNSUBSCRIBE_REPLY = "T"


class TencentSandbox(HoldingSandbox):
    """The sandbox's state and behaviour; ``.app`` is its ASGI app.

    ``with TencentSandbox(TencentOptions(seed=1)).serve() as url:`` runs it on a free
    loopback port; ``.messages()`` and ``.stats()`` inspect it from Python, like the
    ``/_sandbox/`` routes do over HTTP.
    """

    def __init__(self, options: TencentOptions | None = None) -> None:
        self.options = opts = options or TencentOptions()
        self.store = NumberStore(opts.balance)
        self.faults = FaultPlan(opts)
        self.scheduler = Scheduler(opts.callback_workers, "tencent-sandbox")
        self.pusher = Pusher(self.scheduler, self.store.count, opts.push_batch,
                             opts.callback_delay_s, opts.callback_retries,
                             opts.callback_backoff_s, opts.callback_timeout_s)
        self.closing = threading.Event()  # ends long answer delays at shutdown
        self.url: str | None = None
        self._limit = RateLimit(opts.max_rate) if opts.max_rate else None
        self.log = JsonLinesLog(opts.log_path)
        self.app: Starlette = build_app(self)

    # Python API ----------------------------------------------------------------------

    def messages(self, phone: str | None = None) -> list[dict[str, object]]:
        """Accepted numbers, oldest first: serial_no, phone, sign_name, template_id, ..."""
        found = self.store.all((mainland(phone) or phone) if phone else None)
        return [sent.summary() for sent in found]

    def stats(self) -> dict[str, Any]:
        """What ``/_sandbox/stats`` answers.

        ``calls`` (authenticated API calls), ``requests`` (by action, and ``unauthorized``),
        ``accepted`` (numbers), ``fee`` (their parts), ``balance`` (parts left, None:
        unlimited), ``duplicates`` (numbers accepted more than once with the same
        SessionContext), ``duplicate_messages`` (the extra copies), ``refused`` (codes of
        refused calls and numbers), ``auth_failures``, ``faults``, ``reports`` (SUCCESS and
        FAIL reports that exist), ``receipts_pushed`` and ``receipts_acknowledged``
        (report items, every attempt counted), ``replies_received`` (simulated and
        unsubscribing replies), ``replies_pushed``,
        ``replies_acknowledged``, ``pushes`` (per kind: posts, pushed, acknowledged,
        retried, failed) and ``pending`` (scheduled jobs).
        """
        snapshot, counts = self.store.snapshot()
        requests = group(counts, "calls", ("SendSms", "PullSmsSendStatusByPhoneNumber"))
        auth = group(counts, "auth")
        return snapshot | {
            "calls": sum(requests.values()),
            "requests": requests | {"unauthorized": sum(auth.values())},
            "refused": group(counts, "refused"), "auth_failures": auth,
            "faults": group(counts, "faults", FAULT_KINDS),
            "reports": group(counts, "reports", ("SUCCESS", "FAIL")),
            "receipts_pushed": counts.get("receipts.pushed", 0),
            "receipts_acknowledged": counts.get("receipts.acknowledged", 0),
            "replies_received": counts.get("inbound.replies", 0),
            "replies_pushed": counts.get("replies.pushed", 0),
            "replies_acknowledged": counts.get("replies.acknowledged", 0),
            "pushes": {kind: group(counts, kind, PUSH_COUNTERS)
                       for kind in ("receipts", "replies")},
            "pending": self.scheduler.pending(),
        }

    def reset(self) -> None:
        """Forget numbers, reports, counters, pending pushes; refill the balance; restart
        the fate draws."""
        self.scheduler.clear()
        self.pusher.clear()
        with self.store.lock:
            self.store.reset(self.options.balance)
        self.faults.reset()
        if self.options.max_rate:
            self._limit = RateLimit(self.options.max_rate)

    def wait_for_pushes(self, timeout: float = 10.0) -> bool:
        """Wait until every status report and push has run; False on timeout."""
        return self.scheduler.wait_idle(timeout)

    def reply(self, phone: str, content: str) -> dict[str, Any]:
        """A person's reply from ``phone``, pushed to ``reply_url`` at once (with retries,
        in this thread); what was pushed and how the receiver answered."""
        digits = mainland(phone)
        if digits is None:
            raise ValueError(f"not a mainland mobile number: {phone!r}")
        self.store.count("inbound.replies")
        item = reply_item(digits, content, self.store.last_sign(digits), datetime.now(UTC))
        url = self.options.reply_url
        if url is None:
            return {"reply": item, "push": None}
        result = self.pusher.post_now("replies", url, [item])
        return {"reply": item, "push": {"url": url, "status": result.status,
                                        "acknowledged": result.acknowledged,
                                        "error": result.error}}

    def close(self) -> None:
        """Stop the push threads and close the log; the state stays readable."""
        super().close()
        self.pusher.close()
        self.log.close()

    # Behaviour behind the API ----------------------------------------------------------

    def call(self, action: str, params: dict[str, Any]) -> Outcome:
        """One call past the gateway's checks."""
        self.store.count(f"calls.{action}")
        try:
            if action == "SendSms":
                return self._send(params)
            return self._pull(params)
        except CallError as refused:
            self.store.count(f"refused.{refused.code}")
            return error(refused.code, refused.detail)

    def _send(self, params: dict[str, Any]) -> Outcome:
        fate = self.faults.next_fate()
        if fate.throttled or (self._limit is not None and not self._limit.take()):
            self.store.count("faults.throttle" if fate.throttled else "faults.max_rate")
            return error("RequestLimitExceeded")
        request = check_send(params, self.options)
        if fate.error_status is not None:
            self.store.count(f"faults.error_{fate.error_status}")
            if fate.accepted_before_error:
                self.store.count("faults.error_accepted")
                self._accept_all(request, fate, f"error_{fate.error_status}")
            return server_error(fate.error_status)
        statuses = self._accept_all(request, fate, "timeout" if fate.timeout else None)
        if fate.timeout:
            self.store.count("faults.timeout")
            return answer({"SendStatusSet": statuses}, self.options.timeout_delay_s)
        return answer({"SendStatusSet": statuses})

    def _pull(self, params: dict[str, Any]) -> Outcome:
        query = check_pull(params, self.options, datetime.now(UTC))
        found = self.store.reports(query.phone, query.begin, query.end)
        page = found[query.offset:query.offset + query.limit]
        return answer({"PullSmsSendStatusSet": [pull_entry(sent) for sent in page]})

    def _accept_all(self, request: SendRequest, fate: CallFate,
                    fault: str | None) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        return [self._accept(number, index, request, fate, fault, now)
                for index, number in enumerate(request.numbers)]

    def _accept(self, number: object, index: int, request: SendRequest, fate: CallFate,
                fault: str | None, now: datetime) -> dict[str, Any]:
        """One number's SendStatus; an accepted one is logged and its report scheduled."""
        written, context = str(number), request.session_context
        phone = mainland(number)
        code = ("InvalidParameterValue.IncorrectPhoneNumber" if phone is None
                else self.options.reject.get(phone))
        if phone is None or code is not None:
            self.store.count(f"refused.{code}")
            return send_status(written, str(code), session_context=context)
        planned = fate.of_number(index)
        sent = SentNumber(planned.serial_no, phone, request.sign_name, request.template_id,
                          request.params, context, request.fee, now, fault, planned.failure)
        code, first = self.store.accept(sent, self.options.daily_limit)
        if code != "Ok":
            self.store.count(f"refused.{code}")
            return send_status(written, code, session_context=context)
        self.log.write([sent.summary()])
        delay = self.options.callback_delay_s
        self.scheduler.at(delay, lambda: self._report(sent.serial_no))
        if first and phone in self.options.unsubscribe_replies:
            self.scheduler.at(delay, lambda: self._unsubscribe(phone))
        return send_status(written, "Ok", sent.serial_no, sent.fee, context)

    def _report(self, serial_no: str) -> None:
        """The status report of an accepted number now exists; push it."""
        sent = self.store.report(serial_no, datetime.now(UTC))
        if sent is None:
            return  # reset since
        if sent.failure is not None:
            self.store.count("faults.undelivered")
        if self.options.report_url:
            self.pusher.add("receipts", self.options.report_url, status_item(sent))

    def _unsubscribe(self, phone: str) -> None:
        """The person behind ``phone`` answers its first message with "T"."""
        self.store.count("inbound.replies")
        if self.options.reply_url:
            item = reply_item(phone, UNSUBSCRIBE_REPLY, self.store.last_sign(phone),
                              datetime.now(UTC))
            self.pusher.add("replies", self.options.reply_url, item)


def create_tencent_app(options: TencentOptions | None = None) -> Starlette:
    """The sandbox's ASGI app; its :class:`TencentSandbox` is ``app.state.sandbox``."""
    return TencentSandbox(options).app
