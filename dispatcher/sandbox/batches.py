"""A venue's unreported entries, the batches made of them, and their posting, in order.

The LED controllers' proof of play and the cinema systems' play logs report alike.
Entries wait in a buffer until a report is attempted; an attempt cuts the oldest entries
(at most ``max_batch``) into a batch with a fixed id and body. A batch that is not
acknowledged (no answer, or not 2xx) stays at the head of the queue and is posted again,
byte for byte, before anything newer: after an outage the backlog arrives in order under
the same batch ids, so a dispatcher that dedupes on ``(venue, batch)`` counts every entry
once. Acknowledged batches drawn for a replay are queued to be posted once more.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

Post = Callable[["Batch"], "int | None"]  # the answer's status, None if there was none
Count = Callable[[str, int], None]  # (event, how many): see :func:`flush`


@dataclass(frozen=True)
class Batch:
    number: int  # from 0 per venue and run
    id: str
    body: bytes
    size: int  # entries


@dataclass(frozen=True)
class BatchFormat(Generic[T]):
    """How a batch is written: ``{owner_field: venue, "batch": id, items_field: [...]}``."""

    owner_field: str  # "screen", "cinema"
    items_field: str  # "records", "entries"
    wire: Callable[[T], dict[str, Any]]


class BatchQueue(Generic[T]):
    """Buffered entries, batches awaiting acknowledgement, batches to replay."""

    def __init__(self, owner: str, run_token: str, form: BatchFormat[T]) -> None:
        self.owner, self.run_token, self.form = owner, run_token, form
        self._lock = threading.Lock()
        self._entries: deque[T] = deque()
        self._pending: deque[Batch] = deque()
        self._replays: deque[Batch] = deque()
        self._numbers = 0

    def add(self, entries: list[T]) -> None:
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

    def _batch(self, entries: list[T]) -> Batch:
        number = self._numbers
        self._numbers += 1
        batch_id = f"{self.owner}-{self.run_token}-{number}"
        form = self.form
        body = json.dumps({form.owner_field: self.owner, "batch": batch_id,
                           form.items_field: [form.wire(entry) for entry in entries]},
                          ensure_ascii=False, separators=(",", ":")).encode()
        return Batch(number=number, id=batch_id, body=body, size=len(entries))


def flush(queue: BatchQueue[Any], max_batch: int, post: Post,
          replays: Callable[[int], bool], count: Count) -> None:
    """Post batches oldest first until one fails, then any replays.

    ``replays(number)`` draws whether an acknowledged batch is posted once more. ``count``
    hears ``reported`` (entries put in a new batch), ``posted``, ``failed``,
    ``acknowledged`` (batches), ``entries_acknowledged`` and ``replayed``.
    """
    while (turn := queue.next_batch(max_batch)) is not None:
        batch, new = turn
        if new:
            count("reported", batch.size)
        count("posted", 1)
        status = post(batch)
        if status is None or not 200 <= status < 300:
            count("failed", 1)
            return
        count("acknowledged", 1)
        count("entries_acknowledged", batch.size)
        queue.acknowledged(batch, replays(batch.number))
    while (replay := queue.next_replay()) is not None:
        status = post(replay)
        if status is None:
            return  # unreachable: try again at the next report
        queue.replay_done(replay)
        if 200 <= status < 300:
            count("replayed", 1)
