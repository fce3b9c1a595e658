"""One cinema's unreported play-log entries, the batches made of them, and their posting.

Entries wait in a buffer until a report is attempted; an attempt cuts the oldest entries
(at most ``max_batch``) into a batch with a fixed id and body. A batch that is not
acknowledged (no answer, or not 2xx) stays at the head of the queue and is posted again,
byte for byte, before anything newer: after an outage the backlog arrives in order under
the same batch ids, so a dispatcher that dedupes on ``(cinema, batch)`` counts every
entry once. Acknowledged batches drawn for a replay are posted once more.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from urllib.parse import quote

from dispatcher.sandbox.cinema.faults import replays
from dispatcher.sandbox.cinema.options import CinemaOptions
from dispatcher.sandbox.cinema.stats import Counts
from dispatcher.sandbox.led.http_client import HttpClient, Unreachable
from dispatcher.sandbox.led.schedule import iso_z

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


@dataclass(frozen=True)
class Batch:
    number: int  # from 0 per cinema and run
    id: str
    body: bytes
    size: int  # entries


class LogQueue:
    """Buffered entries, batches awaiting acknowledgement, batches to replay."""

    def __init__(self, cinema: str, run_token: str) -> None:
        self.cinema, self.run_token = cinema, run_token
        self._lock = threading.Lock()
        self._entries: deque[Entry] = deque()
        self._pending: deque[Batch] = deque()
        self._replays: deque[Batch] = deque()
        self._numbers = 0

    def add(self, entries: list[Entry]) -> None:
        with self._lock:
            self._entries.extend(entries)

    def next_batch(self, max_batch: int) -> tuple[Batch, bool] | None:
        """The batch to post next and whether it is new (never posted), or None."""
        with self._lock:
            if self._pending:
                return self._pending[0], False
            if not self._entries:
                return None
            count = min(max_batch, len(self._entries))
            batch = self._batch([self._entries.popleft() for _ in range(count)])
            self._pending.append(batch)
            return batch, True

    def acknowledged(self, batch: Batch, replay: bool) -> None:
        with self._lock:
            if self._pending and self._pending[0] is batch:
                self._pending.popleft()
                if replay:
                    self._replays.append(batch)

    def next_replay(self) -> Batch | None:
        with self._lock:
            return self._replays[0] if self._replays else None

    def replay_done(self, batch: Batch) -> None:
        with self._lock:
            if self._replays and self._replays[0] is batch:
                self._replays.popleft()

    def backlog(self) -> tuple[int, int, int]:
        """(entries not yet acknowledged, batches awaiting acknowledgement, replays queued)."""
        with self._lock:
            waiting = len(self._entries) + sum(batch.size for batch in self._pending)
            return waiting, len(self._pending), len(self._replays)

    def _batch(self, entries: list[Entry]) -> Batch:
        number = self._numbers
        self._numbers += 1
        batch_id = f"{self.cinema}-{self.run_token}-{number}"
        body = json.dumps({"cinema": self.cinema, "batch": batch_id,
                           "entries": [entry.wire() for entry in entries]},
                          ensure_ascii=False, separators=(",", ":")).encode()
        return Batch(number=number, id=batch_id, body=body, size=len(entries))


class Reporter:
    """Posts each cinema's batches to ``{dispatcher}/hooks/cinema/playlog?cinema={id}``
    (the dispatcher checks the cinema's token before it reads the body)."""

    def __init__(self, dispatcher: str, options: CinemaOptions, counts: Counts) -> None:
        self.url = dispatcher.rstrip("/") + PLAYLOG_PATH
        self.options, self.counts = options, counts
        self.http = HttpClient(options.http_timeout_s, "cinema-cms (dispatcher sandbox)")

    def flush(self, queue: LogQueue, token: str) -> None:
        """Post batches oldest first until one fails, then any replays."""
        opts, counts, cinema = self.options, self.counts, queue.cinema
        while (turn := queue.next_batch(opts.max_batch)) is not None:
            batch, new = turn
            if new:
                counts.add("logs.entries_reported", cinema, batch.size)
            counts.add("logs.posted", cinema)
            status = self._post(batch, cinema, token)
            if status is None or not 200 <= status < 300:
                counts.add("logs.failed", cinema)
                return
            counts.add("logs.acknowledged", cinema)
            counts.add("logs.entries_acknowledged", cinema, batch.size)
            queue.acknowledged(batch, replays(opts.seed, cinema, batch.number, opts.replay_rate))
        while (replay := queue.next_replay()) is not None:
            status = self._post(replay, cinema, token)
            if status is None:
                return  # unreachable: try again at the next report
            queue.replay_done(replay)
            if 200 <= status < 300:
                counts.add("logs.replayed", cinema)

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
