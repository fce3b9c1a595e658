"""LED signage: screens from the registry, playlists by feed or push, proof of play.

A placement selects screens (kind, district, area type, group, id) and an asset (text or
a media file checked against each screen's resolution and formats) with its duration,
plays per hour and dayparts. Each selected screen gets one row per run. "Sending" a row
publishes it: it joins the screen's playlist, which a pull controller fetches from
``/feeds/led/{screen}`` (the fetch makes the row delivered) and a push controller is sent
by :meth:`LedChannel.push` (its acknowledgement makes the row delivered). Controllers
report proof of play to ``/hooks/led/pop?screen={id}``; reach is screens that played,
plays, and impressions = plays x each screen's audience_per_play.

Each screen authenticates with its own token, ``HMAC(token_secret, "id:version")``: the
dispatcher stores no token, and rotating one screen's token bumps its version.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self

import requests

from channels import settings_checks as checks
from channels.base import (
    CampaignCheck,
    Capabilities,
    Channel,
    ChannelBase,
    ContentDescriber,
    Inventory,
    LookupResult,
    Message,
    Placement,
    PlacementContent,
    Problem,
    ReachFigure,
    Sender,
    SendResult,
    Target,
    ValidationContext,
    reported,
)
from channels.http_pool import pooled_session
from channels.led import placement as lp
from channels.venues import PushResult, venue_key

CONFIG_KEYS = ("concurrency", "pop_max_age_days", "push_timeout", "rate", "token_secret")
_fail = checks.failing("channels.led")


@dataclass(frozen=True)
class LedSettings:
    token_secret: checks.SecretValue
    rate: float = 50.0  # rows published per second
    concurrency: int = 4
    push_timeout: float = 10.0
    pop_max_age_days: int = 30  # older proof-of-play records are refused


def parse_settings(table: Mapping[str, Any]) -> LedSettings:
    checks.known_keys(table, CONFIG_KEYS, _fail)
    secret = checks.secret(table.get("token_secret"), "token_secret", _fail,
                           'write token_secret = "env:LED_TOKEN_SECRET" (each screen\'s '
                           "feed and proof-of-play token is derived from it)")
    return LedSettings(
        token_secret=secret,
        rate=checks.positive_number(table.get("rate", 50), "rate", _fail,
                                    "rows published per second, such as 50"),
        concurrency=checks.integer(table.get("concurrency", 4), "concurrency", _fail, None),
        push_timeout=checks.timeout(table.get("push_timeout", 10), _fail),
        pop_max_age_days=checks.integer(table.get("pop_max_age_days", 30), "pop_max_age_days",
                                        _fail, 36_500))


class LedChannel(ChannelBase[LedSettings]):
    """LED screens: feeds, pushes and proof of play."""

    name: ClassVar[str] = "led"
    capabilities: ClassVar[Capabilities] = Capabilities(person_addressed=False,
                                                        waits_for_send_window=False)
    unconfigured: ClassVar[str] = ("feeds, pushes and proof of play need a [channels.led] "
                                   "table with token_secret")

    def __init__(self, settings: LedSettings | None = None) -> None:
        self.settings = settings
        self._http = pooled_session(settings.concurrency if settings else 1)

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> Self:
        return cls(parse_settings(table))

    # Validation and planning ------------------------------------------------------------

    def validate(self, options: Mapping[str, Any], context: ValidationContext) -> list[Problem]:
        found = lp.problems(options, context)
        if found or not context.screens or context.screen_groups is None:
            return found  # no registry yet (a new deployment): nothing to check against
        return lp.fit_problems(options, lp.selected(options, context.screens,
                                                    context.screen_groups))

    def check_campaign(self, placements: Sequence[Placement], firings: Sequence[datetime],
                       context: ValidationContext) -> list[tuple[int, Problem]]:
        """Share of voice: one screen's placements must fit in its hour."""
        if context.screens is None or context.screen_groups is None:
            return []
        booked: dict[str, int] = defaultdict(int)
        first: dict[str, int] = {}
        for placement in placements:
            for screen in lp.selected(placement.options, context.screens,
                                      context.screen_groups):
                booked[screen.id] += lp.seconds_per_hour(placement.options)
                first.setdefault(screen.id, placement.index)
        over = sorted(s for s, seconds in booked.items() if seconds > lp.HOUR)
        if not over:
            return []
        worst = max(over, key=lambda s: booked[s])
        return [(first[worst], Problem(("plays_per_hour",), (
            f"overcommits screen {worst}: this campaign's placements on it need "
            f"{booked[worst]} s of every hour (duration x plays_per_hour), more than 3600; "
            f"{len(over)} screen(s) are over")))]

    def targets(self, placement: Placement, inventory: Inventory) -> Iterator[Target]:
        screens = lp.selected(placement.options, inventory.screens(), inventory.screen_groups())
        for screen in sorted(screens, key=lambda s: venue_key(s.id)):
            yield Target(sort_key=venue_key(screen.id),
                         address=lp.address(screen.id, placement.index))

    def describe(self, placement: Placement, inventory: Inventory) -> PlacementContent:
        """The ContentDescriber protocol: what plays, how often, on which screens."""
        screens = lp.selected(placement.options, inventory.screens(), inventory.screen_groups())
        return PlacementContent(lp.content_facts(placement.options, screens))

    # Publishing (the Sender protocol) ---------------------------------------------------

    def send(self, message: Message) -> SendResult:
        """Publishing a row is adding it to its screen's playlist: nothing to call here."""
        return SendResult(message.delivery_id, "accepted",
                          provider_ref=f"led-{message.delivery_id}")

    def lookup(self, message: Message, since: datetime) -> LookupResult:
        return LookupResult(found=True, provider_ref=f"led-{message.delivery_id}",
                            state="sent")

    def push(self, endpoint: str, token: str, playlist: Mapping[str, Any]) -> PushResult:
        """POST a playlist to a push controller; 2xx is its acknowledgement."""
        try:
            answer = self._http.post(endpoint, json=dict(playlist), timeout=self.configured()
                                     .push_timeout, headers={"Authorization": f"Bearer {token}"})
        except requests.RequestException as exc:
            return PushResult(False, f"{type(exc).__name__}: {exc}"[:200])
        if 200 <= answer.status_code < 300:
            return PushResult(True, f"HTTP {answer.status_code}")
        return PushResult(False, f"HTTP {answer.status_code}: {answer.text[:100]}")

    # Tokens -----------------------------------------------------------------------------

    def screen_token(self, screen_id: str, version: int) -> str:
        secret = self.configured().token_secret.reveal().encode()
        return hmac.new(secret, f"{screen_id}:{version}".encode(), hashlib.sha256).hexdigest()

    def token_matches(self, screen_id: str, version: int, presented: str) -> bool:
        """Compared as bytes: a presented token may hold any characters (``é``), which
        ``compare_digest`` refuses to compare as text."""
        expected = self.screen_token(screen_id, version).encode()
        return hmac.compare_digest(expected, presented.encode("utf-8", "surrogateescape"))

    def pop_max_age_days(self) -> int:
        return self.configured().pop_max_age_days

    # Reach ------------------------------------------------------------------------------

    def reach(self, placement: Placement, states: Mapping[str, int],
              reports: Mapping[str, int]) -> dict[str, ReachFigure]:
        return {
            "screens": reported(reports, "played",
                                "screens with at least one proof-of-play record"),
            "plays": reported(reports, "plays", "sum of proof-of-play counts (each play "
                                                "once, however often its batch was sent)"),
            "impressions": reported(reports, "impressions", "plays x audience_per_play of "
                                    "each screen (its audience_source in the registry; gross)",
                                    source="computed"),
        }


if TYPE_CHECKING:  # mypy checks that the plugin has each protocol it claims
    _channel: type[Channel] = LedChannel
    _sender: type[Sender] = LedChannel
    _describer: type[ContentDescriber] = LedChannel
    _check: type[CampaignCheck] = LedChannel
