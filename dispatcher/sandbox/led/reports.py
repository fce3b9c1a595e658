"""One controller's unreported plays and the PoP batches made of them.

Plays wait in a buffer until a report is attempted; an attempt cuts the oldest plays
(at most ``max_batch``) into a batch with a fixed id and body. A batch that is not
acknowledged stays at the head of the queue and is posted again, byte for byte, before
anything newer: after an outage the backlog arrives in order under the same batch ids,
so a dispatcher that dedupes on ``(screen, batch)`` counts every play once. Acknowledged
batches drawn for a replay are queued to be posted once more.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass

from dispatcher.sandbox.led.schedule import iso_z

Play = tuple[int, str, int]  # (start µs, item id, duration µs), simulated UTC


@dataclass(frozen=True)
class Batch:
    number: int  # from 0 per controller and run
    id: str
    body: bytes
    size: int  # records


class PopQueue:
    """Buffered plays, batches awaiting acknowledgement, batches to replay."""

    def __init__(self, screen: str, run_token: str) -> None:
        self.screen, self.run_token = screen, run_token
        self._lock = threading.Lock()
        self._plays: deque[Play] = deque()
        self._pending: deque[Batch] = deque()
        self._replays: deque[Batch] = deque()
        self._numbers = 0

    def add(self, plays: list[Play]) -> None:
        with self._lock:
            self._plays.extend(plays)

    def next_batch(self, max_batch: int) -> tuple[Batch, bool] | None:
        """The batch to post next and whether it is new (never posted), or None."""
        with self._lock:
            if self._pending:
                return self._pending[0], False
            if not self._plays:
                return None
            taken = [self._plays.popleft() for _ in range(min(max_batch, len(self._plays)))]
            batch = self._batch(taken)
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
        """(plays not yet acknowledged, batches awaiting acknowledgement, replays queued)."""
        with self._lock:
            waiting = len(self._plays) + sum(batch.size for batch in self._pending)
            return waiting, len(self._pending), len(self._replays)

    def _batch(self, plays: list[Play]) -> Batch:
        number = self._numbers
        self._numbers += 1
        batch_id = f"{self.screen}-{self.run_token}-{number}"
        records = [{"item": item, "start": iso_z(start), "end": iso_z(start + duration),
                    "count": 1} for start, item, duration in plays]
        body = json.dumps({"screen": self.screen, "batch": batch_id, "records": records},
                          ensure_ascii=False, separators=(",", ":")).encode()
        return Batch(number=number, id=batch_id, body=body, size=len(records))
