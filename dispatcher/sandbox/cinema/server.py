"""A simulated cinema management system on loopback, reaching the dispatcher only over HTTP.

Given the cinemas' data (pre-show blocks, auditorium seats), the screenings it runs and
each cinema's bearer token, it takes spot bookings into pre-show blocks (``POST
/bookings``, ``DELETE /bookings/{booking}``: :mod:`~dispatcher.sandbox.cinema.bookings`),
runs the screenings on a fast play clock (:mod:`~dispatcher.sandbox.cinema.play`) and
posts each cinema's play log to ``POST {dispatcher}/hooks/cinema/playlog?cinema={id}``
in batches that keep their id until acknowledged (:mod:`~dispatcher.sandbox.cinema.logs`),
signed with the cinema's token of the moment (:meth:`CinemaSystem.install_token` takes a
rotated one).

Everything runs on ``workers`` threads and one timer heap
(:class:`~dispatcher.sandbox.callbacks.Scheduler`): one job walks the event list as the
clock passes, and each cinema has one recurring report job; never a thread per cinema.
The system only runs the cinemas it has tokens for: other cinemas' screenings are left
out (their bookings answer 404).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette

from dispatcher.sandbox.callbacks import Scheduler
from dispatcher.sandbox.cinema.app import build_app
from dispatcher.sandbox.cinema.bookings import BookingDesk
from dispatcher.sandbox.cinema.faults import stagger
from dispatcher.sandbox.cinema.logs import LogQueue, Reporter, log_queue
from dispatcher.sandbox.cinema.options import CinemaOptions
from dispatcher.sandbox.cinema.play import Player
from dispatcher.sandbox.cinema.program import CinemaProgram, build_program
from dispatcher.sandbox.cinema.stats import Counts, render
from dispatcher.sandbox.clock import SimClock, iso_z
from dispatcher.sandbox.recurring import every, wait_until
from dispatcher.sandbox.venue import VenueSimulator

TICK_MAX_S = 0.2  # real seconds between event checks at most
TICK_MIN_S = 0.002
Job = Callable[[], None]


class CinemaSystem(VenueSimulator):
    """``with CinemaSystem(program, tokens, dispatcher_url).serve() as url:``."""

    kind = "cinema system"

    def __init__(self, program: CinemaProgram, tokens: Mapping[str, str],
                 dispatcher: str | None = None, options: CinemaOptions | None = None) -> None:
        super().__init__()
        self.options = opts = options or CinemaOptions()
        unknown = sorted(set(tokens) - set(program.cinemas))
        if unknown:
            raise ValueError(f"tokens for unknown cinema(s): {', '.join(unknown)}")
        self.program = _restricted(program, tokens)
        self.tokens = dict(tokens)
        self.dispatcher = None if dispatcher is None else dispatcher.rstrip("/")
        self.counts = Counts()
        self.clock = self._new_clock()
        self.desk = BookingDesk(self.program, self.tokens, opts, self.counts,
                                lambda: self.clock.now_us())
        self.queues = self._new_queues()
        self.player = Player(self.desk, self.queues)
        self.reporter = (Reporter(self.dispatcher, opts, self.counts)
                         if self.dispatcher is not None else None)
        self.scheduler = Scheduler(opts.workers, name="cinema-system")
        self.app: Starlette = build_app(self)

    @classmethod
    def from_rows(cls, cinemas: Iterable[Mapping[str, str]],
                  auditoriums: Iterable[Mapping[str, str]],
                  showtimes: Iterable[Mapping[str, str]], tokens: Mapping[str, str],
                  dispatcher: str | None = None,
                  options: CinemaOptions | None = None) -> CinemaSystem:
        """From the CSV rows of cinemas, auditoriums and showtimes."""
        return cls(build_program(cinemas, auditoriums, showtimes), tokens, dispatcher, options)

    # Lifecycle -----------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int | None = None) -> str:
        """Serve the API on ``host:port`` (a free port by default), start the clock and
        the jobs; the base URL."""
        self._starting()
        url = self._serve(host, port)
        self._begin()
        return url

    def stop(self) -> None:
        """Stop the jobs and the server; the state stays readable."""
        self._stop_runs()
        if self.reporter is not None:
            self.reporter.close()

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
        """Run in the background; yield the base URL."""
        url = self.start(host, port)
        try:
            yield url
        finally:
            self.stop()

    def reset(self) -> None:
        """Forget bookings, counters and unsent logs; restart the clock (at ``start``).
        Batch ids of the new run differ, so a dispatcher that saw the old ones does not
        drop the new ones."""
        self._next_run(idle_timeout=2 * self.options.http_timeout_s)
        self.counts.reset()
        self.clock = self._new_clock()
        self.desk.reset()
        self.queues = self._new_queues()
        self.player = Player(self.desk, self.queues)
        self._begin()

    def sim_clock(self) -> SimClock:
        return self.clock

    def _new_clock(self) -> SimClock:
        start = self.options.start
        if start is None:
            first = next(iter(self.program.screenings.values()), None)
            start = (datetime.now(UTC).replace(microsecond=0) if first is None
                     else first.start.replace(hour=0, minute=0, second=0, microsecond=0))
        return SimClock(start, self.options.time_scale, self.options.until)

    def _new_queues(self) -> dict[str, LogQueue]:
        run = uuid.uuid4().hex[:10]
        return {cinema: log_queue(cinema, run) for cinema in self.program.cinemas}

    def _begin(self) -> None:
        current, opts = self._current(), self.options
        self.clock.run()
        self.scheduler.at(0, lambda: self._tick(current))
        if self.reporter is None:
            return
        for cinema, queue in self.queues.items():
            every(self.scheduler, opts.report_every_s,
                  stagger(opts.seed, cinema) * opts.report_every_s,
                  _flusher(self.reporter, queue, self.tokens), current)

    def _tick(self, current: Callable[[], bool]) -> None:
        """Handle the events due, then come back when the next is due (or soon)."""
        if not current():
            return
        self.player.advance(self.clock.now_us())
        due = self.player.next_us()
        delay = TICK_MAX_S if due is None else min(
            TICK_MAX_S, max(TICK_MIN_S, self.clock.real_seconds_until(due)))
        if current():
            self.scheduler.at(delay, lambda: self._tick(current))

    # Hand controls and inspection ----------------------------------------------------

    def cancel(self, screening: str) -> int:
        """Cancel ``screening`` now (simulated); how many bookings that cancelled. Its
        bookings are reported ``cancelled``. KeyError for an unknown screening, ValueError
        once it started or was cancelled."""
        return self.player.cancel(screening, self.clock.now_us())

    def install_token(self, cinema: str, token: str) -> None:
        """Take ``cinema``'s new token (after ``dispatcher cinemas token ID --rotate``):
        bookings must carry it from now on, and the play logs are signed with it."""
        if cinema not in self.tokens:
            raise KeyError(f"the system runs no cinema {cinema!r}")
        self.tokens[cinema] = token
        self.desk.install_token(cinema, token)

    def bookings(self, cinema: str | None = None, screening: str | None = None,
                 state: str | None = None) -> list[dict[str, Any]]:
        """What ``/_sandbox/bookings`` answers: every booking ever made, with its state
        (booked, played, dropped, cancelled, deleted), ``at`` and ``admissions``."""
        return self.desk.summaries(cinema, screening, state)

    def stats(self) -> dict[str, Any]:
        """Counters since start or reset (``/_sandbox/stats``).

        ``now`` (simulated, ISO), ``cinemas``, ``screenings`` (total, shown, cancelled,
        upcoming, admissions: of every screening shown), ``bookings`` (created, repeats,
        deleted, active: booked and not yet played, known: ids ever booked; ``refused``
        by reason; ``errors``: 503 answers and those created_first), ``plays``, ``drops``,
        ``cancellations`` (bookings reported so), ``admissions`` (total of the played
        entries), ``logs`` (posted: every POST, retries included; acknowledged; failed;
        replayed: replays answered 2xx; entries_reported: put in a batch, once each;
        entries_acknowledged; pending_batches; pending_replays; errors by status or
        ``connection``), ``buffered`` (entries not yet acknowledged; so
        ``plays + drops + cancellations == logs.entries_acknowledged + buffered``) and
        ``per_cinema`` (bookings_created, plays, drops, cancellations, admissions,
        logs_acknowledged, refused, buffered).
        """
        screenings, bookings = self.desk.figures()
        backlog = {cinema: queue.backlog() for cinema, queue in self.queues.items()}
        return {"now": iso_z(self.clock.now_us()), "cinemas": len(self.program.cinemas)} \
            | render(self.counts, screenings, bookings, backlog)

    def wait_for_logs(self, timeout: float = 10.0) -> bool:
        """Wait until every event up to the simulated time of the call is handled, its
        entries acknowledged and no replay queued; False on timeout."""
        target = self.clock.now_us()
        return wait_until(lambda: self._settled(target), timeout)

    def _settled(self, target_us: int) -> bool:
        due = self.player.next_us()
        if due is not None and due <= target_us:
            return False
        return all(queue.backlog() == (0, 0, 0) for queue in self.queues.values())


def _flusher(reporter: Reporter, queue: LogQueue, tokens: Mapping[str, str]) -> Job:
    """Each report signs with the cinema's token of the moment (it may be rotated)."""
    return lambda: reporter.flush(queue, tokens[queue.owner])


def _restricted(program: CinemaProgram, tokens: Mapping[str, str]) -> CinemaProgram:
    """The part of ``program`` in the cinemas that have a token."""
    return CinemaProgram({c: cinema for c, cinema in program.cinemas.items() if c in tokens},
                   {s: show for s, show in program.screenings.items() if show.cinema in tokens})
