"""A small token bucket per partner endpoint, inside the channel's own send calls.

The engine limits a channel as one account (``Sender.rate_limit``: the webhook channel
gives the sum of its endpoints' rates), so a placement to a slow partner could still get
the whole sum. Each send therefore also waits for its endpoint's bucket. The burst is a
tenth of a second's worth: the partner sees an even flow, never a second's worth at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from channels.token_bucket import TokenBucket

BURST_SECONDS = 0.1
MAX_PAUSE = 60.0  # longest Retry-After honoured, in seconds


def endpoint_bucket(rate: float, clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> TokenBucket:
    """The bucket of one endpoint sending ``rate`` notices per second."""
    return TokenBucket(rate, capacity=max(1.0, rate * BURST_SECONDS), clock=clock,
                       sleep=sleep, max_pause=MAX_PAUSE)
