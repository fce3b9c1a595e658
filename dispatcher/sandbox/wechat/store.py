"""The WeChat sandbox's state: followers, the day clock, jobs, previews, template sends,
quotas and counters.

One lock guards the mutable state; the API handlers and the event threads hold it only for
dictionary updates. Followers are derived from the seed once and never change.
"""

from __future__ import annotations

import base64
import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dispatcher.sandbox.wechat.options import WeChatOptions

DAY_S = 86_400


class Followers:
    """The account's followers: openids (``o`` + 27 characters, like WeChat's) derived from
    the seed, each tag's members, and the WeChat ids (``wxnames``) of the first followers,
    used by previews."""

    def __init__(self, options: WeChatOptions) -> None:
        rng = random.Random(f"{options.seed}:followers")
        openids: dict[str, int] = {}
        while len(openids) < options.followers:
            token = base64.urlsafe_b64encode(rng.randbytes(21)).decode()[:27]
            openids.setdefault("o" + token, len(openids))
        self.openids: tuple[str, ...] = tuple(openids)
        self.position = openids
        self.tag_names = dict(sorted(options.tags.items()))
        self.tags: dict[int, tuple[str, ...]] = {}
        for tag_id in self.tag_names:
            pick = random.Random(f"{options.seed}:tag:{tag_id}")
            self.tags[tag_id] = tuple(o for o in self.openids
                                      if pick.random() < options.tag_fraction)
        self.wxnames = dict(zip(options.wxnames, self.openids, strict=False))

    def __contains__(self, openid: object) -> bool:
        return openid in self.position

    def page(self, pool: tuple[str, ...], after: str | None, size: int) -> list[str]:
        """Up to ``size`` openids of ``pool`` following ``after`` (from the start: None).
        Raises KeyError for an ``after`` that is not in the pool."""
        start = 0
        if after:
            start = (self.position[after] if pool is self.openids else pool.index(after)) + 1
        return list(pool[start:start + size])


class DayClock:
    """The sandbox's calendar: ``today()`` starts at ``start`` and moves only when told.

    ``now()`` is the wall clock shifted by the same number of days, so access tokens expire
    when days are skipped.
    """

    def __init__(self, start: date | None) -> None:
        real = datetime.now(UTC).date()
        self.start = start or real
        self._shift = (self.start - real).days
        self.days = 0

    def today(self) -> date:
        return self.start + timedelta(days=self.days)

    def now(self) -> float:
        return time.time() + (self._shift + self.days) * DAY_S

    def advance(self, days: int) -> date:
        self.days += days
        return self.today()


@dataclass(slots=True)
class Job:
    """One mass send (``sendall`` or ``send``) the sandbox accepted, with its outcome."""

    msg_id: int
    msg_data_id: int | None  # mpnews only: the id statistics know the articles by
    kind: str
    msgtype: str
    media_id: str | None
    titles: tuple[str, ...]
    audience: str  # "all", "tag:<id>" or "openids"
    clientmsgid: str | None
    day: date
    total: int  # TotalCount: distinct openids addressed
    filtered: int  # FilterCount: followers within their quota, to be sent to
    sent: int
    errors: int
    status: str  # the event's Status: "send success" or "send fail"
    event: str = "pending"  # pending, posted, failed, none (no callback_url)

    def summary(self) -> dict[str, Any]:
        return {"msg_id": self.msg_id, "msg_data_id": self.msg_data_id, "kind": self.kind,
                "msgtype": self.msgtype, "media_id": self.media_id, "audience": self.audience,
                "clientmsgid": self.clientmsgid, "day": self.day.isoformat(),
                "total": self.total, "filtered": self.filtered, "sent": self.sent,
                "errors": self.errors, "status": self.status, "event": self.event}


