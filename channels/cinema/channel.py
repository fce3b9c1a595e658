"""Cinema pre-show spots: bookings into screenings, play logs, admissions.

A placement books a spot into the preshow block of chosen screenings (see
:mod:`channels.cinema.placement`); each booking is a row. Sending a row books it with the
cinema's booking system (``POST {system}/bookings``, the row id as the booking id, so a
retried booking is never made twice): ``sent`` when the system confirms, ``failed`` when
it refuses (the screening was cancelled, the block is full). The cinema's play log
(``/hooks/cinema/playlog``) then makes it ``delivered`` (played), ``undelivered``
(dropped) or ``failed`` (screening cancelled), with the screening's admissions.

Reach: ``screenings`` with a confirmed play, and ``admissions``: the attendance of those
screenings (gross: one person at two screenings counts twice).

Each cinema authenticates with its own token, both ways: on bookings sent to its system
and on the play logs it sends. The token is ``HMAC(token_secret, "cinema:" + id)`` at
version 0 (the original) and ``HMAC(token_secret, "cinema-v{version}:" + id)`` after
``dispatcher cinemas token ID --rotate`` bumped the cinema's version: the dispatcher
stores no token, only each cinema's version.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, Self

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
from channels.cinema import placement as cp
from channels.http_outcomes import transport_result
from channels.http_pool import pooled_session
from channels.venues import venue_key

CONFIG_KEYS = ("concurrency", "rate", "systems", "timeout", "token_secret")
_fail = checks.failing("channels.cinema")


@dataclass(frozen=True)
class CinemaSettings:
    token_secret: Any  # SecretValue
    systems: Mapping[str, str]  # booking system name: its base URL
    rate: float = 20.0
    concurrency: int = 4
    timeout: float = 10.0


def parse_settings(table: Mapping[str, Any]) -> CinemaSettings:
    checks.known_keys(table, CONFIG_KEYS, _fail)
    secret = checks.secret(table.get("token_secret"), "token_secret", _fail,
                           'write token_secret = "env:CINEMA_TOKEN_SECRET" (each '
                           "cinema's token is derived from it)")
    systems = table.get("systems")
    if not isinstance(systems, dict) or not systems:
        _fail("systems", 'name each booking system and its URL: systems = { cms = '
                         '"http://127.0.0.1:8768" }')
    urls = {str(name): _system_url(str(name), url) for name, url in systems.items()}
    return CinemaSettings(
        token_secret=secret, systems=urls,
        rate=checks.positive_number(table.get("rate", 20), "rate", _fail,
                                    "bookings per second"),
        concurrency=checks.integer(table.get("concurrency", 4), "concurrency", _fail, None),
        timeout=checks.timeout(table.get("timeout", 10), _fail))


def _system_url(name: str, url: Any) -> str:
    def fail(_key: str, message: str) -> NoReturn:
        _fail(f"systems.{name}", message)

    return str(checks.api_base(url, fail, "http://127.0.0.1:8768"))


class CinemaChannel(ChannelBase[CinemaSettings]):
    """Spots in cinemas' preshow blocks, booked per screening."""

    name: ClassVar[str] = "cinema"
    capabilities: ClassVar[Capabilities] = Capabilities(person_addressed=False,
                                                        waits_for_send_window=False)
    unconfigured: ClassVar[str] = ("booking needs a [channels.cinema] table with "
                                   "token_secret and systems")

    def __init__(self, settings: CinemaSettings | None = None) -> None:
        self.settings = settings
        self._http = pooled_session(settings.concurrency if settings else 1,
                                    hosts=len(settings.systems) if settings else 1)
        self._versions: Callable[[str], int] = _original_version

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> Self:
        return cls(parse_settings(table))

    # Validation and planning ------------------------------------------------------------

    def validate(self, options: Mapping[str, Any], context: ValidationContext) -> list[Problem]:
        found = cp.problems(options)
        if found or not cp.context_ready(context):
            return found  # nothing imported yet: the schedule is checked when planning
        assert context.screenings is not None
        if not cp.candidates(options, context.screenings):
            return [Problem(("cinemas",), "selects no scheduled screening of the imported "
                                          "showtimes (check cinemas, dates, dayparts, "
                                          "ratings and position)")]
        return []

    def check_campaign(self, placements: Sequence[Placement], firings: Sequence[datetime],
                       context: ValidationContext) -> list[tuple[int, Problem]]:
        """Overbooking: the spots must fit in each screening's block, next to the
        bookings of other campaigns and of this campaign's other placements."""
        if not cp.context_ready(context):
            return []
        assert context.screenings is not None
        found = []
        extra: dict[tuple[str, str], int] = {}
        for placement in placements:
            options = placement.options
            position, length = str(options["position"]), int(options["spot"]["duration"])
            full = []
            for screening in self._chosen(options, context.screenings):
                key = (screening.id, position)
                if cp.room_left(screening, position) - extra.get(key, 0) < length:
                    full.append(screening)
                extra[key] = extra.get(key, 0) + length
            if full:
                found.append((placement.index, Problem(("spot",), (
                    f"overbooks {len(full)} screening(s): {cp.conflicts(full[0], position, None)}"
                    " (no room for this campaign's spot)"))))
        return found

    def _chosen(self, options: Mapping[str, Any], screenings: Sequence[Any]) -> list[Any]:
        chosen = cp.candidates(options, screenings)
        most = options.get("max_screenings")
        return chosen[:most] if most else chosen

    def targets(self, placement: Placement, inventory: Inventory) -> Iterator[Target]:
        options = placement.options
        position, length = str(options["position"]), int(options["spot"]["duration"])
        for screening in sorted(self._chosen(options, inventory.screenings()),
                                key=lambda s: venue_key(s.id)):
            key = venue_key(screening.id)
            row = cp.address(screening, placement.index)
            if cp.room_left(screening, position) < length:
                yield Target(key, row, skip_reason="capped",
                             detail="no room left: " + cp.conflicts(screening, position, None))
            else:
                yield Target(key, row)

    def describe(self, placement: Placement, inventory: Inventory) -> PlacementContent:
        """The ContentDescriber protocol: the spot and the screenings it is booked into."""
        chosen = self._chosen(placement.options, inventory.screenings())
        return PlacementContent(cp.content_facts(placement.options, chosen))

    # Booking (the Sender protocol) ------------------------------------------------------

    def send(self, message: Message) -> SendResult:
        """Book the row's spot; the booking id makes a repeat harmless."""
        settings = self.configured()
        system, cinema, screening = cp.parse_address(message.address)
        base = settings.systems.get(system)
        if base is None:
            return SendResult(message.delivery_id, "failed", code="no-system",
                              detail=f"booking system {system!r} is not in [channels.cinema] "
                                     "systems")
        options = message.placement.options
        body = {"booking": str(message.delivery_id), "cinema": cinema, "screening": screening,
                "position": options["position"], "spot": dict(options["spot"])}
        try:
            answer = self._http.post(f"{base}/bookings", json=body, timeout=settings.timeout,
                                     headers={"Authorization": f"Bearer "
                                                              f"{self.venue_token(cinema)}"})
        except requests.RequestException as exc:
            result = transport_result(message.delivery_id, exc)
            # The booking id makes a repeat harmless: never leave it unknown.
            return result._replace(outcome="retry")
        return _booking_result(message.delivery_id, answer)

    def lookup(self, message: Message, since: datetime) -> LookupResult:
        """Booking again with the same id is harmless (the system answers with the first
        booking), so "not found" lets the engine simply book again."""
        return LookupResult(found=False)

    def venue_token(self, venue_id: str, version: int | None = None) -> str:
        """The cinema's token at ``version``; None: at its current version."""
        secret = self.configured().token_secret.reveal().encode()
        current = self._versions(venue_id) if version is None else version
        return hmac.new(secret, token_message(venue_id, current), hashlib.sha256).hexdigest()

    def use_token_versions(self, lookup: Callable[[str], int]) -> None:
        self._versions = lookup

    # Reach ------------------------------------------------------------------------------

    def reach(self, placement: Placement, states: Mapping[str, int],
              reports: Mapping[str, int]) -> dict[str, ReachFigure]:
        return {
            "screenings": reported(reports, "screenings",
                                   "screenings whose play log confirms the spot played"),
            "admissions": reported(reports, "admissions", "attendance of those screenings as "
                                   "the cinemas report it (gross: a person at two screenings "
                                   "counts twice)"),
        }


