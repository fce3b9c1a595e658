"""WeChat official accounts through wechatpy: broadcasts, template messages, events, reads.

Placements send text, an image or a news article (``mpnews``, by ``media_id``) to all
followers, to tags or to lists of openids, or a template message to listed openids (see
:mod:`channels.wechat.placement` for the rows). ``WeChatChannel()`` without settings
validates and plans; sending, previews, events and statistics need ``[channels.wechat]``.

Reach: ``recipients`` is WeChat's SentCount from each broadcast's MASSSENDJOBFINISH event
(for template messages, the delivered rows); ``reads`` and ``shares`` are polled from the
article statistics (datacube ``getarticletotal``) and stored by day.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from channels.base import (
    CallbackRequest,
    CampaignCheck,
    Capabilities,
    Channel,
    ChannelBase,
    ChannelError,
    ContentDescriber,
    Inventory,
    LookupResult,
    Message,
    Placement,
    PlacementContent,
    Problem,
    ProviderEvents,
    ReachFigure,
    ReachReport,
    Sender,
    SendLimits,
    SendResult,
    SentRow,
    SignatureError,
    Target,
    ValidationContext,
    reported,
)
from channels.once import Once
from channels.wechat import placement as wp
from channels.wechat.client import WeChatAccount
from channels.wechat.events import events_from
from channels.wechat.push import FRESH_S, echo, event_xml, push_nonce
from channels.wechat.settings import WeChatSettings, parse_settings

MONTHLY_BROADCASTS = 4  # a service account reaches one follower at most 4 times a month
STATS_DAYS = 7  # getarticletotal follows an article for 7 days
PeriodT = TypeVar("PeriodT", bound=Hashable)


class WeChatChannel(ChannelBase[WeChatSettings]):
    """One WeChat official account: mass sends, template messages, previews and reads."""

    name: ClassVar[str] = "wechat"
    capabilities: ClassVar[Capabilities] = Capabilities(
        person_addressed=False,  # a broadcast's row is a job: the frequency cap cannot see
        waits_for_send_window=True)  # its people, but broadcasts still wait for the window
    unconfigured: ClassVar[str] = ("sending needs a [channels.wechat] table with appid, "
                                   "secret, token and account_type")

    def __init__(self, settings: WeChatSettings | None = None) -> None:
        self.settings = settings
        self._account = Once(lambda: WeChatAccount(self.configured()))

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> Self:
        return cls(parse_settings(table))

    # Validation and planning ------------------------------------------------------------

    def validate(self, options: Mapping[str, Any], context: ValidationContext) -> list[Problem]:
        return wp.problems(options)

    def targets(self, placement: Placement, inventory: Inventory) -> Iterator[Target]:
        return wp.targets(placement)

    def describe(self, placement: Placement, inventory: Inventory) -> PlacementContent:
        """The ContentDescriber protocol: msgtype, content, followers reached, requests."""
        return PlacementContent(wp.content_facts(placement.options))

    def check_campaign(self, placements: Sequence[Placement], firings: Sequence[datetime],
                       context: ValidationContext) -> list[tuple[int, Problem]]:
        """Refuse campaigns that would exceed the account's broadcast quota (only known
        once ``account_type`` is configured)."""
        mass = [p for p in placements if wp.is_mass(p.options)]
        if self.settings is None or not mass or not firings:
            return []
        per_firing = sum(len(wp.jobs(p.options)) for p in mass)
        if self.settings.account_type == "subscription":
            return _daily_quota(mass[0], per_firing, firings)
        # A follower can be in every tag and in one batch of each openid placement.
        reaching_one = sum(1 if "openids" in p.options["audience"] else len(wp.jobs(p.options))
                           for p in mass)
        return _monthly_quota(mass[0], reaching_one, firings)

    # Sending --------------------------------------------------------------------------

    def message_cost(self, placement: Placement) -> int:
        if self.settings is not None and wp.is_mass(placement.options):
            return self.settings.mass_cost
        return 1

    def limits(self) -> SendLimits:
        settings = self.configured()
        return SendLimits(f"wechat:{settings.reveal_appid()}", settings.rate,
                          settings.concurrency)

    def send(self, message: Message) -> SendResult:
        account, options = self.account(), message.placement.options
        job = wp.parse_job(message.address)
        if job is None:
            return account.template_send(message.delivery_id,
                                         wp.template_request(options, message.address))
        path, body = wp.mass_request(options, job, self.clientmsgid(message))
        return account.mass_send(message.delivery_id, path, body)

    def clientmsgid(self, message: Message) -> str:
        """The same for every attempt of a row: WeChat runs a clientmsgid once."""
        return f"{self.configured().clientmsgid_prefix}-{message.delivery_id}"

    def lookup(self, message: Message, since: datetime) -> LookupResult:
        """A broadcast is sent again with its clientmsgid (WeChat answers 45065 with the
        first job if it had it), so "not found" is safe. A template message cannot be
        looked up: it is taken as sent rather than risk sending it twice."""
        if wp.parse_job(message.address) is not None:
            return LookupResult(found=False)
        return LookupResult(found=True, state="sent", code="unverified")

    def preview(self, placement: Placement, to: str) -> str:
        if not wp.is_mass(placement.options):
            raise ChannelError("template messages have no preview: add the test follower's "
                               "openid to a placement of its own")
        return self.account().preview(wp.preview_request(placement.options, to))

    def account(self) -> WeChatAccount:
        """The account's one client, built on first use (thread-safe)."""
        return self._account.get()

    # Events -----------------------------------------------------------------------------

    def verify_url(self, request: CallbackRequest) -> str:
        return echo(self._token(), request)

    def parse_events(self, request: CallbackRequest) -> ProviderEvents:
        """Prove the push (safe mode: encrypted with a valid msg_signature only; its
        timestamp fresh), then read its event. The nonce is the web app's to check: see
        :meth:`push_nonce`."""
        settings = self._configured_for_events()
        key = settings.encoding_aes_key.reveal() if settings.encoding_aes_key else None
        return events_from(event_xml(self._token(), key, settings.reveal_appid(), request,
                                     time.time()))

    # A push's nonce is taken once: the web app keeps the nonces taken (in the database,
    # for every process) at least twice this long, as timestamps may be this far off
    # either way.
    freshness_s: ClassVar[int] = FRESH_S

    def push_nonce(self, request: CallbackRequest) -> str:
        """The nonce of a push :meth:`parse_events` has accepted."""
        return push_nonce(request)

    def _configured_for_events(self) -> WeChatSettings:
        if self.settings is None:
            raise SignatureError("the wechat channel is not configured: no token to check "
                                 "the signature with")
        return self.settings

    def _token(self) -> str:
        return self._configured_for_events().token.reveal()

    # Reach ------------------------------------------------------------------------------

    def poll_reach(self, rows: list[SentRow]) -> list[ReachReport]:
        """Reads and shares of the news articles sent, by day, cumulative."""
        news = [r for r in rows if r.placement.options.get("msgtype") == "mpnews"
                and r.provider_data]
        by_day: dict[date, list[SentRow]] = defaultdict(list)
        for row in news:
            by_day[row.sent_at.date()].append(row)
        reports: list[ReachReport] = []
        for day, day_rows in sorted(by_day.items()):
            articles = self.account().article_totals(day)
            if articles is not None:
                reports += _article_reports(articles, day_rows)
        return reports

    def reach(self, placement: Placement, states: Mapping[str, int],
              reports: Mapping[str, int]) -> dict[str, ReachFigure]:
        if not wp.is_mass(placement.options):
            return {"recipients": ReachFigure(
                states.get("delivered", 0), "provider",
                "template messages with a TEMPLATESENDJOBFINISH success event (one per "
                "follower)")}
        figures = {"recipients": reported(
            reports, "recipients", "SentCount of each broadcast's MASSSENDJOBFINISH event "
                                   "(gross)")}
        if placement.options.get("msgtype") == "mpnews":
            figures["reads"] = reported(
                reports, "reads", "int_page_read_count of datacube getarticletotal, latest "
                f"day reported (up to {STATS_DAYS} days after sending; gross page reads)")
            figures["shares"] = reported(
                reports, "shares", "share_count of datacube getarticletotal, latest day "
                                   "reported (gross)")
        return figures


