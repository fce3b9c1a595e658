"""Nonces of provider pushes already taken: a push seen before is a replay, refused.

A channel whose pushes carry a nonce (WeChat events) proves each push and holds its
timestamp within ``freshness_s`` of now; this store then takes the nonce once, for
every process of the deployment (the ``seen_nonces`` table), before anything the push
says is written. A nonce is kept twice ``freshness_s`` (a timestamp may be that far off
either way), then pruned: a push that old is refused for its timestamp.
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar, Protocol, runtime_checkable

from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError

from channels.base import CallbackRequest, SignatureError
from dispatcher.storage.db import utcnow
from dispatcher.storage.tables import seen_nonces


@runtime_checkable
class NonceBearer(Protocol):
    """An event receiver whose pushes carry a one-time nonce and a fresh timestamp."""

    freshness_s: ClassVar[int]

    def push_nonce(self, request: CallbackRequest) -> str:
        """The nonce of a push the receiver's ``parse_events`` accepted."""
        ...


def claim(engine: Engine, channel: str, receiver: object, request: CallbackRequest
          ) -> str | None:
    """Take the push's nonce (None for receivers without nonces); SignatureError (403)
    when it was taken before. Old nonces are pruned in the same transaction."""
    if not isinstance(receiver, NonceBearer):
        return None
    nonce, now = receiver.push_nonce(request), utcnow()
    keep = timedelta(seconds=2 * receiver.freshness_s)
    try:
        with engine.begin() as conn:
            conn.execute(delete(seen_nonces).where(seen_nonces.c.seen_at < now - keep))
            conn.execute(insert(seen_nonces).values(channel=channel, nonce=nonce,
                                                    seen_at=now))
    except IntegrityError:
        raise SignatureError("nonce already used: a replayed push") from None
    return nonce


def release(engine: Engine, channel: str, nonce: str | None) -> None:
    """Give a nonce back when its push was not applied (answered "push again later"), so
    the provider's retry is taken even if it repeats the nonce."""
    if nonce is None:
        return
    with engine.begin() as conn:
        conn.execute(delete(seen_nonces).where(seen_nonces.c.channel == channel,
                                               seen_nonces.c.nonce == nonce))
