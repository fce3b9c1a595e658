"""What the venue simulators (the LED fleet, the cinema system) share: a life that starts
once, an app served on loopback, runs of recurring jobs, and waits on the simulated clock.

Each start or reset begins a new run; the recurring jobs of the run before stop
themselves (:meth:`VenueSimulator._current`), so a reset never leaves an old job behind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

from starlette.applications import Starlette

from dispatcher.sandbox.callbacks import Scheduler
from dispatcher.sandbox.clock import SimClock, from_us, to_us
from dispatcher.sandbox.recurring import wait_until
from dispatcher.serving import BackgroundServer


class VenueSimulator:
    """The base of :class:`~dispatcher.sandbox.led.fleet.LedFleet` and
    :class:`~dispatcher.sandbox.cinema.server.CinemaSystem`."""

    kind: ClassVar[str]  # "fleet", "cinema system": what the start and reset errors call it
    app: Starlette
    scheduler: Scheduler

    def __init__(self) -> None:
        self.url: str | None = None  # the app's base URL once served
        self._server: BackgroundServer | None = None
        self._epoch = 0  # recurring jobs of an earlier start or reset stop themselves
        self._state = "new"  # -> "running" -> "stopped" (a simulator starts once)

    def sim_clock(self) -> SimClock:
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        raise NotImplementedError

    # Lifecycle, for the simulator's start, stop and reset ------------------------------

    def _starting(self) -> None:
        if self._state != "new":
            raise RuntimeError(f"a {self.kind} starts once (this one is {self._state})")
        self._state = "running"

    def _serve(self, host: str, port: int | None) -> str:
        self._server = BackgroundServer(self.app, host=host, port=port).start()
        self.url = self._server.url
        return self.url

    def _stop_runs(self) -> None:
        """End the run's jobs and the server."""
        self._state = "stopped"
        self._epoch += 1
        self.scheduler.close()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _next_run(self, idle_timeout: float) -> None:
        """For a reset: end the run's jobs, waiting up to ``idle_timeout`` for those
        running now."""
        if self._state != "running":
            raise RuntimeError(f"reset a running {self.kind}")
        self._epoch += 1
        self.scheduler.clear()
        self.scheduler.wait_idle(timeout=idle_timeout)

    def _current(self) -> Callable[[], bool]:
        """Whether the run of the moment of the call is still the current one."""
        epoch = self._epoch
        return lambda: self._epoch == epoch

    # Inspection ----------------------------------------------------------------------

    def now(self) -> datetime:
        """The simulated time (UTC)."""
        return from_us(self.sim_clock().now_us())

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0,
                 interval: float = 0.02) -> bool:
        """Wait until ``predicate(self.stats())``; False on timeout."""
        return wait_until(lambda: predicate(self.stats()), timeout, interval)

    def wait_for_clock(self, moment: datetime, timeout: float = 10.0) -> bool:
        """Wait until the simulated clock reaches ``moment``; False on timeout (or when
        ``until`` is earlier)."""
        return self.sim_clock().wait_until(to_us(moment), timeout)
