"""Jobs that come back and waits that poll, for the simulators that run on their own
(the LED fleet, the cinema system)."""

from __future__ import annotations

import time
from collections.abc import Callable

from dispatcher.sandbox.callbacks import Job, Scheduler


def every(scheduler: Scheduler, interval: float, first: float, action: Job,
          current: Callable[[], bool]) -> None:
    """Run ``action`` after ``first`` seconds, then ``interval`` after each run ends (a
    busy simulator slows down rather than piling up jobs), as long as ``current()``: a
    start or reset makes the jobs of the run before stop themselves."""

    def job() -> None:
        if not current():
            return
        try:
            action()
        finally:
            if current():
                scheduler.at(interval, job)

    scheduler.at(first, job)


def wait_until(done: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``done()`` every ``interval`` seconds until it is true; False on timeout."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
