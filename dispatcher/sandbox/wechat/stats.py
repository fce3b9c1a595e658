"""Article statistics (datacube) simulated from the news jobs, reproducibly from the seed.

Each article of an mpnews job is read for seven days from its send day: on day ``k``
about ``read_rate * read_decay**k`` of the job's SentCount read it for the first time
(never more than have not read it yet), each reader opening it one or more times; a
``share_rate`` of readers share it and a ``fav_rate`` add it to favourites. Later
articles of a multi-article post are read less. Figures for day ``d`` exist only once the
sandbox's today is after ``d``, as WeChat publishes a day's statistics the next day.

Served: ``getarticlesummary`` (one day, daily figures per article), ``getarticletotal``
(one send day, cumulative figures per day since), ``getuserread`` (up to 3 days, daily
totals) and the newer ``getarticleread`` (daily readers per article; its 30-day span is
an assumption). Malformed dates answer 61500; a reversed range, an end date not before
today or a span over the limit answer 61501.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from dispatcher.sandbox.wechat.options import WeChatOptions
from dispatcher.sandbox.wechat.store import Job
from dispatcher.sandbox.wechat.wire import Refused

READ_DAYS = 7
MAX_SPAN = {"getarticlesummary": 1, "getarticletotal": 1, "getuserread": 3,
            "getarticleread": 30}
ALL_SOURCES = 99_999_999  # WeChat's user_source for "every source"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Reads:
    """One article's figures for one day (or summed over days)."""

    int_page_read_user: int = 0
    int_page_read_count: int = 0
    ori_page_read_user: int = 0
    ori_page_read_count: int = 0
    share_user: int = 0
    share_count: int = 0
    add_to_fav_user: int = 0
    add_to_fav_count: int = 0

    def __add__(self, other: Reads) -> Reads:
        return Reads(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Article:
    job: Job
    index: int  # 1-based position in the post
    title: str

    @property
    def msgid(self) -> str:
        return f"{self.job.msg_data_id}_{self.index}"


class ReadModel:
    def __init__(self, options: WeChatOptions) -> None:
        self.options = options
        self.daily = lru_cache(maxsize=4096)(self._daily)

    def _daily(self, msg_data_id: int, index: int, delivered: int) -> tuple[Reads, ...]:
        """The article's figures for each of the days after it was sent."""
        opts, unread, days = self.options, delivered, []
        for k in range(READ_DAYS):
            rng = random.Random(f"{opts.seed}:reads:{msg_data_id}:{index}:{k}")
            expected = delivered * opts.read_rate * opts.read_decay ** k * 0.6 ** (index - 1)
            users = min(unread, round(expected * rng.uniform(0.8, 1.2)))
            unread -= users
            days.append(_engagement(users, rng, opts))
        return tuple(days)

    def on(self, article: Article, day: date) -> Reads:
        """The article's figures on ``day`` (nothing outside its seven days)."""
        k = (day - article.job.day).days
        if not 0 <= k < READ_DAYS:
            return Reads()
        assert article.job.msg_data_id is not None
        return self.daily(article.job.msg_data_id, article.index, article.job.sent)[k]


def _engagement(users: int, rng: random.Random, opts: WeChatOptions) -> Reads:
    def some(of: int, rate: float) -> int:
        return min(of, round(of * rate * rng.uniform(0.8, 1.2)))

    def times(people: int) -> int:
        return people + round(people * rng.uniform(0.1, 0.5))

    original, sharers, favs = some(users, 0.1), some(users, opts.share_rate), some(
        users, opts.fav_rate)
    return Reads(users, times(users), original, times(original), sharers, times(sharers),
                 favs, times(favs))


def articles(jobs: list[Job]) -> Iterator[Article]:
    for job in jobs:
        if job.msg_data_id is not None:
            for index, title in enumerate(job.titles, start=1):
                yield Article(job, index, title)


def date_range(name: str, body: dict[str, Any], today: date) -> list[date]:
    """The days from ``begin_date`` to ``end_date``, checked as WeChat checks them."""
    begin, end = (_date(body.get(key)) for key in ("begin_date", "end_date"))
    if begin > end:
        raise Refused(61501, "begin_date is after end_date")
    if end >= today:
        raise Refused(61501, f"end_date must be yesterday ({today - timedelta(days=1)}) "
                             "or earlier")
    span = (end - begin).days + 1
    if span > MAX_SPAN[name]:
        raise Refused(61501, f"{name} covers at most {MAX_SPAN[name]} day(s), asked {span}")
    return [begin + timedelta(days=n) for n in range(span)]


def _date(value: object) -> date:
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise Refused(61500, f"dates are YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Refused(61500, f"no such date {value!r}") from None


def report(name: str, model: ReadModel, jobs: list[Job], days: list[date],
           today: date) -> dict[str, Any]:
    """The answer of datacube ``name`` for ``days``, over the news ``jobs``."""
    found = list(articles(jobs))
    build: dict[str, Callable[[date], list[dict[str, Any]]]] = {
        "getarticlesummary": lambda day: _summary(model, found, day),
        "getarticletotal": lambda day: _total(model, found, day, today),
        "getuserread": lambda day: [_user_read(model, found, day)],
        "getarticleread": lambda day: _article_read(model, found, day),
    }
    items = [item for day in days for item in build[name](day)]
    return {"list": items, "is_delay": False} if name == "getarticleread" else {"list": items}


def _summary(model: ReadModel, found: list[Article], day: date) -> list[dict[str, Any]]:
    return [{"ref_date": day.isoformat(), "msgid": a.msgid, "title": a.title}
            | reads.as_dict()
            for a in found if (reads := model.on(a, day)).int_page_read_user]


def _total(model: ReadModel, found: list[Article], day: date,
           today: date) -> list[dict[str, Any]]:
    items = []
    for article in (a for a in found if a.job.day == day):
        cumulative, details = Reads(), []
        for k in range(min(READ_DAYS, (today - day).days)):
            stat_date = day + timedelta(days=k)
            cumulative += model.on(article, stat_date)
            details.append({"stat_date": stat_date.isoformat(),
                            "target_user": article.job.sent} | cumulative.as_dict())
        items.append({"ref_date": day.isoformat(), "msgid": article.msgid,
                      "title": article.title, "details": details})
    return items


def _user_read(model: ReadModel, found: list[Article], day: date) -> dict[str, Any]:
    total = Reads()
    for article in found:
        total += model.on(article, day)
    return {"ref_date": day.isoformat(), "user_source": ALL_SOURCES} | total.as_dict()


def _article_read(model: ReadModel, found: list[Article], day: date) -> list[dict[str, Any]]:
    items = []
    for article in found:
        readers = model.on(article, day).int_page_read_user
        if readers:
            sources = [{"user_count": readers, "scene_desc": "全部"},
                       {"user_count": readers, "scene_desc": "公众号消息"}]
            items.append({"ref_date": day.isoformat(), "msgid": article.msgid,
                          "detail": {"read_user": readers, "read_user_source": sources}})
    return items
