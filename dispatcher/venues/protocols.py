"""What the venue code asks of the venue channels: LED signage and cinema play logs.

One plugin each implements these (LED, cinema), so they live beside the core code that
calls them rather than in ``channels.base``; the plugins satisfy them structurally
(channels never import the core), and mypy checks that they do (below).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from channels.venues import PushResult
from dispatcher.delivery.venue_tokens import UsesTokenVersions


@runtime_checkable
class SignageChannel(Protocol):
    """A channel whose screens fetch or take playlists and report proof of play (LED).

    The core serves the feeds and takes the reports; the channel authenticates screens
    and pushes playlists to the controllers that take pushes.
    """

    def screen_token(self, screen_id: str, version: int) -> str:
        """The screen's secret token (for its feed, its pushes and its reports)."""
        ...

    def token_matches(self, screen_id: str, version: int, presented: str) -> bool:
        ...

    def push(self, endpoint: str, token: str, playlist: Mapping[str, Any]) -> PushResult:
        """POST a playlist to a push controller; accepted on its 2xx answer."""
        ...

    def pop_max_age_days(self) -> int:
        """Proof-of-play records older than this many days are refused."""
        ...


@runtime_checkable
class VenueChannel(UsesTokenVersions, Protocol):
    """A channel whose venues' systems report back to the web app (cinemas' play logs);
    it also sends a venue's token itself (:class:`UsesTokenVersions`, for bookings)."""

    def venue_token(self, venue_id: str, version: int | None = None) -> str:
        """The venue's secret token at ``version`` (None: its current version, see
        ``use_token_versions``): it authenticates the venue's reports."""
        ...


if TYPE_CHECKING:  # mypy checks that the plugins still have what the core calls
    from channels.cinema import CinemaChannel
    from channels.led import LedChannel

    _signage: type[SignageChannel] = LedChannel
    _venue: type[VenueChannel] = CinemaChannel
