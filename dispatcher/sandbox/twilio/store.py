"""The sandbox's messages, indexed by SID and by To number, and its counters.

One lock guards everything: the API handlers (on the event loop) and the callback workers
(threads) only hold it for dictionary updates. Listing by To walks only that number's
messages; identical bodies are stored once, so millions of copies of one campaign text
cost one string.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class StoredMessage:
    """One outbound message the sandbox accepted."""

    seq: int  # creation order, the paging cursor
    sid: str
    to: str
    sender: str  # the From number (a pool number when sent via a Messaging Service)
    body: str
    messaging_service_sid: str | None
    status: str
    created: datetime  # aware, UTC
    updated: datetime
    num_segments: int
    status_callback: str | None
    final_code: int | None  # planned: ends undelivered with this code (None: delivered)
    fault: str | None  # the fault that hid this create's response: error_500, timeout...
    error_code: int | None = None

    def summary(self) -> dict[str, object]:
        return {"sid": self.sid, "to": self.to, "from": self.sender, "body": self.body,
                "status": self.status, "created": self.created.isoformat(),
                "segments": self.num_segments, "error_code": self.error_code,
                "fault": self.fault}


@dataclass(frozen=True)
class Query:
    """A list request's filters; date bounds are inclusive and compared to the second."""

    to: str | None = None
    sender: str | None = None
    sent_from: datetime | None = None
    sent_until: datetime | None = None


class MessageStore:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self._seq = 0
        self._by_sid: dict[str, StoredMessage] = {}
        self._by_to: dict[str, list[StoredMessage]] = {}
        self._all: list[StoredMessage] = []
        self._bodies: dict[str, str] = {}
        self._pairs: Counter[tuple[str, str]] = Counter()
        self._duplicate_to: set[str] = set()
        self.by_status: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()

    def count(self, key: str, amount: int = 1) -> None:
        with self.lock:
            self.counts[key] += amount

    def add(self, message: StoredMessage) -> StoredMessage:
        with self.lock:
            message.seq = self._seq
            self._seq += 1
            message.body = self._bodies.setdefault(message.body, message.body)
            self._by_sid[message.sid] = message
            self._by_to.setdefault(message.to, []).append(message)
            self._all.append(message)
            self.by_status[message.status] += 1
            pair = (message.to, message.body)
            self._pairs[pair] += 1
            if self._pairs[pair] == 2:
                self._duplicate_to.add(message.to)
            if self._pairs[pair] >= 2:
                self.counts["duplicate_messages"] += 1
        return message

    def get(self, sid: str) -> StoredMessage | None:
        with self.lock:
            return self._by_sid.get(sid)

    def set_status(self, sid: str, status: str, when: datetime,
                   error_code: int | None = None) -> StoredMessage | None:
        with self.lock:
            message = self._by_sid.get(sid)
            if message is not None:
                self.by_status[message.status] -= 1
                self.by_status[status] += 1
                message.status, message.updated = status, when
                message.error_code = error_code
            return message

    def page(self, query: Query, size: int, before_seq: int | None) -> tuple[
            list[StoredMessage], bool]:
        """Up to ``size`` matches, newest first, older than ``before_seq``; and whether
        more follow."""
        with self.lock:
            pool = self._all if query.to is None else self._by_to.get(query.to, [])
            end = len(pool) if before_seq is None else bisect_left(
                pool, before_seq, key=lambda m: m.seq)
            found: list[StoredMessage] = []
            for index in range(end - 1, -1, -1):
                if _matches(pool[index], query):
                    if len(found) == size:
                        return found, True
                    found.append(pool[index])
            return found, False

    def all(self, to: str | None = None) -> list[StoredMessage]:
        with self.lock:
            return list(self._all if to is None else self._by_to.get(to, []))

    def snapshot(self) -> tuple[dict[str, object], dict[str, int]]:
        """The message figures of the stats, and a copy of the event counters."""
        with self.lock:
            return {"created": len(self._all),
                    "by_status": {k: v for k, v in sorted(self.by_status.items()) if v},
                    "duplicates": len(self._duplicate_to),
                    "duplicate_messages": self.counts["duplicate_messages"]}, dict(self.counts)


def _matches(message: StoredMessage, query: Query) -> bool:
    if query.sender is not None and message.sender != query.sender:
        return False
    sent = message.created.replace(microsecond=0)
    if query.sent_from is not None and sent < query.sent_from:
        return False
    return query.sent_until is None or sent <= query.sent_until
