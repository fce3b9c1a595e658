"""The numbers the sandbox accepted, their status reports, the per-number daily counts,
the SMS package's balance and the counters.

One lock guards everything: the API handlers (on the event loop) and the push workers
(threads) hold it only for dictionary updates. The daily limit and the balance are
checked and spent under that lock, so concurrent calls never overrun them.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from dispatcher.sandbox.tencent.wire import BEIJING

DAILY_LIMIT = "LimitExceeded.PhoneNumberDailyLimit"
NO_BALANCE = "FailedOperation.InsufficientBalanceInSmsPackage"


@dataclass(slots=True)
class SentNumber:
    """One number of a SendSms call the sandbox accepted (Code "Ok")."""

    serial_no: str
    phone: str  # 11 digits
    sign_name: str
    template_id: str
    params: tuple[str, ...]
    session_context: str
    fee: int
    accepted: datetime  # aware, UTC
    fault: str | None  # the fault that hid this call's answer: error_500, timeout...
    failure: tuple[str, str] | None  # planned (errmsg, description) when not delivered
    report_status: str | None = None  # SUCCESS or FAIL once the status report exists
    received: datetime | None = None

    def summary(self) -> dict[str, object]:
        return {"serial_no": self.serial_no, "phone": self.phone, "sign_name": self.sign_name,
                "template_id": self.template_id, "params": list(self.params),
                "session_context": self.session_context, "fee": self.fee,
                "accepted": self.accepted.isoformat(), "fault": self.fault,
                "report_status": self.report_status}


class NumberStore:
    def __init__(self, balance: int | None = None) -> None:
        self.lock = threading.Lock()
        self.reset(balance)

    def reset(self, balance: int | None) -> None:
        self.balance = balance
        self._all: list[SentNumber] = []
        self._by_serial: dict[str, SentNumber] = {}
        self._by_phone: dict[str, list[SentNumber]] = {}
        self._daily: Counter[tuple[str, date]] = Counter()
        self._pairs: Counter[tuple[str, str]] = Counter()
        self._duplicate_phones: set[str] = set()
        self._fee = 0
        self.counts: Counter[str] = Counter()

    def count(self, key: str, amount: int = 1) -> None:
        with self.lock:
            self.counts[key] += amount

    def accept(self, sent: SentNumber, daily_limit: int | None) -> tuple[str, bool]:
        """("Ok" and whether it is the number's first message) or (the refusal code, False)."""
        day = sent.accepted.astimezone(BEIJING).date()
        with self.lock:
            if daily_limit is not None and self._daily[(sent.phone, day)] >= daily_limit:
                return DAILY_LIMIT, False
            if self.balance is not None and self.balance < sent.fee:
                return NO_BALANCE, False
            if self.balance is not None:
                self.balance -= sent.fee
            self._daily[(sent.phone, day)] += 1
            self._fee += sent.fee
            self._all.append(sent)
            self._by_serial[sent.serial_no] = sent
            earlier = self._by_phone.setdefault(sent.phone, [])
            earlier.append(sent)
            pair = (sent.phone, sent.session_context)
            self._pairs[pair] += 1
            if self._pairs[pair] >= 2:
                self._duplicate_phones.add(sent.phone)
                self.counts["duplicate_messages"] += 1
            return "Ok", len(earlier) == 1

    def report(self, serial_no: str, when: datetime) -> SentNumber | None:
        """Its status report now exists (None when reset since)."""
        with self.lock:
            sent = self._by_serial.get(serial_no)
            if sent is not None:
                sent.report_status = "SUCCESS" if sent.failure is None else "FAIL"
                sent.received = when
                self.counts[f"reports.{sent.report_status}"] += 1
            return sent

    def reports(self, phone: str, begin: datetime, end: datetime | None) -> list[SentNumber]:
        """The number's messages sent from ``begin`` to ``end`` (to the second, inclusive)
        whose status report exists, oldest first."""
        with self.lock:
            return [sent for sent in self._by_phone.get(phone, [])
                    if sent.report_status is not None
                    and begin <= sent.accepted.replace(microsecond=0)
                    and (end is None or sent.accepted.replace(microsecond=0) <= end)]

    def last_sign(self, phone: str) -> str:
        with self.lock:
            sent = self._by_phone.get(phone)
            return sent[-1].sign_name if sent else ""

    def all(self, phone: str | None = None) -> list[SentNumber]:
        with self.lock:
            return list(self._all if phone is None else self._by_phone.get(phone, []))

    def snapshot(self) -> tuple[dict[str, object], dict[str, int]]:
        """The figures of the stats, and a copy of the event counters."""
        with self.lock:
            return {"accepted": len(self._all), "fee": self._fee,
                    "duplicates": len(self._duplicate_phones),
                    "duplicate_messages": self.counts["duplicate_messages"],
                    "balance": self.balance}, dict(self.counts)
