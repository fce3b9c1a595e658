"""HTTP connection pools sized to a channel's ``concurrency``.

A channel's client is shared by the engine's sending threads, and the engine may have
up to twice a channel's ``concurrency`` sends in flight (the next ones queued), plus
lookups, on a thread pool shared by every channel. requests' default pool keeps 10
connections per host and, when more threads than that call at once, opens extra ones
and throws them away afterwards, logging urllib3's "Connection pool is full, discarding
connection" for each.

The pools made here hold ``concurrency`` connections per host and *block*: a thread
that finds them all busy waits for one instead of opening another. ``concurrency`` is
then what the configuration says it is, the most calls in flight at once to one host
(a provider's concurrency limit is never exceeded), and no connection is discarded.
A connection is always given back (requests releases it when the answer is read or the
call fails), so a waiting thread waits for at most one call of another thread.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import DEFAULT_POOLSIZE, HTTPAdapter


def pool_options(concurrency: int, hosts: int = 1) -> dict[str, Any]:
    """``HTTPAdapter`` keyword arguments for ``concurrency`` calls at once to each host,
    with a pool kept for each of ``hosts`` hosts (never fewer than requests' 10)."""
    return {"pool_connections": max(DEFAULT_POOLSIZE, hosts),
            "pool_maxsize": max(1, concurrency),
            "pool_block": True}


def mount_pool(session: requests.Session, adapter: HTTPAdapter,
               prefixes: tuple[str, ...] = ("https://", "http://")) -> None:
    """Mount ``adapter`` on ``session`` for ``prefixes`` (every URL by default)."""
    for prefix in prefixes:
        session.mount(prefix, adapter)


def pooled_session(concurrency: int, hosts: int = 1) -> requests.Session:
    """A ``requests.Session`` whose pools fit ``concurrency`` threads calling at once."""
    session = requests.Session()
    mount_pool(session, HTTPAdapter(**pool_options(concurrency, hosts)))
    return session