def _article_reports(articles: list[dict[str, Any]], rows: list[SentRow]) -> list[ReachReport]:
    """Sum a broadcast's articles (msgid "{msg_data_id}_{index}") per stat day."""
    wanted = {str(r.provider_data): r.delivery_id for r in rows}
    totals: Counter[tuple[int, str, str]] = Counter()
    for article in articles:
        data_id = str(article.get("msgid", "")).split("_")[0]
        row = wanted.get(data_id)
        if row is None:
            continue
        for day in article.get("details", []):
            period = str(day["stat_date"])
            totals[(row, "reads", period)] += int(day.get("int_page_read_count", 0))
            totals[(row, "readers", period)] += int(day.get("int_page_read_user", 0))
            totals[(row, "shares", period)] += int(day.get("share_count", 0))
    return [ReachReport(metric, value, period, delivery_id=row)
            for (row, metric, period), value in sorted(totals.items())]


def _daily_quota(first: Placement, per_firing: int,
                 firings: Sequence[datetime]) -> list[tuple[int, Problem]]:
    busiest, count = _busiest(f.date() for f in firings)
    if per_firing * count <= 1:
        return []
    return _refused(first, f"a subscription account can broadcast once a day, but this "
                           f"campaign makes {per_firing * count} broadcasts on "
                           f"{busiest.isoformat()} ({count} firing(s) x {per_firing} "
                           "broadcast(s): one per tag and per 10,000 openids); fire at most "
                           "daily with one broadcast, or use a service account")


def _monthly_quota(first: Placement, per_firing: int,
                   firings: Sequence[datetime]) -> list[tuple[int, Problem]]:
    (year, month), count = _busiest((f.year, f.month) for f in firings)
    if per_firing * count <= MONTHLY_BROADCASTS:
        return []
    return _refused(first, f"a service account reaches each follower at most "
                           f"{MONTHLY_BROADCASTS} times a month, but this campaign could "
                           f"reach one follower {per_firing * count} times in "
                           f"{year}-{month:02d} ({count} firing(s) x {per_firing} "
                           "broadcast(s)); WeChat would drop the extra ones")


def _busiest(periods: Iterable[PeriodT]) -> tuple[PeriodT, int]:
    """The period most firings fall in, and how many do."""
    return max(Counter(periods).items(), key=lambda item: item[1])


def _refused(first: Placement, why: str) -> list[tuple[int, Problem]]:
    """The campaign's quota problem, reported at its first broadcast placement."""
    return [(first.index, Problem(("audience",), why))]


if TYPE_CHECKING:  # mypy checks that the plugin has each protocol it claims
    _channel: type[Channel] = WeChatChannel
    _sender: type[Sender] = WeChatChannel
    _describer: type[ContentDescriber] = WeChatChannel
    _check: type[CampaignCheck] = WeChatChannel
