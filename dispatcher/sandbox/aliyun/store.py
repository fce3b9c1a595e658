"""The sandbox's accepted messages, by number and Beijing date, with the daily counts,
the balance and the counters.

One lock guards everything: the API handlers (on the event loop) and the receipt workers
(threads) only hold it for dictionary updates. Admitting a call's numbers (the daily
limit, the balance) and storing them happen under that one lock, so concurrent calls can
never take a number past its limit. Identical contents are stored once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from dispatcher.sandbox.aliyun.wire import Refused, answer, clock_text, shanghai

WAITING, FAILED, DELIVERED = 1, 2, 3  # QuerySendDetails' SendStatus


@dataclass(slots=True)
class StoredMessage:
    """One number of an accepted send call."""

    seq: int
    biz_id: str
    phone: str  # 11 digits
    sign_name: str
    template_code: str
    template_param: str
    content: str
    out_id: str | None
    action: str  # SendSms or SendBatchSms
    accepted: datetime  # aware, UTC
    sms_size: int
    final_code: str | None  # planned: the receipt fails with this code (None: delivered)
    fault: str | None  # the fault that hid the call's answer: error_500, timeout...
    status: int = WAITING
    err_code: str = ""
    received: datetime | None = None

    @property
    def day(self) -> date:
        return shanghai(self.accepted).date()

    def summary(self) -> dict[str, object]:
        return {"phone": self.phone, "biz_id": self.biz_id, "out_id": self.out_id,
                "sign_name": self.sign_name, "template_code": self.template_code,
                "template_param": self.template_param, "content": self.content,
                "action": self.action, "accepted": self.accepted.isoformat(),
                "status": self.status, "err_code": self.err_code,
                "sms_size": self.sms_size, "fault": self.fault}

    def detail(self) -> dict[str, object]:
        """One ``SmsSendDetailDTO`` of QuerySendDetails."""
        return {"PhoneNum": self.phone, "SendStatus": self.status, "ErrCode": self.err_code,
                "TemplateCode": self.template_code, "Content": self.content,
                "SendDate": clock_text(self.accepted), "ReceiveDate": clock_text(self.received),
                "OutId": self.out_id or ""}


class MessageStore:
    def __init__(self, daily_limit: int | None, balance: int | None) -> None:
        self.lock = threading.Lock()
        self.daily_limit, self.initial_balance = daily_limit, balance
        self.reset()

    def reset(self) -> None:
        self._seq = 0
        self._all: list[StoredMessage] = []
        self._by_day: dict[tuple[str, date], list[StoredMessage]] = {}
        self._contents: dict[str, str] = {}
        self._keys: Counter[tuple[str, str]] = Counter()
        self._duplicate_numbers: set[str] = set()
        self.balance = self.initial_balance
        self.counts: Counter[str] = Counter()

    def count(self, key: str, amount: int = 1) -> None:
        with self.lock:
            self.counts[key] += amount

    def admit(self, messages: Sequence[StoredMessage], store: bool,
              single: bool) -> tuple[list[StoredMessage], list[StoredMessage]]:
        """(accepted, over the daily limit) of a call's ``messages``, stored when
        ``store``. Raises :class:`Refused` when the one number of a ``single`` call is
        over its limit, and when the balance cannot pay for the numbers accepted."""
        with self.lock:
            taken: Counter[tuple[str, date]] = Counter()
            accepted, over = [], []
            for message in messages:
                key = (message.phone, message.day)
                used = len(self._by_day.get(key, ())) + taken[key]
                if self.daily_limit is not None and used >= self.daily_limit:
                    over.append(message)
                else:
                    taken[key] += 1
                    accepted.append(message)
            if single and over:
                raise Refused(answer("isv.BUSINESS_LIMIT_CONTROL"))
            if accepted and self.balance is not None and self.balance < len(accepted):
                raise Refused(answer("isv.AMOUNT_NOT_ENOUGH"))
            if store:
                for message in accepted:
                    self._add(message)
                if self.balance is not None:
                    self.balance -= len(accepted)
            return accepted, over

    def _add(self, message: StoredMessage) -> None:
        message.seq = self._seq
        self._seq += 1
        message.content = self._contents.setdefault(message.content, message.content)
        self._all.append(message)
        self._by_day.setdefault((message.phone, message.day), []).append(message)
        key = (message.phone, message.out_id if message.out_id else message.content)
        self._keys[key] += 1
        if self._keys[key] >= 2:
            self._duplicate_numbers.add(message.phone)
            self.counts["duplicate_messages"] += 1

    def finish(self, messages: Sequence[StoredMessage], when: datetime) -> None:
        """The receipts came: each message delivered or failed with its planned code."""
        with self.lock:
            for message in messages:
                failed = message.final_code is not None
                message.status = FAILED if failed else DELIVERED
                message.err_code = message.final_code or "DELIVERED"
                message.received = when

    def details(self, phone: str, day: date, biz_id: str | None, size: int,
                page: int) -> tuple[int, list[dict[str, object]]]:
        """(how many match, that page of them in acceptance order) for QuerySendDetails."""
        with self.lock:
            found = [m for m in self._by_day.get((phone, day), [])
                     if biz_id is None or m.biz_id == biz_id]
            chosen = found[(page - 1) * size:page * size]
            return len(found), [m.detail() for m in chosen]

    def all(self, phone: str | None = None) -> list[StoredMessage]:
        with self.lock:
            if phone is None:
                return list(self._all)
            return [m for m in self._all if m.phone == phone]

    def last_sign_name(self, phone: str) -> str | None:
        with self.lock:
            return next((m.sign_name for m in reversed(self._all) if m.phone == phone), None)

    def snapshot(self) -> tuple[dict[str, object], dict[str, int]]:
        """The message figures of the stats, and a copy of the event counters."""
        with self.lock:
            statuses = Counter(m.status for m in self._all)
            return {"accepted": len(self._all),
                    "by_status": {"waiting": statuses[WAITING], "failed": statuses[FAILED],
                                  "delivered": statuses[DELIVERED]},
                    "duplicates": len(self._duplicate_numbers),
                    "duplicate_messages": self.counts["duplicate_messages"],
                    "balance": self.balance}, dict(self.counts)
