"""An Aliyun SMS API (dysmsapi 2017-05-25) on loopback, with seeded faults and pushes.

The official SDK (``alibabacloud_dysmsapi20170525``) talks to it unchanged: point its
``Config(endpoint=..., protocol="http")`` at the sandbox. It is a provider reached only
over HTTP, so it imports nothing from the engine, planner, database or web app.

Per send call (SendSms, SendBatchSms), in this order: the ACS3 signature, its date and
nonce (HTTP 400/404, see :mod:`.signing`); throttle bursts and ``max_rate`` (HTTP 400
``Throttling.User``, nothing accepted); the parameters (HTTP 400 ``Missing*``, or HTTP 200
with an ``isv.*`` code: nothing accepted); ``reject`` numbers, the per-number
``daily_limit`` and the ``balance`` (a one-number call is refused with the code; in a
call of several numbers the call succeeds, and those numbers are not accepted and fail in
their receipt); ``error_rate`` (500/503; half of these accept the call first, as when a
real response is lost); ``timeout_rate`` (accepted, answered after ``timeout_delay_s``).
Every answer is then held back ``latency_ms``. A call's numbers share one BizId. After
``callback_delay_s`` each accepted number gets its receipt (delivered, or failed for
``undelivered_rate`` of them), visible to QuerySendDetails and pushed to ``report_url``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette

from dispatcher.sandbox.aliyun import calls
from dispatcher.sandbox.aliyun.app import build_app
from dispatcher.sandbox.aliyun.faults import Fate, FaultPlan
from dispatcher.sandbox.aliyun.options import UNDELIVERED_CODES, AliyunOptions
from dispatcher.sandbox.aliyun.pushes import Item, Pusher
from dispatcher.sandbox.aliyun.signing import Verifier
from dispatcher.sandbox.aliyun.store import MessageStore, StoredMessage
from dispatcher.sandbox.aliyun.wire import (
    CODES,
    Outcome,
    Refused,
    answer,
    clock_text,
    mainland,
    shanghai,
    sms_size,
)
from dispatcher.sandbox.callbacks import Scheduler
from dispatcher.sandbox.counters import group
from dispatcher.sandbox.faults import RateLimit
from dispatcher.sandbox.json_log import JsonLinesLog
from dispatcher.sandbox.serving import HoldingSandbox

SEND_ACTIONS = ("SendSms", "SendBatchSms")
FAULT_KINDS = ("error_500", "error_503", "error_accepted", "timeout", "throttle", "max_rate",
               "undelivered", "daily_limit", "rejected")
PUSH_COUNTERS = ("pushed", "acknowledged", "retried", "failed", "posts")
DEST_CODE = "1069000"  # the extension a reply was sent to
DELIVERED_TEXT = "用户接收成功"
UNSUBSCRIBE_WORD = "T"

Reader = Callable[[Mapping[str, str], Mapping[str, str] | None], calls.SendCall]
READERS: Mapping[str, Reader] = {"SendSms": calls.send_sms,
                                 "SendBatchSms": calls.send_batch_sms}


class AliyunSandbox(HoldingSandbox):
    """The sandbox's state and behaviour; ``.app`` is its ASGI app.

    ``with AliyunSandbox(AliyunOptions(seed=1)).serve() as url:`` runs it on a free
    loopback port (the SDK's endpoint is ``url`` without ``http://``); ``.messages()`` and
    ``.stats()`` inspect it from Python, like the ``/_sandbox/`` routes do over HTTP.
    """

    def __init__(self, options: AliyunOptions | None = None) -> None:
        self.options = opts = options or AliyunOptions()
        self.store = MessageStore(opts.daily_limit, opts.balance)
        self.faults = FaultPlan(opts)
        self.verifier = Verifier(opts.access_key_id, opts.access_key_secret,
                                 opts.max_clock_skew_s)
        self.scheduler = Scheduler(opts.callback_workers, name="aliyun-pushes")
        self.pusher = Pusher(self.scheduler, self.store.count, delay=opts.callback_delay_s,
                             batch=opts.push_batch, retries=opts.callback_retries,
                             backoff=opts.callback_backoff_s, timeout=opts.callback_timeout_s)
        self.closing = threading.Event()  # ends long answer delays at shutdown
        self.url: str | None = None
        self._limit = RateLimit(opts.max_rate) if opts.max_rate else None
        self._sequence = itertools.count(1)
        self._replied: set[str] = set()
        self.log = JsonLinesLog(opts.log_path)
        self.app: Starlette = build_app(self)

    # Python API ----------------------------------------------------------------------

    def messages(self, phone: str | None = None) -> list[dict[str, object]]:
        """Accepted numbers, oldest first: phone, biz_id, out_id, content, status, ..."""
        return [message.summary() for message in self.store.all(phone)]

    def stats(self) -> dict[str, Any]:
        """What ``/_sandbox/stats`` answers.

        ``calls`` (send calls authenticated), ``accepted`` (numbers), ``by_status``,
        ``duplicates`` (numbers accepted more than once with the same OutId, or the same
        content when without), ``duplicate_messages`` (the extra copies), ``balance``,
        ``requests`` by action, ``unauthorized`` by code, ``refused`` (calls refused by
        code), ``faults`` by kind (daily_limit and rejected count numbers of calls of
        several), ``receipts_pushed`` and ``receipts_acknowledged`` (receipt items in
        POSTs, and in acknowledged ones), ``receipts`` and ``replies`` (pushed,
        acknowledged, retried, failed, posts), ``pending`` push jobs.
        """
        snapshot, counts = self.store.snapshot()
        receipts = group(counts, "receipts", PUSH_COUNTERS)
        return snapshot | {
            "calls": sum(counts.get(f"requests.{action}", 0) for action in SEND_ACTIONS),
            "requests": group(counts, "requests", (*SEND_ACTIONS, "QuerySendDetails")),
            "unauthorized": group(counts, "unauthorized"),
            "refused": group(counts, "refused"),
            "faults": group(counts, "faults", FAULT_KINDS),
            "receipts_pushed": receipts["pushed"],
            "receipts_acknowledged": receipts["acknowledged"],
            "receipts": receipts,
            "replies": group(counts, "replies", ("received", *PUSH_COUNTERS)),
            "pending": self.scheduler.pending(),
        }

    def reset(self) -> None:
        """Forget messages, counters, nonces and pending pushes; restart the fate draws."""
        self.scheduler.clear()
        self.pusher.clear()
        with self.store.lock:
            self.store.reset()
            self._replied.clear()
        self.faults.reset()
        self.verifier.forget()
        if self.options.max_rate:
            self._limit = RateLimit(self.options.max_rate)

    def wait_for_pushes(self, timeout: float = 10.0) -> bool:
        """Wait until every receipt, reply and push retry has run; False on timeout."""
        return self.scheduler.wait_idle(timeout)

    def close(self) -> None:
        """Stop the push threads and close the log; the state stays readable."""
        super().close()
        self.pusher.close()
        self.log.close()

    # Behaviour behind the API ----------------------------------------------------------

    def call(self, action: str, params: Mapping[str, str]) -> Outcome:
        """One authenticated API call."""
        if action in READERS:
            return self.send(action, params)
        if action == "QuerySendDetails":
            return self.query(params)
        return answer("InvalidAction.NotFound")

    def send(self, action: str, params: Mapping[str, str]) -> Outcome:
        """A SendSms or SendBatchSms call, in the order of the module docstring."""
        self.store.count(f"requests.{action}")
        fate = self.faults.next_fate()
        if fate.throttled or (self._limit is not None and not self._limit.take()):
            self.store.count("faults.throttle" if fate.throttled else "faults.max_rate")
            return answer("Throttling.User")
        try:
            return self._send(READERS[action](params, self.options.templates), fate)
        except Refused as refused:
            self.store.count(f"refused.{refused.outcome.body['Code']}")
            return refused.outcome

    def query(self, params: Mapping[str, str]) -> Outcome:
        """QuerySendDetails: the numbers accepted on that Beijing date, a page of them."""
        self.store.count("requests.QuerySendDetails")
        try:
            asked = calls.query_send_details(params, shanghai(datetime.now(UTC)).date())
        except Refused as refused:
            return refused.outcome
        total, details = self.store.details(asked.phone, asked.day, asked.biz_id,
                                            asked.page_size, asked.page)
        return answer("OK", TotalCount=total, SmsSendDetailDTOs={"SmsSendDetailDTO": details})

    def reply(self, phone: str, content: str) -> dict[str, Any]:
        """A person's upstream reply, pushed to ``reply_url``; raises ValueError for a
        number that is not a mainland mobile number."""
        number = mainland(phone)
        if number is None:
            raise ValueError(f"{phone!r} is not a mainland mobile number")
        item: Item = {"phone_number": number, "send_time": clock_text(datetime.now(UTC)),
                      "content": content, "sign_name": self.store.last_sign_name(number) or "",
                      "dest_code": DEST_CODE, "sequence_id": next(self._sequence)}
        self.store.count("replies.received")
        if self.options.reply_url:
            self.pusher.push("replies", self.options.reply_url, [item])
        return item

    def _send(self, call: calls.SendCall, fate: Fate) -> Outcome:
        single = len(call.entries) == 1
        refusals = {e.phone: code for e in call.entries
                    if (code := self.options.reject.get(e.phone)) is not None}
        if single and refusals:
            raise Refused(answer(refusals[call.entries[0].phone]))
        fault = (f"error_{fate.error_status}" if fate.error_status is not None
                 else "timeout" if fate.timeout else None)
        now = datetime.now(UTC)
        messages = [self._message(call, entry, fate, index, now, fault)
                    for index, entry in enumerate(call.entries)]
        store = fate.error_status is None or fate.accepted_before_error
        accepted, over = self.store.admit([m for m in messages if m.phone not in refusals],
                                          store=store, single=single)
        if store:
            refused = [(m, refusals[m.phone]) for m in messages if m.phone in refusals]
            self._accepted(accepted, refused + [(m, "isv.BUSINESS_LIMIT_CONTROL")
                                                for m in over])
        if fate.error_status is not None:
            self.store.count(f"faults.error_{fate.error_status}")
            if fate.accepted_before_error:
                self.store.count("faults.error_accepted")
            return answer("InternalError" if fate.error_status == 500
                          else "ServiceUnavailable")
        body = answer("OK", BizId=fate.biz_id)
        if fate.timeout:
            self.store.count("faults.timeout")
            return Outcome(body.status, body.body, delay=self.options.timeout_delay_s)
        return body

    def _message(self, call: calls.SendCall, entry: calls.Entry, fate: Fate, index: int,
                 now: datetime, fault: str | None) -> StoredMessage:
        return StoredMessage(
            seq=0, biz_id=fate.biz_id, phone=entry.phone, sign_name=entry.sign_name,
            template_code=call.template_code, template_param=entry.template_param,
            content=entry.content, out_id=call.out_id, action=call.action, accepted=now,
            sms_size=sms_size(entry.content),
            final_code=fate.undelivered(index, self.options.undelivered_rate), fault=fault)

    def _accepted(self, accepted: list[StoredMessage],
                  refused: list[tuple[StoredMessage, str]]) -> None:
        """Log the accepted numbers; schedule every number's receipt."""
        self.store.count("faults.daily_limit", sum(
            1 for _, code in refused if code == "isv.BUSINESS_LIMIT_CONTROL"))
        self.store.count("faults.rejected", sum(
            1 for _, code in refused if code != "isv.BUSINESS_LIMIT_CONTROL"))
        self.log.write(m.summary() for m in accepted)
        self.scheduler.at(self.options.callback_delay_s,
                          lambda: self._report(accepted, refused))

    def _report(self, accepted: list[StoredMessage],
                refused: list[tuple[StoredMessage, str]]) -> None:
        """The receipts are in (on a worker thread): finish the messages, push the
        receipts, and have unsubscribing numbers reply."""
        now = datetime.now(UTC)
        self.store.finish(accepted, now)
        self.store.count("faults.undelivered", sum(1 for m in accepted if m.final_code))
        receipts = [_receipt(m, now, m.final_code) for m in accepted]
        receipts += [_receipt(m, now, code) for m, code in refused]
        if self.options.report_url:
            self.pusher.push("receipts", self.options.report_url, receipts)
        for phone in self._first_replies(accepted):
            self.reply(phone, UNSUBSCRIBE_WORD)

    def _first_replies(self, accepted: list[StoredMessage]) -> list[str]:
        wanted = self.options.unsubscribe_replies
        with self.store.lock:
            phones = {m.phone for m in accepted if m.phone in wanted} - self._replied
            self._replied |= phones
        return sorted(phones)


def _receipt(message: StoredMessage, now: datetime, code: str | None) -> Item:
    """One item of a receipt push; ``code`` None for a delivered message."""
    text = (DELIVERED_TEXT if code is None
            else UNDELIVERED_CODES.get(code) or CODES.get(code, (200, code))[1])
    return {"phone_number": message.phone, "send_time": clock_text(message.accepted),
            "report_time": clock_text(now), "success": code is None,
            "err_code": code or "DELIVERED", "err_msg": text,
            "sms_size": str(message.sms_size), "biz_id": message.biz_id,
            "out_id": message.out_id or ""}


def create_aliyun_app(options: AliyunOptions | None = None) -> Starlette:
    """The sandbox's ASGI app; its :class:`AliyunSandbox` is ``app.state.sandbox``."""
    return AliyunSandbox(options).app
