"""Shared rate limits on a real Redis (database 15, see ``redis_url`` in conftest)."""

from __future__ import annotations

import bisect
import multiprocessing
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest
import redis

from dispatcher.delivery.shared_limits import (
    RedisLimiters,
    SharedBucket,
    SharedLimitsError,
    mask_url,
    window_for,
)

PROCESSES = 4
THREADS = 4
RATE = 100.0
RUN_SECONDS = 6.5  # every worker spends for this long after the start signal
MEASURE_SECONDS = 6.0  # the rate is measured over [first unit, first unit + 6 s)


def acquire_within(bucket: SharedBucket, seconds: float, units: float = 1.0) -> bool:
    """``bucket.acquire`` with its stop event set after ``seconds``."""
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    try:
        return bucket.acquire(units, stop)
    finally:
        timer.cancel()


def _spend(url: str, key: str, ready: Any, go: Any, results: Any) -> None:
    """One worker process: THREADS threads spending 1 unit at a time until the end."""
    bucket = RedisLimiters(url).bucket(key, RATE)
    stamps: list[float] = []
    ready.put(True)
    go.wait()
    stop = threading.Event()
    timer = threading.Timer(RUN_SECONDS, stop.set)
    timer.start()

    def loop() -> None:
        while bucket.acquire(1, stop):
            stamps.append(time.time())  # list.append is atomic under the GIL

    threads = [threading.Thread(target=loop) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(stamps)


def max_in_one_second(stamps: list[float]) -> int:
    """The most units in any half-open 1 s span [t, t + 1) starting at a unit."""
    return max(bisect.bisect_left(stamps, t + 1.0) - i for i, t in enumerate(stamps))


def _watch(url: str, key: str, stop: threading.Event) -> list[float]:
    """Every timestamp ``limits`` wrote to the window list ``key`` while it was watched.

    The list keeps the newest ``RATE`` entries, each for at least 1 s while the limit holds,
    so reading it every 0.1 s sees each one; counts are merged per snapshot (``|`` keeps
    the highest count of each value) so equal timestamps of two units are both kept.
    """
    client = redis.Redis.from_url(url)
    seen: Counter[float] = Counter()
    while not stop.wait(0.1):
        seen |= Counter(float(v) for v in cast(list[bytes], client.lrange(key, 0, -1)))
    seen |= Counter(float(v) for v in cast(list[bytes], client.lrange(key, 0, -1)))
    return sorted(seen.elements())


@pytest.mark.services
def test_processes_share_one_limit(redis_url: str) -> None:
    bucket = RedisLimiters(redis_url).bucket("twilio:AC1", RATE)
    window_key = "dispatcher:" + bucket.item.key_for("dispatcher:rate:twilio:AC1")
    ctx = multiprocessing.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_spend, args=(redis_url, "twilio:AC1", ready, go, results))
             for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=30)
    watching = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        admitted_future = pool.submit(_watch, redis_url, window_key, watching)
        go.set()
        sent = sorted(t for _ in procs for t in results.get(timeout=30))
        watching.set()
        admitted = admitted_future.result()
    for proc in procs:
        proc.join(timeout=10)
        assert proc.exitcode == 0

    assert len(admitted) == len(sent)  # the watcher saw every unit the workers spent
    rate = bisect.bisect_left(admitted, admitted[0] + MEASURE_SECONDS) / MEASURE_SECONDS
    worst, worst_sent = max_in_one_second(admitted), max_in_one_second(sent)
    print(f"\nshared {RATE:.0f}/s: {rate:.1f}/s over {MEASURE_SECONDS:.0f} s "
          f"({len(admitted)} units in all); at most {worst} units admitted and "
          f"{worst_sent} returned to the workers in any 1 s span")
    assert 90 <= rate <= RATE * 1.03, rate
    # The limit holds for the admission times limits wrote to Redis. The times the workers
    # noted after acquire returned lag those by thread scheduling (4 processes x 4 threads),
    # so a 1 s span of them can hold a few more: printed above, not asserted.
    assert worst <= RATE, worst


def test_cost_counts_every_unit_and_is_clamped(redis_url: str) -> None:
    limiters = RedisLimiters(redis_url)
    bucket = limiters.bucket("acct", 10)
    assert bucket.acquire(3)
    _, remaining = limiters.limiter.get_window_stats(bucket.item, "dispatcher:rate:acct")
    assert remaining == 7
    big = limiters.bucket("big", 10)
    assert acquire_within(big, 0.3, units=50)  # larger than the window: clamped to 10
    assert not acquire_within(big, 0.3)


def test_buckets_are_cached_per_key_and_rate(redis_url: str) -> None:
    limiters = RedisLimiters(redis_url)
    assert limiters.bucket("a", 5) is limiters.bucket("a", 5)
    assert limiters.bucket("a", 5) is not limiters.bucket("a", 6)


def test_pause_is_shared_and_only_extended(redis_url: str) -> None:
    one = RedisLimiters(redis_url).bucket("acct", 50)
    other = RedisLimiters(redis_url).bucket("acct", 50)
    one.pause(2)
    one.pause(0.5)  # shorter: must not shorten the 2 s pause
    ttl = cast(int, redis.Redis.from_url(redis_url).pttl("dispatcher:pause:acct"))
    assert ttl > 1800
    start = time.monotonic()
    assert other.acquire()
    assert time.monotonic() - start >= 1.8


def test_stop_ends_the_wait_promptly(redis_url: str) -> None:
    bucket = RedisLimiters(redis_url).bucket("slow", 0.1)  # 1 per 10 s
    assert bucket.acquire()
    start = time.monotonic()
    assert not acquire_within(bucket, 0.2)  # exhausted window
    assert time.monotonic() - start < 1
    paused = RedisLimiters(redis_url).bucket("paused", 100)
    paused.pause(10)
    start = time.monotonic()
    assert not acquire_within(paused, 0.2)  # pause
    assert time.monotonic() - start < 1


def test_namespaces_do_not_share(redis_url: str) -> None:
    assert RedisLimiters(redis_url, "blue").bucket("acct", 1).acquire()
    assert not acquire_within(RedisLimiters(redis_url, "blue").bucket("acct", 1), 0.3)
    assert acquire_within(RedisLimiters(redis_url, "green").bucket("acct", 1), 0.3)


def test_fractional_rate_lets_one_go_then_waits(redis_url: str) -> None:
    bucket = RedisLimiters(redis_url).bucket("half", 0.5)
    assert acquire_within(bucket, 0.3)
    assert not acquire_within(bucket, 0.3)


@pytest.mark.parametrize(("rate", "amount", "seconds"), [
    (100, 100, 1), (100.3, 100, 1), (2.5, 5, 2), (0.5, 1, 2), (0.1, 1, 10), (1 / 7, 1, 7),
])
def test_window_for_fractional_rates(rate: float, amount: int, seconds: int) -> None:
    item = window_for(rate)
    assert (item.amount, item.get_expiry()) == (amount, seconds)


def test_unreachable_redis_names_the_url_without_password() -> None:
    with pytest.raises(SharedLimitsError) as caught:
        RedisLimiters("redis://:s3cret@127.0.0.1:1/0")
    message = str(caught.value)
    assert "s3cret" not in message
    assert "redis://:***@127.0.0.1:1/0" in message


def test_mask_url_hides_every_password() -> None:
    assert mask_url("redis://u:pw@h:6379/0?password=x&db=1") == (
        "redis://u:***@h:6379/0?password=***&db=1")
    assert mask_url("redis://h:6379/0") == "redis://h:6379/0"
