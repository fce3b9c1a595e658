"""A cinema's current token, for the bookings the engine sends to its system.

A booking carries the cinema's token, and an operator may rotate it at any time
(``dispatcher cinemas token --rotate``): the channel asks the database for the version at
each send. Here, not with the venues, because the engine sets this up and the engine sits
below the venues in the layers (the venues move delivery rows).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

from sqlalchemy import Engine, select

from dispatcher.storage.tables import cinemas


@runtime_checkable
class UsesTokenVersions(Protocol):
    """A channel that sends a venue's token itself and needs its current version."""

    def use_token_versions(self, lookup: Callable[[str], int]) -> None:
        """Where the channel finds a venue's current token version (the core's database)
        when it sends the venue's token itself (bookings)."""
        ...


def token_version(engine: Engine, cinema_id: str) -> int | None:
    """The version of ``cinema_id``'s current token; None for an unknown cinema."""
    with engine.connect() as conn:
        found = conn.execute(select(cinemas.c.token_version)
                             .where(cinemas.c.id == cinema_id)).scalar()
    return None if found is None else int(found)


def use_current_tokens(engine: Engine, channels: Mapping[str, object]) -> None:
    """Venue channels that send a cinema's token (with bookings) look its version up in
    ``engine``, so a rotated token is the one sent."""
    for channel in channels.values():
        if isinstance(channel, UsesTokenVersions):
            channel.use_token_versions(lambda cinema: token_version(engine, cinema) or 0)
