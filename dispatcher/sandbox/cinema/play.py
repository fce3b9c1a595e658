"""What happens on the play clock: screenings start (their bookings are played or dropped,
admissions drawn) and some are cancelled an hour before (their bookings cancelled).

The events are known up front (the program and the seed decide them), so they are one
sorted list walked by a cursor: :meth:`Player.advance` handles every event due by a
simulated moment in one go, however late the worker thread runs, and reports each
booking exactly once. A screening cancelled by hand simply makes its later events
no-ops. The entries go to their cinema's log queue under the desk's lock, so a waiter
never sees an event handled but its entries not yet queued.
"""

from __future__ import annotations

from collections.abc import Mapping

from dispatcher.sandbox.cinema.bookings import BookingDesk, Show
from dispatcher.sandbox.cinema.faults import admissions, cancelled, dropped
from dispatcher.sandbox.cinema.logs import Entry, LogQueue
from dispatcher.sandbox.cinema.options import CANCEL_NOTICE_S
from dispatcher.sandbox.clock import US

CANCEL, SHOW = 0, 1  # a cancellation sorts before a show at the same moment


class Player:
    """The program's events on the play clock for one run of the system."""

    def __init__(self, desk: BookingDesk, queues: Mapping[str, LogQueue]) -> None:
        self.desk, self.queues = desk, queues
        opts = desk.options
        events: list[tuple[int, int, str]] = []
        for screening in desk.program.screenings.values():
            if screening.cancelled:
                continue
            if cancelled(opts.seed, screening.id, opts.cancel_rate):
                events.append((screening.start_us - CANCEL_NOTICE_S * US, CANCEL, screening.id))
            events.append((screening.start_us, SHOW, screening.id))
        events.sort()
        self._events = events
        self._next = 0

    def advance(self, now_us: int) -> int:
        """Handle the events due by ``now_us``; how many there were."""
        desk, handled = self.desk, 0
        with desk.lock:
            while self._next < len(self._events) and self._events[self._next][0] <= now_us:
                at_us, kind, screening = self._events[self._next]
                self._next += 1
                handled += 1
                show = desk.shows[screening]
                self._queue(show, self._cancel(show, at_us) if kind == CANCEL
                            else self._show(show, at_us))
        return handled

    def next_us(self) -> int | None:
        """When the next event is due (simulated), None when there is none left."""
        with self.desk.lock:
            return self._events[self._next][0] if self._next < len(self._events) else None

    def cancel(self, screening: str, now_us: int) -> int:
        """Cancel ``screening`` at ``now_us``; how many bookings it cancelled.

        KeyError for an unknown screening, ValueError once it started or was cancelled."""
        with self.desk.lock:
            show = self.desk.shows[screening]
            if show.cancelled:
                raise ValueError(f"screening {screening} is already cancelled")
            if show.shown or show.screening.start_us <= now_us:
                raise ValueError(f"screening {screening} has started")
            entries = self._cancel(show, now_us)
            self._queue(show, entries)
            return len(entries)

    def _queue(self, show: Show, entries: list[Entry]) -> None:
        if entries:
            self.queues[show.screening.cinema].add(entries)

    def _show(self, show: Show, at_us: int) -> list[Entry]:
        """The screening starts: draw its admissions, play or drop its bookings."""
        if show.cancelled or show.shown:
            return []
        desk, opts, screening = self.desk, self.desk.options, show.screening
        show.shown = True
        show.admissions = people = admissions(opts.seed, screening.id, screening.expected,
                                              screening.seats)
        desk.shown += 1
        desk.audience += people
        entries = []
        for booking in show.bookings:
            if booking.state != "booked":
                continue
            drop = dropped(opts.seed, booking.request.booking, opts.drop_rate)
            booking.state, booking.at_us = ("dropped" if drop else "played"), at_us
            booking.admissions = None if drop else people
            desk.active -= 1
            desk.counts.add("drops" if drop else "plays", screening.cinema)
            if not drop:
                desk.counts.add("admissions", screening.cinema, people)
            entries.append(Entry(booking.request.booking, screening.id, booking.state, at_us,
                                 booking.admissions))
        return entries

    def _cancel(self, show: Show, at_us: int) -> list[Entry]:
        """The screening is cancelled: so are its bookings."""
        if show.cancelled or show.shown:
            return []
        desk, screening = self.desk, show.screening
        show.cancelled = True
        desk.cancelled += 1
        entries = []
        for booking in show.bookings:
            if booking.state != "booked":
                continue
            booking.state, booking.at_us = "cancelled", at_us
            desk.active -= 1
            desk.counts.add("cancellations", screening.cinema)
            entries.append(Entry(booking.request.booking, screening.id, "cancelled", at_us,
                                 None))
        return entries