def token_message(venue_id: str, version: int) -> bytes:
    """What a cinema's token signs. Version 0 keeps the original form, so installed tokens
    stay valid; later versions start ``cinema-v``, and the version digits end at the
    first colon, so no (id, version) pair signs what another pair signs."""
    if version < 0:
        raise ValueError(f"a token version is 0 or more, not {version}")
    prefix = "cinema:" if version == 0 else f"cinema-v{version}:"
    return (prefix + venue_id).encode()


def _original_version(_venue_id: str) -> int:
    return 0


def _booking_result(delivery_id: int, answer: requests.Response) -> SendResult:
    if answer.status_code in (200, 201):
        return SendResult(delivery_id, "accepted", provider_ref=f"booking-{delivery_id}",
                          detail="booking confirmed")
    reason = _error(answer)
    if answer.status_code == 429 or answer.status_code >= 500:
        return SendResult(delivery_id, "retry", code=str(answer.status_code), detail=reason)
    code = "cancelled" if "cancel" in reason else str(answer.status_code)
    return SendResult(delivery_id, "failed", code=code, detail=f"the cinema refused the "
                                                              f"booking: {reason}")


def _error(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:100]
    return str(body.get("error", body)) if isinstance(body, dict) else str(body)[:100]


if TYPE_CHECKING:  # mypy checks that the plugin has each protocol it claims
    _channel: type[Channel] = CinemaChannel
    _sender: type[Sender] = CinemaChannel
    _describer: type[ContentDescriber] = CinemaChannel
    _check: type[CampaignCheck] = CinemaChannel
