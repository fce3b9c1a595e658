"""The one token bucket (channels/token_bucket.py), on a fake clock."""

from __future__ import annotations

import threading

import pytest

from channels.token_bucket import TokenBucket


class FakeTime:
    """A clock that moves only when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def bucket(rate: float, **kwargs: float) -> tuple[TokenBucket, FakeTime]:
    fake = FakeTime()
    return TokenBucket(rate, clock=fake.clock, sleep=fake.sleep, **kwargs), fake


def test_the_burst_is_a_second_worth_then_the_rate() -> None:
    limited, fake = bucket(4)
    for _ in range(4):
        assert limited.acquire()
    assert fake.now == 0.0 and limited.capacity == 4.0
    limited.acquire()
    assert fake.now == pytest.approx(0.25)


def test_units_larger_than_the_burst_still_go() -> None:
    limited, fake = bucket(2, capacity=3)
    assert limited.acquire(10)
    assert limited.acquire(1)
    assert fake.now == pytest.approx(0.5)


def test_a_pause_holds_every_unit_and_never_shortens() -> None:
    limited, fake = bucket(100)
    limited.pause(3)
    limited.pause(1)
    limited.acquire()
    assert fake.now == pytest.approx(3.0 + 0.01)


def test_max_pause_cuts_a_long_retry_after() -> None:
    limited, fake = bucket(100, max_pause=5)
    limited.pause(3600)
    limited.acquire()
    assert fake.now == pytest.approx(5.0 + 0.01)


def test_a_set_stop_gives_up_instead_of_waiting() -> None:
    limited, _ = bucket(1)
    limited.pause(60)
    stop = threading.Event()
    stop.set()
    assert limited.acquire(stop=stop) is False


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        TokenBucket(0)
