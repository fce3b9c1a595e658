"""One cinema's play-log entries and their posting, in the batches of
:mod:`dispatcher.sandbox.batches`: ``{"cinema", "batch", "entries": [...]}``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from dispatcher.sandbox.batches import Batch, BatchFormat, BatchQueue, flush
from dispatcher.sandbox.cinema.faults import replays
from dispatcher.sandbox.cinema.options import CinemaOptions
from dispatcher.sandbox.cinema.stats import Counts
from dispatcher.sandbox.clock import iso_z
from dispatcher.sandbox.http_client import HttpClient, Unreachable

PLAYLOG_PATH = "/hooks/cinema/playlog"


@dataclass(frozen=True, slots=True)
class Entry:
    """What happened to one booking: ``played``, ``dropped`` or ``cancelled``."""

    booking: str
    screening: str
    status: str
    at_us: int  # simulated UTC
    admissions: int | None  # played only

    def wire(self) -> dict[str, object]:
        return {"booking": self.booking, "screening": self.screening, "status": self.status,
                "at": iso_z(self.at_us), "admissions": self.admissions}


LogQueue = BatchQueue[Entry]
LOG_FORMAT = BatchFormat[Entry]("cinema", "entries", Entry.wire)

# What the system counts (per cinema) for each event of :func:`batches.flush`.
COUNT_NAMES = {"reported": "logs.entries_reported", "posted": "logs.posted",
               "failed": "logs.failed", "acknowledged": "logs.acknowledged",
               "entries_acknowledged": "logs.entries_acknowledged",
               "replayed": "logs.replayed"}


def log_queue(cinema: str, run_token: str) -> LogQueue:
    """Buffered entries, batches awaiting acknowledgement, batches to replay."""
    return BatchQueue(cinema, run_token, LOG_FORMAT)


class Reporter:
    """Posts each cinema's batches to ``{dispatcher}/hooks/cinema/playlog?cinema={id}``
    (the dispatcher checks the cinema's token before it reads the body)."""

    def __init__(self, dispatcher: str, options: CinemaOptions, counts: Counts) -> None:
        self.url = dispatcher.rstrip("/") + PLAYLOG_PATH
        self.options, self.counts = options, counts
        self.http = HttpClient(options.http_timeout_s, "cinema-cms (dispatcher sandbox)")

    def flush(self, queue: LogQueue, token: str) -> None:
        """Post batches oldest first until one fails, then any replays."""
        opts, cinema = self.options, queue.owner
        flush(queue, opts.max_batch, lambda batch: self._post(batch, cinema, token),
              lambda number: replays(opts.seed, cinema, number, opts.replay_rate),
              lambda event, amount: self.counts.add(COUNT_NAMES[event], cinema, amount))

    def close(self) -> None:
        self.http.close()

    def _post(self, batch: Batch, cinema: str, token: str) -> int | None:
        """The answer's status (errors counted under ``log_errors``), None if none."""
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        url = f"{self.url}?cinema={quote(cinema, safe='')}"
        try:
            reply = self.http.request("POST", url, headers, batch.body)
        except Unreachable:
            self.counts.add("log_errors.connection", cinema)
            return None
        if not 200 <= reply.status < 300:
            self.counts.add(f"log_errors.{reply.status}", cinema)
        return reply.status
