"""The pieces the sandboxes share: the batch queue, recurring jobs, background serving."""

from __future__ import annotations

import json
import threading
from typing import Any

import requests
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from dispatcher.sandbox.batches import Batch, BatchFormat, BatchQueue, flush
from dispatcher.sandbox.callbacks import Scheduler
from dispatcher.sandbox.recurring import every
from dispatcher.sandbox.serving import serve_in_background

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
