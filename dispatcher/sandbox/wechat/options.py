"""What a WeChat sandbox simulates: the account, its followers and media, faults, events.

Every random figure (openids, tag members, faults, error counts, reads) comes from a
``random.Random`` seeded with the seed and what it decides, so the same seed and the same
requests give the same run.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from dispatcher.sandbox import option_checks as check

SANDBOX_APPID = "wxsandbox0000001"
SANDBOX_APPSECRET = "sandbox-appsecret"
SANDBOX_TOKEN = "sandbox-callback-token"  # signs the event pushes (the server config token)
SANDBOX_AES_KEY = "cHVibGljaXR5LWRpc3BhdGNoZXItc2FuZGJveC1rZXk"  # EncodingAESKey, 43 chars
SANDBOX_ORIGINAL_ID = "gh_sandbox0001"  # the account's original id: ToUserName of events
ACCOUNT_TYPES = ("subscription", "service")
MAX_FOLLOWERS = 1_000_000

DEFAULT_TAGS: Mapping[int, str] = {100: "residents-north", 101: "residents-south",
                                   102: "workplaces"}
DEFAULT_NEWS: Mapping[str, tuple[str, ...]] = {
    "sandbox-news-1": ("平安建设致居民的一封信",),
    "sandbox-news-2": ("扫黑除恶 人人有责", "反诈骗提示", "平安高新 共建共享"),
}


@dataclass(frozen=True)
class WeChatOptions:
    """Settings of one WeChat sandbox (``dispatcher sandbox wechat`` flags, or from Python).

    Rates are fractions from 0 to 1: ``throttle_rate`` and ``system_error_rate`` of
    mass-send and template requests (answered 45009 and -1), ``error_rate`` of each job's
    recipients (its ErrorCount), ``template_block_rate`` / ``template_fail_rate`` of
    template messages (their event's Status), ``duplicate_event_rate`` of event pushes
    (posted twice). ``news`` maps an mpnews media_id to its article titles; ``tags`` maps
    a tag id to its name, and each follower is in each tag with ``tag_fraction`` chance.
    ``start_date`` is the sandbox's first "today" (default: today's UTC date).
    """

    appid: str = SANDBOX_APPID
    appsecret: str = SANDBOX_APPSECRET
    token: str = SANDBOX_TOKEN
    aes_key: str = SANDBOX_AES_KEY
    original_id: str = SANDBOX_ORIGINAL_ID
    account_type: str = "service"
    seed: int = 0
    followers: int = 10_000
    tags: Mapping[int, str] = field(default_factory=lambda: dict(DEFAULT_TAGS))
    tag_fraction: float = 0.3
    wxnames: tuple[str, ...] = ("tester1", "tester2")
    news: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_NEWS))
    images: frozenset[str] = frozenset({"sandbox-image-1"})
    templates: tuple[str, ...] = ("sandbox-template-1",)
    token_ttl_s: float = 7200.0
    token_expiry_every: int = 0  # expire the token used after every N authenticated calls
    mass_per_minute: int = 60  # mass-send requests (sendall, send, preview) per rolling minute
    monthly_broadcasts: int = 4  # service account: broadcasts one follower receives a month
    throttle_rate: float = 0.0
    system_error_rate: float = 0.0
    error_rate: float = 0.0
    template_block_rate: float = 0.0
    template_fail_rate: float = 0.0
    duplicate_event_rate: float = 0.0
    callback_url: str | None = None
    encrypt: bool = False
    event_delay_s: float = 0.5  # from a job's creation to its MASSSENDJOBFINISH push
    event_retries: int = 3  # attempts after a failed push, with doubling backoff
    event_backoff_s: float = 0.5
    event_timeout_s: float = 5.0
    event_workers: int = 2
    start_date: date | None = None
    read_rate: float = 0.05  # of a news article's recipients who read it on the day sent
    read_decay: float = 0.5  # each later day's readers, as a fraction of the day before
    share_rate: float = 0.1  # of readers who share
    fav_rate: float = 0.02  # of readers who add the article to favourites

    def __post_init__(self) -> None:
        check.refuse(_problems(self))


def _problems(options: WeChatOptions) -> list[str]:
    return (
        check.fractions(options, ("tag_fraction", "throttle_rate", "system_error_rate",
                                  "error_rate", "template_block_rate", "template_fail_rate",
                                  "duplicate_event_rate", "read_rate", "read_decay",
                                  "share_rate", "fav_rate"))
        + check.sum_over_one(options, "throttle_rate", "system_error_rate")
        + check.sum_over_one(options, "template_block_rate", "template_fail_rate")
        + check.non_negative(options, ("event_delay_s", "event_backoff_s"))
        + check.failing(options, ("token_ttl_s", "event_timeout_s"), check.is_positive,
                        "positive")
        + check.negative_counts(options, ("token_expiry_every", "event_retries",
                                          "monthly_broadcasts"))
        + check.at_least_one(options, ("mass_per_minute", "event_workers"))
        + _account_problems(options) + _content_problems(options))


def _account_problems(options: WeChatOptions) -> list[str]:
    problems = []
    if options.account_type not in ACCOUNT_TYPES:
        problems.append(f"account_type must be one of {', '.join(ACCOUNT_TYPES)}, "
                        f"got {options.account_type!r}")
    if not (options.appid and options.appsecret and options.token and options.original_id):
        problems.append("appid, appsecret, token and original_id must not be empty")
    if not _is_aes_key(options.aes_key):
        problems.append("aes_key must be 43 characters of base64 (an EncodingAESKey)")
    if options.callback_url is not None and not options.callback_url.startswith(
            ("http://", "https://")):
        problems.append(f"callback_url must be an http(s) URL, got {options.callback_url!r}")
    return problems


def _content_problems(options: WeChatOptions) -> list[str]:
    problems = []
    if not 0 <= options.followers <= MAX_FOLLOWERS:
        problems.append(f"followers must be from 0 to {MAX_FOLLOWERS}, got {options.followers}")
    if len(options.wxnames) > options.followers or len(set(options.wxnames)) < len(
            options.wxnames):
        problems.append("wxnames must be distinct and no more than the followers")
    if any(tag_id < 100 or not name for tag_id, name in options.tags.items()):
        problems.append("tag ids must be 100 or more (0-99 are WeChat's) with a name")
    if any(not titles or not all(titles) for titles in options.news.values()):
        problems.append("every news media_id needs one or more non-empty article titles")
    if set(options.news) & options.images:
        problems.append("a media_id cannot be both news and an image")
    return problems


def _is_aes_key(key: str) -> bool:
    if len(key) != 43:
        return False
    try:
        return len(base64.b64decode(key + "=", validate=True)) == 32
    except binascii.Error:
        return False
