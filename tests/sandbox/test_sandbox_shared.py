"""The pieces the sandboxes share: the batch queue, recurring jobs, background serving,
the options' checks."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from dispatcher.sandbox import option_checks as check
from dispatcher.sandbox.batches import Batch, BatchFormat, BatchQueue, flush
from dispatcher.sandbox.callbacks import Scheduler
from dispatcher.sandbox.recurring import every, wait_until
from dispatcher.sandbox.serving import HoldingSandbox, hold, serve_in_background
from dispatcher.sandbox.venue import VenueSimulator

FORM = BatchFormat[int]("venue", "items", lambda n: {"n": n})


def queue_of(*items: int) -> BatchQueue[int]:
    queue = BatchQueue("V1", "run", FORM)
    queue.add(list(items))
    return queue


def test_a_batch_keeps_its_id_and_bytes_until_acknowledged() -> None:
    queue = queue_of(1, 2, 3)
    first = queue.next_batch(2)
    assert first is not None and first[1] is True
    batch = first[0]
    assert json.loads(batch.body) == {"venue": "V1", "batch": "V1-run-0",
                                      "items": [{"n": 1}, {"n": 2}]}
    assert queue.next_batch(2) == (batch, False)  # posted again, byte for byte
    assert queue.backlog() == (3, 1, 0)
    queue.acknowledged(batch, replay=True)
    assert queue.backlog() == (1, 0, 1) and queue.next_replay() is batch
    after = queue.next_batch(2)
    assert after is not None and after[0].id == "V1-run-1" and after[0].size == 1


def test_flush_stops_at_a_failure_and_posts_the_same_batch_next_time() -> None:
    queue, posted, counted = queue_of(1, 2, 3), [], {}
    answers = iter([503, 200, 200, 200])

    def post(batch: Batch) -> int | None:
        posted.append(batch.id)
        return next(answers)

    def count(event: str, amount: int) -> None:
        counted[event] = counted.get(event, 0) + amount

    flush(queue, 2, post, lambda number: number == 0, count)
    assert posted == ["V1-run-0"] and queue.backlog() == (3, 1, 0)
    flush(queue, 2, post, lambda number: number == 0, count)
    assert posted == ["V1-run-0", "V1-run-0", "V1-run-1", "V1-run-0"]  # then the replay
    assert counted == {"reported": 3, "posted": 3, "failed": 1, "acknowledged": 2,
                       "entries_acknowledged": 3, "replayed": 1}
    assert queue.backlog() == (0, 0, 0)


def test_every_repeats_until_its_run_is_no_longer_current() -> None:
    scheduler, runs, current = Scheduler(1, name="test-every"), [], [True]

    def action() -> None:
        runs.append(1)
        current[0] = len(runs) < 3  # a reset during the third run

    try:
        every(scheduler, 0.01, 0, action, lambda: current[0])
        every(scheduler, 0.01, 0.02, lambda: runs.append(100), lambda: False)  # stale
        assert scheduler.wait_idle(timeout=5)
        assert runs == [1, 1, 1] and scheduler.pending() == 0
    finally:
        scheduler.close()


class Box:
    """The least a sandbox is: an app, its URL and a close."""

    def __init__(self) -> None:
        self.app: Any = Starlette(routes=[Route("/", lambda _: PlainTextResponse("hi"))])
        self.url: str | None = None
        self.events: list[str] = []
        self.closing = threading.Event()

    def close(self) -> None:
        self.events.append("closed" if self.closing.is_set() else "closed early")


def test_serve_in_background_stops_in_order() -> None:
    box = Box()
    with serve_in_background(box, before_stop=box.closing.set) as url:
        assert box.url == url and requests.get(url, timeout=5).text == "hi"
    assert box.events == ["closed"]


class Slow(HoldingSandbox):
    """Answers after a minute: only closing the sandbox ends the wait sooner."""

    def __init__(self) -> None:
        self.app = Starlette(routes=[Route("/", self.slow)])
        self.url = None
        self.scheduler = Scheduler(1, name="test-holding")
        self.closing = threading.Event()

    async def slow(self, request: Request) -> Response:
        await hold(request, 60, self.closing)
        return PlainTextResponse("late")


def test_stopping_a_holding_sandbox_ends_the_answers_it_holds() -> None:
    box, answers = Slow(), []
    with box.serve() as url:
        waiting = threading.Thread(target=lambda: answers.append(
            requests.get(url, timeout=30).text))
        waiting.start()
        time.sleep(0.5)  # the request is being held
        started = time.monotonic()
    waiting.join(timeout=30)
    assert answers == ["late"] and time.monotonic() - started < 5


class Venue(VenueSimulator):
    """A venue simulator whose one recurring job counts its runs' turns; the turns wait
    for ``release``."""

    kind = "test venue"

    def __init__(self) -> None:
        super().__init__()
        self.app = Starlette()
        self.scheduler = Scheduler(2, name="test-venue")
        self.turns: list[int] = []
        self.inside, self.release = threading.Event(), threading.Event()

    def start(self) -> None:
        self._starting()
        self._begin()

    def reset(self) -> None:
        self._next_run(idle_timeout=5)
        self._begin()

    def _begin(self) -> None:
        run = len(self.turns)
        self.turns.append(0)

        def turn() -> None:
            self.turns[run] += 1
            self.inside.set()
            self.release.wait(timeout=5)

        every(self.scheduler, 0.01, 0, turn, self._current())


def test_a_venue_starts_once_and_a_reset_ends_the_jobs_of_the_run_before() -> None:
    venue = Venue()
    with pytest.raises(RuntimeError, match="reset a running test venue"):
        venue.reset()
    venue.start()
    try:
        assert venue.inside.wait(timeout=5)  # the first run's job is running
        resetting = threading.Thread(target=venue.reset)
        resetting.start()  # it waits for that job, which comes back after the reset
        time.sleep(0.1)
        venue.release.set()
        resetting.join(timeout=10)
        assert wait_until(lambda: venue.turns[1] >= 5, timeout=5)
        assert venue.turns[0] == 1
    finally:
        venue._stop_runs()
    with pytest.raises(RuntimeError, match=r"a test venue starts once \(this one is stopped\)"):
        venue.start()


def refuse_settings(**settings: Any) -> None:
    """Every shared check on ``settings`` (a namespace standing in for options)."""
    given = SimpleNamespace(**({"rate": 0.0, "other_rate": 0.0, "delay_s": 0.0, "retries": 0,
                                "workers": 1, "max_rate": None, "start": None, "until": None}
                               | settings))
    check.refuse(check.fractions(given, ("rate", "other_rate"))
                 + check.sum_over_one(given, "rate", "other_rate")
                 + check.positive(given, ("workers",))
                 + check.non_negative(given, ("delay_s",))
                 + check.negative_counts(given, ("retries",))
                 + check.at_least_one(given, ("workers",))
                 + check.max_rate(given) + check.clock_window(given))


def test_option_checks_name_every_problem_in_one_error() -> None:
    refuse_settings(rate=0.5, other_rate=0.5, max_rate=1, start=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError) as problems:
        refuse_settings(rate=0.75, other_rate=float("nan"), delay_s=-1, retries=-1, workers=0,
                        max_rate=0, start=datetime(2026, 1, 1))
    assert str(problems.value) == (
        "other_rate must be a fraction from 0 to 1, got nan; "
        "workers must be a positive number, got 0; "
        "delay_s must be a non-negative number, got -1; retries must not be negative; "
        "workers must be at least 1; max_rate must be positive messages per second, got 0; "
        "start must be timezone-aware, got 2026-01-01T00:00:00")
    with pytest.raises(ValueError, match=r"^rate \+ other_rate must not exceed 1; "
                                         r"until must be after start$"):
        refuse_settings(rate=0.75, other_rate=0.5, start=datetime(2026, 1, 1, tzinfo=UTC),
                        until=datetime(2026, 1, 1, tzinfo=UTC))
