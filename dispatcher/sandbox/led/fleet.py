"""A fleet of simulated LED signage controllers, reaching the dispatcher only over HTTP.

Given the dispatcher's screens (id, bearer token, ``pull`` or ``push``) and its base URL,
pull controllers poll ``GET /feeds/led/{id}`` (ETag / If-None-Match), push controllers
take ``POST /controllers/{id}/playlist`` on the fleet's own loopback app
(:meth:`LedFleet.push_url`); all play their playlist on a fast simulated clock and post
proof of play to ``POST /hooks/led/pop?screen={id}`` (the screen named in the URL, so
the dispatcher checks its token before reading the body) in batches that keep their id
until acknowledged. See :mod:`~dispatcher.sandbox.led.playlist` for the playlist checks,
:mod:`~dispatcher.sandbox.led.schedule` for the play arithmetic and
:mod:`~dispatcher.sandbox.batches` for the batches.

Hundreds of controllers share ``workers`` threads and one timer heap
(:class:`~dispatcher.sandbox.callbacks.Scheduler`): each controller is two recurring
jobs (poll, report), never a thread. On :meth:`LedFleet.start` every pull controller
makes a first poll; the simulated clock starts once they all have (or after
``boot_timeout_s``), so a screen whose feed answers has its playlist from the first
simulated second.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from threading import Semaphore
from types import TracebackType
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette

from dispatcher.sandbox.callbacks import Scheduler
from dispatcher.sandbox.clock import SimClock, iso_z
from dispatcher.sandbox.http_client import HttpClient
from dispatcher.sandbox.led.app import build_app
from dispatcher.sandbox.led.controller import Controller, FleetContext, Job
from dispatcher.sandbox.led.faults import OfflinePlan, stagger
from dispatcher.sandbox.led.options import LedOptions, ScreenSpec
from dispatcher.sandbox.led.stats import Tally, fleet_stats
from dispatcher.sandbox.recurring import every, wait_until
from dispatcher.sandbox.venue import VenueSimulator


class LedFleet(VenueSimulator):
    """``with LedFleet(screens, dispatcher_url, LedOptions(seed=1)).run() as fleet:``.

    Its ``url`` is the push app's base URL once started (with push screens)."""

    kind = "fleet"

    def __init__(self, screens: Iterable[ScreenSpec], dispatcher: str,
                 options: LedOptions | None = None) -> None:
        super().__init__()
        self.options = opts = options or LedOptions()
        self.screens = list(screens)
        ids = [spec.id for spec in self.screens]
        if len(set(ids)) != len(ids):
            raise ValueError("screen ids must be unique")
        self.dispatcher = dispatcher.rstrip("/")
        self.tally = Tally()
        self.scheduler = Scheduler(opts.workers, name="led-fleet")
        self.context = FleetContext(
            options=opts, dispatcher=self.dispatcher, http=HttpClient(opts.http_timeout_s),
            tally=self.tally, clock=self._new_clock(), offline=OfflinePlan(ids, opts),
            later=lambda job: self.scheduler.at(0, job))
        token = uuid.uuid4().hex[:10]
        self.controllers = {spec.id: Controller(spec, self.context, token)
                            for spec in self.screens}
        self.app: Starlette = build_app(self)

    # Lifecycle -----------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int | None = None) -> LedFleet:
        """Serve the push endpoints (when there are push screens), boot, start the clock."""
        self._starting()
        if any(s.controller == "push" for s in self.screens):
            self._serve(host, port)
        self._begin()
        return self

    def stop(self) -> None:
        """Stop every controller and the push app; the stats stay readable."""
        self._stop_runs()
        self.context.http.close()

    @contextmanager
    def run(self, host: str = "127.0.0.1", port: int | None = None) -> Iterator[LedFleet]:
        self.start(host, port)
        try:
            yield self
        finally:
            self.stop()

    def __enter__(self) -> LedFleet:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget counters, playlists, media, plays and unsent reports; restart the clock
        (at ``start``, or now) and the offline plan, then boot again. Batch ids of the new
        run differ from the old ones, so a dispatcher that saw them does not drop them."""
        self._next_run(idle_timeout=2 * self.options.http_timeout_s)
        self.tally.reset()
        self.context.clock = self._new_clock()
        self.context.offline = OfflinePlan(self.controllers, self.options)
        token = uuid.uuid4().hex[:10]
        for controller in self.controllers.values():
            controller.reset(token)
        self._begin()

    def sim_clock(self) -> SimClock:
        return self.context.clock

    def _new_clock(self) -> SimClock:
        start = self.options.start or datetime.now(UTC).replace(microsecond=0)
        return SimClock(start, self.options.time_scale, self.options.until)

    def _begin(self) -> None:
        current, opts = self._current(), self.options
        pulls = [c for c in self.controllers.values() if c.spec.controller == "pull"]
        booted = Semaphore(0)
        for controller in pulls:
            self.scheduler.at(0, _then(controller.poll, booted.release))
        deadline = time.monotonic() + opts.boot_timeout_s
        for _ in pulls:
            if not booted.acquire(timeout=max(0.0, deadline - time.monotonic())):
                break
        self.context.clock.run()
        for screen, controller in self.controllers.items():
            if controller.spec.controller == "pull":
                every(self.scheduler, opts.poll_every_s,
                      stagger(opts.seed, screen, "poll") * opts.poll_every_s,
                      controller.poll, current)
            every(self.scheduler, opts.report_every_s,
                  stagger(opts.seed, screen, "report") * opts.report_every_s,
                  controller.report, current)

    # Push ----------------------------------------------------------------------------

    def push_url(self, screen_id: str) -> str:
        """Where the dispatcher posts ``screen_id``'s playlist (the fleet must be started)."""
        controller = self.controllers.get(screen_id)
        if controller is None or controller.spec.controller != "push":
            raise KeyError(f"{screen_id} is not a push screen of this fleet")
        if self.url is None:
            raise RuntimeError("start the fleet first: the push app has no URL yet")
        return f"{self.url}/controllers/{quote(screen_id, safe='')}/playlist"

    def push(self, screen_id: str, authorization: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """The push endpoint's answer (status, JSON) for one request."""
        controller = self.controllers.get(screen_id)
        if controller is None or controller.spec.controller != "push":
            self.tally.add("pushes.404")
            return 404, {"accepted": False, "error": f"no push controller {screen_id}"}
        return controller.accept_push(authorization, body)

    # Inspection ----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters of the whole fleet since start or reset.

        ``screens`` (total, pull, push, offline now), ``now`` (simulated, ISO),
        ``polls``, ``not_modified`` (304s), ``feed_errors`` (by status, ``connection``,
        ``malformed``), ``playlists`` (activated, malformed), ``pushes`` (accepted and
        refusals by status), ``media`` (downloads, verified, md5_failures,
        size_failures, errors), ``plays`` (total, skipped_media, by_item),
        ``batches`` (posted: every POST of a batch, retries included; acknowledged;
        failed; replayed: replays answered 2xx; pending; replays_pending),
        ``report_errors`` (by status, ``connection``), ``records`` (reported: put in a
        batch, once each; acknowledged; buffered: played but not acknowledged; so
        ``plays.total == records.acknowledged + records.buffered``), ``offline_periods``.
        """
        clock, offline = self.context.clock, self.context.offline
        elapsed = clock.elapsed()
        totals = {"buffered": 0, "pending_batches": 0, "pending_replays": 0}
        for controller in self.controllers.values():
            for key, value in zip(totals, controller.pop.backlog(), strict=True):
                totals[key] += value
        pulls = sum(1 for spec in self.screens if spec.controller == "pull")
        screens = {"total": len(self.screens), "pull": pulls, "push": len(self.screens) - pulls,
                   "offline": offline.offline_now(elapsed)}
        return {"now": iso_z(clock.now_us())} | fleet_stats(
            self.tally, screens, totals, offline.periods(elapsed))

    def screen(self, screen_id: str) -> dict[str, Any] | None:
        """One controller: version, etag, online, plays by item, buffered, pending."""
        controller = self.controllers.get(screen_id)
        return None if controller is None else controller.summary()

    def wait_for_reports(self, timeout: float = 10.0) -> bool:
        """Wait until every play up to the simulated time of the call is acknowledged
        and no replay is queued (offline controllers included: they report when back)."""
        target = self.context.clock.now_us()
        return wait_until(lambda: all(c.settled(target) for c in self.controllers.values()),
                          timeout)


def _then(first: Job, second: Job) -> Job:
    def job() -> None:
        try:
            first()
        finally:
            second()

    return job