@dataclass(frozen=True)
class Fate:
    """What happens to the n-th mass-send or template request once admitted: answered
    45009 (``throttled``) or -1 (``system_error``; the job is created first when
    ``created_before_error``, as when a real response is lost)."""

    number: int
    throttled: bool
    system_error: bool
    created_before_error: bool


@dataclass
class WeChatStore:
    """Everything the sandbox remembers; ``reset()`` forgets it all."""

    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.jobs: dict[int, Job] = {}
        self.clientmsgids: dict[str, int] = {}
        self.previews: list[dict[str, Any]] = []
        self.templates: dict[int, dict[str, Any]] = {}
        self.monthly: dict[tuple[int, int], Counter[str]] = {}
        self.broadcast_days: set[date] = set()
        self.days: dict[date, Counter[str]] = {}
        self.counts: Counter[str] = Counter()
        self.mass_times: list[float] = []
        self._next_id = 1_000_000_001
        self._next_data_id = 2_247_480_001
        self._requests = 0

    def count(self, key: str, amount: int = 1) -> None:
        with self.lock:
            self.counts[key] += amount

    def count_day(self, day: date, key: str, amount: int = 1) -> None:
        """Per sandbox day; hold the lock."""
        self.days.setdefault(day, Counter())[key] += amount

    def next_id(self) -> int:
        """A new msg_id (jobs, previews, template messages share the sequence); hold the lock."""
        self._next_id += 1
        return self._next_id - 1

    def next_data_id(self) -> int:
        self._next_data_id += 1
        return self._next_data_id - 1

    def next_fate(self, options: WeChatOptions) -> Fate:
        with self.lock:
            number = self._requests
            self._requests += 1
        rng = random.Random(f"{options.seed}:fate:{number}")
        fault, created = rng.random(), rng.random()
        throttled = fault < options.throttle_rate
        system_error = not throttled and fault < options.throttle_rate + (
            options.system_error_rate)
        return Fate(number, throttled, system_error, system_error and created < 0.5)

    def within_rate(self, now: float, per_minute: int) -> bool:
        """Record a mass-send request at ``now`` unless ``per_minute`` were made in the
        minute before it."""
        with self.lock:
            self.mass_times = [t for t in self.mass_times if t > now - 60]
            if len(self.mass_times) >= per_minute:
                return False
            self.mass_times.append(now)
            return True

    def job_summaries(self) -> list[dict[str, Any]]:
        with self.lock:
            return [job.summary() for job in self.jobs.values()]

    def totals(self) -> dict[str, int]:
        """Sums over the jobs; hold the lock."""
        jobs = self.jobs.values()
        return {"jobs": len(self.jobs), "recipients": sum(j.total for j in jobs),
                "filtered_out": sum(j.total - j.filtered for j in jobs),
                "sent": sum(j.sent for j in jobs), "errors": sum(j.errors for j in jobs),
                "previews": len(self.previews), "template_sends": len(self.templates)}


class TokenBook:
    """Access tokens: random, each valid ``ttl`` seconds of sandbox time (fetching a new one
    does not end the old ones); with ``expire_every`` N, the token used for every N-th
    authenticated call expires right after it, so clients must fetch another."""

    def __init__(self, ttl: float, expire_every: int) -> None:
        self.ttl, self.expire_every = ttl, expire_every
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self._expiry: dict[str, float] = {}
        self.issued = 0
        self.calls = 0
        self.forced = 0  # tokens expired by expire_every

    def issue(self, now: float) -> str:
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._expiry[token] = now + self.ttl
            self.issued += 1
        return token

    def check(self, token: str, now: float) -> int | None:
        """None for a valid token (counting the call), else its errcode: 41001 missing,
        40001 unknown, 42001 expired."""
        if not token:
            return 41001
        with self._lock:
            expiry = self._expiry.get(token)
            if expiry is None:
                return 40001
            if expiry <= now:
                return 42001
            self.calls += 1
            if self.expire_every and self.calls % self.expire_every == 0:
                self._expiry[token] = now
                self.forced += 1
        return None
